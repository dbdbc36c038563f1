"""Dates: each format to an exact UTC instant, precision and status; junk, ranges, Beam stage."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import apache_beam as beam
import pytest
import pytz
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.beam_testing import local_pipeline
from transforms import dates
from transforms.dates import (
    PRECISIONS,
    STATUSES,
    DateSettings,
    NormaliseDateFn,
    NormaliseDates,
    ParsedDate,
    normalise_date,
    split_leading_date,
)

UTC = timezone.utc
KARACHI = DateSettings(default_timezone="Asia/Karachi")
DMY = DateSettings(date_order="DMY")


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def ok(value: datetime, precision: str) -> ParsedDate:
    return ParsedDate(value, precision, "ok")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Reuters wire format, with the corpus' leading spaces and glued or commented junk
        ("26-FEB-1987 15:01:01.79", ok(utc(1987, 2, 26, 15, 1, 1, 790000), "second")),
        (" 1-MAR-1987 01:41:26.47", ok(utc(1987, 3, 1, 1, 41, 26, 470000), "second")),
        (
            " 9-APR-1987 00:00:00.00    # date added by S Finch as guesswork ",
            ok(utc(1987, 4, 9), "second"),
        ),
        ("27-MAR-1987 00:03:35.68F RM", ok(utc(1987, 3, 27, 0, 3, 35, 680000), "second")),
        ("31-MAR-1987 605:12:19.12", ok(utc(1987, 3, 31), "day")),  # garbled time: the day stands
        # ISO 8601 / RFC 3339
        ("2025-07-04", ok(utc(2025, 7, 4), "day")),
        ("2025-07-04T10:00:00Z", ok(utc(2025, 7, 4, 10), "second")),
        ("2025-07-04t10:00:00z", ok(utc(2025, 7, 4, 10), "second")),
        ("2025-07-04 10:00", ok(utc(2025, 7, 4, 10), "minute")),
        ("2025-07-04T10:00:00.123456+05:30", ok(utc(2025, 7, 4, 4, 30, 0, 123456), "second")),
        ("2025-07-04T23:30:00-0200", ok(utc(2025, 7, 5, 1, 30), "second")),
        ("2025-07-04T10:00:00,5 UTC", ok(utc(2025, 7, 4, 10, 0, 0, 500000), "second")),
        ("1987-03", ok(utc(1987, 3, 1), "month")),
        ("1987", ok(utc(1987, 1, 1), "year")),
        # other machine formats
        ("2025/07/04", ok(utc(2025, 7, 4), "day")),
        ("20250704", ok(utc(2025, 7, 4), "day")),
        ("1751623200", ok(utc(2025, 7, 4, 10), "second")),
        ("1751623200500", ok(utc(2025, 7, 4, 10, 0, 0, 500000), "second")),
        ("Fri, 04 Jul 2025 10:00:00 GMT", ok(utc(2025, 7, 4, 10), "second")),
        ("Fri, 04 Jul 2025 10:00 +0530", ok(utc(2025, 7, 4, 4, 30), "minute")),
        ("04 Jul 2025 10:00:00 -0000", ok(utc(2025, 7, 4, 10), "second")),
        # prose, fast path and dateparser alike
        ("July 4, 2025", ok(utc(2025, 7, 4), "day")),
        ("4th July 2025", ok(utc(2025, 7, 4), "day")),
        ("March 1987", ok(utc(1987, 3, 1), "month")),
        ("the 4th of July 2025", ok(utc(2025, 7, 4), "day")),
        ("Friday, July 4, 2025 at 10:15:30", ok(utc(2025, 7, 4, 10, 15, 30), "second")),
        ("4 July 2025 10 am", ok(utc(2025, 7, 4, 10), "hour")),
        ("2 PM July 4 2025", ok(utc(2025, 7, 4, 14), "hour")),
    ],
)
def test_formats(raw: str, expected: ParsedDate):
    assert normalise_date(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "\x02 26-FEB-1987 15:01:01.79\x03",
        "&#2;26-FEB-1987 15:01:01.79&#3;",
        "<DATE>26-FEB-1987 15:01:01.79</DATE>",
        "\x00\t26-FEB-1987\x0b 15:01:01.79\r\n\x7f",
        "\x1b[1m\u201c26-FEB-1987 15:01:01.79\u201d,\x1b[0m",
    ],
)
def test_control_characters_and_markup_around_a_date(raw: str):
    assert normalise_date(raw) == ok(utc(1987, 2, 26, 15, 1, 1, 790000), "second")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-07-04T10:00:00Z (updated 11:00)", ok(utc(2025, 7, 4, 10), "second")),
        ("July 4, 2025 -- filed from Islamabad", ok(utc(2025, 7, 4), "day")),
        ("Fri, 04 Jul 2025 10:00:00 +0000 (UTC)", ok(utc(2025, 7, 4, 10), "second")),
        ("4 July 2025 10:00 am NEW YORK (Reuters) -", ok(utc(2025, 7, 4, 10), "minute")),
    ],
)
def test_trailing_junk_does_not_defeat_a_date(raw: str, expected: ParsedDate):
    assert normalise_date(raw) == expected


def test_date_order_decides_ambiguous_numeric_dates():
    assert normalise_date("04/07/2025") == ok(utc(2025, 4, 7), "day")
    assert normalise_date("04/07/2025", DMY) == ok(utc(2025, 7, 4), "day")
    assert normalise_date("2025-07-04", DMY) == ok(utc(2025, 7, 4), "day")  # ISO is not ambiguous


def test_two_digit_years_read_as_1950_to_2049_whatever_the_day_of_the_run():
    assert normalise_date("04/07/25") == ok(utc(2025, 4, 7), "day")
    assert normalise_date("4 Jul 49") == ok(utc(2049, 7, 4), "day")
    assert normalise_date("4 Jul 50") == ok(utc(1950, 7, 4), "day")
    assert normalise_date("1/1/87") == ok(utc(1987, 1, 1), "day")


def test_other_languages():
    french = DateSettings("DMY", "Europe/Paris", ("fr",))
    assert normalise_date("4 juillet 2025 10h30", french) == ok(utc(2025, 7, 4, 8, 30), "minute")
    assert split_leading_date("4 juillet 2025 Le président a dit", french) == (
        "4 juillet 2025",
        ok(utc(2025, 7, 3, 22), "day"),
        "Le président a dit",
    )
    with pytest.raises(ValueError):  # a settings mistake fails loudly, not as "unparseable"
        normalise_date("4 juillet 2025", DateSettings(languages=("xx",)))


def test_naive_times_are_in_the_default_timezone():
    assert normalise_date("2025-07-04 10:00", KARACHI) == ok(utc(2025, 7, 4, 5), "minute")
    assert normalise_date("July 4, 2025 10:00", KARACHI) == ok(utc(2025, 7, 4, 5), "minute")
    assert normalise_date("2025-07-04", KARACHI) == ok(utc(2025, 7, 3, 19), "day")
    # an explicit zone or an epoch is absolute
    assert normalise_date("2025-07-04T10:00:00Z", KARACHI) == ok(utc(2025, 7, 4, 10), "second")
    assert normalise_date("1751623200", KARACHI) == ok(utc(2025, 7, 4, 10), "second")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (None, "missing"),
        ("", "missing"),
        (" \t\n ", "missing"),
        ("\x00\x03 &#3; ", "missing"),
        ("yesterday", "unparseable"),  # relative dates would depend on the day of the run
        ("3 days ago", "unparseable"),
        ("Hello world", "unparseable"),
        ("99999", "unparseable"),
        ("2025-02-31", "unparseable"),
        ("31 February 2025", "unparseable"),
        ("2025-13-01", "unparseable"),
        ("2025-07-04T25:00:00Z", "unparseable"),
        ("20251304", "unparseable"),
        ("0000-01-01", "out_of_range"),
        ("0999-12-31", "out_of_range"),
        ("2201-01-01", "out_of_range"),
        ("July 4, 0999", "out_of_range"),
        ("July 4, 99999", "unparseable"),
        ("9999999999", "out_of_range"),  # epoch seconds in 2286
        ("1000-01-01T00:30+01:00", "out_of_range"),  # 0999-12-31T23:30Z
        ("July 4", "no_year"),  # dateparser would fill in the current year
        ("04/07", "no_year"),
        ("Monday", "no_year"),  # dateparser dates a lone weekday or time from RELATIVE_BASE
        ("Fri 10:49", "no_year"),
        ("July 4 -- see below", "no_year"),
    ],
)
def test_undated_statuses(raw: str | None, status: str):
    assert normalise_date(raw) == ParsedDate(None, None, status)


FAST_PATH_SAMPLES = [
    "2024-02-29",
    "2024-02-29T23:20:30.5+05:30",
    "2024-02-29 10:20",
    "2024/02/29",
    "2024-02",
    "2024",
    "29-FEB-2024 15:01:01.79",
    "February 29, 2024",
    "29 Feb 2024",
    "February 2024",
    "Thu, 29 Feb 2024 10:00:00 GMT",
    "29 Feb 2024 10:00",
    "2025-03-30 02:30",  # does not exist in Berlin
    "2025-10-26 02:30",  # happens twice in Berlin
    "1751623200",
    "0999-12-31",
    "2024-02-30",
]


@pytest.mark.parametrize(
    "settings_",
    [DateSettings(), DMY, DateSettings("YMD", "Europe/Berlin"), KARACHI],
    ids=["default", "dmy", "ymd-berlin", "karachi"],
)
def test_fast_path_agrees_with_dateparser(settings_: DateSettings):
    for raw in FAST_PATH_SAMPLES:
        fast = dates._fast_parse(raw, settings_)
        assert fast is not None, raw
        assert fast == dates._dateparser_parse(raw, settings_), raw


def test_settings_are_validated():
    with pytest.raises(ValueError):
        DateSettings(date_order="YDM")
    with pytest.raises(pytz.UnknownTimeZoneError):
        DateSettings(default_timezone="Mars/Olympus")
    with pytest.raises(ValueError):
        DateSettings(default_timezone="local")
    assert DateSettings(languages=["en", "fr"]).languages == ("en", "fr")  # hashable


def check_invariants(parsed: ParsedDate) -> None:
    assert parsed.status in STATUSES
    if parsed.status == "ok":
        assert parsed.value is not None and parsed.value.tzinfo is UTC
        assert dates.MIN_YEAR <= parsed.value.year <= dates.MAX_YEAR
        assert parsed.precision in PRECISIONS
    else:
        assert parsed.value is None and parsed.precision is None


DATEISH = st.text(alphabet="0123456789 -/:.,+TZ JulyMarchFebFri\x00\x03#", max_size=30)
HYPOTHESIS = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@HYPOTHESIS
@given(st.one_of(st.text(max_size=60), DATEISH))
def test_never_raises_and_is_deterministic(raw: str):
    first = normalise_date(raw)
    check_invariants(first)
    dates.clear_caches()
    assert normalise_date(raw) == first


@HYPOTHESIS
@given(
    st.datetimes(min_value=datetime(1001, 1, 1), max_value=datetime(2199, 12, 31)),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
)
def test_iso_round_trip(moment: datetime, offset_minutes: int):
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    assert normalise_date(aware.isoformat()) == ok(aware.astimezone(UTC), "second")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-07-04 After Pakistan", ("2025-07-04", ok(utc(2025, 7, 4), "day"), "After Pakistan")),
        (
            "July 4, 2025 After Pakistan witnessed ...",
            ("July 4, 2025", ok(utc(2025, 7, 4), "day"), "After Pakistan witnessed ..."),
        ),
        ("4 July 2025 After ...", ("4 July 2025", ok(utc(2025, 7, 4), "day"), "After ...")),
        (
            "Fri, 04 Jul 2025 10:00:00 GMT Body...",
            ("Fri, 04 Jul 2025 10:00:00 GMT", ok(utc(2025, 7, 4, 10), "second"), "Body..."),
        ),
        (
            "26-FEB-1987 15:01:01.79 Body",
            ("26-FEB-1987 15:01:01.79", ok(utc(1987, 2, 26, 15, 1, 1, 790000), "second"), "Body"),
        ),
        (
            "4 July 2025 10:00 am  The talks\n  resumed.",
            ("4 July 2025 10:00 am", ok(utc(2025, 7, 4, 10), "minute"), "The talks\n  resumed."),
        ),
        ("  2025-07-04\n\nBody", ("2025-07-04", ok(utc(2025, 7, 4), "day"), "Body")),
        ("2025-07-04", ("2025-07-04", ok(utc(2025, 7, 4), "day"), "")),
    ],
)
def test_split_leading_date(text: str, expected: tuple[str, ParsedDate, str]):
    assert split_leading_date(text) == expected


@pytest.mark.parametrize(
    "text", ["After Pakistan witnessed", "July 4 After the talks", "", "   ", "yesterday, 10:00"]
)
def test_split_leading_date_without_a_date(text: str):
    assert split_leading_date(text) is None


def test_split_leading_date_looks_at_max_tokens_only():
    assert split_leading_date("Friday, 4 July 2025 Body", max_tokens=2) is None
    assert split_leading_date("Friday, 4 July 2025 Body", max_tokens=4)[0] == "Friday, 4 July 2025"


def test_fn_yields_a_copy_and_leaves_the_input_alone():
    article = {"id": "a", "published_raw": "2025-07-04"}
    (out,) = NormaliseDateFn().process(article)
    assert article == {"id": "a", "published_raw": "2025-07-04"}
    assert out == {
        "id": "a",
        "published_raw": "2025-07-04",
        "published_at": utc(2025, 7, 4),
        "date_precision": "day",
        "date_status": "ok",
    }


def test_normalise_dates_stage():
    articles = [
        {"id": "reuters-1", "published_raw": "26-FEB-1987 15:01:01.79"},
        {"id": "seed", "published_raw": "2025-07-04 10:00"},
        {"id": "undated", "published_raw": None},
    ]
    expected = [
        {
            "id": "reuters-1",
            "published_raw": "26-FEB-1987 15:01:01.79",
            "published_at": utc(1987, 2, 26, 10, 1, 1, 790000),
            "date_precision": "second",
            "date_status": "ok",
        },
        {
            "id": "seed",
            "published_raw": "2025-07-04 10:00",
            "published_at": utc(2025, 7, 4, 5),
            "date_precision": "minute",
            "date_status": "ok",
        },
        {
            "id": "undated",
            "published_raw": None,
            "published_at": None,
            "date_precision": None,
            "date_status": "missing",
        },
    ]
    with local_pipeline() as p:
        out = p | "Create" >> beam.Create(articles) | "NormaliseDates" >> NormaliseDates(KARACHI)
        assert_that(out, equal_to(expected))


def test_normalise_dates_counts():
    p = local_pipeline()
    raws = ["2025-07-04", "1987", None, "July 4", "yesterday"]
    _ = p | beam.Create([{"published_raw": raw} for raw in raws]) | NormaliseDates(DateSettings())
    result = p.run()
    result.wait_until_finish()
    counters = {
        c.key.metric.name: c.committed
        for c in result.metrics().query()["counters"]
        if c.key.metric.namespace == "dates" and not c.key.metric.name.endswith("msec")
    }  # dates.msec / dates.cpu_msec are timings (transforms/timing.py), not outcomes
    assert counters == {
        "total": 5,
        "dated": 2,
        "undated_missing": 1,
        "undated_no_year": 1,
        "undated_unparseable": 1,
    }
