"""PTransforms and DoFns of the news ingestion pipeline, one module per stage.

read -> dates -> dedup -> entities -> sinks; `schemas` defines every table once.
"""
