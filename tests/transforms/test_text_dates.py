"""Dates inside the text: each DATE/TIME mention resolved against the article's date."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transforms import text_dates
from transforms.dates import DateSettings
from transforms.text_dates import GRANULARITIES, STATUSES, resolve_date_mention

# Friday 4 July 2025, as a UTC published_at.
BASE = datetime(2025, 7, 4, 9, 30, tzinfo=timezone.utc)
D = date


def resolved(text: str, base: datetime | None = BASE, settings: DateSettings | None = None):
    r = resolve_date_mention(text, base, settings)
    return r["resolved_start"], r["resolved_end"], r["granularity"], r["status"]


@pytest.mark.parametrize("text, start, end, granularity", [
    # the examples
    ("the past decade", D(2015, 7, 4), D(2025, 7, 4), "decade"),
    ("July 4-6", D(2025, 7, 4), D(2025, 7, 6), "day"),
    ("last month", D(2025, 6, 1), D(2025, 6, 30), "month"),
    ("on Wednesday", D(2025, 7, 2), D(2025, 7, 2), "day"),
    ("2025", D(2025, 1, 1), D(2025, 12, 31), "year"),
    ("this year", D(2025, 1, 1), D(2025, 12, 31), "year"),
    ("last week", D(2025, 6, 23), D(2025, 6, 29), "week"),
    ("the 1990s", D(1990, 1, 1), D(1999, 12, 31), "decade"),
    ("1999", D(1999, 1, 1), D(1999, 12, 31), "year"),
    # weekdays: most recent on or before base; "last" strictly before; "next" after
    ("Friday", D(2025, 7, 4), D(2025, 7, 4), "day"),
    ("last Friday", D(2025, 6, 27), D(2025, 6, 27), "day"),
    ("next Wednesday", D(2025, 7, 9), D(2025, 7, 9), "day"),
    ("Wednesday night", D(2025, 7, 2), D(2025, 7, 2), "day"),
    ("5 p.m. Wednesday", D(2025, 7, 2), D(2025, 7, 2), "day"),
    ("Tuesday last week", D(2025, 6, 24), D(2025, 6, 24), "day"),
    # deictic days
    ("today", D(2025, 7, 4), D(2025, 7, 4), "day"),
    ("yesterday", D(2025, 7, 3), D(2025, 7, 3), "day"),
    ("last night", D(2025, 7, 3), D(2025, 7, 3), "day"),
    ("tomorrow", D(2025, 7, 5), D(2025, 7, 5), "day"),
    ("three days ago", D(2025, 7, 1), D(2025, 7, 1), "day"),
    # absolute days and ranges
    ("July 4, 2025", D(2025, 7, 4), D(2025, 7, 4), "day"),
    ("4th July 2025", D(2025, 7, 4), D(2025, 7, 4), "day"),
    ("Wednesday, July 2", D(2025, 7, 2), D(2025, 7, 2), "day"),
    ("July 30-August 2", D(2025, 7, 30), D(2025, 8, 2), "day"),
    ("4-6 July 2024", D(2024, 7, 4), D(2024, 7, 6), "day"),
    ("2025-07-04", D(2025, 7, 4), D(2025, 7, 4), "day"),
    ("Sept. 11, 2001", D(2001, 9, 11), D(2001, 9, 11), "day"),
    # year-less dates and months: the latest that has begun, unless the next is close
    ("June 30", D(2025, 6, 30), D(2025, 6, 30), "day"),
    ("July 10", D(2025, 7, 10), D(2025, 7, 10), "day"),
    ("December 25", D(2024, 12, 25), D(2024, 12, 25), "day"),
    ("March", D(2025, 3, 1), D(2025, 3, 31), "month"),
    ("August", D(2025, 8, 1), D(2025, 8, 31), "month"),
    ("November", D(2024, 11, 1), D(2024, 11, 30), "month"),
    ("June last year", D(2024, 6, 1), D(2024, 6, 30), "month"),
    ("March 2024", D(2024, 3, 1), D(2024, 3, 31), "month"),
    ("mid-July", D(2025, 7, 1), D(2025, 7, 31), "month"),
    # quarters, halves, seasons
    ("the first quarter", D(2025, 1, 1), D(2025, 3, 31), "quarter"),
    ("the fourth quarter", D(2024, 10, 1), D(2024, 12, 31), "quarter"),
    ("third-quarter", D(2025, 7, 1), D(2025, 9, 30), "quarter"),
    ("Q4 2024", D(2024, 10, 1), D(2024, 12, 31), "quarter"),
    ("the first half of 2025", D(2025, 1, 1), D(2025, 6, 30), "month"),
    ("the first nine months of 2024", D(2024, 1, 1), D(2024, 9, 30), "month"),
    ("last summer", D(2024, 6, 1), D(2024, 8, 31), "month"),
    ("the summer of 2019", D(2019, 6, 1), D(2019, 8, 31), "month"),
    # rolling periods and units relative to base
    ("the past three months", D(2025, 4, 4), D(2025, 7, 4), "month"),
    ("the next two weeks", D(2025, 7, 4), D(2025, 7, 18), "week"),
    ("this week", D(2025, 6, 30), D(2025, 7, 6), "week"),
    ("next year", D(2026, 1, 1), D(2026, 12, 31), "year"),
    ("two years ago", D(2023, 1, 1), D(2023, 12, 31), "year"),
    ("earlier this month", D(2025, 7, 1), D(2025, 7, 31), "month"),
    ("by the end of the year", D(2025, 12, 1), D(2025, 12, 31), "month"),
    ("this fiscal year", D(2025, 1, 1), D(2025, 12, 31), "year"),
    # decades and year ranges
    ("the '90s", D(1990, 1, 1), D(1999, 12, 31), "decade"),
    ("the nineties", D(1990, 1, 1), D(1999, 12, 31), "decade"),
    ("the early 2010s", D(2010, 1, 1), D(2019, 12, 31), "decade"),
    ("2020-2022", D(2020, 1, 1), D(2022, 12, 31), "year"),
    ("2011-12", D(2011, 1, 1), D(2012, 12, 31), "year"),
    ("2025-07", D(2025, 7, 1), D(2025, 7, 31), "month"),
    ("mid-2024", D(2024, 1, 1), D(2024, 12, 31), "year"),
    ("fiscal 2024", D(2024, 1, 1), D(2024, 12, 31), "year"),
])
def test_resolves_against_the_article_date(text, start, end, granularity):
    assert resolved(text) == (start, end, granularity, "resolved")


@pytest.mark.parametrize("text, status", [
    ("$1", "not_a_date"), ("5", "not_a_date"), ("1,999", "not_a_date"), ("12", "not_a_date"),
    ("34-year-old", "not_a_date"), ("10 percent", "not_a_date"),
    ("two years", "duration"), ("over a decade", "duration"), ("24 hours", "duration"),
    ("decades", "duration"), ("a decade", "duration"),
    ("every week", "recurring"), ("daily", "recurring"),
    ("3 p.m.", "time_only"), ("midnight", "time_only"),
    ("the next day", "vague"), ("recent years", "vague"), ("the same day", "vague"),
    ("several years ago", "vague"), ("the coming weeks", "vague"), ("the year", "vague"),
    ("the 19th century", "unsupported"), ("the 1800s", "unsupported"),
    ("the 99th day", "unparseable"), ("blah", "unparseable"),
])
def test_unresolved_mentions_say_why(text, status):
    assert resolved(text) == (None, None, None, status)


@pytest.mark.parametrize("text, status", [
    ("last month", "relative_without_base"), ("Wednesday", "relative_without_base"),
    ("three days ago", "relative_without_base"), ("this year", "relative_without_base"),
    ("July 4", "no_base_date"), ("December", "no_base_date"),
    ("the fourth quarter", "no_base_date"),
])
def test_without_an_article_date_relative_mentions_stay_unresolved(text, status):
    assert resolved(text, base=None)[3] == status


def test_absolute_dates_need_no_article_date():
    assert resolved("July 4, 2025", base=None) == (D(2025, 7, 4), D(2025, 7, 4), "day", "resolved")
    assert resolved("the 1990s", base=None)[3] == "resolved"


def test_numeric_dates_follow_the_configured_order():
    assert resolved("04/07/2025", settings=DateSettings(date_order="MDY"))[0] == D(2025, 4, 7)
    assert resolved("04/07/2025", settings=DateSettings(date_order="DMY"))[0] == D(2025, 7, 4)


def test_text_is_normalised_before_matching():
    expected = resolved("the past decade")
    assert resolved("  The Past\u00a0Decade’s ") == expected
    assert resolved("July 4\u20136") == resolved("July 4-6")


def test_common_forms_never_reach_dateparser(monkeypatch):
    def no_dateparser(*args, **kwargs):
        raise AssertionError("dateparser called")

    monkeypatch.setattr(text_dates, "_parser", no_dateparser)
    text_dates.clear_cache()
    base = datetime(2031, 1, 15, tzinfo=timezone.utc)  # a day no other test caches
    for text in ("last month", "on Wednesday", "the past decade", "July 4-6", "2025", "this year",
                 "last week", "the 1990s", "yesterday", "March 3", "Q2 2024", "$1", "two years"):
        assert resolve_date_mention(text, base)["status"] in STATUSES


def test_dateparser_handles_the_rest(monkeypatch):
    text_dates.clear_cache()
    used = []
    real = text_dates._parser
    monkeypatch.setattr(text_dates, "_parser", lambda *a: used.append(a) or real(*a))
    assert resolved("Wed, 2 Jul 2025") == (D(2025, 7, 2), D(2025, 7, 2), "day", "resolved")
    assert used


def test_results_are_cached_per_text_and_base_day(monkeypatch):
    text_dates.clear_cache()
    calls = []
    real = text_dates._resolve
    monkeypatch.setattr(text_dates, "_resolve", lambda *a: calls.append(a) or real(*a))
    first = resolve_date_mention("last month", BASE)
    first["status"] = "mutated by the caller"
    again = resolve_date_mention("Last month", BASE.replace(hour=23))
    assert again["status"] == "resolved" and len(calls) == 1
    resolve_date_mention("last month", datetime(2025, 7, 5, tzinfo=timezone.utc))
    assert len(calls) == 2


@given(st.text(max_size=40), st.one_of(st.none(), st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1),
    timezones=st.just(timezone.utc))))
def test_any_text_gives_a_consistent_answer(text, base):
    r = resolve_date_mention(text, base)
    assert r["status"] in STATUSES
    if r["status"] == "resolved":
        assert r["granularity"] in GRANULARITIES
        assert r["resolved_start"] <= r["resolved_end"]
    else:
        assert r["resolved_start"] is r["resolved_end"] is r["granularity"] is None


@given(st.integers(min_value=0, max_value=10**7).filter(lambda n: not 1000 <= n <= 2100))
def test_numbers_that_are_not_years_are_not_dates(n):
    assert resolved(str(n))[3] == "not_a_date"
    assert resolved(f"${n}")[3] == "not_a_date"
