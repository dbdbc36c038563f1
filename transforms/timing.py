"""Per-stage timing: a ``<stage>.msec`` Beam counter summed over every worker.

``@timed_process(STAGE)`` on a DoFn's ``process`` adds the time spent inside that method to the
counter ``<STAGE>.msec``. Only the method's own work counts: the time between its ``yield``s,
when Beam runs the downstream steps fused with it, is left out, so stages never double-count each
other. The run summary prints the counters; ``benchmarks/bench_pipeline.py`` turns them into wall
time per stage.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

from apache_beam.metrics import Metrics

_RESIDUE = "_timing_residue"  # seconds below 1 ms carried to the next call, per DoFn instance


def timed_process(stage: str) -> Callable[[Callable[..., Any]], Callable[..., Iterator[Any]]]:
    """Decorates ``DoFn.process``: its running time goes to the counter ``<stage>.msec``.

    Example: ``@timed_process("dates")`` over ``NormaliseDateFn.process`` -> ``dates.msec``.
    """
    counter = Metrics.counter(stage, "msec")

    def decorate(process: Callable[..., Any]) -> Callable[..., Iterator[Any]]:
        @functools.wraps(process)
        def wrapper(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
            start = time.perf_counter()
            outputs = process(self, *args, **kwargs)
            spent = time.perf_counter() - start
            if outputs is not None:
                outputs = iter(outputs)
                while True:
                    start = time.perf_counter()
                    try:
                        out = next(outputs)
                    except StopIteration:
                        spent += time.perf_counter() - start
                        break
                    spent += time.perf_counter() - start
                    yield out
            total = getattr(self, _RESIDUE, 0.0) + spent
            whole = int(total * 1000)
            if whole:
                counter.inc(whole)
            setattr(self, _RESIDUE, total - whole / 1000)

        return wrapper

    return decorate
