"""Deterministic ids and content fingerprints: same input, same ids, on every run and runner."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WS = re.compile(r"\s+")


def stable_id(*parts: object, size: int = 8) -> str:
    """Hex id (2*size chars) of the parts, separated so that ("ab","c") != ("a","bc")."""
    h = hashlib.blake2b(digest_size=size)
    for part in parts:
        h.update(str(part).encode("utf-8", errors="surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def normalise_for_hash(text: str) -> str:
    """Unicode NFKC, case-folded, whitespace collapsed: what exact-duplicate matching compares."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def content_hash(body: str) -> str:
    """Fingerprint of a body after `normalise_for_hash`: equal for exact duplicates."""
    return stable_id(normalise_for_hash(body), size=16)


def article_id(source_uri: str, record_index: int, body_hash: str) -> str:
    """Id of one record: where it came from plus what it says (a changed record gets a new id)."""
    return stable_id("article", source_uri, record_index, body_hash)
