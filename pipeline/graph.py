"""Wiring only: read -> dates -> dedup -> entities -> write. Reads like the pipeline diagram."""

from __future__ import annotations

import apache_beam as beam

from pipeline.options import NewsOptions
from transforms.dates import NormaliseDates
from transforms.dedup import DeduplicateArticles
from transforms.entities import ExtractEntities
from transforms.read import ReadArticles
from transforms.sinks import WriteTable


def build(p: beam.Pipeline, options: NewsOptions, staging: str, run_id: str) -> None:
    """Adds the whole pipeline to ``p``; every table is written under ``staging``."""
    settings = options.date_settings()

    read = (
        p
        | "Inputs" >> beam.Create(options.input)
        | "ReadArticles" >> ReadArticles(options.read_limits(), settings)
    )
    dated = read["articles"] | "NormaliseDates" >> NormaliseDates(settings)
    deduped = dated | "Deduplicate" >> DeduplicateArticles()
    entities = deduped["canonical"] | "ExtractEntities" >> ExtractEntities(
        options.spacy_model, options.labels(), options.ner_batch_size)
    errors = (read["errors"], entities["errors"]) | "AllErrors" >> beam.Flatten()
    ingested = read["ingested"] | "StampRun" >> beam.Map(lambda row: {**row, "run_id": run_id})

    tables = {
        "articles": deduped["all"],
        "mentions": entities["mentions"],
        "entities": entities["entities"],
        "errors": errors,
        "ingest_log": ingested,
    }
    for name, rows in tables.items():
        _ = rows | f"Write{name.title().replace('_', '')}" >> WriteTable(name, staging)
