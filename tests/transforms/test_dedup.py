"""Dedup stage: exact and near duplicates, clusters, canonical choice, matching stored state.

Canonical = earliest published_at, then smallest id; a stored canonical stays canonical; every
row is kept and points at its cluster's canonical; only canonical rows go on to NER.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from tests.beam_testing import local_pipeline
from transforms import ids, near_dup
from transforms.dedup import DeduplicateArticles, DedupSettings
from transforms.schemas import SIGNATURES, to_table

SETTINGS = DedupSettings()


def _row(article_id: str, body: str, day: int | None) -> dict[str, Any]:
    published = None if day is None else datetime(2025, 7, day, tzinfo=timezone.utc)
    return {"article_id": article_id, "body": body, "content_hash": ids.content_hash(body),
            "published_at": published, "word_count": len(body.split())}


def _text(words: list[str]) -> str:
    return " ".join(words)


def _words(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"w{rng.randrange(100_000)}" for _ in range(n)]


def _sig(body: str) -> bytes:
    sig = near_dup.signature(body, SETTINGS)
    assert sig is not None
    return sig


def _similarity(a: str, b: str) -> float:
    return near_dup.jaccard(_sig(a), _sig(b))


def _marks(out: dict[str, Any]):
    return out["all"] | "Marks" >> beam.Map(lambda r: (
        r["article_id"], r["duplicate_of"], r["cluster_id"], r["match_kind"],
        None if r["similarity"] is None else round(r["similarity"], 6)))


def _canonical_ids(out: dict[str, Any]):
    return out["canonical"] | "CanonicalIds" >> beam.Map(lambda r: r["article_id"])


def _run(rows, settings: DedupSettings = SETTINGS, stored=None, expected=None, canonical=None,
         signatures=None) -> dict[str, int]:
    """Runs the stage, checks each output, returns the ``dedup`` counters."""
    p = local_pipeline()
    state = None
    if stored is not None:
        state = {name: p | f"Stored{name}" >> beam.Create(rows_)
                 for name, rows_ in stored.items()}
    out = p | beam.Create(rows) | DeduplicateArticles(settings, state)
    if expected is not None:
        assert_that(_marks(out), equal_to(expected), label="all")
    if canonical is not None:
        assert_that(_canonical_ids(out), equal_to(canonical), label="canonical")
    if signatures is not None:
        assert_that(out["signatures"] | "SigIds" >> beam.Map(lambda r: r["article_id"]),
                    equal_to(signatures), label="signatures")
    result = p.run()
    result.wait_until_finish()
    return {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]
            if c.key.metric.namespace == "dedup"}


# --- exact -------------------------------------------------------------------------------------


def test_content_hash_ignores_case_spacing_and_unicode_forms():
    assert ids.content_hash("Café  News\n") == ids.content_hash("CAFÉ news")
    assert ids.content_hash("ﬁne") == ids.content_hash("fine")  # NFKC ligature
    assert ids.content_hash("a b") != ids.content_hash("a c")


def test_earliest_is_canonical_and_exact_duplicates_point_to_it():
    rows = [_row("b", "Same story.", 5), _row("a", "same   STORY.", 6),
            _row("c", "Same story.", None), _row("d", "Other story.", 1), _row("e", "Tie.", 2),
            _row("f", "tie.", 2)]
    counters = _run(rows, expected=[
        ("b", None, "b", None, None), ("a", "b", "b", "exact", 1.0), ("c", "b", "b", "exact", 1.0),
        ("d", None, "d", None, None), ("e", None, "e", None, None), ("f", "e", "e", "exact", 1.0),
    ], canonical=["b", "d", "e"])
    assert counters["total"] == 6 and counters["kept"] == 3
    assert counters["dropped_exact_duplicate"] == 3


# --- near --------------------------------------------------------------------------------------


def test_a_chain_of_near_duplicates_is_one_cluster_under_its_earliest_member():
    """A~B and B~C but not A~C: one cluster all the same, canonical the earliest (C)."""
    w = _words(130, 1)
    a, b, c = _text(w[:100]), _text(w), _text(w[30:])
    assert _similarity(a, b) >= 0.7 and _similarity(b, c) >= 0.7 and _similarity(a, c) < 0.6
    unrelated = _text(_words(120, 2))
    rows = [_row("a", a, 2), _row("b", b, 3), _row("c", c, 1), _row("u", unrelated, 1),
            _row("c2", c.upper(), 4)]  # an exact copy of C
    counters = _run(rows, expected=[
        ("c", None, "c", None, None),
        ("a", "c", "c", "near", round(_similarity(a, c), 6)),
        ("b", "c", "c", "near", round(_similarity(b, c), 6)),
        ("c2", "c", "c", "exact", 1.0),
        ("u", None, "u", None, None),
    ], canonical=["c", "u"], signatures=["c", "u"])
    assert counters["dropped_near_duplicate"] == 2 and counters["dropped_exact_duplicate"] == 1


def test_an_exact_group_follows_its_representative_to_an_earlier_near_duplicate():
    """B1 and B2 are identical; B1 (their canonical) is a near copy of the earlier A: both
    re-point at A, as near duplicates with B1's similarity."""
    w = _words(120, 3)
    a, b = _text(w[:100]), _text(w[5:])
    sim = round(_similarity(a, b), 6)
    rows = [_row("b1", b, 2), _row("b2", b, 5), _row("a", a, 1)]
    _run(rows, expected=[
        ("a", None, "a", None, None), ("b1", "a", "a", "near", sim), ("b2", "a", "a", "near", sim),
    ], canonical=["a"], signatures=["a"])


def test_an_undated_near_duplicate_never_becomes_canonical_over_a_dated_one():
    w = _words(110, 4)
    rows = [_row("a", _text(w[:100]), None), _row("b", _text(w[8:]), 9)]
    _run(rows, canonical=["b"])


def test_short_articles_sharing_a_template_are_not_merged():
    """Two-line notices of different companies differ in a name and a figure only: at 45
    words (< min_words) they are matched exactly, never near. With the rule lowered they would
    all collapse into one cluster, which is what it prevents."""
    template = ("{company} said its board of directors declared a regular quarterly cash dividend "
                "of {cents} cts a share on its common stock payable on August 15 to shareholders "
                "of record at the close of business on July 31 and said it expects to keep paying "
                "it")
    companies = ["Acme Corp", "Bolt Inc", "Crane Co", "Delta Ltd", "Eagle Plc", "Falcon SA"]
    rows = [_row(f"n{i}", template.format(company=c, cents=10 + i), 1 + i)
            for i, c in enumerate(companies)]
    rows.append(_row("n0copy", rows[0]["body"], 20))
    loose = DedupSettings(min_words=5)
    sims = [_similarity_with(rows[0]["body"], r["body"], loose) for r in rows[1:6]]
    assert min(sims) >= loose.near_threshold  # they look like near duplicates by Jaccard
    _run(rows, canonical=[f"n{i}" for i in range(6)], signatures=[])
    counters = _run(rows, loose, canonical=["n0"])
    assert counters["dropped_near_duplicate"] == 5


def _similarity_with(a: str, b: str, settings: DedupSettings) -> float:
    return near_dup.jaccard(near_dup.signature(a, settings), near_dup.signature(b, settings))


def test_a_crowded_bucket_is_sampled_and_its_family_still_found():
    """Twelve copies of one story (each with one word changed) fill every bucket; with buckets
    capped at 3 members each bucket pairs only a sample, and the family is still one cluster."""
    w = _words(200, 5)
    rows = []
    for i in range(12):
        copy = list(w)
        copy[100] = f"edit{i}"
        rows.append(_row(f"c{i:02d}", _text(copy), 1 + i))
    counters = _run(rows, DedupSettings(max_bucket=3), canonical=["c00"])
    assert counters["bucket_members_sampled_out"] > 0
    assert counters["dropped_near_duplicate"] == 11


def test_near_matching_can_be_switched_off():
    w = _words(120, 6)
    rows = [_row("a", _text(w[:100]), 1), _row("b", _text(w[5:]), 2), _row("a2", _text(w[:100]), 3)]
    _run(rows, DedupSettings(near_enabled=False), canonical=["a", "b"], signatures=[])


def test_signature_rows_fit_the_signatures_table():
    rows = [_row("a", _text(_words(80, 7)), 1)]
    with local_pipeline() as p:
        out = p | beam.Create(rows) | DeduplicateArticles()

        def check(sigs):
            table = to_table(sigs, SIGNATURES)
            assert table.schema == SIGNATURES and table.num_rows == 1
            row = sigs[0]
            assert row["scheme"] == SETTINGS.scheme and len(row["minhash"]) == 4 * 128
            assert row["cluster_id"] == "a" and row["content_hash"] == rows[0]["content_hash"]

        assert_that(out["signatures"], check, label="signatures")


# --- against stored state ---------------------------------------------------------------------


def test_new_articles_are_matched_against_stored_ones_without_their_bodies():
    """Stored: canonical S (day 10), its exact copy T and its near duplicate U; signatures of S,
    of X under another scheme and of an unrelated Z. New rows: S read again (dropped), S's text
    under a new id, a near copy of S dated *earlier* than S, U's text, a near copy of X. Only
    S's stored signature is shuffled and compared (Z shares no band key with the new rows)."""
    w = _words(140, 8)
    s_body, u_body, near_s = _text(w[:120]), _text(w[10:130]), _text(w[6:126])
    x_body = _text(_words(120, 9))
    s_id = "s"
    stored_articles = [
        {"article_id": "s", "content_hash": ids.content_hash(s_body), "published_at":
         datetime(2025, 7, 10, tzinfo=timezone.utc), "cluster_id": "s", "duplicate_of": None},
        {"article_id": "t", "content_hash": ids.content_hash(s_body), "published_at": None,
         "cluster_id": "s", "duplicate_of": "s"},
        {"article_id": "u", "content_hash": ids.content_hash(u_body), "published_at": None,
         "cluster_id": "s", "duplicate_of": "s"},
        {"article_id": "x", "content_hash": ids.content_hash(x_body), "published_at": None,
         "cluster_id": "x", "duplicate_of": None},
    ]
    stored_sigs = [
        {"article_id": s_id, "cluster_id": s_id, "published_at": datetime(
            2025, 7, 10, tzinfo=timezone.utc), "content_hash": ids.content_hash(s_body),
         "scheme": SETTINGS.scheme, "minhash": _sig(s_body)},
        {"article_id": "x", "cluster_id": "x", "published_at": None,
         "content_hash": ids.content_hash(x_body), "scheme": "minhash/some-older-scheme",
         "minhash": _sig(x_body)},
        {"article_id": "z", "cluster_id": "z", "published_at": None, "content_hash": "z",
         "scheme": SETTINGS.scheme, "minhash": _sig(_text(_words(100, 12)))},
    ]
    rows = [
        _row("s", s_body, 10),              # the same record again
        _row("n_exact", s_body, 11),
        _row("n_near", near_s, 1),          # earlier than S, still S's duplicate
        _row("n_copy_of_u", u_body, 12),
        _row("n_near_x", _text(_words(120, 9)[4:] + ["extra"] * 4), 13),
    ]
    counters = _run(
        rows, stored={"articles": stored_articles, "signatures": stored_sigs},
        expected=[
            ("n_exact", "s", "s", "exact", 1.0),
            ("n_near", "s", "s", "near", round(_similarity(near_s, s_body), 6)),
            ("n_copy_of_u", "s", "s", "near", round(_similarity(u_body, s_body), 6)),
            ("n_near_x", None, "n_near_x", None, None),  # X's signature is of another scheme
        ],
        canonical=["n_near_x"], signatures=["n_near_x"])
    assert counters["total"] == 5
    assert counters["dropped_already_stored"] == 1
    assert counters["dropped_exact_duplicate"] == 1
    assert counters["dropped_near_duplicate"] == 2
    assert counters["kept"] == 1
    assert counters["stored_signatures_other_scheme"] == 1
    assert counters["stored_signatures_compared"] == 1


def test_a_new_article_bridging_two_stored_clusters_joins_the_earlier_one():
    """Stored canonicals P (day 2) and Q (day 1) both resemble new N: N joins Q; P and Q stay
    canonical (their rows are not rewritten)."""
    w = _words(140, 10)
    p_body, q_body, n_body = _text(w[:110]), _text(w[30:]), _text(w[15:125])
    assert _similarity(n_body, p_body) >= 0.65 and _similarity(n_body, q_body) >= 0.65

    def stored_sig(article_id: str, body: str, day: int) -> dict[str, Any]:
        return {"article_id": article_id, "cluster_id": article_id, "published_at": datetime(
            2025, 7, day, tzinfo=timezone.utc), "content_hash": ids.content_hash(body),
            "scheme": SETTINGS.scheme, "minhash": _sig(body)}

    stored = {"articles": [], "signatures": [stored_sig("p", p_body, 2),
                                             stored_sig("q", q_body, 1)]}
    _run([_row("n", n_body, 3)], stored=stored,
         expected=[("n", "q", "q", "near", round(_similarity(n_body, q_body), 6))],
         canonical=[], signatures=[])


def test_a_row_repeated_within_one_run_is_kept_once():
    body = _text(_words(60, 11))
    counters = _run([_row("a", body, 1), _row("a", body, 1)],
                    expected=[("a", None, "a", None, None)], canonical=["a"])
    assert counters["dropped_already_stored"] == 1
