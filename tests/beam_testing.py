"""Test helpers: a TestPipeline on the local FnApiRunner (no Prism download attempt)."""

from apache_beam.testing.test_pipeline import TestPipeline


def local_pipeline() -> TestPipeline:
    """``with local_pipeline() as p:`` runs the graph on Beam's FnApiRunner when the block ends."""
    return TestPipeline(runner="FnApiRunner")
