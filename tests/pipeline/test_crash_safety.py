"""Crash safety: the real entry point is SIGKILLed mid-run and mid-publication, then rerun.

Promise under test: DuckDB globs over ``OUT/<table>/*.parquet`` never see a partial or duplicated
file at any moment, and after a crash the next run's tables equal those of a run that never
crashed (run ids and file names aside).

One chain of runs into one output, next to a clean run into another:
1. killed during the Beam run, while shards are being written into staging;
2. killed during publication, after the commit marker and some of the moves (a test-only hook,
   ``NEWS_INGEST_TEST_PUBLISH_PAUSE``, sleeps before each move to make that window wide);
   from a copy of what it left, every other kill point of publication and recovery is replayed
   (the first ``i`` moves done, then ``recover``), checking readers at each;
3. a normal run, which finishes the committed publication first: its tables equal the clean run's.
DuckDB reads every table every few hundred milliseconds while the killed runs are alive.
"""

from __future__ import annotations

import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from transforms import sinks
from transforms.schemas import TABLES

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 300  # seconds; every wait below is bounded by this or less
# What identifies a row of each table: the same key twice means a file was seen twice.
UNIQUE_KEYS = {
    "articles": "article_id",
    "mentions": "article_id, start_char, end_char, label",
    "entities": "entity_id",
    "errors": "source_uri, record_index, error_type, message",
    "ingest_log": "source_uri, fingerprint",
    "runs": "run_id",
    "signatures": "article_id",
}
RUN_SPECIFIC = {"ingest_log": ["run_id"]}  # columns that differ between equal runs


def write_inputs(folder: Path) -> int:
    """~400 generated records: JSON lines with some broken lines, text files, exact duplicates.

    Returns the number of records.
    """
    folder.mkdir()
    rng = random.Random(6)
    names = ["Pakistan", "India", "Donald Trump", "David Allvin", "Pentagon", "Reuters", "the US"]
    words = ("talks resumed on the border while officials said markets rose and fell again "
             "after a long week of meetings").split()

    def story(i: int) -> str:
        ws = [rng.choice(words) for _ in range(40)]
        for _ in range(3):
            ws.insert(rng.randrange(len(ws)), rng.choice(names))
        return f"Story {i}: " + " ".join(ws) + "."

    records, bodies = 0, []
    for f in range(8):
        lines = []
        for j in range(40):
            records += 1
            if j % 13 == 5:
                lines.append("{broken json")
            elif j % 17 == 3:
                lines.append(json.dumps({"title": "no body"}))
            else:
                bodies.append(story(records))
                date = f"2025-0{1 + records % 9}-1{records % 10}"
                lines.append(json.dumps(
                    {"body": bodies[-1], "title": f"T{records}", "date_publish": date}))
        (folder / f"feed{f}.jsonl").write_text("\n".join(lines) + "\n")
    for t in range(80):
        records += 1
        body = bodies[t] if t % 10 == 0 else story(records)  # every tenth is a duplicate
        (folder / f"story{t:03}.txt").write_text(
            f"title: Story {t}\ndate: 2025-07-{1 + t % 28:02}\n\n{body}\n")
    return records


def start(inputs: Path, out: Path, model: str, pause: float = 0) -> subprocess.Popen:
    """``python -m pipeline`` in its own process group (so a kill takes every process of it)."""
    env = {**os.environ, sinks.TEST_PUBLISH_PAUSE_ENV: str(pause)}
    with open(out.parent / f"{out.name}-{time.monotonic_ns()}.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline", "--input", str(inputs), "--output", str(out),
             "--spacy_model", model, "--direct_num_workers=1"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def check_readers(out: Path) -> dict[str, int]:
    """Reads every published table as DuckDB would; fails on a partial or duplicated file.

    Returns row counts of the tables that have files (none before the first publication).
    """
    counts = {}
    con = duckdb.connect()
    for table in TABLES:
        if not glob.glob(str(out / table / "*.parquet")):
            continue
        source = f"read_parquet('{out}/{table}/*.parquet')"
        try:
            (n,), = con.execute(f"SELECT count(*) FROM {source}").fetchall()
            key = UNIQUE_KEYS.get(table, "*")
            dupes = con.execute(
                f"SELECT {key}, count(*) FROM {source} GROUP BY ALL HAVING count(*) > 1 LIMIT 3"
            ).fetchall()
        except duckdb.IOException:
            # A file listed by the glob and gone before it was opened: only the empty placeholder
            # is ever deleted, and only after a real file has landed next to it. Read again.
            (n,), = con.execute(f"SELECT count(*) FROM {source}").fetchall()
            dupes = []
        assert not dupes, f"{table}: rows seen twice: {dupes}"
        counts[table] = n
    return counts


def watch(proc: subprocess.Popen, out: Path, until, timeout: float = RUN_TIMEOUT) -> int:
    """Checks readers while ``proc`` runs; SIGKILLs it once ``until()`` is true.

    Returns how many times the readers were checked.
    """
    deadline = time.monotonic() + timeout
    checks = 0
    try:
        while time.monotonic() < deadline:
            check_readers(out)
            checks += 1
            if until():
                return checks
            if proc.poll() is not None:
                pytest.fail(f"the run ended (exit {proc.returncode}) before the kill point")
            time.sleep(0.05)
        pytest.fail(f"kill point not reached within {timeout} s")
    finally:
        kill(proc)


def published(out: Path, run_id: str | None = None) -> list[str]:
    pattern = f"{run_id}-*.parquet" if run_id else "*.parquet"
    files = glob.glob(str(out / "*" / pattern))
    return sorted(os.path.relpath(f, out) for f in files if "/_staging/" not in f)


def staged_runs(out: Path) -> list[str]:
    return sorted(os.listdir(out / sinks.STAGING)) if (out / sinks.STAGING).is_dir() else []


def tables_without_run_ids(out: Path) -> dict[str, list[tuple]]:
    """Every table but ``runs``, sorted, without the columns that name a run."""
    con = duckdb.connect()
    rows = {}
    for table in TABLES:
        if table == "runs" or not glob.glob(str(out / table / "*.parquet")):
            continue
        exclude = RUN_SPECIFIC.get(table)
        columns = f"* EXCLUDE ({', '.join(exclude)})" if exclude else "*"
        rows[table] = con.execute(
            f"SELECT {columns} FROM read_parquet('{out}/{table}/*.parquet') ORDER BY ALL"
        ).fetchall()
    return rows


def file_contents(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in published(out)}


def test_sigkill_mid_run_and_mid_publication_then_rerun_equals_a_clean_run(
        tmp_path, ruler_model):
    inputs = tmp_path / "in"
    records = write_inputs(inputs)
    clean_out, out = tmp_path / "clean", tmp_path / "crashed"
    clean = start(inputs, clean_out, ruler_model)  # alongside kill point 1
    try:
        # Kill point 1: during the Beam run, once a shard is being written into staging.
        first = start(inputs, out, ruler_model)

        def shards_in_staging() -> bool:
            return any(f.endswith(".parquet")
                       for _, _, files in os.walk(out / sinks.STAGING) for f in files)

        watch(first, out, shards_in_staging)
        assert published(out) == []  # nothing where DuckDB reads
        (run1,) = staged_runs(out)
        assert not (out / sinks.STAGING / run1 / sinks.COMMIT_MARKER).exists()

        assert clean.wait(timeout=RUN_TIMEOUT) == 0
    finally:
        kill(clean)
    clean_tables = tables_without_run_ids(clean_out)
    clean_counts = check_readers(clean_out)
    assert clean_counts["articles"] + clean_counts["errors"] == records

    # Kill point 2: during publication, after the commit marker and at least one move.
    second = start(inputs, out, ruler_model, pause=1.0)

    def partly_published() -> bool:  # run 2 is the staged run that is not run 1 (deleted first)
        runs = [r for r in staged_runs(out) if r != run1]
        return bool(runs) and bool(published(out, runs[0]))

    checks = watch(second, out, partly_published)
    (run2,) = staged_runs(out)
    marker = json.loads((out / sinks.STAGING / run2 / sinks.COMMIT_MARKER).read_text())
    moves = marker["moves"]
    done = published(out, run2)
    assert 0 < len(done) < len(moves), "expected a partly published run"
    assert all(not os.path.isabs(p) for move in moves for p in move)
    partial = check_readers(out)
    assert partial and all(n <= clean_counts.get(t, 0) for t, n in partial.items()), partial

    # Every other kill point of publication or of the recovery, replayed from a copy.
    snapshot = tmp_path / "snapshot"
    shutil.copytree(out, snapshot, symlinks=True)
    finished = tmp_path / "replay-final"
    shutil.copytree(snapshot, finished, symlinks=True)
    assert sinks.recover(str(finished)) == [run2]
    expected_files = file_contents(finished)
    remaining = [(src, dest) for src, dest in moves if (snapshot / src).exists()]
    for i in range(len(remaining) + 1):
        replay = tmp_path / f"replay-{i}"
        shutil.copytree(snapshot, replay, symlinks=True)
        for src, dest in remaining[:i]:
            (replay / dest).parent.mkdir(parents=True, exist_ok=True)
            os.replace(replay / src, replay / dest)
        check_readers(replay)  # killed here: what a reader sees
        assert sinks.recover(str(replay)) == [run2]
        check_readers(replay)
        assert file_contents(replay) == expected_files, f"after {i} moves"
        shutil.rmtree(replay)

    # Rerun: finishes run 2's publication, then finds every file already ingested.
    third = start(inputs, out, ruler_model)
    try:
        assert third.wait(timeout=RUN_TIMEOUT) == 0
    finally:
        kill(third)
    assert staged_runs(out) == []
    final_counts = check_readers(out)
    final_tables = tables_without_run_ids(out)
    assert final_tables.keys() == clean_tables.keys()
    for table, rows in clean_tables.items():
        missing = [r for r in rows if r not in final_tables[table]][:3]
        extra = [r for r in final_tables[table] if r not in rows][:3]
        assert final_tables[table] == rows, f"{table}: only in clean {missing}; only here {extra}"
    assert final_counts["runs"] == 2  # run 2 (finished by run 3) and run 3; run 1 left no trace
    statuses = duckdb.execute(
        f"SELECT DISTINCT status FROM read_parquet('{out}/runs/*.parquet')").fetchall()
    assert statuses == [("succeeded",)]
    print(f"readers checked {checks} times while run 2 was alive; {len(moves)} moves, killed "
          f"after {len(done)}; replayed {len(remaining) + 1} kill points")


def _committed_run(out: Path, run_id: str, moves: list[tuple[str, str]] | None = None) -> None:
    """A staged run (an empty errors file) whose commit marker lists ``moves``: by default the
    run's own moves, as ``publish_run`` records them before moving anything."""
    stage = Path(sinks.staging_dir(str(out), run_id))
    (stage / "errors").mkdir(parents=True)
    sinks.write_empty(str(stage / "errors" / "part-00000-of-00001.parquet"), TABLES["errors"])
    if moves is None:
        moves = [(os.path.relpath(a, out), os.path.relpath(b, out))
                 for a, b in sinks.plan_moves(str(out), run_id)]
    (stage / sinks.COMMIT_MARKER).write_text(json.dumps({"run_id": run_id, "moves": moves}))


def test_a_committed_run_is_finished_after_the_output_folder_moved(tmp_path):
    before, after = tmp_path / "before", tmp_path / "after"
    _committed_run(before, "r1")
    before.rename(after)  # killed after the marker; the folder is then moved (or remounted)
    assert sinks.recover(str(after)) == ["r1"]
    assert published(after) == ["errors/r1-part-00000-of-00001.parquet"]


def test_recovery_never_moves_a_file_out_of_the_output_folder(tmp_path):
    out = tmp_path / "out"
    src = os.path.join(sinks.STAGING, "r1", "errors", "part-00000-of-00001.parquet")
    _committed_run(out, "r1", [(src, "../escaped.parquet"), (src, "/tmp/escaped.parquet")])
    assert sinks.recover(str(out)) == ["r1"]
    assert not (tmp_path / "escaped.parquet").exists()
    assert not Path("/tmp/escaped.parquet").exists()
    assert os.listdir(out / sinks.STAGING) == []  # the staged run is gone, nothing published
