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
import glob
import gzip
import hashlib
import json
import logging
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from transforms import ids
from transforms.dates import DateSettings, split_leading_date
from transforms.schemas import error_row

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


# ---------------------------------------------------------------------------------------------
# Finding the files
# ---------------------------------------------------------------------------------------------


def _has_scheme(pattern: str) -> bool:
    return "://" in pattern and not pattern.startswith("file://")


def _is_hidden(path: str) -> bool:
    return os.path.basename(path).startswith(".")


def _within(path: str, roots: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _walk(root: str, follow_symlinks: bool) -> Iterator[tuple[str, str | None]]:
    """Files under ``root`` in sorted order; symlink loops and unreadable dirs become errors."""
    seen: set[tuple[int, int]] = set()
    real_roots = [os.path.realpath(root)]
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            st = os.stat(current)
            if (st.st_dev, st.st_ino) in seen:
                yield current, "symlink loop: directory already visited"
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
            try:
                is_link = entry.is_symlink()
                if is_link and not follow_symlinks and not _within(path, real_roots):
                    yield path, "symlink points outside the input root (use --follow_symlinks)"
                    continue
                if entry.is_dir(follow_symlinks=follow_symlinks or is_link and _within(
                        path, real_roots)):
                    subdirs.append(path)
                elif entry.is_file() or not os.path.exists(path):
                    yield path, None
                else:
                    yield path, "not a regular file"
            except OSError as e:
                yield path, f"cannot stat: {e.strerror or e}"
        stack.extend(reversed(subdirs))


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
    if os.path.isdir(pattern):
        yield from _walk(os.path.abspath(pattern), follow_symlinks)
        return
    if os.path.lexists(pattern) or not glob.has_magic(pattern):
        yield os.path.abspath(pattern), None
        return
    for path in sorted(glob.glob(pattern, recursive=True)):
        if os.path.isdir(path):
            yield from _walk(os.path.abspath(path), follow_symlinks)
        elif not _is_hidden(path):
            yield os.path.abspath(path), None


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


def file_fingerprint(path: str) -> tuple[str, int]:
    """(content fingerprint, size in bytes) of the raw file: a changed file gets a new one."""
    h = hashlib.blake2b(digest_size=16)
    size = 0
    with FileSystems.open(path, compression_type="uncompressed") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


class _Bounded:
    """File-like reader that raises InputError once more than ``limit`` bytes come out."""

    def __init__(self, raw: IO[bytes], limit: int, what: str) -> None:
        self._raw, self._limit, self._what, self.count = raw, limit, what, 0

    def read(self, n: int = -1) -> bytes:
        want = self._limit + 1 - self.count if n < 0 else min(n, self._limit + 1 - self.count)
        data = self._raw.read(max(want, 0)) if want > 0 else b""
        self.count += len(data)
        if self.count > self._limit:
            raise InputError(f"{self._what} exceeds the limit of {self._limit:,} bytes")
        return data

    def readline(self, n: int = -1) -> bytes:
        data = self._raw.readline(n)
        self.count += len(data)
        if self.count > self._limit:
            raise InputError(f"{self._what} exceeds the limit of {self._limit:,} bytes")
        return data


def open_decompressed(path: str, compression: str, limits: ReadLimits) -> _Bounded:
    """Opens ``path`` and returns a bounded stream of its decompressed bytes."""
    raw = FileSystems.open(path, compression_type="uncompressed")
    stream: IO[bytes]
    if compression == ".gz":
        stream = gzip.GzipFile(fileobj=raw, mode="rb")
    elif compression == ".bz2":
        stream = bz2.BZ2File(raw, mode="rb")
    else:
        stream = raw
    return _Bounded(stream, limits.max_decompressed_bytes, "decompressed size")


def decode_text(data: bytes) -> tuple[str, list[str]]:
    """Bytes to text: UTF-8 (BOM tolerated), UTF-16 with a BOM, else cp1252/latin-1 with a flag.

    Raises InputError for binary content. Control characters other than whitespace are removed
    (with the flag ``control_chars_removed``) so that offsets into the stored body stay exact.
    """
    flags: list[str] = []
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
            flags.append("decoded_utf16")
        except UnicodeDecodeError as e:
            raise InputError(f"invalid UTF-16 after a UTF-16 byte-order mark: {e.reason}") from e
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            if _looks_binary(data):
                raise InputError("binary content, not text") from None
            try:
                text = data.decode("cp1252")
                flags.append("invalid_utf8_decoded_cp1252")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
                flags.append("invalid_utf8_decoded_latin1")
    if text.startswith("\ufeff"):
        text = text[1:]
    if _CONTROL.search(text):
        controls = len(_CONTROL.findall(text))
        if controls > max(8, len(text) // 20):
            raise InputError("binary content, not text (too many control characters)")
        text = _CONTROL.sub("", text)
        flags.append("control_chars_removed")
    return text, flags


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
        return value
    if isinstance(value, bool):
        flags.append(f"{field}_wrong_type")
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        inner = _pick(value, ("name", "title", "value", "url", "href"))
        if isinstance(inner, str):
            return inner
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value[0]
    flags.append(f"{field}_wrong_type")
    return None


def record_from_json(obj: Any) -> dict[str, Any]:
    """Maps one JSON object with the usual news-dump field names to a raw record.

    Example: ``{"title": "T", "maintext": "B", "date_publish": "2025-07-04"}`` ->
    ``{"title": "T", "body": "B", "published_raw": "2025-07-04", ...}``.
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
    date = _pick(obj, DATE_FIELDS)
    if isinstance(date, int | float) and not isinstance(date, bool):
        date = str(int(date))  # epoch numbers: the date normaliser knows them as strings
    return {
        "body": body.strip(),
        "title": _as_text(_pick(obj, TITLE_FIELDS), "title", flags),
        "published_raw": _as_text(date, "date", flags),
        "url": _as_text(_pick(obj, URL_FIELDS), "url", flags),
        "source": _as_text(_pick(obj, SOURCE_FIELDS), "source", flags),
        "language": _as_text(_pick(obj, LANGUAGE_FIELDS), "language", flags),
        "flags": flags,
    }


# ---------------------------------------------------------------------------------------------
# Beam
# ---------------------------------------------------------------------------------------------


class ExpandInputsFn(beam.DoFn):
    """An ``--input`` pattern in, one file path out per file; problems go to ``errors``.

    Example: ``"seeds/"`` -> ``"/abs/seeds/000_5b6004b25d51efef.txt"``.
    """

    def __init__(self, follow_symlinks: bool = False) -> None:
        self._follow = follow_symlinks
        self._files = Metrics.counter(STAGE, "files")

    def process(self, pattern: str):
        matched = False
        for path, problem in iter_input_files(pattern, self._follow):
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

    def process(self, path: str, known: dict[str, str] | None = None):
        try:
            fingerprint, size = file_fingerprint(path)
        except Exception as e:  # unreadable: permissions, vanished, a directory...
            self._errors.inc()
            return [pvalue.TaggedOutput(ERRORS, error_row(
                path, STAGE, "InputNotReadable", _os_message(e)))]
        if known is not None and known.get(path) == fingerprint:
            return []  # ingested by an earlier run, unchanged
        return self._outputs(path, fingerprint, size)

    def _outputs(self, path: str, fingerprint: str, size: int):
        yield pvalue.TaggedOutput(INGESTED, {
            "source_uri": path, "fingerprint": fingerprint, "size_bytes": size})
        for out in self._read(path, size):
            if "body" in out:
                self._articles.inc()
                yield out
            else:
                self._errors.inc()
                yield pvalue.TaggedOutput(ERRORS, out)

    def _read(self, path: str, size: int) -> Iterator[dict[str, Any]]:
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
            stream = open_decompressed(path, compression, self._limits)
            if ext in JSONL_EXTENSIONS:
                yield from self._read_jsonl(path, stream)
            elif ext in JSON_EXTENSIONS:
                yield from self._read_json(path, stream)
            else:
                yield from self._read_text(path, stream)
        except InputError as e:
            yield error_row(path, STAGE, "InputError", str(e))
        except (OSError, EOFError, zlib.error, ValueError) as e:
            yield error_row(path, STAGE, type(e).__name__, _os_message(e))

    def _read_text(self, path: str, stream: _Bounded) -> Iterator[dict[str, Any]]:
        self._records.inc()
        data = stream.read()
        text, flags = decode_text(data)
        yield self._article(path, 0, parse_text_article(text, self._settings), flags, data)

    def _read_json(self, path: str, stream: _Bounded) -> Iterator[dict[str, Any]]:
        data = _Bounded(stream, self._limits.max_json_bytes, "JSON document").read()
        text, flags = decode_text(data)
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            self._records.inc()
            yield error_row(path, STAGE, "MalformedJSON", f"invalid JSON: {e}", text[:500])
            return
        items = doc if isinstance(doc, list) else [doc]
        for index, obj in enumerate(items):
            if index >= self._limits.max_records_per_file:
                yield _too_many(path, index, self._limits)
                return
            self._records.inc()
            yield self._from_json(path, index, obj, flags)

    def _read_jsonl(self, path: str, stream: _Bounded) -> Iterator[dict[str, Any]]:
        index = -1
        first = True
        while True:
            line_bytes = stream.readline(self._limits.max_article_chars * 4 + 1)
            if not line_bytes:
                return
            index += 1
            if index >= self._limits.max_records_per_file:
                yield _too_many(path, index, self._limits)
                return
            if len(line_bytes) > self._limits.max_article_chars * 4:
                self._records.inc()
                yield error_row(path, STAGE, "LimitExceeded",
                                "line longer than the article size limit", line_bytes[:500],
                                index)
                while line_bytes and not line_bytes.endswith(b"\n"):  # skip the rest of it
                    line_bytes = stream.readline(1 << 20)
                continue
            if first:
                line_bytes = line_bytes.removeprefix(codecs.BOM_UTF8)
                first = False
            if not line_bytes.strip():
                continue
            self._records.inc()
            try:
                text, flags = decode_text(line_bytes)
                obj = json.loads(text)
            except (InputError, json.JSONDecodeError) as e:
                yield error_row(path, STAGE, "MalformedJSON", f"line {index + 1}: {e}",
                                line_bytes[:500], index)
                continue
            yield self._from_json(path, index, obj, flags)

    def _from_json(self, path: str, index: int, obj: Any, flags: list[str]) -> dict[str, Any]:
        try:
            record = record_from_json(obj)
        except InputError as e:
            return error_row(path, STAGE, "WrongShape", str(e),
                             json.dumps(obj, ensure_ascii=False, default=str)[:500], index)
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
    runs: an unchanged file is skipped, a changed one is read again.
    """

    def __init__(self, limits: ReadLimits, settings: DateSettings,
                 known: beam.pvalue.AsSingleton | None = None) -> None:
        super().__init__()
        self._limits, self._settings, self._known = limits, settings, known

    def expand(self, patterns):
        expanded = patterns | "ExpandInputs" >> beam.ParDo(
            ExpandInputsFn(self._limits.follow_symlinks)).with_outputs(ERRORS, main="files")
        files = expanded.files | "SpreadFiles" >> beam.Reshuffle()
        side = [self._known] if self._known is not None else []
        read = files | "ReadFiles" >> beam.ParDo(
            ReadArticleFileFn(self._limits, self._settings), *side).with_outputs(
                ERRORS, INGESTED, main="articles")
        errors = (expanded[ERRORS], read[ERRORS]) | "MergeReadErrors" >> beam.Flatten()
        return {"articles": read.articles, "errors": errors, "ingested": read[INGESTED]}


logging.getLogger(__name__).addHandler(logging.NullHandler())
