"""Dates inside the text: spaCy DATE/TIME mentions resolved against the article's own date.

Flow: the entity stage finds DATE and TIME spans; ``resolve_date_mention(text, published_at,
settings)`` turns each into a calendar range (``resolved_start``..``resolved_end``, both inclusive
``datetime.date``\\ s), the unit the text speaks in (``granularity``) and a ``status``:

- granularity: ``day``, ``week`` (ISO, Monday to Sunday), ``month``, ``quarter``, ``year`` or
  ``decade``. A range is spelled by its bounds: "July 4-6" is 4..6 July at day granularity, "the
  past decade" is the ten years up to the article's day at decade granularity, a season is its
  three months at month granularity.
- status ``resolved``, or why not: ``not_a_date`` ("$1", "5", "34-year-old"), ``duration`` ("two
  years", "over a decade": a length, not a place in time), ``recurring`` ("every week"),
  ``time_only`` ("3 p.m."), ``vague`` ("recent years", "the next day": anchored to something other
  than the article's date), ``unsupported`` ("the 19th century"), ``relative_without_base``
  ("last month", "Wednesday", "three days ago" in an article without a date), ``no_base_date``
  ("July 4", "December": the year must come from the article's date, which it lacks) and
  ``unparseable``.

News conventions (the article's date is "base"): a bare or "on"/"past" weekday is the most recent
one on or before base, "last Wednesday" the most recent strictly before, "next Wednesday" the first
after; a month or day without a year is the latest occurrence that has begun by base, unless the
next one begins within two months (``LOOKAHEAD_DAYS``: "in August" written in July); a
quarter without a year is the most recent one with that number that has begun; "last week/month/
year" is the previous calendar unit and "the past week/month/year" the rolling period up to base.

Speed: common forms go through hand-written patterns (microseconds); the rest falls back to
dateparser (about 3 ms a call, ``RELATIVE_BASE`` = base, ``PREFER_DATES_FROM`` = past, the
configured date order and languages). Results are cached per (text, base day, settings).
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from transforms.dates import DEFAULT_SETTINGS, DateSettings

GRANULARITIES = ("day", "week", "month", "quarter", "year", "decade")
STATUSES = (
    "resolved", "not_a_date", "duration", "recurring", "time_only", "vague", "unsupported",
    "relative_without_base", "no_base_date", "unparseable",
)
_CACHE_SIZE = 100_000
_MIN_YEAR, _MAX_YEAR = 1000, 2200

# (start, end, granularity, status): what the cache holds; dicts are built per call.
_Result = tuple[date | None, date | None, str | None, str]


def resolve_date_mention(
    text: str, base: datetime | None, settings: DateSettings | None = None
) -> dict[str, Any]:
    """Resolves one DATE/TIME mention against the article's date ``base`` (UTC, or None).

    >>> r = resolve_date_mention("last month", datetime(2025, 7, 4))
    >>> r["resolved_start"], r["resolved_end"], r["granularity"], r["status"]
    (datetime.date(2025, 6, 1), datetime.date(2025, 6, 30), 'month', 'resolved')
    """
    key = normalise_text(text)
    base_day = base.date() if base is not None else None
    start, end, granularity, status = _resolve_cached(key, base_day, settings or DEFAULT_SETTINGS)
    return {"resolved_start": start, "resolved_end": end, "granularity": granularity,
            "status": status}


def normalise_text(text: str) -> str:
    """Lower case, plain quotes and hyphens, single spaces, no edge punctuation or possessive."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_PLAIN).lower()
    text = _WS.sub(" ", text).strip(" \t\n.,;:!?\"()[]{}")
    text = re.sub(r"'s$|(?<=s)'$", "", text)
    return text


_PLAIN = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
                        "\u2014": "-", "\u2015": "-", "\u00a0": " "})
_WS = re.compile(r"\s+")


@lru_cache(maxsize=_CACHE_SIZE)
def _resolve_cached(text: str, base: date | None, settings: DateSettings) -> _Result:
    if not text:
        return _fail("unparseable")
    return _resolve(text, base, settings)


def clear_cache() -> None:
    """Forgets cached results (benchmarks time cold calls)."""
    _resolve_cached.cache_clear()
    _DATEPARSER_MISSES.clear()


def _fail(status: str) -> _Result:
    return None, None, None, status


def _ok(start: date, end: date, granularity: str) -> _Result:
    if not (_MIN_YEAR <= start.year <= _MAX_YEAR and _MIN_YEAR <= end.year <= _MAX_YEAR):
        return _fail("unparseable")
    if end < start:
        start, end = end, start
    return start, end, granularity, "resolved"


# ---------------------------------------------------------------------------------------------
# Calendar arithmetic


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _unit_range(day: date, unit: str) -> tuple[date, date]:
    """The calendar ``unit`` (week/month/quarter/year/decade) that contains ``day``."""
    if unit == "day":
        return day, day
    if unit == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    if unit == "month":
        return _month_range(day.year, day.month)
    if unit == "quarter":
        first = 3 * ((day.month - 1) // 3) + 1
        return date(day.year, first, 1), _month_range(day.year, first + 2)[1]
    if unit == "year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    decade = day.year - day.year % 10
    return date(decade, 1, 1), date(decade + 9, 12, 31)


def _shift(day: date, unit: str, n: int) -> date:
    """``day`` moved by ``n`` units (negative: back)."""
    if unit == "day":
        return day + timedelta(days=n)
    if unit == "week":
        return day + timedelta(weeks=n)
    months = {"month": 1, "quarter": 3, "year": 12, "decade": 120}[unit]
    return _add_months(day, n * months)


# How far ahead of base a date or month without a year may lie and still be read as upcoming.
LOOKAHEAD_DAYS = 62


def _recent(candidates: list[date], base: date) -> date:
    """The occurrence a year-less date or month means: the latest one that has begun by base
    (news reports the past), unless the next one begins within ``LOOKAHEAD_DAYS`` ("the summit on
    July 10" in an article of July 4)."""
    ahead = [d for d in candidates if d > base]
    if ahead and (min(ahead) - base).days <= LOOKAHEAD_DAYS:
        return min(ahead)
    begun = [d for d in candidates if d <= base]
    return max(begun) if begun else min(candidates)


# ---------------------------------------------------------------------------------------------
# Vocabulary

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9,
    "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12,
    "december": 12,
}
_WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
             "saturday": 5, "sunday": 6}
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "a couple of": 2, "a couple": 2, "couple of": 2,
}
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
             "4th": 4, "final": 4, "last": 4}
_DECADE_WORDS = {"twenties": 2, "thirties": 3, "forties": 4, "fifties": 5, "sixties": 6,
                 "seventies": 7, "eighties": 8, "nineties": 9}
_SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}

_MONTH = r"(jan|january|feb|february|mar|march|apr|april|may|jun|june|jul|july|aug|august|sept?" \
         r"|september|oct|october|nov|november|dec|december)\.?"
_WEEKDAY = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(\d{4})"
_UNIT = r"(day|week|month|quarter|year|decade)s?"
_COUNT = r"(\d+|a couple of|a couple|couple of|" + "|".join(
    sorted((k for k in _NUMBERS if " " not in k), key=len, reverse=True)) + ")"
_VAGUE_COUNT = r"(?:several|a few|few|many|some|numerous|recent|the|\d+\s*or\s*\d+|" \
               r"a number of|a dozen|dozens of|hundreds of)"


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word]


# Leading words that do not change which period is meant ("on Wednesday", "since 2020", "early
# July", "the end of March"); stripped repeatedly.
_LEADING = re.compile(
    r"^(?:on|in|at|by|since|until|till|through|throughout|from|during|as of|as early as|"
    r"a|an|its|their|his|her|our|both|"
    r"as late as|no later than|before|after|around|about|approximately|roughly|circa|sometime|"
    r"some time in|earlier|later|early|late|mid|the middle of|the end of|the start of|"
    r"the beginning of|the turn of|end of|start of|beginning of|middle of|so far|up to)"
    r"(?:\s+|-)(?=\S)"
)
# Times of day, removed so that "Wednesday at 3 p.m." resolves like "Wednesday".
_CLOCK = re.compile(
    r"(?:\bat\s+)?\b\d{1,2}(?::\d{2})?\s*(?:a\.?m\.?|p\.?m\.?)(?=\s|$|[,.])"
    r"|(?:\bat\s+)?\b\d{1,2}:\d{2}\b"
    r"|(?:\bat\s+|\baround\s+)?\b(?:noon|midday|midnight)\b"
    r"|\b(?:local time|[ecmp][sd]?t|gmt|utc|bst|cet|ist|pkt|jst|hkt|aest)\b"
)
_PART_OF_DAY = re.compile(r"\s*\b(morning|afternoon|evening|night|overnight|lunchtime)$")


# ---------------------------------------------------------------------------------------------
# The resolver


def _resolve(text: str, base: date | None, settings: DateSettings) -> _Result:
    if _NOT_A_DATE.search(text) or _AGE.search(text):
        return _fail("not_a_date")
    if re.fullmatch(r"[\d,.]+", text):
        return _bare_number(text)
    if _RECURRING.search(text):
        return _fail("recurring")
    result = _match(text, base, settings)
    if result is not None:
        return result
    stripped = _strip_clock(text)  # "Wednesday at 3 p.m." -> "wednesday"
    if not stripped:
        return _fail("time_only")
    if stripped != text:
        result = _match(stripped, base, settings)
        if result is not None:
            return result
        text = stripped
    for candidate in (text, _LEADING.sub("", text)):
        if _VAGUE.fullmatch(candidate):
            return _fail("vague")
        if _DURATION.fullmatch(candidate):
            return _fail("duration")
    return _dateparser_fallback(text, base, settings)


def _match(text: str, base: date | None, settings: DateSettings) -> _Result | None:
    """The first rule that matches ``text`` whole, retried without each leading filler word."""
    while True:
        numeric = _numeric(text, settings)
        if numeric is not None:
            return numeric
        for pattern, handler in _RULES:
            match = pattern.fullmatch(text)
            if match:
                return handler(match, base)
        shorter = _LEADING.sub("", text, count=1)
        if shorter == text:
            return None
        text = shorter


def _bare_number(text: str) -> _Result:
    """A number alone is a date only when it reads as a year: "1999" yes, "5" or "1,999" no."""
    if re.fullmatch(r"\d{4}", text) and _MIN_YEAR <= int(text) <= 2100:
        year = int(text)
        return _ok(date(year, 1, 1), date(year, 12, 31), "year")
    return _fail("not_a_date")


def _strip_clock(text: str) -> str:
    text = _CLOCK.sub(" ", text)
    text = _PART_OF_DAY.sub("", text)
    text = _WS.sub(" ", text).strip(" ,.-")
    if text in ("morning", "afternoon", "evening", "night", "overnight", "the morning",
                "the afternoon", "the evening", "the night", "hours", "minutes", "at", "around"):
        return ""
    return text


_NOT_A_DATE = re.compile(r"[$€£¥%]|\b(?:usd|eur|gbp|dollars?|cents?|percent|per cent)\b")
_AGE = re.compile(r"\d+\s*-?\s*(?:years?|months?)\s*-?\s*old|\baged\s+\d+|\bage\s+\d+")
_RECURRING = re.compile(
    r"\b(?:every|each|per)\s+(?:\w+\s+)?(?:day|week|month|quarter|year|decade|monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday)s?\b|^(?:daily|weekly|monthly|quarterly|yearly|"
    r"annually|annual|nightly|weekdays|weekends|mondays|tuesdays|wednesdays|thursdays|fridays|"
    r"saturdays|sundays)$")
_DURATION = re.compile(
    r"(?:(?:more than|less than|fewer than|over|under|nearly|almost|at least|at most|up to|"
    r"just|only|another|an additional|the|the first|the last|the next|the past|a full|full|"
    r"about|around|some|roughly|approximately|close to|well over|barely|a further)\s+)*"
    r"(?:" + _COUNT + r"|" + _VAGUE_COUNT + r"|[\d.]+|half an?|\d+\s*(?:-|to)\s*\d+)?\s*"
    r"(?:-|\s)?(?:and a half\s+)?(?:hours?|minutes?|seconds?|days?|weeks?|months?|quarters?|"
    r"years?|decades?|centuries|century|nights?|weekends?|years? and \w+ months?)"
    r"(?:\s*(?:long|old|running|straight|in a row|or so|or more|and counting))?")
_VAGUE = re.compile(
    r"(?:the )?(?:future|past|present day|time|same day|same time|day|days|week|month|year|"
    r"weekend|era|period|moment|season|recent years|recent months|recent weeks|recent days|"
    r"recent times|these days|nowadays|recently|lately|once|one day|some day|someday|then|"
    r"that day|that time|those days|the time|earlier|later|soon|previously|the previous day|"
    r"previous day|next day|following day|day before|day after|the coming days|coming days|"
    r"coming weeks|coming months|coming years|the years|the decades|the months|modern times|"
    r"(?:the )?(?:past|last|next|coming|previous|following) (?:several|few|many|couple of) "
    r"(?:days|weeks|months|years|decades)|(?:in )?(?:recent|the coming) "
    r"(?:days|weeks|months|years|decades)|the day|the week|the month|the year|the decade|"
    r"the same period|the same month|the same week|the same year|that year|that month|"
    r"that week|the following week|the following month|the following year|the previous week|"
    r"the previous month|the previous year|the year before|the month before|the week before|"
    r"the year earlier|a year earlier|the year-earlier period|year-earlier|a year before|"
    r"the same quarter|the quarter|the period)"
)


# -- rules: (pattern, handler(match, base) -> result) tried in order with fullmatch ------------

_Handler = Callable[[re.Match, date | None], _Result]
_RULES: list[tuple[re.Pattern, _Handler]] = []


def _rule(pattern: str) -> Callable[[_Handler], _Handler]:
    def register(handler: _Handler) -> _Handler:
        _RULES.append((re.compile(pattern), handler))
        return handler

    return register


def _needs_base(base: date | None, kind: str = "relative_without_base") -> _Result | None:
    return _fail(kind) if base is None else None


@_rule(r"(?:the )?(?:present|now|right now|today|tonight|currently|at present|at the moment|"
       r"the present time|earlier today|later today|today's)")
def _today(m: re.Match, base: date | None) -> _Result:
    return _needs_base(base) or _ok(base, base, "day")


@_rule(r"(?:the day before yesterday|yesterday|last night|the previous night)")
def _yesterday(m: re.Match, base: date | None) -> _Result:
    if base is None:
        return _fail("relative_without_base")
    back = 2 if m.group(0).startswith("the day before") else 1
    return _ok(base - timedelta(days=back), base - timedelta(days=back), "day")


@_rule(r"(?:the day after tomorrow|tomorrow)")
def _tomorrow(m: re.Match, base: date | None) -> _Result:
    if base is None:
        return _fail("relative_without_base")
    ahead = 2 if m.group(0).startswith("the day after") else 1
    return _ok(base + timedelta(days=ahead), base + timedelta(days=ahead), "day")


@_rule(r"(\d{4})-(\d{2})-(\d{2})|(\d{4})/(\d{1,2})/(\d{1,2})")
def _iso_day(m: re.Match, base: date | None) -> _Result:
    year, month, day = (int(g) for g in (m.group(1, 2, 3) if m.group(1) else m.group(4, 5, 6)))
    return _day(year, month, day)


@_rule(r"(\d{4})-(\d{2})")
def _iso_month_or_years(m: re.Match, base: date | None) -> _Result:
    """ "2025-07" is a month, but "2011-12" (the second part above the year's last two digits) is
    a range of years, as in "the 2011-12 season"."""
    year, second = int(m.group(1)), int(m.group(2))
    if second > year % 100:
        return _ok(date(year, 1, 1), date(year - year % 100 + second, 12, 31), "year")
    if 1 <= second <= 12:
        return _ok(*_month_range(year, second), "month")
    return _fail("unparseable")


def _day(year: int, month: int, day: int) -> _Result:
    try:
        value = date(year, month, day)
    except ValueError:
        return _fail("unparseable")
    return _ok(value, value, "day")


@_rule(r"(?:the )?(?:(?:calendar |fiscal |financial )?year |fiscal |fy ?)?(\d{4})"
       r"(?: (?:calendar |fiscal |financial )?year)?")
def _year(m: re.Match, base: date | None) -> _Result:
    return _bare_number(m.group(1))


def _decade_of(year: int) -> _Result:
    if year % 100 == 0:  # "the 1800s": a century or its first decade; not said which
        return _fail("unsupported")
    if year % 10:
        return _fail("unparseable")
    return _ok(date(year, 1, 1), date(year + 9, 12, 31), "decade")


@_rule(r"(?:the )?(?:early |mid-?|late )?(\d{3}0)'?s")
def _decade(m: re.Match, base: date | None) -> _Result:
    return _decade_of(int(m.group(1)))


@_rule(r"(?:the )?(?:early |mid-?|late )?(?:'(\d)0s|(\d)0s|(" + "|".join(_DECADE_WORDS) + "))")
def _short_decade(m: re.Match, base: date | None) -> _Result:
    """ "the '90s", "the 90s", "the nineties": the most recent such decade that has begun."""
    digit = int(m.group(1) or m.group(2)) if (m.group(1) or m.group(2)) else \
        _DECADE_WORDS[m.group(3)]
    if base is None:
        return _fail("no_base_date")
    year = 2000 + 10 * digit
    if year > base.year:
        year -= 100
    return _decade_of(year)


@_rule(r"(?:the )?(\d{1,2})(?:st|nd|rd|th) century|(?:the )?(?:first|second|third|fourth|fifth|"
       r"sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|"
       r"sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty-first) century|"
       r"(?:this|last|the last|the previous|the next|next) century")
def _century(m: re.Match, base: date | None) -> _Result:
    return _fail("unsupported")


@_rule(r"(?:from |between )?(\d{4})\s*(?:-|to|through|and|until|/)\s*(\d{4}|\d{2})")
def _year_range(m: re.Match, base: date | None) -> _Result:
    first, second = int(m.group(1)), m.group(2)
    last = int(second) if len(second) == 4 else first - first % 100 + int(second)
    if last < first or last - first > 100:
        return _fail("unparseable")
    return _ok(date(first, 1, 1), date(last, 12, 31), "year")


# -- months and days --------------------------------------------------------------------------


def _month_day(month: int, day: int, year: int | None, base: date | None) -> date | None:
    if year is not None:
        try:
            return date(year, month, day)
        except ValueError:
            return None
    candidates = []
    for y in (base.year - 1, base.year, base.year + 1):
        try:
            candidates.append(date(y, month, day))
        except ValueError:  # 29 February
            continue
    return _recent(candidates, base) if candidates else None


def _days(month: int, first: int, last: int, year: str | None, base: date | None,
          end_month: int | None = None) -> _Result:
    if year is None and base is None:
        return _fail("no_base_date")
    start = _month_day(month, first, int(year) if year else None, base)
    if start is None:
        return _fail("unparseable")
    end_month = end_month or month
    try:
        end = date(start.year + (1 if end_month < month else 0), end_month, last)
    except ValueError:
        return _fail("unparseable")
    return _ok(start, end, "day")


_WD = r"(?:" + _WEEKDAY + r",? )?"


@_rule(_WD + _MONTH + r" " + _DAY + r"(?:,? " + _YEAR + r")?")
def _month_day_rule(m: re.Match, base: date | None) -> _Result:
    day = int(m.group(3))
    return _days(_MONTHS[m.group(2)], day, day, m.group(4), base)


@_rule(_WD + r"(?:the )?" + _DAY + r"(?: of)? " + _MONTH + r"(?:,? " + _YEAR + r")?")
def _day_month_rule(m: re.Match, base: date | None) -> _Result:
    day = int(m.group(2))
    return _days(_MONTHS[m.group(3)], day, day, m.group(4), base)


@_rule(r"(?:between |from )?" + _MONTH + r" " + _DAY + r"\s*(?:-|to|through|and|until)\s*"
       + r"(?:" + _MONTH + r" )?" + _DAY + r"(?:,? " + _YEAR + r")?")
def _month_day_range(m: re.Match, base: date | None) -> _Result:
    month = _MONTHS[m.group(1)]
    end_month = _MONTHS[m.group(3)] if m.group(3) else month
    return _days(month, int(m.group(2)), int(m.group(4)), m.group(5), base, end_month)


@_rule(r"(?:between |from )?" + _DAY + r"\s*(?:-|to|and|until)\s*" + _DAY + r" " + _MONTH
       + r"(?:,? " + _YEAR + r")?")
def _day_range_month(m: re.Match, base: date | None) -> _Result:
    month = _MONTHS[m.group(3)]
    return _days(month, int(m.group(1)), int(m.group(2)), m.group(4), base)


@_rule(r"(?:(this|last|next|early|late|mid-?|the end of|the start of) )?" + _MONTH
       + r"(?:,? (?:of )?" + _YEAR + r"|,? (?:of )?(this|last|next) year)?")
def _month_rule(m: re.Match, base: date | None) -> _Result:
    month, year = _MONTHS[m.group(2)], m.group(3)
    if year:
        return _ok(*_month_range(int(year), month), "month")
    if m.group(4):  # "June last year"
        if base is None:
            return _fail("relative_without_base")
        y = base.year + {"this": 0, "last": -1, "next": 1}[m.group(4)]
        return _ok(*_month_range(y, month), "month")
    if base is None:
        return _fail("no_base_date")
    which = m.group(1)
    if which == "last":
        y = base.year if month < base.month else base.year - 1
    elif which == "next":
        y = base.year if month > base.month else base.year + 1
    elif which == "this":
        y = base.year
    else:
        y = _recent([date(base.year + k, month, 1) for k in (-1, 0, 1)], base).year
    return _ok(*_month_range(y, month), "month")


@_rule(r"(?:between |from )?" + _MONTH + r"\s*(?:-|to|through|and|until)\s*" + _MONTH
       + r"(?:,? " + _YEAR + r")?")
def _month_range_rule(m: re.Match, base: date | None) -> _Result:
    first, last, year = _MONTHS[m.group(1)], _MONTHS[m.group(2)], m.group(3)
    if year is None:
        if base is None:
            return _fail("no_base_date")
        start_year = _recent([date(base.year + k, first, 1) for k in (-1, 0, 1)], base).year
    else:
        start_year = int(year) - (1 if last < first else 0)
    end_year = start_year + (1 if last < first else 0)
    return _ok(_month_range(start_year, first)[0], _month_range(end_year, last)[1], "month")


@_rule(r"(?:the )?(\d{1,2})(?:st|nd|rd|th)")
def _day_of_month(m: re.Match, base: date | None) -> _Result:
    if base is None:
        return _fail("no_base_date")
    day = int(m.group(1))
    candidates = []
    for k in (-1, 0, 1):
        month_start = _add_months(date(base.year, base.month, 1), k)
        if 1 <= day <= calendar.monthrange(month_start.year, month_start.month)[1]:
            candidates.append(month_start.replace(day=day))
    if not candidates:
        return _fail("unparseable")
    value = _recent(candidates, base)
    return _ok(value, value, "day")


# -- weekdays ---------------------------------------------------------------------------------


@_rule(r"(?:(last|this|next|past|coming|previous|this past|this coming|on|late|early) )?"
       + _WEEKDAY + r"(?:,? (?:morning|afternoon|evening|night))?(?: (?:last|next) week)?")
def _weekday(m: re.Match, base: date | None) -> _Result:
    if base is None:
        return _fail("relative_without_base")
    which, target = m.group(1), _WEEKDAYS[m.group(2)]
    if m.group(0).endswith("last week"):
        monday = base - timedelta(days=base.weekday() + 7)
        value = monday + timedelta(days=target)
    elif m.group(0).endswith("next week"):
        value = base - timedelta(days=base.weekday()) + timedelta(days=7 + target)
    elif which in ("next", "coming", "this coming"):
        value = base + timedelta(days=(target - base.weekday() - 1) % 7 + 1)
    elif which == "this":
        value = base - timedelta(days=base.weekday()) + timedelta(days=target)
    elif which in ("last", "previous", "this past"):
        value = base - timedelta(days=(base.weekday() - target - 1) % 7 + 1)
    else:  # bare, "on", "past": the most recent one, or base itself
        value = base - timedelta(days=(base.weekday() - target) % 7)
    return _ok(value, value, "day")


@_rule(r"(?:(this|last|next|the|this past|this coming|over the|the past|the coming) )?weekend")
def _weekend(m: re.Match, base: date | None) -> _Result:
    if base is None:
        return _fail("relative_without_base")
    which = m.group(1) or "the"
    saturday = base - timedelta(days=base.weekday()) + timedelta(days=5)  # of base's week
    if which in ("last", "the past", "this past", "the", "over the"):
        if which == "last" or saturday > base:
            saturday -= timedelta(days=7)
    elif which in ("next", "the coming", "this coming"):
        if which == "next" or saturday <= base:
            saturday += timedelta(days=7)
    return _ok(saturday, saturday + timedelta(days=1), "day")


# -- units relative to base -------------------------------------------------------------------


@_rule(r"(?:(this|the current|the present|current|so far this|earlier this|later this|"
       r"late this|early this) )(?:fiscal |financial |calendar )?(week|month|quarter|year|decade)")
def _this_unit(m: re.Match, base: date | None) -> _Result:
    if base is None:
        return _fail("relative_without_base")
    unit = m.group(2)
    return _ok(*_unit_range(base, unit), unit)


@_rule(r"(last|previous|the previous|the prior|prior|next) (?:fiscal |financial |calendar )?"
       r"(week|month|quarter|year)")
def _adjacent_unit(m: re.Match, base: date | None) -> _Result:
    """ "last month": the previous calendar month; "next year": the following calendar year."""
    if base is None:
        return _fail("relative_without_base")
    unit = m.group(2)
    step = 1 if m.group(1) == "next" else -1
    return _ok(*_unit_range(_shift(base, unit, step), unit), unit)


@_rule(r"(?:the |over the |in the |within the |for the |during the )?(past|last|next|coming) "
       r"(?:(?:" + _COUNT + r" )" + _UNIT + r"|(week|month|quarter|year))")
def _rolling(m: re.Match, base: date | None) -> _Result:
    """ "the past decade", "the last three months", "the next two weeks": the rolling period up
    to (or from) base, at the unit's granularity. "The next day" and "the following week" are
    relative to the event being told, not to base: they stay vague."""
    if base is None:
        return _fail("relative_without_base")
    n = _count(m.group(2)) if m.group(2) else 1
    unit = m.group(3) or m.group(4)
    if m.group(1) in ("next", "coming"):
        return _ok(base, _shift(base, unit, n), unit)
    return _ok(_shift(base, unit, -n), base, unit)


@_rule(r"(?:last|the last|the past|past|previous|the previous) decade")
def _past_decade(m: re.Match, base: date | None) -> _Result:
    if base is None:
        return _fail("relative_without_base")
    return _ok(_shift(base, "decade", -1), base, "decade")


_ABOUT = r"(?:(?:nearly|almost|about|around|roughly|some|just|only|more than|over|less than|" \
         r"under|barely|at least|exactly|precisely) )?"


@_rule(_ABOUT + r"(?:several|a few|few|many|some|a number of|\d+ or \d+|a couple) " + _UNIT
       + r"(?: or so)? (?:ago|earlier|before|from now|later|hence)")
def _vague_ago(m: re.Match, base: date | None) -> _Result:
    """ "a few years ago": some unsaid number of units back; no single period."""
    return _fail("vague")


@_rule(_ABOUT + _COUNT + r" " + _UNIT + r"(?: or so)? (ago|earlier|before|from now|later|hence)"
       r"|in " + _COUNT + r" " + _UNIT + r" time")
def _ago(m: re.Match, base: date | None) -> _Result:
    """ "three days ago" -> that day; "two years ago" -> that year ("earlier"/"later" are
    relative to some other event and are left as vague)."""
    if m.group(1) is None:
        word, unit, direction = m.group(4), m.group(5), "from now"
    else:
        word, unit, direction = m.group(1), m.group(2), m.group(3)
    if direction in ("earlier", "before", "later"):
        return _fail("vague")
    if base is None:
        return _fail("relative_without_base")
    n = _count(word) * (1 if direction in ("from now", "hence") else -1)
    return _ok(*_unit_range(_shift(base, unit, n), unit), unit)


# -- quarters, halves and seasons -------------------------------------------------------------

_YEAR_REF = r"(?:,? (?:of )?(?:(\d{4})|(this|last|next|the) (?:fiscal )?year|'(\d{2})))?"


def _year_ref(year: str | None, rel: str | None, short: str | None,
              base: date | None) -> int | None:
    if year:
        return int(year)
    if short:
        return 2000 + int(short) if base is None or 2000 + int(short) <= base.year + 1 else \
            1900 + int(short)
    if rel and base is not None:
        return base.year + {"this": 0, "the": 0, "last": -1, "next": 1}[rel]
    return None


@_rule(r"(?:the |a )?(first|second|third|fourth|1st|2nd|3rd|4th|final|last)[ -]"
       r"(?:fiscal |calendar )?quarter" + _YEAR_REF
       + r"|q([1-4])(?: |-)?(?:(\d{4})|'?(\d{2}))?"
       r"|(\d{4}) (first|second|third|fourth|1st|2nd|3rd|4th) quarter|(?:the )?(\d{4}) q([1-4])")
def _quarter(m: re.Match, base: date | None) -> _Result:
    g = m.groups()
    if g[0]:
        q, year = _ORDINALS[g[0]], _year_ref(g[1], g[2], g[3], base)
    elif g[4]:
        q = int(g[4])
        year = int(g[5]) if g[5] else (_year_ref(None, None, g[6], base) if g[6] else None)
    elif g[7]:
        q, year = _ORDINALS[g[8]], int(g[7])
    else:
        q, year = int(g[10]), int(g[9])
    if year is None:
        if base is None:
            return _fail("no_base_date")
        current = (base.month - 1) // 3 + 1
        year = base.year if q <= current else base.year - 1
    first = 3 * (q - 1) + 1
    return _ok(date(year, first, 1), _month_range(year, first + 2)[1], "quarter")


@_rule(r"(?:the )?(first|second|1st|2nd|latter|last)[ -]half" + _YEAR_REF
       + r"|h([12])(?: (\d{4}))?")
def _half(m: re.Match, base: date | None) -> _Result:
    g = m.groups()
    if g[0]:
        half = 1 if g[0] in ("first", "1st") else 2
        year = _year_ref(g[1], g[2], g[3], base)
    else:
        half, year = int(g[4]), int(g[5]) if g[5] else None
    if year is None:
        if base is None:
            return _fail("no_base_date")
        year = base.year if half == 1 or base.month > 6 else base.year - 1
    first = 1 if half == 1 else 7
    return _ok(date(year, first, 1), _month_range(year, first + 5)[1], "month")


@_rule(r"(?:the )?(first|last) (" + "|".join(k for k in _NUMBERS if " " not in k) + r"|\d+) "
       r"months (?:of|in) (?:(\d{4})|(this|last|next|the) (?:fiscal )?year)")
def _months_of_year(m: re.Match, base: date | None) -> _Result:
    """ "the first nine months of 1997", "the last three months of the year"."""
    n = _count(m.group(2))
    year = _year_ref(m.group(3), m.group(4), None, base)
    if year is None:
        return _fail("relative_without_base")
    if not 1 <= n <= 12:
        return _fail("unparseable")
    first = 1 if m.group(1) == "first" else 13 - n
    return _ok(date(year, first, 1), _month_range(year, first + n - 1)[1], "month")


@_rule(r"(?:(this|last|next|this past|this coming|the) )?(spring|summer|autumn|fall|winter)"
       r"(?:,? (?:of )?(\d{4}))?")
def _season(m: re.Match, base: date | None) -> _Result:
    """Northern-hemisphere meteorological seasons; winter Y is December Y to February Y+1."""
    which, first = m.group(1), _SEASONS[m.group(2)]
    if m.group(3):
        start = date(int(m.group(3)), first, 1)
    elif base is None:
        return _fail("relative_without_base")
    else:
        starts = [date(base.year + k, first, 1) for k in (-2, -1, 0, 1)]
        begun = [s for s in starts if s <= base]
        if which in ("last", "this past"):
            start = [s for s in begun if _add_months(s, 3) <= base][-1]
        elif which in ("next", "this coming"):
            start = next(s for s in starts if s > base)
        else:  # the current one if under way, else this year's
            current = begun[-1]
            start = current if _add_months(current, 3) > base else \
                next((s for s in starts if s.year == base.year), current)
    end = _add_months(start, 2)
    return _ok(start, _month_range(end.year, end.month)[1], "month")


@_rule(r"(?:the )?(?:(end|start|beginning|middle|rest|remainder|balance) of (?:the|this) "
       r"(year|month|week|quarter|decade)|(year|month|quarter)[- ]?(end|to-date|to date))")
def _part_of_unit(m: re.Match, base: date | None) -> _Result:
    """ "the rest of the month", "year-to-date": base's calendar unit. The end or start of a
    year is its last or first month ("year-end" -> December)."""
    if base is None:
        return _fail("relative_without_base")
    part, unit = m.group(1) or m.group(4), m.group(2) or m.group(3)
    if unit == "year" and part in ("end", "start", "beginning"):
        month = 12 if part == "end" else 1
        return _ok(*_month_range(base.year, month), "month")
    return _ok(*_unit_range(base, unit), unit)


# -- numeric day/month/year: needs the date order ---------------------------------------------

_NUMERIC = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})")


def _numeric(text: str, settings: DateSettings) -> _Result | None:
    match = _NUMERIC.fullmatch(text)
    if match is None:
        return None
    a, b, year = int(match.group(1)), int(match.group(2)), match.group(3)
    y = int(year) if len(year) == 4 else (2000 + int(year) if int(year) < 50 else 1900 + int(year))
    month, day = (a, b) if settings.date_order == "MDY" else (b, a)
    return _day(y, month, day)


# ---------------------------------------------------------------------------------------------
# dateparser fallback

# dateparser reads a date into almost anything ("the 99th day" -> 1999); it is only asked about
# texts that name a month or weekday, say "ago"/"yesterday"/..., or hold a 4-digit year.
_DATE_WORD = re.compile(
    r"\b(?:\d{4}|" + "|".join(_MONTHS) + "|" + "|".join(_WEEKDAYS)
    + r"|today|yesterday|tomorrow|ago|fortnight)\b")


# (text, settings) that dateparser found no date in, whatever the base date.
_DATEPARSER_MISSES: set[tuple[str, DateSettings]] = set()


@lru_cache(maxsize=16)
def _parser(settings: DateSettings, base: date) -> Any:
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=list(settings.languages),
        settings={
            "RELATIVE_BASE": datetime(base.year, base.month, base.day, 12),
            "PREFER_DATES_FROM": "past",
            "DATE_ORDER": settings.date_order,
            "PREFER_LOCALE_DATE_ORDER": False,
            "PREFER_DAY_OF_MONTH": "first",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )


def _dateparser_fallback(text: str, base: date | None, settings: DateSettings) -> _Result:
    if not _DATE_WORD.search(text):
        return _fail("unparseable")
    if base is None:
        return _fail("relative_without_base")
    if (text, settings) in _DATEPARSER_MISSES:
        return _fail("unparseable")
    try:
        data = _parser(settings, base).get_date_data(text)
    except Exception:  # noqa: BLE001 - dateparser raises assorted errors on odd input
        data = None
    if data is None or data.date_obj is None:
        # Whether dateparser finds a date does not depend on the article's date (only the value
        # does), so a miss is remembered by text and settings (languages, date order): "the week
        # ended february 22" costs ~3 ms once.
        if len(_DATEPARSER_MISSES) < _CACHE_SIZE:
            _DATEPARSER_MISSES.add((text, settings))
        return _fail("unparseable")
    value = data.date_obj.date()
    unit = {"time": "day", "day": "day", "week": "week", "month": "month",
            "year": "year"}.get(data.period or "day", "day")
    return _ok(*_unit_range(value, unit), unit)
