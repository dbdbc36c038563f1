"""Entity resolution: spaCy's entity spans in, repaired mentions with one canonical name out.

The entity stage calls ``resolve_mentions(doc, labels)`` once per parsed article; everything here is
a pure function of the Doc (only the ``ner`` component runs, so there are no POS tags: every rule
works from token text and shape). Three steps, each documented where it is defined:

1. Span repair (``repair_spans``): general rules that fix what the small model gets wrong in news
   text - adjacent spans of one label split by a single space are merged ("Zaheer Ahmed" + "Baber
   Sidhu"), and a capitalised name led by a title ("Army Chief Asim Munir") becomes a PERSON without
   the title. Acronyms defined in the text ("Pakistan Air Force (PAF)") become mentions of the
   long form's label wherever they occur.
2. Within-article coreference (``canonical_names``): a PERSON name that is a prefix or suffix of a
   longer PERSON name in the same article takes the longer one as canonical ("Trump" after "Donald
   Trump"); a defined acronym takes its long form. Nothing crosses articles here: a bare surname in
   an article that never gives the full name stays itself.
3. Cross-article aliases (``ALIASES_PATH``): a small data table maps common variants ("U.S.",
   "USA", "America") to one canonical name ("United States"); ``entity_key`` ignores case,
   punctuation and diacritics, so "Sidhu"/"SIDHU" and "Sao Paulo"/"São Paulo" get one id.

Example: in "Pakistan Army Chief Asim Munir's visit ... Munir said", both mentions come out as
``ResolvedMention(text="Asim Munir"|"Munir", label="PERSON", canonical="Asim Munir")``.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

# Module import (not `from ... import name`): transforms.entities calls into this module, and the
# attribute lookups below happen at call time, so either module may be imported first.
from transforms import entities as _entities

ALIASES_PATH = Path(__file__).parent / "data" / "aliases.tsv"
# The span repair rules, in the order they run (see `repair_spans`).
RULES = ("merge", "title", "acronym", "surname")

# Labels whose adjacent spans may be merged. Not NORP ("Polish Jews", "Nazi German" are two
# entities each), nor GPE/LOC (adjacent places are lists and tables: "Real Madrid Barcelona"), nor
# numbers and money ("3 4").
MERGEABLE_LABELS = frozenset({"PERSON", "ORG", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW"})
# Labels whose spans can define an acronym in parentheses right after them.
ACRONYM_LABELS = frozenset({"ORG", "GPE", "LOC", "FAC", "NORP", "EVENT", "LAW", "PRODUCT"})

# Words that end a title and are followed by a person's name ("Army Chief Asim Munir", "Chief
# Executive Tim Cook": the name starts after the last of them). Compared case-insensitively without
# a trailing ".", so "president Trump" and "Gen. Allvin" count too.
TITLE_WORDS = frozenset("""
    chief president vice-president minister secretary secretary-general senator governor king queen
    pope prince princess emperor empress sheikh shaikh emir amir sultan chancellor premier mayor
    judge justice ambassador envoy commissioner director chairman chairwoman chairperson spokesman
    spokeswoman spokesperson commander admiral colonel captain lieutenant sergeant marshal brigadier
    general officer executive staff representative congressman congresswoman councillor councilman
    councilwoman speaker leader cardinal archbishop bishop rabbi imam ayatollah mufti reverend
    inspector superintendent detective constable coach manager attorney prosecutor duke duchess
    baron baroness lord lady sir dame dr mr mrs ms mx prof rev gen lt col capt sgt adm maj cmdr
    rep sen gov pres supt insp
""".split())

# Capitalised words that are not part of a person's name: function words, calendar words and the
# nouns that follow "General"/"King"/"President" in names of organisations and places ("General
# Motors", "King Fahd Stadium", "Queen Mary University"). A name candidate stops at the first one.
NOT_NAME_WORDS = frozenset("""
    the a an of and or but in on at for to with by from as into after before since until during
    he she it they we i you his her its their our this that these those who whom what when where
    why how said says say told tells asked added also not no yes
    monday tuesday wednesday thursday friday saturday sunday january february march april may june
    july august september october november december today yesterday tomorrow
    assembly council committee court house senate congress parliament department ministry office
    party army force forces navy guard police bank university college school academy hospital
    airport street road avenue square stadium park bridge tower motors electric mills dynamics
    corporation corp inc ltd llc plc group company co association union federation league agency
    authority commission service services cup trophy prize award hotel palace church cathedral
    mosque temple hall center centre museum library foundation institute secretariat headquarters
    command fund board bureau program programme project act bill law treaty accord agreement day
    week games olympics championship championships open tour series bowl mountains river lake
    island islands sea ocean gulf bay region province state states city county district
""".split())

# Lower-case particles allowed inside a name ("Osama bin Laden", "Ursula von der Leyen").
NAME_PARTICLES = frozenset(
    "bin bint ibn al el de da di du dos das van von der den del della la le y".split())
# Words that may precede a title word inside one title ("Prime Minister", "Army Chief").
TITLE_MODIFIERS = frozenset("""
    prime vice deputy acting former late foreign defence defense interior finance home trade
    army air naval navy police senior supreme assistant associate state federal district majority
    minority opposition party crown grand high lord first managing
""".split())
NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_MAX_NAME_TOKENS = 4

# Company legal forms at the end of an ORG name; "Group" and "Holdings" are kept, as they often
# name a different company from the bare brand.
_LEGAL_FORM = re.compile(
    r"(?:,?\s+(?:&\s+)?(?:corporation|corp|incorporated|inc|limited|ltd|llc|plc|co|company|ag|"
    r"sa|nv|gmbh)\.?)+$", re.IGNORECASE)
_INITIAL = re.compile(r"^[A-Z]\.$")
_ACRONYM = re.compile(r"^[A-Z][A-Za-z&]*[A-Z][A-Za-z0-9&]*$")
_PUNCT_TO_SPACE = re.compile(r"[\-\u2010-\u2015/_]+")
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class ResolvedMention:
    """One entity mention: exact surface text and offsets, label, and the canonical name.

    ``canonical`` is the name whose ``entity_key`` identifies the entity ("Munir" in an article
    that says "Asim Munir" -> ``canonical="Asim Munir"``).
    """

    start_char: int
    end_char: int
    text: str
    label: str
    canonical: str

    @property
    def key(self) -> str:
        """The normalised canonical name: (label, key) identifies the entity."""
        return entity_key(self.canonical)


# A span under repair: [start_token, end_token) and label.
_Span = tuple[int, int, str]


def resolve_mentions(
    doc, labels: frozenset[str], rules: tuple[str, ...] = RULES
) -> list[ResolvedMention]:
    """The repaired mentions of ``doc`` whose label is in ``labels``, each with its canonical name.

    Repair and coreference see every span of the doc (an ORG may define an acronym even when only
    PERSON mentions are wanted); only the output is filtered. Offsets are trimmed like
    ``transforms.entities.trim_span`` (no possessive, leading "the" or edge punctuation).
    ``rules`` selects repair rules (benchmarks compare them); the pipeline uses all of them.
    """
    spans = repair_spans(doc, rules)
    text = doc.text  # built from the tokens on every access: read it once
    trimmed = []
    for start, end, label in spans:
        first, last = doc[start].idx, doc[end - 1].idx + len(doc[end - 1])
        s, e = _entities.trim_span(text[first:last])
        if s < e:
            trimmed.append((first + s, first + e, text[first + s:first + e], label))
    acronyms = defined_acronyms(doc, spans)
    canon = canonical_names([(surface, label) for _, _, surface, label in trimmed], acronyms)
    return [
        ResolvedMention(s, e, surface, label, canon[(surface, label)])
        for s, e, surface, label in trimmed if label in labels
    ]


# ---------------------------------------------------------------------------------------------
# 1. Span repair


def repair_spans(doc, rules: tuple[str, ...] = RULES) -> list[_Span]:
    """The doc's entity spans after the repair ``rules``, sorted and non-overlapping.

    Order matters: merging first makes "Zaheer Ahmed" + "Baber Sidhu" one name before the title
    rule looks at it; merging again joins spans the title rule relabelled.
    """
    unknown = set(rules) - set(RULES)
    if unknown:
        raise ValueError(f"unknown repair rules {sorted(unknown)}; known: {RULES}")
    spans = sorted((ent.start, ent.end, ent.label_) for ent in doc.ents)
    if "merge" in rules:
        spans = merge_adjacent(doc, spans)
    if "title" in rules:
        spans = apply_title_rule(doc, spans)
    if "acronym" in rules:
        spans = apply_acronym_rule(doc, spans)
    if "surname" in rules:
        spans = apply_surname_rule(doc, spans)
    if "merge" in rules:
        spans = merge_adjacent(doc, spans)
    return spans


def merge_adjacent(doc, spans: list[_Span]) -> list[_Span]:
    """Joins neighbouring spans of one (mergeable) label separated by exactly one space.

    The small model often splits long names: "Zaheer Ahmed" + "Baber Sidhu" -> "Zaheer Ahmed Baber
    Sidhu", "Movement for a Democratic" + "Slovakia". Spans stay apart when anything but one space
    lies between them ("Paris, France"; a line break), when the words at the seam are not plain
    words ("Budapest Bank's" + "Sandor Tolonics"), and when either span holds a number (results
    tables: "Southampton 0" + "Aston Villa 1").
    """
    out: list[_Span] = []
    for span in sorted(spans):
        if out:
            start, end, label = out[-1]
            if (label == span[2] and label in MERGEABLE_LABELS and end == span[0]
                    and doc[end - 1].whitespace_ == " " and _is_word(doc[end - 1])
                    and _is_word(doc[span[0]])
                    and not any(t.like_num or any(c.isdigit() for c in t.text)
                                for t in doc[start:span[1]])):
                out[-1] = (start, span[1], label)
                continue
        out.append(span)
    return out


def _is_word(tok) -> bool:
    """A plain word ("Sidhu", "O'Neill", "St.", "al-Assad"), not punctuation or a possessive."""
    text = tok.text
    return text[:1].isalpha() and all(c.isalpha() or c in "'\u2019-." for c in text) \
        and tok.lower_ not in ("'s", "\u2019s")


def apply_title_rule(doc, spans: list[_Span]) -> list[_Span]:
    """Makes the capitalised name after a title a PERSON, without the title.

    A title word (``TITLE_WORDS``: "Chief", "President", "Gen.", "Mr." ...) followed by 1-4 name
    tokens ("Asim Munir", "J. Smith", "Osama bin Laden") gives one PERSON span that starts at the
    name:
    - no span touches the name and the line is not a title-case headline: the model missed it
      ("Pakistan Army Chief Asim Munir's visit" -> PERSON "Asim Munir");
    - the spans touching it are PERSON spans (possibly led by the title only: "Mr. Smith" ->
      "Smith") or other spans inside the name ("Munir" as GPE): they become one PERSON from the
      name's first token to the last of those spans' ends.
    A non-PERSON span that contains the title itself ("General Motors", "King Fahd Stadium") is an
    organisation or a place named after a title and is left alone, and so is a PERSON in which the
    title follows a name ("Martin Luther King Jr.").
    """
    spans = sorted(spans)
    after_last_name = 0  # a title inside a name just handled starts nothing
    for title in _title_positions(doc):  # only tokens that are title words can start a name
        if title < after_last_name or title >= len(doc) - 1:
            continue
        name = _name_after_title(doc, title)
        if name is None:
            continue
        a, b = name
        touching = [s for s in spans if s[0] < b and s[1] > a]
        if not touching:
            if not _is_headline(doc, title):
                spans.append((a, b, "PERSON"))
        elif all(_replaceable(doc, s, title, a, b) for s in touching):
            spans = [s for s in spans if s not in touching]
            spans.append((a, max(s[1] for s in touching), "PERSON"))
        spans.sort()
        after_last_name = b
    return spans


def _title_positions(doc) -> list[int]:
    """Indices of the tokens whose word (lower case, trailing dots stripped) is a title word.

    Reads the lower-case forms as one array instead of making a Token object per token: the rule
    runs on every article, and most tokens are not titles.
    """
    from spacy.attrs import LOWER

    if len(doc) == 0:
        return []
    lowers = doc.to_array(LOWER).tolist()
    strings = doc.vocab.strings
    titles = {h for h in set(lowers) if strings[h].rstrip(".") in TITLE_WORDS}
    return [i for i, h in enumerate(lowers) if h in titles]


def _replaceable(doc, span: _Span, title: int, a: int, b: int) -> bool:
    """Whether a span touching the name after the title at ``title`` may be made that PERSON."""
    start, end, label = span
    if label != "PERSON":
        return start >= a and end <= b
    return start >= a or all(_word(doc[k]) in TITLE_WORDS | TITLE_MODIFIERS
                             for k in range(start, title + 1))


def _name_after_title(doc, i: int) -> tuple[int, int] | None:
    """Token range of the name that follows a title word at ``i``, or None.

    The name is 1-4 name-shaped tokens (lower-case particles such as "bin" inside, a suffix such as
    "Jr." at the end) on the same line; a following title word means the title goes on ("Chief
    Executive Tim Cook"), so the name is looked for after that one instead.
    """
    tok = doc[i]
    if (tok.text.isupper() and len(tok.text) > 1) or _word(tok) not in TITLE_WORDS:
        return None
    j = i + 1
    first = doc[j]
    if (tok.whitespace_ != " " or not _is_name_token(first) or _word(first) in TITLE_WORDS
            or _word(first) in NAME_SUFFIXES):
        return None
    end = k = j + 1
    while k < len(doc) and doc[k - 1].whitespace_ == " ":
        word = doc[k]
        if _word(word) in NAME_SUFFIXES and word.text[:1].isupper():
            end = k + 1
            break
        if _is_name_token(word) and _word(word) not in TITLE_WORDS:
            end = k + 1
        elif word.text not in NAME_PARTICLES:
            break
        k += 1
    if end - j > _MAX_NAME_TOKENS:
        return None
    return j, end


def _word(tok) -> str:
    return tok.lower_.rstrip(".")


def _is_name_token(tok) -> bool:
    """Looks like part of a personal name: "Asim", "McDonald", "O'Neill", "Al-Sisi", "J."."""
    text = tok.text
    if _INITIAL.match(text):
        return True
    if not text[:1].isupper() or not any(c.islower() for c in text):
        return False
    if _word(tok) in NOT_NAME_WORDS:
        return False
    return all(c.isalpha() or c in "'\u2019-." for c in text)


def _is_headline(doc, i: int) -> bool:
    """True when the line around token ``i`` is not prose: no lower-case word, or more than three
    capitalised words per lower-case one ("Prime Minister Visits Flood Zone", "Prince Rupert 1 3"
    in a table). A capitalised word after a title proves nothing there."""
    start = i
    while start > 0 and not doc[start - 1].is_space:
        start -= 1
    end = i
    while end < len(doc) and not doc[end].is_space:
        end += 1
    words = [t.text for t in doc[start:end] if t.is_alpha]
    lower = sum(1 for w in words if w[0].islower())
    return lower == 0 or len(words) - lower > 3 * lower


def _coverage(doc, spans: list[_Span]) -> list[bool]:
    covered = [False] * len(doc)
    for start, end, _ in spans:
        for k in range(start, end):
            covered[k] = True
    return covered


# Labels the small model puts on a bare surname ("Munir" as GPE, "Trump" as ORG).
SURNAME_MISLABELS = frozenset({"ORG", "GPE", "LOC", "NORP", "FAC", "PRODUCT", "WORK_OF_ART"})


def apply_surname_rule(doc, spans: list[_Span]) -> list[_Span]:
    """The surname of a person named in full in the same article is a PERSON mention.

    After "Asim Munir" and "Donald Trump", the small model tags a bare "Munir" as GPE and "Trump"
    as ORG, or misses them. A one-word title-case span with another label, or an untagged
    title-case word that does not start a sentence, becomes a PERSON when it is the last word of
    exactly one multi-word PERSON name in the article. A surname shared by two people in the
    article, or a word inside a longer span ("Trump Tower"), is left alone.
    """
    owners: dict[str, set[tuple[str, ...]]] = {}
    for start, end, label in spans:
        if label == "PERSON" and end - start >= 2:
            words = tuple(entity_key(doc[start:end].text).split())
            if len(words) >= 2:
                owners.setdefault(words[-1], set()).add(words)
    surnames = {w for w, names in owners.items() if len(names) == 1}
    if not surnames:
        return spans
    out, covered = [], _coverage(doc, spans)
    for start, end, label in spans:
        if (label in SURNAME_MISLABELS and doc[start].is_title
                and _surname_at(doc, start, end, surnames)):
            label = "PERSON"
        out.append((start, end, label))
    for tok in doc:
        if (not covered[tok.i] and tok.is_title and len(tok) > 1 and tok.i > 0
                and doc[tok.i - 1].whitespace_ and _surname_at(doc, tok.i, tok.i + 1, surnames)
                and not _starts_sentence(doc, tok.i)
                and not (tok.i + 1 < len(doc) and doc[tok.i + 1].is_title)
                and not (doc[tok.i - 1].is_title and doc[tok.i - 1].whitespace_)):
            out.append((tok.i, tok.i + 1, "PERSON"))
    return sorted(out)


def _surname_at(doc, start: int, end: int, surnames: set[str]) -> bool:
    """Whether tokens [start, end) are one known surname, perhaps with a possessive."""
    if end - start == 2 and doc[end - 1].lower_ in ("'s", "\u2019s", "'"):
        end -= 1
    return end - start == 1 and entity_key(doc[start].text) in surnames


def _starts_sentence(doc, i: int) -> bool:
    prev = doc[i - 1]
    return prev.is_space or prev.text in (".", "!", "?", ":", '"', "\u201c", "\u201d", "'")


def apply_acronym_rule(doc, spans: list[_Span]) -> list[_Span]:
    """Each occurrence of an acronym defined in the text becomes a mention of the long form's label.

    "the Pakistan Air Force (PAF) said ... PAF jets": both "PAF" tokens become ORG mentions (the
    model tagged neither). An occurrence already inside a longer span is left alone; a span of
    exactly the acronym takes the long form's label.
    """
    acronyms = {}
    for (_, _, label), (short, _) in _acronym_definitions(doc, spans):
        acronyms.setdefault(short, label)
    if not acronyms:
        return spans
    spans = list(spans)
    by_start = {s[0]: s for s in spans}
    covered = _coverage(doc, spans)
    for tok in doc:
        label = acronyms.get(tok.text)
        if label is None:
            continue
        own = by_start.get(tok.i)
        if own is not None and own[1] == tok.i + 1 and own[2] != label:
            spans[spans.index(own)] = (tok.i, tok.i + 1, label)
        elif not covered[tok.i]:
            spans.append((tok.i, tok.i + 1, label))
            covered[tok.i] = True
    return sorted(spans)


def defined_acronyms(doc, spans: list[_Span]) -> dict[tuple[str, str], str]:
    """``{(label, acronym key): long form}`` of the acronyms the doc defines in parentheses."""
    out: dict[tuple[str, str], str] = {}
    for (_, _, label), (short, long_text) in _acronym_definitions(doc, spans):
        out.setdefault((label, entity_key(short)), long_text)
    return out


def _acronym_definitions(doc, spans: list[_Span]):
    """(span, (acronym, long form)) for each span followed by "(ACRONYM)" that fits its initials."""
    for span in spans:
        start, end, label = span
        if label not in ACRONYM_LABELS or end - start < 2 or end + 2 >= len(doc):
            continue
        if doc[end].text != "(" or doc[end + 2].text != ")":
            continue
        short = doc[end + 1].text
        text = doc[start:end].text
        s, e = _entities.trim_span(text)
        long_text = text[s:e]
        if _ACRONYM.match(short) and len(short) <= 10 and acronym_fits(short, long_text):
            yield span, (short, long_text)


def acronym_fits(short: str, long_text: str) -> bool:
    """Whether ``short`` abbreviates ``long_text`` (Schwartz & Hearst 2003, first letter anchored).

    Each letter of the acronym, right to left, must occur in the long form in order, and the first
    one must start the long form's first word: "PAF" fits "Pakistan Air Force", "US" does not fit
    "Pakistan Army".
    """
    letters = [c.casefold() for c in short if c.isalnum()]
    words = long_text.split()
    if not letters or len(words) < 2 or words[0][:1].casefold() != letters[0]:
        return False
    text = long_text.casefold()
    pos = len(text) - 1
    for idx in range(len(letters) - 1, -1, -1):
        c = letters[idx]
        while pos >= 0 and (text[pos] != c or (idx == 0 and pos > 0 and text[pos - 1].isalnum())):
            pos -= 1
        if pos < 0:
            return False
        pos -= 1
    return True


# ---------------------------------------------------------------------------------------------
# 2. Within-article coreference and 3. aliases


def canonical_names(
    mentions: Iterable[tuple[str, str]],
    acronyms: dict[tuple[str, str], str] | None = None,
) -> dict[tuple[str, str], str]:
    """``{(text, label): canonical}`` for the (trimmed) mentions of one article.

    - PERSON: a name whose key tokens are a prefix or suffix of exactly one longest PERSON name in
      the article (or share its first and last token) takes that name: "Trump" -> "Donald Trump",
      "Zaheer Ahmed" -> "Zaheer Ahmed Baber Sidhu". Two different longer names ("George W. Bush",
      "Jeb Bush") make "Bush" ambiguous: it stays itself.
    - An acronym the article defines ("(PAF)") takes the long form ("Pakistan Air Force").
    - An ORG loses a trailing legal form ("Bank of America Corp." -> "Bank of America").
    - Then the alias table maps the result ("US" -> "United States").
    """
    mentions = list(dict.fromkeys(mentions))
    acronyms = acronyms or {}
    persons: dict[tuple[str, ...], str] = {}
    for text, label in mentions:
        if label == "PERSON":
            persons.setdefault(tuple(entity_key(text).split()), text)
    longest = [p for p in persons if not any(_part_of(p, q) for q in persons)]
    out = {}
    for text, label in mentions:
        canonical = text
        if label == "PERSON":
            tokens = tuple(entity_key(text).split())
            targets = {q for q in longest if _part_of(tokens, q)}
            if len(targets) == 1:
                canonical = persons[targets.pop()]
        else:
            canonical = acronyms.get((label, entity_key(text)), text)
        if label == "ORG":
            canonical = without_legal_form(canonical)
        out[(text, label)] = alias_of(label, canonical)
    return out


def without_legal_form(name: str) -> str:
    """``name`` without a trailing company legal form: "Microsoft Corp." -> "Microsoft",
    "The Bank of America Corporation" -> "The Bank of America". A name that is only a legal form
    stays as it is."""
    stripped = _LEGAL_FORM.sub("", name)
    return stripped if stripped.strip(" ,&") else name


def _part_of(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    """Whether ``short`` names the same person as the longer ``long`` (prefix/suffix/first+last)."""
    n = len(short)
    if not short or n >= len(long):
        return False
    return (long[:n] == short or long[-n:] == short
            or (n >= 2 and short[0] == long[0] and short[-1] == long[-1]))


def alias_of(label: str, name: str) -> str:
    """The alias table's canonical name for ``name`` under ``label``, else ``name`` itself."""
    return load_aliases().get((label, entity_key(name)), name)


@cache
def load_aliases(path: str | None = None) -> dict[tuple[str, str], str]:
    """``{(label, alias key): canonical}`` from the alias table (read once per process).

    The table is tab-separated (label, alias, canonical), with ``#`` comment lines; each canonical
    name is also an alias of itself.
    """
    out: dict[tuple[str, str], str] = {}
    with open(path or ALIASES_PATH, encoding="utf-8", newline="") as f:
        rows = csv.reader((line for line in f if line.strip() and not line.startswith("#")),
                          delimiter="\t")
        header = next(rows)
        if [h.strip() for h in header] != ["label", "alias", "canonical"]:
            raise ValueError(f"unexpected alias table header: {header}")
        for row in rows:
            label, alias, canonical = (c.strip() for c in row)
            out[(label, entity_key(canonical))] = canonical
            out[(label, entity_key(alias))] = canonical
    return out


@lru_cache(maxsize=1 << 16)
def entity_key(name: str) -> str:
    """The normalised name an entity id is built from: case, punctuation and diacritics ignored.

    ``"the U.S.'s"`` -> ``"us"``; ``"São Paulo"`` -> ``"sao paulo"``; ``"Al-Sisi"`` ->
    ``"al sisi"``.
    Builds on ``transforms.entities.normalise_name`` (trimming, NFKC, case-folding).
    """
    text = unicodedata.normalize("NFKD", _entities.normalise_name(name))
    text = _PUNCT_TO_SPACE.sub(" ", text)
    text = "".join(c for c in text
                   if not unicodedata.combining(c) and unicodedata.category(c)[0] not in "PS")
    return _WS.sub(" ", text).strip()
