"""Hostile input: every broken, odd or malicious file ends as an article (maybe flagged) or an
error row naming the file and the reason, and the run still exits 0.

One pipeline run (the real entry point, the fast ruler model) reads a folder holding every case;
everything else tests the reader functions directly, without Beam: per-case decoding, limits,
memory bounds of gzip bombs and huge files (peak RSS, measured in a forked child), file finding
(symlinks, loops, globs, FIFOs, permissions) and properties that hold for any input (hypothesis).
Every file is generated here; nothing binary is checked in.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
from apache_beam import pvalue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.main import main
from pipeline.options import NewsOptions
from transforms.dates import STATUSES, DateSettings
from transforms.read import (
    BODY_FIELDS,
    DATE_FIELDS,
    SOURCE_FIELDS,
    TITLE_FIELDS,
    URL_FIELDS,
    InputError,
    ReadArticleFileFn,
    ReadLimits,
    decode_text,
    iter_input_files,
    parse_text_article,
    record_from_json,
)
from transforms.schemas import TABLES

ROOT = Path(__file__).resolve().parents[2]
IS_ROOT = os.geteuid() == 0
MiB = 1 << 20
# The folder run lowers only this limit, so that its gzip bombs stop after 64 MiB of inflating
# (the default, 2 GiB, takes ~20 s of CPU per bomb); the RSS tests below use the defaults.
RUN_MAX_DECOMPRESSED = 64 * MiB


# ---------------------------------------------------------------------------------------------
# Generators of hostile bytes
# ---------------------------------------------------------------------------------------------


def gzip_bomb(inflated: int, member: int = 8 * MiB) -> bytes:
    """A small gzip file of ``inflated`` zero bytes: one member (~8 KB) repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    one = c.compress(bytes(member)) + c.flush()
    return one * (inflated // member)


def bz2_bomb(inflated: int, stream: int = 8 * MiB) -> bytes:
    return bz2.compress(bytes(stream)) * (inflated // stream)


def jsonl(*records: object) -> bytes:
    return "".join(
        (r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records).encode()


@dataclass(frozen=True)
class Art:
    """An expected article: these flags at least, and the body when given."""

    flags: tuple[str, ...] = ()
    body: str | None = None
    index: int = 0


@dataclass(frozen=True)
class Err:
    """An expected error row: its type and a fragment of its message."""

    error_type: str
    message: str
    index: int | None = None


@dataclass
class Case:
    name: str  # path under the input folder
    make: object  # bytes, or a function(path) that creates the entry
    expect: list[Art | Err] = field(default_factory=list)


UNICODE_TEXT = "Pakistan talks: café, naïve, 日本語, emoji 🙂."
LONG_TOKEN = "Pakistan " + "x" * 999_000  # one token of ~1 MB, within --max_article_chars
DEEP = "[" * 100_000 + "]" * 100_000
BIG_INT = "1" + "0" * 5000  # Python refuses to turn 4300+ digits into an int


def _truncated_jsonl_gz() -> bytes:
    whole = gzip.compress(jsonl({"body": "First complete line Pakistan"},
                                {"body": "Second complete line India"}))
    cut = gzip.compress(jsonl({"body": "Third line, cut off " + "z" * 200}))
    return whole + cut[: len(cut) // 2]  # a complete member, then half of another


def _symlink(target: str):
    def make(path: Path) -> None:
        os.symlink(target, path)
    return make


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _unreadable_file(path: Path) -> None:
    path.write_text("Unreadable article about Pakistan.")
    path.chmod(0)


def _unreadable_dir(path: Path) -> None:
    path.mkdir()
    (path / "inside.txt").write_text("Article inside an unreadable folder, Pakistan.")
    path.chmod(0)


def _dir_named_like_file(path: Path) -> None:
    path.mkdir()
    (path / "inner.txt").write_text("Inner article of a folder named x.txt, India.")


def _empty_dir(path: Path) -> None:
    path.mkdir()


DATES = ["0000-01-01", "year 0", "99999-12-31", "2023-02-31", "31 February 2024",
         "9999-12-31T23:59:59Z", "3000-01-01", "1720051200", "1720051200000", "-62135596800",
         "0", "1e10", "2025-13-45", "99999999999999999999", "NaT", "\u0000\u0001"]

CASES = [
    # Text and encodings.
    Case("empty.txt", b"", [Err("EmptyBody", "no text")]),
    Case("whitespace.txt", b" \t\r\n \n\x0c \n", [Err("EmptyBody", "no text")]),
    Case("header_only.txt", b"title: Only a title\ndate: 2025-07-04\n",
         [Err("EmptyBody", "no text")]),
    Case("binary.txt", bytes(range(256)) * 16, [Err("InputError", "binary content")]),
    Case("invalid_utf8.txt", b"Pakistan caf\xe9 with an \x81 undefined byte",
         [Art(("invalid_utf8_decoded_latin1",))]),
    Case("latin1.txt", "Café talks in Pakistan, señor.".encode("latin-1"),
         [Art(("invalid_utf8_decoded_cp1252",), "Café talks in Pakistan, señor.")]),
    Case("utf8_bom.txt", codecs.BOM_UTF8 + UNICODE_TEXT.encode(), [Art((), UNICODE_TEXT)]),
    Case("utf16_le_bom.txt", UNICODE_TEXT.encode("utf-16"),
         [Art(("decoded_utf16",), UNICODE_TEXT)]),
    Case("utf16_be_bom.txt", codecs.BOM_UTF16_BE + "India, in UTF-16 BE.".encode("utf-16-be"),
         [Art(("decoded_utf16",), "India, in UTF-16 BE.")]),
    Case("utf16_no_bom.txt", "Pakistan, in UTF-16 without a BOM.".encode("utf-16-le"),
         [Art(("decoded_utf16_without_bom",), "Pakistan, in UTF-16 without a BOM.")]),
    Case("utf16_broken.txt", codecs.BOM_UTF16_LE + b"P\x00\x00\xd8x\x00",
         [Err("InputError", "invalid UTF-16 after a UTF-16 byte-order mark")]),
    Case("utf32_bom.txt", "India, in UTF-32.".encode("utf-32"),
         [Art(("decoded_utf32",), "India, in UTF-32.")]),
    Case("nul_bytes.txt", b"Pakistan\x00 talks\x00 resumed on Monday in the capital.",
         [Art(("control_chars_removed",), "Pakistan talks resumed on Monday in the capital.")]),
    Case("nul_flood.txt", bytes(10_000) + b"text", [Err("InputError", "control characters")]),
    Case("control_chars.txt", b"\x1b[1mIndia\x07 and\x08 Pakistan\x7f talk",
         [Art(("control_chars_removed",), "[1mIndia and Pakistan talk")]),
    Case("single_token_1mb.txt", LONG_TOKEN.encode(), [Art((), LONG_TOKEN)]),
    Case("just_over_limit.txt", ("y " * 500_001).encode(),
         [Err("LimitExceeded", "over --max_article_chars 1,000,000")]),
    Case("article_50mb.txt", b"Pakistan " + b"word " * 10_000_000,
         [Err("LimitExceeded", "longer than an article of --max_article_chars")]),
    # Compression.
    Case("bomb.txt.gz", gzip_bomb(2 << 30), [Err("LimitExceeded", "text is over")]),
    Case("bomb.jsonl.gz", gzip_bomb(256 * MiB), [
        Err("LimitExceeded", "line 1 is over", 0),
        Err("LimitExceeded", "decompressed size exceeds --max_decompressed_bytes")]),
    Case("bomb.json.gz", gzip_bomb(256 * MiB),
         [Err("LimitExceeded", "decompressed size exceeds --max_decompressed_bytes")]),
    Case("bomb.txt.bz2", bz2_bomb(256 * MiB), [Err("LimitExceeded", "text is over")]),
    Case("truncated.txt.gz", gzip.compress(" ".join(map(str, range(3000))).encode())[:2000],
         [Err("EOFError", "Compressed file ended")]),
    Case("truncated.jsonl.gz", _truncated_jsonl_gz(), [
        Art(index=0), Art(index=1), Err("EOFError", "Compressed file ended")]),
    Case("not_gzip.txt.gz", b"Pakistan, plain text named .gz", [Err("BadGzipFile", "gzip")]),
    Case("not_bz2.json.bz2", b"{}", [Err("OSError", "Invalid data stream")]),
    # JSON of every wrong shape.
    Case("malformed.json", b'{"title": "x", "body": ', [Err("MalformedJSON", "invalid JSON")]),
    Case("empty.json", b"", [Err("MalformedJSON", "Expecting value")]),
    Case("empty_array.json", b"[]", [Err("NoRecords", "no records")]),
    Case("empty.jsonl", b"", [Err("NoRecords", "no records")]),
    Case("blank_lines.jsonl", b"\n \n\t\n", [Err("NoRecords", "no records")]),
    Case("number.json", b"42", [Err("WrongShape", "got int", 0)]),
    Case("string.json", b'"just a string"', [Err("WrongShape", "got str", 0)]),
    Case("null.json", b"null", [Err("WrongShape", "got NoneType", 0)]),
    Case("nested.json", b'{"data": {"article": {"body": "Pakistan"}}}',
         [Err("WrongShape", "no article text", 0)]),
    Case("body_is_object.json", b'{"body": {"text": "Pakistan"}}',
         [Err("WrongShape", "article text field is a dict", 0)]),
    Case("array_of_non_objects.json",
         b'[1, "two", null, [3], true, {"body": "The only object, Pakistan"}]',
         [Err("WrongShape", "got int", 0), Err("WrongShape", "got str", 1),
          Err("WrongShape", "got NoneType", 2), Err("WrongShape", "got list", 3),
          Err("WrongShape", "got bool", 4), Art(index=5)]),
    Case("deep.json", DEEP.encode(), [Err("MalformedJSON", "nested too deeply")]),
    Case("utf16.jsonl", (json.dumps({"body": "UTF-16 line one, Pakistan"}) + "\r\n"
                         + json.dumps({"body": "UTF-16 line two, India"}) + "\r\n"
                         ).encode("utf-16"),
         [Art(("decoded_utf16",), index=0), Art(("decoded_utf16",), index=1)]),
    Case("mixed.jsonl", codecs.BOM_UTF8 + jsonl(
        {"body": "Good line zero about Pakistan"},
        "{not json",
        {"body": "Good line two about India"},
        "",
        "[1, 2]",
        {"title": "no body"},
        {"body": "Good line six about Pakistan"},
        DEEP,
        "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f garbage",
        {"body": "Good line nine about India"},
    ), [Art(index=0), Err("MalformedJSON", "line 2", 1), Art(index=2),
        Err("WrongShape", "got list", 4), Err("WrongShape", "no article text", 5),
        Art(index=6), Err("MalformedJSON", "line 8: JSON nested too deeply", 7),
        Err("MalformedJSON", "line 9: binary content", 8), Art(index=9)]),
    Case("fields.jsonl", jsonl(
        {"text": 42},
        {"body": ["Para one about Pakistan.", "Para two."], "title": {"name": "Named"}},
        {"body": "Odd metadata, India", "title": True, "url": ["https://a.example/1", "x"],
         "source": {"id": 3}, "language": 42, "date": False},
        {"body": None, "text": "Fallback body field, Pakistan"},
        {"body": "", "content": ""},
        {"body": "   "},
        '{"body": "Infinite date, India", "date": 1e999}',
        '{"body": "NaN date, Pakistan", "date": NaN}',
        '{"body": "Lone surrogate \\ud800 here, India", "title": "\\udfff"}',
        '{"body": "Huge number date", "date": ' + BIG_INT + "}",
        '{"body": "Minus huge date, Pakistan", "date": -1e300}',
        '{"body": "Escaped NUL \\u0000 in JSON, India"}',
    ), [Err("WrongShape", "article text field is a int", 0),
        Art(("body_joined_from_list",), "Para one about Pakistan.\n\nPara two.", 1),
        Art(("title_wrong_type", "source_wrong_type", "date_wrong_type"), index=2),
        Art((), "Fallback body field, Pakistan", 3),
        Err("WrongShape", "no article text", 4),
        Err("EmptyBody", "no text", 5),
        Art(("date_wrong_type",), index=6),
        Art(("date_wrong_type",), index=7),
        Art(("invalid_surrogates_replaced",), "Lone surrogate \ufffd here, India", 8),
        Err("MalformedJSON", "line 10: Exceeds the limit", 9),
        Art(index=10),
        Art((), "Escaped NUL \x00 in JSON, India", 11)]),
    Case("dates.jsonl", jsonl(*[{"body": f"Article {i} with an absurd date, Pakistan",
                                 "date": d} for i, d in enumerate(DATES)]),
         [Art(index=i) for i in range(len(DATES))]),
    Case("traversal.jsonl", jsonl({
        "body": "Metadata that looks like paths, India", "title": "../../../escaped.txt",
        "url": "file:///../../escaped", "source": "/tmp/escaped-source",
        "language": "../en"}), [Art()]),
    Case("absurd_header_date.txt", b"date: 31 February 2024\n\nPakistan, on a day that is not.",
         [Art()]),
    # Names, folders, links, permissions.
    Case("with space.txt", b"A file name with spaces, India.", [Art()]),
    Case("ünïcødé 日本語.txt", b"A Unicode file name, Pakistan.", [Art()]),
    Case("new\nline.txt", b"A file name with a newline, India.", [Art()]),
    Case("tab\tand [glob]*?.txt", b"Tab and glob characters in a name, Pakistan.", [Art()]),
    Case("-starts-with-dash.txt", b"A name like an option, India.", [Art()]),
    Case(os.fsdecode(b"latin1-name-\xe9.txt"), b"A name that is not UTF-8.",
         [Err("InputNotReadable", "file name is not valid UTF-8")]),
    Case("x.txt", _dir_named_like_file, []),
    Case("x.txt/inner.txt", None, [Art()]),
    Case("empty_dir.json", _empty_dir, []),
    Case(".hidden.txt", b"Hidden files are skipped, as documented.", []),
    Case("image.png", b"\x89PNG\r\n\x1a\n", [Err("UnsupportedFormat", "unsupported file type")]),
    Case("noext", b"No extension reads as text, Pakistan.", [Art()]),
    Case("pipe.txt", _fifo, [Err("InputNotReadable", "not a regular file")]),
    Case("loop_dir", _symlink("."), [Err("InputNotReadable", "symlink loop")]),
    Case("self_loop.txt", _symlink("self_loop.txt"),
         [Err("InputNotReadable", "Too many levels of symbolic links")]),
    Case("ping.txt", _symlink("pong.txt"),
         [Err("InputNotReadable", "Too many levels of symbolic links")]),
    Case("pong.txt", _symlink("ping.txt"),
         [Err("InputNotReadable", "Too many levels of symbolic links")]),
    Case("dangling.txt", _symlink("missing.txt"),
         [Err("InputNotReadable", "No such file or directory")]),
    Case("inside_link.txt", _symlink("with space.txt"), [Art()]),
    Case("outside_file.txt", None,
         [Err("InputNotReadable", "symlink points outside the input root")]),
    Case("outside_dir", None, [Err("InputNotReadable", "symlink points outside the input root")]),
    # Root reads everything, whatever the mode bits say: then these are articles.
    Case("unreadable.txt", _unreadable_file,
         [Art()] if IS_ROOT else [Err("InputNotReadable", "Permission denied")]),
    Case("unreadable_dir", _unreadable_dir,
         [] if IS_ROOT else [Err("InputNotReadable", "cannot list directory")]),
    Case("unreadable_dir/inside.txt", None, [Art()] if IS_ROOT else []),
    # Entities at the very edges of the body.
    Case("edge_whole_body.txt", b"Pakistan", [Art((), "Pakistan")]),
    Case("edge_both_ends.txt", b" \n\n Pakistan talks with India \n\n ",
         [Art((), "Pakistan talks with India")]),
    Case("edge_inline_date.txt", b" date 2025-07-04 India. Then Pakistan.",
         [Art((), "India. Then Pakistan.")]),
    Case("edge_json.json", b'{"body": "India"}', [Art((), "India")]),
]

EDGE_MENTIONS = {
    "edge_whole_body.txt": [("Pakistan", 0, 8)],
    "edge_both_ends.txt": [("Pakistan", 0, 8), ("India", 20, 25)],
    "edge_inline_date.txt": [("India", 0, 5), ("Pakistan", 12, 20)],
    "edge_json.json": [("India", 0, 5)],
}


def build_folder(root: Path, outside: Path) -> None:
    """Writes every case under ``root``; ``outside`` holds what outside symlinks point to."""
    outside.mkdir()
    (outside / "secret.txt").write_text("Outside the input root: never read.")
    root.mkdir()
    for case in CASES:
        path = root / case.name
        if case.name == "outside_file.txt":
            os.symlink(outside / "secret.txt", path)
        elif case.name == "outside_dir":
            os.symlink(outside, path)
        elif isinstance(case.make, bytes):
            path.write_bytes(case.make)
        elif case.make is not None:
            case.make(path)


def _printable(name: str) -> str:
    return os.fsencode(name).decode("utf-8", "backslashreplace")


# ---------------------------------------------------------------------------------------------
# One run over the whole folder
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, ruler_model):
    base = tmp_path_factory.mktemp("hostile")
    root, out = base / "in", base / "out"
    build_folder(root, base / "outside")
    before = _tree(base)
    try:
        code = main(["--input", str(root), "--output", str(out), "--spacy_model", ruler_model,
                     "--direct_num_workers=1",
                     f"--max_decompressed_bytes={RUN_MAX_DECOMPRESSED}"])
    finally:
        for case in CASES:  # let tmp_path clean-up delete them
            if case.make in (_unreadable_dir, _unreadable_file):
                (root / case.name).chmod(0o700)
    return root, out, code, before, _tree(base)


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime in ns) of everything under ``folder``, links not followed."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            found[os.path.relpath(os.path.join(dirpath, name), folder)] = (st.st_size,
                                                                            st.st_mtime_ns)
    return found


def _query(out: Path, sql: str) -> list[tuple]:
    con = duckdb.connect()
    for table in ("articles", "errors", "mentions", "ingest_log"):
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM "
                    f"read_parquet('{out}/{table}/*.parquet')")
    return con.execute(sql).fetchall()


def test_the_run_finishes_with_exit_code_0(hostile_run):
    assert hostile_run[2] == 0


def test_every_record_is_an_article_or_an_error_naming_file_and_reason(hostile_run):
    root, out = hostile_run[:2]
    articles = _query(out, "SELECT source_uri, record_index, flags, body FROM articles")
    errors = _query(out, "SELECT source_uri, record_index, error_type, message FROM errors")
    expected_records = sum(len(case.expect) for case in CASES)
    assert len(articles) + len(errors) == expected_records

    got: dict[str, list] = {}
    for uri, index, flags, body in articles:
        got.setdefault(os.path.relpath(uri, root), []).append(("A", index, set(flags), body))
    for uri, index, error_type, message in errors:
        got.setdefault(os.path.relpath(uri, root), []).append(("E", index, error_type, message))
    problems = []
    for case in CASES:
        rows = sorted(got.pop(_printable(case.name), []), key=lambda r: (r[1] is None, r[1] or 0))
        if len(rows) != len(case.expect):
            problems.append(f"{case.name!r}: expected {case.expect}, got {rows}")
            continue
        for want, row in zip(case.expect, rows, strict=True):
            if isinstance(want, Art):
                ok = (row[0] == "A" and row[1] == want.index and set(want.flags) <= row[2]
                      and (want.body is None or row[3] == want.body))
            else:
                ok = (row[0] == "E" and row[2] == want.error_type and want.message in row[3]
                      and (want.index is None or row[1] == want.index))
            if not ok:
                problems.append(f"{case.name!r}: expected {want}, got {str(row)[:300]}")
    assert not problems, "\n".join(problems)
    assert not got, f"rows from files that are not cases: {got}"


def test_absurd_dates_are_articles_with_a_status_never_a_wrong_instant(hostile_run):
    rows = _query(hostile_run[1], """
        SELECT published_raw, published_at, date_status FROM articles
        WHERE source_uri LIKE '%dates.jsonl' OR source_uri LIKE '%absurd_header_date.txt'""")
    assert len(rows) == len(DATES) + 1
    by_raw = {raw: (at, status) for raw, at, status in rows}
    for raw, (at, status) in by_raw.items():
        assert status in STATUSES
        assert (at is None) == (status != "ok"), raw
        if at is not None:
            assert 1000 <= at.year <= 2200, raw
    for impossible in ("0000-01-01", "99999-12-31", "2023-02-31", "31 February 2024",
                       "9999-12-31T23:59:59Z", "3000-01-01", "2025-13-45"):
        assert by_raw[impossible][1] != "ok", impossible
    assert by_raw["1720051200"][0].isoformat() == "2024-07-04T00:00:00+00:00"
    assert by_raw["1720051200000"][0].isoformat() == "2024-07-04T00:00:00+00:00"


def test_mentions_at_the_edges_of_the_body_index_it_exactly(hostile_run):
    out = hostile_run[1]
    bad = _query(out, """
        SELECT m.text, m.start_char, m.end_char, length(a.body) FROM mentions m
        JOIN articles a USING (article_id)
        WHERE m.start_char < 0 OR m.end_char > length(a.body) OR m.start_char >= m.end_char
           OR substr(a.body, m.start_char + 1, m.end_char - m.start_char) <> m.text""")
    assert bad == []
    for name, expected in EDGE_MENTIONS.items():
        got = _query(out, f"""
            SELECT m.text, m.start_char, m.end_char FROM mentions m
            JOIN articles a USING (article_id) WHERE a.source_uri LIKE '%/{name}'
            ORDER BY m.start_char""")
        assert got == expected, name


def test_no_duplicate_ids_and_nothing_read_from_outside_the_root(hostile_run):
    out = hostile_run[1]
    assert _query(out, "SELECT article_id FROM articles GROUP BY 1 HAVING count(*) > 1") == []
    assert _query(out, "SELECT * FROM articles WHERE body LIKE '%Outside the input root%'") == []
    outside = _query(out, "SELECT source_uri FROM ingest_log WHERE source_uri LIKE '%outside%'")
    assert outside == []


def test_nothing_is_written_outside_the_output_folder(hostile_run):
    """Input is data: no field of it names a path that gets written, nothing in the input
    folder changes, and the output holds table files only."""
    _, _, _, before, after = hostile_run
    written = {name: stat for name, stat in after.items() if before.get(name) != stat}
    assert {n for n in written if n.split("/")[0] != "out"} == set()
    assert before.keys() <= after.keys()  # nothing deleted either
    for name in written:
        parts = name.split("/")
        if parts[0] != "out" or len(parts) == 1:
            continue
        assert parts[1] in TABLES or parts[1] == "_staging", name
        if len(parts) == 3 and parts[1] in TABLES:
            assert parts[2].endswith(".parquet"), name
    assert not any("_staging/" in n for n in written), "staging left behind"


def test_no_code_is_loaded_from_input():
    """Input is parsed with json and text decoding only: no pickle, eval, exec or YAML objects."""
    risky = ("pickle.load", "pickle.loads", "yaml.load(", "yaml.unsafe_load", "yaml.full_load",
             "eval(", "exec(", "marshal.load", "shelve.open", "jsonpickle", "dill.load")
    hits = []
    for folder in ("transforms", "pipeline"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if any(word in line for word in risky) and not line.lstrip().startswith("#"):
                    hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert hits == []


# ---------------------------------------------------------------------------------------------
# The reader without Beam
# ---------------------------------------------------------------------------------------------


def read_file(path: Path | str, limits: ReadLimits = ReadLimits()) -> tuple[list, list]:
    """(articles, errors) that ReadArticleFileFn makes of one file."""
    articles, errors = [], []
    for out in ReadArticleFileFn(limits, DateSettings()).process(str(path)):
        if isinstance(out, pvalue.TaggedOutput):
            if out.tag == "errors":
                errors.append(out.value)
        else:
            articles.append(out)
    return articles, errors


@pytest.mark.parametrize("data, text, flags", [
    (b"", "", []),
    (codecs.BOM_UTF8, "", []),
    (b"plain", "plain", []),
    ("Grüße".encode("utf-16-le"), "Grüße", ["decoded_utf16_without_bom"]),
    ("Grüße".encode("utf-16-be"), "Grüße", ["decoded_utf16_without_bom"]),
    (codecs.BOM_UTF16_LE + b"\x00\x00A\x00", "A", ["decoded_utf16", "control_chars_removed"]),
    ("Smart “quotes”".encode("cp1252"), "Smart “quotes”", ["invalid_utf8_decoded_cp1252"]),
    (b"tab\tnewline\ncr\rff\x0c", "tab\tnewline\ncr\rff\x0c", []),
])
def test_decode_text_cases(data, text, flags):
    assert decode_text(data) == (text, flags)


@pytest.mark.parametrize("data", [bytes(range(256)), bytes(1000), b"\x01\x02" * 100,
                                  codecs.BOM_UTF16_LE + b"\x00\xd8"])
def test_decode_text_refuses_binary_with_input_error(data):
    with pytest.raises(InputError):
        decode_text(data)


def test_each_limit_exceeded_is_an_error_row(tmp_path):
    small = tmp_path / "small.txt"
    small.write_text("Pakistan " * 200)
    assert read_file(small, ReadLimits(max_file_bytes=100))[1][0]["message"].startswith(
        "file is 1,800 bytes, over --max_file_bytes 100")

    packed = tmp_path / "packed.jsonl.gz"
    packed.write_bytes(gzip.compress(jsonl(*[{"body": f"Article {i}"} for i in range(100)])))
    articles, errors = read_file(packed, ReadLimits(max_decompressed_bytes=1000))
    assert 0 < len(articles) < 100  # the records before the limit are kept
    assert [e["error_type"] for e in errors] == ["LimitExceeded"]
    assert "--max_decompressed_bytes 1,000" in errors[0]["message"]

    assert read_file(small, ReadLimits(max_article_chars=100))[1][0]["error_type"] == (
        "LimitExceeded")
    lines = tmp_path / "lines.jsonl"
    lines.write_bytes(jsonl({"body": "short"}, {"body": "long " * 100}, {"body": "short too"}))
    articles, errors = read_file(lines, ReadLimits(max_article_chars=100))
    assert [a["record_index"] for a in articles] == [0, 2]
    assert [(e["record_index"], e["error_type"]) for e in errors] == [(1, "LimitExceeded")]

    for name, data in [("many.jsonl", jsonl(*[{"body": f"A {i}"} for i in range(10)])),
                       ("many.json", json.dumps([{"body": f"A {i}"} for i in range(10)]))]:
        (tmp_path / name).write_bytes(data if isinstance(data, bytes) else data.encode())
        articles, errors = read_file(tmp_path / name, ReadLimits(max_records_per_file=3))
        assert len(articles) == 3
        assert [(e["record_index"], e["error_type"]) for e in errors] == [(3, "LimitExceeded")]
        assert "more than --max_records_per_file 3 records" in errors[0]["message"]

    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps([{"body": "x" * 100}] * 20))
    (error,) = read_file(doc, ReadLimits(max_json_bytes=1000))[1]
    assert error["error_type"] == "LimitExceeded" and "JSON document is over" in error["message"]


def test_limits_are_options_whose_defaults_are_the_safe_defaults():
    from apache_beam.options.pipeline_options import PipelineOptions

    defaults = PipelineOptions([]).view_as(NewsOptions).read_limits()
    assert defaults == ReadLimits(max_json_bytes=defaults.max_json_bytes)
    assert defaults.max_article_chars <= 1_000_000  # spaCy's own max_length
    assert defaults.max_decompressed_bytes <= 2 * 1024**3
    assert defaults.follow_symlinks is False
    set_all = PipelineOptions([
        "--max_article_chars=5", "--max_file_bytes=6", "--max_decompressed_bytes=7",
        "--max_records_per_file=8", "--follow_symlinks"]).view_as(NewsOptions).read_limits()
    assert (set_all.max_article_chars, set_all.max_file_bytes, set_all.max_decompressed_bytes,
            set_all.max_records_per_file, set_all.follow_symlinks) == (5, 6, 7, 8, True)


_RSS_PROBE = textwrap.dedent("""
    import json, os, resource, sys
    from apache_beam import pvalue
    from transforms.dates import DateSettings
    from transforms.read import ReadArticleFileFn, ReadLimits

    def peak_kib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    for path, limits in json.loads(sys.argv[1]):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # a fresh high-water mark per file: the child's starts at the parent's RSS
            start = peak_kib()
            fn = ReadArticleFileFn(ReadLimits(**limits), DateSettings())
            rows = [o.value if isinstance(o, pvalue.TaggedOutput) else o for o in fn.process(path)]
            errors = [[e["error_type"], e["message"]] for e in rows if "error_type" in e]
            os.write(w, json.dumps([path, (peak_kib() - start) // 1024, errors]).encode())
            os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            print(f.read(), flush=True)
        os.waitpid(pid, 0)
""")


def test_gzip_bombs_and_a_50_mb_article_take_bounded_memory(tmp_path):
    """Peak RSS growth per file, default limits (jsonl: 128 MiB instead of 2 GiB, for time)."""
    files = {
        "bomb.txt.gz": (gzip_bomb(2 << 30), {}),  # 2 GiB of zeros in 2 MB
        "bomb.json.gz": (gzip_bomb(1 << 30), {}),  # over the 256 MiB JSON document limit
        "bomb.jsonl.gz": (gzip_bomb(512 * MiB), {"max_decompressed_bytes": 128 * MiB}),
        "article_50mb.txt": (b"Pakistan " + b"word " * 10_000_000, {}),
    }
    jobs = []
    for name, (data, limits) in files.items():
        (tmp_path / name).write_bytes(data)
        jobs.append([str(tmp_path / name), limits])
    done = subprocess.run([sys.executable, "-c", _RSS_PROBE, json.dumps(jobs)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=True)
    growth = {}
    for line in done.stdout.splitlines():
        path, mib, errors = json.loads(line)
        growth[os.path.basename(path)] = mib
        assert [e[0] for e in errors][-1] == "LimitExceeded", (path, errors)
    print("peak RSS growth (MiB):", growth)
    assert growth["bomb.txt.gz"] < 64
    assert growth["article_50mb.txt"] < 64
    assert growth["bomb.jsonl.gz"] < 64
    assert growth["bomb.json.gz"] < 256 + 64  # a .json is parsed whole: up to its limit


def _without_file_permission_override() -> None:
    """In a child before exec: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding
    set, so that root, too, gets EACCES on a file of mode 000."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for cap in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_unreadable_file_and_folder_become_error_rows_even_when_tests_run_as_root(tmp_path):
    """Root ignores mode bits; as root the reader runs in a child without that privilege."""
    (tmp_path / "locked.txt").write_text("Pakistan")
    (tmp_path / "locked.txt").chmod(0)
    (tmp_path / "locked_dir").mkdir()
    (tmp_path / "locked_dir" / "a.txt").write_text("India")
    (tmp_path / "locked_dir").chmod(0)
    probe = textwrap.dedent(f"""
        import json
        from transforms.dates import DateSettings
        from transforms.read import ReadArticleFileFn, ReadLimits, iter_input_files
        fn = ReadArticleFileFn(ReadLimits(), DateSettings())
        print(json.dumps([list(iter_input_files({str(tmp_path)!r})),
                          [o.value for o in fn.process({str(tmp_path / 'locked.txt')!r})]]))
    """)
    try:
        done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                              text=True, timeout=120,
                              preexec_fn=_without_file_permission_override if IS_ROOT else None)
    except subprocess.SubprocessError as e:
        pytest.skip(f"running as root without CAP_SETPCAP, cannot drop the override: {e}")
    finally:
        (tmp_path / "locked.txt").chmod(0o600)
        (tmp_path / "locked_dir").chmod(0o700)
    assert done.returncode == 0, done.stderr[-2000:]
    found, errors = json.loads(done.stdout.splitlines()[-1])
    assert [str(tmp_path / "locked_dir"), "cannot list directory: Permission denied"] in found
    assert [str(tmp_path / "locked.txt"), None] in found  # listed; reading it fails
    assert [(e["error_type"], e["message"]) for e in errors] == [
        ("InputNotReadable", "Permission denied")]


# ---------------------------------------------------------------------------------------------
# Finding files: links, loops, globs, special files
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def linked_tree(tmp_path):
    """root/{a.txt, sub/b.txt, sub/up -> .., sub/self -> ., out.txt -> ../outside/c.txt,
    outdir -> ../outside}, outside/c.txt."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    (outside / "c.txt").write_text("c")
    os.symlink("..", root / "sub" / "up")
    os.symlink(".", root / "sub" / "self")
    os.symlink(outside / "c.txt", root / "out.txt")
    os.symlink(outside, root / "outdir")
    return root, outside


def _names(found, root) -> dict[str, str | None]:
    return {os.path.relpath(p, root): problem for p, problem in found}


@pytest.mark.parametrize("pattern", ["{root}", "{root}/**/*.txt", "{root}/**", "{root}/*"])
def test_symlink_loops_end_and_outside_links_are_refused(linked_tree, pattern):
    root, _ = linked_tree
    signal.signal(signal.SIGALRM, _too_slow)
    signal.alarm(30)  # glob.glob itself never ends on this tree
    try:
        found = _names(iter_input_files(pattern.format(root=root)), root)
    finally:
        signal.alarm(0)
    assert found["a.txt"] is None and found["sub/b.txt"] is None
    assert "outside the input root" in found["out.txt"]
    assert "outside the input root" in found["outdir"]
    assert not any(name.startswith(("outdir/", "sub/up/", "sub/self/")) for name in found)


def _too_slow(*_) -> None:
    raise TimeoutError("walking the input did not end")


def test_follow_symlinks_reads_outside_links_once(linked_tree):
    root, _ = linked_tree
    found = _names(iter_input_files(str(root), follow_symlinks=True), root)
    assert found["out.txt"] is None and found["outdir/c.txt"] is None
    assert "symlink loop" in found["sub/up"]


def test_glob_matches_like_glob_without_following_loops(linked_tree):
    root, _ = linked_tree
    (root / "sub" / "c.json").write_text("{}")
    found = _names(iter_input_files(f"{root}/*/*.json"), root)
    assert found.pop("sub/c.json") is None
    # Python's glob would have read outdir/*.json; refusing it is reported.
    assert found == {"outdir": "symlink points outside the input root (use --follow_symlinks)"}
    found = _names(iter_input_files(f"{root}/s?b"), root)  # a matched folder is read whole
    assert {name for name, problem in found.items() if problem is None} == {
        "sub/b.txt", "sub/c.json"}
    assert {name for name, problem in found.items() if "symlink loop" in (problem or "")} == {
        "sub/up", "sub/self"}
    assert _names(iter_input_files(f"{root}/nothing*"), root) == {}


def test_special_files_and_undecodable_names_are_refused_not_opened(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert list(iter_input_files(str(fifo))) == [(str(fifo), "not a regular file")]
    assert list(iter_input_files("/dev/zero")) == [("/dev/zero", "not a regular file")]
    bad = os.path.join(os.fsencode(tmp_path), b"bad\xff.txt")
    with open(bad, "wb") as f:
        f.write(b"x")
    ((path, problem),) = [x for x in iter_input_files(str(tmp_path)) if "bad" in x[0]]
    assert path.endswith("bad\\xff.txt") and "not valid UTF-8" in problem
    path.encode("utf-8")  # printable: it can go into a row


# ---------------------------------------------------------------------------------------------
# Properties: no input makes a reader raise anything but InputError; same input, same output
# ---------------------------------------------------------------------------------------------

PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=200)  # surrogates included
HEADERS = st.lists(st.sampled_from([
    "date", "Date:", "title:", "url ", "source=", "language:", "lang ", "headline", " date",
    "published", "link:"]), max_size=3)


def _utf8_ok(value) -> bool:
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, dict):
        for k, v in value.items():
            _utf8_ok(k)
            _utf8_ok(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _utf8_ok(v)
    return True


@PROPERTY
@given(st.one_of(st.binary(max_size=300),
                 ANY_TEXT.map(lambda t: t.encode("utf-16", "surrogatepass")),
                 ANY_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_decode_text_gives_clean_text_or_input_error(data):
    try:
        text, flags = decode_text(data)
    except InputError:
        with pytest.raises(InputError):
            decode_text(data)
        return
    assert decode_text(data) == (text, flags)
    assert _utf8_ok(text) and not any(c in text for c in "\x00\x01\x1b\x7f")


@PROPERTY
@given(HEADERS, st.lists(ANY_TEXT, max_size=3))
def test_parse_text_article_never_raises_and_body_is_a_slice_of_the_text(keys, values):
    text = "\n".join(f"{k} {v}" for k, v in zip(keys, values, strict=False)) + "\n" + (
        values[-1] if values else "")
    record = parse_text_article(text)
    assert record == parse_text_article(text)
    assert record["body"] in text and record["body"] == record["body"].strip()
    assert all(isinstance(v, str) for v in record.values())


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), ANY_TEXT)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(ANY_TEXT, inner, max_size=3)),
    max_leaves=10)
FIELD_NAMES = st.sampled_from(
    BODY_FIELDS[:3] + TITLE_FIELDS[:2] + DATE_FIELDS[:4] + URL_FIELDS[:2] + SOURCE_FIELDS[:2]
    + ("language", "lang", "other"))


@PROPERTY
@given(st.one_of(JSON_VALUES, st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=6)))
def test_record_from_json_gives_a_utf8_record_or_input_error(obj):
    try:
        record = record_from_json(obj)
    except InputError:
        return
    assert record == record_from_json(obj)
    assert _utf8_ok(record)
    assert isinstance(record["body"], str)
    assert all(v is None or isinstance(v, str) for k, v in record.items() if k != "flags")


@PROPERTY
@given(st.sampled_from([".txt", ".json", ".jsonl", ".txt.gz", ".jsonl.bz2"]),
       st.one_of(st.binary(max_size=400),
                 st.lists(st.one_of(JSON_VALUES.map(
                     lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
                     st.binary(max_size=40)), max_size=5).map(b"\n".join)))
def test_reading_any_file_yields_rows_never_an_exception(ext, data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"f{ext}"
        if ext.endswith(".gz") and data[:1] == b"\x01":
            data = gzip.compress(data)
        elif ext.endswith(".bz2") and data[:1] == b"\x01":
            data = bz2.compress(data)
        path.write_bytes(data)
        first = read_file(path)
        assert first == read_file(path)
    for row in first[0] + first[1]:
        assert _utf8_ok(row)
    assert first[0] or first[1]  # every file leaves a trace
