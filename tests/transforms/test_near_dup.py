"""Near-duplicate building blocks: shingles, signatures, band keys, ordering, components."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.beam_testing import local_pipeline
from transforms import near_dup
from transforms.dedup import ConnectedComponents
from transforms.near_dup import DedupSettings

ROOT = Path(__file__).resolve().parents[2]
DAY = datetime(2025, 7, 1, tzinfo=timezone.utc)


def words(n: int, seed: int) -> list[str]:
    """``n`` words of a made-up text; different seeds share no 5-word sequence."""
    rng = random.Random(seed)
    return [f"w{rng.randrange(100_000)}" for _ in range(n)]


def shingle_jaccard(a: list[str], b: list[str], k: int = 5) -> float:
    x, y = near_dup.shingles(a, k), near_dup.shingles(b, k)
    return len(x & y) / len(x | y)


# --- shingles and signatures ------------------------------------------------------------------


def test_tokens_ignore_case_punctuation_and_layout_and_keep_numbers_whole():
    assert near_dup.tokens("Output ROSE 2.5 pct,\n  to 1,762,270 tons.") == [
        "output", "rose", "2.5", "pct", "to", "1,762,270", "tons"]
    assert near_dup.tokens("ﬁne Café") == near_dup.tokens("fine CAFÉ")


def test_shingles_are_overlapping_word_sequences():
    assert near_dup.shingles(["a", "b", "c", "d", "e"], 3) == {"a b c", "b c d", "c d e"}
    assert near_dup.shingles(["a", "b"], 3) == {"a b"}
    assert near_dup.shingles([], 3) == set()


def test_estimated_jaccard_is_close_to_the_true_one():
    s = DedupSettings()
    base = words(300, 1)
    for cut in (0, 30, 60, 120):
        edited = base[cut:]
        true = shingle_jaccard(base, edited)
        estimate = near_dup.jaccard(near_dup.minhash(near_dup.shingles(base, 5), s),
                                    near_dup.minhash(near_dup.shingles(edited, 5), s))
        assert abs(estimate - true) < 0.12, (cut, true, estimate)


def test_short_articles_get_no_signature():
    s = DedupSettings(min_words=50)
    assert near_dup.signature(" ".join(words(49, 2)), s) is None
    assert len(near_dup.signature(" ".join(words(50, 2)), s)) == 4 * s.num_perm


def test_band_keys_match_exactly_when_the_band_values_match():
    s = DedupSettings()
    sig = near_dup.signature(" ".join(words(200, 3)), s)
    keys = near_dup.band_keys(sig, s)
    assert len(keys) == s.bands == len(set(keys))
    changed = bytearray(sig)
    changed[0] ^= 1  # first value of band 0 only
    other = near_dup.band_keys(bytes(changed), s)
    assert other[0] != keys[0] and other[1:] == keys[1:]


def test_band_keys_are_the_same_in_another_process():
    """No Python hash(): a fresh interpreter with another hash seed computes the same keys."""
    text = " ".join(words(150, 4))
    s = DedupSettings()
    code = ("import json, sys; from transforms import near_dup as n; s = n.DedupSettings(); "
            "sig = n.signature(sys.argv[1], s); "
            "print(json.dumps([sig.hex(), [k.hex() for k in n.band_keys(sig, s)]]))")
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        out = subprocess.run([sys.executable, "-c", code, text], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        sig_hex, keys_hex = json.loads(out)
        sig = near_dup.signature(text, s)
        assert sig_hex == sig.hex()
        assert keys_hex == [k.hex() for k in near_dup.band_keys(sig, s)]


def test_scheme_names_what_changes_signature_values():
    base = DedupSettings()
    assert DedupSettings(near_threshold=0.8).scheme == base.scheme  # applied to stored values
    for changed in (DedupSettings(shingle_size=4), DedupSettings(num_perm=64),
                    DedupSettings(seed=7)):
        assert changed.scheme != base.scheme


@pytest.mark.parametrize("threshold", [0.5, 0.65, 0.8, 0.9])
def test_derived_banding_finds_pairs_at_the_threshold(threshold):
    bands, rows = near_dup.derive_banding(128, threshold, 0.99)
    assert bands * rows <= 128
    assert 1 - (1 - threshold**rows) ** bands >= 0.99
    assert near_dup.derive_banding(128, 0.65, 0.99) == (32, 4)


def test_settings_reject_nonsense():
    with pytest.raises(ValueError):
        DedupSettings(near_threshold=0)
    with pytest.raises(ValueError):
        DedupSettings(min_words=3, shingle_size=5)


@settings(max_examples=30, deadline=None)
@given(st.sets(st.binary(min_size=1, max_size=12), max_size=200))
def test_bloom_filter_has_no_false_negatives_and_merges(items):
    items = sorted(items)
    half = len(items) // 2
    left, right = near_dup.BloomFilter(), near_dup.BloomFilter()
    for item in items[:half]:
        left.add(item)
    for item in items[half:]:
        right.add(item)
    merged = left.merge(right)
    assert all(item in merged for item in items)
    assert sum(b"absent-%d" % i in merged for i in range(1000)) <= 2


# --- ordering, sampling, pairing -------------------------------------------------------------


def test_order_key_puts_stored_then_earliest_then_smallest_id_first():
    keys = [
        near_dup.order_key("z", DAY + timedelta(days=9), stored=True),
        near_dup.order_key("a", DAY),
        near_dup.order_key("b", DAY),
        near_dup.order_key("a", DAY + timedelta(microseconds=1)),
        near_dup.order_key("0", None),
    ]
    assert sorted(keys) == keys
    naive = near_dup.order_key("a", DAY.replace(tzinfo=None))
    assert naive == near_dup.order_key("a", DAY)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=8), unique=True, max_size=40), st.integers(1, 10),
       st.randoms())
def test_bucket_sample_does_not_depend_on_input_order(ids, cap, rnd):
    shuffled = list(ids)
    rnd.shuffle(shuffled)
    kept, left = near_dup.sample_bucket(iter(ids), cap, lambda x: x, b"band")
    again, _ = near_dup.sample_bucket(iter(shuffled), cap, lambda x: x, b"band")
    assert sorted(kept) == sorted(again)
    assert len(kept) == min(cap, len(ids)) and left == len(ids) - len(kept)


def test_bucket_pairs_never_pair_two_stored_articles():
    new = [near_dup.order_key(i, DAY) for i in "cab"]
    stored = [near_dup.order_key(i, DAY, stored=True) for i in "xy"]
    pairs = list(near_dup.bucket_pairs(new, stored))
    assert len(pairs) == 3 + 3 * 2
    assert all(a[0] == 1 for a, _ in pairs)  # the first of each pair is new
    assert all(a < b for a, b in pairs if b[0] == 1)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=60))
def test_union_find_roots_are_component_minimums(edges):
    uf = near_dup.UnionFind()
    for a, b in edges:
        uf.union(a, b)
    adjacency: dict[int, set[int]] = {}
    for a, b in edges:
        adjacency.setdefault(a, set()).add(b)
        adjacency.setdefault(b, set()).add(a)
    for start in adjacency:
        seen, todo = {start}, [start]
        while todo:
            for nxt in adjacency[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        assert uf.find(start) == min(seen)


# --- connected components in Beam --------------------------------------------------------------


def _node(i: int) -> near_dup.OrderKey:
    return near_dup.order_key(f"n{i:03d}", DAY)


def _graph() -> tuple[list[tuple], list[tuple]]:
    """A 40-node path in scrambled id order, a star and a pair; expected (node, label) out."""
    rng = random.Random(5)
    path = list(range(40))
    rng.shuffle(path)
    edges = [(_node(a), _node(b)) for a, b in zip(path, path[1:], strict=False)]
    edges += [(_node(100), _node(101 + i)) for i in range(5)]
    edges += [(_node(201), _node(200)), (_node(200), _node(201))]  # duplicate edge
    expected = [(_node(i), _node(0)) for i in range(40)]
    expected += [(_node(i), _node(100)) for i in range(100, 106)]
    expected += [(_node(200), _node(200)), (_node(201), _node(200))]
    return edges, expected


@pytest.mark.parametrize("rounds", [1, 2, 4])
def test_connected_components_label_every_node_with_its_component_minimum(rounds):
    """A few rounds leave the long path unsettled; the union-find fallback finishes it."""
    edges, expected = _graph()
    with local_pipeline() as p:
        labels = p | beam.Create(edges) | ConnectedComponents(rounds)
        assert_that(labels, equal_to(expected), label="labels")
