"""The folder watcher end to end: the real command in a subprocess, files dropped while it runs,
``kill -9``, a restart, more files, Ctrl-C; then the tables checked with DuckDB."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline import watch
from pipeline.query import connect
from tests.transforms.test_stream import OTHER, REWRITE, STORY

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # interpreter, Beam and spaCy start-up on a busy machine
INGEST_TIMEOUT = 30.0


class Watcher:
    """``python -m pipeline --watch`` in a subprocess; its JSON log lines collected as they come."""

    def __init__(self, inbox: Path, out: Path, model: str) -> None:
        cmd = [sys.executable, "-m", "pipeline", "--watch", str(inbox), "--output", str(out),
               "--spacy_model", model, "--poll_interval", "0.5", "--settle_seconds", "0.2"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.events: list[dict] = []
        self.raw: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.raw.append(line)
            self.events.append(json.loads(line))  # not a TTY: every line is JSON

    def wait_for(self, event: str, timeout: float) -> dict:
        found = wait_until(lambda: next((e for e in self.events if e.get("event") == event),
                                        None), timeout, lambda: "".join(self.raw))
        return found

    def stop(self, sig: signal.Signals, timeout: float = 30.0) -> tuple[int, str]:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)  # the reader owns stderr: no communicate() here
        return self.proc.returncode, self.proc.stdout.read()


def wait_until(check: Callable[[], object], timeout: float,
               explain: Callable[[], str] = lambda: "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s; log:\n{explain()}")


def rows(out: Path, sql: str) -> list[tuple]:
    return connect(str(out)).execute(sql).fetchall()


def logged_files(out: Path) -> int:
    return rows(out, "SELECT count(*) FROM ingest_log")[0][0]


def drop(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_watcher_ingests_arrivals_survives_kill_and_restarts_without_repeats(
        tmp_path, ruler_model):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    drop(inbox / "a.txt", "date: 2025-07-02\n\n" + STORY)  # present before the start

    first = Watcher(inbox, out, ruler_model)
    try:
        first.wait_for("ready", START_TIMEOUT)
        drop(inbox / "b.txt", "date: 2025-07-01\n\n" + STORY)  # exact copy, earlier date
        drop(inbox / "c.jsonl", json.dumps({"body": REWRITE, "date": "2025-07-03"}) + "\n"
             + json.dumps({"body": OTHER, "date": "2025-07-03"}) + "\n")
        drop(inbox / "broken.json", '{"body": "Pakistan and')
        drop(inbox / "d.txt", "Donald Trump met David Allvin at the Pentagon.")
        drop(inbox / ".e.txt.tmp", "a file still being written under a temp name")
        wait_until(lambda: logged_files(out) == 5, INGEST_TIMEOUT, lambda: "".join(first.raw))
        assert rows(out, "SELECT count(*), count(duplicate_of) FROM articles") == [(5, 2)]
        assert rows(out, "SELECT count(*) FROM errors") == [(1,)]
        code, _ = first.stop(signal.SIGKILL)
        assert code == -signal.SIGKILL
    finally:
        first.proc.kill()

    # While it is down: a copy of a stored story, a new story, an unchanged file touched, and a
    # record appended to an ingested file (read again: its stored records are dropped).
    drop(inbox / "f.txt", OTHER)
    drop(inbox / "g.txt", "date: 2025-07-05\n\nPakistan and India held talks.")
    os.utime(inbox / "a.txt")
    with open(inbox / "c.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"body": "David Allvin flew to India."}) + "\n")
    second = Watcher(inbox, out, ruler_model)
    try:
        second.wait_for("ready", START_TIMEOUT)
        drop(inbox / "h.txt", "Reuters reported that the US and India signed a deal.")
        wait_until(lambda: logged_files(out) == 9, INGEST_TIMEOUT, lambda: "".join(second.raw))
        code, summary = second.stop(signal.SIGINT)
    finally:
        second.proc.kill()
    assert code == 0, "".join(second.raw)
    assert "stopped (SIGINT)" in summary and "articles" in summary
    stopped = next(e for e in second.events if e["event"] == "stopped")
    assert [stopped[k] for k in ("files", "skipped", "articles", "already_stored")] == [4, 4, 4, 2]

    # Every input record is an article or an error (a, b, c x3, broken, d, f, g, h); nothing is
    # stored twice.
    assert rows(out, "SELECT (SELECT count(*) FROM articles) + (SELECT count(*) FROM errors)"
                ) == [(10,)]
    assert rows(out, "SELECT count(*), count(DISTINCT article_id) FROM articles") == [(9, 9)]
    assert rows(out, "SELECT count(*) FROM errors WHERE source_uri LIKE '%broken.json'") == [(1,)]
    assert rows(out, """SELECT count(*), count(DISTINCT source_uri),
                               count(DISTINCT (source_uri, fingerprint)) FROM ingest_log""") == [
        (9, 8, 9)]  # c.jsonl twice: once per content
    assert rows(out, "SELECT count(*) FROM articles WHERE source_uri LIKE '%.tmp'") == [(0,)]
    # Duplicates point at the canonical story, exact or near, across the restart too.
    dupes = dict(rows(out, """
        SELECT regexp_extract(d.source_uri, '[^/]+$') || '#' || d.record_index,
               d.match_kind || ' of ' || regexp_extract(c.source_uri, '[^/]+$')
        FROM articles d JOIN articles c ON d.duplicate_of = c.article_id"""))
    assert dupes == {"b.txt#0": "exact of a.txt", "c.jsonl#0": "near of a.txt",
                     "f.txt#0": "exact of c.jsonl"}
    # Mentions only for canonical articles; the live totals view agrees with them.
    assert rows(out, """SELECT count(*) FROM mentions JOIN articles USING (article_id)
                        WHERE duplicate_of IS NOT NULL""") == [(0,)]
    assert rows(out, """SELECT mention_count, article_count FROM entity_totals
                        WHERE name = 'India'""") == [(4, 4)]
    assert rows(out, "SELECT text FROM dates") == [("Wednesday",)]  # in a.txt only
    assert rows(out, "SELECT status FROM runs") == [("stopped",)]


@pytest.mark.parametrize("extra, message", [
    (["--input", "x.txt"], "cannot be combined"),
    (["--runner", "DataflowRunner"], "local FnApiRunner"),
    (["--poll_interval", "0"], "--poll_interval must be > 0"),
])
def test_wrong_calls_exit_2_with_one_sentence(tmp_path, capsys, extra, message):
    argv = ["--watch", str(tmp_path), "--output", str(tmp_path / "out"), *extra]
    assert watch.main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_second_watcher_on_one_output_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    held = watch.acquire_lock(str(out))
    try:
        assert watch.main(["--watch", str(tmp_path), "--output", str(out)]) == 2
        assert f"another watcher (pid {os.getpid()})" in capsys.readouterr().err
    finally:
        held.close()
    assert watch.main(["--watch", str(out), "--output", str(out)]) == 2  # nothing to watch
