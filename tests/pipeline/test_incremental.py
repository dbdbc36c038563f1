"""Scheduled runs into the same output: only new or changed files are ingested, totals add up."""

from __future__ import annotations

import json

from pipeline.main import run
from pipeline.query import connect


def _count(con, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


def test_reruns_ingest_only_new_or_changed_files(tmp_path, ruler_model):
    inbox, out = tmp_path / "inbox", str(tmp_path / "out")
    inbox.mkdir()
    (inbox / "a.txt").write_text("date: 2025-07-01\n\nPakistan and India held talks.")
    (inbox / "b.jsonl").write_text(json.dumps({"body": "Donald Trump met David Allvin."}) + "\n")
    args = ["--input", str(inbox), "--output", out, "--spacy_model", ruler_model,
            "--direct_num_workers=1"]

    run(args)
    con = connect(out)
    assert _count(con, "SELECT count(*) FROM articles") == 2
    first_mentions = _count(con, "SELECT count(*) FROM mentions")

    second = run(args)  # nothing new
    assert second.counters.get("read.articles", 0) == 0
    con = connect(out)
    assert _count(con, "SELECT count(*) FROM articles") == 2
    assert _count(con, "SELECT count(*) FROM mentions") == first_mentions
    assert _count(con, "SELECT count(*) FROM runs") == 2

    # A new file, and a changed file whose first record is unchanged.
    (inbox / "c.txt").write_text("date: 2025-07-03\n\nPakistan spoke to the Pentagon.")
    (inbox / "b.jsonl").write_text(
        json.dumps({"body": "Donald Trump met David Allvin."}) + "\n"
        + json.dumps({"body": "India and Pakistan agreed."}) + "\n")
    run(args)
    con = connect(out)
    assert _count(con, "SELECT count(*) FROM articles") == 4
    assert _count(con, "SELECT count(DISTINCT article_id) FROM articles") == 4
    assert _count(con, "SELECT count(*) FROM ingest_log") == 4
    # Entity totals over all runs equal what the mentions say.
    mismatches = _count(con, """
        SELECT count(*) FROM entities e FULL JOIN (
            SELECT entity_id, count(*) AS n, count(DISTINCT article_id) AS a
            FROM mentions GROUP BY 1) m USING (entity_id)
        WHERE e.mention_count IS DISTINCT FROM m.n OR e.article_count IS DISTINCT FROM m.a""")
    assert mismatches == 0
    pakistan = con.execute(
        "SELECT mention_count, article_count FROM entities WHERE name = 'Pakistan'").fetchall()
    assert pakistan == [(3, 3)]


def test_output_inside_an_input_folder_is_never_read_back(tmp_path, ruler_model):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.txt").write_text("Pakistan and India held talks.")
    out = str(inbox / "out")
    args = ["--input", str(inbox), "--output", out, "--spacy_model", ruler_model,
            "--direct_num_workers=1"]
    run(args)
    second = run(args)
    assert second.counters.get("read.files", 0) == 1
    con = connect(out)
    assert _count(con, "SELECT count(*) FROM errors") == 0
    assert _count(con, "SELECT count(*) FROM articles") == 1
