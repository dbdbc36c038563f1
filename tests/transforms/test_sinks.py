"""Publication: staged files move into place only after the commit marker; crashes recover."""

from __future__ import annotations

import os

import duckdb

from transforms import sinks
from transforms.schemas import ERRORS


def _stage(output, run_id: str, table: str, name: str) -> str:
    folder = os.path.join(sinks.staging_dir(str(output), run_id), table)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    sinks.write_empty(path, ERRORS)
    return path


def test_ensure_tables_gives_every_table_a_readable_empty_file(tmp_path):
    sinks.ensure_tables(str(tmp_path))
    for table in ("articles", "mentions", "entities", "errors", "runs", "ingest_log"):
        n = duckdb.execute(f"SELECT count(*) FROM read_parquet('{tmp_path}/{table}/*.parquet')")
        assert n.fetchone()[0] == 0


def test_uncommitted_staging_is_discarded(tmp_path):
    _stage(tmp_path, "run1", "errors", "part-00000-of-00001.parquet")
    assert sinks.recover(str(tmp_path)) == []
    assert not os.path.exists(os.path.join(tmp_path, "_staging", "run1"))
    assert not os.path.exists(os.path.join(tmp_path, "errors"))


def test_committed_run_is_finished_by_recover(tmp_path):
    _stage(tmp_path, "run1", "errors", "part-00000-of-00002.parquet")
    _stage(tmp_path, "run1", "errors", "part-00001-of-00002.parquet")
    moves = sinks.plan_moves(str(tmp_path), "run1")
    # Simulate a crash after the marker and the first move.
    marker = os.path.join(sinks.staging_dir(str(tmp_path), "run1"), sinks.COMMIT_MARKER)
    import json
    with open(marker, "w") as f:
        json.dump({"run_id": "run1", "moves": moves}, f)
    os.makedirs(os.path.dirname(moves[0][1]))
    os.replace(*moves[0])
    assert sinks.recover(str(tmp_path)) == ["run1"]
    assert sorted(os.listdir(tmp_path / "errors")) == [
        "run1-part-00000-of-00002.parquet", "run1-part-00001-of-00002.parquet"]
    assert not os.path.exists(tmp_path / "_staging" / "run1")


def test_entities_is_replaced_not_appended(tmp_path):
    for run in ("run1", "run2"):
        _stage(tmp_path, run, "entities", "part-00000-of-00001.parquet")
        sinks.publish_run(str(tmp_path), run)
    assert os.listdir(tmp_path / "entities") == ["entities.parquet"]


def test_written_files_are_listed_and_only_listed_files_are_published(tmp_path):
    """Each table's rows land in Parquet files that FILES.json lists; a stray file (what a failed
    bundle attempt leaves behind on a runner that retries) is never published."""
    import apache_beam as beam

    from tests.beam_testing import local_pipeline

    stage = sinks.staging_dir(str(tmp_path), "run1")
    errors = [{"source_uri": f"f{i}", "stage": "read", "error_type": "E", "message": "m"}
              for i in range(5)]
    with local_pipeline() as p:
        written = [
            p | "Errors" >> beam.Create(errors) | "WriteErrors" >> sinks.WriteTable(
                "errors", stage),
            p | "NoMentions" >> beam.Create([]) | "WriteMentions" >> sinks.WriteTable(
                "mentions", stage),
            p | "NoEntities" >> beam.Create([]) | "WriteEntities" >> sinks.WriteTable(
                "entities", stage),
        ]
        _ = written | beam.Flatten() | sinks.WriteFileList(stage, ["errors", "mentions",
                                                                   "entities"])
    listed = sinks.read_file_list(stage)
    assert listed["mentions"] == [] and len(listed["entities"]) == 1 and listed["errors"]
    _stage(tmp_path, "run1", "errors", "stray.parquet")
    sinks.publish_run(str(tmp_path), "run1")
    published = sorted(os.listdir(tmp_path / "errors"))
    assert len(published) == len(listed["errors"]) and not any("stray" in n for n in published)
    rows = duckdb.execute(
        f"SELECT source_uri FROM read_parquet('{tmp_path}/errors/*.parquet') ORDER BY 1")
    assert rows.fetchall() == [(f"f{i}",) for i in range(5)]
    # The replace table got its one file even with no rows: an empty table with the schema.
    n = duckdb.execute(f"SELECT count(*) FROM '{tmp_path}/entities/entities.parquet'")
    assert n.fetchone()[0] == 0


def test_a_writer_starts_a_new_file_past_its_row_limit(tmp_path):
    fn = sinks.WriteParquetFn("errors", str(tmp_path), rows_per_group=2, rows_per_file=4)
    fn.start_bundle()
    row = {"source_uri": "f", "stage": "read", "error_type": "E", "message": "m"}
    closed = [out for _ in range(9) for out in fn.process(row)]
    closed += [wv.value for wv in fn.finish_bundle()]
    assert len(closed) == 3  # 4 + 4 + 1 rows
    counts = [pq_rows(tmp_path / "errors" / name) for _, name in closed]
    assert counts == [4, 4, 1]


def pq_rows(path) -> int:
    return duckdb.execute(f"SELECT count(*) FROM '{path}'").fetchone()[0]
