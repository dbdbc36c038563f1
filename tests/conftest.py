"""Shared fixtures: a fast spaCy pipeline (blank English + entity_ruler) saved to disk."""

from __future__ import annotations

import pytest

RULER_PATTERNS = [
    {"label": "GPE", "pattern": "Pakistan"},
    {"label": "GPE", "pattern": "India"},
    {"label": "GPE", "pattern": [{"LOWER": "the", "OP": "?"}, {"TEXT": "US"}]},
    {"label": "PERSON", "pattern": "Donald Trump"},
    {"label": "PERSON", "pattern": "David Allvin"},
    {"label": "ORG", "pattern": "Pentagon"},
    {"label": "ORG", "pattern": "Reuters"},
    {"label": "DATE", "pattern": "Wednesday"},
]


@pytest.fixture(scope="session")
def ruler_model(tmp_path_factory) -> str:
    """Path of a blank English pipeline whose only component is an entity_ruler."""
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(RULER_PATTERNS)
    path = tmp_path_factory.mktemp("models") / "ruler_en"
    nlp.to_disk(path)
    return str(path)
