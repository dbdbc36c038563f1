"""Accuracy of the entity and date stages on public gold standards (issue 8).

Three measurements, each run only when its corpus path is given (the corpora are not part of the
project and are never copied into it):

1. NER on CoNLL-2003 (``--conll``, the CoNLL 4-column test file): span-level precision, recall and
   F1 per CoNLL label for the raw model, the pre-issue pipeline (model spans trimmed by
   ``trim_span``) and the pipeline with the repair rules of ``transforms.entity_resolution`` (all
   rules, and each rule alone), same model, same parsed documents.
2. Dates on TempEval-3 (``--tempeval``, one or more folders of ``.tml`` files) and MEANTIME
   (``--meantime``): for gold TIMEX3 DATE expressions, how many spaCy found (a DATE/TIME span
   overlaps them), and how many ``transforms.text_dates`` resolves to the gold value at the gold's
   granularity, given the document creation time; value precision/recall/F1 as in TempEval-3.
3. Entity merging on MEANTIME (``--meantime``, cross-document annotation): over gold named
   mentions found by the pipeline, how many gold entities are split over several entity ids and
   how many ids merge different gold entities, with the pre-issue ids (label + normalised text)
   and with resolution (coreference, acronyms, aliases).

Usage (from the project root):
    .venv/bin/python -m benchmarks.eval_accuracy \\
        --conll ../shared/data/conll2003/test.txt \\
        --tempeval ../shared/data/tempeval3/te3-platinum \\
        --meantime ../shared/data/meantime/intra_cross-doc_annotation/corpus_stock
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from transforms import entity_resolution as er
from transforms import ids, text_dates
from transforms.entities import (
    DEFAULT_MODEL,
    all_lower_case,
    entity_id,
    load_ner_pipeline,
    normalise_name,
    trim_span,
)
from transforms.text_dates import resolve_date_mention

# spaCy (OntoNotes) labels -> CoNLL-2003 labels. CoNLL's LOC covers countries, cities, regions
# and physical places, so GPE, LOC and FAC (airports, stadiums, roads) go there; its MISC covers
# nationalities, events, products, works and languages, which is NORP, EVENT, PRODUCT,
# WORK_OF_ART, LAW and LANGUAGE. Numeric and temporal labels (DATE, TIME, MONEY, PERCENT,
# QUANTITY, ORDINAL, CARDINAL) are not CoNLL entities and are dropped.
CONLL_LABELS = {
    "PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC",
    "NORP": "MISC", "EVENT": "MISC", "PRODUCT": "MISC", "WORK_OF_ART": "MISC", "LAW": "MISC",
    "LANGUAGE": "MISC",
}
TEMPORAL_LABELS = ("DATE", "TIME")


# ---------------------------------------------------------------------------------------------
# Scoring


@dataclass
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score_spans(gold: Iterable[tuple], pred: Iterable[tuple]) -> dict[str, PRF]:
    """Exact-match scores of (doc, start, end, label) sets, per label and ``ALL``."""
    gold, pred = set(gold), set(pred)
    out: dict[str, PRF] = defaultdict(PRF)
    for item in pred:
        key = "tp" if item in gold else "fp"
        for label in (item[-1], "ALL"):
            setattr(out[label], key, getattr(out[label], key) + 1)
    for item in gold - pred:
        for label in (item[-1], "ALL"):
            out[label].fn += 1
    return dict(out)


# ---------------------------------------------------------------------------------------------
# 1. CoNLL-2003


def read_conll(path: Path) -> list[list[list[tuple[str, str]]]]:
    """Documents -> sentences -> (token, IOB2 tag)."""
    docs: list[list[list[tuple[str, str]]]] = [[]]
    sentence: list[tuple[str, str]] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts:
                if sentence:
                    docs[-1].append(sentence)
                    sentence = []
                continue
            if parts[0] == "-DOCSTART-":
                if sentence:
                    docs[-1].append(sentence)
                    sentence = []
                if docs[-1]:
                    docs.append([])
                continue
            sentence.append((parts[0], parts[-1]))
    if sentence:
        docs[-1].append(sentence)
    return [d for d in docs if d]


def conll_texts(
    docs: list[list[list[tuple[str, str]]]], unit: str
) -> tuple[list[str], list[tuple[int, int, int, str]]]:
    """Texts (one per document, sentences on their own line; or one per sentence) and gold spans
    as (text index, start char, end char, CoNLL label)."""
    texts: list[str] = []
    gold: list[tuple[int, int, int, str]] = []
    groups = [[s] for d in docs for s in d] if unit == "sentence" else docs
    for group in groups:
        idx, parts, pos = len(texts), [], 0
        for sentence in group:
            open_span: list[Any] | None = None
            for k, (token, tag) in enumerate(sentence):
                if k:
                    parts.append(" ")
                    pos += 1
                start = pos
                parts.append(token)
                pos += len(token)
                if tag.startswith("B-") or (tag.startswith("I-") and (
                        open_span is None or open_span[2] != tag[2:])):
                    if open_span:
                        gold.append((idx, open_span[0], open_span[1], open_span[2]))
                    open_span = [start, pos, tag[2:]]
                elif tag.startswith("I-"):
                    open_span[1] = pos
                else:
                    if open_span:
                        gold.append((idx, open_span[0], open_span[1], open_span[2]))
                    open_span = None
            if open_span:
                gold.append((idx, open_span[0], open_span[1], open_span[2]))
            parts.append("\n")
            pos += 1
        texts.append("".join(parts))
    return texts, gold


def conll_predictions(docs: list[Any]) -> dict[str, list[tuple[int, int, int, str]]]:
    """Predicted CoNLL spans of each system over the same parsed docs."""
    labels = frozenset(CONLL_LABELS)
    systems: dict[str, list[tuple[int, int, int, str]]] = defaultdict(list)
    rule_sets = {f"rules: {rule} only": (rule,) for rule in er.RULES}
    for idx, doc in enumerate(docs):
        for ent in doc.ents:
            if ent.label_ not in CONLL_LABELS:
                continue
            systems["raw model"].append(
                (idx, ent.start_char, ent.end_char, CONLL_LABELS[ent.label_]))
            s, e = trim_span(ent.text)
            if s < e:
                systems["pipeline before (trim)"].append(
                    (idx, ent.start_char + s, ent.start_char + e, CONLL_LABELS[ent.label_]))
        for m in er.resolve_mentions(doc, labels):
            systems["pipeline with rules"].append(
                (idx, m.start_char, m.end_char, CONLL_LABELS[m.label]))
            if not all_lower_case(m.text):  # what transforms.entities.mentions_in keeps
                systems["pipeline as shipped (+ no lower-case names)"].append(
                    (idx, m.start_char, m.end_char, CONLL_LABELS[m.label]))
        for name, rules in rule_sets.items():
            for m in er.resolve_mentions(doc, labels, rules=rules):
                systems[name].append((idx, m.start_char, m.end_char, CONLL_LABELS[m.label]))
    return systems


def eval_conll(nlp, path: Path, unit: str, limit: int | None) -> dict[str, Any]:
    docs = read_conll(path)[:limit]
    texts, gold = conll_texts(docs, unit)
    t0 = time.perf_counter()
    parsed = list(nlp.pipe(texts, batch_size=32))
    parse_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    systems = conll_predictions(parsed)
    rules_s = time.perf_counter() - t0
    results = {name: score_spans(gold, pred) for name, pred in systems.items()}
    return {"documents": len(docs), "texts": len(texts), "gold_entities": len(gold),
            "gold_by_label": dict(Counter(g[-1] for g in gold)), "parse_seconds": parse_s,
            "postprocess_seconds": rules_s, "scores": results}


def print_conll(res: dict[str, Any], path: Path, unit: str) -> None:
    print(f"\n## NER on CoNLL-2003 ({path.name}, {res['documents']} documents, unit={unit}, "
          f"{res['gold_entities']} gold entities)\n")
    labels = ["ALL", "PER", "ORG", "LOC", "MISC"]
    print("| system | " + " | ".join(f"{lab} P / R / F1" for lab in labels) + " |")
    print("| --- |" + " ---: |" * len(labels))
    for name, scores in res["scores"].items():
        cells = []
        for lab in labels:
            s = scores.get(lab, PRF())
            cells.append(f"{s.precision:.3f} / {s.recall:.3f} / **{s.f1:.3f}**" if lab == "ALL"
                         else f"{s.precision:.3f} / {s.recall:.3f} / {s.f1:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\nspaCy parse: {res['parse_seconds']:.1f} s; all post-processing arms: "
          f"{res['postprocess_seconds']:.1f} s")


# ---------------------------------------------------------------------------------------------
# Date documents (TempEval-3 .tml and MEANTIME .xml)


@dataclass
class Timex:
    start: int
    end: int
    type: str
    value: str
    text: str


@dataclass
class DatedDoc:
    name: str
    text: str
    dct: date
    timexes: list[Timex] = field(default_factory=list)
    # Where the TIMEX annotation ends: MEANTIME annotates only the first sentences of an article,
    # so system mentions after this offset are neither right nor wrong.
    annotated_end: int | None = None


def read_tml(path: Path) -> DatedDoc:
    """A TimeML document: the text of ``<TEXT>``, its TIMEX3s with offsets, and the DCT."""
    root = ET.parse(path).getroot()
    dct_el = root.find("DCT/TIMEX3")
    dct = date.fromisoformat(dct_el.get("value")[:10])
    body = root.find("TEXT")
    parts: list[str] = []
    timexes: list[Timex] = []

    def walk(el: ET.Element) -> None:
        start = sum(len(p) for p in parts)
        if el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if el.tag == "TIMEX3":
            end = sum(len(p) for p in parts)
            timexes.append(Timex(start, end, el.get("type"), el.get("value", ""),
                                 "".join(parts)[start:end]))

    walk(body)
    return DatedDoc(path.stem, "".join(parts), dct, timexes)


@dataclass
class MeantimeDoc:
    name: str
    text: str
    dct: date
    timexes: list[Timex]
    # (start, end, syntactic type, instance id) of each entity mention linked to an instance;
    # start/end are those of the mention's head
    mentions: list[tuple[int, int, str, str]]
    annotated_end: int | None = None


def read_meantime(path: Path) -> MeantimeDoc:
    """A MEANTIME CAT document: text rebuilt from tokens (one sentence a line), TIMEX3s, and
    entity mentions with their cross-document instance ids."""
    root = ET.parse(path).getroot()
    offsets: dict[str, tuple[int, int]] = {}
    parts: list[str] = []
    pos, sentence = 0, None
    for tok in root.iter("token"):
        if sentence is not None and tok.get("sentence") != sentence:
            parts.append("\n")
            pos += 1
        elif sentence is not None:
            parts.append(" ")
            pos += 1
        sentence = tok.get("sentence")
        text = tok.text or ""
        offsets[tok.get("t_id")] = (pos, pos + len(text))
        parts.append(text)
        pos += len(text)
    text = "".join(parts)
    markables = root.find("Markables")

    def extent(el: ET.Element) -> tuple[int, int] | None:
        anchors = [offsets[a.get("t_id")] for a in el.findall("token_anchor")
                   if a.get("t_id") in offsets]
        return (min(a[0] for a in anchors), max(a[1] for a in anchors)) if anchors else None

    timexes, dct = [], None
    for el in markables.findall("TIMEX3"):
        span = extent(el)
        if el.get("functionInDocument") == "CREATION_TIME":
            # The dateline under the headline: a DATE in the text like any other.
            dct = date.fromisoformat(el.get("value")[:10])
        if span:
            timexes.append(Timex(span[0], span[1], el.get("type"), el.get("value", ""),
                                 text[span[0]:span[1]]))
    instances = {el.get("m_id"): el.get("instance_id") for el in markables.findall("ENTITY")}
    mention_els = {el.get("m_id"): el for el in markables.findall("ENTITY_MENTION")}
    mentions = []
    for rel in root.find("Relations").findall("REFERS_TO"):
        target = rel.find("target").get("m_id")
        if target not in instances:
            continue
        for source in rel.findall("source"):
            el = mention_els.get(source.get("m_id"))
            span = extent(el) if el is not None else None
            if span:
                start, end = _head_span(text, span, el.get("head") or "")
                mentions.append((start, end, el.get("syntactic_type"), instances[target]))
    return MeantimeDoc(path.stem, text, dct, timexes, mentions)


def limit_to_timex_region(docs: list[MeantimeDoc]) -> None:
    """Sets ``annotated_end`` to the end of the last line (sentence) that holds a TIMEX3 in any
    document: MEANTIME annotates time expressions only at the start of each article (the
    headline, the dateline and the first sentences), so later mentions cannot be scored."""
    last_line = max(d.text.count("\n", 0, t.start) for d in docs for t in d.timexes)
    for d in docs:
        pos = -1
        for _ in range(last_line + 1):
            pos = d.text.find("\n", pos + 1)
            if pos < 0:
                break
        d.annotated_end = len(d.text) if pos < 0 else pos


def _head_span(text: str, span: tuple[int, int], head: str) -> tuple[int, int]:
    """The mention's head inside its extent ("the U.S. dollar" -> "dollar"), so that a pipeline
    mention of "U.S." is not taken for a mention of the dollar; the extent if the head is absent."""
    head = " ".join(head.split())
    at = text.find(head, span[0], span[1]) if head else -1
    return (at, at + len(head)) if at >= 0 else span


# ---------------------------------------------------------------------------------------------
# 2. Dates


def gold_matches(value: str, result: dict[str, Any], dct: date) -> bool:
    """Whether a resolved mention equals a TIMEX3 value at the value's own granularity."""
    start = result["resolved_start"]
    if result["status"] != "resolved" or start is None:
        return False
    if value == "PRESENT_REF":  # the speech time, i.e. the document's date
        return start == dct
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value):
        return start == date(*map(int, m.groups()))
    if m := re.fullmatch(r"(\d{4})-(\d{2})", value):
        return (start.year, start.month) == tuple(map(int, m.groups()))
    if m := re.fullmatch(r"(\d{4})-W(\d{2})-WE", value):  # the weekend of an ISO week
        return start.isocalendar()[:2] == tuple(map(int, m.groups())) and start.weekday() >= 5
    if m := re.fullmatch(r"(\d{4})-W(\d{2})", value):
        return start.isocalendar()[:2] == tuple(map(int, m.groups()))
    if m := re.fullmatch(r"(\d{4})-Q([1-4])", value):
        return (start.year, (start.month - 1) // 3 + 1) == tuple(map(int, m.groups()))
    if m := re.fullmatch(r"(\d{4})-H([12])", value):
        return (start.year, 1 if start.month <= 6 else 2) == tuple(map(int, m.groups()))
    if m := re.fullmatch(r"(\d{4})-(SP|SU|FA|WI)", value):
        season = {"SP": 3, "SU": 6, "FA": 9, "WI": 12}[m.group(2)]
        return (start.year, start.month) == (int(m.group(1)), season)
    if re.fullmatch(r"\d{4}", value):
        return start.year == int(value)
    if re.fullmatch(r"\d{3}", value):  # decade
        return start.year // 10 == int(value)
    if re.fullmatch(r"\d{2}", value):  # century
        return start.year // 100 == int(value)
    return False  # PAST_REF, FUTURE_REF, XXXX-..., P5Y: not representable as a calendar range


def value_kind(value: str) -> str:
    if value.endswith("_REF"):
        return value
    if re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?|\d{4}-W\d{2}(-WE)?|\d{4}-Q\d|\d{3}", value):
        return "calendar"
    return "other"


def eval_dates(nlp, docs: list[DatedDoc | MeantimeDoc]) -> dict[str, Any]:
    """Found/correct counts for gold DATE timexes, and value P/R/F1 over resolved mentions."""
    parsed = list(nlp.pipe((d.text for d in docs), batch_size=16))
    text_dates.clear_cache()
    resolve_date_mention("Wed, 2 Jul 2025", datetime(2000, 1, 1))  # dateparser's one-off start-up
    text_dates.clear_cache()
    found = correct = strict = gold_total = 0
    system_resolved = system_correct = 0
    by_kind: dict[str, Counter] = defaultdict(Counter)
    statuses: Counter = Counter()
    errors: list[tuple[str, str, str, str]] = []
    calls, seconds = 0, 0.0
    for d, doc in zip(docs, parsed, strict=True):
        base = datetime(d.dct.year, d.dct.month, d.dct.day)
        mentions = [e for e in doc.ents if e.label_ in TEMPORAL_LABELS]
        results = []
        for ent in mentions:
            t0 = time.perf_counter()
            results.append(resolve_date_mention(ent.text, base))
            seconds += time.perf_counter() - t0
            calls += 1
        dates = [t for t in d.timexes if t.type == "DATE"]
        others = [t for t in d.timexes if t.type != "DATE"]
        end = d.annotated_end if d.annotated_end is not None else len(d.text)
        for ent, res in zip(mentions, results, strict=True):
            statuses[res["status"]] += 1
            if ent.start_char >= end:
                continue
            overlap_date = [t for t in dates if t.start < ent.end_char and ent.start_char < t.end]
            overlap_other = [t for t in others if t.start < ent.end_char
                             and ent.start_char < t.end]
            if res["status"] != "resolved" or (overlap_other and not overlap_date):
                continue  # out of scope: another TIMEX type (TIME, DURATION, SET)
            system_resolved += 1
            if any(gold_matches(t.value, res, d.dct) for t in overlap_date):
                system_correct += 1
        for t in dates:
            gold_total += 1
            kind = value_kind(t.value)
            by_kind[kind]["gold"] += 1
            hits = [(min(e.end_char, t.end) - max(e.start_char, t.start), e, r)
                    for e, r in zip(mentions, results, strict=True)
                    if e.start_char < t.end and t.start < e.end_char]
            if not hits:
                continue
            found += 1
            by_kind[kind]["found"] += 1
            _, ent, res = max(hits, key=lambda h: h[0])
            if gold_matches(t.value, res, d.dct):
                correct += 1
                by_kind[kind]["correct"] += 1
                if _granularity_of(t.value) in (None, res["granularity"]):
                    strict += 1
            else:
                errors.append((d.name, ent.text, t.value, f"{res['status']} "
                               f"{res['resolved_start']}..{res['resolved_end']} "
                               f"{res['granularity']}"))
    value = PRF(tp=system_correct, fp=system_resolved - system_correct,
                fn=gold_total - system_correct)
    return {"documents": len(docs), "gold_dates": gold_total, "found": found,
            "correct": correct, "correct_strict_granularity": strict,
            "system_resolved": system_resolved, "system_correct": system_correct,
            "value_precision": value.precision, "value_recall": value.recall,
            "value_f1": value.f1, "by_kind": {k: dict(v) for k, v in by_kind.items()},
            "statuses": dict(statuses), "errors": errors,
            "resolver_calls": calls, "resolver_ms_per_call": 1000 * seconds / max(calls, 1)}


def _granularity_of(value: str) -> str | None:
    for pattern, gran in ((r"\d{4}-\d{2}-\d{2}", "day"), (r"\d{4}-W\d{2}", "week"),
                          (r"\d{4}-\d{2}", "month"), (r"\d{4}-Q\d", "quarter"),
                          (r"\d{4}", "year"), (r"\d{3}", "decade")):
        if re.fullmatch(pattern, value):
            return gran
    return None


def print_dates(name: str, res: dict[str, Any], show_errors: int) -> None:
    g = res["gold_dates"]
    print(f"\n## Dates: {name} ({res['documents']} documents, {g} gold DATE timexes)\n")
    print("| measure | value |")
    print("| --- | ---: |")
    print(f"| gold DATEs found by spaCy (a DATE/TIME span overlaps) | {res['found']} / {g} "
          f"({res['found'] / max(g, 1):.1%}) |")
    print(f"| found and resolved to the gold value (at the gold's granularity) | "
          f"{res['correct']} / {res['found']} ({res['correct'] / max(res['found'], 1):.1%}) |")
    print(f"| ... and with the same granularity | {res['correct_strict_granularity']} / "
          f"{res['found']} |")
    print(f"| value precision (correct / resolved mentions not on a non-DATE timex) | "
          f"{res['system_correct']} / {res['system_resolved']} = {res['value_precision']:.3f} |")
    print(f"| value recall (correct / gold DATEs) | {res['system_correct']} / {g} = "
          f"{res['value_recall']:.3f} |")
    print(f"| **value F1** | **{res['value_f1']:.3f}** |")
    print(f"| resolver time per mention (empty cache at start, dateparser warmed up) | "
          f"{res['resolver_ms_per_call']:.2f} ms |")
    kinds = ", ".join(f"{k}: {v.get('correct', 0)}/{v.get('found', 0)}/{v.get('gold', 0)}"
                      for k, v in sorted(res["by_kind"].items()))
    print(f"\nBy gold value kind (correct/found/gold): {kinds}")
    print(f"Statuses of all DATE/TIME mentions: {dict(sorted(res['statuses'].items()))}")
    for doc, text, gold, got in res["errors"][:show_errors]:
        print(f"  miss  {doc}: {text!r} gold={gold} got={got}")


# ---------------------------------------------------------------------------------------------
# 3. Entity merging on MEANTIME


def old_entity_id(label: str, text: str) -> str:
    """The pre-issue id: label + ``normalise_name`` of the trimmed surface text."""
    return ids.stable_id("entity", label, normalise_name(text))


def new_entity_id(label: str, canonical: str) -> str:
    """The pipeline's id: label + ``entity_key`` of the canonical name."""
    return entity_id(label, canonical)


def eval_merging(nlp, docs: list[MeantimeDoc], types: tuple[str, ...]) -> dict[str, Any]:
    """Split gold entities and merging ids, before and after resolution."""
    labels = frozenset(CONLL_LABELS)
    parsed = list(nlp.pipe((d.text for d in docs), batch_size=16))
    out = {}
    for name in ("before (label + normalised text)", "after (resolve_mentions)"):
        pairs: list[tuple[str, str]] = []
        for d, doc in zip(docs, parsed, strict=True):
            if name.startswith("before"):
                system = []
                for ent in doc.ents:
                    if ent.label_ not in labels:
                        continue
                    s, e = trim_span(ent.text)
                    if s < e:
                        text = ent.text[s:e]
                        system.append((ent.start_char + s, ent.start_char + e,
                                       old_entity_id(ent.label_, text)))
            else:
                system = [(m.start_char, m.end_char, new_entity_id(m.label, m.canonical))
                          for m in er.resolve_mentions(doc, labels)]
            for start, end, kind, instance in d.mentions:
                if kind not in types:
                    continue
                hits = [(min(e, end) - max(s, start), sid) for s, e, sid in system
                        if s < end and start < e]
                if hits:
                    pairs.append((instance, max(hits)[1]))
        ids_of: dict[str, set[str]] = defaultdict(set)
        gold_of: dict[str, set[str]] = defaultdict(set)
        for instance, sid in pairs:
            ids_of[instance].add(sid)
            gold_of[sid].add(instance)
        out[name] = {
            "matched_mentions": len(pairs),
            "gold_entities": len(ids_of),
            "gold_entities_split": sum(1 for v in ids_of.values() if len(v) > 1),
            "extra_ids_from_splits": sum(len(v) - 1 for v in ids_of.values()),
            "ids": len(gold_of),
            "ids_merging_gold_entities": sum(1 for v in gold_of.values() if len(v) > 1),
        }
    return out


def print_merging(res: dict[str, Any], types: tuple[str, ...]) -> None:
    print(f"\n## Entity merging on MEANTIME (gold mentions of type {', '.join(types)} that a "
          "pipeline mention overlaps)\n")
    print("| ids | matched mentions | gold entities | split over >1 id | extra ids | ids | "
          "ids merging >1 gold entity |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in res.items():
        print(f"| {name} | {r['matched_mentions']} | {r['gold_entities']} | "
              f"{r['gold_entities_split']} | {r['extra_ids_from_splits']} | {r['ids']} | "
              f"{r['ids_merging_gold_entities']} |")


# ---------------------------------------------------------------------------------------------


def tml_files(paths: Iterable[str]) -> Iterator[Path]:
    for p in paths:
        path = Path(p)
        yield from sorted(path.glob("*.tml")) if path.is_dir() else [path]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conll", type=Path, default=None,
                        help="CoNLL-2003 file (token POS chunk NER), e.g. .../conll2003/test.txt")
    parser.add_argument("--conll_unit", choices=("document", "sentence"), default="document",
                        help="Feed spaCy one text per document (sentences on separate lines, "
                             "as articles are) or one per sentence.")
    parser.add_argument("--tempeval", action="append", default=[],
                        help="Folder of TempEval-3 .tml files (or one file); repeatable.")
    parser.add_argument("--meantime", type=Path, default=None,
                        help="Folder of MEANTIME CAT .xml files with cross-document annotation.")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="spaCy model (name or path).")
    parser.add_argument("--limit_docs", type=int, default=None,
                        help="Only the first N CoNLL documents (quick runs).")
    parser.add_argument("--show_errors", type=int, default=0,
                        help="Print up to N date misses per corpus.")
    parser.add_argument("--json", type=Path, default=None, help="Also write all figures here.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if not (args.conll or args.tempeval or args.meantime):
        sys.exit("give at least one of --conll, --tempeval, --meantime")
    nlp = load_ner_pipeline(args.model)
    print(f"# Accuracy evaluation ({args.model}, components: {', '.join(nlp.pipe_names)})")
    figures: dict[str, Any] = {}
    if args.conll:
        res = eval_conll(nlp, args.conll, args.conll_unit, args.limit_docs)
        print_conll(res, args.conll, args.conll_unit)
        figures["conll"] = res
    for folder in args.tempeval:
        docs = [read_tml(p) for p in tml_files([folder])]
        res = eval_dates(nlp, docs)
        print_dates(f"TempEval-3 {Path(folder).name}", res, args.show_errors)
        figures[f"tempeval:{Path(folder).name}"] = res
    if args.meantime:
        docs = [read_meantime(p) for p in sorted(args.meantime.glob("*.xml"))]
        limit_to_timex_region(docs)
        res = eval_dates(nlp, docs)
        print_dates(f"MEANTIME {args.meantime.name}", res, args.show_errors)
        figures["meantime_dates"] = res
        for types in (("NAM",), ("NAM", "PRE.NAM")):
            merged = eval_merging(nlp, docs, types)
            print_merging(merged, types)
            figures[f"meantime_merging:{'+'.join(types)}"] = merged
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=_jsonable))
    return figures


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, PRF):
        return {"tp": obj.tp, "fp": obj.fp, "fn": obj.fn, "precision": obj.precision,
                "recall": obj.recall, "f1": obj.f1}
    if isinstance(obj, date):
        return obj.isoformat()
    return str(obj)


if __name__ == "__main__":
    main()
