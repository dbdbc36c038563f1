"""Deduplication: dated article rows in; the same rows out with their dedup columns set.

Flow: read -> dates -> **dedup** -> entities -> sinks. Dedup runs after dates (the canonical story
is the earliest published one) and before NER (duplicates must not inflate entity counts). Every
row is kept in ``articles``; ``duplicate_of`` names the canonical article of its cluster (None for
the canonical one), ``cluster_id`` is that canonical's id, ``match_kind`` is ``"exact"`` when the
body equals the canonical's (after `ids.normalise_for_hash`) and ``"near"`` otherwise, and
``similarity`` is the estimated Jaccard with the canonical (1.0 for exact).

1. `MatchExactDuplicates`: rows grouped by ``content_hash`` together with the stored articles of
   earlier runs. A row whose ``article_id`` is already stored is dropped (the same record read
   again from a changed file); a group that matches a stored article joins its cluster; otherwise
   its earliest row is the group's representative and the others follow it.
2. `FindSimilarPairs`: representatives of at least ``min_words`` words get a MinHash signature
   (`transforms.near_dup`); band keys -> GroupByKey -> candidate pairs within each (capped)
   bucket, also against stored signatures; pairs confirmed by estimated Jaccard >= threshold.
3. `ConnectedComponents`: clusters of confirmed pairs (chains A~B~C form one cluster) by min-label
   propagation, so no worker ever holds more than one node's neighbourhood.
4. `ResolveClusters`: each representative points at its cluster's smallest member (a stored
   canonical first, then earliest ``published_at``, then smallest id), its exact followers point
   at the same canonical.

Rows already published are never rewritten: a stored canonical stays canonical, and a new article
that matches it becomes its duplicate even when it carries an earlier date.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from transforms import near_dup
from transforms.near_dup import DedupSettings, OrderKey, order_key
from transforms.timing import timed_process

__all__ = ["DedupSettings", "DeduplicateArticles", "canonical_order", "is_canonical"]

STAGE = "dedup"
_LATEST = datetime.max.replace(tzinfo=timezone.utc)
_SIG = "_minhash"  # private key carrying a representative's signature between steps

# Tags of tagged outputs.
RESOLVED, REPS, FOLLOWERS, COPIES = "resolved", "reps", "followers", "copies"
UNSIGNED, NEAR, SIGS, ROOTS, UNSETTLED = "unsigned", "near", "sigs", "roots", "unsettled"


def canonical_order(row: dict[str, Any]) -> tuple[datetime, str]:
    """Sort key: earliest ``published_at`` first (undated last), then smallest ``article_id``."""
    return (row.get("published_at") or _LATEST, row["article_id"])


def is_canonical(row: dict[str, Any]) -> bool:
    """True for rows that go on to NER (not a duplicate of another article)."""
    return row.get("duplicate_of") is None


def _key(row: dict[str, Any], stored: bool = False) -> OrderKey:
    return order_key(row["article_id"], row.get("published_at"), stored)


def _mark(row: dict[str, Any], canonical: str | None, kind: str | None,
          similarity: float | None, cluster: str | None = None) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != _SIG}
    out.update(duplicate_of=canonical, cluster_id=cluster or canonical or row["article_id"],
               match_kind=kind, similarity=similarity)
    return out


# ---------------------------------------------------------------------------------------------
# 1. Exact duplicates, already-stored rows
# ---------------------------------------------------------------------------------------------


class MatchExactGroupFn(beam.DoFn):
    """``(content_hash, {"new": rows, "stored": stored keys})`` in; tagged rows out.

    - main (``resolved``): new rows of a body already stored, pointing at the stored canonical;
    - ``reps``: the earliest new row of a body not stored yet (it goes on to near matching);
    - ``followers``: ``(rep_id, row)`` for the other new rows of that body;
    - ``copies``: ``(canonical_id, row)`` for new rows equal to a stored *near* duplicate, whose
      similarity with that canonical is computed against its stored signature.

    Example: new ``b`` (5 July) and ``a`` (6 July) with one body, nothing stored -> ``b`` to
    ``reps``, ``("b", a)`` to ``followers``.
    """

    def __init__(self) -> None:
        self._total = Metrics.counter(STAGE, "total")
        self._already = Metrics.counter(STAGE, "dropped_already_stored")

    @timed_process(STAGE)
    def process(self, element: tuple[str, dict[str, Iterable[dict[str, Any]]]]) -> Iterator[Any]:
        _, groups = element
        stored = list(groups["stored"])
        stored_ids = {s["article_id"] for s in stored}
        fresh: dict[str, dict[str, Any]] = {}
        for row in groups["new"]:
            self._total.inc()
            if row["article_id"] in stored_ids or row["article_id"] in fresh:
                self._already.inc()  # the same record (path, index, body) read again
            else:
                fresh[row["article_id"]] = row
        if not fresh:
            return
        rows = sorted(fresh.values(), key=_key)
        if stored:
            yield from self._join_stored(rows, stored)
            return
        yield pvalue.TaggedOutput(REPS, rows[0])
        for row in rows[1:]:
            yield pvalue.TaggedOutput(FOLLOWERS, (rows[0]["article_id"], row))

    @staticmethod
    def _join_stored(rows: list[dict[str, Any]], stored: list[dict[str, Any]]) -> Iterator[Any]:
        canonicals = [s for s in stored if s.get("duplicate_of") is None]
        if canonicals:
            target = min(canonicals, key=lambda s: _key(s, stored=True))
            for row in rows:
                yield _mark(row, target["article_id"], "exact", 1.0, target.get("cluster_id"))
            return
        # Only stored duplicates carry this body: their canonical has another text.
        target = min(stored, key=lambda s: _key(s, stored=True))
        for row in rows:
            row = dict(row, cluster_id=target.get("cluster_id") or target["duplicate_of"])
            yield pvalue.TaggedOutput(COPIES, (target["duplicate_of"], row))


class MatchExactDuplicates(beam.PTransform):
    """New rows and stored article keys (None on a first run) in; tagged outputs of
    `MatchExactGroupFn` out."""

    def __init__(self, stored_articles: beam.PCollection | None) -> None:
        super().__init__()
        self._stored = stored_articles

    def expand(self, articles):
        new = articles | "KeyByContentHash" >> beam.Map(lambda r: (r["content_hash"], r))
        if self._stored is None:  # a plain grouping: no join step that copies every row
            groups = (
                new
                | "GroupByContentHash" >> beam.GroupByKey()
                | "NothingStored" >> beam.MapTuple(
                    lambda h, rows: (h, {"new": rows, "stored": ()})))
        else:
            stored = self._stored | "KeyStoredByContentHash" >> beam.Map(
                lambda r: (r["content_hash"], r))
            groups = {"new": new, "stored": stored} | "GroupByContentHash" >> beam.CoGroupByKey()
        return (
            groups
            | "MatchExactGroups" >> beam.ParDo(MatchExactGroupFn()).with_outputs(
                REPS, FOLLOWERS, COPIES, main=RESOLVED)
        )


# ---------------------------------------------------------------------------------------------
# 2. Signatures, band buckets, confirmed pairs
# ---------------------------------------------------------------------------------------------


class SignArticleFn(beam.DoFn):
    """Representative row in; the row with its MinHash under ``_minhash`` out, or the row on
    ``unsigned`` when it is shorter than ``min_words`` (exact matching only).

    Example: a 300-word story -> ``{..., "_minhash": b"..."}`` (512 bytes with the defaults).
    """

    def __init__(self, settings: DedupSettings) -> None:
        self._settings = settings
        self._short = Metrics.counter(STAGE, "exact_only_short")

    @timed_process(STAGE)
    def process(self, row: dict[str, Any]) -> Iterator[Any]:
        sig = near_dup.signature(row["body"], self._settings)
        if sig is None:
            self._short.inc()
            yield pvalue.TaggedOutput(UNSIGNED, row)
        else:
            yield dict(row, **{_SIG: sig})


def band_entries(node: tuple[OrderKey, bytes, list[bytes]], side: int) -> list[Any]:
    """``(key, sig, band_keys)`` in; ``(band_key, (side, rank, key))`` out for each band, ``rank``
    being the member's sampling rank in that bucket (`near_dup.stable_rank` salted with it)."""
    key, _, bands = node
    return [(band, (side, near_dup.stable_rank(key[-1], band), key)) for band in bands]


class BuildBloomFn(beam.CombineFn):
    """Keys (bytes) in; a `near_dup.BloomFilter` holding them out (an empty one for none)."""

    def create_accumulator(self) -> near_dup.BloomFilter:
        return near_dup.BloomFilter()

    def add_input(self, acc: near_dup.BloomFilter, item: bytes) -> near_dup.BloomFilter:
        acc.add(item)
        return acc

    def merge_accumulators(self, accs: Iterable[near_dup.BloomFilter]) -> near_dup.BloomFilter:
        accs = iter(accs)
        merged = next(accs)
        for acc in accs:
            merged.merge(acc)
        return merged

    def extract_output(self, acc: near_dup.BloomFilter) -> near_dup.BloomFilter:
        return acc


def _id_key(article_id: str) -> bytes:
    return b"id:" + article_id.encode("utf-8")


def _may_match(row: dict[str, Any], wanted: near_dup.BloomFilter) -> bool:
    return row["content_hash"].encode("utf-8") in wanted


NEW_SIDE, STORED_SIDE = 0, 1


class SampleBucketFn(beam.CombineFn):
    """Members ``(side, rank, key)`` of one band bucket in (side 0: this run's articles, 1: stored
    ones); per side, ``(the max_bucket smallest ranks' keys, how many were left out)`` out. Holds
    at most 2 x ``max_bucket`` members per side whatever the bucket size, and combines before the
    shuffle, so a boilerplate bucket costs no more than the cap. Both sides meet in this one
    combine: one shuffle of band entries per run.

    Example (cap 2): ``(0, r3, k1), (0, r1, k2), (0, r2, k3), (1, r4, s)`` ->
    ``(([k2, k3], 1), ([s], 0))``.
    """

    def __init__(self, cap: int) -> None:
        self._cap = cap

    def create_accumulator(self) -> list[tuple[list[Any], int]]:
        return [([], 0), ([], 0)]

    def _trim(self, members: list[Any], seen: int) -> tuple[list[Any], int]:
        if len(members) > 2 * self._cap:
            members = heapq.nsmallest(self._cap, members)
        return members, seen

    def add_input(self, acc, member):
        side, rank, key = member
        members, seen = acc[side]
        members.append((rank, key))
        acc[side] = self._trim(members, seen + 1)
        return acc

    def merge_accumulators(self, accs):
        merged = self.create_accumulator()
        for acc in accs:
            for side in (NEW_SIDE, STORED_SIDE):
                members, seen = merged[side]
                members.extend(acc[side][0])
                merged[side] = self._trim(members, seen + acc[side][1])
        return merged

    def extract_output(self, acc) -> tuple[tuple[list[OrderKey], int], ...]:
        out = []
        for members, seen in acc:
            kept = heapq.nsmallest(self._cap, members)
            out.append(([key for _, key in kept], seen - len(kept)))
        return tuple(out)


def _has_pairs(bucket: tuple[bytes, tuple[tuple[list[OrderKey], int], ...]]) -> bool:
    """Most buckets hold one article: dropped here, before any per-bucket work."""
    new, stored = bucket[1][NEW_SIDE][0], bucket[1][STORED_SIDE][0]
    return bool(new) and (len(new) > 1 or bool(stored))


class PairBucketFn(beam.DoFn):
    """``(band_key, ((new keys, left out), (stored keys, left out)))`` in (one sampled list per
    side); candidate pairs out: new x new and new x stored.

    Example: ``new=[k1, k2], stored=[s]`` -> ``(k1, k2), (k1, s), (k2, s)``.
    """

    def __init__(self) -> None:
        self._overflow = Metrics.counter(STAGE, "bucket_members_sampled_out")

    @timed_process(STAGE)
    def process(self, element: tuple[bytes, tuple[tuple[list[Any], int], ...]]) -> Iterator[Any]:
        _, ((new, left), (stored, left_stored)) = element
        if left or left_stored:
            self._overflow.inc(left + left_stored)
        yield from near_dup.bucket_pairs(new, stored)


class AttachPartnerFn(beam.DoFn):
    """``(id, {"node": [(key, sig)], "pairs": [a_key], "copies": [row]})`` in.

    Out: ``(a_id, (a_key, b_key, b_sig))`` for each candidate pair ``(a, b=id)``; on ``sigs``
    ``(id, sig)`` of a stored article that has candidates (a canonical new rows may join); and
    on ``copies`` the scored new copies of a stored duplicate of ``id``.
    """

    def __init__(self, settings: DedupSettings) -> None:
        self._settings = settings

    @timed_process(STAGE)
    def process(self, element: tuple[str, dict[str, Iterable[Any]]]) -> Iterator[Any]:
        b_id, groups = element
        node = next(iter(groups["node"]), None)
        for row in groups["copies"]:
            own = near_dup.signature(row["body"], self._settings)
            sim = None if node is None or own is None else near_dup.jaccard(own, node[1])
            yield pvalue.TaggedOutput(COPIES, _mark(row, b_id, "near", sim, row["cluster_id"]))
        if node is None:
            return
        b_key, b_sig = node
        has_pairs = False
        for a_key in groups["pairs"]:
            has_pairs = True
            yield a_key[-1], (a_key, b_key, b_sig)
        if has_pairs and b_key[0] == 0:
            yield pvalue.TaggedOutput(SIGS, (b_id, b_sig))


def confirm_pairs(element: tuple[str, dict[str, Iterable[Any]]],
                  threshold: float) -> Iterator[tuple[OrderKey, OrderKey]]:
    """``(a_id, {"sig": [a_sig], "partners": [(a_key, b_key, b_sig)]})`` in; an edge
    ``(a_key, b_key)`` out for each partner whose estimated Jaccard with ``a`` is >= threshold."""
    _, groups = element
    a_sig = next(iter(groups["sig"]), None)
    if a_sig is None:
        return
    for a_key, b_key, b_sig in groups["partners"]:
        if near_dup.jaccard(a_sig, b_sig) >= threshold:
            yield (a_key, b_key)


class StoredNodeFn(beam.DoFn):
    """SIGNATURES row of an earlier run in; ``(OrderKey, sig, band_keys)`` out if its scheme is
    ours and, given ``wanted`` (a Bloom filter of this run's band keys and of the ids its
    copies need), only if it may matter to this run: then only its bands that may be shared.

    Example: a stored story none of whose 32 band keys occurs among the new articles -> nothing.
    """

    def __init__(self, settings: DedupSettings) -> None:
        self._settings = settings
        self._skipped = Metrics.counter(STAGE, "stored_signatures_other_scheme")
        self._used = Metrics.counter(STAGE, "stored_signatures_compared")

    @timed_process(STAGE)
    def process(self, row: dict[str, Any],
                wanted: near_dup.BloomFilter | None = None) -> Iterator[Any]:
        if row["scheme"] != self._settings.scheme:
            self._skipped.inc()
            return
        sig = row["minhash"]
        bands = near_dup.band_keys(sig, self._settings)
        if wanted is not None:
            bands = [band for band in bands if band in wanted]
            if not bands and _id_key(row["article_id"]) not in wanted:
                return
        self._used.inc()
        yield order_key(row["article_id"], row.get("published_at"), stored=True), sig, bands


class FindSimilarPairs(beam.PTransform):
    """Signed new rows (with ``_minhash``) in; returns ``{"edges": (OrderKey, OrderKey) pairs,
    "sigs": (id, sig) of stored articles new rows may join, "copies": scored copy rows}``.

    Memory per worker: one band bucket (<= 2 x ``max_bucket`` keys), one article's partners.
    Cost per run: every stored signature is read and re-banded (from its values, so
    ``near_threshold`` can change between runs), but only those sharing
    a band key with a new article (or needed by a copy) are shuffled. On a first run
    (``stored_signatures`` None) new band entries go straight to the bucket combine.
    """

    def __init__(self, settings: DedupSettings, stored_signatures: beam.PCollection | None,
                 copies: beam.PCollection) -> None:
        super().__init__()
        self._settings = settings
        self._stored = stored_signatures
        self._copies = copies

    def expand(self, signed):
        s = self._settings
        new = signed | "NewNodes" >> beam.Map(
            lambda r: (_key(r), r[_SIG], near_dup.band_keys(r[_SIG], s)))
        if self._stored is None:
            entries = new | "NewBands" >> beam.FlatMap(band_entries, NEW_SIDE)
            return self._pairs(new, entries, new)
        wanted = pvalue.AsSingleton(
            (new | "NewBandKeys" >> beam.FlatMap(lambda n: n[2]),
             self._copies | "CopyTargets" >> beam.Map(lambda c: _id_key(c[0])))
            | "RunKeys" >> beam.Flatten()
            | "RunKeyFilter" >> beam.CombineGlobally(BuildBloomFn()))
        stored = self._stored | "StoredNodes" >> beam.ParDo(StoredNodeFn(s), wanted)

        entries = (
            (new | "NewBands" >> beam.FlatMap(band_entries, NEW_SIDE),
             stored | "StoredBands" >> beam.FlatMap(band_entries, STORED_SIDE))
            | "AllBands" >> beam.Flatten())
        nodes = (new, stored) | "AllNodes" >> beam.Flatten()
        return self._pairs(new, entries, nodes)

    def _pairs(self, new, entries, nodes):
        s = self._settings
        pairs = (
            entries
            | "SampleBuckets" >> beam.CombinePerKey(SampleBucketFn(s.max_bucket))
            | "KeepBucketsWithPairs" >> beam.Filter(_has_pairs)
            | "PairBuckets" >> beam.ParDo(PairBucketFn())
            | "DistinctPairs" >> beam.Distinct()
        )
        partners = (
            {"node": nodes | "NodeById" >> beam.Map(lambda n: (n[0][-1], (n[0], n[1]))),
             "pairs": pairs | "PairByB" >> beam.Map(lambda p: (p[1][-1], p[0])),
             "copies": self._copies}
            | "GroupByPartner" >> beam.CoGroupByKey()
            | "AttachPartners" >> beam.ParDo(AttachPartnerFn(s)).with_outputs(
                SIGS, COPIES, main="partners")
        )
        edges = (
            {"sig": new | "SigById" >> beam.Map(lambda n: (n[0][-1], n[1])),
             "partners": partners.partners}
            | "GroupByCandidate" >> beam.CoGroupByKey()
            | "ConfirmPairs" >> beam.FlatMap(confirm_pairs, s.near_threshold)
        )
        return {"edges": edges, "sigs": partners[SIGS], "copies": partners[COPIES]}


# ---------------------------------------------------------------------------------------------
# 3. Connected components
# ---------------------------------------------------------------------------------------------


def start_node(element: tuple[OrderKey, Iterable[OrderKey]]) -> tuple[OrderKey, Any]:
    """``(node, neighbours)`` in; ``(node, (smallest of node and neighbours, neighbours))`` out:
    a node's state is its label and its adjacency, so one round is one GroupByKey."""
    node, neighbours = element
    adjacent = tuple(sorted(set(neighbours)))
    return node, (min((node, *adjacent)), adjacent)


def send_label(element: tuple[OrderKey, tuple[OrderKey, tuple]]) -> Iterator[Any]:
    """``(node, (label, neighbours))`` in; the state back to the node, the label to each
    neighbour: ``(node, (label, neighbours))``, ``(neighbour, (label, None))``."""
    node, (label, adjacent) = element
    yield node, (label, adjacent)
    for other in adjacent:
        yield other, (label, None)


class ReceiveLabelsFn(beam.DoFn):
    """``(node, [own state, neighbours' labels])`` in; ``(node, (smallest label, neighbours))``
    out. With ``report`` (the last round), ``(label, other)`` on ``unsettled`` for each label
    heard that differs from the smallest: what the final union-find still has to merge.

    Example: ``(k3, [(k2, (k2, k4)), (k1, None)])`` -> ``(k3, (k1, (k2, k4)))`` and, reporting,
    ``(k1, k2)``.
    """

    def __init__(self, report: bool) -> None:
        self._report = report
        self._pairs = Metrics.counter(STAGE, "components_fallback_pairs")

    @timed_process(STAGE)
    def process(self, element: tuple[OrderKey, Iterable[tuple[OrderKey, Any]]]) -> Iterator[Any]:
        node, values = element
        heard: set[OrderKey] = set()
        adjacent: tuple = ()
        for label, neighbours in values:
            heard.add(label)
            if neighbours is not None:
                adjacent = neighbours
        smallest = min(heard)
        yield node, (smallest, adjacent)
        if self._report:
            for other in heard - {smallest}:
                self._pairs.inc()
                yield pvalue.TaggedOutput(UNSETTLED, (smallest, other))


class UnionFindFn(beam.CombineFn):
    """Label pairs in; ``{label: root}`` for the labels that are not their component's root."""

    def create_accumulator(self) -> list[tuple[OrderKey, OrderKey]]:
        return []

    def add_input(self, acc, pair):
        acc.append(pair)
        return acc

    def merge_accumulators(self, accs):
        return [pair for acc in accs for pair in acc]

    def extract_output(self, acc) -> dict[OrderKey, OrderKey]:
        uf = near_dup.UnionFind()
        for a, b in acc:
            uf.union(a, b)
        return uf.roots()  # type: ignore[return-value]


def _relabel(state: tuple[OrderKey, tuple[OrderKey, Any]],
             roots: dict[OrderKey, OrderKey]) -> tuple[OrderKey, OrderKey]:
    node, (label, _) = state
    return node, roots.get(label, label)


class ConnectedComponents(beam.PTransform):
    """Edges ``(a, b)`` of OrderKeys in; ``(node, smallest node of its component)`` out, for
    every node of an edge. Example: ``(k1, k2), (k2, k3)`` -> ``(k1,k1), (k2,k1), (k3,k1)``.

    Min-label propagation: every node starts with the smallest of itself and its neighbours,
    then each of ``rounds`` rounds (one GroupByKey each) passes labels one hop further. A worker
    holds one node's neighbourhood at a time. Components whose smallest node reaches every
    member within ``rounds + 1`` hops (news clusters are stars around the original) are settled
    then; for the rest, the last round reports the label pairs still disagreeing and one
    union-find over those pairs only (``dedup.components_fallback_pairs``) finishes them.
    """

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self._rounds = max(rounds, 1)

    def expand(self, edges):
        states = (
            edges
            | "BothDirections" >> beam.FlatMap(lambda e: [e, (e[1], e[0])])
            | "GroupNeighbours" >> beam.GroupByKey()
            | "Start" >> beam.Map(start_node)
        )
        for i in range(self._rounds):
            last = i == self._rounds - 1
            received = (
                states
                | f"Send{i}" >> beam.FlatMap(send_label)
                | f"GroupLabels{i}" >> beam.GroupByKey()
                | f"Receive{i}" >> beam.ParDo(ReceiveLabelsFn(report=last)).with_outputs(
                    UNSETTLED, main="states")
            )
            states = received.states
        roots = received[UNSETTLED] | "UnionFind" >> beam.CombineGlobally(UnionFindFn())
        return states | "Settle" >> beam.Map(_relabel, pvalue.AsSingleton(roots))


# ---------------------------------------------------------------------------------------------
# 4. Canonical choice and the rows out
# ---------------------------------------------------------------------------------------------


class ResolveRepresentativeFn(beam.DoFn):
    """``(id, {"row": [signed row], "label": [canonical id]})`` in.

    A row without a label, or labelled with itself, is canonical: out on main, its SIGNATURES
    row on ``sigs``, and ``(id, sig)`` on ``roots`` if other rows point at it. Otherwise
    ``(canonical_id, row)`` on ``near``, to be scored against the canonical.
    Example: ``("b", {"row": [b], "label": ["a"]})`` -> ``("a", b)`` on ``near``.
    """

    def __init__(self, scheme: str) -> None:
        self._scheme = scheme

    @timed_process(STAGE)
    def process(self, element: tuple[str, dict[str, Iterable[Any]]]) -> Iterator[Any]:
        article_id, groups = element
        row = next(iter(groups["row"]), None)
        if row is None:  # a stored node, or the label of one
            return
        label = next(iter(groups["label"]), None)
        if label is not None and label != article_id:
            yield pvalue.TaggedOutput(NEAR, (label, row))
            return
        if label is not None:
            yield pvalue.TaggedOutput(ROOTS, (article_id, row[_SIG]))
        yield _mark(row, None, None, None)
        yield pvalue.TaggedOutput(SIGS, {
            "article_id": article_id, "cluster_id": article_id,
            "published_at": row.get("published_at"), "content_hash": row["content_hash"],
            "scheme": self._scheme, "minhash": row[_SIG]})


def score_near(element: tuple[str, dict[str, Iterable[Any]]]) -> Iterator[dict[str, Any]]:
    """``(canonical_id, {"sig": [its signature], "rows": near duplicates})`` in; each row out
    pointing at the canonical with its estimated Jaccard."""
    canonical, groups = element
    sig = next(iter(groups["sig"]), None)
    for row in groups["rows"]:
        similarity = None if sig is None else near_dup.jaccard(row[_SIG], sig)
        yield _mark(row, canonical, "near", similarity)


def follow(element: tuple[str, dict[str, Iterable[Any]]]) -> Iterator[dict[str, Any]]:
    """``(rep_id, {"rep": [rep outcome row], "rows": exact followers})`` in; each follower out
    pointing where its representative's cluster points."""
    rep_id, groups = element
    rep = next(iter(groups["rep"]))
    for row in groups["rows"]:
        if rep["duplicate_of"] is None:
            yield _mark(row, rep_id, "exact", 1.0)
        else:
            yield _mark(row, rep["duplicate_of"], rep["match_kind"], rep["similarity"],
                        rep["cluster_id"])


class ResolveClusters(beam.PTransform):
    """Representatives, their labels and followers in; returns ``{"rows": every resolved row,
    "signatures": SIGNATURES rows of the new canonical articles}``."""

    def __init__(self, settings: DedupSettings, labels, stored_sigs, unsigned, followers):
        super().__init__()
        self._scheme = settings.scheme
        self._labels, self._stored_sigs = labels, stored_sigs
        self._unsigned, self._followers = unsigned, followers

    def expand(self, signed):
        new_labels = self._labels | "NewNodesOnly" >> beam.Filter(lambda nl: nl[0][0] == 1)
        resolved = (
            {"row": signed | "RepById" >> beam.Map(lambda r: (r["article_id"], r)),
             "label": new_labels | "CanonicalId" >> beam.Map(lambda nl: (nl[0][-1], nl[1][-1]))}
            | "GroupRepLabel" >> beam.CoGroupByKey()
            | "Resolve" >> beam.ParDo(ResolveRepresentativeFn(self._scheme)).with_outputs(
                NEAR, SIGS, ROOTS, main="canonical")
        )
        canonical_sigs = (resolved[ROOTS], self._stored_sigs) | "RootSigs" >> beam.Flatten()
        near = (
            {"sig": canonical_sigs, "rows": resolved[NEAR]}
            | "GroupByCanonical" >> beam.CoGroupByKey()
            | "ScoreNear" >> beam.FlatMap(score_near)
        )
        unsigned = self._unsigned | "ShortCanonical" >> beam.Map(_mark, None, None, None)
        reps = (resolved.canonical, near, unsigned) | "Representatives" >> beam.Flatten()
        followers = (
            {"rep": reps | "OutcomeById" >> beam.Map(lambda r: (r["article_id"], r)),
             "rows": self._followers}
            | "GroupFollowers" >> beam.CoGroupByKey()
            | "Follow" >> beam.FlatMap(follow)
        )
        rows = (reps, followers) | "ResolvedRows" >> beam.Flatten()
        return {"rows": rows, "signatures": resolved[SIGS]}


# ---------------------------------------------------------------------------------------------
# The stage
# ---------------------------------------------------------------------------------------------


class OutcomeCounters:
    """The ``dedup`` counters of decided rows: ``kept`` / ``dropped_<match_kind>_duplicate``
    (the batch stage and the folder watcher count alike)."""

    def __init__(self) -> None:
        self._kept = Metrics.counter(STAGE, "kept")
        self._exact = Metrics.counter(STAGE, "dropped_exact_duplicate")
        self._near = Metrics.counter(STAGE, "dropped_near_duplicate")

    def count(self, row: dict[str, Any]) -> None:
        if row["duplicate_of"] is None:
            self._kept.inc()
        elif row["match_kind"] == "exact":
            self._exact.inc()
        else:
            self._near.inc()


class CountOutcomeFn(beam.DoFn):
    """Resolved row in, unchanged out; counts ``kept`` / ``dropped_<match_kind>_duplicate``."""

    def __init__(self) -> None:
        self._outcomes = OutcomeCounters()

    @timed_process(STAGE)
    def process(self, row: dict[str, Any]) -> Iterator[dict[str, Any]]:
        self._outcomes.count(row)
        yield row


class DeduplicateArticles(beam.PTransform):
    """Dated article rows in; returns ``{"all", "canonical", "signatures"}``.

    - ``all``: every new row, with ``duplicate_of``, ``cluster_id``, ``match_kind``,
      ``similarity`` set; rows whose ``article_id`` is already stored are dropped (counted).
    - ``canonical``: the rows to send to NER (duplicates of nothing, new or stored).
    - ``signatures``: SIGNATURES rows for the new canonical articles long enough to be signed.

    ``stored`` (None on a first run): ``{"articles": {article_id, content_hash, published_at,
    cluster_id, duplicate_of} of earlier runs, "signatures": SIGNATURES rows of earlier runs}``.
    Old bodies are never needed. Stored rows are never rewritten: a stored canonical stays
    canonical, and a new article matching it becomes its duplicate.
    Counters (namespace ``dedup``): total, kept, dropped_exact_duplicate,
    dropped_near_duplicate, dropped_already_stored, plus diagnostics.
    """

    def __init__(self, settings: DedupSettings = DedupSettings(),
                 stored: dict[str, beam.PCollection] | None = None) -> None:
        super().__init__()
        self._settings = settings
        self._stored = stored or {}

    def _stored_input(self, pipeline: beam.Pipeline, name: str) -> beam.PCollection:
        if name in self._stored:
            return self._stored[name]
        return pipeline | f"NoStored{name.title()}" >> beam.Create([])

    def expand(self, articles):
        s = self._settings
        stored_articles = None  # a first run: no stored side anywhere, so fewer steps
        if self._stored:  # only stored rows whose content hash may be new again are shuffled
            stored_articles = self._stored_input(articles.pipeline, "articles")
            hashes = (
                articles
                | "NewContentHashes" >> beam.Map(lambda r: r["content_hash"].encode("utf-8"))
                | "ContentHashFilter" >> beam.CombineGlobally(BuildBloomFn()))
            stored_articles = stored_articles | "StoredThatMayMatch" >> beam.Filter(
                _may_match, pvalue.AsSingleton(hashes))
        exact = articles | "MatchExact" >> MatchExactDuplicates(stored_articles)
        if s.near_enabled:
            signed = exact[REPS] | "Sign" >> beam.ParDo(SignArticleFn(s)).with_outputs(
                UNSIGNED, main="signed")
            signed, unsigned = signed.signed, signed[UNSIGNED]
        else:
            signed = articles.pipeline | "NothingSigned" >> beam.Create([])
            unsigned = exact[REPS]
        pairs = signed | "FindSimilarPairs" >> FindSimilarPairs(
            s, self._stored_input(articles.pipeline, "signatures") if self._stored else None,
            exact[COPIES])
        labels = pairs["edges"] | "ConnectedComponents" >> ConnectedComponents(s.cc_rounds)
        resolved = signed | "ResolveClusters" >> ResolveClusters(
            s, labels, pairs["sigs"], unsigned, exact[FOLLOWERS])
        rows = (
            (exact[RESOLVED], pairs["copies"], resolved["rows"])
            | "AllRows" >> beam.Flatten()
            | "CountOutcomes" >> beam.ParDo(CountOutcomeFn())
        )
        canonical = rows | "KeepCanonical" >> beam.Filter(is_canonical)
        return {"all": rows, "canonical": canonical, "signatures": resolved["signatures"]}
