"""The speed benchmark measures the normal pipeline: its article files give the normal rows.

`benchmarks/bench_pipeline.py` turns corpus stories into one ``.txt`` file each and runs
``python -m pipeline`` on the folder. These tests check, on a handful of generated stories and the
fast ruler model, that this gives the same ``articles`` and ``mentions`` rows (ids aside, since
they name the source file) as the normal run on the same stories as one JSONL file. Nothing here
is timed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from benchmarks import bench_pipeline as bench
from pipeline.main import SMALL_INPUT_BYTES, parse_options
from pipeline.query import connect
from transforms.read import parse_text_article

ROOT = Path(__file__).resolve().parents[2]
# Reuters-shaped records: wire dates, indented bodies with surrounding whitespace, an exact
# duplicate, and a record without a body (the benchmark takes the first N stories with one).
STORIES = [
    {"id": "r-1", "title": "PAKISTAN, INDIA TALKS", "date": "26-FEB-1987 15:01:01.79",
     "body": "\n  Pakistan and India held talks on Wednesday,\nReuters reported.\n    Donald "
             "Trump said the Pentagon would watch.\n"},
    {"id": "r-2", "title": "NO BODY", "date": "26-FEB-1987 15:02:00.00", "body": "   "},
    {"id": "r-3", "title": "PENTAGON BRIEFING", "date": "27-FEB-1987 09:00:00.00",
     "body": "The Pentagon said David Allvin flew to India.\n    The US welcomed it."},
    {"id": "r-4", "title": "PAKISTAN, INDIA TALKS", "date": "28-FEB-1987 10:00:00.00",
     "body": "Pakistan and India held talks on Wednesday,\nReuters reported.\n    Donald "
             "Trump said the Pentagon would watch."},
    {"id": "r-5", "title": "SHORT", "date": "1-MAR-1987 11:30:00.00",
     "body": "Reuters: no comment from Pakistan."},
]
ARTICLE_COLUMNS = ("title", "body", "published_raw", "published_at", "date_status", "word_count",
                   "content_hash", "duplicate_of", "cluster_id", "match_kind")
MENTION_COLUMNS = ("entity_id", "text", "label", "start_char", "end_char")


def _run(inputs: Path, output: Path, ruler_model: str) -> dict[str, int]:
    cmd = bench.pipeline_command(inputs, output, ["--spacy_model", ruler_model,
                                                  "--direct_num_workers=1"])
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return bench.parse_counters(done.stdout)


def _story_number(source_uri: str, record_index: int) -> int:
    """The story a row came from: its line in the JSONL file, or the number in its file name."""
    return record_index if source_uri.endswith(".jsonl") else int(Path(source_uri).stem)


def _rows(output: Path) -> tuple[list[tuple], list[tuple]]:
    """Articles and mentions keyed by story number, with article ids replaced by story numbers."""
    con = connect(str(output))
    articles = con.execute(
        f"SELECT article_id, source_uri, record_index, {', '.join(ARTICLE_COLUMNS)} "
        "FROM articles").fetchall()
    story = {a[0]: _story_number(a[1], a[2]) for a in articles}
    by_story = []
    for article_id, _, _, *values in articles:
        row = dict(zip(ARTICLE_COLUMNS, values, strict=True))
        for ref in ("duplicate_of", "cluster_id"):
            row[ref] = story.get(row[ref])
        by_story.append((story[article_id], *row.values()))
    mentions = con.execute(
        f"SELECT article_id, {', '.join(MENTION_COLUMNS)} FROM mentions").fetchall()
    return sorted(by_story), sorted((story[m[0]], *m[1:]) for m in mentions)


@pytest.fixture(scope="module")
def stories(tmp_path_factory) -> tuple[Path, list[bench.Story]]:
    """The records as one JSONL file, and the stories the benchmark reads from it."""
    path = tmp_path_factory.mktemp("corpus") / "stories.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in STORIES), encoding="utf-8")
    return path, bench.read_stories(path, 10)


def test_benchmark_takes_the_first_stories_that_have_a_body(stories):
    path, chosen = stories
    assert [s.title for s in chosen] == [s["title"] for s in STORIES if s["body"].strip()]
    assert [s.title for s in bench.read_stories(path, 2)] == ["PAKISTAN, INDIA TALKS",
                                                              "PENTAGON BRIEFING"]
    assert chosen[0].body.startswith("Pakistan") and not chosen[0].body.endswith("\n")


def test_an_article_file_reads_back_as_its_story(stories):
    _, chosen = stories
    for story in chosen:
        record = parse_text_article(bench.article_text(story))
        assert (record["title"], record["published_raw"], record["body"]) == (
            story.title, story.date, story.body)
    assert sum(bench.word_count(s.body) for s in chosen) == sum(
        len(s["body"].split()) for s in STORIES)


def test_article_files_give_the_rows_of_the_normal_jsonl_run(stories, tmp_path, ruler_model):
    path, chosen = stories
    # The JSONL run keeps the body-less record as an error row; the benchmark skips it, so the
    # JSONL run gets exactly the stories the benchmark writes.
    jsonl = tmp_path / "chosen.jsonl"
    jsonl.write_text("".join(json.dumps({"title": s.title, "date": s.date, "body": s.body})
                             + "\n" for s in chosen), encoding="utf-8")
    folder = tmp_path / "files"
    paths = bench.write_article_files(chosen, folder)
    assert [p.name for p in paths] == [f"{i:05d}.txt" for i in range(len(chosen))]

    normal = _run(jsonl, tmp_path / "out_jsonl", ruler_model)
    files = _run(folder, tmp_path / "out_files", ruler_model)

    assert normal["read.articles"] == files["read.articles"] == len(chosen)
    assert files["read.files"] == len(chosen)
    assert files["dedup.dropped_exact_duplicate"] == 1  # story 3 repeats story 0
    articles_jsonl, mentions_jsonl = _rows(tmp_path / "out_jsonl")
    articles_files, mentions_files = _rows(tmp_path / "out_files")
    assert articles_files == articles_jsonl
    assert mentions_files == mentions_jsonl
    assert len(mentions_files) >= 8  # the ruler found what the stories name


def test_default_run_uses_every_core_for_benchmark_inputs_and_one_process_for_tiny_ones(
        stories, tmp_path, monkeypatch):
    """The benchmark times the defaults: its inputs get one worker process per core (up to 4),
    while a few articles stay in one process, where start-up would cost more than NER saves."""
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    _, chosen = stories
    tiny = tmp_path / "tiny"
    bench.write_article_files(chosen, tiny)
    big = tmp_path / "big"
    repeats = SMALL_INPUT_BYTES // sum(len(bench.article_text(s)) for s in chosen) + 1
    bench.write_article_files(chosen * repeats, big)

    def direct(folder: Path, *flags: str) -> tuple[int | None, str | None]:
        options = parse_options(["--input", str(folder), "--output", str(tmp_path / "o"),
                                 *flags])
        d = options.get_all_options()
        return d["direct_num_workers"], d["direct_running_mode"]

    assert direct(big) == (2, "multi_processing")
    assert direct(tiny)[0] in (None, 1)  # FnApiRunner's own default: one in-process worker
    assert direct(big, "--direct_num_workers=1")[0] == 1  # an explicit choice wins
    assert direct(tiny, "--direct_num_workers=2", "--direct_running_mode=multi_processing") == (
        2, "multi_processing")
