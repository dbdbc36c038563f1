"""Reading: every format, header forms, encodings, and broken files as error rows."""

from __future__ import annotations

import bz2
import gzip
import json
import os

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from tests.beam_testing import local_pipeline
from transforms import ids
from transforms.dates import DateSettings
from transforms.read import (
    InputError,
    ReadArticles,
    ReadLimits,
    decode_text,
    iter_input_files,
    parse_text_article,
    record_from_json,
    split_extension,
)

SEED_START = " date 2025-07-04 After Pakistan witnessed some air defence systems.\n\nSecond para."


def test_inline_date_header_starts_the_body():
    record = parse_text_article(SEED_START)
    assert record["published_raw"] == "2025-07-04"
    assert record["body"] == "After Pakistan witnessed some air defence systems.\n\nSecond para."


def test_inline_date_of_several_tokens():
    record = parse_text_article("date July 4, 2025 After the talks, Islamabad said.")
    assert record["published_raw"] == "July 4, 2025"
    assert record["body"] == "After the talks, Islamabad said."


def test_header_block_then_body_kept_as_written():
    text = ("Title: Talks resume\nURL: https://example.com/a\nsource: Example News\n"
            "language: en\nDate: 2025-07-04T10:00:00Z\n\n  Line one\n   indented two  \n")
    record = parse_text_article(text)
    assert record["title"] == "Talks resume"
    assert record["url"] == "https://example.com/a"
    assert record["source"] == "Example News"
    assert record["language"] == "en"
    assert record["published_raw"] == "2025-07-04T10:00:00Z"
    assert record["body"] == "Line one\n   indented two"


def test_words_that_look_like_keys_stay_in_the_body():
    text = "Date palm farmers in Basra said on Monday that yields fell."
    record = parse_text_article(text)
    assert "published_raw" not in record
    assert record["body"] == text


def test_json_field_names_of_news_dumps():
    record = record_from_json({
        "title": "T", "maintext": " Body text ", "date_publish": "2025-07-04 10:00:00",
        "url": "https://x.org/1", "source_domain": "x.org", "language": "en"})
    assert record == {"title": "T", "body": "Body text", "published_raw": "2025-07-04 10:00:00",
                      "url": "https://x.org/1", "source": "x.org", "language": "en", "flags": []}
    alt = record_from_json({"headline": "H", "content": "C", "published_at": 1720051200})
    assert (alt["title"], alt["body"], alt["published_raw"]) == ("H", "C", "1720051200")


@pytest.mark.parametrize("obj", [42, [1, 2], {"title": "no body"}, {"body": {"nested": 1}}])
def test_wrong_shapes_raise_input_error(obj):
    with pytest.raises(InputError):
        record_from_json(obj)


def test_decoding_utf8_bom_utf16_and_latin1():
    assert decode_text("\ufeffCafé".encode())[0] == "Café"
    text, flags = decode_text("Café news".encode("utf-16"))
    assert text == "Café news" and flags == ["decoded_utf16"]
    text, flags = decode_text("Café".encode("latin-1"))
    assert text == "Café" and flags[0].startswith("invalid_utf8")
    text, flags = decode_text(b"a\x07b")
    assert text == "ab" and flags == ["control_chars_removed"]
    with pytest.raises(InputError):
        decode_text(b"\x00\x01\x02\xff" * 100)


def test_split_extension():
    assert split_extension("/a/b.JSONL.gz") == (".jsonl", ".gz")
    assert split_extension("story") == ("", "")
    assert split_extension("a.txt.bz2") == (".txt", ".bz2")


def test_directories_are_walked_recursively_and_hidden_files_skipped(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("x")
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / ".hidden.txt").write_text("x")
    found = [os.path.basename(p) for p, problem in iter_input_files(str(tmp_path))]
    assert found == ["a.txt", "b.txt"]


def _write_inputs(root) -> None:
    (root / "story.txt").write_text("title: One\ndate: 2025-07-04\n\nPakistan and India talk.")
    (root / "dump.json").write_text(json.dumps([
        {"title": "Two", "maintext": "Body two", "date_publish": "2025-07-05"},
        {"title": "Three", "text": "Body three"},
        7,
    ]))
    lines = [json.dumps({"body": "Body four"}), "{not json", json.dumps({"title": "no body"})]
    (root / "feed.jsonl").write_text("\n".join(lines) + "\n")
    with gzip.open(root / "z.jsonl.gz", "wt") as f:
        f.write(json.dumps({"content": "Body five"}) + "\n")
    (root / "y.txt.bz2").write_bytes(bz2.compress(b"Body six"))
    (root / "empty.txt").write_text("  \n ")
    (root / "broken.json").write_text('{"title": ')
    (root / "photo.png").write_bytes(b"\x89PNG\r\n")


def test_read_articles_every_format_and_error(tmp_path):
    _write_inputs(tmp_path)
    with local_pipeline() as p:
        out = (p | beam.Create([str(tmp_path)])
               | ReadArticles(ReadLimits(), DateSettings()))
        bodies = out["articles"] | "Bodies" >> beam.Map(lambda r: r["body"])
        assert_that(bodies, equal_to([
            "Pakistan and India talk.", "Body two", "Body three", "Body four", "Body five",
            "Body six"]), label="articles")
        reasons = out["errors"] | "Reasons" >> beam.Map(
            lambda r: (os.path.basename(r["source_uri"]), r["record_index"], r["error_type"]))
        assert_that(reasons, equal_to([
            ("dump.json", 2, "WrongShape"),
            ("feed.jsonl", 1, "MalformedJSON"),
            ("feed.jsonl", 2, "WrongShape"),
            ("empty.txt", 0, "EmptyBody"),
            ("broken.json", None, "MalformedJSON"),
            ("photo.png", None, "UnsupportedFormat"),
        ]), label="errors")
        files = out["ingested"] | "Files" >> beam.Map(lambda r: os.path.basename(r["source_uri"]))
        assert_that(files, equal_to([
            "story.txt", "dump.json", "feed.jsonl", "z.jsonl.gz", "y.txt.bz2", "empty.txt",
            "broken.json", "photo.png"]), label="ingested")


def test_ids_depend_on_path_index_and_content(tmp_path):
    _write_inputs(tmp_path)
    story = str(tmp_path / "story.txt")
    expected = ids.article_id(story, 0, ids.content_hash("Pakistan and India talk."))

    def check(rows):
        article_ids = [r["article_id"] for r in rows]
        assert len(set(article_ids)) == len(article_ids) == 6
        assert [r["article_id"] for r in rows if r["source_uri"] == story] == [expected]

    with local_pipeline() as p:
        out = p | beam.Create([str(tmp_path)]) | ReadArticles(ReadLimits(), DateSettings())
        assert_that(out["articles"], check)
