"""Why there is no Dask mode: Beam's DaskRunner against FnApiRunner on tiny probe pipelines.

Each probe uses one Beam feature the pipeline depends on and records what reaches the end of the
graph (lines appended to a file by the last step). FnApiRunner is the reference; a probe passes
on Dask only when both runners deliver the same lines. The last probe runs the real pipeline on
the seed article. On demand only (never in `make test`); needs dask.distributed, which the
project does not depend on. Install it without touching the project venv, e.g.:

    python3.11 -m venv /tmp/daskvenv
    echo "$PWD/.venv/lib/python3.11/site-packages" \
        > /tmp/daskvenv/lib/python3.11/site-packages/project.pth
    /tmp/daskvenv/bin/pip install "dask[distributed]"
    /tmp/daskvenv/bin/python benchmarks/dask_runner_gaps.py [--pipeline_timeout 120]

Findings with Beam 2.77 and dask/distributed 2026.8 are in README.md, "Running on a cluster".
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import traceback
from collections.abc import Callable

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class AppendFn(beam.DoFn):
    """Element in; its repr appended to ``path`` (the probes' observable end of the graph)."""

    def __init__(self, path: str) -> None:
        self._path = path

    def process(self, element):
        with open(self._path, "a", encoding="utf-8") as f:
            f.write(repr(element) + "\n")


class LoadOnceFn(beam.DoFn):
    """Element in, element out; ``setup()`` logs its pid, as the entity DoFn's model load does."""

    def __init__(self, path: str) -> None:
        self._path = path

    def setup(self) -> None:
        with open(self._path, "a", encoding="utf-8") as f:
            f.write(f"setup in pid {os.getpid()}\n")

    def process(self, element):
        yield element


class TagOddFn(beam.DoFn):
    def process(self, n: int):
        yield n
        if n % 2:
            yield beam.pvalue.TaggedOutput("odd", n)


def finish_bundle_outputs(p, out):
    """BatchElements emits its last batch from finish_bundle (so does Beam's file sink)."""
    _ = (p | beam.Create(range(5)) | beam.BatchElements(min_batch_size=1, max_batch_size=64)
         | beam.Map(sorted) | beam.ParDo(AppendFn(out)))


def tagged_outputs(p, out):
    """Only the 'odd' output is consumed: 1 and 3."""
    results = p | beam.Create([1, 2, 3]) | beam.ParDo(TagOddFn()).with_outputs("odd", main="all")
    _ = results.odd | beam.ParDo(AppendFn(out))


def side_inputs(p, out):
    ten = beam.pvalue.AsSingleton(p | "Ten" >> beam.Create([10]))
    _ = p | beam.Create([1, 2]) | beam.Map(lambda x, s: x + s, ten) | beam.ParDo(AppendFn(out))


def sibling_branches(p, out):
    """Two sinks on one input, like the pipeline's five tables: expect 1, 2, 'b1', 'b2'."""
    numbers = p | beam.Create([1, 2])
    _ = numbers | "SinkA" >> beam.ParDo(AppendFn(out))
    _ = numbers | "ToB" >> beam.Map(lambda n: f"b{n}") | "SinkB" >> beam.ParDo(AppendFn(out))


def beam_file_sink(p, out):
    """WriteToText, then the files it finalised are read back by the driver (see observe)."""
    _ = p | beam.Create(["x", "y", "z"]) | beam.io.WriteToText(out + ".sink", num_shards=1)


def parquet_sink(p, out):
    """Beam's WriteToParquet (runner-chosen shards), read back by the driver. The project's own
    table writers report their files from ``finish_bundle`` too (see ``finish_bundle_outputs``)."""
    import pyarrow as pa

    _ = (p | beam.Create([{"n": 1}, {"n": 2}, {"n": 3}])
         | beam.io.WriteToParquet(out + ".sink", pa.schema([("n", pa.int64())]),
                                  file_name_suffix=".parquet"))


def setup_per_worker(p, out):
    """Eight elements in four partitions: FnApiRunner sets the DoFn up once."""
    _ = (p | beam.Create(range(8)) | beam.ParDo(LoadOnceFn(out))
         | beam.Map(lambda n: n) | "Sink" >> beam.ParDo(AppendFn(out)))


PROBES: dict[str, Callable] = {
    "finish_bundle outputs": finish_bundle_outputs,
    "tagged outputs": tagged_outputs,
    "side inputs": side_inputs,
    "sibling branches (several sinks)": sibling_branches,
    "Beam file sink (WriteToText)": beam_file_sink,
    "Beam Parquet sink (WriteToParquet)": parquet_sink,
    "DoFn.setup once per worker": setup_per_worker,
}


def observe(out: str) -> list[str]:
    lines = []
    for path in (out, *sorted(p for p in _siblings(out + ".sink"))):
        if path.endswith(".parquet"):
            import pyarrow.parquet as pq

            lines += [repr(row) for row in pq.read_table(path).to_pylist()]
        elif os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                lines += [line.strip() for line in f if line.strip()]
    setups = sum(line.startswith("setup in pid") for line in lines)
    rest = sorted(line for line in lines if not line.startswith("setup in pid"))
    return rest + ([f"setup() calls: {setups}"] if setups else [])


def _siblings(prefix: str) -> list[str]:
    folder, base = os.path.split(prefix)
    return [os.path.join(folder, n) for n in os.listdir(folder) if n.startswith(base)]


def run_probe(build: Callable, runner_args: list[str], out: str) -> list[str] | str:
    try:
        with beam.Pipeline(options=PipelineOptions(runner_args)) as p:
            build(p, out)
    except Exception as e:  # noqa: BLE001 - a probe reports the error instead of stopping
        return f"error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return observe(out)


def _pipeline_on_dask(address: str, out: str, model: str, queue) -> None:
    from pipeline.main import run

    try:
        run(["--input", os.path.join(ROOT, "seeds"), "--output", out, "--spacy_model", model,
             f"--runner={DASK_RUNNER}", f"--dask_client_address={address}"])
        queue.put("published")
    except BaseException as e:  # noqa: BLE001
        queue.put(f"error: {type(e).__name__}: {traceback.format_exception_only(e)[-1].strip()}")


def real_pipeline(address: str, model: str, timeout: float) -> str:
    """The real entry point on Dask, in a child process that is killed after ``timeout``."""
    out = tempfile.mkdtemp(prefix="dask-pipeline-")
    queue = multiprocessing.get_context("spawn").Queue()
    proc = multiprocessing.get_context("spawn").Process(
        target=_pipeline_on_dask, args=(address, out, model, queue))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        return f"no result after {timeout:.0f} s (graph translation still running); killed"
    return queue.get() if not queue.empty() else f"exited with {proc.exitcode}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="dask worker processes")
    parser.add_argument("--pipeline_timeout", type=float, default=120,
                        help="seconds to wait for the real pipeline on Dask (0 skips it)")
    parser.add_argument("--spacy_model", default="en_core_web_sm",
                        help="model for the real-pipeline probe")
    args = parser.parse_args(argv)

    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    dask_args = [f"--runner={DASK_RUNNER}", f"--dask_client_address={cluster.scheduler_address}",
                 "--dask_npartitions=4"]
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, build) in enumerate(PROBES.items()):
            expected = run_probe(build, ["--runner=FnApiRunner"], os.path.join(tmp, f"{i}-ref"))
            got = run_probe(build, dask_args, os.path.join(tmp, f"{i}-dask"))
            report[name] = {"ok": got == expected, "FnApiRunner": expected, "DaskRunner": got}
    try:
        from apache_beam.runners.dask.dask_runner import DaskRunnerResult

        DaskRunnerResult(None, []).metrics()
        report["metrics (run summary, runs.counters)"] = {"ok": True}
    except NotImplementedError as e:
        report["metrics (run summary, runs.counters)"] = {"ok": False, "DaskRunner": str(e)}
    if args.pipeline_timeout:
        report["real pipeline on seeds/"] = {"DaskRunner": real_pipeline(
            cluster.scheduler_address, args.spacy_model, args.pipeline_timeout)}
    cluster.close()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
