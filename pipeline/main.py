"""Entry point: ``python -m pipeline --input PATH --output DIR [Beam options]``.

``run(argv)`` builds and runs the pipeline and publishes its tables (tests drive it directly);
``main(argv)`` is the command line: it turns user mistakes into one clear sentence and a non-zero
exit, and prints the run summary. Subcommands: ``query`` (DuckDB over the output).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import time
from datetime import datetime, timezone
from importlib import metadata

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions
from apache_beam.runners.runner import PipelineResult, PipelineState

from pipeline import graph, state
from pipeline.options import DEFAULT_LOCAL_RUNNER, NewsOptions
from transforms import read, sinks

_LOG = logging.getLogger("pipeline")
_PACKAGES = ("apache-beam", "spacy", "pyarrow", "dateparser", "duckdb", "datasketch")


class UserError(Exception):
    """A mistake in how the pipeline was called; printed as one sentence, exit code 2."""


class RunFailed(Exception):
    """The runner did not finish the job; nothing was published."""


def new_run_id(now: datetime | None = None) -> str:
    """Sortable, unique run id: ``20261126T051000Z-3fa9c1``."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def parse_options(argv: list[str]) -> NewsOptions:
    options = PipelineOptions(argv)
    news = options.view_as(NewsOptions)
    if not news.input:
        raise UserError("no --input given: pass a file, a directory or a glob of articles")
    if not news.output:
        raise UserError("no --output given: pass the directory that receives the tables")
    try:  # option values the settings classes reject are the user's mistake, not a crash
        news.dedup_settings()
        news.date_settings()
    except Exception as e:  # noqa: BLE001 - ValueError, or pytz's UnknownTimeZoneError
        raise UserError(f"invalid option: {e}") from None
    standard = options.view_as(StandardOptions)
    if standard.runner is None:
        standard.runner = DEFAULT_LOCAL_RUNNER  # DirectRunner would first try to download Prism
        use_local_cores(options, argv)
    return news


# Below this much input, one in-process worker finishes first: worker processes cost about 8 s
# (each imports Beam and spaCy and loads the model; every stage takes a gRPC round trip), which
# the NER time they save pays back only from ~400 Reuters stories, ~350 KB, on 2 cores
# (benchmarks/README.md, issue 5).
SMALL_INPUT_BYTES = 256 * 1024
# Compressed inputs hold several times their size in text.
_COMPRESSED_FACTOR = 4


def use_local_cores(options: PipelineOptions, argv: list[str]) -> None:
    """The default local run uses every core (up to 4): one worker process per core.

    NER dominates the cost and parallelises per bundle, so two cores give nearly twice the
    throughput; the price is a fixed cost per worker process (start-up, one model load), which
    small inputs do not earn back: under ``SMALL_INPUT_BYTES`` of input the run stays in one
    process. ``--direct_num_workers`` / ``--direct_running_mode`` override the choice.
    """
    if any(a.startswith(("--direct_num_workers", "--direct_running_mode")) for a in argv):
        return
    news = options.view_as(NewsOptions)
    workers = local_workers(input_bytes(news.input or [], news.follow_symlinks,
                                        SMALL_INPUT_BYTES))
    if workers > 1:
        direct = options.view_as(DirectOptions)
        direct.direct_num_workers = workers
        direct.direct_running_mode = "multi_processing"
        # The worker processes inherit this. glibc's default (up to 8 heaps per core, one per
        # thread that allocates) keeps memory freed by earlier steps in heaps a worker no
        # longer uses: on 8,000 stories a worker's RSS during NER went 560-694 -> 470-604 MB.
        os.environ.setdefault("MALLOC_ARENA_MAX", "2")


def local_workers(size: int | None) -> int:
    """Worker processes of a default local run over ``size`` bytes of input (None: unknown)."""
    if size is not None and size < SMALL_INPUT_BYTES:
        return 1
    return min(os.cpu_count() or 1, 4)


def input_bytes(patterns: list[str], follow_symlinks: bool, enough: int) -> int | None:
    """Bytes of the local files the inputs name, counted up to ``enough``; None if remote."""
    total = 0
    for pattern in patterns:
        if "://" in pattern and not pattern.startswith("file://"):
            return None
        for path, problem in read.iter_input_files(pattern, follow_symlinks):
            if problem is not None:
                continue
            try:
                size = os.path.getsize(path)
            except OSError:
                continue
            total += size * (_COMPRESSED_FACTOR if read.split_extension(path)[1] else 1)
            if total >= enough:
                return total
    return total


def check_output(output: str) -> None:
    if "://" in output:
        raise UserError(f"--output {output} is not a local directory; this version publishes "
                        "runs with local atomic renames (see README, Running on a cluster)")
    try:
        os.makedirs(output, exist_ok=True)
        probe = os.path.join(output, f".write-test-{os.getpid()}")
        with open(probe, "w", encoding="utf-8") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise UserError(f"cannot write to --output {output}: {e.strerror or e}") from None


def run(argv: list[str] | None = None) -> PipelineResult:
    """Runs the pipeline and publishes its tables; returns the finished ``PipelineResult``.

    The result carries ``run_id``, ``counters`` and ``wall_seconds`` attributes for the summary.
    """
    options = parse_options(list(sys.argv[1:] if argv is None else argv))
    if not read.any_input_matches(options.input):
        raise UserError("no input file matches " + ", ".join(options.input))
    output = os.path.abspath(options.output)
    check_output(output)
    sinks.recover(output)

    run_id = new_run_id()
    staging = sinks.staging_dir(output, run_id)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    pipeline = beam.Pipeline(options=options)
    graph.build(pipeline, options, staging, run_id, state.load_state(output))
    result = pipeline.run()
    final_state = result.wait_until_finish()
    if final_state != PipelineState.DONE:
        raise RunFailed(f"the runner ended in state {final_state}; nothing was published")
    # The job's last step lists the files it wrote. No list here means the workers wrote to disks
    # this process does not see: publishing would lose rows.
    if sinks.read_file_list(staging) is None:
        raise RunFailed(f"the job finished but none of its files are under {staging}: on a "
                        "cluster, --output must be a folder that the workers and this machine "
                        "share (README, Running on a cluster); nothing was published")

    counters = collect_counters(result)
    run_row = {
        "run_id": run_id,
        "started_at": started,
        "finished_at": datetime.now(timezone.utc),
        "status": "succeeded",
        "runner": str(options.view_as(StandardOptions).runner),
        "inputs": list(options.input),
        "counters": list(counters.items()),
        "options": json.dumps(options.get_all_options(drop_default=True), default=str),
        "versions": list(package_versions().items()),
    }
    sinks.write_table_file(os.path.join(staging, "runs", "run.parquet"), [run_row], "runs")
    sinks.publish_run(output, run_id)
    sinks.ensure_tables(output)
    result.run_id = run_id
    result.counters = counters
    result.wall_seconds = time.perf_counter() - t0
    return result


def collect_counters(result: PipelineResult) -> dict[str, int]:
    """``{"read.records": 3, ...}`` summed over steps, from Beam's committed metrics."""
    totals: dict[str, int] = {}
    for counter in result.metrics().query()["counters"]:
        key = f"{counter.key.metric.namespace}.{counter.key.metric.name}"
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[key] = totals.get(key, 0) + int(value or 0)
    return dict(sorted(totals.items()))


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def format_summary(result: PipelineResult) -> str:
    lines = [f"run {result.run_id} finished in {result.wall_seconds:.1f} s", ""]
    width = max((len(k) for k in result.counters), default=10)
    lines += [f"  {key:<{width}}  {value:>10,}" for key, value in result.counters.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if argv and argv[0] == "query":
        from pipeline import query

        return query.main(argv[1:])
    if argv and argv[0] == "report":
        from pipeline import report

        return report.main(argv[1:])
    if any(a == "--watch" or a.startswith("--watch=") for a in argv):
        from pipeline import watch

        return watch.main(argv)
    try:
        result = run(argv)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except RunFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(format_summary(result))
    return 0
