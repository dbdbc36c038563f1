"""Streaming stages: dedup against stored and earlier articles, per-commit publication, recovery."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import apache_beam as beam
import duckdb
import pyarrow.parquet as pq
from apache_beam.testing.util import assert_that

from tests.beam_testing import local_pipeline
from transforms import ids, sinks, stream
from transforms.near_dup import DedupSettings
from transforms.schemas import TABLES, to_table

STORY = (
    "Pakistan's air force chief paid an official visit to Washington on Wednesday to strengthen "
    "defence ties, the first such visit in over a decade, officials said. He met the US Air "
    "Force chief of staff David Allvin at the Pentagon and discussed training, joint exercises "
    "and the sale of spare parts for ageing fighter jets. The visit comes weeks after the army "
    "chief's own trip and follows a tense month on the border with India, where both sides "
    "traded missile and drone strikes before a ceasefire brokered by foreign mediators took "
    "hold. Analysts in Islamabad said the government hopes to secure new equipment quickly."
)
REWRITE = STORY.replace("officials said", "a spokesman said") + " Talks resume next month."
OTHER = (
    "Showers continued throughout the week in the Bahia cocoa zone, alleviating the drought "
    "since early January and improving prospects for the coming temporao, although normal "
    "humidity levels have not been restored, Comissaria Smith said in its weekly review. The "
    "dry period means the temporao will be late this year. Arrivals for the week ended February "
    "22 were 155,221 bags of 60 kilos making a cumulative total for the season of 5.93 mln "
    "against 5.81 at the same stage last year, and exporters expect the crop to recover."
)


def article(path: str, body: str, day: int = 1, index: int = 0) -> dict:
    h = ids.content_hash(body)
    return {"article_id": ids.article_id(path, index, h), "source_uri": path,
            "record_index": index, "body": body, "content_hash": h, "title": None,
            "published_at": datetime(2025, 7, day, tzinfo=timezone.utc), "date_status": "ok",
            "word_count": len(body.split()), "flags": []}


def test_index_marks_exact_and_near_duplicates_of_earlier_articles():
    index = stream.DedupIndex(DedupSettings())
    first = index.decide(article("/in/a.txt", STORY, day=2))
    copy = index.decide(article("/in/b.txt", STORY, day=1))
    near = index.decide(article("/in/c.txt", REWRITE))
    copy_of_near = index.decide(article("/in/d.txt", REWRITE))
    other = index.decide(article("/in/e.txt", OTHER))

    assert first["duplicate_of"] is None and "_signature" in first
    # Already decided articles are never re-decided, whatever their date.
    assert (copy["duplicate_of"], copy["match_kind"], copy["similarity"]) == (
        first["article_id"], "exact", 1.0)
    assert (near["duplicate_of"], near["match_kind"]) == (first["article_id"], "near")
    assert DedupSettings().near_threshold <= near["similarity"] < 1.0
    # A copy of a near duplicate follows it to the canonical article.
    assert (copy_of_near["duplicate_of"], copy_of_near["match_kind"]) == (
        first["article_id"], "near")
    assert other["duplicate_of"] is None and other["cluster_id"] == other["article_id"]
    assert {copy["cluster_id"], near["cluster_id"]} == {first["article_id"]}
    # The same record read again is dropped.
    assert index.decide(article("/in/a.txt", STORY, day=2)) is None


def test_short_articles_are_matched_exactly_only():
    index = stream.DedupIndex(DedupSettings())
    index.decide(article("/in/a.txt", "Pakistan and India held talks on Wednesday."))
    near = index.decide(article("/in/b.txt", "Pakistan and India held talks on Thursday."))
    assert near["duplicate_of"] is None and "_signature" not in near


def test_stored_articles_and_signatures_are_loaded_from_the_output(tmp_path):
    out = str(tmp_path)
    index = stream.DedupIndex(DedupSettings())
    rows = [index.decide(article("/in/a.txt", STORY)), index.decide(article("/in/b.txt", STORY))]
    signatures = [rows[0].pop("_signature")]
    stream.commit_tables(out, "s1-000001", {"articles": rows, "signatures": signatures})

    stored = stream.load_dedup_index(out, DedupSettings())
    assert len(stored) == 2
    assert stored.decide(article("/in/a.txt", STORY)) is None
    near = stored.decide(article("/in/c.txt", REWRITE))
    assert (near["duplicate_of"], near["match_kind"]) == (rows[0]["article_id"], "near")


def _chunk(path: str, body: str, day: int) -> stream.FileChunk:
    return stream.FileChunk(path, 0.0, articles=[article(path, body, day)],
                            ingested={"source_uri": path, "fingerprint": "f", "size_bytes": 1})


def test_stateful_dedup_keeps_one_canonical_per_story():
    chunks = [_chunk("/in/a.txt", STORY, 3), _chunk("/in/b.txt", STORY, 1),
              _chunk("/in/c.txt", REWRITE, 2), _chunk("/in/d.txt", OTHER, 4)]

    def check(outputs):
        rows = [row for chunk in outputs for row in chunk.articles]
        assert len(rows) == 4
        canonical = {r["source_uri"] for r in rows if r["duplicate_of"] is None}
        assert "/in/d.txt" in canonical and len(canonical) == 2
        by_id = {r["article_id"]: r for r in rows}
        for r in rows:  # every duplicate points at a canonical article of its story
            if r["duplicate_of"] is not None:
                assert by_id[r["duplicate_of"]]["duplicate_of"] is None
                assert r["source_uri"] != "/in/d.txt"
        assert sum(len(chunk.tables["signatures"]) for chunk in outputs
                   if "signatures" in chunk.tables) == 2

    with local_pipeline() as p:
        out = (
            p
            | beam.Create([(stream.DEDUP_KEY, c) for c in chunks])
            | beam.ParDo(stream.DeduplicateStreamFn(
                "/nonexistent-output", DedupSettings()))
        )
        assert_that(out, check)


def test_commit_publishes_whole_files_and_recovery_finishes_or_discards(tmp_path):
    out = str(tmp_path)
    row = stream.DedupIndex(DedupSettings()).decide(article("/in/a.txt", STORY))
    rows = [{k: v for k, v in row.items() if k != "_signature"}]
    ingest = [{"source_uri": "/in/a.txt", "fingerprint": "f", "size_bytes": 1, "run_id": "s1"}]
    assert stream.commit_tables(out, "s1-000001", {"articles": rows, "ingest_log": ingest}) == 2
    assert sorted(os.listdir(tmp_path / "articles")) == ["s1-000001.parquet"]
    assert os.listdir(tmp_path / "_stream" / "staging") == []

    # A commit killed after its marker and one rename; another killed before its marker.
    staging = tmp_path / "_stream" / "staging"
    done = staging / "s1-000002"
    done.mkdir()
    moves = []
    for table in ("articles", "ingest_log"):
        rows_of = rows if table == "articles" else ingest
        src = done / f"{table}.parquet"
        pq.write_table(to_table(rows_of, TABLES[table]), src)
        moves.append([os.path.relpath(src, out),
                      os.path.join(table, "s1-000002.parquet")])
    (done / sinks.COMMIT_MARKER).write_text(json.dumps({"moves": moves}))
    os.replace(done / "articles.parquet", tmp_path / "articles" / "s1-000002.parquet")
    (staging / "s1-000003").mkdir()
    (staging / "s1-000003" / "articles.parquet").write_bytes(b"half a file")

    assert stream.recover_stream(out) == (["s1-000002"], ["s1-000003"])
    assert os.listdir(staging) == []
    n = duckdb.execute(f"SELECT count(*) FROM read_parquet('{out}/ingest_log/*.parquet')")
    assert n.fetchall() == [(2,)]


def test_only_finished_visible_inputs_are_watched(tmp_path):
    root, out = "/data/in", "/data/in/out"
    assert stream.is_watchable("/data/in/2025/a.jsonl.gz", root, out)
    assert not stream.is_watchable("/data/in/.a.txt.Xy12", root, out)  # rsync's temp name
    assert not stream.is_watchable("/data/in/.cache/a.txt", root, out)
    assert not stream.is_watchable("/data/in/a.txt.part", root, out)
    assert not stream.is_watchable("/data/in/out/articles/x.parquet", root, out)


def test_files_listed_together_go_to_dedup_earliest_story_first():
    order = stream.OrderArrivalsFn()
    order.start_bundle()
    late, early = _chunk("/in/a.txt", STORY, 9), _chunk("/in/b.txt", STORY, 1)
    big = [stream.FileChunk("/in/c.jsonl", 0.0, articles=[article("/in/c.jsonl", OTHER, 5, i)],
                            last=i == 1) for i in range(2)]
    for chunk in (late, big[0], early, big[1]):
        assert list(order.process(chunk, timestamp=0)) == []
    released = [wv.value for wv in order.finish_bundle()]
    assert released == [early, *big, late]  # a file's chunks keep their order
