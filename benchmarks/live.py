"""Cost of live output (target P10): the same workbench call with ``live=False`` and with
live output on (the default), interleaved, per backend, on numpy pi with quiet tasks and on
numpy pi whose every task prints a line about every millisecond (``calc_chunk_printing``).
"""

from __future__ import annotations

from typing import Any

from workbench import examples

from .harness import Variant
from .wbrows import run_workload
from .workloads import Workload

#: The live section's pi is this many times the other sections' (a 1 % cost is lost in the
#: noise of a call under a few seconds on this 2-core machine: +-7 % was seen at 0.3 s).
LONGER = 5


def longer(pi: Workload) -> Workload:
    """``pi`` with :data:`LONGER` times the points per task."""
    n = pi.items[0][0] * LONGER
    return Workload("pi", f"numpy pi: {len(pi.items)} x calc_chunk(n={n:,}, i)", pi.fn,
                    [(n, i) for _, i in pi.items], star=True)


def chatty(pi: Workload) -> Workload:
    """``pi``'s items, each task printing a line about every millisecond."""
    n = pi.items[0][0]
    return Workload("pi_chatty", f"numpy pi printing a line per ~1 ms: {len(pi.items)} x "
                    f"calc_chunk_printing(n={n:,}, i)", examples.calc_chunk_printing,
                    pi.items, star=True)


def variants(backend: str) -> list[Variant]:
    return [Variant(f"{backend} live off", backend, "workbench", _call(backend, False)),
            Variant(f"{backend} live", backend, "workbench", _call(backend, True))]


def _call(backend: str, live: bool):
    def call(w: Workload) -> tuple[list[Any], dict]:
        run = run_workload(w, backend, live=live)
        if len(run.tasks) != len(w.items):
            raise AssertionError(f"{len(run.tasks)} records for {len(w.items)} items")
        return run.results, {"run_wall_s": run.wall_time}
    return call
