"""Every table the pipeline writes, defined once as a pyarrow schema.

Writers, tests, benchmarks, the report and the DuckDB views import these names; nobody retypes a
column. Elements travel between stages as plain ``dict`` rows keyed by these column names
(cheap to encode on every runner); ``to_table`` turns a list of rows into a table of exactly this
schema, so no writer ever infers a schema from its first record.

Tables (``OUT/<table>/*.parquet``):
- ``articles``: one row per input record that became an article, duplicates included.
- ``mentions``: one row per entity occurrence in a canonical article, offsets into ``body``.
- ``entities``: one row per ``entity_id`` with totals.
- ``dates``: one row per DATE/TIME span in a canonical article, resolved against its
  ``published_at`` (``transforms.text_dates``).
- ``errors``: one row per input record (or file) that could not become an article, with the reason.
- ``runs``: one row per run (the run log); ``ingest_log``: one row per input file ingested.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

UTC_TS = pa.timestamp("us", tz="UTC")

ARTICLES = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("record_index", pa.int64(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("title", pa.string()),
        pa.field("body", pa.string(), nullable=False),
        pa.field("language", pa.string()),
        pa.field("source", pa.string()),
        pa.field("published_at", UTC_TS),
        pa.field("published_raw", pa.string()),
        pa.field("date_precision", pa.string()),
        pa.field("date_status", pa.string(), nullable=False),
        pa.field("word_count", pa.int64(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("duplicate_of", pa.string()),
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("match_kind", pa.string()),
        pa.field("similarity", pa.float64()),
        pa.field("flags", pa.list_(pa.string()), nullable=False),
    ]
)

MENTIONS = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("start_char", pa.int64(), nullable=False),
        pa.field("end_char", pa.int64(), nullable=False),
    ]
)

ENTITIES = pa.schema(
    [
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("mention_count", pa.int64(), nullable=False),
        pa.field("article_count", pa.int64(), nullable=False),
        pa.field("first_seen", UTC_TS),
        pa.field("last_seen", UTC_TS),
        pa.field("aliases", pa.list_(pa.string()), nullable=False),
    ]
)

DATES = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("start_char", pa.int64(), nullable=False),
        pa.field("end_char", pa.int64(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        # Inclusive calendar range; both null unless status is "resolved".
        pa.field("resolved_start", pa.date32()),
        pa.field("resolved_end", pa.date32()),
        pa.field("granularity", pa.string()),  # day | week | month | quarter | year | decade
        pa.field("status", pa.string(), nullable=False),  # resolved, or why not
    ]
)

ERRORS = pa.schema(
    [
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("record_index", pa.int64()),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("error_type", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
        pa.field("raw_excerpt", pa.string()),
    ]
)

RUNS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("started_at", UTC_TS, nullable=False),
        pa.field("finished_at", UTC_TS, nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("runner", pa.string(), nullable=False),
        pa.field("inputs", pa.list_(pa.string()), nullable=False),
        pa.field("counters", pa.map_(pa.string(), pa.int64()), nullable=False),
        pa.field("options", pa.string(), nullable=False),
        pa.field("versions", pa.map_(pa.string(), pa.string()), nullable=False),
    ]
)

INGEST_LOG = pa.schema(
    [
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("fingerprint", pa.string(), nullable=False),
        pa.field("size_bytes", pa.int64(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

SIGNATURES = pa.schema(
    [
        # One row per canonical article signed for near-duplicate matching (articles shorter than
        # DedupSettings.min_words are matched exactly only and have none). Later runs compare new
        # articles with these instead of re-reading old bodies; `scheme` names how `minhash` was
        # computed, and signatures of another scheme are ignored.
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("published_at", UTC_TS),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("scheme", pa.string(), nullable=False),
        pa.field("minhash", pa.binary(), nullable=False),  # num_perm little-endian uint32
    ]
)

TABLES: dict[str, pa.Schema] = {
    "articles": ARTICLES,
    "mentions": MENTIONS,
    "entities": ENTITIES,
    "dates": DATES,
    "errors": ERRORS,
    "runs": RUNS,
    "ingest_log": INGEST_LOG,
    "signatures": SIGNATURES,
}

# Tables the Beam graph writes; `runs` is written by the driver once the run has finished.
PIPELINE_TABLES = (
    "articles", "mentions", "entities", "dates", "errors", "ingest_log", "signatures")


def project(row: Mapping[str, Any], schema: pa.Schema) -> dict[str, Any]:
    """Keeps exactly the schema's columns of ``row`` (missing ones become None)."""
    return {name: row.get(name) for name in schema.names}


def to_table(rows: Iterable[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """Builds a table of exactly ``schema`` from dict rows; extra keys are ignored."""
    return pa.Table.from_pylist([project(r, schema) for r in rows], schema=schema)


def error_row(
    source_uri: str,
    stage: str,
    error_type: str,
    message: str,
    raw_excerpt: str | bytes | None = None,
    record_index: int | None = None,
) -> dict[str, Any]:
    """One row of the ``errors`` table; the excerpt is cut to 500 characters."""
    if isinstance(raw_excerpt, bytes):
        raw_excerpt = raw_excerpt[:500].decode("utf-8", errors="backslashreplace")
    return {
        "source_uri": source_uri,
        "record_index": record_index,
        "stage": stage,
        "error_type": error_type,
        "message": message[:2000],
        "raw_excerpt": None if raw_excerpt is None else raw_excerpt[:500],
    }
