"""Streaming-only stages of the folder watcher (``python -m pipeline --watch DIR``).

The batch flow (read -> dates -> dedup -> entities -> write) leans on GroupByKey: dedup groups by
content hash and LSH band, entity totals sum per entity, files are published when the job ends.
On an unbounded input the local runner never fires anything behind a GroupByKey, so the watcher
runs the same stages with none on its path (wiring in ``pipeline/watch.py``)::

    MatchContinuously -> PacePolls -> AwaitSettledFile -> ReadFileChunks -> NormaliseChunkDates
      -> OrderArrivals -> ("dedup", chunk) -> DeduplicateStream (stateful)
      -> ExtractChunkEntities -> PublishChunks

The element is a `FileChunk`: the rows of one arrived file (up to ``CHUNK_RECORDS`` records; a
longer file travels as several chunks, its ingest-log row on the last one). Keeping a file's rows
together is what lets the writer publish every file's articles, errors, mentions, signatures (and
any other table NER fills) and ingest-log row in one commit, with no GroupByKey to reassemble
them.

- Reading reuses `ReadArticleFileFn`, dates `NormaliseDateFn`, NER `ExtractEntitiesFn` (batched
  over the chunks of a bundle), near-duplicate matching `transforms.near_dup`: the same rows, ids
  and rules as a batch run.
- Dedup is one stateful DoFn (`DeduplicateStreamFn`) with the exact index (content hash -> the
  cluster of that body) and the LSH index (band key -> canonical articles) of everything stored in
  ``OUT`` plus everything decided earlier in this stream. Why one key and not one per content
  hash and one per band: a decision needs every earlier decision (an exact copy must follow its
  body's cluster, a near duplicate must point at a canonical, never at another duplicate), and
  combining the answers of 32 band keys needs a join, i.e. a GroupByKey or a loop in the graph.
  Ordered, one-at-a-time decisions are cheap (a MinHash and 32 dict look-ups: ~600 Reuters
  articles per second on a busy core, 30x spaCy's rate there), and they give stream semantics
  that match incremental batch runs: what is already decided (stored or streamed) is never
  rewritten, a new article that matches it becomes its duplicate.
- Publication (`PublishChunksFn`) writes each table's rows of a group of chunks to
  ``OUT/_stream/staging/<commit_id>/``, writes a commit marker, then renames the files into
  ``OUT/<table>/<commit_id>.parquet`` (`commit_tables`). ``read_parquet('OUT/<table>/*.parquet')``
  never sees a partial file; a commit interrupted after its marker is finished by
  `recover_stream` at the next start, one interrupted before it is deleted and its files are read
  again. Within a commit, ``ingest_log`` is renamed last and ``articles`` before ``mentions``.

Restart safety comes from the ingest log (a file whose row is published is skipped when unchanged)
and from stored ``article_id``s (a record read again after a crash is dropped), not from runner
checkpoints: the local runner has none.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam import pvalue
from apache_beam.coders import PickleCoder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from pipeline import state
from transforms import near_dup, sinks
from transforms.dates import DateSettings, NormaliseDateFn
from transforms.dedup import OutcomeCounters, canonical_order
from transforms.entities import ERRORS as NER_ERRORS
from transforms.entities import STATS as NER_STATS
from transforms.entities import ExtractEntitiesFn
from transforms.near_dup import DedupSettings
from transforms.read import ERRORS, INGESTED, ReadArticleFileFn, ReadLimits
from transforms.schemas import TABLES, to_table

_LOG = logging.getLogger(__name__)

STAGE = "stream"
STREAM_DIR = "_stream"
STATUS_FILE = "status.json"
DEDUP_KEY = "dedup"
# Records per chunk: a file with more travels (and is published) in several chunks.
CHUNK_RECORDS = 1000
# Records of one poll that are ordered by date before dedup (`OrderArrivalsFn`): bounds memory.
ORDER_WINDOW_RECORDS = 10 * CHUNK_RECORDS
# Order of the renames within one commit: rows before what refers to them (other tables, e.g.
# mentions, come between), the ingest log last.
FIRST_TABLES = ("articles", "errors", "signatures")
LAST_TABLES = ("ingest_log", "runs")
# Names that are still being written by their producer (browsers, rsync, editors, our own temps).
TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", "~")
# A file still changing after this long is read as it is (a later change re-reads it).
MAX_SETTLE_WAIT = 60.0
# Mid-bundle (a burst of 1,000 files is one bundle) the writer publishes what it holds after each
# NER batch, when its oldest chunk has waited this long, or when it holds this many files.
COMMIT_EVERY_SECONDS = 1.0
COMMIT_EVERY_FILES = 200
_UNDATED = datetime.max.replace(tzinfo=timezone.utc)

# Local runner only (DoFns run in the driver's process): the driver sets STOPPING and takes
# COMMIT_LOCK on Ctrl-C, so it never exits halfway through a commit and no commit starts after.
COMMIT_LOCK = threading.Lock()
STOPPING = threading.Event()


def stream_dir(output: str) -> str:
    return os.path.join(output, STREAM_DIR)


# ---------------------------------------------------------------------------------------------
# The element
# ---------------------------------------------------------------------------------------------


@dataclass
class FileChunk:
    """Rows of one arrived file (or of ``CHUNK_RECORDS`` of its records), filled in stage by stage.

    Example: ``FileChunk("/in/a.txt", arrived=1764134000.2, articles=[{...}], ingested={
    "source_uri": "/in/a.txt", "fingerprint": "9f..", "size_bytes": 812}, last=True)``.
    """

    source_uri: str
    arrived: float  # when the file landed (epoch seconds: its last change), for lag figures
    articles: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Rows of other tables, by table name: "signatures" from dedup, "mentions" (and "dates", if
    # the entity stage makes them) from NER.
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ingested: dict[str, Any] | None = None  # ingest-log row, on the file's last chunk only
    last: bool = True
    skipped: bool = False  # unchanged since it was ingested: nothing to write
    flush: bool = False  # last chunk of an NER batch: the writer publishes what it holds
    already_stored: int = 0  # records dropped because their article_id is already stored


# ---------------------------------------------------------------------------------------------
# Arriving files
# ---------------------------------------------------------------------------------------------


def is_watchable(path: str, root: str, output: str) -> bool:
    """Whether a matched path is an input: not hidden, not a temp name, not under ``output``.

    >>> is_watchable("/in/a.txt", "/in", "/out"), is_watchable("/in/.a.txt.x3F", "/in", "/out")
    (True, False)
    """
    real = os.path.abspath(path)
    out = os.path.abspath(output)
    if real == out or real.startswith(out.rstrip(os.sep) + os.sep):
        return False
    rel = os.path.relpath(real, os.path.abspath(root))
    parts = rel.split(os.sep)
    if rel.startswith("..") or any(p.startswith(".") for p in parts):
        return False
    return not parts[-1].lower().endswith(TEMP_SUFFIXES)


def _changed_at(st: os.stat_result) -> float:
    # ctime moves on a rename into the folder too, so `cp -p` and `rsync -t` count as new.
    return max(st.st_mtime, st.st_ctime)


class PacePollsFn(beam.DoFn):
    """Passes matched files through; makes the folder listings ``poll_interval`` apart.

    Local runner only. The watch is a splittable DoFn that lists the folder, then asks to resume
    after the poll interval; the local runner ignores that delay and resumes at once, so without
    this step the folder is listed ~150 times a second (a fifth of a core when idle, far more for
    a large folder). Every resumption is a new bundle of the fused stage and ``start_bundle`` runs
    before the listing, so sleeping there until one interval after the previous bundle began
    restores the interval, without delaying the files a bundle carries (they are published when
    it finishes).
    """

    def __init__(self, poll_interval: float) -> None:
        self._interval = poll_interval

    def setup(self) -> None:
        self._next = 0.0

    def start_bundle(self) -> None:
        wait = self._next - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._next = time.monotonic() + self._interval

    def process(self, element: Any) -> Iterator[Any]:
        yield element


class AwaitSettledFileFn(beam.DoFn):
    """``FileMetadata`` of a matched file in; its path out once it has stopped changing.

    A file is settled when nothing changed it (size, mtime, ctime) for ``settle_seconds``; the
    wait is bounded by ``MAX_SETTLE_WAIT``, after which the file is read as it is (if it changes
    again, the watch sees a new mtime and the file is read again as a changed file). Hidden
    names, temp names (``TEMP_SUFFIXES``) and anything under ``--output`` are skipped: producers
    that write ``.name.tmp`` and rename are picked up at the rename.
    Example: ``FileMetadata("/in/a.txt", 812, ...)`` -> ``("/in/a.txt", 1764134000.2)``.
    """

    def __init__(self, root: str, output: str, settle_seconds: float) -> None:
        self._root, self._output, self._settle = root, output, settle_seconds
        self._skipped = Metrics.counter(STAGE, "skipped_temp_or_hidden")
        self._vanished = Metrics.counter(STAGE, "vanished_before_read")

    def process(self, meta: Any) -> Iterator[tuple[str, float]]:
        path = meta.path
        if not is_watchable(path, self._root, self._output):
            self._skipped.inc()
            return
        deadline = time.monotonic() + MAX_SETTLE_WAIT
        previous = None
        while True:
            try:
                st = os.stat(path)
            except FileNotFoundError:  # renamed or deleted before it settled: not an input
                self._vanished.inc()
                return
            changed = _changed_at(st)
            age = time.time() - changed
            current = (st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            # A change time in the future (clock skew on a network share) cannot age: then the
            # file must look the same across one whole settle period instead.
            if age >= self._settle or (age < 0 and current == previous):
                break
            if time.monotonic() > deadline:
                _LOG.warning("%s still changing after %.0f s; reading it as it is",
                             path, MAX_SETTLE_WAIT)
                break
            previous = current
            time.sleep(self._settle if age < 0 else max(self._settle - age, 0.01))
        yield path, changed


class ReadFileChunksFn(beam.DoFn):
    """``(path, arrived)`` in; `FileChunk` s of raw article and error rows out.

    Wraps `ReadArticleFileFn` (same rows, ids and error rows as a batch run). The ingest log of
    ``output`` is loaded in ``setup()``: a file whose path and content fingerprint are in it
    comes out as one ``skipped`` chunk; so does a file seen earlier in this stream unchanged
    (a ``touch``). A file that cannot be opened gets an error row and an ingest-log row with
    the fingerprint ``unreadable:<size>:<mtime_ns>``, so a restart does not report it twice (a
    batch run, whose fingerprints never equal that, tries it again).
    """

    def __init__(self, limits: ReadLimits, settings: DateSettings, output: str,
                 chunk_records: int = CHUNK_RECORDS) -> None:
        self._read = ReadArticleFileFn(limits, settings)
        self._output = output
        self._chunk = chunk_records
        self._skipped = Metrics.counter(STAGE, "files_already_ingested")

    def setup(self) -> None:
        self._known = dict(state.load_state(self._output).known_files)

    def process(self, element: tuple[str, float]) -> Iterator[FileChunk]:
        path, arrived = element
        try:
            st = os.stat(path)
        except OSError:
            st = None  # gone since it settled
        if st is not None:
            yield from self._chunks(path, arrived, st)

    def _chunks(self, path: str, arrived: float, st: os.stat_result) -> Iterator[FileChunk]:
        unreadable = f"unreadable:{st.st_size}:{st.st_mtime_ns}"
        if self._known.get(path) == unreadable:
            self._skipped.inc()
            yield FileChunk(path, arrived, skipped=True)
            return
        chunk = FileChunk(path, arrived, last=False)
        read_anything = False
        for out in self._read.process(path, self._known):
            read_anything = True
            if isinstance(out, pvalue.TaggedOutput) and out.tag == INGESTED:
                chunk.ingested = out.value
                continue
            if isinstance(out, pvalue.TaggedOutput) and out.tag == ERRORS:
                chunk.errors.append(out.value)
            else:
                chunk.articles.append(out)
            if len(chunk.articles) + len(chunk.errors) >= self._chunk:
                ingested, chunk.ingested = chunk.ingested, None
                yield chunk
                chunk = FileChunk(path, arrived, last=False, ingested=ingested)
        if not read_anything:  # the fingerprint matches the ingest log
            self._skipped.inc()
            yield FileChunk(path, arrived, skipped=True)
            return
        if chunk.ingested is None:  # could not even be fingerprinted
            chunk.ingested = {"source_uri": path, "fingerprint": unreadable,
                              "size_bytes": st.st_size}
        self._known[path] = chunk.ingested["fingerprint"]
        chunk.last = True
        yield chunk


class NormaliseChunkDatesFn(beam.DoFn):
    """`FileChunk` in; the same chunk out, each article dated by `NormaliseDateFn`."""

    def __init__(self, settings: DateSettings) -> None:
        self._dates = NormaliseDateFn(settings)

    def setup(self) -> None:
        self._dates.setup()

    def process(self, chunk: FileChunk) -> Iterator[FileChunk]:
        chunk.articles = [next(iter(self._dates.process(row))) for row in chunk.articles]
        yield chunk


def _earliest(chunk: FileChunk) -> tuple[datetime, str]:
    return min((canonical_order(row) for row in chunk.articles), default=(_UNDATED, ""))


class OrderArrivalsFn(beam.DoFn):
    """`FileChunk` s in; the same chunks out at the end of the bundle, earliest story first.

    Files listed by one poll arrived together: ordering them by their earliest ``published_at``
    (then path) makes dedup pick the earliest story as canonical, as a batch run would, and
    makes the outcome independent of the order in which the folder was listed. Chunks of one
    file keep their order (the last one carries the ingest-log row). At most
    ``ORDER_WINDOW_RECORDS`` records are held: a bigger poll is ordered in windows of that size.
    """

    def start_bundle(self) -> None:
        self._held: list[tuple[FileChunk, Any]] = []
        self._records = 0

    def process(self, chunk: FileChunk, timestamp=beam.DoFn.TimestampParam) -> Iterator[FileChunk]:
        self._held.append((chunk, timestamp))
        self._records += len(chunk.articles) + len(chunk.errors)
        if self._records >= ORDER_WINDOW_RECORDS:
            yield from (chunk for chunk, _ in self._release())

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for chunk, timestamp in self._release():
            yield WindowedValue(chunk, timestamp, [GlobalWindow()])

    def _release(self) -> list[tuple[FileChunk, Any]]:
        held, self._held, self._records = self._held, [], 0
        first: dict[str, tuple[datetime, str]] = {}
        for chunk, _ in held:
            key = _earliest(chunk)
            if chunk.source_uri not in first or key < first[chunk.source_uri]:
                first[chunk.source_uri] = key
        order = sorted(range(len(held)),
                       key=lambda i: (first[held[i][0].source_uri], held[i][0].source_uri, i))
        return [held[i] for i in order]


# ---------------------------------------------------------------------------------------------
# Dedup against stored and earlier-in-stream articles
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decided:
    """What dedup needs to remember of one article (stored or streamed); never its body."""

    article_id: str
    content_hash: str
    duplicate_of: str | None
    cluster_id: str
    match_kind: str | None
    similarity: float | None
    published_at: datetime | None


class DedupIndex:
    """Exact and near-duplicate index over decided articles; `decide` marks a new row.

    - exact: content hash -> the article that owns that body (a canonical one if any);
    - near: LSH band key -> canonical articles, with their MinHash signatures. Only canonical
      articles are indexed (as the batch run stores signatures of canonical articles only), so a
      near duplicate always points at a canonical article, never at another duplicate.

    Decided articles are never re-decided: a new row that matches one becomes its duplicate,
    whatever its date. A bucket holding ``max_bucket`` articles takes no more (boilerplate, not
    one story; real duplicates still meet in their other bands).

    >>> index = DedupIndex(DedupSettings())
    >>> index.decide({"article_id": "a", "content_hash": "h", "body": "x"})["duplicate_of"]
    >>> index.decide({"article_id": "b", "content_hash": "h", "body": "x"})["duplicate_of"]
    'a'
    """

    def __init__(self, settings: DedupSettings) -> None:
        self.settings = settings
        self.ids: set[str] = set()
        self.owners: dict[str, Decided] = {}
        self.sigs: dict[str, tuple[bytes, Decided]] = {}
        self.bands: dict[bytes, list[str]] = {}
        self.full_buckets = 0

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, decided: Decided, sig: bytes | None = None) -> None:
        """Remembers a decided article (idempotent); ``sig`` only for a canonical one."""
        if decided.article_id in self.ids:
            return
        self.ids.add(decided.article_id)
        owner = self.owners.get(decided.content_hash)
        if owner is None or (owner.duplicate_of is not None and decided.duplicate_of is None):
            self.owners[decided.content_hash] = decided
        if sig is not None and decided.duplicate_of is None:
            self._index_signature(decided, sig)

    def add_signature(self, decided: Decided, sig: bytes) -> None:
        """A stored canonical article's signature (its row may be loaded before or after)."""
        if decided.article_id not in self.sigs:
            self._index_signature(decided, sig)

    def _index_signature(self, decided: Decided, sig: bytes) -> None:
        self.sigs[decided.article_id] = (sig, decided)
        for band in near_dup.band_keys(sig, self.settings):
            members = self.bands.setdefault(band, [])
            if len(members) < self.settings.max_bucket:
                members.append(decided.article_id)
            else:
                self.full_buckets += 1

    def decide(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """``row`` with ``duplicate_of, cluster_id, match_kind, similarity`` set, or None when its
        ``article_id`` is already decided (the same record read again). Also remembers it; a new
        canonical row's SIGNATURES row comes out under the private key ``_signature``."""
        article_id = row["article_id"]
        if article_id in self.ids:
            return None
        s = self.settings
        sig = None
        owner = self.owners.get(row["content_hash"])
        if owner is not None and owner.duplicate_of is None:
            outcome = (owner.article_id, owner.cluster_id, "exact", 1.0)
        elif owner is not None:  # only duplicates carry this body: follow them to the canonical
            outcome = (owner.duplicate_of, owner.cluster_id, owner.match_kind, owner.similarity)
        else:
            if s.near_enabled:
                sig = near_dup.signature(row["body"], s)
            outcome = self._near(sig) if sig is not None else None
            if outcome is None:
                outcome = (None, article_id, None, None)
        duplicate_of, cluster_id, kind, similarity = outcome
        out = {**row, "duplicate_of": duplicate_of, "cluster_id": cluster_id,
               "match_kind": kind, "similarity": similarity}
        self.add(decided_of(out), sig if duplicate_of is None else None)
        if duplicate_of is None and sig is not None:
            out["_signature"] = {
                "article_id": article_id, "cluster_id": article_id,
                "published_at": row.get("published_at"), "content_hash": row["content_hash"],
                "scheme": s.scheme, "minhash": sig}
        return out

    def _near(self, sig: bytes) -> tuple[str, str, str, float] | None:
        candidates: set[str] = set()
        for band in near_dup.band_keys(sig, self.settings):
            candidates.update(self.bands.get(band, ()))
        best = None
        for cid in candidates:
            other, decided = self.sigs[cid]
            similarity = near_dup.jaccard(sig, other)
            if similarity < self.settings.near_threshold:
                continue
            key = near_dup.order_key(cid, decided.published_at, stored=True)
            if best is None or key < best[0]:
                best = (key, decided, similarity)
        if best is None:
            return None
        _, decided, similarity = best
        return decided.article_id, decided.cluster_id, "near", similarity


def decided_of(row: dict[str, Any]) -> Decided:
    return Decided(row["article_id"], row["content_hash"], row.get("duplicate_of"),
                   row.get("cluster_id") or row["article_id"], row.get("match_kind"),
                   row.get("similarity"), row.get("published_at"))


STORED_ARTICLE_COLUMNS = ("article_id", "content_hash", "published_at", "cluster_id",
                          "duplicate_of", "match_kind", "similarity")


def load_dedup_index(output: str, settings: DedupSettings) -> DedupIndex:
    """A `DedupIndex` of every article and signature stored in ``output`` (keys, never bodies).

    Signatures of another ``scheme`` are ignored (those articles are matched exactly only).
    """
    index = DedupIndex(settings)
    for path in state.table_files(output, "articles"):
        for row in pq.read_table(path, columns=list(STORED_ARTICLE_COLUMNS)).to_pylist():
            index.add(decided_of(row))
    if settings.near_enabled:
        for path in state.table_files(output, "signatures"):
            for row in pq.read_table(path).to_pylist():
                if row["scheme"] == settings.scheme:
                    index.add_signature(decided_of(row), row["minhash"])
    return index


class DeduplicateStreamFn(beam.DoFn):
    """``("dedup", FileChunk)`` in; the chunk out with its articles marked, new canonical ones'
    SIGNATURES rows in ``signatures``, and re-read records dropped (``already_stored``).

    Stateful: every chunk comes under one key, so decisions are made one at a time in arrival
    order (within a chunk: earliest ``published_at`` first, as a batch run picks). The Beam state
    (``decided``: one compact `Decided` per streamed article, ``count``) is the record of what
    this stream decided; runners with checkpoints (Dataflow, Flink) restore it. The index itself
    lives in the DoFn instance: built in ``setup()`` from what ``OUT`` stores, then kept in step;
    if ``count`` says the state moved on without this instance (the key moved to another worker
    and back), it is rebuilt from ``OUT`` plus the state.
    Example: chunk of ``b.txt`` whose body equals stored ``a`` -> its row with
    ``duplicate_of="a", match_kind="exact", similarity=1.0``.
    """

    DECIDED = BagStateSpec("decided", PickleCoder())
    COUNT = ReadModifyWriteStateSpec("count", VarIntCoder())

    def __init__(self, output: str, settings: DedupSettings = DedupSettings()) -> None:
        self._output = output
        self._settings = settings
        self._total = Metrics.counter("dedup", "total")
        self._outcomes = OutcomeCounters()
        self._already = Metrics.counter("dedup", "dropped_already_stored")

    def setup(self) -> None:
        self._index = load_dedup_index(self._output, self._settings)
        self._in_step_at = 0

    def process(self, element: tuple[str, FileChunk],
                decided=beam.DoFn.StateParam(DECIDED),
                count=beam.DoFn.StateParam(COUNT)) -> Iterator[FileChunk]:
        _, chunk = element
        seen = count.read() or 0
        if seen != self._in_step_at:
            self._index = load_dedup_index(self._output, self._settings)
            for entry, sig in decided.read():
                self._index.add(entry, sig)
        rows = []
        for row in sorted(chunk.articles, key=canonical_order):
            self._total.inc()
            out = self._index.decide(row)
            if out is None:
                self._already.inc()
                chunk.already_stored += 1
                continue
            signature = out.pop("_signature", None)
            if signature is not None:
                chunk.tables.setdefault("signatures", []).append(signature)
            decided.add((decided_of(out), signature and signature["minhash"]))
            self._outcomes.count(out)
            rows.append(out)
        chunk.articles = rows
        self._in_step_at = seen + len(rows)
        count.write(self._in_step_at)
        yield chunk


# ---------------------------------------------------------------------------------------------
# Entities
# ---------------------------------------------------------------------------------------------


class ExtractChunkEntitiesFn(beam.DoFn):
    """`FileChunk` in; the same chunk out with ``mentions``, ``dates`` and NER error rows.

    Wraps `ExtractEntitiesFn` (model loaded once in ``setup()``; with ``date_settings``, DATE and
    TIME spans become ``dates`` rows, as in a batch run). Chunks wait in the DoFn until
    they hold ``batch_size`` canonical articles or the bundle ends, so a burst of small files is
    parsed in ``nlp.pipe`` batches while a single file goes through at the end of its bundle.
    Duplicates are not parsed. Entity totals are not computed here: see the ``entity_totals``
    view (``sql/views.sql``) and the next batch run, which rewrites ``entities``.
    """

    def __init__(self, model: str, labels: Iterable[str], batch_size: int = 64,
                 date_settings: DateSettings | None = None) -> None:
        self._ner = ExtractEntitiesFn(model, labels, batch_size, date_settings)
        self._batch_size = batch_size

    def setup(self) -> None:
        self._ner.setup()

    def start_bundle(self) -> None:
        self._pending: list[tuple[FileChunk, Any]] = []
        self._waiting = 0

    def process(self, chunk: FileChunk,
                timestamp=beam.DoFn.TimestampParam) -> Iterator[FileChunk]:
        self._pending.append((chunk, timestamp))
        self._waiting += sum(1 for row in chunk.articles if row["duplicate_of"] is None)
        if self._waiting >= self._batch_size:
            yield from (chunk for chunk, _ in self._parse_pending())

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for chunk, timestamp in self._parse_pending():
            yield WindowedValue(chunk, timestamp, [GlobalWindow()])

    def _parse_pending(self) -> list[tuple[FileChunk, Any]]:
        pending, self._pending, self._waiting = self._pending, [], 0
        if pending:
            pending[-1][0].flush = True
        batch, where = [], {}
        for chunk, _ in pending:
            for row in chunk.articles:
                if row["duplicate_of"] is None:
                    batch.append(row)
                    where[row["article_id"]] = chunk
                    where[(row["source_uri"], row["record_index"])] = chunk
        for start in range(0, len(batch), self._batch_size):
            for out in self._ner.process(batch[start:start + self._batch_size]):
                if not isinstance(out, pvalue.TaggedOutput):
                    where[out["article_id"]].tables.setdefault("mentions", []).append(out)
                elif out.tag == NER_ERRORS:
                    row = out.value
                    where[(row["source_uri"], row["record_index"])].errors.append(row)
                elif out.tag in TABLES:  # rows of another table, keyed by article
                    where[out.value["article_id"]].tables.setdefault(out.tag, []).append(
                        out.value)
                elif out.tag != NER_STATS:
                    raise ValueError(f"unexpected NER output {out.tag!r}")
        return pending


# ---------------------------------------------------------------------------------------------
# Publication
# ---------------------------------------------------------------------------------------------


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_order(tables: Iterable[str]) -> list[str]:
    """Tables in the order their files are renamed into place.

    >>> publish_order(["ingest_log", "mentions", "articles"])
    ['articles', 'mentions', 'ingest_log']
    """

    def rank(table: str) -> tuple[int, int, str]:
        if table in FIRST_TABLES:
            return (0, FIRST_TABLES.index(table), table)
        if table in LAST_TABLES:
            return (2, LAST_TABLES.index(table), table)
        return (1, 0, table)

    return sorted(tables, key=rank)


def commit_tables(output: str, commit_id: str, tables: dict[str, list[dict[str, Any]]]) -> int:
    """Publishes rows of several tables at once; returns the number of files published.

    Each non-empty table is written (schema from ``schemas``, zstd, fsync) as
    ``OUT/_stream/staging/<commit_id>/<table>.parquet``; then a marker listing the renames is
    written atomically; then the files are renamed to ``OUT/<table>/<commit_id>.parquet``:
    ``FIRST_TABLES`` first, ``LAST_TABLES`` last. A crash before the marker leaves only the
    staging folder (deleted by `recover_stream`); after it, `recover_stream` finishes them.
    """
    stage = os.path.join(stream_dir(output), "staging", commit_id)
    os.makedirs(stage, exist_ok=True)
    moves = []
    for table in publish_order(tables):
        rows = tables[table]
        if not rows:
            continue
        src = os.path.join(stage, f"{table}.parquet")
        pq.write_table(to_table(rows, TABLES[table]), src, compression="zstd")
        _fsync(src)
        dest = os.path.join(output, table, f"{commit_id}.parquet")
        moves.append((os.path.relpath(src, output), os.path.relpath(dest, output)))
    sinks.write_commit_marker(stage, {"commit_id": commit_id, "moves": moves})
    return _apply_moves(output, stage, moves)


def _apply_moves(output: str, stage: str, moves: list[list[str]] | list[tuple[str, str]]) -> int:
    done = sinks.move_files(sinks.committed_moves(output, moves))
    shutil.rmtree(stage, ignore_errors=True)
    return done


def recover_stream(output: str) -> tuple[list[str], list[str]]:
    """Finishes commits that have a marker, deletes those without; ``(finished, discarded)``.

    Called by the watcher before it reads anything. It touches only ``OUT/_stream``: batch runs'
    ``OUT/_staging`` is theirs (`sinks.recover`).
    """
    return sinks.recover_commits(os.path.join(stream_dir(output), "staging"),
                                 lambda stage, moves: _apply_moves(output, stage, moves))


def write_status(output: str, status: dict[str, Any]) -> None:
    """``OUT/_stream/status.json``, replaced atomically (the driver and operators read it)."""
    path = os.path.join(stream_dir(output), STATUS_FILE)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(status, f)
    os.replace(path + ".tmp", path)


def read_status(output: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(stream_dir(output), STATUS_FILE), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


COUNTERS = ("files", "skipped", "articles", "duplicates", "already_stored", "errors",
            "mentions", "commits")


class PublishChunksFn(beam.DoFn):
    """`FileChunk` s in; Parquet files published in ``OUT/<table>/`` (`commit_tables`), nothing out.

    Chunks are held until the bundle ends, until a chunk ends an NER batch (``flush``), until the
    oldest has waited ``COMMIT_EVERY_SECONDS`` or until ``COMMIT_EVERY_FILES`` files are held (a
    burst is one bundle), and then published in one commit named ``<session_id>-<seq>``: whole
    chunks only, so a file of up to ``CHUNK_RECORDS`` records appears at once, and its ingest-log
    row is published with (never before) its rows. After each commit the session's counters go
    to ``OUT/_stream/status.json`` (`read_status`), with ``state`` "watching" from the first
    bundle on: by then every DoFn of the stage has been set up (model loaded, state read).
    """

    def __init__(self, output: str, session_id: str) -> None:
        self._output = output
        self._session = session_id
        self._files = Metrics.counter(STAGE, "files_published")
        self._commits = Metrics.counter(STAGE, "commits")

    def setup(self) -> None:
        self._seq = 0
        self._held: list[FileChunk] = []
        self._since = 0.0
        self._lags: list[float] = []
        self._status: dict[str, Any] = {
            "session_id": self._session, "pid": os.getpid(), "state": "watching",
            **{name: 0 for name in COUNTERS}, "last_file": None, "last_lag_s": None,
            "lag_p50_s": None, "updated_at": None}
        self._dirty = True

    def process(self, chunk: FileChunk) -> None:
        if chunk.skipped:
            self._status["skipped"] += 1
            self._dirty = True
            return
        if not self._held:
            self._since = time.monotonic()
        self._held.append(chunk)
        files = sum(1 for c in self._held if c.last)
        if (chunk.flush or files >= COMMIT_EVERY_FILES
                or time.monotonic() - self._since >= COMMIT_EVERY_SECONDS):
            self._commit()

    def finish_bundle(self) -> None:
        if self._held:
            self._commit()
        if self._dirty:
            self._status["updated_at"] = time.time()
            write_status(self._output, self._status)
            self._dirty = False

    def _commit(self) -> None:
        held, self._held = self._held, []
        tables: dict[str, list[dict[str, Any]]] = {"articles": [], "errors": [], "ingest_log": []}
        for chunk in held:
            tables["articles"] += chunk.articles
            tables["errors"] += chunk.errors
            for table, rows in chunk.tables.items():
                tables.setdefault(table, []).extend(rows)
            if chunk.last and chunk.ingested is not None:
                tables["ingest_log"].append({**chunk.ingested, "run_id": self._session})
        with COMMIT_LOCK:
            if STOPPING.is_set():  # the driver is exiting: these files are read again next time
                return
            self._seq += 1
            commit_tables(self._output, f"{self._session}-{self._seq:06d}", tables)
        now = time.time()
        s = self._status
        for chunk in held:
            s["articles"] += len(chunk.articles)
            s["duplicates"] += sum(1 for r in chunk.articles if r["duplicate_of"] is not None)
            s["already_stored"] += chunk.already_stored
            s["errors"] += len(chunk.errors)
            s["mentions"] += len(chunk.tables.get("mentions", ()))
            if chunk.last:
                s["files"] += 1
                self._lags = (self._lags + [now - chunk.arrived])[-100:]
                s["last_file"] = chunk.source_uri
        s["commits"] += 1
        if self._lags:
            s["last_lag_s"] = round(self._lags[-1], 3)
            s["lag_p50_s"] = round(sorted(self._lags)[len(self._lags) // 2], 3)
        self._files.inc(sum(1 for c in held if c.last))
        self._commits.inc()
        self._dirty = True
