"""Per-stage timing: ``<stage>.msec`` and ``<stage>.cpu_msec`` Beam counters, summed over workers.

``@timed_process(STAGE)`` on a DoFn's ``process`` adds the time spent inside that method to the
counter ``<STAGE>.msec`` (elapsed) and the CPU time of its thread to ``<STAGE>.cpu_msec`` (which a
busy machine does not inflate). Only the method's own work counts: the time between its
``yield``s, when Beam runs the downstream steps fused with it, is left out, so stages never
double-count each other. The run summary prints the counters; ``benchmarks/bench_pipeline.py``
turns them into time per stage.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

from apache_beam.metrics import Metrics

# Seconds below 1 ms carried to the next call, per DoFn instance: (elapsed, cpu).
_RESIDUE = "_timing_residue"


def timed_process(stage: str) -> Callable[[Callable[..., Any]], Callable[..., Iterator[Any]]]:
    """Decorates ``DoFn.process``: its running time goes to ``<stage>.msec`` / ``.cpu_msec``.

    Example: ``@timed_process("dates")`` over ``NormaliseDateFn.process`` -> ``dates.msec``.
    """
    counters = (Metrics.counter(stage, "msec"), Metrics.counter(stage, "cpu_msec"))

    def decorate(process: Callable[..., Any]) -> Callable[..., Iterator[Any]]:
        @functools.wraps(process)
        def wrapper(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
            clock = _Clock()
            outputs = process(self, *args, **kwargs)
            clock.pause()
            if outputs is not None:
                outputs = iter(outputs)
                while True:
                    clock.resume()
                    try:
                        out = next(outputs)
                    except StopIteration:
                        clock.pause()
                        break
                    clock.pause()
                    yield out
            residue = getattr(self, _RESIDUE, (0.0, 0.0))
            carried = []
            for counter, spent, left in zip(counters, clock.spent, residue, strict=True):
                total = spent + left
                whole = int(total * 1000)
                if whole:
                    counter.inc(whole)
                carried.append(total - whole / 1000)
            setattr(self, _RESIDUE, tuple(carried))

        return wrapper

    return decorate


class _Clock:
    """Elapsed and thread CPU seconds over the intervals between ``resume()`` and ``pause()``."""

    def __init__(self) -> None:
        self.spent = [0.0, 0.0]
        self.resume()

    def resume(self) -> None:
        self._started = (time.perf_counter(), time.thread_time())

    def pause(self) -> None:
        self.spent[0] += time.perf_counter() - self._started[0]
        self.spent[1] += time.thread_time() - self._started[1]
