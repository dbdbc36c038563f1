"""End to end: the real entry point, the real model, real Parquet read back by DuckDB."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys

import duckdb
import pytest

from pipeline.main import main, run
from pipeline.query import connect

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDS = os.path.join(ROOT, "seeds")

pytestmark = pytest.mark.slow


def _write_inputs(folder) -> int:
    """Every format, a duplicate and broken files. Returns the number of input records."""
    folder.mkdir()
    (folder / "wire.txt").write_text(
        "title: Reuters wire\ndate: 26-FEB-1987 15:01:01.79 junk\n\n"
        "Comissaria Smith said Brazil's cocoa crop rose, Reuters reported from Salvador.\n")
    (folder / "dup.txt").write_text(
        "date: 2025-07-05\n\nCOMISSARIA Smith said Brazil's cocoa crop rose,  Reuters "
        "reported from Salvador.")
    (folder / "items.json").write_text(json.dumps([
        {"title": "Paris talks", "maintext": "Emmanuel Macron met Olaf Scholz in Paris.",
         "date_publish": "2025-07-06 09:30:00", "url": "https://example.org/paris"},
        {"headline": "no text here"},
    ]))
    with gzip.open(folder / "feed.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps({"text": "Angela Merkel visited Berlin.", "published": "1720051200"})
                + "\n{broken\n")
    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    return 1 + 1 + 2 + 2 + 1 + 1


@pytest.fixture(scope="module")
def output(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    records = _write_inputs(root / "extra")
    out = root / "out"
    result = run(["--input", SEEDS, "--input", str(root / "extra"), "--output", str(out)])
    return out, records + 1, result


def test_every_input_record_is_an_article_or_an_error(output):
    out, records, _ = output
    con = connect(str(out))
    articles = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    errors = con.execute("SELECT count(*) FROM errors").fetchone()[0]
    assert articles + errors == records
    assert articles == 5
    kinds = con.execute("SELECT error_type, count(*) FROM errors GROUP BY 1 ORDER BY 1").fetchall()
    assert kinds == [("EmptyBody", 1), ("InputError", 1), ("MalformedJSON", 1),
                     ("WrongShape", 1)]


def test_sample_article_comes_out_right(output):
    con = connect(str(output[0]))
    (article_id, published, body), = con.execute(
        "SELECT article_id, published_at, body FROM articles "
        "WHERE source_uri LIKE '%000_5b6004b25d51efef.txt'").fetchall()
    assert published.isoformat().startswith("2025-07-04")
    assert body.startswith("After Pakistan witnessed")
    mentions = set(con.execute(
        "SELECT text, label FROM mentions WHERE article_id = ?", [article_id]).fetchall())
    for expected in [("Pakistan", "GPE"), ("India", "GPE"), ("Donald Trump", "PERSON"),
                     ("David Allvin", "PERSON")]:
        assert expected in mentions


def test_offsets_point_into_the_body(output):
    con = connect(str(output[0]))
    bad = con.execute("""
        SELECT count(*) FROM mentions m JOIN articles a USING (article_id)
        WHERE substr(a.body, m.start_char + 1, m.end_char - m.start_char) <> m.text""")
    assert bad.fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM mentions").fetchone()[0] > 10


def test_ids_unique_and_mentions_reference_entities(output):
    con = connect(str(output[0]))
    for table, key in (("articles", "article_id"), ("entities", "entity_id")):
        repeated = con.execute(f"SELECT count(*) - count(DISTINCT {key}) FROM {table}")
        assert repeated.fetchone()[0] == 0, table
    orphans = con.execute("SELECT count(*) FROM mentions WHERE entity_id NOT IN "
                      "(SELECT entity_id FROM entities)").fetchone()[0]
    assert orphans == 0
    totals = con.execute("""SELECT bool_and(e.mention_count = m.n) FROM entities e JOIN
        (SELECT entity_id, count(*) n FROM mentions GROUP BY 1) m USING (entity_id)""")
    assert totals.fetchone()[0] is True


def test_duplicate_points_to_earliest_and_gets_no_mentions(output):
    con = connect(str(output[0]))
    rows = con.execute("""SELECT title, published_at, duplicate_of, match_kind FROM articles
        WHERE content_hash IN (SELECT content_hash FROM articles GROUP BY 1 HAVING count(*) > 1)
        ORDER BY published_at""").fetchall()
    assert [(r[0], r[3]) for r in rows] == [("Reuters wire", None), (None, "exact")]
    assert rows[0][1].year == 1987
    dup_mentions = con.execute("SELECT count(*) FROM mentions WHERE article_id IN "
                           "(SELECT article_id FROM articles WHERE duplicate_of IS NOT NULL)")
    assert dup_mentions.fetchone()[0] == 0


def test_dates_from_every_format(output):
    con = connect(str(output[0]))
    dates = dict(con.execute("SELECT coalesce(title, left(body, 13)), strftime(published_at, "
                         "'%Y-%m-%d %H:%M') FROM articles").fetchall())
    assert dates["Paris talks"] == "2025-07-06 09:30"
    assert dates["Angela Merkel"] == "2024-07-04 00:00"
    assert dates["Reuters wire"] == "1987-02-26 15:01"


def test_tables_published_atomically_and_run_logged(output):
    out, _, result = output
    assert not os.listdir(out / "_staging")
    for table in ("articles", "mentions", "entities", "errors", "runs", "ingest_log"):
        names = os.listdir(out / table)
        assert names and all(n.endswith(".parquet") for n in names), table
    con = connect(str(out))
    (run_id, counters), = con.execute("SELECT run_id, counters FROM runs").fetchall()
    assert run_id == result.run_id
    assert counters["entities.model_loads"] >= 1


def test_command_line_errors_are_one_sentence(tmp_path, capsys):
    assert main(["--input", str(tmp_path / "nothing*.txt"), "--output", str(tmp_path)]) == 2
    assert "no input file matches" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["--input", SEEDS, "--output", str(blocker / "out")]) == 2
    assert "cannot write to --output" in capsys.readouterr().err


def test_python_dash_m_on_seeds_prints_summary(tmp_path):
    shutil.copytree(SEEDS, tmp_path / "seeds")
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "--input", str(tmp_path / "seeds"),
         "--output", str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT,
        timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "read.articles" in proc.stdout
    n = duckdb.execute(f"SELECT count(*) FROM read_parquet('{tmp_path}/out/articles/*.parquet')")
    assert n.fetchone()[0] == 1


def test_sample_article_entities_are_resolved_and_dates_placed(output):
    con = connect(str(output[0]))
    (article_id,), = con.execute("SELECT article_id FROM articles "
                                 "WHERE source_uri LIKE '%000_5b6004b25d51efef.txt'").fetchall()
    ids = dict(con.execute("SELECT text, any_value(entity_id) FROM mentions WHERE article_id = ? "
                           "GROUP BY text HAVING count(DISTINCT entity_id) = 1",
                           [article_id]).fetchall())
    assert {"Zaheer Ahmed Baber Sidhu", "Asim Munir", "PAF"} <= ids.keys()
    assert ids["Sidhu"] == ids["Zaheer Ahmed Baber Sidhu"]
    assert ids["PAF"] == ids["Pakistan Air Force"]
    assert ids["US"] == ids["United States"] == ids["America"]
    name, = con.execute("SELECT name FROM entities WHERE entity_id = ?", [ids["US"]]).fetchone()
    assert name == "United States"
    dates = {text: (str(start), str(end), granularity) for text, start, end, granularity in
             con.execute("SELECT text, resolved_start, resolved_end, granularity FROM dates "
                         "WHERE article_id = ? AND status = 'resolved'", [article_id]).fetchall()}
    assert dates["last month"] == ("2025-06-01", "2025-06-30", "month")
    assert dates["Wednesday"] == ("2025-07-02", "2025-07-02", "day")
    assert dates["the past decade"] == ("2015-07-04", "2025-07-04", "decade")
    bad = con.execute("""SELECT count(*) FROM dates d JOIN articles a USING (article_id)
        WHERE substr(a.body, d.start_char + 1, d.end_char - d.start_char) <> d.text""")
    assert bad.fetchone()[0] == 0
