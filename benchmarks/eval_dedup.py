"""Quality and cost of near-duplicate detection on Reuters-21578 (issue 3); run on demand.

The corpus is read from ``--input`` (never copied into the project). Three runs of the real Beam
transform `transforms.dedup.DeduplicateArticles` on the local FnApiRunner, outputs written as
Parquet with the project's schemas and queried with DuckDB:

1. ``originals``: the whole corpus (19,043 stories), timed. Gives the corpus's own clusters and
   checks that every group of byte-identical bodies ends up in one cluster.
2. ``batch``: the corpus plus perturbed copies of sampled stories, in one run. A copy is a wire
   story republished with an edit at some strength: a new lead sentence, a trimmed ending, a
   corrected figure, a byline/dateline, site boilerplate (the same text for every story of a
   site: the hard case for precision), or a rewrite combining them. Sources are long stories that
   are alone in run 1 (so their family is known); copies of short stories are reported apart,
   as they are matched exactly only by design. Copies are dated after their source.
3. ``incremental``: the copies alone against run 1's stored articles and signatures, as a
   scheduled run would see them (no old body is read), timed.
4. ``small``: 200 copies alone, then against run 1's stored state: what the archive costs a
   small scheduled run.

Per edit and strength: ``kept`` (share of the longer text that is the original's, in words),
recall (copies in their source's cluster), pairwise precision (pairs of a copy with a cluster
member of another family count against it), and how often the source stayed canonical. Pairs of
originals merged in run 2 that run 1 kept apart are counted as false positives too.

    .venv/bin/python benchmarks/eval_dedup.py --input ../shared/data/reuters21578/articles.jsonl
"""

from __future__ import annotations

import argparse
import difflib
import json
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import apache_beam as beam  # noqa: E402
import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from pipeline.state import ARTICLE_KEYS  # noqa: E402
from transforms import ids, near_dup  # noqa: E402
from transforms.dedup import DeduplicateArticles, DedupSettings  # noqa: E402
from transforms.schemas import ARTICLES, SIGNATURES, project  # noqa: E402

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_NUMBER = re.compile(r"\b\d[\d,]*(?:\.\d+)?\b")

NAMES = ["Jane Smith", "Carlos Ortega", "Mei Lin", "Tom Hughes", "Ana Petrova", "Raj Patel",
         "Sarah Okafor", "David Cohen", "Lena Fischer", "Kenji Watanabe"]
CITIES = ["LONDON", "NEW YORK", "TOKYO", "FRANKFURT", "SINGAPORE", "CHICAGO", "PARIS", "SYDNEY"]
SITES = ["The Daily Ledger", "MarketWire Online", "Business Courier", "Global Finance Post",
         "The Commodity Desk"]
BOILERPLATE = [
    "Sign up for the {site} morning briefing and get the day's top business stories in your inbox.",
    "Copyright {year} {site}. All rights reserved. This material may not be published, broadcast,"
    " rewritten or redistributed without permission.",
    "Follow {site} on social media for breaking news alerts, market updates and analysis.",
    "Related coverage: markets, commodities, earnings and the economy, updated throughout the day.",
    "Advertisement. Story continues below this message from our sponsors.",
    "Our journalism depends on readers like you: subscribe today for unlimited digital access"
    " to every article, newsletter and podcast we publish.",
    "Data is delayed at least 15 minutes and provided for informational purposes only, not for"
    " trading purposes or advice.",
    "Have a news tip? Contact the {site} newsroom by email or through our secure tip line.",
    "Read more from {site}: the weekly markets column, the energy desk and the central bank"
    " tracker.",
    "Terms of use, privacy policy and cookie settings apply to all readers of this website.",
]


# ---------------------------------------------------------------------------------------------
# The test set
# ---------------------------------------------------------------------------------------------


def parse_date(raw: str | None) -> datetime | None:
    try:
        return datetime.strptime((raw or "").strip(), "%d-%b-%Y %H:%M:%S.%f").replace(
            tzinfo=timezone.utc)
    except ValueError:
        return None


def article_row(source_uri: str, body: str, published_at: datetime | None,
                title: str | None) -> dict[str, Any]:
    """A dated article row as `transforms.read` + `transforms.dates` produce it."""
    content_hash = ids.content_hash(body)
    return {
        "article_id": ids.article_id(source_uri, 0, content_hash), "source_uri": source_uri,
        "record_index": 0, "url": None, "title": title, "body": body, "language": "en",
        "source": "reuters", "published_at": published_at, "published_raw": None,
        "date_precision": "second" if published_at else None,
        "date_status": "ok" if published_at else "missing", "word_count": len(body.split()),
        "content_hash": content_hash, "flags": [],
    }


def sentences(body: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(body.strip()) if s]


def kept_share(original: str, edited: str) -> float:
    """Words of the original still in order in the edit, over the longer of the two."""
    a, b = original.split(), edited.split()
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    common = sum(block.size for block in matcher.get_matching_blocks())
    return common / max(len(a), len(b))


def new_sentence(rng: random.Random, others: list[str]) -> str:
    """A sentence that no story contains: the words of another story's sentence, shuffled (the
    vocabulary of news, but no shared 5-word run that would make it another story's copy)."""
    words = rng.choice(sentences(rng.choice(others))).split()[:35]
    while len(words) < 12:
        words += rng.choice(sentences(rng.choice(others))).split()[:35 - len(words)]
    rng.shuffle(words)
    return " ".join(words).rstrip(".") + "."


def edit_lead(body: str, rng: random.Random, others: list[str], n: int) -> str | None:
    lead = [new_sentence(rng, others) for _ in range(n)]
    return " ".join(lead) + "\n    " + body


def edit_trim(body: str, rng: random.Random, share: float) -> str | None:
    parts = sentences(body)
    total = len(body.split())
    while len(parts) > 1 and sum(len(p.split()) for p in parts) > total * (1 - share):
        parts.pop()
    if len(parts) == len(sentences(body)):
        return None
    return " ".join(parts)


def edit_figures(body: str, rng: random.Random, n: int) -> str | None:
    spots = list(_NUMBER.finditer(body))
    if len(spots) < n:
        return None
    chosen = sorted(rng.sample(spots, n), key=lambda m: m.start(), reverse=True)
    for m in chosen:
        digits = m.group().replace(",", "")
        value = float(digits) * rng.choice([0.9, 1.1, 1.25, 2]) + rng.choice([1, 3, 7])
        new = f"{value:.1f}" if "." in digits else str(int(value))
        body = body[:m.start()] + new + body[m.end():]
    return body


def edit_byline(body: str, rng: random.Random, level: int) -> str:
    name, city = rng.choice(NAMES), rng.choice(CITIES)
    out = f"By {name}\n" + body
    if level >= 2:
        out = f"By {name}\n{city}, {rng.randint(1, 28)} March (Reuters) - " + body
    if level >= 3:
        out += f"\n(Reporting by {name}; additional reporting by {rng.choice(NAMES)};" \
               f" editing by {rng.choice(NAMES)})"
    return out


def boilerplate(site: str, words: int) -> tuple[str, str]:
    """The fixed header and footer of a site, about ``words`` words together."""
    texts = [b.format(site=site, year=2024) for b in BOILERPLATE]
    picked: list[str] = []
    i = sum(map(ord, site))
    while sum(len(t.split()) for t in picked) < words:
        picked.append(texts[i % len(texts)])
        i += 3
    half = max(1, len(picked) // 3)
    return " ".join(picked[:half]), " ".join(picked[half:])


def edit_boilerplate(body: str, rng: random.Random, words: int) -> str:
    head, foot = boilerplate(rng.choice(SITES), words)
    return f"{head}\n{body}\n{foot}"


def edit_rewrite(body: str, rng: random.Random, others: list[str], level: int) -> str | None:
    if level == 1:
        out = edit_trim(body, rng, 0.1)
        out = out and edit_figures(out, rng, 1)
        return out and edit_byline(out, rng, 1)
    if level == 2:
        out = edit_trim(body, rng, 0.2)
        out = out and edit_figures(out, rng, 2)
        out = out and edit_lead(out, rng, others, 1)
        return out and edit_byline(out, rng, 2)
    out = edit_trim(body, rng, 0.35)
    out = out and edit_figures(out, rng, 3)
    out = out and edit_lead(out, rng, others, 2)
    return out and edit_boilerplate(out, rng, 60)


EDITS: list[tuple[str, str, Any]] = [
    ("lead", "1 sentence", lambda b, r, o: edit_lead(b, r, o, 1)),
    ("lead", "2 sentences", lambda b, r, o: edit_lead(b, r, o, 2)),
    ("lead", "3 sentences", lambda b, r, o: edit_lead(b, r, o, 3)),
    ("trim", "10%", lambda b, r, o: edit_trim(b, r, 0.10)),
    ("trim", "20%", lambda b, r, o: edit_trim(b, r, 0.20)),
    ("trim", "30%", lambda b, r, o: edit_trim(b, r, 0.30)),
    ("trim", "45%", lambda b, r, o: edit_trim(b, r, 0.45)),
    ("figure", "1 number", lambda b, r, o: edit_figures(b, r, 1)),
    ("figure", "3 numbers", lambda b, r, o: edit_figures(b, r, 3)),
    ("figure", "6 numbers", lambda b, r, o: edit_figures(b, r, 6)),
    ("byline", "byline", lambda b, r, o: edit_byline(b, r, 1)),
    ("byline", "+dateline", lambda b, r, o: edit_byline(b, r, 2)),
    ("byline", "+credits", lambda b, r, o: edit_byline(b, r, 3)),
    ("boilerplate", "25 words", lambda b, r, o: edit_boilerplate(b, r, 25)),
    ("boilerplate", "60 words", lambda b, r, o: edit_boilerplate(b, r, 60)),
    ("boilerplate", "120 words", lambda b, r, o: edit_boilerplate(b, r, 120)),
    ("rewrite", "light", lambda b, r, o: edit_rewrite(b, r, o, 1)),
    ("rewrite", "medium", lambda b, r, o: edit_rewrite(b, r, o, 2)),
    ("rewrite", "heavy", lambda b, r, o: edit_rewrite(b, r, o, 3)),
]


def make_copies(originals: list[dict[str, Any]], sources: list[dict[str, Any]], group: str,
                rng: random.Random) -> list[dict[str, Any]]:
    """Every edit of every source, dated 1 to 72 hours after it; ``truth`` describes each."""
    others = [o["body"] for o in rng.sample(originals, 2000)]
    copies = []
    for src in sources:
        for edit, strength, fn in EDITS:
            body = fn(src["body"], rng, others)
            if body is None or ids.content_hash(body) == src["content_hash"]:
                continue
            when = src["published_at"] + timedelta(hours=rng.randint(1, 72))
            row = article_row(f"eval/{edit}/{strength}/{src['article_id']}", body, when,
                              src["title"])
            row["truth"] = {"source": src["article_id"], "edit": edit, "strength": strength,
                            "group": group, "kept": kept_share(src["body"], body)}
            copies.append(row)
    return copies


def isolated(originals: list[dict[str, Any]], loose: float = 0.3) -> set[str]:
    """Ids of stories that share no more than ``loose`` (estimated Jaccard of 5-shingles) with any
    other story of the corpus. Only they are perturbed, so a cluster mate of a copy that is
    neither its source nor another copy of it is an error, not an unlabelled sibling (a longer
    version of the same wire story). In memory, with the pure functions of `near_dup`."""
    settings = DedupSettings(near_threshold=loose, min_words=5)
    sigs = {o["article_id"]: near_dup.signature(o["body"], settings) for o in originals}
    buckets: dict[bytes, list[str]] = defaultdict(list)
    for article_id, sig in sigs.items():
        for key in near_dup.band_keys(sig, settings) if sig else ():
            buckets[key].append(article_id)
    crowded: set[str] = set()
    by_hash: dict[str, list[str]] = defaultdict(list)
    for o in originals:
        by_hash[o["content_hash"]].append(o["article_id"])
    crowded.update(a for group in by_hash.values() if len(group) > 1 for a in group)
    for members in buckets.values():
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                if near_dup.jaccard(sigs[a], sigs[b]) >= loose:
                    crowded.update((a, b))
    return {o["article_id"] for o in originals} - crowded


# ---------------------------------------------------------------------------------------------
# Running the transform
# ---------------------------------------------------------------------------------------------


def _write(rows: beam.PCollection, path: Path, schema: pa.Schema, label: str) -> None:
    _ = (
        rows
        | f"Project{label}" >> beam.Map(project, schema)
        | f"Write{label}" >> beam.io.WriteToParquet(str(path / "part"), schema,
                                                     file_name_suffix=".parquet")
    )


def _encode(row: dict[str, Any]) -> str:
    when = row["published_at"]
    return json.dumps({**row, "published_at": when and when.isoformat()})


def _decode(line: str) -> dict[str, Any]:
    row = json.loads(line)
    when = row["published_at"]
    row["published_at"] = when and datetime.fromisoformat(when)
    return row


def run_dedup(rows: list[dict[str, Any]], out: Path, settings: DedupSettings,
              stored: Path | None = None, workers: int = 1) -> tuple[str, dict[str, int]]:
    """Runs DeduplicateArticles on ``rows`` into ``out/{articles,signatures}``; returns the
    wall and CPU time of the pipeline (graph build to finish) and the dedup counters. CPU time
    is this process's (the in-memory runner runs here) and is what a busy machine does not
    inflate; with ``workers`` > 1 it misses the worker processes.

    The rows are read from a JSONL file (as the pipeline reads its inputs): a ``beam.Create``
    of 20 MB of bodies would pickle and bz2-compress them and time that instead."""
    out.mkdir(parents=True, exist_ok=True)
    source = out / "input.jsonl"
    source.write_text("".join(_encode(r) + "\n" for r in rows), encoding="utf-8")
    options = PipelineOptions(runner="FnApiRunner", direct_num_workers=workers,
                              direct_running_mode="multi_processing" if workers > 1
                              else "in_memory")
    start, cpu = time.perf_counter(), time.process_time()
    p = beam.Pipeline(options=options)
    articles = (
        p
        | "ReadRows" >> beam.io.ReadFromText(str(source))
        | "Decode" >> beam.Map(_decode)
    )
    state = None
    if stored is not None:
        state = {
            "articles": p | "StoredArticles" >> beam.io.ReadFromParquet(
                str(stored / "articles" / "*.parquet"), columns=list(ARTICLE_KEYS)),
            "signatures": p | "StoredSignatures" >> beam.io.ReadFromParquet(
                str(stored / "signatures" / "*.parquet")),
        }
    result = articles | "Deduplicate" >> DeduplicateArticles(settings, state)
    _write(result["all"], out / "articles", ARTICLES, "Articles")
    _write(result["signatures"], out / "signatures", SIGNATURES, "Signatures")
    outcome = p.run()
    outcome.wait_until_finish()
    seconds = (f"{time.perf_counter() - start:.1f} s wall, "
               f"{time.process_time() - cpu:.1f} s CPU")
    counters = {r.key.metric.name: r.committed
                for r in outcome.metrics().query()["counters"]
                if r.key.metric.namespace == "dedup" and not r.key.metric.name.endswith("msec")}
    return seconds, counters


def clusters(con: duckdb.DuckDBPyConnection, out: Path) -> dict[str, str]:
    rows = con.execute(
        f"SELECT article_id, cluster_id FROM read_parquet('{out}/articles/*.parquet')").fetchall()
    return dict(rows)


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------


def score(copies: list[dict[str, Any]], cluster_of: dict[str, str],
          family: dict[str, str]) -> dict[tuple[str, str, str], dict[str, float]]:
    """Per (group, edit, strength): n, mean kept, recall, pairwise precision, canonical kept."""
    members: dict[str, list[str]] = defaultdict(list)
    for article_id, cluster in cluster_of.items():
        members[cluster].append(article_id)
    stats: dict[tuple[str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for c in copies:
        t = c["truth"]
        key = (t["group"], t["edit"], t["strength"])
        s = stats[key]
        s["n"] += 1
        s["kept"] += t["kept"]
        cluster = cluster_of[c["article_id"]]
        found = cluster == cluster_of[t["source"]]
        s["tp"] += found
        s["canonical"] += found and cluster == t["source"]
        s["fp"] += sum(1 for m in members[cluster]
                       if m != c["article_id"] and family[m] != t["source"])
    return stats


def print_table(title: str, stats: dict[tuple[str, str, str], dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"{'set':6} {'edit':12} {'strength':12} {'n':>5} {'kept':>6} {'recall':>7} "
          f"{'precision':>9} {'src canon':>9}")
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (group, edit, strength), s in stats.items():
        n = s["n"]
        precision = s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else 1.0
        print(f"{group:6} {edit:12} {strength:12} {int(n):5d} {s['kept'] / n:6.1%} "
              f"{s['tp'] / n:7.1%} {precision:9.4f} {s['canonical'] / max(s['tp'], 1):9.1%}")
        if group == "long":
            bucket = "mean kept>=80%" if s["kept"] / n >= 0.8 else "mean kept<80%"
            for k in ("n", "tp", "fp"):
                totals[bucket][k] += s[k]
    for bucket, s in sorted(totals.items()):
        precision = s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else 1.0
        print(f"long   {'edits with':12} {bucket:14}{int(s['n']):5d} {'':6} "
              f"{s['tp'] / s['n']:7.1%} {precision:9.4f}")


def per_copy_kept_summary(copies: list[dict[str, Any]], cluster_of: dict[str, str]) -> None:
    """Recall by the measured share kept, whatever the edit (the target is for >= 80 %)."""
    bins = [(0.8, 1.01), (0.9, 1.01), (0.8, 0.9), (0.7, 0.8), (0.6, 0.7), (0.0, 0.6)]
    print("\nrecall of long-story copies by share of text kept (any edit)")
    for lo, hi in bins:
        chosen = [c for c in copies if c["truth"]["group"] == "long"
                  and lo <= c["truth"]["kept"] < hi]
        if chosen:
            found = sum(cluster_of[c["article_id"]] == cluster_of[c["truth"]["source"]]
                        for c in chosen)
            print(f"  kept {lo:.0%}-{min(hi, 1):.0%}: {found}/{len(chosen)} = "
                  f"{found / len(chosen):.1%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, type=Path, help="Reuters articles.jsonl")
    parser.add_argument("--sources", type=int, default=400, help="long stories to perturb")
    parser.add_argument("--short-sources", type=int, default=100, help="short stories to perturb")
    parser.add_argument("--seed", type=int, default=20250704, help="random seed of the edits")
    parser.add_argument("--threshold", type=float, default=DedupSettings.near_threshold)
    parser.add_argument("--shingle-size", type=int, default=DedupSettings.shingle_size)
    parser.add_argument("--min-words", type=int, default=DedupSettings.min_words)
    parser.add_argument("--workers", type=int, default=1, help="FnApiRunner worker processes")
    parser.add_argument("--keep", type=Path, default=None, help="keep outputs in this folder")
    parser.add_argument("--show-corpus-pairs", type=int, default=8,
                        help="print this many near-duplicate pairs found inside the corpus")
    args = parser.parse_args(argv)
    settings = DedupSettings(near_threshold=args.threshold, shingle_size=args.shingle_size,
                             min_words=args.min_words)
    print(f"settings: threshold={settings.near_threshold} k={settings.shingle_size} "
          f"perm={settings.num_perm} bands={settings.bands}x{settings.rows} "
          f"min_words={settings.min_words} max_bucket={settings.max_bucket} "
          f"cc_rounds={settings.cc_rounds}")

    records = [json.loads(line) for line in args.input.open(encoding="utf-8") if line.strip()]
    originals = [article_row(f"reuters/{r['id']}", r["body"], parse_date(r.get("date")),
                             r.get("title")) for r in records if r["body"].strip()]
    print(f"corpus: {len(originals)} stories, "
          f"{sum(o['published_at'] is None for o in originals)} undated")
    work = Path(tempfile.mkdtemp(prefix="eval_dedup_")) if args.keep is None else args.keep
    con = duckdb.connect()

    # 1. The corpus alone.
    seconds, counters = run_dedup(originals, work / "originals", settings, workers=args.workers)
    print(f"\nrun 1, whole corpus through dedup: {seconds}; counters {counters}")
    base = clusters(con, work / "originals")
    check_identical_groups(records, originals, base)
    corpus_pairs(con, work / "originals", originals, args.show_corpus_pairs)

    # 2. Corpus + perturbed copies in one run.
    rng = random.Random(args.seed)
    lonely = isolated(originals)
    alone = [o for o in originals if o["article_id"] in lonely and o["published_at"]]
    long_ones = [o for o in alone if not near_dup.is_short(near_dup.tokens(o["body"]), settings)]
    short_ones = [o for o in alone if near_dup.is_short(near_dup.tokens(o["body"]), settings)
                  and len(o["body"].split()) >= 15]
    copies = make_copies(originals, rng.sample(long_ones, args.sources), "long", rng)
    copies += make_copies(originals, rng.sample(short_ones, args.short_sources), "short", rng)
    family = {o["article_id"]: o["article_id"] for o in originals}
    family.update({c["article_id"]: c["truth"]["source"] for c in copies})
    for o in originals:  # the corpus's own clusters are one family each
        family[o["article_id"]] = base[o["article_id"]]
    print(f"\nrun 2: corpus + {len(copies)} copies of {args.sources} long and "
          f"{args.short_sources} short stories")
    rows = originals + [{k: v for k, v in c.items() if k != "truth"} for c in copies]
    seconds, counters = run_dedup(rows, work / "batch", settings, workers=args.workers)
    print(f"run 2 time: {seconds}; counters {counters}")
    batch = clusters(con, work / "batch")
    print_table("run 2 (one batch): copies vs their source", score(copies, batch, family))
    per_copy_kept_summary(copies, batch)
    merged_originals(originals, base, batch)

    # 3. Copies alone against the stored state of run 1.
    copy_rows = [{k: v for k, v in c.items() if k != "truth"} for c in copies]
    seconds, counters = run_dedup(copy_rows, work / "incremental", settings,
                                  stored=work / "originals", workers=args.workers)
    print(f"\nrun 3 (copies only, against run 1's stored keys and signatures): {seconds};"
          f" counters {counters}")
    incremental = dict(base)
    incremental.update(clusters(con, work / "incremental"))
    print_table("run 3 (incremental): copies vs their stored source",
                score(copies, incremental, family))

    # 4. A small scheduled run: what the stored state costs when few articles are new.
    for n in (200,):
        seconds, counters = run_dedup(copy_rows[:n], work / f"small{n}", settings,
                                      workers=args.workers)
        print(f"\nrun 4: {n} copies alone: {seconds}")
        seconds, counters = run_dedup(copy_rows[:n], work / f"small{n}-stored", settings,
                                      stored=work / "originals", workers=args.workers)
        print(f"run 4: the same {n} copies against run 1's stored state: {seconds}; "
              f"counters {counters}")
    print(f"\noutputs in {work}")
    return 0


def check_identical_groups(records: list[dict[str, Any]], originals: list[dict[str, Any]],
                           cluster_of: dict[str, str]) -> None:
    by_body: dict[str, list[str]] = defaultdict(list)
    for r, o in zip(records, originals, strict=True):
        by_body[r["body"]].append(o["article_id"])
    groups = [g for g in by_body.values() if len(g) > 1]
    found = sum(len({cluster_of[a] for a in g}) == 1 for g in groups)
    print(f"byte-identical body groups: {len(groups)} ({sum(map(len, groups))} stories); "
          f"in one cluster: {found}/{len(groups)}")


def corpus_pairs(con: duckdb.DuckDBPyConnection, out: Path, originals: list[dict[str, Any]],
                 show: int) -> None:
    """The corpus's own near-duplicates (no ground truth: printed for inspection)."""
    rows = con.execute(f"""
        SELECT article_id, duplicate_of, similarity FROM read_parquet('{out}/articles/*.parquet')
        WHERE match_kind = 'near' ORDER BY similarity, article_id""").fetchall()
    print(f"near duplicates inside the corpus: {len(rows)}; lowest similarities first:")
    body = {o["article_id"]: o["body"] for o in originals}
    for article_id, canonical, similarity in rows[:show]:
        print(f"  J={similarity:.2f}\n    A: {_clip(body[canonical])}\n"
              f"    B: {_clip(body[article_id])}")


def _clip(text: str, n: int = 150) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "..."


def merged_originals(originals: list[dict[str, Any]], base: dict[str, str],
                     batch: dict[str, str]) -> None:
    """Originals that run 2 put together although run 1 kept them apart (a copy bridged them)."""
    groups: dict[str, set[str]] = defaultdict(set)
    for o in originals:
        groups[batch[o["article_id"]]].add(base[o["article_id"]])
    bridged = sum(len(g) - 1 for g in groups.values())
    print(f"original clusters of run 1 merged in run 2 by a copy: {bridged}")


if __name__ == "__main__":
    raise SystemExit(main())
