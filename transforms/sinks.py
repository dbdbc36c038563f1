"""Writing: rows in, Parquet files out, published atomically into ``OUT/<table>/``.

Each worker writes the rows of a table that reach it in a bundle to its own Parquet files (explicit
schema from ``schemas``, zstd, row groups of ``ROWS_PER_GROUP``) under a per-run staging folder
``OUT/_staging/<run_id>/<table>/``, fused with the step that produced the rows: no shuffle and no
extra step per table. The job's last step writes ``FILES.json``, the list of files that
*successful* bundles wrote; a bundle that failed and was retried elsewhere may leave a stray file,
which is never published. Only when the whole run has succeeded does ``publish_run`` move the
listed files into ``OUT/<table>/`` (``os.replace``, atomic on one filesystem), so
``read_parquet('OUT/<table>/*.parquet')`` never sees a half-written or a duplicated file. A run
that dies before its commit marker leaves only a staging folder, which the next run deletes; one
that dies during publication may have published some of its files (never half a file) and is
finished by the next run, before it reads anything (the moves are idempotent).

Append tables get run-prefixed file names (``<run_id>-<random hex>.parquet``). ``entities`` is a
replace table: one file, ``OUT/entities/entities.parquet``, rewritten each run with totals over
all runs and swapped in with one atomic rename.

(Beam's ``WriteToParquet`` does the same job with four steps per table, a shuffle and a
finalisation each; with seven tables that was about half the steps of the whole job and a
measurable part of a small run's time, issue 5.)
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from transforms.schemas import TABLES, project, to_table

STAGING = "_staging"
COMMIT_MARKER = "COMMITTED.json"
# Written by the job's last step: {"tables": {table: [file names]}}, what successful bundles wrote.
FILES_MANIFEST = "FILES.json"
# Rows a writer holds before writing them as one row group, or sooner once their text reaches
# GROUP_CHARS (article bodies): bounds a worker's memory whatever the corpus size. Rows per file
# before a writer starts another.
ROWS_PER_GROUP = 5_000
GROUP_CHARS = 4_000_000
ROWS_PER_FILE = 1_000_000
REPLACE_TABLES = frozenset({"entities"})
# Seconds to sleep before each file is moved into place; set only by the crash-safety test.
TEST_PUBLISH_PAUSE_ENV = "NEWS_INGEST_TEST_PUBLISH_PAUSE"


def staging_dir(output: str, run_id: str) -> str:
    """Where a run writes before it is published."""
    return os.path.join(output, STAGING, run_id)


class WriteTable(beam.PTransform):
    """Rows (dicts) of one table in; Parquet files of exactly that table's schema out.

    Returns ``(table, file name)`` for each file written, for ``WriteFileList``. An append table
    gets one file per bundle that had rows (written where the rows are); a replace table
    (``entities``) gets exactly one file, empty when there are no rows.
    """

    def __init__(self, table: str, directory: str) -> None:
        super().__init__()
        self._table = table
        self._directory = directory

    def expand(self, rows):
        if self._table in REPLACE_TABLES:
            return (
                rows.pipeline
                | "Once" >> beam.Create([None])
                | "WriteOneFile" >> beam.ParDo(WriteOneFileFn(self._table, self._directory),
                                               beam.pvalue.AsIter(rows))
            )
        return rows | "WriteParquet" >> beam.ParDo(WriteParquetFn(self._table, self._directory))


class _ParquetFile:
    """A Parquet file of one table under ``directory/<table>/``, written a row group at a time.

    ``add`` projects a row onto the schema and buffers it; the buffer becomes a row group every
    ``rows_per_group`` rows or ``GROUP_CHARS`` characters of text, so the memory it holds is
    bounded whatever the number of rows. ``close`` writes what is left (an empty table when no
    row came, so the file still has the schema).
    """

    def __init__(self, table: str, directory: str, rows_per_group: int = ROWS_PER_GROUP) -> None:
        self.table = table
        self.schema = TABLES[table]
        self.name = f"{uuid.uuid4().hex}.parquet"
        folder = os.path.join(directory, table)
        os.makedirs(folder, exist_ok=True)
        self._writer = pq.ParquetWriter(os.path.join(folder, self.name), self.schema,
                                        compression="zstd")
        self._rows_per_group = rows_per_group
        self._buffer: list[dict[str, Any]] = []
        self._chars = 0
        self.rows = 0  # rows written so far

    def add(self, row: Mapping[str, Any]) -> None:
        projected = project(row, self.schema)
        self._buffer.append(projected)
        self._chars += sum(len(v) for v in projected.values() if isinstance(v, str))
        if len(self._buffer) >= self._rows_per_group or self._chars >= GROUP_CHARS:
            self._write_buffer()

    def _write_buffer(self) -> None:
        self._writer.write_table(pa.Table.from_pylist(self._buffer, schema=self.schema))
        self.rows += len(self._buffer)
        self._buffer, self._chars = [], 0

    def close(self) -> tuple[str, str]:
        if self._buffer or self.rows == 0:
            self._write_buffer()
        self._writer.close()
        return self.table, self.name


class WriteParquetFn(beam.DoFn):
    """Rows of one table in; ``(table, file name)`` out for each Parquet file this bundle wrote."""

    def __init__(self, table: str, directory: str, rows_per_group: int = ROWS_PER_GROUP,
                 rows_per_file: int = ROWS_PER_FILE) -> None:
        self._table = table
        self._directory = directory
        self._rows_per_group = rows_per_group
        self._rows_per_file = rows_per_file
        self._file: _ParquetFile | None = None

    def start_bundle(self) -> None:
        self._file = None

    def process(self, row: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if self._file is None:
            self._file = _ParquetFile(self._table, self._directory, self._rows_per_group)
        self._file.add(row)
        if self._file.rows >= self._rows_per_file:
            yield self._file.close()
            self._file = None

    def finish_bundle(self) -> Iterator[WindowedValue]:
        if self._file is not None:
            written, self._file = self._file.close(), None
            yield WindowedValue(written, GlobalWindow().max_timestamp(), [GlobalWindow()])


class WriteOneFileFn(beam.DoFn):
    """One trigger element and every row (a side input) in; one Parquet file out, even empty."""

    def __init__(self, table: str, directory: str, rows_per_group: int = ROWS_PER_GROUP) -> None:
        self._table = table
        self._directory = directory
        self._rows_per_group = rows_per_group

    def process(self, _, rows: Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, str]]:
        out = _ParquetFile(self._table, self._directory, self._rows_per_group)
        for row in rows:
            out.add(row)
        yield out.close()


class WriteFileList(beam.PTransform):
    """``(table, file name)`` of every written file in; ``directory/FILES.json`` written once.

    The list holds only what successful bundles reported, so files left by a failed attempt are
    not published. ``tables`` are listed even when they got no file.
    """

    def __init__(self, directory: str, tables: Iterable[str]) -> None:
        super().__init__()
        self._directory = directory
        self._tables = tuple(tables)

    def expand(self, written):
        return (
            written
            | "CollectFiles" >> beam.combiners.ToList()
            | "WriteFileList" >> beam.Map(write_file_list, self._directory, self._tables)
        )


def write_file_list(written: list[tuple[str, str]], directory: str,
                    tables: Iterable[str]) -> str:
    """Writes ``directory/FILES.json`` (temp-then-rename); returns its path."""
    listed: dict[str, list[str]] = {table: [] for table in tables}
    for table, name in written:
        listed.setdefault(table, []).append(name)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, FILES_MANIFEST)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"tables": {t: sorted(names) for t, names in listed.items()}}, f)
    os.replace(path + ".tmp", path)
    return path


def read_file_list(stage: str) -> dict[str, list[str]] | None:
    """``{table: [file names]}`` the job reported, or None when it wrote no list."""
    try:
        with open(os.path.join(stage, FILES_MANIFEST), encoding="utf-8") as f:
            return json.load(f)["tables"]
    except FileNotFoundError:
        return None


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
    """(staged file, published path) for every file a finished run wrote.

    For the tables in the job's ``FILES.json``, the files it lists; for the others (the run log,
    written by the driver), every Parquet file in the table's staging folder.
    """
    moves = []
    stage = staging_dir(output, run_id)
    listed = read_file_list(stage) or {}
    for table in TABLES:
        folder = os.path.join(stage, table)
        if table in listed:  # written by the job: only what its successful bundles reported
            files = sorted(listed[table])
        elif os.path.isdir(folder):  # written by the driver (the run log)
            files = sorted(f for f in os.listdir(folder) if f.endswith(".parquet"))
        else:
            continue
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
    moves = plan_moves(output, run_id)
    relative = [(os.path.relpath(a, output), os.path.relpath(b, output)) for a, b in moves]
    write_commit_marker(stage, {"run_id": run_id, "moves": relative})
    return _apply(output, stage, moves)


def write_commit_marker(stage: str, record: dict[str, Any]) -> None:
    """``stage/COMMITTED.json`` holding ``record`` (with its ``moves``), synced and swapped in
    atomically: from then on the commit is finished by whoever comes next (`recover_commits`)."""
    marker = os.path.join(stage, COMMIT_MARKER)
    with open(marker + ".tmp", "w", encoding="utf-8") as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(marker + ".tmp", marker)


def move_files(moves: Iterable[tuple[str, str]], pause: float = 0.0) -> int:
    """Renames each ``(src, dest)`` whose source still exists (so a replay is harmless)."""
    done = 0
    for src, dest in moves:
        if os.path.exists(src):
            if pause:
                time.sleep(pause)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            os.replace(src, dest)
            done += 1
    return done


def _apply(output: str, stage: str, moves: list[tuple[str, str]]) -> int:
    # Test hook: the crash-safety test kills the process before or between moves.
    done = move_files(moves, float(os.environ.get(TEST_PUBLISH_PAUSE_ENV) or 0))
    # An empty placeholder is no longer needed once a real file has landed next to it.
    for table in TABLES:
        placeholder = os.path.join(output, table, "empty.parquet")
        folder = os.path.join(output, table)
        if os.path.exists(placeholder) and len(os.listdir(folder)) > 1:
            os.remove(placeholder)
    shutil.rmtree(stage, ignore_errors=True)
    return done


def committed_moves(output: str, recorded: Iterable[Iterable[str]]) -> list[tuple[str, str]]:
    """The moves a commit marker records, made absolute under ``output``; a move whose source or
    destination points outside ``output`` is dropped (a marker never sends a file out)."""
    moves = []
    for src, dest in recorded:
        src_path, dest_path = _inside(output, src), _inside(output, dest)
        if src_path and dest_path:
            moves.append((src_path, dest_path))
    return moves


def recover_commits(
    root: str, finish: Callable[[str, list[list[str]]], Any]
) -> tuple[list[str], list[str]]:
    """For each commit folder under ``root``: ``finish(stage, recorded moves)`` when it has a
    commit marker, else the folder is deleted. Returns ``(finished, discarded)`` commit ids."""
    finished: list[str] = []
    discarded: list[str] = []
    if not os.path.isdir(root):
        return finished, discarded
    for commit_id in sorted(os.listdir(root)):
        stage = os.path.join(root, commit_id)
        marker = os.path.join(stage, COMMIT_MARKER)
        if os.path.exists(marker):
            with open(marker, encoding="utf-8") as f:
                recorded = json.load(f)["moves"]
            finish(stage, recorded)
            finished.append(commit_id)
        else:
            shutil.rmtree(stage, ignore_errors=True)
            discarded.append(commit_id)
    return finished, discarded


def _inside(output: str, path: str) -> str | None:
    """``path`` of a commit marker made absolute under ``output``; None if it points outside."""
    full = os.path.normpath(os.path.join(output, path))  # absolute paths (older markers) stay
    root = os.path.normpath(output)
    return full if os.path.commonpath([root, full]) == root else None


def recover(output: str) -> list[str]:
    """Finishes committed-but-unpublished runs and deletes uncommitted staging folders.

    Returns the ids of the runs it finished. Called at the start of every run.
    """
    finished, _ = recover_commits(
        os.path.join(output, STAGING),
        lambda stage, recorded: _apply(output, stage, committed_moves(output, recorded)))
    return finished
