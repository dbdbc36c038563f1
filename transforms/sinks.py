"""Writing: rows in, Parquet files out, published atomically into ``OUT/<table>/``.

Every table is written with Beam's ``WriteToParquet`` (explicit schema from ``schemas``, zstd)
into a per-run staging folder ``OUT/_staging/<run_id>/<table>/``; Beam itself writes to a temp
folder and renames. Only when the whole run has succeeded does ``publish_run`` move the files into
``OUT/<table>/`` (``os.replace``, atomic on one filesystem), so
``read_parquet('OUT/<table>/*.parquet')`` never sees a half-written or a duplicated file. A run
that dies before its commit marker leaves only a staging folder, which the next run deletes; one
that dies during publication may have published some of its files (never half a file) and is
finished by the next run, before it reads anything (the moves are idempotent).

Append tables get run-prefixed file names (``<run_id>-part-00000-of-00001.parquet``). ``entities``
is a replace table: one file, ``OUT/entities/entities.parquet``, rewritten each run with totals
over all runs and swapped in with one atomic rename.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from transforms.schemas import TABLES, project, to_table

STAGING = "_staging"
COMMIT_MARKER = "COMMITTED.json"
REPLACE_TABLES = frozenset({"entities"})
# Seconds to sleep before each file is moved into place; set only by the crash-safety test.
TEST_PUBLISH_PAUSE_ENV = "NEWS_INGEST_TEST_PUBLISH_PAUSE"


def staging_dir(output: str, run_id: str) -> str:
    """Where a run writes before it is published."""
    return os.path.join(output, STAGING, run_id)


class WriteTable(beam.PTransform):
    """Rows (dicts) of one table in; Parquet files of exactly that table's schema out."""

    def __init__(self, table: str, directory: str) -> None:
        super().__init__()
        self._table = table
        self._schema = TABLES[table]
        self._directory = directory

    def expand(self, rows):
        schema = self._schema
        return (
            rows
            | "Project" >> beam.Map(project, schema)
            | "WriteParquet" >> beam.io.WriteToParquet(
                file_path_prefix=os.path.join(self._directory, self._table, "part"),
                schema=schema,
                codec="zstd",
                file_name_suffix=".parquet",
                num_shards=1 if self._table in REPLACE_TABLES else 0,
            )
        )


def write_table_file(path: str, rows: list[Mapping[str, Any]], table: str) -> None:
    """Writes one small table file (the run log) from the driver, temp-then-rename."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    pq.write_table(to_table(rows, TABLES[table]), tmp, compression="zstd")
    os.replace(tmp, path)


def ensure_tables(output: str) -> None:
    """Every table exists after every run: an empty file with the schema where none is present."""
    for table, schema in TABLES.items():
        folder = os.path.join(output, table)
        os.makedirs(folder, exist_ok=True)
        if not any(name.endswith(".parquet") for name in os.listdir(folder)):
            name = "entities.parquet" if table in REPLACE_TABLES else "empty.parquet"
            write_empty(os.path.join(folder, name), schema)


def write_empty(path: str, schema: pa.Schema) -> None:
    tmp = path + ".tmp"
    pq.write_table(schema.empty_table(), tmp, compression="zstd")
    os.replace(tmp, path)


def plan_moves(output: str, run_id: str) -> list[tuple[str, str]]:
    """(staged file, published path) for every file a finished run wrote."""
    moves = []
    stage = staging_dir(output, run_id)
    for table in TABLES:
        folder = os.path.join(stage, table)
        if not os.path.isdir(folder):
            continue
        files = sorted(f for f in os.listdir(folder) if f.endswith(".parquet"))
        for name in files:
            if table in REPLACE_TABLES:
                dest = os.path.join(output, table, "entities.parquet")
            else:
                dest = os.path.join(output, table, f"{run_id}-{name}")
            moves.append((os.path.join(folder, name), dest))
    return moves


def publish_run(output: str, run_id: str) -> int:
    """Commits a finished run: marker first, then idempotent moves. Returns files published.

    The marker lists the moves relative to ``output``, so a committed run is still finished when
    the output folder has been moved or mounted elsewhere before the next run.
    """
    stage = staging_dir(output, run_id)
    marker = os.path.join(stage, COMMIT_MARKER)
    moves = plan_moves(output, run_id)
    relative = [(os.path.relpath(a, output), os.path.relpath(b, output)) for a, b in moves]
    tmp = marker + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"run_id": run_id, "moves": relative}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, marker)
    return _apply(output, stage, moves)


def _apply(output: str, stage: str, moves: list[tuple[str, str]]) -> int:
    # Test hook: the crash-safety test kills the process before or between moves.
    pause = float(os.environ.get(TEST_PUBLISH_PAUSE_ENV) or 0)
    done = 0
    for src, dest in moves:
        if os.path.exists(src):
            if pause:
                time.sleep(pause)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            os.replace(src, dest)
            done += 1
    # An empty placeholder is no longer needed once a real file has landed next to it.
    for table in TABLES:
        placeholder = os.path.join(output, table, "empty.parquet")
        folder = os.path.join(output, table)
        if os.path.exists(placeholder) and len(os.listdir(folder)) > 1:
            os.remove(placeholder)
    shutil.rmtree(stage, ignore_errors=True)
    return done


def _inside(output: str, path: str) -> str | None:
    """``path`` of a commit marker made absolute under ``output``; None if it points outside."""
    full = os.path.normpath(os.path.join(output, path))  # absolute paths (older markers) stay
    root = os.path.normpath(output)
    return full if os.path.commonpath([root, full]) == root else None


def recover(output: str) -> list[str]:
    """Finishes committed-but-unpublished runs and deletes uncommitted staging folders.

    Returns the ids of the runs it finished. Called at the start of every run.
    """
    root = os.path.join(output, STAGING)
    finished = []
    if not os.path.isdir(root):
        return finished
    for run_id in sorted(os.listdir(root)):
        stage = os.path.join(root, run_id)
        marker = os.path.join(stage, COMMIT_MARKER)
        if os.path.exists(marker):
            with open(marker, encoding="utf-8") as f:
                recorded = json.load(f)["moves"]
            moves = []
            for src, dest in recorded:
                src_path, dest_path = _inside(output, src), _inside(output, dest)
                if src_path and dest_path:  # a marker never sends a file out of --output
                    moves.append((src_path, dest_path))
            _apply(output, stage, moves)
            finished.append(run_id)
        else:
            shutil.rmtree(stage, ignore_errors=True)
    return finished
