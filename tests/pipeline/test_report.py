"""The HTML run report: built from a real run's output, every number checked against DuckDB.

The run uses a blank spaCy pipeline with an entity_ruler (the conftest patterns plus two hostile
names), so it takes seconds; the inputs carry hostile titles, a hostile file name, undated,
future and pre-1900 dates, an exact duplicate and broken records.
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser

import pytest

from pipeline.main import main, run
from pipeline.query import connect
from pipeline.report import REPORT_FILE, duration
from tests.conftest import RULER_PATTERNS

HOSTILE_TITLE = '<script>alert("title")</script> see https://cdn.example.com/x.js'
HOSTILE_ORG = "Evil <img src=x onerror=alert(1)> Corp"
DOLLAR_ORG = "$Acme$ Ltd"
HOSTILE_FILE = "<b onmouseover=alert(1)>feed.jsonl"
SECTIONS = ("overview", "runs", "dates", "entities", "pairs", "timeline", "errors", "versions")


class Page(HTMLParser):
    """Reads the report back: tables per section, cards, tags, and the markup without text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[list[str]]]] = {}
        self.cards: dict[str, str] = {}
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.markup: list[str] = []
        self._section = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._card: str | None = None
        self._card_text: list[str] = []
        self._in_style = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs_d = dict(attrs)
        self.tags.append((tag, attrs_d))
        self.markup.append(f"<{tag} " + " ".join(f"{k}={v}" for k, v in attrs) + ">")
        if tag == "section":
            self._section = attrs_d["id"]
        elif tag == "table":
            self.tables.setdefault(self._section, []).append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "div" and "data-figure" in attrs_d:
            self._card, self._card_text = attrs_d["data-figure"], []
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._section][-1].append(self._row)
            self._row = None
        elif tag == "strong" and self._card:
            self.cards[self._card] = "".join(self._card_text)
            self._card = None
        self._in_style = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._card:
            self._card_text.append(data)
        if self._in_style:
            self.markup.append(data)  # CSS is markup: a url() there would be fetched

    def table(self, section: str, index: int = 0) -> list[list[str]]:
        """Body rows (header dropped) of the ``index``-th table of ``section``."""
        return self.tables[section][index][1:]


def _write_inputs(folder) -> None:
    folder.mkdir()
    story = ("Donald Trump said Pakistan and India would talk. The Pentagon agreed. "
             f"{HOSTILE_ORG} and {DOLLAR_ORG} were named.")
    (folder / "a.txt").write_text(f"title: {HOSTILE_TITLE}\ndate: 2025-07-04\n\n{story}\n")
    (folder / "a_copy.txt").write_text(f"date: 2025-07-09\n\n{story}\n")
    (folder / "more.json").write_text(json.dumps([
        {"title": "Talks go on", "maintext": "Donald Trump met the US team; Pakistan waited.",
         "date_publish": "2025-07-20 09:30:00"},
        {"title": "No date here", "maintext": "Reuters reported from India."},
        {"title": "Far future", "maintext": "India and Pakistan.", "date": "2150-01-01"},
        {"title": "Long ago", "maintext": "The US and India.", "date": "1850-03-01"},
        {"headline": "no text"},
    ]))
    (folder / HOSTILE_FILE).write_text('{"text": "David Allvin spoke."}\n{broken\n')
    (folder / "empty.txt").write_text("")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([*RULER_PATTERNS, {"label": "ORG", "pattern": HOSTILE_ORG},
                        {"label": "ORG", "pattern": DOLLAR_ORG}])
    path = tmp_path_factory.mktemp("models") / "hostile_ruler"
    nlp.to_disk(path)
    return str(path)


@pytest.fixture(scope="module")
def report(tmp_path_factory, model):
    root = tmp_path_factory.mktemp("report")
    _write_inputs(root / "in")
    out = root / "out"
    run(["--input", str(root / "in"), "--output", str(out), "--spacy_model", model])
    assert main(["report", "--output", str(out)]) == 0
    text = (out / REPORT_FILE).read_text(encoding="utf-8")
    return connect(str(out)), text, Page(text)


def q(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def fmt(value) -> str:
    return "–" if value is None else f"{value:,}"


def test_every_section_is_there(report):
    _, text, page = report
    assert text.startswith("<!DOCTYPE html>")
    assert [a.get("id") for tag, a in page.tags if tag == "section"] == list(SECTIONS)


def test_overview_cards_match_duckdb(report):
    con, _, page = report
    (articles, stories, dupes, undated, errors, runs), = q(con, """
        SELECT count(*), count(*) FILTER (WHERE duplicate_of IS NULL),
               count(*) FILTER (WHERE duplicate_of IS NOT NULL),
               count(*) FILTER (WHERE published_at IS NULL),
               (SELECT count(*) FROM errors), (SELECT count(*) FROM runs) FROM articles""")
    (entities, mentions), = q(con, "SELECT count(DISTINCT entity_id), count(*) FROM mentions")
    assert (articles, stories, dupes, runs) == (7, 6, 1, 1)
    expected = {"articles": articles, "stories": stories, "duplicates": dupes,
                "undated": undated, "errors": errors, "entities": entities,
                "mentions": mentions, "runs": runs}
    assert {k: page.cards[k] for k in expected} == {k: fmt(v) for k, v in expected.items()}
    checks = page.tags
    assert not [a for tag, a in checks if tag == "li" and a.get("class") == "bad"]


def test_runs_show_counters_per_stage(report):
    con, _, page = report
    (run_id, files, records, read_articles, mentions), = q(con, """
        SELECT run_id, counters['read.files'], counters['read.records'],
               counters['read.articles'], counters['entities.mentions'] FROM runs""")
    (row,) = page.table("runs", 0)
    assert row[0] == run_id
    assert row[6:9] == [fmt(files), fmt(records), fmt(read_articles)]
    assert row[12] == fmt(mentions)
    assert page.table("runs", 1) == [["exact", "1", "1.000"]]
    counters = q(con, """
        SELECT split_part(e.key, '.', 1), split_part(e.key, '.', 2), e.value
        FROM (SELECT unnest(map_entries(counters)) AS e FROM runs) ORDER BY e.key""")
    (title, where, n, kinds), = page.table("runs", 2)
    assert (title, n, kinds) == (" ".join(HOSTILE_TITLE.split()), "1", "exact")
    assert where == "a.txt #0"
    got = page.table("runs", 3)
    # Stage times (``<stage>.msec``) read as durations, every other counter as a count.
    assert sorted(got) == sorted(
        [s, c, duration(v / 1000) if c == "msec" else fmt(v)] for s, c, v in counters)
    stages = list(dict.fromkeys(r[0] for r in got))
    assert stages[:4] == ["read", "dates", "dedup", "entities"]  # the order they run in


def test_stage_times_are_charted_when_the_run_recorded_them(report):
    con, text, _ = report
    timed = q(con, """SELECT count(*) FROM (SELECT unnest(map_keys(counters)) AS k FROM runs)
                      WHERE k LIKE '%.msec'""")[0][0]
    charted = 'aria-label="Time per stage, latest run (summed over workers)"' in text
    assert charted == (timed > 0)


def test_undated_and_suspicious_dates_are_called_out(report):
    con, text, page = report
    expected = dict(q(con, """
        SELECT CASE WHEN published_at IS NULL THEN 'undated: ' || date_status
                    WHEN published_at > now() THEN 'in the future'
                    WHEN published_at < TIMESTAMPTZ '1900-01-01' THEN 'before 1900' END AS r,
               count(*) FROM articles GROUP BY r HAVING r IS NOT NULL"""))
    assert set(expected) == {"undated: missing", "in the future", "before 1900"}
    flagged = {row[0]: int(row[1].replace(",", "")) for row in page.table("dates", 0)}
    assert flagged == expected
    assert page.cards["future"] == "1" and page.cards["before_1900"] == "1"
    assert 'aria-label="Articles per week"' in text or 'aria-label="Articles per day"' in text


def test_top_entities_per_label_match_mentions(report):
    con, _, page = report
    expected = q(con, """
        SELECT m.label, e.name, count(*) AS n, count(DISTINCT m.article_id) AS a
        FROM mentions m JOIN entities e USING (entity_id)
        GROUP BY ALL ORDER BY m.label, n DESC, a DESC, e.name""")
    labels = [a["data-label"] for tag, a in page.tags if "data-label" in a]
    assert sorted(labels) == sorted({r[0] for r in expected})
    for i, label in enumerate(labels):
        rows = [r for r in expected if r[0] == label][:10]
        assert page.table("entities", i) == [
            [str(k), name, fmt(n), fmt(a)] for k, (_, name, n, a) in enumerate(rows, 1)]
    assert "PERSON" in labels and "ORG" in labels


def test_top_pairs_match_co_mentions(report):
    con, text, page = report
    expected = q(con, """
        SELECT a.name, a.label, b.name, b.label, c.articles FROM co_mentions c
        JOIN entities a ON a.entity_id = c.entity_a JOIN entities b ON b.entity_id = c.entity_b
        ORDER BY c.articles DESC""")
    got = page.table("pairs", 0)
    assert len(got) == min(15, len(expected))
    assert [r[1:] for r in got][0][4] == fmt(expected[0][4]) == "2"
    assert {tuple(r[1:]) for r in got} <= {(*x[:4], fmt(x[4])) for x in expected}
    pair = {got[0][1], got[0][3]}
    assert pair == {"Donald Trump", "Pakistan"}
    assert "Top " in text and "pairs by articles mentioning both" in text


def test_timeline_covers_the_most_mentioned_dated_entities(report):
    con, _, page = report
    expected = q(con, """
        SELECT e.name, t.label, count(*) AS n FROM mention_timeline t JOIN entities e
        USING (entity_id) WHERE t.published_at BETWEEN TIMESTAMPTZ '1900-01-01' AND now()
        GROUP BY ALL ORDER BY n DESC, e.name LIMIT 6""")
    assert page.table("timeline", 0) == [[name, label, fmt(n)] for name, label, n in expected]


def test_errors_are_grouped_by_stage_and_type_with_examples(report):
    con, text, page = report
    expected = q(con, """
        SELECT stage, error_type, count(*) FROM errors GROUP BY ALL ORDER BY 3 DESC, 1, 2""")
    got = page.table("errors", 0)
    assert [r[:3] for r in got] == [[s, t, fmt(n)] for s, t, n in expected]
    assert {"MalformedJSON", "EmptyBody", "WrongShape"} <= {r[1] for r in got}
    malformed = next(r for r in got if r[1] == "MalformedJSON")
    assert HOSTILE_FILE in malformed[3]  # shown, as text
    assert "&lt;b onmouseover=alert(1)&gt;feed.jsonl" in text


def test_versions_and_options_come_from_the_runs_table(report, model):
    con, _, page = report
    (versions,) = q(con, "SELECT versions FROM runs")[0]
    assert page.table("versions", 0)[0][:2] == ["spaCy model", model]
    assert {r[0]: r[1] for r in page.table("versions", 1)} == versions


def test_untrusted_text_is_escaped_and_nothing_external_is_referenced(report):
    _, text, page = report
    markup = "".join(page.markup)
    for needle in ("http://", "https://", "//cdn", "@import"):
        assert needle not in markup
    assert {ref[0] for ref in re.findall(r"url\(([^)]*)\)", markup)} <= {"#"}
    assert not [t for t, _ in page.tags if t in ("script", "img", "b", "link", "iframe")]
    for _, attrs in page.tags:
        for key, value in attrs.items():
            assert not key.startswith("on"), key
            if key in ("href", "xlink:href", "src"):
                assert value.startswith("#"), value
    assert "&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt;" in text
    # Entity names (normalised by the pipeline, so matched by prefix) are escaped too.
    assert "Evil &lt;img src=x onerror=alert(1)&gt;" in text and "<img" not in text
    assert "$Acme$" in text  # and matplotlib did not read it as mathtext


def _cut(con, out, articles_where: str) -> None:
    """Writes to ``out`` the part of the test output about the articles matching the filter.

    A second pipeline run would double the test's time; a cut of the real tables (same files,
    same types) gives the report the tiny outputs it must survive.
    """
    keep = f"SELECT article_id FROM articles WHERE {articles_where}"
    selects = {
        "articles": f"SELECT * FROM articles WHERE article_id IN ({keep})",
        "mentions": f"SELECT * FROM mentions WHERE article_id IN ({keep})",
        "entities": f"""SELECT e.* REPLACE (m.n AS mention_count, m.a AS article_count)
                        FROM entities e JOIN (SELECT entity_id, count(*) AS n,
                        count(DISTINCT article_id) AS a FROM mentions
                        WHERE article_id IN ({keep}) GROUP BY ALL) m USING (entity_id)""",
        "errors": "SELECT * FROM errors WHERE false",
        "runs": f"SELECT * FROM runs WHERE EXISTS ({keep})",
        "ingest_log": f"""SELECT * FROM ingest_log WHERE source_uri IN
                          (SELECT source_uri FROM articles WHERE {articles_where})""",
    }
    for name, sql in selects.items():
        (out / name).mkdir(parents=True)
        con.execute(f"COPY ({sql}) TO '{out / name / 'part.parquet'}' (FORMAT parquet)")


def test_a_one_article_output_gets_a_full_report(report, tmp_path):
    con, _, _ = report
    out = tmp_path / "one"
    _cut(con, out, "title = 'Talks go on'")
    assert main(["report", "--output", str(out)]) == 0
    assert [n for n in os.listdir(out) if n.endswith(".html") or ".tmp" in n] == [REPORT_FILE]
    page = Page((out / REPORT_FILE).read_text(encoding="utf-8"))
    assert [a.get("id") for t, a in page.tags if t == "section"] == list(SECTIONS)
    assert (page.cards["articles"], page.cards["errors"], page.cards["mentions"]) == ("1", "0", "3")
    names = {r[0] for r in q(con, """SELECT DISTINCT e.name FROM mentions m JOIN entities e
                                      USING (entity_id) JOIN articles a USING (article_id)
                                      WHERE a.title = 'Talks go on'""")}
    assert {r[0] for r in page.table("timeline", 0)} == names and len(names) == 3
    assert {r[5] for r in page.table("pairs", 0)} == {"1"} and len(page.table("pairs", 0)) == 3
    assert not [a for tag, a in page.tags if tag == "li" and a.get("class") == "bad"]


def test_an_empty_output_gets_a_report_that_says_so(report, tmp_path):
    con, _, _ = report
    out = tmp_path / "empty"
    _cut(con, out, "false")
    assert main(["report", "--output", str(out)]) == 0
    page = Page((out / REPORT_FILE).read_text(encoding="utf-8"))
    assert [a.get("id") for t, a in page.tags if t == "section"] == list(SECTIONS)
    assert page.cards["articles"] == "0" and page.cards["runs"] == "0"


def test_report_refuses_a_folder_that_is_not_an_output(tmp_path, capsys):
    assert main(["report", "--output", str(tmp_path)]) == 2
    assert "no complete pipeline output" in capsys.readouterr().err
