"""Deduplication: article rows in, the same rows out with ``duplicate_of`` / ``cluster_id`` set.

Runs after dates (the canonical story is the earliest published one) and before NER (duplicates
must not inflate entity counts). Exact duplicates share ``content_hash`` (NFKC, case-folded,
whitespace-collapsed body); all members of a group are kept in ``articles``, and the canonical one
is the earliest ``published_at`` (undated last), then the smallest ``article_id``.

Near-duplicates plug in after ``MarkExactDuplicates``: they only ever see canonical rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

STAGE = "dedup"
_LATEST = datetime.max.replace(tzinfo=timezone.utc)


def canonical_order(row: dict[str, Any]) -> tuple[datetime, str]:
    """Sort key: earliest ``published_at`` first (undated last), then smallest ``article_id``."""
    return (row.get("published_at") or _LATEST, row["article_id"])


def is_canonical(row: dict[str, Any]) -> bool:
    """True for rows that go on to NER (not a duplicate of another article)."""
    return row.get("duplicate_of") is None


class MarkExactGroupFn(beam.DoFn):
    """``(content_hash, [rows])`` in, each row out with its dedup columns filled.

    Example: two rows with the same body -> the earlier one ``duplicate_of=None``, the other
    ``duplicate_of=<earlier id>, match_kind="exact", similarity=1.0``; both share ``cluster_id``.
    """

    def __init__(self) -> None:
        self._total = Metrics.counter(STAGE, "total")
        self._kept = Metrics.counter(STAGE, "kept")
        self._dropped = Metrics.counter(STAGE, "dropped_exact_duplicate")

    def process(self, element: tuple[str, Iterable[dict[str, Any]]]):
        _, rows = element
        ordered = sorted(rows, key=canonical_order)
        canonical = ordered[0]["article_id"]
        for i, row in enumerate(ordered):
            self._total.inc()
            out = dict(row)
            out["cluster_id"] = canonical
            if i == 0:
                self._kept.inc()
                out.update(duplicate_of=None, match_kind=None, similarity=None)
            else:
                self._dropped.inc()
                out.update(duplicate_of=canonical, match_kind="exact", similarity=1.0)
            yield out


class MarkExactDuplicates(beam.PTransform):
    """Dated article rows in, rows with ``duplicate_of``, ``cluster_id``, ``match_kind`` out."""

    def expand(self, articles):
        return (
            articles
            | "KeyByContentHash" >> beam.Map(lambda row: (row["content_hash"], row))
            | "GroupByContentHash" >> beam.GroupByKey()
            | "MarkExactGroups" >> beam.ParDo(MarkExactGroupFn())
        )


class DeduplicateArticles(beam.PTransform):
    """Dated article rows in; returns ``{"all": every row, "canonical": rows to send to NER}``."""

    def expand(self, articles):
        marked = articles | "ExactDuplicates" >> MarkExactDuplicates()
        canonical = marked | "KeepCanonical" >> beam.Filter(is_canonical)
        return {"all": marked, "canonical": canonical}
