"""Entities: span trimming, name normalisation, NER with batches, totals per entity."""

from __future__ import annotations

from datetime import datetime, timezone

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from tests.beam_testing import local_pipeline
from transforms.entities import ExtractEntities, entity_id, normalise_name, trim_span


@pytest.mark.parametrize("text, expected", [
    ("Pentagon", "Pentagon"), ("the Pentagon's", "Pentagon"), ("(Reuters)", "Reuters"),
    ("U.S.", "U.S."), ("Paris,", "Paris"), ("Jones'", "Jones"), ("The Hague", "Hague"),
])
def test_trim_span(text, expected):
    start, end = trim_span(text)
    assert text[start:end] == expected


def test_normalised_names_share_an_id():
    assert normalise_name("the  United States'") == "united states"
    assert entity_id("GPE", "Pakistan") == entity_id("GPE", "Pakistan's")
    assert entity_id("GPE", "Pakistan") != entity_id("NORP", "Pakistan")


def test_mentions_and_entity_totals(ruler_model):
    day = datetime(2025, 7, 4, tzinfo=timezone.utc)
    later = datetime(2025, 7, 9, tzinfo=timezone.utc)
    articles = [
        {"article_id": "a1", "source_uri": "f", "record_index": 0, "published_at": day,
         "body": "Donald Trump met Pakistan's envoy. Pakistan and India spoke on Wednesday."},
        {"article_id": "a2", "source_uri": "f", "record_index": 1, "published_at": later,
         "body": "David Allvin visited the Pentagon, said Pakistan."},
    ]
    with local_pipeline() as p:
        out = p | beam.Create(articles) | ExtractEntities(ruler_model, ["PERSON", "GPE", "ORG"])
        spans = out["mentions"] | "Spans" >> beam.Map(
            lambda m: (m["article_id"], m["text"], m["label"], m["start_char"], m["end_char"]))
        assert_that(spans, equal_to([
            ("a1", "Donald Trump", "PERSON", 0, 12), ("a1", "Pakistan", "GPE", 17, 25),
            ("a1", "Pakistan", "GPE", 35, 43), ("a1", "India", "GPE", 48, 53),
            ("a2", "David Allvin", "PERSON", 0, 12), ("a2", "Pentagon", "ORG", 25, 33),
            ("a2", "Pakistan", "GPE", 40, 48),
        ]), label="mentions")
        totals = out["entities"] | "Totals" >> beam.Map(
            lambda e: (e["name"], e["mention_count"], e["article_count"], e["first_seen"],
                       e["last_seen"]))
        assert_that(totals, equal_to([
            ("Donald Trump", 1, 1, day, day), ("Pakistan", 3, 2, day, later),
            ("India", 1, 1, day, day), ("David Allvin", 1, 1, later, later),
            ("Pentagon", 1, 1, later, later),
        ]), label="entities")


def test_entity_ids_follow_the_canonical_name(ruler_model):
    day = datetime(2025, 7, 4, tzinfo=timezone.utc)
    articles = [{"article_id": "a1", "source_uri": "f", "record_index": 0, "published_at": day,
                 "body": "Donald Trump met the US envoy, and Trump said Trump would help."}]
    with local_pipeline() as p:
        out = p | beam.Create(articles) | ExtractEntities(ruler_model, ["PERSON", "GPE"])
        ids = out["mentions"] | "Ids" >> beam.Map(lambda m: (m["text"], m["entity_id"]))
        trump = entity_id("PERSON", "Donald Trump")
        assert_that(ids, equal_to([
            ("Donald Trump", trump), ("US", entity_id("GPE", "United States")),
            ("Trump", trump), ("Trump", trump),
        ]), label="mentions")
        # The name is the canonical one when the text uses it, even if a short form is commoner.
        names = out["entities"] | "Names" >> beam.Map(
            lambda e: (e["name"], e["mention_count"], sorted(e["aliases"])))
        assert_that(names, equal_to([
            ("Donald Trump", 3, ["Donald Trump", "Trump"]), ("US", 1, ["US"]),
        ]), label="entities")


def test_date_mentions_are_resolved_against_the_article_date(ruler_model):
    from datetime import date

    from transforms.dates import DateSettings

    body = "Pakistan and India spoke on Wednesday."
    articles = [
        {"article_id": "a1", "source_uri": "f", "record_index": 0, "body": body,
         "published_at": datetime(2025, 7, 4, 8, tzinfo=timezone.utc)},
        {"article_id": "a2", "source_uri": "f", "record_index": 1, "body": body,
         "published_at": None},
    ]
    with local_pipeline() as p:
        out = p | beam.Create(articles) | ExtractEntities(
            ruler_model, ["GPE"], date_settings=DateSettings())  # DATE not among the labels
        assert_that(out["dates"], equal_to([
            {"article_id": "a1", "start_char": 28, "end_char": 37, "text": "Wednesday",
             "resolved_start": date(2025, 7, 2), "resolved_end": date(2025, 7, 2),
             "granularity": "day", "status": "resolved"},
            {"article_id": "a2", "start_char": 28, "end_char": 37, "text": "Wednesday",
             "resolved_start": None, "resolved_end": None, "granularity": None,
             "status": "relative_without_base"},
        ]), label="dates")
        labels = out["mentions"] | "Labels" >> beam.Map(lambda m: m["label"])
        assert_that(labels, equal_to(["GPE"] * 4), label="mentions")


def test_lower_case_spans_are_not_names():
    from transforms.entities import all_lower_case

    assert all_lower_case("cts") and all_lower_case("avg")
    for name in ("iPhone", "F-16", "NATO", "北京"):
        assert not all_lower_case(name)


def test_prefetched_model_is_the_one_ner_uses(ruler_model, tmp_path, monkeypatch):
    """The prefetch step passes rows through and loads the model in the background; the NER step
    then gets that same model: one load per process, counted once by `model_loads`."""
    from transforms import entities

    log = tmp_path / "loads.log"
    monkeypatch.setenv(entities.LOAD_LOG_ENV, str(log))
    monkeypatch.setattr(entities, "_MODELS", entities.shared.Shared())  # a fresh handle
    entities.take_unreported_loads()
    prefetch = entities.PrefetchModelFn(ruler_model)
    prefetch.setup()
    assert list(prefetch.process({"x": 1})) == [{"x": 1}]
    ner = entities.ExtractEntitiesFn(ruler_model, ["PERSON"])
    ner.setup()  # waits for the background load instead of loading again
    prefetch._thread.join(timeout=60)
    assert ner._nlp is prefetch._nlp is not None
    assert log.read_text().split() == [str(entities.os.getpid())]
    assert entities.take_unreported_loads() == 1
