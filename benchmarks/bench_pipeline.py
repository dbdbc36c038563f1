"""Speed of the whole pipeline against raw spaCy on the same bodies (issue 5; run on demand).

For each size N, the first N stories of a JSONL corpus that have a body are written as individual
article files (``NNNNN.txt``: ``title:``/``date:`` header lines, a blank line, the body), the
common case of thousands of small files. Then, ``--runs`` times and in rotating order:

- ``pipeline``: ``python -m pipeline --input DIR --output OUT`` in a subprocess, the real entry
  point with its default options (the local run uses every core, up to 4);
- ``(a) spacy full``: ``nlp.pipe`` over the same bodies with the model's whole default pipeline,
  one process;
- ``(b) spacy ner``: ``nlp.pipe`` with only ``ner`` loaded (the rest excluded), one process: the
  components the pipeline loads.

Before the sizes, the pipeline also runs on the first story alone: its fixed cost (start-up,
graph, workers, model loads, publication), which no input size changes.

Baselines are timed over ``nlp.pipe`` alone (model loading excluded, which favours them); the
pipeline is timed end to end as a user sees it. Peak RSS is ``VmHWM`` of every process in the
tree, sampled from ``/proc`` (the driver, and each SDK worker process); CPU seconds come from
``/proc`` per process and from ``wait4`` for the whole tree. Per-stage time comes from the
``<stage>.msec`` and ``<stage>.cpu_msec`` counters (``transforms/timing.py``), summed over
workers: a stage's wall time is estimated as msec / workers, and ``other`` is the rest of the
wall time (start-up, model loads, shuffles between stages, writing Parquet, publication).

    .venv/bin/python benchmarks/bench_pipeline.py \
        --input ../shared/data/reuters21578/articles.jsonl --sizes 2000 8000 --runs 3

Nothing here is a test: tests check that the benchmark's inputs give the pipeline's normal rows.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_INPUT = ROOT / ".." / "shared" / "data" / "reuters21578" / "articles.jsonl"
STAGES = ("read", "dates", "dedup", "entities")
FULL, NER, PIPELINE = "(a) spacy full", "(b) spacy ner", "pipeline"
# Not a target: spaCy's own two-process NER (``n_process=2``), the most any NER pipeline can
# reach on two cores; pipeline/(c) shows how much of that ceiling the pipeline keeps.
NER2 = "(c) ner 2 procs"
_BASELINES = {"full": FULL, "ner": NER, "ner2": NER2}
# The pipeline of another checkout (--compare_root), e.g. the commit before a change.
EARLIER = "pipeline, earlier"
# What the issue asks of the pipeline (medians of the runs).
TARGET_VS_NER, TARGET_VS_FULL, TARGET_OVERHEAD, TARGET_RSS_DRIFT = 1.5, 3.0, 0.15, 0.10
_COUNTER = re.compile(r"^\s+([a-z_]+\.[A-Za-z0-9_.]+)\s+([\d,]+)\s*$")
_SAMPLE_SECONDS = 0.2
_TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Story:
    """One corpus record as the benchmark uses it; ``body`` stripped, as the pipeline keeps it."""

    title: str | None
    date: str | None
    body: str


def read_stories(path: str | Path, limit: int) -> list[Story]:
    """The first ``limit`` records of a JSONL file that have a non-blank ``body``."""
    stories: list[Story] = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if len(stories) == limit:
                break
            if not line.strip():
                continue
            record = json.loads(line)
            body = (record.get("body") or "").strip()
            if body:
                stories.append(Story(record.get("title"), record.get("date"), body))
    return stories


def article_text(story: Story) -> str:
    """A story as a ``.txt`` article: header lines, a blank line, the body."""
    header = []
    for key, value in (("title", story.title), ("date", story.date)):
        value = " ".join((value or "").split())  # one line; an empty header is left out
        if value:
            header.append(f"{key}: {value}\n")
    return "".join(header) + "\n" + story.body + "\n"


def write_article_files(stories: list[Story], folder: str | Path) -> list[Path]:
    """Writes ``folder/00000.txt`` ... one file per story; returns the paths in story order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, story in enumerate(stories):
        path = folder / f"{i:05d}.txt"
        path.write_text(article_text(story), encoding="utf-8")
        paths.append(path)
    return paths


def word_count(body: str) -> int:
    """Words as the pipeline counts them (``articles.word_count``)."""
    return len(body.split())


# ---------------------------------------------------------------------------------------------
# Measuring processes
# ---------------------------------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
    return children


def _descendants(pid: int) -> Iterator[int]:
    children = _children_map()
    stack = list(children.get(pid, []))
    while stack:
        child = stack.pop()
        yield child
        stack.extend(children.get(child, []))


def _peak_rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def _kind(pid: int, root: int) -> str:
    if pid == root:
        return "driver"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return "other"
    # Beam starts each SDK worker through `/bin/sh -c python -m ...sdk_worker_main`.
    if not cmd[0].endswith("sh") and any("sdk_worker_main" in part for part in cmd):
        return "worker"
    return "other"


class TreeSampler(threading.Thread):
    """Samples peak RSS (``VmHWM``) and CPU seconds of a process and its descendants."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb: dict[int, int] = {}
        self.cpu: dict[int, float] = {}
        self.kind: dict[int, str] = {}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.sample()
            self._done.wait(_SAMPLE_SECONDS)

    def sample(self) -> None:
        for pid in [self.pid, *_descendants(self.pid)]:
            peak = _peak_rss_kb(pid)
            if not peak:
                continue
            self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), peak)
            self.cpu[pid] = max(self.cpu.get(pid, 0.0), _cpu_seconds(pid))
            if pid not in self.kind:
                self.kind[pid] = _kind(pid, self.pid)

    def stop(self) -> None:
        self._done.set()
        self.join()

    def peaks_mb(self, kind: str) -> list[float]:
        return [kb / 1024 for pid, kb in sorted(self.peak_kb.items()) if self.kind[pid] == kind]

    def cpu_seconds(self, kind: str) -> float:
        return sum(cpu for pid, cpu in self.cpu.items() if self.kind[pid] == kind)


@dataclass
class Measured:
    """One run of one system on one input."""

    system: str
    size: int
    words: int
    wall: float
    cpu: float  # whole process tree (wait4)
    driver_mb: float
    worker_mb: list[float] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def words_per_s(self) -> float:
        return self.words / self.wall

    @property
    def articles_per_s(self) -> float:
        return self.size / self.wall


def run_measured(cmd: list[str], cwd: Path) -> tuple[float, float, TreeSampler, str]:
    """Runs ``cmd``; returns (wall seconds, CPU seconds of the tree, sampler, stdout)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{stderr[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, sampler, stdout


def parse_counters(summary: str) -> dict[str, int]:
    """``{"read.articles": 2000, ...}`` from the summary ``python -m pipeline`` prints."""
    counters = {}
    for line in summary.splitlines():
        m = _COUNTER.match(line)
        if m:
            counters[m.group(1)] = int(m.group(2).replace(",", ""))
    return counters


def pipeline_command(inputs: str | Path, output: str | Path, extra_args: list[str]) -> list[str]:
    """The command the benchmark times: the real entry point with its default options."""
    return [sys.executable, "-m", "pipeline", "--input", str(inputs), "--output", str(output),
            *extra_args]


def run_pipeline(folder: Path, output: Path, size: int, words: int, extra_args: list[str],
                 root: Path = ROOT, system: str = PIPELINE) -> Measured:
    shutil.rmtree(output, ignore_errors=True)
    wall, cpu, sampler, stdout = run_measured(pipeline_command(folder, output, extra_args), root)
    shutil.rmtree(output, ignore_errors=True)
    return Measured(system, size, words, wall, cpu,
                    max(sampler.peaks_mb("driver"), default=0.0), sampler.peaks_mb("worker"),
                    parse_counters(stdout), {"driver_cpu": sampler.cpu_seconds("driver"),
                                             "worker_cpu": sampler.cpu_seconds("worker")})


def run_baseline(kind: str, bodies_file: Path, size: int, words: int, model: str) -> Measured:
    cmd = [sys.executable, __file__, "--_baseline", kind, "--_bodies", str(bodies_file),
           "--model", model]
    _, cpu, sampler, stdout = run_measured(cmd, ROOT)
    report = json.loads(stdout.strip().splitlines()[-1])
    return Measured(_BASELINES[kind], size, words, report["pipe_seconds"], cpu,
                    max(sampler.peaks_mb("driver"), default=0.0), extra=report)


def baseline_main(kind: str, bodies_file: str, model: str) -> None:
    """In a subprocess: ``nlp.pipe`` over the bodies (one process; two for ``ner2``); prints
    one JSON line."""
    import spacy

    from transforms.entities import resolve_model_name

    with open(bodies_file, encoding="utf-8") as f:
        bodies = json.load(f)
    name = resolve_model_name(model)
    start = time.perf_counter()
    nlp = spacy.load(name)
    if kind != "full":  # the same model with every component but ner excluded
        nlp = spacy.load(name, exclude=[c for c in nlp.component_names if c != "ner"])
    loaded, cpu = time.perf_counter(), time.process_time()
    ents = sum(len(doc.ents) for doc in nlp.pipe(bodies, n_process=2 if kind == "ner2" else 1))
    done = time.perf_counter()
    print(json.dumps({"pipe_seconds": done - loaded, "pipe_cpu": time.process_time() - cpu,
                      "load_seconds": loaded - start, "components": nlp.pipe_names,
                      "batch_size": nlp.batch_size, "ents": ents}))


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def loadavg() -> str:
    with open("/proc/loadavg", encoding="ascii") as f:
        return " ".join(f.read().split()[:3])


def summarise(runs: list[Measured], workers: int) -> dict[str, Any]:
    """Medians over the runs of one system at one size."""
    s: dict[str, Any] = {
        "wall": median([m.wall for m in runs]),
        "words_per_s": median([m.words_per_s for m in runs]),
        "articles_per_s": median([m.articles_per_s for m in runs]),
        "cpu": median([m.cpu for m in runs]),
        "driver_mb": median([m.driver_mb for m in runs]),
        "walls": [round(m.wall, 1) for m in runs],
    }
    if runs[0].system not in (PIPELINE, EARLIER):
        s["pipe_cpu"] = median([m.extra["pipe_cpu"] for m in runs])
        s["load_seconds"] = median([m.extra["load_seconds"] for m in runs])
        return s
    c = [m.counters for m in runs]
    seen = median([len(m.worker_mb) for m in runs])  # SDK worker processes; 0 when in-process
    workers = int(seen) if seen >= 1 else workers
    s["workers"] = workers
    s["stage_wall"] = {st: median([x.get(f"{st}.msec", 0) / 1000 / workers for x in c])
                       for st in STAGES}
    s["stage_cpu"] = {st: median([x.get(f"{st}.cpu_msec", 0) / 1000 for x in c])
                      for st in STAGES}
    s["stage_wall"]["other"] = s["wall"] - sum(s["stage_wall"].values())
    s["driver_cpu"] = median([m.extra["driver_cpu"] for m in runs])
    s["worker_cpu"] = median([m.extra["worker_cpu"] for m in runs])
    s["worker_mb"] = median([max(m.worker_mb, default=0.0) for m in runs])
    s["worker_mb_each"] = [[round(x) for x in m.worker_mb] for m in runs]
    s["model_loads"] = median([x.get("entities.model_loads", 0) for x in c])
    s["articles_kept"] = median([x.get("dedup.kept", 0) for x in c])
    return s


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_fixed(fixed: dict[str, Any] | None) -> None:
    if fixed:
        print(f"\n== fixed cost: the pipeline on 1 story == wall {fixed['wall']:.1f} s "
              f"(runs {fixed['walls']}), CPU {fixed['cpu']:.1f} s (driver "
              f"{fixed['driver_cpu']:.1f}, workers {fixed['worker_cpu']:.1f}), peak RSS driver "
              f"{fixed['driver_mb']:.0f} MB, worker {fixed['worker_mb']:.0f} MB")


def print_size(size: int, words: int, results: dict[str, dict[str, Any]], workers: int,
               loads: list[str]) -> None:
    print(f"\n== {size:,} stories, {words:,} words; load average after each round: "
          f"{' | '.join(loads)} ==")
    print(f"{'system':<16}{'words/s':>9}{'articles/s':>11}{'wall s':>8}{'CPU s':>8}"
          f"{'peak RSS MB':>20}   wall per run")
    for name, s in results.items():
        rss = (f"drv {s['driver_mb']:.0f}, wkr {s['worker_mb']:.0f}" if name in (PIPELINE, EARLIER)
               else f"{s['driver_mb']:.0f}")
        print(f"{name:<16}{s['words_per_s']:>9,.0f}{s['articles_per_s']:>11,.1f}"
              f"{s['wall']:>8.1f}{s['cpu']:>8.1f}{rss:>20}   {s['walls']}")
    if {NER, PIPELINE, EARLIER} <= results.keys():
        b = results[NER]["words_per_s"]
        before, after = results[EARLIER]["words_per_s"] / b, results[PIPELINE]["words_per_s"] / b
        print(f"before/after, same rounds: pipeline/(b) = {before:.2f}x earlier -> "
              f"{after:.2f}x now")
    if not {FULL, NER, PIPELINE} <= results.keys():
        return
    p, a, b = results[PIPELINE], results[FULL], results[NER]
    vs_a, vs_b = p["words_per_s"] / a["words_per_s"], p["words_per_s"] / b["words_per_s"]
    print(f"ratios: pipeline/(a) = {vs_a:.2f}x (target >= {TARGET_VS_FULL}x: "
          f"{_met(vs_a >= TARGET_VS_FULL)}); pipeline/(b) = {vs_b:.2f}x (target >= "
          f"{TARGET_VS_NER}x: {_met(vs_b >= TARGET_VS_NER)})")
    if NER2 in results:
        c = results[NER2]["words_per_s"]
        print(f"ceiling on this machine: (c)/(b) = {c / b['words_per_s']:.2f}x; pipeline/(c) = "
              f"{p['words_per_s'] / c:.2f}x")
    wall = p["wall"]
    print(f"pipeline stages (wall = msec / {p['workers']} workers; CPU = thread CPU summed):")
    for stage, seconds in p["stage_wall"].items():
        cpu = p["stage_cpu"].get(stage)
        cpu_text = f"   CPU {cpu:6.1f} s" if cpu is not None else ""
        label = stage if stage != "other" else "other (start-up, model loads, shuffles, writing)"
        print(f"  {label:<50}{seconds:7.1f} s {seconds / wall:6.1%}{cpu_text}")
    measured = sum(p["stage_wall"][s] for s in ("read", "dates", "dedup")) / wall
    non_ner = 1 - p["stage_wall"]["entities"] / wall
    print(f"read+dates+dedup: {measured:.1%} of wall; everything but NER: {non_ner:.1%} "
          f"(target < {TARGET_OVERHEAD:.0%}: {_met(non_ner < TARGET_OVERHEAD)})")
    print(f"CPU: pipeline {p['cpu']:.1f} s (driver {p['driver_cpu']:.1f}, workers "
          f"{p['worker_cpu']:.1f}; NER stage {p['stage_cpu']['entities']:.1f} on "
          f"{p['articles_kept']:.0f} canonical articles) vs (b) nlp.pipe {b['pipe_cpu']:.1f} s, "
          f"(a) {a['pipe_cpu']:.1f} s")
    print(f"worker peak RSS per run (MB): {p['worker_mb_each']}; model loads per run: "
          f"{p['model_loads']:.0f}; baseline model load (not timed): (a) "
          f"{a['load_seconds']:.1f} s, (b) {b['load_seconds']:.1f} s")


def print_growth(sizes: list[int], words: dict[int, int],
                 results: dict[int, dict[str, dict[str, Any]]],
                 fixed: dict[str, Any] | None) -> None:
    small, large = sizes[0], sizes[-1]
    factor = words[large] / words[small]
    print(f"\n== growth {small:,} -> {large:,} stories (words x{factor:.2f}) ==")
    for name in results[small]:
        s, lg = results[small][name], results[large][name]
        ratio = lg["wall"] / s["wall"]
        line = f"{name:<16} time x{ratio:.2f} (proportional: x{factor:.2f})"
        if name == PIPELINE:
            per_word = (lg["wall"] - s["wall"]) / (words[large] - words[small])
            intercept = s["wall"] - per_word * words[small]
            line += (f"; as a line: {intercept:.1f} s + {per_word * 1e6:.0f} s per million words"
                     + (f" (measured 1-story run: {fixed['wall']:.1f} s)" if fixed else ""))
            drift = lg["worker_mb"] / s["worker_mb"] - 1 if s["worker_mb"] else float("nan")
            line += (f"\n{'':<16} worker peak RSS {s['worker_mb']:.0f} -> {lg['worker_mb']:.0f} "
                     f"MB ({drift:+.1%}; target within +/-{TARGET_RSS_DRIFT:.0%}: "
                     f"{_met(abs(drift) <= TARGET_RSS_DRIFT)}); driver {s['driver_mb']:.0f} -> "
                     f"{lg['driver_mb']:.0f} MB")
        else:
            line += f"; peak RSS {s['driver_mb']:.0f} -> {lg['driver_mb']:.0f} MB"
        print(line)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT,
                        help="JSONL corpus with title, date and body fields (Reuters-21578).")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 8000],
                        help="Numbers of stories (with a body) to run.")
    parser.add_argument("--runs", type=int, default=3, help="Runs per system and size.")
    parser.add_argument("--model", default="en_core_web_sm",
                        help="spaCy model of the baselines (the pipeline's default model).")
    parser.add_argument("--systems", nargs="+", default=["full", "ner", "ner2", "pipeline"],
                        choices=["full", "ner", "ner2", "pipeline", "earlier"],
                        help="What to run (earlier: the pipeline of --compare_root).")
    parser.add_argument("--compare_root", type=Path, default=None,
                        help="Another checkout whose pipeline runs as system 'earlier' in the same "
                             "rounds (before/after ratios measured side by side).")
    parser.add_argument("--no_fixed_cost", action="store_true",
                        help="Skip the 1-story pipeline runs.")
    parser.add_argument("--pipeline_arg", action="append", default=[],
                        help="Extra flag for python -m pipeline (repeat), e.g. "
                             "--pipeline_arg=--direct_num_workers=1.")
    parser.add_argument("--pipeline_root", type=Path, default=ROOT,
                        help="Checkout whose pipeline runs (to compare two versions).")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="Where article files and outputs go (default: a temp dir, removed).")
    parser.add_argument("--json", type=Path, default=None, help="Also write every run here.")
    parser.add_argument("--_baseline", choices=list(_BASELINES), help=argparse.SUPPRESS)
    parser.add_argument("--_bodies", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def pipeline_workers(extra_args: list[str]) -> int:
    """Worker processes of the local run: ``--direct_num_workers`` or the default rule of
    ``pipeline.main.use_local_cores`` (one per core, up to 4). The report divides stage times
    by the number of worker processes it actually saw when it saw any."""
    for arg in extra_args:
        if arg.startswith("--direct_num_workers="):
            return int(arg.split("=", 1)[1]) or os.cpu_count() or 1
    return min(os.cpu_count() or 1, 4)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if ("earlier" in args.systems) != (args.compare_root is not None):
        print("--systems earlier and --compare_root go together", file=sys.stderr)
        return 2
    if args._baseline:
        baseline_main(args._baseline, args._bodies, args.model)
        return 0
    sizes = sorted(args.sizes)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench_pipeline_"))
    workers = pipeline_workers(args.pipeline_arg)
    print(f"bench_pipeline: {args.input}, sizes {sizes}, {args.runs} runs; {os.cpu_count()} "
          f"cores, pipeline workers {workers}, pipeline from {args.pipeline_root} "
          f"{' '.join(args.pipeline_arg)}; load average at start {loadavg()}", flush=True)
    stories = read_stories(args.input, sizes[-1])
    if len(stories) < sizes[-1]:
        print(f"only {len(stories)} stories with a body in {args.input}", file=sys.stderr)
        return 2
    results: dict[int, dict[str, dict[str, Any]]] = {}
    words: dict[int, int] = {}
    every_run: list[Measured] = []
    fixed = None
    try:
        if "pipeline" in args.systems and not args.no_fixed_cost:
            one = workdir / "articles_1"
            write_article_files(stories[:1], one)
            runs = [run_pipeline(one, workdir / "out", 1, word_count(stories[0].body),
                                 args.pipeline_arg, args.pipeline_root)
                    for _ in range(args.runs)]
            every_run += runs
            fixed = summarise(runs, workers)
            print_fixed(fixed)
        for size in sizes:
            chosen = stories[:size]
            folder = workdir / f"articles_{size}"
            shutil.rmtree(folder, ignore_errors=True)
            write_article_files(chosen, folder)
            bodies_file = workdir / f"bodies_{size}.json"
            bodies_file.write_text(json.dumps([s.body for s in chosen]), encoding="utf-8")
            words[size] = sum(word_count(s.body) for s in chosen)
            runs_by_system: dict[str, list[Measured]] = {}
            loads = []
            for r in range(args.runs):
                shift = r % len(args.systems)  # rotate: drifting load hits every system alike
                for kind in args.systems[shift:] + args.systems[:shift]:
                    if kind == "pipeline":
                        m = run_pipeline(folder, workdir / "out", size, words[size],
                                         args.pipeline_arg, args.pipeline_root)
                    elif kind == "earlier":
                        m = run_pipeline(folder, workdir / "out", size, words[size],
                                         args.pipeline_arg, args.compare_root, EARLIER)
                    else:
                        m = run_baseline(kind, bodies_file, size, words[size], args.model)
                    runs_by_system.setdefault(m.system, []).append(m)
                    every_run.append(m)
                    print(f"  {size:>6} stories, run {r + 1}: {m.system:<15} {m.wall:7.1f} s "
                          f"{m.words_per_s:8,.0f} words/s  (load {loadavg()})", flush=True)
                loads.append(loadavg())
            order = [n for n in (FULL, NER, NER2, EARLIER, PIPELINE) if n in runs_by_system]
            results[size] = {n: summarise(runs_by_system[n], workers) for n in order}
            print_size(size, words[size], results[size], workers, loads)
        if len(sizes) > 1:
            print_growth(sizes, words, results, fixed)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(
                {"sizes": sizes, "words": words, "workers": workers, "fixed": fixed,
                 "results": results, "runs": [asdict(m) for m in every_run]},
                indent=1, default=str))
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nload average at end {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
