"""Exact dedup: canonical = earliest published_at, then smallest id; all rows kept."""

from __future__ import annotations

from datetime import datetime, timezone

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from tests.beam_testing import local_pipeline
from transforms import ids
from transforms.dedup import DeduplicateArticles


def _row(article_id: str, body: str, day: int | None) -> dict:
    published = None if day is None else datetime(2025, 7, day, tzinfo=timezone.utc)
    return {"article_id": article_id, "body": body, "content_hash": ids.content_hash(body),
            "published_at": published}


def test_content_hash_ignores_case_spacing_and_unicode_forms():
    assert ids.content_hash("Café  News\n") == ids.content_hash("CAFÉ news")
    assert ids.content_hash("ﬁne") == ids.content_hash("fine")  # NFKC ligature
    assert ids.content_hash("a b") != ids.content_hash("a c")


def test_earliest_is_canonical_and_duplicates_point_to_it():
    rows = [_row("b", "Same story.", 5), _row("a", "same   STORY.", 6), _row("c", "Same story.",
            None), _row("d", "Other story.", 1), _row("e", "Tie.", 2), _row("f", "tie.", 2)]
    with local_pipeline() as p:
        out = p | beam.Create(rows) | DeduplicateArticles()
        marks = out["all"] | "Marks" >> beam.Map(
            lambda r: (r["article_id"], r["duplicate_of"], r["cluster_id"], r["match_kind"]))
        assert_that(marks, equal_to([
            ("b", None, "b", None), ("a", "b", "b", "exact"), ("c", "b", "b", "exact"),
            ("d", None, "d", None), ("e", None, "e", None), ("f", "e", "e", "exact"),
        ]), label="all")
        canonical = out["canonical"] | "Ids" >> beam.Map(lambda r: r["article_id"])
        assert_that(canonical, equal_to(["b", "d", "e"]), label="canonical")
