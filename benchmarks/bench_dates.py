"""Micro-benchmark of `transforms.dates.normalise_date` against plain dateparser (run on demand).

Times normalise_date, cold (caches cleared before each pass), over the `date` field of the first N
lines of a JSONL file, and the same strings through dateparser: once as our fallback calls it (a
pinned DateDataParser) and once as `dateparser.parse(s)` with its defaults. Prints microseconds per
call, the share of strings settled without calling dateparser, and how often the results agree.

    .venv/bin/python benchmarks/bench_dates.py --limit 2000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms import dates  # noqa: E402

DEFAULT_INPUT = ROOT / ".." / "shared" / "data" / "reuters21578" / "articles.jsonl"


def read_values(path: Path, field: str, limit: int) -> list[str | None]:
    values: list[str | None] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if len(values) == limit:
                break
            if line.strip():
                values.append(json.loads(line).get(field))
    return values


def best_pass(fn: Callable[[Any], Any], values: Iterable[Any], repeats: int, before=None) -> float:
    """Fastest of `repeats` passes, in microseconds per value."""
    values = list(values)
    best = float("inf")
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        for value in values:
            fn(value)
        best = min(best, time.perf_counter() - start)
    return best / max(len(values), 1) * 1e6


def count_dateparser_calls(values: list[str | None], settings: dates.DateSettings) -> int:
    """How many values needed at least one dateparser call (cold caches)."""
    parser = dates._date_data_parser(settings)  # the cached instance normalise_date uses
    calls = 0
    original = parser.get_date_data

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)

    parser.get_date_data = counting
    needed = 0
    try:
        dates.clear_caches()
        for value in values:
            before = calls
            dates.normalise_date(value, settings)
            needed += calls > before
    finally:
        del parser.get_date_data
    return needed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT, help="JSONL file")
    parser.add_argument("--field", default="date", help="field holding the raw date")
    parser.add_argument("--limit", type=int, default=2000, help="first N lines")
    parser.add_argument("--repeats", type=int, default=3, help="passes; the fastest counts")
    parser.add_argument(
        "--dateparser_limit", type=int, default=1000, help="values timed through dateparser"
    )
    args = parser.parse_args(argv)

    import dateparser

    settings = dates.DEFAULT_SETTINGS
    values = read_values(args.input, args.field, args.limit)
    strings = [v for v in values if isinstance(v, str)]
    sample = strings[: args.dateparser_limit]
    dates.warm_up(settings)  # parser construction is per worker, not per call
    pinned = dates._date_data_parser(settings)
    dateparser.parse("1 January 2000")

    cold = best_pass(
        lambda v: dates.normalise_date(v, settings), values, args.repeats, before=dates.clear_caches
    )
    warm = best_pass(lambda v: dates.normalise_date(v, settings), values, args.repeats)
    pinned_us = best_pass(pinned.get_date_data, sample, 1)
    default_us = best_pass(dateparser.parse, sample, 1)
    needed = count_dateparser_calls(values, settings)

    agree = sum(
        dates.normalise_date(s, settings).value == pinned.get_date_data(s).date_obj for s in sample
    )
    unique = len(set(values))
    print(f"input            {args.input} ({len(values)} values, {unique} distinct)")
    print(f"normalise_date   {cold:9.1f} us/call cold   {warm:7.2f} us/call cached")
    print(
        f"dateparser       {pinned_us:9.1f} us/call (pinned DateDataParser, {len(sample)} values)"
    )
    print(f"dateparser.parse {default_us:9.1f} us/call (defaults)")
    print(f"speed-up         {pinned_us / cold:9.0f}x cold vs pinned dateparser")
    print(
        f"fast path        {1 - needed / max(len(values), 1):9.1%} of values never call dateparser"
    )
    print(f"agreement        {agree / max(len(sample), 1):9.1%} same instant as pinned dateparser")


if __name__ == "__main__":
    main()
