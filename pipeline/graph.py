"""Wiring only: read -> dates -> dedup -> entities -> write. Reads like the pipeline diagram."""

from __future__ import annotations

import apache_beam as beam

from pipeline.options import NewsOptions
from pipeline.state import ARTICLE_KEYS, STORED_MENTION_COLUMNS, StoredState
from transforms.dates import NormaliseDates
from transforms.dedup import DeduplicateArticles
from transforms.entities import ExtractEntities, PrefetchModelFn
from transforms.read import ReadArticles
from transforms.sinks import WriteFileList, WriteTable


def build(
    p: beam.Pipeline, options: NewsOptions, staging: str, run_id: str, state: StoredState
) -> None:
    """Adds the whole pipeline to ``p``; every table is written under ``staging``.

    ``state`` is what earlier runs into the same output left: files already ingested are skipped,
    new articles are deduplicated against stored ones, and entity totals cover every run.
    """
    settings = options.date_settings()
    known = beam.pvalue.AsSingleton(p | "KnownFiles" >> beam.Create([state.known_files]))

    read = (
        p
        | "Inputs" >> beam.Create(options.input)
        | "ReadArticles" >> ReadArticles(
            options.read_limits(), settings, known, exclude_dir=options.output)
    )
    # Each worker loads the spaCy model in the background while files are read and deduplicated.
    articles = read["articles"] | "PrefetchModel" >> beam.ParDo(
        PrefetchModelFn(options.spacy_model))
    dated = articles | "NormaliseDates" >> NormaliseDates(settings)
    stored = stored_tables(p, state)
    # A first run has nothing stored to match against: dedup builds none of its stored-side steps.
    deduped = dated | "Deduplicate" >> DeduplicateArticles(
        options.dedup_settings(), stored if state.articles else None)
    entities = deduped["canonical"] | "ExtractEntities" >> ExtractEntities(
        options.spacy_model, options.labels(), options.ner_batch_size,
        stored=stored if state.mentions else None,  # entity totals also cover stored mentions
        date_settings=settings)
    errors = (read["errors"], entities["errors"]) | "AllErrors" >> beam.Flatten()
    ingested = read["ingested"] | "StampRun" >> beam.Map(lambda row: {**row, "run_id": run_id})

    tables = {
        "articles": deduped["all"],
        "mentions": entities["mentions"],
        "entities": entities["entities"],
        "dates": entities["dates"],
        "errors": errors,
        "ingest_log": ingested,
        "signatures": deduped["signatures"],
    }
    written = [rows | f"Write{name.title().replace('_', '')}" >> WriteTable(name, staging)
               for name, rows in tables.items()]
    _ = written | "AllWritten" >> beam.Flatten() | "ListFiles" >> WriteFileList(staging, tables)


def stored_tables(p: beam.Pipeline, state: StoredState) -> dict[str, beam.PCollection] | None:
    """What earlier runs published, as PCollections; None on a first run (nothing to read)."""
    if not (state.articles or state.mentions):
        return None
    return {
        "articles": read_stored(p, "StoredArticles", state.articles, list(ARTICLE_KEYS)),
        "signatures": read_stored(p, "StoredSignatures", state.signatures),
        "mentions": read_stored(p, "StoredMentions", state.mentions, list(STORED_MENTION_COLUMNS)),
    }


def read_stored(p: beam.Pipeline, label: str, files: list[str], columns=None):
    """Rows of published Parquet files of earlier runs (an empty PCollection on a first run)."""
    if not files:
        return p | label >> beam.Create([])
    return (
        p
        | f"{label}Files" >> beam.Create(files)
        | label >> beam.io.ReadAllFromParquet(columns=columns)
    )
