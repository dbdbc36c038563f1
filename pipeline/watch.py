"""``python -m pipeline --watch DIR --output OUT``: a Beam streaming pipeline over arriving files.

The driver: it checks the options, takes the output's watcher lock, finishes or discards commits
that a killed watcher left (`stream.recover_stream`), builds the streaming graph (`build`, wiring
only) and runs it on the local runner in a background thread, while the main thread shows
progress (one refreshing line on a terminal, JSON lines otherwise, from ``OUT/_stream/status.json``
which the writer updates) and waits for Ctrl-C or SIGTERM. Then it lets an in-flight commit
finish, starts no other, records the session in ``runs`` and prints a summary.

What earlier runs left is loaded by the DoFns themselves in ``setup()``: the ingest log (files
already ingested and unchanged are skipped) and the dedup keys and signatures of stored articles.
Nothing is checkpointed (the local runner cannot): what was not committed when the watcher
stopped or was killed is read again at the next start, and stored ``article_id`` s drop records
that were committed but whose file was not yet logged. So a stop, a ``kill -9`` or a power cut
loses nothing and stores nothing twice.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from typing import IO, Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions
from apache_beam.utils.timestamp import Timestamp

from pipeline.main import UserError, check_output, new_run_id, package_versions
from pipeline.options import DEFAULT_LOCAL_RUNNER, NewsOptions
from transforms import sinks, stream
from transforms.near_dup import DedupSettings

_LOG = logging.getLogger("pipeline.watch")
LOCK_FILE = "watch.lock"
# How long a stopping watcher waits for a commit in progress (commits take milliseconds).
STOP_TIMEOUT = 30.0
REFRESH_SECONDS = 0.5


def parse_watch_options(argv: list[str]) -> PipelineOptions:
    """Options of a watcher: streaming, on the local runner, in this process (one worker)."""
    options = PipelineOptions(argv)
    news = options.view_as(NewsOptions)
    if news.input:
        raise UserError("--watch and --input cannot be combined: run the batch pipeline on "
                        "--input, and watch a folder with --watch")
    if not news.output:
        raise UserError("no --output given: pass the directory that receives the tables")
    if not os.path.isdir(news.watch):
        raise UserError(f"--watch {news.watch} is not a directory")
    if news.poll_interval <= 0 or news.settle_seconds < 0:
        raise UserError("--poll_interval must be > 0 and --settle_seconds >= 0")
    standard = options.view_as(StandardOptions)
    runner = standard.runner or DEFAULT_LOCAL_RUNNER
    if not str(runner).endswith(DEFAULT_LOCAL_RUNNER):
        raise UserError(f"--watch runs on the local {DEFAULT_LOCAL_RUNNER} in this version, not "
                        f"{runner}: it publishes with local renames (README, Watching a folder)")
    standard.runner = runner
    standard.streaming = True
    # The stop protocol (stream.COMMIT_LOCK) and the lock file need the DoFns in this process.
    direct = options.view_as(DirectOptions)
    direct.direct_num_workers = 1
    direct.direct_running_mode = "in_memory"
    return options


def build(p: beam.Pipeline, options: NewsOptions, root: str, output: str,
          session_id: str) -> None:
    """Adds the streaming graph to ``p``: no GroupByKey anywhere, so it runs live locally."""
    settings = options.date_settings()
    _ = (
        p
        | "WatchFolder" >> fileio.MatchContinuously(
            os.path.join(root, "**"), interval=options.poll_interval,
            start_timestamp=Timestamp.now(), match_updated_files=True)
        | "PacePolls" >> beam.ParDo(stream.PacePollsFn(options.poll_interval))
        | "AwaitSettled" >> beam.ParDo(
            stream.AwaitSettledFileFn(root, output, options.settle_seconds))
        | "ReadFiles" >> beam.ParDo(
            stream.ReadFileChunksFn(options.read_limits(), settings, output))
        | "NormaliseDates" >> beam.ParDo(stream.NormaliseChunkDatesFn(settings))
        | "OrderArrivals" >> beam.ParDo(stream.OrderArrivalsFn())
        | "KeyForDedup" >> beam.Map(lambda chunk: (stream.DEDUP_KEY, chunk))
        | "Deduplicate" >> beam.ParDo(stream.DeduplicateStreamFn(output, DedupSettings()))
        | "ExtractEntities" >> beam.ParDo(stream.ExtractChunkEntitiesFn(
            options.spacy_model, options.labels(), options.ner_batch_size, settings))
        | "Publish" >> beam.ParDo(stream.PublishChunksFn(output, session_id))
    )


def acquire_lock(output: str) -> IO[str]:
    """Holds ``OUT/_stream/watch.lock`` for the life of the process (released even on kill -9):
    two watchers on one output would read the same files twice."""
    os.makedirs(stream.stream_dir(output), exist_ok=True)
    f = open(os.path.join(stream.stream_dir(output), LOCK_FILE), "a+", encoding="utf-8")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "?"
        f.close()
        raise UserError(f"another watcher (pid {holder}) is writing to {output}") from None
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f


# ---------------------------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------------------------


class JsonLogFormatter(logging.Formatter):
    """Log records as one JSON object per line (``ts``, ``level``, ``logger``, ``message``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": _iso(record.created), "level": record.levelname, "logger": record.name,
                 "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")


class StatusReporter:
    """Shows the writer's counters: a refreshing line on a terminal, JSON lines otherwise.

    Terminal: ``watching inbox | files 12 (+3 unchanged) | articles 15 | duplicates 2 |
    errors 1 | last a.txt, 1.2 s``. Not a terminal: ``{"event": "progress", "files": 12, ...}``
    whenever a counter changes, plus ``started``, ``ready`` and ``stopped`` events.
    """

    def __init__(self, out: IO[str], root: str, session_id: str) -> None:
        self._out = out
        self._tty = out.isatty()
        self._root = root
        self._session = session_id
        self._last: dict[str, Any] | None = None
        self._line = False

    def event(self, name: str, **fields: Any) -> None:
        if self._tty:
            self._clear()
            if name in ("stopped", "failed"):
                return  # the summary follows on stdout
            detail = ", ".join(f"{k} {v}" for k, v in fields.items() if v not in (None, [], ""))
            print(f"[{name}] {detail}", file=self._out, flush=True)
        else:
            print(json.dumps({"ts": _iso(time.time()), "event": name, **fields}),
                  file=self._out, flush=True)

    def update(self, status: dict[str, Any] | None) -> None:
        if not status or status.get("session_id") != self._session:
            return
        counters = {k: status.get(k) for k in (*stream.COUNTERS, "last_file", "lag_p50_s")}
        if self._last is None:
            self.event("ready", session_id=self._session)
        if self._tty:
            self._show(status)
        elif counters != self._last:
            self.event("progress", **counters)
        self._last = counters

    def _show(self, s: dict[str, Any]) -> None:
        last = ""
        if s.get("last_file"):
            name = os.path.relpath(s["last_file"], self._root)
            last = f" | last {name}, {s['last_lag_s'] or 0:.1f} s"
        line = (f"watching {self._root} | files {s['files']:,} (+{s['skipped']:,} unchanged) | "
                f"articles {s['articles']:,} | duplicates {s['duplicates']:,} | "
                f"errors {s['errors']:,}{last}")
        width = shutil.get_terminal_size((120, 20)).columns - 1
        print("\r\x1b[2K" + line[:width], end="", file=self._out, flush=True)
        self._line = True

    def _clear(self) -> None:
        if self._line:
            print("\r\x1b[2K", end="", file=self._out, flush=True)
            self._line = False


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def format_summary(session_id: str, seconds: float, reason: str,
                   status: dict[str, Any] | None) -> str:
    lines = [f"watch session {session_id} {reason} after {seconds:.1f} s", ""]
    for key in stream.COUNTERS:
        lines.append(f"  {key:<16}{(status or {}).get(key, 0):>10,}")
    return "\n".join(lines)


def session_row(session_id: str, started: datetime, status_value: str, root: str,
                options: PipelineOptions, status: dict[str, Any] | None) -> dict[str, Any]:
    """The ``runs`` row of a watch session (written when it stops, not when it is killed)."""
    return {
        "run_id": session_id,
        "started_at": started,
        "finished_at": datetime.now(timezone.utc),
        "status": status_value,
        "runner": f"{options.view_as(StandardOptions).runner} (streaming, --watch)",
        "inputs": [root],
        "counters": [(f"watch.{k}", int((status or {}).get(k, 0))) for k in stream.COUNTERS],
        "options": json.dumps(options.get_all_options(drop_default=True), default=str),
        "versions": list(package_versions().items()),
    }


def main(argv: list[str]) -> int:
    """Runs the watcher until Ctrl-C / SIGTERM; the process then exits with the returned code
    (0 after a clean stop, 1 if the pipeline failed, 2 when called wrongly)."""
    try:
        options = parse_watch_options(argv)
        news = options.view_as(NewsOptions)
        root, output = os.path.abspath(news.watch), os.path.abspath(news.output)
        if os.path.commonpath([root, output]) == output:
            raise UserError(f"--watch {news.watch} is inside --output {news.output}")
        check_output(output)
        lock = acquire_lock(output)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logging.getLogger("apache_beam.io.fileio").setLevel(logging.ERROR)  # "scale poorly" notice
    if not sys.stderr.isatty():
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonLogFormatter())

    finished, discarded = stream.recover_stream(output)
    sinks.ensure_tables(output)
    session_id = new_run_id()
    started, t0 = datetime.now(timezone.utc), time.monotonic()
    reporter = StatusReporter(sys.stderr, root, session_id)
    reporter.event("started", session_id=session_id, watch=root, output=output, pid=os.getpid(),
                   recovered_commits=finished, discarded_commits=discarded)

    pipeline = beam.Pipeline(options=options)
    build(pipeline, news, root, output, session_id)
    wake = threading.Event()
    failure: list[BaseException] = []
    stop_reason: list[str] = []

    def run_pipeline() -> None:
        try:
            pipeline.run().wait_until_finish()
            failure.append(RuntimeError("the streaming pipeline ended by itself"))
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            failure.append(e)
        wake.set()

    def on_signal(signum: int, _frame: Any) -> None:
        if stop_reason:  # a second Ctrl-C: leave now (uncommitted files are read again)
            os._exit(130)
        stop_reason.append(signal.Signals(signum).name)
        wake.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    threading.Thread(target=run_pipeline, name="watch-pipeline", daemon=True).start()
    while not wake.wait(REFRESH_SECONDS):
        reporter.update(stream.read_status(output))

    # Stop: no commit starts from now on; wait for one in progress.
    stream.STOPPING.set()
    committed = stream.COMMIT_LOCK.acquire(timeout=STOP_TIMEOUT)
    status = stream.read_status(output)
    if status and status.get("session_id") != session_id:
        status = None
    reporter.update(status)
    code, outcome = 0, "stopped"
    if failure and not stop_reason:
        code, outcome = 1, "failed"
        _LOG.error("the watcher failed: %s", failure[0], exc_info=failure[0])
    if committed:
        row = session_row(session_id, started, outcome, root, options, status)
        stream.commit_tables(output, f"{session_id}-session", {"runs": [row]})
    seconds = time.monotonic() - t0
    reason = f"{outcome} ({stop_reason[0]})" if stop_reason else outcome
    reporter.event(outcome, session_id=session_id, seconds=round(seconds, 1),
                   signal=stop_reason[0] if stop_reason else None,
                   **{k: (status or {}).get(k, 0) for k in stream.COUNTERS})
    print(format_summary(session_id, seconds, reason, status), flush=True)
    lock.close()
    # The local runner cannot be cancelled and its thread holds no data worth waiting for
    # (everything uncommitted is read again at the next start), so the process ends here.
    sys.stderr.flush()
    os._exit(code)
