"""Entity resolution: span repair, coreference in an article, acronyms, cross-article aliases."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import spacy

from transforms import entity_resolution as er
from transforms.entities import NAMED_LABELS
from transforms.entity_resolution import (
    ResolvedMention,
    acronym_fits,
    alias_of,
    canonical_names,
    entity_key,
    repair_spans,
    resolve_mentions,
)

LABELS = frozenset(NAMED_LABELS)
SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_5b6004b25d51efef.txt"
_NLP = spacy.blank("en")


def make_doc(text: str, ents: list[tuple[str, str]]):
    """A tokenised doc whose entities are the given (surface, label) pairs, found left to right."""
    doc = _NLP(text)
    spans, pos = [], 0
    for surface, label in ents:
        start = text.index(surface, pos)
        span = doc.char_span(start, start + len(surface), label=label)
        assert span is not None, surface
        spans.append(span)
        pos = start + len(surface)
    doc.ents = spans
    return doc


def spans_of(doc, rules=er.RULES) -> list[tuple[str, str]]:
    return [(doc[s:e].text, label) for s, e, label in repair_spans(doc, rules)]


def resolved(doc, labels=LABELS) -> list[tuple[str, str, str]]:
    return [(m.text, m.label, m.canonical) for m in resolve_mentions(doc, labels)]


# -- span repair ------------------------------------------------------------------------------


def test_adjacent_spans_of_one_label_merge():
    doc = make_doc("Chief Zaheer Ahmed Baber Sidhu paid a visit.",
                   [("Zaheer Ahmed", "PERSON"), ("Baber Sidhu", "PERSON")])
    assert spans_of(doc, ("merge",)) == [("Zaheer Ahmed Baber Sidhu", "PERSON")]


@pytest.mark.parametrize("text, ents", [
    ("He flew to Paris, France on Monday.", [("Paris", "GPE"), ("France", "GPE")]),
    ("Polish Jews lost accounts.", [("Polish", "NORP"), ("Jews", "NORP")]),
    ("said Budapest Bank's Sandor Tolonics today.",
     [("Budapest Bank's", "ORG"), ("Sandor Tolonics", "ORG")]),
    ("Southampton 0 Aston Villa 1 in the league.",
     [("Southampton 0", "ORG"), ("Aston Villa 1", "ORG")]),
    ("Smith met\nJones later.", [("Smith", "PERSON"), ("Jones", "PERSON")]),
    ("Barack Obama Michelle said.", [("Barack Obama", "PERSON"), ("Michelle", "ORG")]),
])
def test_spans_that_only_touch_stay_apart(text, ents):
    doc = make_doc(text, ents)
    assert spans_of(doc, ("merge",)) == ents


def test_a_name_after_a_title_that_the_model_missed_becomes_a_person():
    doc = make_doc("Pakistan Army Chief Asim Munir's visit to the US last month was brief.",
                   [("Pakistan Army", "ORG"), ("US", "GPE")])
    assert spans_of(doc) == [("Pakistan Army", "ORG"), ("Asim Munir", "PERSON"), ("US", "GPE")]


def test_a_mislabelled_name_after_a_title_is_relabelled():
    doc = make_doc("The visit of Army Chief Asim Munir was brief.", [("Munir", "GPE")])
    assert spans_of(doc) == [("Asim Munir", "PERSON")]


@pytest.mark.parametrize("text, ents, expected", [
    ("On Monday Mr. Smith resigned from the board.", [("Mr. Smith", "PERSON")],
     [("Smith", "PERSON")]),
    ("Shares rose after Chief Executive Tim Cook spoke on Monday.", [],
     [("Tim Cook", "PERSON")]),
    ("Yesterday former president Barack Obama spoke in public.", [],
     [("Barack Obama", "PERSON")]),
    ("He met Prime Minister Shehbaz Sharif in the capital.", [("Prime Minister", "ORG")],
     [("Prime Minister", "ORG"), ("Shehbaz Sharif", "PERSON")]),
])
def test_the_person_excludes_the_title(text, ents, expected):
    assert spans_of(make_doc(text, ents)) == expected


@pytest.mark.parametrize("text, ents", [
    ("Shares of General Motors rose on the news.", [("General Motors", "ORG")]),
    ("The match at King Fahd Stadium was sold out.", [("King Fahd Stadium", "FAC")]),
    ("The speech of Martin Luther King Jr. was quoted.", [("Martin Luther King Jr.", "PERSON")]),
    ("Prime Minister Visits Flood Zone", []),
    ("Prince Rupert 1 3", []),
    ("The President said on Tuesday that he would go.", []),
])
def test_title_words_inside_other_names_are_left_alone(text, ents):
    assert spans_of(make_doc(text, ents)) == ents


def test_an_acronym_defined_in_the_text_becomes_a_mention_wherever_it_occurs():
    doc = make_doc("PAF jets flew, the Pakistan Air Force (PAF) said. The PAF chief spoke.",
                   [("Pakistan Air Force", "ORG")])
    got = resolved(doc)
    assert got == [("PAF", "ORG", "Pakistan Air Force"),
                   ("Pakistan Air Force", "ORG", "Pakistan Air Force"),
                   ("PAF", "ORG", "Pakistan Air Force"),
                   ("PAF", "ORG", "Pakistan Air Force")]


def test_an_acronym_takes_the_label_of_its_long_form():
    doc = make_doc("the General Agreement on Tariffs and Trade (GATT) and GATT rules.",
                   [("General Agreement on Tariffs and Trade", "LAW"), ("GATT", "ORG")])
    assert [(t, lab) for t, lab, _ in resolved(doc)] == [
        ("General Agreement on Tariffs and Trade", "LAW"), ("GATT", "LAW"), ("GATT", "LAW")]


@pytest.mark.parametrize("short, long, fits", [
    ("PAF", "Pakistan Air Force", True), ("FBI", "Federal Bureau of Investigation", True),
    ("SLORC", "State Law and Order Restoration Council", True),
    ("US", "Pakistan Army", False), ("PAF", "Air Force", False), ("UN", "Nations", False),
])
def test_acronyms_must_fit_the_long_form(short, long, fits):
    assert acronym_fits(short, long) is fits


def test_an_unrelated_parenthesis_is_not_an_acronym():
    doc = make_doc("The Pakistan Army (ISPR) said.", [("Pakistan Army", "ORG")])
    assert resolved(doc) == [("Pakistan Army", "ORG", "Pakistan Army")]


# -- coreference within an article --------------------------------------------------------------


def test_short_names_take_the_full_name_of_the_same_article():
    names = canonical_names([
        ("Donald Trump", "PERSON"), ("Trump", "PERSON"),
        ("Zaheer Ahmed Baber Sidhu", "PERSON"), ("Sidhu", "PERSON"), ("Zaheer Ahmed", "PERSON"),
        ("Asim Munir", "PERSON"), ("Munir", "PERSON"), ("MUNIR", "PERSON"),
    ])
    assert names[("Trump", "PERSON")] == "Donald Trump"
    assert names[("Sidhu", "PERSON")] == "Zaheer Ahmed Baber Sidhu"
    assert names[("Zaheer Ahmed", "PERSON")] == "Zaheer Ahmed Baber Sidhu"
    assert names[("Munir", "PERSON")] == names[("MUNIR", "PERSON")] == "Asim Munir"
    assert names[("Donald Trump", "PERSON")] == "Donald Trump"


def test_a_bare_surname_without_its_full_name_stays_itself():
    assert canonical_names([("Sidhu", "PERSON")]) == {("Sidhu", "PERSON"): "Sidhu"}


def test_a_surname_shared_by_two_people_stays_itself():
    names = canonical_names([("George W. Bush", "PERSON"), ("Jeb Bush", "PERSON"),
                             ("Bush", "PERSON")])
    assert names[("Bush", "PERSON")] == "Bush"


def test_only_persons_corefer_by_name_parts():
    names = canonical_names([("Pakistan Air Force", "ORG"), ("Air Force", "ORG"),
                             ("Donald Trump", "PERSON"), ("Trump", "ORG")])
    assert names[("Air Force", "ORG")] == "Air Force"
    assert names[("Trump", "ORG")] == "Trump"


def test_mentions_keep_their_surface_text_and_offsets():
    text = "President Donald Trump met Pakistan's envoy. Trump's aides said so."
    doc = make_doc(text, [("Donald Trump", "PERSON"), ("Pakistan's", "GPE"), ("Trump", "PERSON")])
    mentions = resolve_mentions(doc, LABELS)
    assert [m.text for m in mentions] == ["Donald Trump", "Pakistan", "Trump"]
    assert all(text[m.start_char:m.end_char] == m.text for m in mentions)
    assert mentions[2] == ResolvedMention(45, 50, "Trump", "PERSON", "Donald Trump")
    assert mentions[2].key == mentions[0].key == "donald trump"


def test_only_the_requested_labels_come_out_but_all_are_used():
    doc = make_doc("the Pakistan Air Force (PAF) and Asim Munir met. PAF jets flew.",
                   [("Pakistan Air Force", "ORG"), ("Asim Munir", "PERSON")])
    assert resolved(doc, frozenset({"PERSON"})) == [("Asim Munir", "PERSON", "Asim Munir")]
    assert [c for _, lab, c in resolved(doc, frozenset({"ORG"}))] == ["Pakistan Air Force"] * 3


# -- aliases and normalisation ------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["U.S.", "US", "USA", "United States", "the United States",
                                   "America", "u.s.", "United States of America"])
def test_common_names_of_the_united_states_collapse(alias):
    assert alias_of("GPE", alias) == "United States"


def test_aliases_depend_on_the_label():
    assert alias_of("LOC", "America") == "America"  # the continent is not the country
    assert alias_of("GPE", "Britain") == alias_of("GPE", "UK") == "United Kingdom"
    assert alias_of("GPE", "England") == "England"
    assert alias_of("ORG", "WHO") == "World Health Organization"
    assert alias_of("GPE", "Zaheer") == "Zaheer"


def test_company_legal_forms_are_ignored():
    names = canonical_names([("Microsoft Corp.", "ORG"), ("Bank of America Corporation", "ORG")])
    assert names[("Microsoft Corp.", "ORG")] == "Microsoft"
    assert names[("Bank of America Corporation", "ORG")] == "Bank of America"


@pytest.mark.parametrize("a, b", [
    ("São Paulo", "Sao Paulo"), ("the U.S.'s", "US"), ("Al-Sisi", "al Sisi"),
    ("O\u2019Neill", "ONeill"), ("ZAHEER  Ahmed", "zaheer ahmed"),
])
def test_keys_ignore_case_punctuation_and_diacritics(a, b):
    assert entity_key(a) == entity_key(b)


def test_the_alias_table_is_well_formed():
    rows = list(csv.reader(
        (line for line in er.ALIASES_PATH.read_text(encoding="utf-8").splitlines()
         if line.strip() and not line.startswith("#")), delimiter="\t"))
    assert rows[0] == ["label", "alias", "canonical"]
    seen: dict[tuple[str, str], str] = {}
    for row in rows[1:]:
        assert len(row) == 3 and all(c.strip() == c and c for c in row), row
        label, alias, canonical = row
        assert label in LABELS
        for name in (alias, canonical):
            key = (label, entity_key(name))
            assert seen.setdefault(key, canonical) == canonical, f"{name} maps to two names"


# -- the real model on the user's sample article ------------------------------------------------


def test_the_sample_article_with_the_real_model():
    from transforms.entities import load_ner_pipeline

    nlp = load_ner_pipeline("en_core_web_sm")
    assert nlp.pipe_names == ["ner"]
    text = SEED.read_text(encoding="utf-8")
    text += "\nMunir and Trump spoke again, and Sidhu flew home on a PAF jet.\n"
    mentions = resolve_mentions(nlp(text), LABELS)
    persons = {(m.text, m.canonical) for m in mentions if m.label == "PERSON"}
    assert ("Zaheer Ahmed Baber Sidhu", "Zaheer Ahmed Baber Sidhu") in persons
    assert ("Asim Munir", "Asim Munir") in persons
    assert ("Sidhu", "Zaheer Ahmed Baber Sidhu") in persons
    assert ("Munir", "Asim Munir") in persons
    assert ("Trump", "Donald Trump") in persons
    assert not any(m.text in ("Zaheer Ahmed", "Baber Sidhu") for m in mentions)
    assert {m.canonical for m in mentions if m.text == "PAF"} == {"Pakistan Air Force"}
    assert {m.canonical for m in mentions if m.label == "GPE" and m.text in (
        "US", "the United States", "United States", "America")} == {"United States"}
    assert all(text[m.start_char:m.end_char] == m.text for m in mentions)
