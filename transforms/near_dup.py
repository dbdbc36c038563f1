"""Near-duplicate detection as pure functions: settings, shingles, MinHash, LSH band keys, ordering.

No Beam here: `transforms.dedup` wires these into the pipeline (band keys -> GroupByKey -> candidate
pairs -> confirmation -> connected components), and a streaming or stateful variant can reuse them
as they are. Everything is deterministic across processes, machines and runs: shingles are hashed
with SHA-1 (datasketch's ``sha1_hash32``, never Python's salted ``hash()``), the permutations come
from a fixed seed, and band keys are BLAKE2b digests. Signatures are stored (``OUT/signatures``)
and compared with those of later runs, so `DedupSettings.scheme` names everything that changes
their values; signatures of another scheme are never compared.

    >>> s = DedupSettings()
    >>> sig = minhash(shingles(tokens("Showers continued throughout the week in Bahia"), 5), s)
    >>> len(band_keys(sig, s)) == s.bands
    True
"""

from __future__ import annotations

import hashlib
import heapq
import re
import unicodedata
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from typing import Any, TypeVar

import numpy as np

# datasketch >= 2.0 changed its default permutation scheme; naming it pins the values we store.
_DATASKETCH_SCHEME = "affine32"
_WORD = re.compile(r"\d+(?:[.,]\d+)*|\w+")  # "1,762,270" and "2.5" are one word each
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

T = TypeVar("T")

# A node of the similarity graph, ordered so that the canonical member of a cluster is the
# smallest: (0 stored | 1 new, 0 dated | 1 undated, microseconds since epoch, article_id).
OrderKey = tuple[int, int, int, str]


@dataclass(frozen=True)
class DedupSettings:
    """How articles are matched. The defaults are chosen for wire news republished by sites, and
    measured on Reuters-21578 (``benchmarks/eval_dedup.py``, figures in ``benchmarks/README.md``).

    - ``near_threshold`` 0.65: estimated Jaccard of word 5-shingles at or above which two
      articles are one story. An edit that keeps 80 % of the text (a trimmed ending, a new lead
      sentence, site boilerplate) leaves J ~0.75-0.8; a corrected figure removes at most
      ``shingle_size`` shingles per changed number. On Reuters, pairs above 0.65 are versions of
      one story ("CORRECTED - ...", re-issued rewrites); between 0.5 and 0.65 periodic reports
      built on one template start to appear (weekly USDA shipments, daily Fed operations,
      eurobond launches of different issuers), which a lower threshold would merge. MinHash with
      128 permutations estimates J with a standard error <= 0.044: a true 0.8 pair falls below
      0.65 with probability ~3e-4, a true 0.55 template pair rises above it with ~1 %.
    - ``shingle_size`` 5 words: 4 or 3 catch a little more of the heavily edited copies but merge
      2-3 times as many template reports published days apart; shared phrases ("said in a
      statement") do not make unrelated stories similar at 5.
    - ``num_perm`` 128: the estimation error above; 512 bytes per stored signature.
    - ``bands``/``rows`` are derived (`derive_banding`): the most rows per band such that a pair
      at the threshold shares a bucket with probability >= ``band_recall`` (0.99): 32 bands of 4
      rows for the defaults (P = 0.998 at J = 0.65, 0.23 at J = 0.3, ~0 for unrelated stories).
    - ``min_words`` 50: shorter articles (a headline and two lines: dividend notices, price
      changes, "Fed adds reserves") are matched exactly only. On Reuters almost every near pair
      under 50 words is the same template filled for another company or another day (J up to
      0.85 for two companies' dividend notices); from 50 words on they are corrections and
      rewrites. In a 40-word text one differing name or figure changes as many shingles as a
      genuine correction, so no Jaccard threshold can separate the two.
    - ``max_bucket`` 200: a band bucket holding more articles than this is boilerplate, not one
      story; only a deterministic sample of ``max_bucket`` new and ``max_bucket`` stored members
      (smallest hash of id and band) is paired in it. Members of a real family share many bands
      and each band samples differently, so they still meet; memory per bucket is bounded and
      pairs per bucket are at most ~60k.
    - ``cc_rounds`` 4: rounds of min-label propagation, one GroupByKey each; a component is
      settled when its earliest member reaches every other within ``cc_rounds + 1`` hops (a
      republished story's family is a star around the original). Label pairs still
      disagreeing after the last round are merged by one union-find over those pairs only
      (``dedup.components_fallback_pairs``; on Reuters a template series chained day by day).
    - ``near_enabled`` False keeps exact matching only and writes no signatures. Exact matching
      and the already-stored check are always on: they make re-runs idempotent.
    """

    near_enabled: bool = True
    near_threshold: float = 0.65
    shingle_size: int = 5
    num_perm: int = 128
    seed: int = 1
    band_recall: float = 0.99
    min_words: int = 50
    max_bucket: int = 200
    cc_rounds: int = 4

    def __post_init__(self) -> None:
        if not 0.0 < self.near_threshold <= 1.0:
            raise ValueError(f"near_threshold must be in (0, 1], not {self.near_threshold}")
        if not 0.0 < self.band_recall < 1.0:
            raise ValueError(f"band_recall must be in (0, 1), not {self.band_recall}")
        if self.shingle_size < 1 or self.num_perm < 2 or self.max_bucket < 2:
            raise ValueError("shingle_size >= 1, num_perm >= 2 and max_bucket >= 2 are required")
        if self.min_words < self.shingle_size:
            raise ValueError("min_words must be at least shingle_size")
        if self.cc_rounds < 1:
            raise ValueError("cc_rounds must be >= 1")

    @cached_property
    def banding(self) -> tuple[int, int]:
        """``(bands, rows)``, see `derive_banding`."""
        return derive_banding(self.num_perm, self.near_threshold, self.band_recall)

    @property
    def bands(self) -> int:
        return self.banding[0]

    @property
    def rows(self) -> int:
        return self.banding[1]

    @property
    def scheme(self) -> str:
        """Names what determines signature values; stored signatures of another scheme are
        ignored. Threshold and banding are not part of it: they are applied to stored values."""
        return (f"minhash/datasketch-{_DATASKETCH_SCHEME}-sha1/seed={self.seed}"
                f"/perm={self.num_perm}/words-nfkc-casefold/k={self.shingle_size}")


def derive_banding(num_perm: int, threshold: float, recall: float) -> tuple[int, int]:
    """``(bands, rows)`` with the most rows per band (fewest chance candidates) such that a pair
    of Jaccard ``threshold`` shares at least one band with probability ``>= recall``.

    >>> derive_banding(128, 0.7, 0.99)
    (32, 4)
    """
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= recall:
            best = (bands, rows)
    return best


# ---------------------------------------------------------------------------------------------
# Text -> shingles -> signature -> band keys
# ---------------------------------------------------------------------------------------------


def tokens(text: str) -> list[str]:
    """Words of ``text`` after NFKC and case folding; punctuation and layout are ignored, and a
    number is one word (a corrected figure changes one word, not three).

    >>> tokens("U.S. output ROSE 2.5 pct to 1,762,270 tons,\\n   officials said.")
    ['u', 's', 'output', 'rose', '2.5', 'pct', 'to', '1,762,270', 'tons', 'officials', 'said']
    """
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def shingles(words: list[str], k: int) -> set[str]:
    """The set of ``k``-word sequences of ``words`` (one shingle of all words if fewer than k).

    >>> sorted(shingles(["a", "b", "c", "d"], 3))
    ['a b c', 'b c d']
    """
    if len(words) <= k:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + k]) for i in range(len(words) - k + 1)}


def is_short(words: list[str], settings: DedupSettings) -> bool:
    """True if an article is too short for near matching (it is matched exactly only)."""
    return len(words) < settings.min_words


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> Any:
    from datasketch import MinHash

    return MinHash(num_perm=num_perm, seed=seed, scheme=_DATASKETCH_SCHEME).permutations


def minhash(shingle_set: Iterable[str], settings: DedupSettings) -> bytes:
    """MinHash signature of a shingle set: ``num_perm`` little-endian uint32 values as bytes."""
    from datasketch import MinHash

    m = MinHash(num_perm=settings.num_perm, seed=settings.seed, scheme=_DATASKETCH_SCHEME,
                permutations=_permutations(settings.num_perm, settings.seed))
    m.update_batch([s.encode("utf-8") for s in shingle_set])
    return np.asarray(m.hashvalues, dtype="<u4").tobytes()


def signature(text: str, settings: DedupSettings) -> bytes | None:
    """`minhash` of the body's word shingles, or None for a short article (exact matching only)."""
    words = tokens(text)
    if is_short(words, settings):
        return None
    return minhash(shingles(words, settings.shingle_size), settings)


def band_keys(sig: bytes, settings: DedupSettings) -> list[bytes]:
    """One key per LSH band: a BLAKE2b digest of the band number and its ``rows`` values.

    Two signatures share a key exactly when they agree on every value of that band.
    """
    width = settings.rows * 4
    keys = []
    for band in range(settings.bands):
        h = hashlib.blake2b(sig[band * width:(band + 1) * width], digest_size=8,
                            key=band.to_bytes(4, "little"))
        keys.append(h.digest())
    return keys


def jaccard(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity: the share of equal MinHash values."""
    x, y = np.frombuffer(a, dtype="<u4"), np.frombuffer(b, dtype="<u4")
    if x.shape != y.shape:
        raise ValueError("signatures of different sizes cannot be compared")
    return float(np.count_nonzero(x == y)) / len(x)


# ---------------------------------------------------------------------------------------------
# Canonical choice and bounded grouping helpers
# ---------------------------------------------------------------------------------------------


def order_key(article_id: str, published_at: datetime | None, stored: bool = False) -> OrderKey:
    """Sort key of a cluster member; the smallest is the canonical article.

    A stored article comes first (rows already published are never rewritten, so a stored
    canonical stays canonical); then the earliest ``published_at`` (undated last), then the
    smallest ``article_id``.
    """
    if published_at is None:
        return (0 if stored else 1, 1, 0, article_id)
    if published_at.tzinfo is None:
        published_at = published_at.replace(tzinfo=timezone.utc)
    delta = published_at - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return (0 if stored else 1, 0, micros, article_id)


def stable_rank(article_id: str, salt: bytes = b"") -> bytes:
    """Deterministic pseudo-random rank of an id (per ``salt``), independent of input order."""
    return hashlib.blake2b(article_id.encode("utf-8"), digest_size=8, salt=salt[:16]).digest()


def sample_bucket(members: Iterable[T], cap: int, ident: Any, salt: bytes = b"") -> tuple[
        list[T], int]:
    """At most ``cap`` members with the smallest `stable_rank` of ``ident(member)``, and how many
    were left out. Streams the input: memory is O(cap) however large the bucket. Salted with the
    band key, so each bucket of a large family samples different members and the family is
    still linked through its other bands."""
    count = 0

    def counted() -> Iterator[T]:
        nonlocal count
        for m in members:
            count += 1
            yield m

    kept = heapq.nsmallest(cap, counted(), key=lambda m: stable_rank(ident(m), salt))
    return kept, count - len(kept)


def bucket_pairs(new: list[OrderKey], stored: list[OrderKey]) -> Iterator[tuple[Any, Any]]:
    """Candidate pairs of one bucket: new x new (smaller key first) and new x stored (new
    first). Stored x stored pairs are skipped: stored rows are never rewritten."""
    ordered = sorted(new)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            yield (a, b)
        for s in stored:
            yield (a, s)


class UnionFind:
    """Union-find whose root is always the smallest element of its set.

    >>> uf = UnionFind(); uf.union("c", "b"); uf.union("b", "a"); uf.find("c")
    'a'
    """

    def __init__(self) -> None:
        self._parent: dict[Hashable, Hashable] = {}

    def find(self, x: Hashable) -> Hashable:
        parent = self._parent
        root = parent.setdefault(x, x)
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, a: Hashable, b: Hashable) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = (ra, rb) if ra < rb else (rb, ra)  # type: ignore[operator]
            self._parent[hi] = lo

    def roots(self) -> dict[Hashable, Hashable]:
        """Every element that is not its own root, mapped to its root."""
        return {x: r for x in list(self._parent) if (r := self.find(x)) != x}


class BloomFilter:
    """A set of byte strings with false positives only: what this run's articles might match.

    Stored articles and signatures of earlier runs pass into the shuffle only if one of their
    keys may be in the filter of this run's keys, so a small scheduled run does not shuffle the
    whole archive. 2^24 bits (2 MiB) and 3 hash functions: for the 32 band keys of 10k new
    articles a stored key passes by mistake with probability ~1e-4, for 100k articles ~0.08
    (the filter only saves work; a false positive costs a shuffled row, never a wrong match).

    >>> bloom = BloomFilter(); bloom.add(b"k1"); (b"k1" in bloom, b"k2" in bloom)
    (True, False)
    """

    SIZE_BITS = 1 << 24
    HASHES = 3

    def __init__(self, bits: np.ndarray | None = None) -> None:
        self.bits = np.zeros(self.SIZE_BITS // 8, dtype=np.uint8) if bits is None else bits

    @classmethod
    def _positions(cls, item: bytes) -> list[int]:
        digest = hashlib.blake2b(item, digest_size=16).digest()
        h1 = int.from_bytes(digest[:8], "little")
        h2 = int.from_bytes(digest[8:], "little") | 1
        return [(h1 + i * h2) % cls.SIZE_BITS for i in range(cls.HASHES)]

    def add(self, item: bytes) -> None:
        for p in self._positions(item):
            self.bits[p >> 3] |= 1 << (p & 7)

    def __contains__(self, item: bytes) -> bool:
        return all(self.bits[p >> 3] & (1 << (p & 7)) for p in self._positions(item))

    def merge(self, other: BloomFilter) -> BloomFilter:
        np.bitwise_or(self.bits, other.bits, out=self.bits)
        return self
