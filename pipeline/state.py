"""What earlier runs left in ``--output``: the state an incremental run builds on.

A scheduled run pointed at the same output again and again reads only what it needs from earlier
runs: the ingest log (which files, with which fingerprints, are already in), the dedup keys of
stored articles (never their bodies), stored near-duplicate signatures, and the entity totals that
this run adds to. Small things are read in the driver; per-article state is read by the pipeline.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

import pyarrow.parquet as pq

# Columns of stored articles that dedup needs: keys, never bodies.
ARTICLE_KEYS = ("article_id", "content_hash", "published_at", "cluster_id", "duplicate_of")
# Columns of stored mentions that entity totals need.
STORED_MENTION_COLUMNS = ("article_id", "entity_id", "text", "label")


def table_files(output: str, table: str) -> list[str]:
    """Published Parquet files of one table that hold at least one row."""
    files = sorted(glob.glob(os.path.join(output, table, "*.parquet")))
    return [f for f in files if pq.ParquetFile(f).metadata.num_rows > 0]


@dataclass
class StoredState:
    """Files of earlier runs (empty lists on a first run) and the ingest log as a dict."""

    known_files: dict[str, str] = field(default_factory=dict)
    articles: list[str] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.known_files or self.articles)


def load_state(output: str) -> StoredState:
    """Reads the ingest log and lists the stored tables of ``output``."""
    rows: list[tuple[str, str, str]] = []
    for path in table_files(output, "ingest_log"):
        log = pq.read_table(path, columns=["source_uri", "fingerprint", "run_id"])
        rows += zip(log["run_id"].to_pylist(), log["source_uri"].to_pylist(),
                    log["fingerprint"].to_pylist(), strict=True)
    # Run ids sort by time, so the latest fingerprint of a path wins.
    known = {uri: fp for _, uri, fp in sorted(rows)}
    return StoredState(
        known_files=known,
        articles=table_files(output, "articles"),
        signatures=table_files(output, "signatures"),
        mentions=table_files(output, "mentions"),
    )
