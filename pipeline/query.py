"""``python -m pipeline query --output DIR [SQL]``: DuckDB over a run's tables.

Without SQL it prints a few overview queries. Every table is a view named after it
(``articles``, ``mentions``, ``entities``, ``errors``, ``runs``, ``ingest_log``), defined in
``sql/views.sql`` so that the same views can be loaded in any DuckDB shell.
"""

from __future__ import annotations

import argparse
import os
from importlib import resources

OVERVIEW = {
    "Articles with their dates": """
        SELECT title, published_at, date_precision, date_status, duplicate_of IS NOT NULL AS dup,
               left(regexp_replace(body, '\\s+', ' ', 'g'), 60) AS body
        FROM articles ORDER BY published_at NULLS LAST, article_id LIMIT 10""",
    "Top entities": """
        SELECT name, label, mention_count, article_count FROM entities
        ORDER BY mention_count DESC, name LIMIT 15""",
    "Errors by stage and type": """
        SELECT stage, error_type, count(*) AS n, any_value(source_uri) AS example
        FROM errors GROUP BY ALL ORDER BY n DESC""",
}


def views_sql(output: str) -> str:
    """The view definitions with ``OUT`` replaced by ``output``."""
    text = resources.files("sql").joinpath("views.sql").read_text(encoding="utf-8")
    return text.replace("'OUT/", "'" + os.path.abspath(output).replace("'", "''") + "/")


def connect(output: str):
    """An in-memory DuckDB connection with one view per table of ``output``.

    A table that an older output does not have yet (written before the table existed) is an
    empty view with the table's schema, so queries and the report still run on it.
    """
    import duckdb

    from transforms.schemas import TABLES

    con = duckdb.connect()
    sql = views_sql(output)
    prefix = "read_parquet('" + os.path.abspath(output).replace("'", "''")
    for table, schema in TABLES.items():
        folder = os.path.join(output, table)
        if not (os.path.isdir(folder) and any(f.endswith(".parquet") for f in os.listdir(folder))):
            con.register(f"_empty_{table}", schema.empty_table())
            sql = sql.replace(f"{prefix}/{table}/*.parquet')", f"_empty_{table}")
    con.execute(sql)
    return con


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline query", description=__doc__)
    parser.add_argument("--output", required=True, help="Output directory of a run.")
    parser.add_argument("sql", nargs="?", help="SQL to run; omit for the overview.")
    args = parser.parse_args(argv)
    if not os.path.isdir(os.path.join(args.output, "articles")):
        print(f"error: {args.output} holds no pipeline output (no articles/ folder)")
        return 2
    con = connect(args.output)
    queries = {"Query": args.sql} if args.sql else OVERVIEW
    for title, sql in queries.items():
        print(f"\n== {title}")
        con.sql(sql).show(max_width=160)
    return 0
