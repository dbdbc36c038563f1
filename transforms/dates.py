"""Date normalisation: each raw date string becomes one UTC instant, a precision and a status.

Flow: read -> **dates** -> dedup -> entities -> sinks. `NormaliseDates` reads `published_raw` from
each article dict and sets `published_at` (aware, UTC), `date_precision` and `date_status`. This is
the one place dates are parsed; nothing downstream parses them again.

A string goes through four stages, and the first one that gives an answer wins:
1. cleaning: control characters, SGML entities and tags, runs of whitespace, surrounding quotes and
   punctuation;
2. a fast path for unambiguous formats, a few microseconds each: ISO 8601 / RFC 3339, RFC 2822,
   the Reuters wire format (`26-FEB-1987 15:01:01.79`, trailing junk allowed), `YYYY/MM/DD`,
   `YYYYMMDD`, epoch seconds (9-10 digits) and milliseconds (13 digits), and English
   `July 4, 2025` / `4 July 2025` / `March 1987`;
3. dateparser (about 2-3 ms a call) with every setting pinned. Relative dates ("yesterday") are
   off and parts the text leaves out are never taken from today's date, so the result does not
   depend on when the pipeline runs;
4. the longest leading run of date-like tokens (up to 8) that parses, so trailing junk does not
   defeat a date.
Results are cached per (cleaned string, settings). `normalise_date` never raises on any input
string: failures come back as a status.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.timing import timed_process

UTC = timezone.utc
MIN_YEAR = 1000
MAX_YEAR = 2200
STATUSES = ("ok", "missing", "unparseable", "out_of_range", "no_year")
UNDATED_STATUSES = STATUSES[1:]
PRECISIONS = ("year", "month", "day", "hour", "minute", "second")
METRICS_NAMESPACE = "dates"

# dateparser takes what the text leaves out from this base rather than from today's date, so its
# results do not change with the day of the run. Dates taken from it are discarded ("no_year"), but
# it also sets the century of 2-digit years: "past" of 2049-12-31 reads them as 1950..2049.
_RELATIVE_BASE = datetime(2049, 12, 31, 23, 59, 59)
# Longer strings are not dates. Only their leading tokens are tried, because dateparser's cost
# grows with the length of its input.
_MAX_DATEPARSER_CHARS = 100
_CACHE_SIZE = 100_000


@functools.cache
def _default_tz(name: str) -> Any:
    """The pytz zone dateparser uses for `name`, so both paths localise alike; None for UTC."""
    import pytz  # dateparser's own zone database; its import is light

    return None if name.upper() == "UTC" else pytz.timezone(name)


@dataclass(frozen=True)
class DateSettings:
    """How ambiguous dates are read. Hashable: it is part of every cache key."""

    date_order: str = "MDY"  # "DMY" | "MDY" | "YMD": how "04/07/2025" reads (dateparser DATE_ORDER)
    default_timezone: str = "UTC"  # IANA name; naive times are taken in it, then converted to UTC
    languages: tuple[str, ...] = ("en",)  # dateparser language codes, in order of preference

    def __post_init__(self) -> None:
        if self.date_order not in ("DMY", "MDY", "YMD"):
            raise ValueError(f"date_order must be DMY, MDY or YMD, not {self.date_order!r}")
        if "local" in self.default_timezone.lower():
            raise ValueError("default_timezone must be a fixed zone, not the machine's local one")
        _default_tz(self.default_timezone)  # raises on an unknown zone name
        object.__setattr__(self, "languages", tuple(self.languages))
        if not self.languages:
            raise ValueError("languages must name at least one language")


DEFAULT_SETTINGS = DateSettings()


@dataclass(frozen=True)
class ParsedDate:
    """What a raw date string means.

    `value` is aware and in UTC, and is None unless `status == "ok"`. `precision` says how much of
    `value` the text gave (the rest is the start of the period); it is None unless status is "ok".
    """

    value: datetime | None
    precision: str | None  # one of PRECISIONS
    status: str  # one of STATUSES


MISSING = ParsedDate(None, None, "missing")
UNPARSEABLE = ParsedDate(None, None, "unparseable")
OUT_OF_RANGE = ParsedDate(None, None, "out_of_range")
NO_YEAR = ParsedDate(None, None, "no_year")


# ---------------------------------------------------------------------------------------------
# Cleaning

_JUNK = re.compile(
    r"&#?[0-9A-Za-z]{1,8};"  # SGML/HTML entities, e.g. Reuters' "&#3;"
    r"|</?[A-Za-z][^<>]{0,60}>"  # stray tags
    r"|\x1b\[[0-9;]*[A-Za-z]"  # terminal escape sequences
    r"|[\x00-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]"  # control and zero-width characters
)
_EDGE_CHARS = (  # stripped from both ends: quotes, brackets, punctuation, dashes
    " \"'`\u2018\u2019\u201a\u201c\u201d\u201e\u00ab\u00bb\u2039\u203a"
    ",;:.!?*#|~_=()[]{}<>-\u2013\u2014\u2026"
)


def _clean(raw: str) -> str:
    return " ".join(_JUNK.sub(" ", raw).split()).strip(_EDGE_CHARS)


# ---------------------------------------------------------------------------------------------
# Fast path

_MONTHS_EN = {
    name: number
    for number, names in enumerate(
        "jan january|feb february|mar march|apr april|may|jun june|jul july|aug august"
        "|sep sept september|oct october|nov november|dec december".split("|"),
        start=1,
    )
    for name in names.split()
}
_MONTH_EN = r"([A-Za-z]{3,9})\.?"
_ORDINAL = r"(?:st|nd|rd|th)?"
_TIME = r"(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
_ZONE = r"(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)"
_ISO = re.compile(
    rf"(\d{{4}})(?:-(\d{{2}})(?:-(\d{{2}})(?:[T ]{_TIME} ?{_ZONE}?)?)?)?",
    re.IGNORECASE,
)
_SLASH_YMD = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})(?:[T ]" + _TIME + ")?")
# Reuters: " 9-APR-1987 00:00:00.00    # date added by S Finch as guesswork". Whatever follows the
# time is junk (the corpus glues letters to it: "00:03:35.68F"), but a digit or ':' right after a
# part means that part was not what it seemed.
_REUTERS = re.compile(
    r"(\d{1,2})-([A-Za-z]{3})-(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?(?![\d:]|\.\d)"
)
_RFC2822 = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun),?\s*)?\d{1,2}\s+"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+\d{4}\s+"
    r"\d{1,2}:\d{2}(:\d{2})?(?:\s+([+-]\d{4}|UT|UTC|GMT|Z|[ECMP][SD]T))?",
    re.IGNORECASE,
)
_DAY_MONTH_YEAR = re.compile(rf"(\d{{1,2}}){_ORDINAL}\s+{_MONTH_EN},?\s+(\d{{4}})", re.IGNORECASE)
_MONTH_DAY_YEAR = re.compile(rf"{_MONTH_EN}\s+(\d{{1,2}}){_ORDINAL},?\s+(\d{{4}})", re.IGNORECASE)
_MONTH_YEAR = re.compile(rf"{_MONTH_EN},?\s+(\d{{4}})", re.IGNORECASE)


def _offset(text: str | None) -> timedelta | None:
    if text is None:
        return None
    if text.upper() in ("Z", "UTC", "GMT"):
        return timedelta(0)
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"bad UTC offset {text!r}")
    sign = -1 if text[0] == "-" else 1
    return sign * timedelta(hours=hours, minutes=minutes)


def _finish(value: datetime, precision: str) -> ParsedDate:
    """Converts an aware value to UTC and checks its year."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        return OUT_OF_RANGE
    return ParsedDate(value, precision, "ok")


def _parts(*fields: Any) -> tuple[int, ...]:
    """(year, month, day, hour, minute, second, microsecond) from the regex groups (year, month,
    day, hour, minute, second, fraction of a second); a missing part is the start of its period."""
    year, month, day, hour, minute, second, fraction = fields
    return (
        int(year),
        int(month) if month else 1,
        int(day) if day else 1,
        int(hour) if hour else 0,
        int(minute) if minute else 0,
        int(second) if second else 0,
        int(fraction[:6].ljust(6, "0")) if fraction else 0,
    )


def _from_fields(
    settings: DateSettings, precision: str, parts: tuple[int, ...], offset: timedelta | None = None
) -> ParsedDate:
    """A ParsedDate from `_parts`; a naive time (offset None) is in the default zone."""
    # One year of slack either side: a UTC offset can move the instant across New Year.
    if not MIN_YEAR - 1 <= parts[0] <= MAX_YEAR + 1:
        return OUT_OF_RANGE
    zone = None if offset is not None else _default_tz(settings.default_timezone)
    try:
        if zone is None:
            value = datetime(*parts, tzinfo=UTC if offset is None else timezone(offset))
        else:
            value = zone.localize(datetime(*parts))
    except ValueError:  # 31 February, hour 25, ...
        return UNPARSEABLE
    return _finish(value, precision)


def _precision_of(month: Any, day: Any, minute: Any, second: Any) -> str:
    if month is None:
        return "year"
    if day is None:
        return "month"
    if minute is None:
        return "day"
    return "minute" if second is None else "second"


def _parse_digits(text: str, settings: DateSettings) -> ParsedDate:
    """All-digit strings are settled here: year, YYYYMMDD, epoch s or ms, else unparseable."""
    size = len(text)
    if size == 4:
        return _from_fields(settings, "year", _parts(text, None, None, None, None, None, None))
    if size == 8:
        return _from_fields(settings, "day", _parts(text[:4], text[4:6], text[6:], *[None] * 4))
    if size in (9, 10, 13):
        seconds = int(text) / 1000 if size == 13 else int(text)
        try:
            return _finish(datetime.fromtimestamp(seconds, UTC), "second")
        except (OverflowError, OSError, ValueError):
            return OUT_OF_RANGE
    return UNPARSEABLE


def _reuters(text: str, settings: DateSettings) -> tuple[ParsedDate, int] | None:
    """The Reuters date at the start of `text` and where it ends, or None."""
    match = _REUTERS.match(text)
    if match is None:
        return None
    day, month_abbr, year, hour, minute, second, fraction = match.groups()
    month = _MONTHS_EN.get(month_abbr.lower())
    if month is None:
        return None
    precision = "day" if hour is None else "minute" if second is None else "second"
    parts = _parts(year, month, day, hour, minute, second, fraction)
    return _from_fields(settings, precision, parts), match.end()


def _rfc2822(text: str, settings: DateSettings) -> ParsedDate | None:
    match = _RFC2822.fullmatch(text)
    if match is None:
        return None
    seconds, zone = match.groups()
    try:
        value = parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError):
        return UNPARSEABLE
    precision = "minute" if seconds is None else "second"
    if zone is None:  # no zone: local time in the default zone
        return _from_fields(settings, precision, (*value.timetuple()[:6], 0))
    if value.tzinfo is None:  # "-0000": RFC 2822 says the time is UTC
        value = value.replace(tzinfo=UTC)
    return _finish(value, precision)


def _named_month(text: str, settings: DateSettings) -> ParsedDate | None:
    """English "July 4, 2025", "4th July 2025", "March 1987"; None for other words."""
    if match := _DAY_MONTH_YEAR.fullmatch(text):
        day, month_name, year = match.groups()
    elif match := _MONTH_DAY_YEAR.fullmatch(text):
        month_name, day, year = match.groups()
    elif match := _MONTH_YEAR.fullmatch(text):
        (month_name, year), day = match.groups(), None
    else:
        return None
    month = _MONTHS_EN.get(month_name.lower())
    if month is None:
        return None
    precision = "month" if day is None else "day"
    return _from_fields(settings, precision, _parts(year, month, day, *[None] * 4))


def _fast_parse(text: str, settings: DateSettings) -> ParsedDate | None:
    """The result for an unambiguous format, or None when `text` is none of them.

    A string that has the shape of a machine format is settled here, valid or not (2025-02-31 is
    unparseable), so dateparser never gets a second opinion on it.
    """
    if text.isdigit() and text.isascii():
        return _parse_digits(text, settings)
    if text[0].isdigit():
        if match := _ISO.fullmatch(text):
            year, month, day, hour, minute, second, fraction, zone = match.groups()
            try:
                offset = _offset(zone)
            except ValueError:
                return UNPARSEABLE
            precision = _precision_of(month, day, minute, second)
            return _from_fields(settings, precision, _parts(*match.groups()[:7]), offset)
        if match := _SLASH_YMD.fullmatch(text):
            precision = _precision_of(*match.group(2, 3, 5, 6))
            return _from_fields(settings, precision, _parts(*match.groups()))
        reuters = _reuters(text, settings)
        if reuters is not None and reuters[1] == len(text):
            return reuters[0]
    if (parsed := _rfc2822(text, settings)) is not None:
        return parsed
    if "en" in settings.languages:
        return _named_month(text, settings)
    return None


# ---------------------------------------------------------------------------------------------
# dateparser

_HMS = re.compile(r"\d:[0-5]\d:[0-5]\d")
_HM = re.compile(r"\d[:hH][0-5]\d")  # "10:30", French "10h30"
_TIMESTAMP = re.compile(r"\d{9,}(?:\.\d+)?")
_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?")
_DIGITS = re.compile(r"\d+")


@functools.cache
def _date_data_parser(settings: DateSettings) -> Any:
    """One dateparser DateDataParser per settings, built on first use (importing it is slow)."""
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=list(settings.languages),
        try_previous_locales=False,  # True would make a result depend on the strings seen before
        use_given_order=True,
        settings={
            "DATE_ORDER": settings.date_order,
            "PREFER_LOCALE_DATE_ORDER": False,  # else a language's own order beats DATE_ORDER
            "TIMEZONE": settings.default_timezone,
            "TO_TIMEZONE": "UTC",
            "RETURN_AS_TIMEZONE_AWARE": True,
            "PREFER_DATES_FROM": "past",
            # The defaults ("current") take the day and month from today: "March 1987" would be
            # 1987-03-<today>. "first" gives the start of the period, which `precision` qualifies.
            "PREFER_DAY_OF_MONTH": "first",
            "PREFER_MONTH_OF_YEAR": "first",
            "RELATIVE_BASE": _RELATIVE_BASE,
            "RETURN_TIME_AS_PERIOD": True,  # else the period of "4 July 2025 10:00" is "day"
            "PARSERS": ["timestamp", "custom-formats", "absolute-time"],  # no "relative-time"
            # No REQUIRE_PARTS=["year"]: it returns None, so "July 4" could not be told from
            # garbage, and it lets "Monday" and "10:00" through (dateparser dates them from
            # RELATIVE_BASE and reports a year). `_states_year` catches all three.
        },
    )


def _states_year(text: str, year: int) -> bool:
    """Whether `text` writes `year` (4 or 2 digits; +-1 for a UTC shift across New Year).

    Times of day are removed first, so minutes and fractions of a second are not mistaken for
    a 2-digit year; a year taken from RELATIVE_BASE (48-50) cannot be a day, month or hour.
    """
    years = (year - 1, year, year + 1)
    for run in _DIGITS.findall(_TIME_OF_DAY.sub(" ", text)):
        number = int(run)
        if number in years or (len(run) == 2 and any(number == y % 100 for y in years)):
            return True
    return False


def _start_of_period(value: datetime, precision: str, settings: DateSettings) -> datetime:
    """The local start of the year or month of `value`: dateparser puts "Monday 2025" on a
    Friday in January."""
    zone = _default_tz(settings.default_timezone)
    local = (value if zone is None else value.astimezone(zone)).replace(tzinfo=None)
    start = datetime(local.year, 1 if precision == "year" else local.month, 1)
    if start == local:
        return value
    return start.replace(tzinfo=UTC) if zone is None else zone.localize(start)


def _dateparser_parse(text: str, settings: DateSettings) -> ParsedDate:
    parser = _date_data_parser(settings)  # outside the try: bad settings must fail loudly
    try:
        data = parser.get_date_data(text)
        if data.date_obj is None:
            return UNPARSEABLE
        value = data.date_obj
        timestamp = _TIMESTAMP.fullmatch(text)
        if "year" not in data.parts or not (timestamp or _states_year(text, value.year)):
            return NO_YEAR
        if data.period == "time":
            seconds = timestamp or _HMS.search(text)
            precision = "second" if seconds else "minute" if _HM.search(text) else "hour"
        elif data.period in ("year", "month"):
            precision = data.period
            value = _start_of_period(value, precision, settings)
        else:  # "day", "week"
            precision = "day"
        return _finish(value, precision)
    except Exception:  # noqa: BLE001 - dateparser raises assorted errors on odd input
        return UNPARSEABLE


# ---------------------------------------------------------------------------------------------
# Whole strings and leading prefixes


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parse_exact(text: str, settings: DateSettings) -> ParsedDate:
    """`text` (cleaned) as a whole date: fast path, then dateparser; no prefix search."""
    if not text:
        return MISSING
    fast = _fast_parse(text, settings)
    if fast is not None:
        return fast
    if len(text) > _MAX_DATEPARSER_CHARS:
        return UNPARSEABLE
    return _dateparser_parse(text, settings)


@functools.cache
def _date_words(languages: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    """(anchors, fillers) for `languages`: month, weekday and am/pm names may end a date; words
    such as "of", "at", "the" may only sit inside one. From dateparser's language data."""
    from dateparser.languages.loader import default_loader

    anchor_keys = (
        "january february march april may june july august september october november december"
        " monday tuesday wednesday thursday friday saturday sunday am pm"
    ).split()
    anchors, fillers = set(_MONTHS_EN), set()
    for language in languages:
        info = default_loader.get_locale(language).info
        for key in anchor_keys:
            anchors.update(word.lower() for word in info.get(key, ()))
        for key in ("skip", "pertain"):
            fillers.update(w.lower() for w in info.get(key, ()) if w.strip(_EDGE_CHARS))
    return frozenset(anchors), frozenset(fillers)


def _token_kind(token: str, settings: DateSettings) -> str | None:
    """Whether a date may end with `token` ("anchor"), only contain it ("filler"), or neither."""
    if any(c.isdigit() for c in token):
        return "anchor"
    word = token.strip(_EDGE_CHARS)
    if 2 <= len(word) <= 5 and word.isupper() and word.isalpha():
        return "anchor"  # a time zone abbreviation, perhaps ("GMT", "PDT")
    anchors, fillers = _date_words(settings.languages)
    word = word.lower()
    if word in anchors:
        return "anchor"
    return "filler" if word in fillers else None


def _leading_dates(
    text: str, settings: DateSettings, max_tokens: int
) -> Iterator[tuple[int, ParsedDate]]:
    """(end, parsed) for the leading token runs of `text` that might be dates, longest first.

    Only runs made of date-like tokens (digits, month and weekday names, "of", zone names...),
    starting with a digit or a name and ending with one, are tried: that keeps dateparser calls
    to the one or two candidates that could succeed.
    """
    spans: list[tuple[int, int, bool]] = []
    for match in re.finditer(r"\S+", text):
        if len(spans) == max_tokens:
            break
        kind = _token_kind(match.group(), settings)
        if kind is None or (not spans and kind != "anchor"):
            break
        spans.append((match.start(), match.end(), kind == "anchor"))
    if not spans:
        return
    start = spans[0][0]
    for _, end, is_anchor in reversed(spans):
        if is_anchor:
            yield end, _parse_exact(_clean(text[start:end]), settings)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _normalise_cleaned(text: str, settings: DateSettings) -> ParsedDate:
    reuters = _reuters(text, settings)
    if reuters is not None:
        return reuters[0]  # trailing junk allowed
    whole = _parse_exact(text, settings)
    if whole.status != "unparseable":
        return whole
    tokens = text.count(" ") + 1
    fallback = whole
    for end, parsed in _leading_dates(text, settings, max_tokens=min(8, tokens - 1)):
        if parsed.status == "ok":
            return parsed
        if fallback is whole and parsed.status != "unparseable" and not _DIGITS.search(text, end):
            # "July 4 -- see below" has no year; "July 4, 99999" has one that is not readable.
            fallback = parsed
    return fallback


def normalise_date(raw: str | None, settings: DateSettings = DEFAULT_SETTINGS) -> ParsedDate:
    """The meaning of one raw date string. Never raises on any input string.

    >>> normalise_date("26-FEB-1987 15:01:01.79").value
    datetime.datetime(1987, 2, 26, 15, 1, 1, 790000, tzinfo=datetime.timezone.utc)
    """
    if raw is None:
        return MISSING
    text = _clean(raw if isinstance(raw, str) else str(raw))
    if not text:
        return MISSING
    return _normalise_cleaned(text, settings)


def split_leading_date(
    text: str, settings: DateSettings = DEFAULT_SETTINGS, max_tokens: int = 8
) -> tuple[str, ParsedDate, str] | None:
    """Splits `text` into (date_text, parsed, rest) at the longest leading date, or None.

    For the `.txt` header form " date July 4, 2025 After Pakistan ...", the reader passes the text
    after the key and gets ("July 4, 2025", <ok 2025-07-04>, "After Pakistan ..."). `date_text` is
    the original characters of the longest run of up to `max_tokens` whitespace tokens that
    normalises with status "ok"; `rest` is the original text after it and its following whitespace.
    """
    leading = len(text) - len(text.lstrip())
    reuters = _reuters(text[leading:], settings)
    if reuters is not None and reuters[0].status == "ok":
        parsed, end = reuters[0], leading + reuters[1]
    else:
        candidates = _leading_dates(text, settings, max_tokens)
        found = next(((end, parsed) for end, parsed in candidates if parsed.status == "ok"), None)
        if found is None:
            return None
        end, parsed = found
    return text[leading:end], parsed, text[end:].lstrip()


def clear_caches() -> None:
    """Forgets cached results (benchmarks measure cold calls); parsers built stay built."""
    _normalise_cleaned.cache_clear()
    _parse_exact.cache_clear()


def warm_up(settings: DateSettings = DEFAULT_SETTINGS) -> None:
    """Builds dateparser's parsers for `settings` now: the first call costs ~0.3 s."""
    _dateparser_parse("Friday, 1 January 2000 00:00", settings)
    _dateparser_parse("1 January", settings)


# ---------------------------------------------------------------------------------------------
# Beam


class NormaliseDateFn(beam.DoFn):
    """Sets the normalised date on an article dict, from its `published_raw`.

    In:  {"published_raw": "26-FEB-1987 15:01:01.79", ...}
    Out: {"published_raw": "26-FEB-1987 15:01:01.79", ...,
          "published_at": datetime(1987, 2, 26, 15, 1, 1, 790000, tzinfo=UTC),
          "date_precision": "second", "date_status": "ok"}
    The output is a shallow copy; an undated article keeps flowing with published_at None and
    the reason in date_status.
    """

    def __init__(self, settings: DateSettings = DEFAULT_SETTINGS) -> None:
        self._settings = settings
        self._total = Metrics.counter(METRICS_NAMESPACE, "total")
        self._dated = Metrics.counter(METRICS_NAMESPACE, "dated")
        self._undated = {
            status: Metrics.counter(METRICS_NAMESPACE, f"undated_{status}")
            for status in UNDATED_STATUSES
        }

    def setup(self) -> None:
        warm_up(self._settings)

    @timed_process(METRICS_NAMESPACE)
    def process(self, element: dict[str, Any]) -> Iterator[dict[str, Any]]:
        parsed = normalise_date(element.get("published_raw"), self._settings)
        self._total.inc()
        if parsed.status == "ok":
            self._dated.inc()
        else:
            self._undated[parsed.status].inc()
        yield {
            **element,
            "published_at": parsed.value,
            "date_precision": parsed.precision,
            "date_status": parsed.status,
        }


class NormaliseDates(beam.PTransform):
    """Article dicts in, the same dicts with published_at/date_precision/date_status out."""

    def __init__(self, settings: DateSettings = DEFAULT_SETTINGS, label: str | None = None) -> None:
        super().__init__(label)
        self._settings = settings

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection:
        return pcoll | "NormaliseDate" >> beam.ParDo(NormaliseDateFn(self._settings))
