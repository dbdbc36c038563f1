"""Reading: input patterns in, raw article rows (and error rows) out.

First stage of the flow (read -> dates -> dedup -> entities -> write). An input is a file, a
directory (walked recursively) or a glob; each file is read by its extension:

- ``.txt``/``.text``/``.md``/no extension: optional header lines (``date``, ``title``, ``url``,
  ``source``, ``language`` as ``key: value`` or ``key value``), then the body. The inline form
  `` date 2025-07-04 After Pakistan ...`` (header value, then the body on the same line) is handled.
- ``.json``: one object or an array of objects; ``.jsonl``/``.ndjson``: one object per line.
- any of these compressed as ``.gz`` or ``.bz2``.

A raw article row carries ``article_id, source_uri, record_index, url, title, body, language,
source, published_raw, word_count, content_hash, flags``; dates and dedup fill in the rest.
Anything that cannot become an article becomes an ``errors`` row naming the file and the reason.
"""

from __future__ import annotations

import bz2
import codecs
import fnmatch
import glob
import gzip
import hashlib
import io
import json
import logging
import math
import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from transforms import ids
from transforms.dates import DateSettings, split_leading_date
from transforms.schemas import error_row
from transforms.timing import timed_process

_LOG = logging.getLogger(__name__)

STAGE = "read"
ERRORS = "errors"
INGESTED = "ingested"

TEXT_EXTENSIONS = frozenset({".txt", ".text", ".md", ""})
JSON_EXTENSIONS = frozenset({".json"})
JSONL_EXTENSIONS = frozenset({".jsonl", ".ndjson"})
COMPRESSIONS = frozenset({".gz", ".bz2"})

# Field names used by news dumps (news-please first), in order of preference.
BODY_FIELDS = ("maintext", "body", "text", "content", "article", "articleBody", "article_body")
TITLE_FIELDS = ("title", "headline", "name")
DATE_FIELDS = (
    "date_publish", "published_at", "published", "date", "datePublished", "pubDate",
    "publish_date", "publication_date", "date_published", "time",
)
URL_FIELDS = ("url", "link", "canonical_url", "uri")
SOURCE_FIELDS = ("source_domain", "source", "site", "publisher", "domain", "source_name")
LANGUAGE_FIELDS = ("language", "lang")

_HEADER_LINE = re.compile(
    r"[ \t]*(date|published|title|headline|url|link|source|language|lang)[ \t]*(:|=|[ \t])[ \t]*",
    re.IGNORECASE,
)
_HEADER_KEYS = {
    "date": "published_raw", "published": "published_raw", "title": "title",
    "headline": "title", "url": "url", "link": "url", "source": "source",
    "language": "language", "lang": "language",
}
_URL = re.compile(r"(https?://|www\.)\S+$", re.IGNORECASE)
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z]{2,4})?$")
# C0 controls and DEL, except tab, newline, carriage return and form feed.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
# Lone UTF-16 surrogates: JSON can spell them ("\\ud800"), UTF-8 cannot encode them.
_SURROGATE = re.compile("[\ud800-\udfff]")
_CHUNK = 1 << 20
# A text file may be this much longer, in bytes, than 4 bytes per character of the longest
# allowed article (header lines, surrounding whitespace) before it is refused unread.
_TEXT_SLACK_BYTES = 1 << 20


@dataclass(frozen=True)
class ReadLimits:
    """Safety limits; exceeding one is an error row, never a crash or an OOM kill."""

    max_file_bytes: int = 2 * 1024**3
    max_decompressed_bytes: int = 2 * 1024**3
    max_json_bytes: int = 256 * 1024**2
    max_article_chars: int = 1_000_000
    max_records_per_file: int = 10_000_000
    follow_symlinks: bool = False


class InputError(Exception):
    """A file that cannot be read as articles; the message is shown to the user as is."""


class LimitExceeded(InputError):
    """An input over one of the ``ReadLimits``; its error row has the type ``LimitExceeded``."""


# ---------------------------------------------------------------------------------------------
# Finding the files
# ---------------------------------------------------------------------------------------------


def _has_scheme(pattern: str) -> bool:
    return "://" in pattern and not pattern.startswith("file://")


def _within(path: str, roots: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _printable(path: str) -> str:
    """``path`` as valid UTF-8 text: bytes of a file name that are not UTF-8 become ``\\xff``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _name_problem(path: str) -> str | None:
    """Why a path cannot travel through the pipeline (every string in a row must be UTF-8)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "file name is not valid UTF-8; rename the file to read it"
    return None


def _walk(
    root: str, follow_symlinks: bool, descend: Callable[[str], bool] | None = None
) -> Iterator[tuple[str, str | None]]:
    """Files under ``root`` in sorted order; symlink loops and unreadable dirs become errors.

    ``descend(path)`` may veto walking into a sub-directory (a glob that cannot match below it).
    """
    seen: set[tuple[int, int]] = set()
    real_roots = [os.path.realpath(root)]
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            st = os.stat(current)
            if (st.st_dev, st.st_ino) in seen:
                yield current, "symlink loop: directory already visited through another path"
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError as e:
            yield current, f"cannot list directory: {e.strerror or e}"
            continue
        subdirs = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = entry.path
            bad_name = _name_problem(path)
            if bad_name:
                yield _printable(path), bad_name
                continue
            try:
                is_link = entry.is_symlink()
                if is_link and not follow_symlinks and not _within(path, real_roots):
                    yield path, "symlink points outside the input root (use --follow_symlinks)"
                    continue
                if entry.is_dir(follow_symlinks=follow_symlinks or is_link and _within(
                        path, real_roots)):
                    if descend is None or descend(path):
                        subdirs.append(path)
                elif entry.is_file() or not os.path.exists(path):
                    yield path, None
                else:
                    yield path, "not a regular file"
            except OSError as e:
                yield path, f"cannot stat: {e.strerror or e}"
        stack.extend(reversed(subdirs))


def _glob_match(segments: list[str], names: list[str]) -> tuple[bool, bool]:
    """Matches path ``names`` (below a glob's literal root) against the glob's ``segments``.

    Returns (matched, more_below): whether the path, or a directory above it, matches (a matched
    directory stands for every file in it, as with ``--input DIR``), and whether a path below it
    still could. ``**`` is any number of segments; wildcards do not match hidden names.
    """

    def closure(states: set[int]) -> set[int]:
        out = set()
        for i in states:
            out.add(i)
            while i < len(segments) and segments[i] == "**":
                i += 1
                out.add(i)
        return out

    states = closure({0})
    for name in names:
        hidden = name.startswith(".")
        step = set()
        for i in states:
            if i == len(segments):
                continue
            if segments[i] == "**":
                if not hidden:
                    step.add(i)
            elif fnmatch.fnmatchcase(name, segments[i]) and (
                    not hidden or segments[i].startswith(".")):
                step.add(i + 1)
        states = closure(step)
        if len(segments) in states:
            return True, True
        if not states:
            return False, False
    return False, bool(states)


def _glob(pattern: str, follow_symlinks: bool) -> Iterator[tuple[str, str | None]]:
    """Files matching an absolute local glob, found by walking the glob's literal root.

    ``glob.glob`` follows every directory symlink, so two symlink loops make ``**`` run for
    ever, and it follows symlinks out of the tree; walking the root applies the same rules as a
    directory input. Problems are reported only where the glob could have matched.
    """
    parts = pattern.split(os.sep)
    first = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    root = os.sep.join(parts[:first]) or os.sep
    segments = [part for part in parts[first:] if part]
    if not segments or not os.path.isdir(root):
        return

    def names(path: str) -> list[str]:
        return os.path.relpath(path, root).split(os.sep)

    for path, problem in _walk(root, follow_symlinks, lambda d: _glob_match(segments, names(d))[1]):
        matched, more_below = _glob_match(segments, names(path))
        if matched or (problem is not None and more_below and os.path.isdir(path)):
            yield path, problem  # a refused folder is reported if the glob could match in it


def iter_input_files(
    pattern: str, follow_symlinks: bool = False
) -> Iterator[tuple[str, str | None]]:
    """Expands one ``--input`` into ``(path, None)`` per file, or ``(path, reason)`` per problem.

    Example: ``iter_input_files("seeds/")`` yields ``("/abs/seeds/000_x.txt", None)``.
    """
    if _has_scheme(pattern):
        spec = pattern + "**" if pattern.endswith("/") else pattern
        for result in FileSystems.match([spec]):
            for meta in sorted(result.metadata_list, key=lambda m: m.path):
                yield meta.path, None
        return
    if pattern.startswith("file://"):
        pattern = pattern[len("file://"):]
    pattern = os.path.expanduser(pattern)
    bad_name = _name_problem(pattern)
    if bad_name:
        yield _printable(os.path.abspath(pattern)), bad_name
        return
    if os.path.isdir(pattern):
        yield from _walk(os.path.abspath(pattern), follow_symlinks)
        return
    if os.path.lexists(pattern) or not glob.has_magic(pattern):
        path = os.path.abspath(pattern)
        # A FIFO or a device would block or never end: only regular files are read.
        special = os.path.exists(path) and not os.path.isfile(path)
        yield path, "not a regular file" if special else None
        return
    yield from _glob(os.path.abspath(pattern), follow_symlinks)


def any_input_matches(patterns: list[str]) -> bool:
    """True when at least one pattern names at least one file (checked before building a run)."""
    for pattern in patterns:
        for _, problem in iter_input_files(pattern):
            if problem is None:
                return True
    return False


# ---------------------------------------------------------------------------------------------
# Bytes, compression and text
# ---------------------------------------------------------------------------------------------


def split_extension(path: str) -> tuple[str, str]:
    """``("a.jsonl.gz") -> (".jsonl", ".gz")``; lower-cased; compression is "" when absent."""
    name = os.path.basename(path).lower()
    stem, ext = os.path.splitext(name)
    compression = ""
    if ext in COMPRESSIONS:
        compression = ext
        stem, ext = os.path.splitext(stem)
    if ext and not (ext[1:].isalnum() and len(ext) <= 8):
        ext = ""  # "news.2025" or "report.v2 final" are names, not extensions
    return ext, compression


# Files up to this size are read once into memory: fingerprinted and parsed from the same bytes
# (thousands of small article files are the common case, and opening a file costs more than
# reading it). Larger files are fingerprinted, then streamed.
SMALL_FILE_BYTES = 1 << 20


def read_small_file(path: str, limit: int = SMALL_FILE_BYTES) -> bytes | None:
    """The raw bytes of ``path`` when it holds at most ``limit`` bytes, else None."""
    chunks, size = [], 0
    with FileSystems.open(path, compression_type="uncompressed") as f:
        while size <= limit and (chunk := f.read(limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    return b"".join(chunks) if size <= limit else None


def _fingerprint_hash(data: bytes = b"") -> Any:
    return hashlib.blake2b(data, digest_size=16)


def fingerprint_bytes(data: bytes) -> str:
    """The ``file_fingerprint`` of a file whose raw bytes are ``data``."""
    return _fingerprint_hash(data).hexdigest()


def file_fingerprint(path: str) -> tuple[str, int]:
    """(content fingerprint, size in bytes) of the raw file: a changed file gets a new one."""
    h = _fingerprint_hash()
    size = 0
    with FileSystems.open(path, compression_type="uncompressed") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


class _Bounded:
    """File-like reader that raises LimitExceeded once more than ``limit`` bytes come out.

    ``read()`` reads in chunks, so a stream that is over the limit (a gzip bomb) costs about
    ``limit`` bytes of memory before the error, never more.
    """

    def __init__(self, raw: IO[bytes] | _Bounded, limit: int, message: str,
                 owned: IO[bytes] | None = None) -> None:
        self._raw, self._limit, self._message, self.count = raw, limit, message, 0
        self._owned = owned  # the file under a decompressor, which does not close it

    def _counted(self, data: bytes) -> bytes:
        self.count += len(data)
        if self.count > self._limit:
            raise LimitExceeded(self._message)
        return data

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            chunks = []
            while chunk := self._counted(self._raw.read(_CHUNK)):
                chunks.append(chunk)
            return b"".join(chunks)
        want = min(n, self._limit + 1 - self.count)
        return self._counted(self._raw.read(want) if want > 0 else b"")

    def readline(self, n: int = -1) -> bytes:
        return self._counted(self._raw.readline(n))

    def close(self) -> None:
        self._raw.close()
        if self._owned is not None:
            self._owned.close()


def open_decompressed(path: str, compression: str, limits: ReadLimits,
                      data: bytes | None = None) -> _Bounded:
    """Opens ``path`` (or its raw bytes ``data``, already read) and returns a bounded stream of
    its decompressed bytes."""
    raw = io.BytesIO(data) if data is not None else FileSystems.open(
        path, compression_type="uncompressed")
    stream: IO[bytes]
    if compression == ".gz":
        stream = gzip.GzipFile(fileobj=raw, mode="rb")
    elif compression == ".bz2":
        stream = bz2.BZ2File(raw, mode="rb")
    else:
        stream = raw
    limit = limits.max_decompressed_bytes
    return _Bounded(stream, limit, f"decompressed size exceeds --max_decompressed_bytes {limit:,}",
                    owned=None if stream is raw else raw)


def decode_text(data: bytes) -> tuple[str, list[str]]:
    """Bytes to text: UTF-8 (BOM tolerated), UTF-16/32 with a BOM, UTF-16 without one when every
    other byte is zero, else cp1252/latin-1 with a flag.

    Raises InputError for binary content. Control characters other than whitespace are removed
    (with the flag ``control_chars_removed``) so that offsets into the stored body stay exact.
    """
    text, flag = _decode(data)
    flags = [flag] if flag else []
    if text.startswith("\ufeff"):
        text = text[1:]
    if _CONTROL.search(text):
        # Counted in C on bytes before any regex pass: a regex over a NUL bomb of 100 MB takes
        # a minute and a gigabyte.
        encoded = text.encode("utf-8")
        controls = len(encoded) - len(encoded.translate(None, _CONTROL_BYTES))
        del encoded
        if controls > max(8, len(text) // 20):
            raise InputError("binary content, not text (too many control characters)")
        text = _CONTROL.sub("", text)
        flags.append("control_chars_removed")
    return text, flags


def _decode(data: bytes) -> tuple[str, str | None]:
    """(text, flag naming the decoding when it was not UTF-8)."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        try:
            return data.decode("utf-32"), "decoded_utf32"
        except UnicodeDecodeError:
            pass  # FF FE 00 00 is also UTF-16 starting with U+0000
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "decoded_utf16"
        except UnicodeDecodeError as e:
            raise InputError(f"invalid UTF-16 after a UTF-16 byte-order mark: {e.reason}") from e
    text = _utf16_without_bom(data)
    if text is not None:
        return text, "decoded_utf16_without_bom"
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        if _looks_binary(data):
            raise InputError("binary content, not text") from None
    try:
        return data.decode("cp1252"), "invalid_utf8_decoded_cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "invalid_utf8_decoded_latin1"


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text saved without a BOM (Windows tools do): in mostly-Latin text, most bytes in
    every other position are zero and none in the others. None when ``data`` is not like that."""
    sample = data[:8192]
    if len(data) % 2 or len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) >= 0.7 * len(odd) and even.count(0) == 0:
        encoding = "utf-16-le"
    elif even.count(0) >= 0.7 * len(even) and odd.count(0) == 0:
        encoding = "utf-16-be"
    else:
        return None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    return b"\x00" in sample or sum(b < 9 or 13 < b < 32 for b in sample) > len(sample) // 10


# ---------------------------------------------------------------------------------------------
# Parsing records
# ---------------------------------------------------------------------------------------------


def parse_text_article(text: str, settings: DateSettings = DateSettings()) -> dict[str, Any]:
    """Header lines (if any) then body. Returns ``{"body", "title", "published_raw", ...}``.

    Example: ``" date 2025-07-04 After Pakistan ..."`` ->
    ``{"published_raw": "2025-07-04", "body": "After Pakistan ..."}``.
    """
    record: dict[str, Any] = {}
    pos = 0
    n = len(text)
    while pos < n:
        line_end = text.find("\n", pos)
        line_end = n if line_end < 0 else line_end
        line = text[pos:line_end]
        if not line.strip():
            if record:  # a blank line ends the header block
                pos = line_end + 1
                break
            pos = line_end + 1
            continue
        m = _HEADER_LINE.match(line)
        if not m:
            break
        key = _HEADER_KEYS[m.group(1).lower()]
        if key in record:
            break
        value = line[m.end():]
        value_start = pos + m.end()
        body_start = _header_value(key, m.group(2), value, record, settings)
        if body_start is None:
            break  # looked like a key but is the body's first word ("Source close to ...")
        if body_start < len(value):  # inline form: the rest of the line starts the body
            pos = value_start + body_start
            break
        pos = line_end + 1
    record["body"] = text[pos:].strip()
    return record


def _header_value(
    key: str, sep: str, value: str, record: dict[str, Any], settings: DateSettings
) -> int | None:
    """Stores one header value; returns where the body starts within ``value`` (len = no body)."""
    stripped = value.rstrip()
    if key == "published_raw":
        if sep in ":=":  # "date: ..." is a header line: all of it is the value, junk included
            if not stripped:
                return None
            record[key] = stripped
            return len(value)
        found = split_leading_date(value, settings)  # "date July 4, 2025 After ..." (inline)
        if found is None:
            return None
        date_text, _, rest = found
        record[key] = date_text
        return len(value) - len(rest) if rest.strip() else len(value)
    first, _, rest = stripped.partition(" ")
    if key == "url":
        if not _URL.match(first):
            return None
        record[key] = first
        return len(value) - len(value.lstrip()[len(first):].lstrip()) if rest.strip() else len(
            value)
    if key == "language":
        if not _LANGUAGE.match(first) or rest.strip():
            return None
        record[key] = first
        return len(value)
    if not stripped or (sep not in ":=" and len(stripped) > 200):
        return None
    record[key] = stripped
    return len(value)


def _pick(obj: dict[str, Any], fields: tuple[str, ...]) -> Any:
    for name in fields:
        value = obj.get(name)
        if value not in (None, ""):
            return value
    return None


def _as_text(value: Any, field: str, flags: list[str]) -> str | None:
    """A metadata value as text: strings as is, numbers stringified, ``{"name": ...}`` unwrapped."""
    if value is None or isinstance(value, str):
        return _utf8_safe(value, flags)
    if isinstance(value, bool):
        flags.append(f"{field}_wrong_type")
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        inner = _pick(value, ("name", "title", "value", "url", "href"))
        if isinstance(inner, str):
            return _utf8_safe(inner, flags)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return _utf8_safe(value[0], flags)
    flags.append(f"{field}_wrong_type")
    return None


def _utf8_safe(text: str | None, flags: list[str]) -> str | None:
    """``text`` with lone surrogates (JSON's ``"\\ud800"``) replaced by U+FFFD, flagged once.

    Every string in a row is UTF-8 encoded by the runner and by Parquet; a lone surrogate would
    fail the whole run there.
    """
    if text is None or not _SURROGATE.search(text):
        return text
    if "invalid_surrogates_replaced" not in flags:
        flags.append("invalid_surrogates_replaced")
    # Through UTF-16, a correctly paired surrogate becomes its character again.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _epoch_text(value: Any, flags: list[str]) -> Any:
    """Epoch numbers as the digit strings the date normaliser knows; NaN and infinity flagged."""
    if isinstance(value, float) and not math.isfinite(value):
        flags.append("date_wrong_type")
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value))
    return value


def record_from_json(obj: Any) -> dict[str, Any]:
    """Maps one JSON object with the usual news-dump field names to a raw record.

    Example: ``{"title": "T", "maintext": "B", "date_publish": "2025-07-04"}`` ->
    ``{"title": "T", "body": "B", "published_raw": "2025-07-04", ...}``.
    Raises InputError, and only that, for anything that is not such an object.
    """
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object per article, got {type(obj).__name__}")
    flags: list[str] = []
    body = _pick(obj, BODY_FIELDS)
    if isinstance(body, list) and all(isinstance(p, str) for p in body):
        body = "\n\n".join(body)
        flags.append("body_joined_from_list")
    if body is None:
        raise InputError(
            "no article text: none of the fields " + ", ".join(BODY_FIELDS) + " is present")
    if not isinstance(body, str):
        raise InputError(f"article text field is a {type(body).__name__}, not a string")
    body = _utf8_safe(body, flags)
    date = _epoch_text(_pick(obj, DATE_FIELDS), flags)
    return {
        "body": body.strip(),
        "title": _as_text(_pick(obj, TITLE_FIELDS), "title", flags),
        "published_raw": _as_text(date, "date", flags),
        "url": _as_text(_pick(obj, URL_FIELDS), "url", flags),
        "source": _as_text(_pick(obj, SOURCE_FIELDS), "source", flags),
        "language": _as_text(_pick(obj, LANGUAGE_FIELDS), "language", flags),
        "flags": flags,
    }


def _json_message(e: Exception) -> str:
    if isinstance(e, RecursionError):
        return "JSON nested too deeply"
    return str(e)


def _json_excerpt(obj: Any) -> str:
    """The first 500 characters of ``obj`` as JSON, for an error row; never raises."""
    try:
        text = json.dumps(obj, ensure_ascii=False, default=str)[:500]
    except (ValueError, RecursionError):
        text = type(obj).__name__
    return _utf8_safe(text, [])


# ---------------------------------------------------------------------------------------------
# Beam
# ---------------------------------------------------------------------------------------------


class ExpandInputsFn(beam.DoFn):
    """An ``--input`` pattern in, one file path out per file; problems go to ``errors``.

    Example: ``"seeds/"`` -> ``"/abs/seeds/000_5b6004b25d51efef.txt"``.
    """

    def __init__(self, follow_symlinks: bool = False, exclude_dir: str | None = None) -> None:
        self._follow = follow_symlinks
        # The run's own output: an --output inside an --input folder must not be read back.
        self._exclude = None if exclude_dir is None else os.path.abspath(exclude_dir) + os.sep
        self._files = Metrics.counter(STAGE, "files")

    @timed_process(STAGE)
    def process(self, pattern: str):
        matched = False
        for path, problem in iter_input_files(pattern, self._follow):
            if self._exclude and (path + os.sep).startswith(self._exclude):
                continue
            if problem is None:
                matched = True
                self._files.inc()
                yield path
            else:
                yield pvalue.TaggedOutput(
                    ERRORS, error_row(path, STAGE, "InputNotReadable", problem))
        if not matched:
            yield pvalue.TaggedOutput(
                ERRORS, error_row(pattern, STAGE, "NoMatch", "no file matches this input"))


class ReadArticleFileFn(beam.DoFn):
    """A file path in, raw article rows out; unreadable files and records go to ``errors``.

    Also emits ``(source_uri, fingerprint, size_bytes)`` on ``ingested`` for the ingest log.
    Example: ``"/abs/a.jsonl"`` -> ``{"article_id": "3f2a...", "record_index": 0, "body": ...}``.
    """

    def __init__(self, limits: ReadLimits, settings: DateSettings) -> None:
        self._limits = limits
        self._settings = settings
        self._records = Metrics.counter(STAGE, "records")
        self._articles = Metrics.counter(STAGE, "articles")
        self._errors = Metrics.counter(STAGE, "errors")

    @timed_process(STAGE)
    def process(self, path: str, known: dict[str, str] | None = None):
        try:
            data = read_small_file(path)
            if data is not None:
                fingerprint, size = fingerprint_bytes(data), len(data)
            else:
                fingerprint, size = file_fingerprint(path)
        except Exception as e:  # unreadable: permissions, vanished, a directory...
            self._errors.inc()
            return [pvalue.TaggedOutput(ERRORS, error_row(
                path, STAGE, "InputNotReadable", _os_message(e)))]
        if known is not None and known.get(path) == fingerprint:
            return []  # ingested by an earlier run, unchanged
        return self._outputs(path, fingerprint, size, data)

    def _outputs(self, path: str, fingerprint: str, size: int, data: bytes | None = None):
        yield pvalue.TaggedOutput(INGESTED, {
            "source_uri": path, "fingerprint": fingerprint, "size_bytes": size})
        for out in self._read(path, size, data):
            if "body" in out:
                self._articles.inc()
                yield out
            else:
                self._errors.inc()
                yield pvalue.TaggedOutput(ERRORS, out)

    def _read(self, path: str, size: int, data: bytes | None = None) -> Iterator[dict[str, Any]]:
        ext, compression = split_extension(path)
        if ext not in TEXT_EXTENSIONS | JSON_EXTENSIONS | JSONL_EXTENSIONS:
            yield error_row(path, STAGE, "UnsupportedFormat",
                            f"unsupported file type {ext!r} (expected .txt, .json, .jsonl, "
                            ".ndjson, optionally .gz/.bz2)")
            return
        if size > self._limits.max_file_bytes:
            yield error_row(path, STAGE, "LimitExceeded",
                            f"file is {size:,} bytes, over --max_file_bytes "
                            f"{self._limits.max_file_bytes:,}")
            return
        try:
            stream = open_decompressed(path, compression, self._limits, data)
            del data  # the stream holds the bytes it still needs
            try:
                if ext in JSONL_EXTENSIONS:
                    yield from self._read_jsonl(path, stream)
                elif ext in JSON_EXTENSIONS:
                    yield from self._read_json(path, stream)
                else:
                    yield from self._read_text(path, stream)
            finally:
                stream.close()
        except LimitExceeded as e:
            yield error_row(path, STAGE, "LimitExceeded", str(e))
        except InputError as e:
            yield error_row(path, STAGE, "InputError", str(e))
        except (OSError, EOFError, zlib.error, ValueError) as e:
            yield error_row(path, STAGE, type(e).__name__, _os_message(e))
        except Exception as e:  # noqa: BLE001 - a bug must not cost the run: the file is named
            _LOG.exception("reading %s failed", path)
            yield error_row(path, STAGE, type(e).__name__, str(e) or "reading the file failed")

    def _read_text(self, path: str, stream: _Bounded) -> Iterator[dict[str, Any]]:
        self._records.inc()
        # Refuse a text that cannot be a short-enough article before holding all of it.
        chars = self._limits.max_article_chars
        limit = min(self._limits.max_decompressed_bytes, chars * 4 + _TEXT_SLACK_BYTES)
        data = _Bounded(stream, limit, f"text is over {limit:,} bytes, longer than an article "
                        f"of --max_article_chars {chars:,} can be").read()
        text, flags = decode_text(data)
        yield self._article(path, 0, parse_text_article(text, self._settings), flags, data)

    def _read_json(self, path: str, stream: _Bounded) -> Iterator[dict[str, Any]]:
        limit = min(self._limits.max_json_bytes, self._limits.max_decompressed_bytes)
        data = _Bounded(stream, limit, f"JSON document is over {limit:,} bytes; split it into "
                        "JSON lines (.jsonl), which are read one line at a time").read()
        text, flags = decode_text(data)
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as e:
            self._records.inc()
            yield error_row(path, STAGE, "MalformedJSON", f"invalid JSON: {_json_message(e)}",
                            text[:500])
            return
        items = doc if isinstance(doc, list) else [doc]
        if not items:
            yield _no_records(path)
        for index, obj in enumerate(items):
            if index >= self._limits.max_records_per_file:
                yield _too_many(path, index, self._limits)
                return
            self._records.inc()
            yield self._from_json(path, index, obj, flags)

    def _read_jsonl(self, path: str, stream: _Bounded) -> Iterator[dict[str, Any]]:
        max_line = self._limits.max_article_chars * 4
        records = 0
        for index, (line, flags) in enumerate(self._jsonl_lines(stream, max_line)):
            if index >= self._limits.max_records_per_file:
                yield _too_many(path, index, self._limits)
                return
            if len(line) > max_line:
                records += 1
                self._records.inc()
                yield error_row(path, STAGE, "LimitExceeded",
                                f"line {index + 1} is over {max_line:,} bytes, longer than an "
                                "article of --max_article_chars can be", line[:500], index)
                continue
            if not line.strip():
                continue
            records += 1
            self._records.inc()
            yield self._json_line(path, index, line, flags)
        if not records:
            yield _no_records(path)

    def _jsonl_lines(self, stream: _Bounded, max_line: int) -> Iterator[tuple[bytes, list[str]]]:
        """(line as UTF-8 bytes, flags) per line; a line over ``max_line`` is cut there.

        UTF-16 JSON lines (with a BOM) are decoded whole, within the JSON document limit.
        """
        line = stream.readline(max_line + 1)
        if line.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            limit = min(self._limits.max_json_bytes, self._limits.max_decompressed_bytes)
            rest = _Bounded(stream, limit, f"UTF-16 JSON lines are over {limit:,} bytes").read()
            text, flags = decode_text(line + rest)
            for part in text.split("\n"):
                yield part.encode("utf-8") + b"\n", flags
            return
        line = line.removeprefix(codecs.BOM_UTF8)
        while line:
            yield line, []
            if len(line) > max_line:
                while line and not line.endswith(b"\n"):  # skip the rest of the long line
                    line = stream.readline(_CHUNK)
            line = stream.readline(max_line + 1)

    def _json_line(self, path: str, index: int, line: bytes, flags: list[str]) -> dict[str, Any]:
        try:
            text, line_flags = decode_text(line)
            obj = json.loads(text)
        except (InputError, ValueError, RecursionError) as e:
            return error_row(path, STAGE, "MalformedJSON", f"line {index + 1}: {_json_message(e)}",
                             line[:500], index)
        return self._from_json(path, index, obj, flags + line_flags)

    def _from_json(self, path: str, index: int, obj: Any, flags: list[str]) -> dict[str, Any]:
        try:
            record = record_from_json(obj)
        except InputError as e:
            return error_row(path, STAGE, "WrongShape", str(e), _json_excerpt(obj), index)
        record["flags"] = flags + record["flags"]
        return self._article(path, index, record, [], None)

    def _article(self, path: str, index: int, record: dict[str, Any], flags: list[str],
                 raw: bytes | None) -> dict[str, Any]:
        body = record["body"]
        if not body:
            return error_row(path, STAGE, "EmptyBody", "the article has no text",
                             raw[:500] if raw else None, index)
        if len(body) > self._limits.max_article_chars:
            return error_row(path, STAGE, "LimitExceeded",
                             f"article is {len(body):,} characters, over --max_article_chars "
                             f"{self._limits.max_article_chars:,}", body[:500], index)
        body_hash = ids.content_hash(body)
        return {
            "article_id": ids.article_id(path, index, body_hash),
            "source_uri": path,
            "record_index": index,
            "url": record.get("url"),
            "title": record.get("title"),
            "body": body,
            "language": record.get("language"),
            "source": record.get("source"),
            "published_raw": record.get("published_raw"),
            "word_count": len(body.split()),
            "content_hash": body_hash,
            "flags": flags + record.get("flags", []),
        }


def _no_records(path: str) -> dict[str, Any]:
    return error_row(path, STAGE, "NoRecords", "the file holds no records")


def _too_many(path: str, index: int, limits: ReadLimits) -> dict[str, Any]:
    return error_row(path, STAGE, "LimitExceeded",
                     f"more than --max_records_per_file {limits.max_records_per_file:,} records;"
                     f" records from {index} on were not read", None, index)


def _os_message(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e) or type(e).__name__


class ReadArticles(beam.PTransform):
    """``--input`` patterns in; outputs ``articles`` (raw rows), ``errors``, ``ingested``.

    ``known`` is an optional side input ``{source_uri: fingerprint}`` of files ingested by earlier
    runs: an unchanged file is skipped, a changed one is read again. Files under ``exclude_dir``
    (the run's own ``--output``) are never read.
    """

    def __init__(self, limits: ReadLimits, settings: DateSettings,
                 known: beam.pvalue.AsSingleton | None = None,
                 exclude_dir: str | None = None) -> None:
        super().__init__()
        self._limits, self._settings, self._known = limits, settings, known
        self._exclude_dir = exclude_dir

    def expand(self, patterns):
        expanded = patterns | "ExpandInputs" >> beam.ParDo(ExpandInputsFn(
            self._limits.follow_symlinks, self._exclude_dir)).with_outputs(ERRORS, main="files")
        files = expanded.files | "SpreadFiles" >> beam.Reshuffle()
        side = [self._known] if self._known is not None else []
        read = files | "ReadFiles" >> beam.ParDo(
            ReadArticleFileFn(self._limits, self._settings), *side).with_outputs(
                ERRORS, INGESTED, main="articles")
        errors = (expanded[ERRORS], read[ERRORS]) | "MergeReadErrors" >> beam.Flatten()
        return {"articles": read.articles, "errors": errors, "ingested": read[INGESTED]}


_LOG.addHandler(logging.NullHandler())
