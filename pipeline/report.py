"""``python -m pipeline report --output DIR``: one self-contained HTML page about an output folder.

Reads the published Parquet tables through the DuckDB views of ``pipeline.query`` and writes
``DIR/report.html`` (temp file, then an atomic rename). The page answers "is the data good, and
what is in it?" before anyone writes SQL: the runs and their counters, articles over time with
undated and suspicious dates called out, top entities per label, co-mentioned pairs, a mention
timeline, errors grouped by stage and type, and the versions and options of each run.

Every number is aggregated in SQL (never a full table in Python), so a 19k-story output takes
seconds. Charts are matplotlib figures inlined as SVG; the file references nothing outside itself
(no CDN, no fonts, no scripts). All data (titles, entity names, paths, messages) is untrusted and
HTML-escaped.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

REPORT_FILE = "report.html"
# The tables the report reads (outputs of older runs may lack newer tables).
READS = ("articles", "mentions", "entities", "errors", "runs", "ingest_log")
TOP_PER_LABEL = 10
TOP_PAIRS = 15
TOP_CLUSTERS = 5
TIMELINE_ENTITIES = 6
EXAMPLES = 3
MAX_RUN_COLUMNS = 6
LABEL_CHARS = 32
# Counter namespaces in the order the stages run; others follow alphabetically.
STAGE_ORDER = ("read", "dates", "dedup", "entities")
# Stages that time themselves count milliseconds in ``<stage>.msec``.
TIME_COUNTER = ".msec"

# Bucket of the time charts for a span of at most this many days (larger spans use years).
_UNITS = (("day", 62, 0.8), ("week", 2 * 365, 5.6), ("month", 25 * 365, 24.0))
_YEAR_WIDTH = 300.0
_UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 30.44, "year": 365.25}
_MIN_BUCKETS = 8
_PLAUSIBLE_FROM = "1900-01-01"

LABEL_MEANING = {
    "PERSON": "people", "ORG": "organisations", "GPE": "countries, cities, states",
    "LOC": "other locations", "NORP": "nationalities, religious and political groups",
    "FAC": "buildings, airports, roads", "EVENT": "named events", "PRODUCT": "products",
    "WORK_OF_ART": "titles of works", "LAW": "laws and treaties", "LANGUAGE": "languages",
    "DATE": "dates", "TIME": "times", "MONEY": "amounts of money", "PERCENT": "percentages",
    "QUANTITY": "quantities", "ORDINAL": "ordinals", "CARDINAL": "numbers",
}


class Html(str):
    """Markup this module built itself; ``cell()`` passes it through unescaped."""


def esc(value: Any) -> str:
    """HTML-escaped text of any value (quotes too, so it is safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def cell(value: Any) -> str:
    """One value as table-cell HTML: numbers with thousands separators, UTC times, '–' for null."""
    if isinstance(value, Html):
        return value
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, datetime):
        return esc(value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
                   if value.tzinfo else value.strftime("%Y-%m-%d %H:%M:%S"))
    return esc(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = (),
          caption: str | None = None, cls: str = "") -> str:
    """An HTML table; columns whose index is in ``numeric`` are right-aligned."""
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{cell(v)}</td>' if i in numeric else f"<td>{cell(v)}</td>"
            for i, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}" class="none">none</td></tr>')
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    attr = f' class="{esc(cls)}"' if cls else ""
    return (f'<div class="scroll"><table{attr}>{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def short(text: Any, limit: int = LABEL_CHARS) -> str:
    """One line of at most ``limit`` characters, cut with an ellipsis: for chart labels."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def chart_text(text: str) -> str:
    """Data text made literal for matplotlib: no mathtext from '$', no legend-hiding '_' prefix."""
    text = text.replace("$", r"\$")
    return " " + text if text.startswith("_") else text


# --------------------------------------------------------------------------------------- charts

_SVG_ROOT = re.compile(r"^.*?<svg\b([^>]*)>\s*(?:<metadata>.*?</metadata>)?", re.S)
_SVG_NAMESPACE = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


@dataclass
class Charts:
    """Makes matplotlib figures and inlines them as SVG with ids unique within the page."""

    count: int = 0

    def figure(self, width: float, height: float):
        from matplotlib.figure import Figure

        return Figure(figsize=(width, height), layout="constrained")

    def svg(self, fig, alt: str) -> Html:
        import matplotlib

        self.count += 1
        buf = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"c{self.count}"}):
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        # Inline SVG needs no XML prologue, namespace declarations or RDF metadata; dropping
        # them keeps every URL out of the page. Data text inside was escaped by matplotlib.
        text = _SVG_ROOT.sub(lambda m: "<svg" + _SVG_NAMESPACE.sub("", m[1]) + ">",
                             buf.getvalue(), count=1)
        text = text.replace("<svg", f'<svg role="img" aria-label="{esc(alt)}"', 1)
        return Html(f'<figure class="chart">{text}</figure>')


def _style_axes(ax, title: str, xlabel: str, ylabel: str, grid: str) -> None:
    """Title, axis labels, no top/right frame, light grid lines across the ``grid`` axis."""
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis=grid, alpha=0.3)


def bar_chart(charts: Charts, labels: Sequence[str], values: Sequence[float], title: str,
              xlabel: str, ylabel: str, color: str = "#4C78A8",
              value_labels: Sequence[str] | None = None) -> Html:
    """Horizontal bars, first value on top; long labels are cut so they never overlap."""
    fig = charts.figure(6.0, 0.9 + 0.28 * max(len(values), 1))
    ax = fig.add_subplot()
    positions = list(range(len(values)))[::-1]
    bars = ax.barh(positions, values, color=color, height=0.7)
    ax.set_yticks(positions, [chart_text(short(x)) for x in labels])
    ax.bar_label(bars, labels=value_labels or [f"{v:,}" for v in values], padding=3, fontsize=8)
    _count_axis(ax.xaxis, integer=value_labels is None)
    ax.set_xlim(0, max(values, default=1) * 1.15 or 1)
    _style_axes(ax, title, xlabel, ylabel, grid="x")
    return charts.svg(fig, title)


def _count_axis(axis, integer: bool = True) -> None:
    """Few ticks with thousands separators, so wide numbers never touch."""
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    axis.set_major_locator(MaxNLocator(nbins=5, integer=integer, min_n_ticks=2))
    if integer:
        axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def _date_axis(ax) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


# ------------------------------------------------------------------------------------- queries


def rows(con, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def scalar(con, sql: str, params: Sequence[Any] = ()) -> Any:
    return con.execute(sql, list(params)).fetchall()[0][0]


@dataclass
class TimeAxis:
    """Bucketing of the time charts, chosen from the span of plausible dates."""

    unit: str
    width_days: float
    first: datetime | None
    last: datetime | None

    def limits(self) -> tuple[datetime, datetime]:
        """x range: the buckets plus one on each side, at least ``_MIN_BUCKETS`` wide."""
        step = timedelta(days=_UNIT_DAYS[self.unit])
        first, last = self.first, self.last
        missing = _MIN_BUCKETS - (last - first) / step
        pad = step * max(1.0, missing / 2)
        return first - pad, last + pad


def time_axis(con) -> TimeAxis:
    first, last = rows(con, f"""
        SELECT min(published_at)::TIMESTAMP, max(published_at)::TIMESTAMP FROM articles
        WHERE published_at >= TIMESTAMPTZ '{_PLAUSIBLE_FROM}' AND published_at <= now()""")[0]
    if first is None:
        return TimeAxis("month", 24.0, None, None)
    span = (last - first).days
    for unit, max_days, width in _UNITS:
        if span <= max_days:
            return TimeAxis(unit, width, first, last)
    return TimeAxis("year", _YEAR_WIDTH, first, last)


PLAUSIBLE = (f"published_at >= TIMESTAMPTZ '{_PLAUSIBLE_FROM}' "
             "AND published_at <= now()")


# ------------------------------------------------------------------------------------ sections


def section(anchor: str, title: str, body: str, intro: str = "") -> str:
    lead = f'<p class="intro">{intro}</p>' if intro else ""
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{lead}{body}</section>'


def figure_cards(items: Sequence[tuple[str, str, Any]]) -> str:
    """Key figures as cards: ``(key, caption, value)``; ``data-figure`` makes them findable."""
    cards = "".join(
        f'<div class="card" data-figure="{esc(key)}"><strong>{cell(value)}</strong>'
        f"<span>{esc(caption)}</span></div>" for key, caption, value in items)
    return f'<div class="cards">{cards}</div>'


def overview_section(con, skipped: Sequence[str] = ()) -> str:
    (articles, stories, duplicates, dated, errors, runs, files) = rows(con, """
        SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM stories),
               (SELECT count(*) FROM articles WHERE duplicate_of IS NOT NULL),
               (SELECT count(*) FROM articles WHERE published_at IS NOT NULL),
               (SELECT count(*) FROM errors), (SELECT count(*) FROM runs),
               (SELECT count(DISTINCT source_uri) FROM ingest_log)""")[0]
    entities, mentions = rows(con, """
        SELECT count(DISTINCT entity_id), count(*) FROM mentions""")[0]
    cards = figure_cards([
        ("runs", "runs", runs), ("files", "input files", files),
        ("articles", "articles", articles), ("stories", "unique stories", stories),
        ("duplicates", "duplicates", duplicates), ("undated", "undated", articles - dated),
        ("errors", "error rows", errors), ("entities", "entities", entities),
        ("mentions", "mentions", mentions),
    ])
    checks = consistency_checks(con)
    if skipped:
        checks += (f'<p class="note">This output has no files for {esc(", ".join(skipped))} '
                   "(it was written before those tables existed; the next run adds them).</p>")
    return section("overview", "Overview", cards + checks)


def consistency_checks(con) -> str:
    """Cheap invariants of the tables; a failed one is shown in red."""
    checks = rows(con, """
        SELECT 'article ids are unique',
               (SELECT count(*) - count(DISTINCT article_id) FROM articles)
        UNION ALL
        SELECT 'every mention belongs to a unique story',
               (SELECT count(*) FROM mentions m WHERE NOT EXISTS
                  (SELECT 1 FROM stories s WHERE s.article_id = m.article_id))
        UNION ALL
        SELECT 'every mentioned entity is in the entities table',
               (SELECT count(DISTINCT m.entity_id) FROM mentions m WHERE NOT EXISTS
                  (SELECT 1 FROM entities e WHERE e.entity_id = m.entity_id))
        UNION ALL
        SELECT 'entity totals match the mentions table',
               (SELECT count(*) FROM entities e FULL JOIN
                  (SELECT entity_id, count(*) AS n, count(DISTINCT article_id) AS a
                   FROM mentions GROUP BY ALL) m USING (entity_id)
                WHERE e.mention_count IS DISTINCT FROM m.n
                   OR e.article_count IS DISTINCT FROM m.a)""")
    items = "".join(
        f'<li class="{"ok" if bad == 0 else "bad"}">{"✓" if bad == 0 else "✗"} {esc(name)}'
        + ("" if bad == 0 else f" — {bad:,} rows disagree") + "</li>"
        for name, bad in checks)
    return f'<ul class="checks">{items}</ul>'


def runs_section(con, charts: Charts) -> str:
    runs = rows(con, """
        SELECT run_id, strftime(started_at, '%Y-%m-%d %H:%M'),
               epoch(finished_at) - epoch(started_at), status, runner, inputs,
               counters['read.files'], counters['read.records'], counters['read.articles'],
               counters['dedup.dropped_exact_duplicate'], counters['dedup.dropped_near_duplicate'],
               coalesce(counters['read.errors'], 0) + coalesce(counters['entities.errors'], 0),
               counters['entities.mentions']
        FROM runs ORDER BY started_at DESC, run_id LIMIT 50""")
    total = scalar(con, "SELECT count(*) FROM runs")
    listing = table(
        ["run", "started (UTC)", "wall time", "status", "runner", "inputs", "files", "records",
         "articles", "exact dups", "near dups", "errors", "mentions"],
        [(r[0], r[1], duration(r[2]), r[3], r[4],
          Html("<br>".join(f"<code>{esc(x)}</code>" for x in r[5])), *r[6:]) for r in runs],
        numeric=(2, *range(6, 13)), cls="runs",
        caption=None if total <= len(runs) else f"latest {len(runs)} of {total:,} runs")
    dupes = rows(con, """
        SELECT coalesce(match_kind, 'unspecified'), count(*), round(avg(similarity), 3)
        FROM articles WHERE duplicate_of IS NOT NULL GROUP BY ALL ORDER BY 2 DESC, 1""")
    dupe_table = table(["match kind", "duplicates", "mean similarity"], dupes, numeric=(1, 2))
    clusters = rows(con, f"""
        SELECT c.title, c.source_uri, c.record_index, count(*) AS n,
               string_agg(DISTINCT d.match_kind, ', ' ORDER BY d.match_kind)
        FROM articles d JOIN articles c ON c.article_id = d.duplicate_of
        GROUP BY c.article_id, c.title, c.source_uri, c.record_index
        ORDER BY n DESC, c.source_uri, c.record_index LIMIT {TOP_CLUSTERS}""")
    cluster_table = table(
        ["canonical story", "file #record", "duplicates", "match kinds"],
        [(short(t or "(no title)", 100),
          Html(f"<code>{esc(os.path.basename(uri))}</code> #{i}"), n, kinds)
         for t, uri, i, n, kinds in clusters], numeric=(2,))
    counters = counters_table(con)
    body = (listing + "<h3>Duplicates by match kind (all runs)</h3>" + dupe_table
            + f"<h3>Largest duplicate clusters (top {TOP_CLUSTERS})</h3>" + cluster_table
            + "<h3>Per-stage counters</h3>" + counters
            + "<h3>Time per stage</h3>" + stage_times_chart(con, charts))
    return section("runs", "Runs", body, "One row per run in the <code>runs</code> table; counts "
                   "come from the Beam counters each run recorded.")


def duration(seconds: float | None) -> str | None:
    """``75.4`` -> ``"1 min 15 s"``, ``0.016`` -> ``"16 ms"``, ``8.07`` -> ``"8.1 s"``."""
    if seconds is None:
        return None
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{hours} h " if hours else "") + f"{minutes} min {secs} s"


def counters_table(con) -> str:
    """Counters of the latest runs, one row per counter, grouped by stage (the name's prefix)."""
    latest = [r[0] for r in rows(con, f"""
        SELECT run_id FROM runs ORDER BY started_at DESC, run_id LIMIT {MAX_RUN_COLUMNS}""")]
    if not latest:
        return table(["stage", "counter"], [])
    values = rows(con, """
        SELECT split_part(e.key, '.', 1), e.key, run_id, e.value
        FROM (SELECT run_id, unnest(map_entries(counters)) AS e FROM runs
              WHERE list_contains(?, run_id))
        ORDER BY 1, 2""", [latest])
    grid: dict[tuple[str, str], dict[str, int]] = {}
    for stage, key, run_id, value in values:
        grid.setdefault((stage, key), {})[run_id] = value
    flow = {stage: i for i, stage in enumerate(STAGE_ORDER)}
    ordered = sorted(grid.items(), key=lambda kv: (flow.get(kv[0][0], len(flow)), kv[0]))
    body = [(stage, key.split(".", 1)[-1],
             *(stage_value(key, per_run.get(r)) for r in latest))
            for (stage, key), per_run in ordered]
    return table(["stage", "counter", *latest], body, numeric=range(2, 2 + len(latest)))


def stage_value(key: str, value: int | None) -> int | str | None:
    """A counter's value for display: ``<stage>.msec`` counters (stage time) as a duration."""
    if value is not None and key.endswith(TIME_COUNTER):
        return duration(value / 1000)
    return value


def stage_times_chart(con, charts: Charts) -> str:
    """Bar chart of the latest run's ``<stage>.msec`` counters, stages in pipeline order."""
    times = rows(con, f"""
        SELECT split_part(e.key, '.', 1), e.value
        FROM (SELECT unnest(map_entries(counters)) AS e
              FROM (SELECT counters FROM runs ORDER BY started_at DESC, run_id LIMIT 1))
        WHERE e.key LIKE '%{TIME_COUNTER}'""")
    if not times:
        return ('<p class="note">This run log has no per-stage times (no '
                f"<code>&lt;stage&gt;{TIME_COUNTER}</code> counters); only each run's wall time."
                "</p>")
    flow = {stage: i for i, stage in enumerate(STAGE_ORDER)}
    times.sort(key=lambda t: (flow.get(t[0], len(flow)), t[0]))
    in_seconds = max(t[1] for t in times) >= 2000
    title = "Time per stage, latest run (summed over workers)"
    return bar_chart(charts, [t[0] for t in times],
                     [t[1] / 1000 if in_seconds else t[1] for t in times], title,
                     "seconds" if in_seconds else "milliseconds", "", color="#72B7B2",
                     value_labels=[duration(t[1] / 1000) for t in times])


def dates_section(con, charts: Charts, axis: TimeAxis) -> str:
    status = rows(con, f"""
        SELECT count(*) FILTER (WHERE published_at IS NOT NULL AND {PLAUSIBLE}),
               count(*) FILTER (WHERE published_at IS NULL),
               count(*) FILTER (WHERE published_at > now()),
               count(*) FILTER (WHERE published_at < TIMESTAMPTZ '{_PLAUSIBLE_FROM}')
        FROM articles""")[0]
    cards = figure_cards([("dated_plausible", "dated (1900 – today)", status[0]),
                          ("undated", "undated", status[1]),
                          ("future", "in the future", status[2]),
                          ("before_1900", "before 1900", status[3])])
    if axis.first is None:
        chart = Html('<p class="none">No article has a plausible date; nothing to plot.</p>')
    else:
        counts = rows(con, f"""
            SELECT date_trunc('{axis.unit}', published_at::TIMESTAMP) AS bucket,
                   count(*) FILTER (WHERE duplicate_of IS NULL),
                   count(*) FILTER (WHERE duplicate_of IS NOT NULL)
            FROM articles WHERE {PLAUSIBLE} GROUP BY ALL ORDER BY bucket""")
        chart = articles_chart(charts, axis, counts)
    flagged = rows(con, f"""
        WITH flagged AS (
            SELECT CASE WHEN published_at IS NULL THEN 'undated: ' || date_status
                        WHEN published_at > now() THEN 'in the future'
                        WHEN published_at < TIMESTAMPTZ '{_PLAUSIBLE_FROM}' THEN 'before 1900'
                   END AS reason,
                   source_uri, record_index, title, published_raw, published_at
            FROM articles)
        SELECT reason, count(*) OVER (PARTITION BY reason) AS n,
               source_uri, record_index, title, published_raw, published_at
        FROM flagged WHERE reason IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY reason ORDER BY source_uri, record_index)
                <= {EXAMPLES}
        ORDER BY n DESC, reason, source_uri, record_index""")
    grouped = group_examples(flagged, lambda r: (
        f"<code>{esc(os.path.basename(r[2]))}</code> #{r[3]}"
        f" “{esc(short(r[4] or '(no title)', 80))}” raw: <code>{esc(r[5])}</code>"
        + ("" if r[6] is None else f" → {cell(r[6])}")))
    precision = rows(con, """
        SELECT coalesce(date_precision, '(undated)'), count(*) FROM articles
        GROUP BY ALL ORDER BY 2 DESC, 1""")
    body = (cards + chart + "<h3>Undated and suspicious dates</h3>"
            + table(["reason", "articles", "examples (file #record, title, raw date)"], grouped,
                    numeric=(1,))
            + "<h3>Date precision</h3>"
            + '<p class="note">Dates with only a year or month are placed at its first day, '
              "which shows as a spike at the start of that period.</p>"
            + table(["precision", "articles"], precision, numeric=(1,)))
    return section("dates", "Articles over time", body,
                   f"By <code>published_at</code> (UTC), one bar per {axis.unit}; duplicates are "
                   "stacked on top of unique stories. Dates before 1900 or after today are left "
                   "out of the chart and listed below.")


def group_examples(flagged: Sequence[tuple], render: Callable[[tuple], str]) -> list[tuple]:
    """``(reason, n, ...example columns)`` rows -> ``(reason, n, <ul> of examples)``."""
    out: dict[str, tuple[int, list[str]]] = {}
    for r in flagged:
        out.setdefault(r[0], (r[1], []))[1].append(render(r))
    return [(reason, n, Html("<ul>" + "".join(f"<li>{x}</li>" for x in items) + "</ul>"))
            for reason, (n, items) in out.items()]


def articles_chart(charts: Charts, axis: TimeAxis, counts: Sequence[tuple]) -> Html:
    buckets = [r[0] for r in counts]
    stories = [r[1] for r in counts]
    dupes = [r[2] for r in counts]
    fig = charts.figure(11.0, 3.4)
    ax = fig.add_subplot()
    ax.bar(buckets, stories, width=axis.width_days, align="edge", color="#4C78A8",
           label="unique stories")
    if any(dupes):
        ax.bar(buckets, dupes, bottom=stories, width=axis.width_days, align="edge",
               color="#F58518", label="duplicates")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    _date_axis(ax)
    ax.set_xlim(*axis.limits())
    _count_axis(ax.yaxis)
    title = f"Articles per {axis.unit}"
    _style_axes(ax, title, f"{axis.unit} (published_at, UTC)", "articles", grid="y")
    return charts.svg(fig, title)


def entities_section(con, charts: Charts) -> str:
    top = rows(con, f"""
        WITH counts AS (
            SELECT entity_id, label, count(*) AS n, count(DISTINCT article_id) AS a,
                   min(text) AS any_text
            FROM mentions GROUP BY ALL)
        SELECT c.label, coalesce(e.name, c.any_text) AS name, c.n, c.a,
               sum(c.n) OVER (PARTITION BY c.label) AS label_total
        FROM counts c LEFT JOIN entities e USING (entity_id)
        QUALIFY row_number() OVER (PARTITION BY c.label ORDER BY c.n DESC, c.a DESC, name)
                <= {TOP_PER_LABEL}
        ORDER BY label_total DESC, c.label, c.n DESC, c.a DESC, name""")
    if not top:
        return section("entities", "Top entities per label",
                       '<p class="none">No mentions in this output.</p>')
    by_label: dict[str, list[tuple]] = {}
    for r in top:
        by_label.setdefault(r[0], []).append(r)
    blocks = []
    for label, items in by_label.items():
        meaning = LABEL_MEANING.get(label, "")
        title = f"{label} – top {len(items)} by mentions"
        chart = bar_chart(charts, [r[1] for r in items], [r[2] for r in items], title,
                          "mentions", "")
        detail = table(["#", "name", "mentions", "articles"],
                       [(i, r[1], r[2], r[3]) for i, r in enumerate(items, 1)],
                       numeric=(0, 2, 3))
        blocks.append(
            f'<div class="label-block" data-label="{esc(label)}"><h3>{esc(label)}'
            f' <small>{esc(meaning)} · {items[0][4]:,} mentions in all</small></h3>'
            f"{chart}<details><summary>full names</summary>{detail}</details></div>")
    return section("entities", "Top entities per label", '<div class="grid">'
                   + "".join(blocks) + "</div>",
                   "Counted over unique stories (duplicates never reach NER). Labels are ordered "
                   "by their total number of mentions.")


def pairs_section(con, charts: Charts) -> str:
    pairs = rows(con, f"""
        WITH top AS (SELECT entity_a, entity_b, articles FROM co_mentions
                     ORDER BY articles DESC, entity_a, entity_b LIMIT {TOP_PAIRS})
        SELECT coalesce(a.name, t.entity_a), a.label, coalesce(b.name, t.entity_b), b.label,
               t.articles
        FROM top t LEFT JOIN entities a ON a.entity_id = t.entity_a
                   LEFT JOIN entities b ON b.entity_id = t.entity_b
        ORDER BY t.articles DESC, 1, 3""")
    if not pairs:
        return section("pairs", "Top co-mentioned pairs",
                       '<p class="none">No article mentions two different entities.</p>')
    names = [f"{short(r[0], 20)} + {short(r[2], 20)}" for r in pairs]
    title = f"Top {len(pairs)} pairs by articles mentioning both"
    chart = bar_chart(charts, names, [r[4] for r in pairs], title, "articles", "",
                      color="#54A24B")
    detail = table(["#", "entity", "label", "entity", "label", "articles"],
                   [(i, *r) for i, r in enumerate(pairs, 1)], numeric=(0, 5))
    return section("pairs", "Top co-mentioned pairs", f'<div class="side">{chart}{detail}</div>',
                   "Two entities mentioned in the same unique story, counted once per story.")


def timeline_section(con, charts: Charts, axis: TimeAxis) -> str:
    top = rows(con, f"""
        SELECT m.entity_id, coalesce(any_value(e.name), min(m.text)), m.label, count(*)
        FROM mention_timeline m LEFT JOIN entities e USING (entity_id)
        WHERE m.{PLAUSIBLE} GROUP BY m.entity_id, m.label
        ORDER BY 4 DESC, 2 LIMIT {TIMELINE_ENTITIES}""")
    if not top or axis.first is None:
        return section("timeline", "Mentions over time",
                       '<p class="none">No dated mentions; nothing to plot.</p>')
    counts = rows(con, f"""
        SELECT entity_id, date_trunc('{axis.unit}', published_at::TIMESTAMP), count(*)
        FROM mention_timeline
        WHERE list_contains(?, entity_id) AND {PLAUSIBLE} GROUP BY ALL""",
                  [[t[0] for t in top]])
    buckets = [r[0] for r in rows(con, f"""
        SELECT unnest(generate_series(date_trunc('{axis.unit}', ?::TIMESTAMP),
                                      date_trunc('{axis.unit}', ?::TIMESTAMP),
                                      INTERVAL 1 {axis.unit}))""", [axis.first, axis.last])]
    covered = {r[0] for r in rows(con, f"""
        SELECT DISTINCT date_trunc('{axis.unit}', published_at::TIMESTAMP) FROM stories
        WHERE {PLAUSIBLE}""")}
    per_entity: dict[str, dict[datetime, int]] = {t[0]: {} for t in top}
    for entity_id, bucket, n in counts:
        per_entity[entity_id][bucket] = n
    fig = charts.figure(11.0, 3.8)
    ax = fig.add_subplot()
    for entity_id, name, label, _ in top:
        series = per_entity[entity_id]
        # A gap where no story was published: zero mentions there would be a false signal.
        values = [series.get(b, 0) if b in covered else math.nan for b in buckets]
        ax.plot(buckets, values, marker="o", markersize=3,
                linewidth=1.6, label=chart_text(f"{short(name, 28)} ({label})"))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    _date_axis(ax)
    ax.set_xlim(*axis.limits())
    _count_axis(ax.yaxis)
    ax.set_ylim(bottom=0)
    title = f"Mentions per {axis.unit}, top {len(top)} entities"
    _style_axes(ax, title, f"{axis.unit} (published_at, UTC)", "mentions", grid="y")
    totals = table(["entity", "label", "dated mentions"], [(t[1], t[2], t[3]) for t in top],
                   numeric=(2,))
    return section("timeline", "Mentions over time", charts.svg(fig, title) + totals,
                   f"The {len(top)} entities with the most mentions in dated stories; lines "
                   f"break where no story is dated in that {axis.unit}.")


def errors_section(con) -> str:
    flagged = rows(con, f"""
        SELECT stage, error_type, count(*) OVER (PARTITION BY stage, error_type) AS n,
               source_uri, record_index, message
        FROM errors
        QUALIFY row_number() OVER (PARTITION BY stage, error_type
                                   ORDER BY source_uri, record_index) <= {EXAMPLES}
        ORDER BY n DESC, stage, error_type, source_uri, record_index""")
    groups: dict[tuple[str, str], tuple[int, list[str]]] = {}
    for stage, kind, n, uri, index, message in flagged:
        where = f"<code>{esc(uri)}</code>" + ("" if index is None else f" #{index}")
        groups.setdefault((stage, kind), (n, []))[1].append(
            f"{where}: {esc(short(message, 200))}")
    body = table(["stage", "error type", "rows", "examples (file #record: message)"],
                 [(stage, kind, n, Html("<ul>" + "".join(f"<li>{x}</li>" for x in ex) + "</ul>"))
                  for (stage, kind), (n, ex) in groups.items()], numeric=(2,))
    total = scalar(con, "SELECT count(*) FROM errors")
    return section("errors", "Errors", body,
                   f"{total:,} error rows: records or files that could not become an article, "
                   "grouped by stage and type, with the first few examples of each.")


def versions_section(con) -> str:
    runs = rows(con, f"""
        SELECT run_id, versions, options FROM runs
        ORDER BY started_at DESC, run_id LIMIT {MAX_RUN_COLUMNS}""")
    if not runs:
        return section("versions", "Versions and options", '<p class="none">No runs.</p>')
    ids = [r[0] for r in runs]
    options = [parse_options(r[2]) for r in runs]
    model = [("spaCy model", *(o.get("spacy_model") or Html(f"{esc(default_model())} "
                                                             "<small>(default)</small>")
                               for o in options))]
    labels = [("entity labels", *(o.get("entity_labels") or Html("<small>default</small>")
                                  for o in options))]
    packages = sorted({k for r in runs for k in r[1]})
    version_rows = [(p, *(r[1].get(p) for r in runs)) for p in packages]
    keys = sorted({k for o in options for k in o} - {"spacy_model", "entity_labels"})
    option_rows = [(k, *(option_text(o.get(k)) for o in options)) for k in keys]
    body = (table(["", *ids], model + labels)
            + "<h3>Package versions</h3>" + table(["package", *ids], version_rows)
            + "<h3>Options (those set away from their default)</h3>"
            + table(["option", *ids], option_rows)
            + '<p class="note">The run log records the model name only when it was passed '
              "explicitly, and not the model package's version.</p>")
    return section("versions", "Model, versions and options", body,
                   f"For the latest {len(ids)} run(s), newest first.")


def parse_options(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {"(unreadable options)": text}
    return value if isinstance(value, dict) else {"(options)": value}


def option_text(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, list):
        return ", ".join(str(x) for x in value)
    return json.dumps(value)


def default_model() -> str:
    from transforms.entities import DEFAULT_MODEL

    return DEFAULT_MODEL


# ---------------------------------------------------------------------------------------- page

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;
  color:#1f2328;background:#f6f8fa;line-height:1.4}
header{background:#24292f;color:#fff;padding:16px 32px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;color:#c9d1d9;font-size:13px}
nav{padding:8px 32px;background:#fff;border-bottom:1px solid #d0d7de;position:sticky;top:0}
nav a{margin-right:16px;color:#0969da;text-decoration:none;font-size:14px}
main{max-width:1320px;margin:0 auto;padding:8px 32px 48px}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 20px 16px;
  margin:16px 0}
h2{font-size:19px;border-bottom:1px solid #d0d7de;padding-bottom:6px}
h3{font-size:15px;margin:18px 0 6px} h3 small{font-weight:normal;color:#57606a}
.intro,.note{color:#57606a;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin:6px 0;max-width:100%}
th,td{border-bottom:1px solid #d8dee4;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td ul{margin:0;padding-left:16px} td.none,p.none{color:#57606a;font-style:italic}
caption{text-align:left;color:#57606a;font-size:12px}
code{font-size:12px;overflow-wrap:anywhere}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;min-width:110px}
.card strong{display:block;font-size:22px} .card span{color:#57606a;font-size:12px}
.checks{list-style:none;padding:0;font-size:13px} .checks .ok{color:#1a7f37}
.checks .bad{color:#cf222e;font-weight:bold}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:8px 24px}
.side{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:24px;align-items:start}
figure.chart{margin:4px 0} figure.chart svg{max-width:100%;height:auto}
details summary{cursor:pointer;color:#0969da;font-size:13px}
.scroll{overflow-x:auto} table.runs td:nth-child(-n+3){white-space:nowrap}
table.runs td:nth-child(6){min-width:12em}
"""


def open_output(output: str):
    """``(connection, views left out)``: the views of ``pipeline.query`` over ``output``.

    An output written before a table existed has no folder for it, and its view cannot be
    created; the report does not need every view, so those are left out (and named on the page)
    instead of failing. The next pipeline run adds the missing folders.
    """
    import duckdb

    from pipeline.query import connect, views_sql

    try:
        return connect(output), []
    except duckdb.IOException:
        pass
    con, skipped = duckdb.connect(), []
    for statement in re.split(r";[ \t]*(?:\n|$)", views_sql(output)):
        try:
            con.execute(statement)
        except duckdb.Error:  # no files, or a view built on one that has none
            name = re.search(r"VIEW\s+(\w+)", statement)
            skipped.append(name[1] if name else statement.strip()[:40])
    return con, skipped


def build_html(output: str) -> str:
    """The whole page for ``output`` as one string."""
    con, skipped = open_output(output)
    con.execute("SET TimeZone = 'UTC'")
    charts = Charts()
    axis = time_axis(con)
    sections = [
        ("overview", "Overview", overview_section(con, skipped)),
        ("runs", "Runs", runs_section(con, charts)),
        ("dates", "Over time", dates_section(con, charts, axis)),
        ("entities", "Entities", entities_section(con, charts)),
        ("pairs", "Pairs", pairs_section(con, charts)),
        ("timeline", "Timeline", timeline_section(con, charts, axis)),
        ("errors", "Errors", errors_section(con)),
        ("versions", "Versions", versions_section(con)),
    ]
    con.close()
    nav = "".join(f'<a href="#{anchor}">{esc(name)}</a>' for anchor, name, _ in sections)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    where = os.path.abspath(output)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Run report: {esc(where)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>Run report</h1><p><code>{esc(where)}</code> · generated {generated}"
        "</p></header>"
        f"<nav>{nav}</nav><main>{''.join(body for _, _, body in sections)}</main>"
        "</body></html>\n")


def write_report(output: str) -> str:
    """Writes ``output/report.html`` (temp file, then atomic rename); returns its path."""
    path = os.path.join(output, REPORT_FILE)
    page = build_html(output)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, help="Output directory of a run; the report "
                        f"is written there as {REPORT_FILE}.")
    args = parser.parse_args(argv)
    missing = [t for t in READS if not os.path.isdir(os.path.join(args.output, t))]
    if missing:
        print(f"error: {args.output} holds no complete pipeline output (no folder for "
              f"{', '.join(missing)})", file=sys.stderr)
        return 2
    print(write_report(args.output))
    return 0

