"""Start-up of workbench's backends (target P5), measured apart from the workloads.

* ``process_map``: ``wb.shutdown("process_map")``, then the time from the call to the first
  task event an observer sees (cross-checked with the earliest ``received`` of the records).
  The first cold call of the process also starts multiprocessing's forkserver.
* Dask and Ray: the whole time of a first (cold) call of 10 tasks, and of the warm calls of
  one task that follow it (what a second run costs, start-up or not), with the runs' own
  ``startup_time`` beside them.

Every run's results are checked; a run that raises or returns wrong results is recorded
(``crashed`` / ``same_results``), not timed on.
"""

from __future__ import annotations

import statistics
import time
import traceback
from typing import Any

import workbench as wb
from workbench.events import TasksFinished
from workbench.examples import tiny

WORKERS = 2


def guarded(measure: Any, *args: Any) -> dict[str, Any]:
    """``measure(*args)``, or ``{"crashed": why}`` if it raised."""
    try:
        return measure(*args)
    except Exception as exc:  # noqa: BLE001 - a crash is a finding, not the end of the suite
        traceback.print_exc(limit=3)
        return {"crashed": f"{type(exc).__name__}: {exc}"[:200]}


def _right(run: wb.Run, n: int) -> bool:
    return run.results == [tiny(x) for x in range(n)]


def process_map_cold(repeats: int) -> dict[str, Any]:
    right = True
    firsts, received, startups = [], [], []
    for _ in range(repeats):
        wb.shutdown("process_map")
        seen: list[float] = []

        def observer(event: Any) -> None:  # used within this pass of the loop only
            if not seen and isinstance(event, TasksFinished):  # noqa: B023
                seen.append(time.time())  # noqa: B023

        called = time.time()
        run = wb.run(tiny, range(100), backend="process_map", workers=WORKERS, view="none",
                     observers=[observer])
        firsts.append(seen[0] - called)
        received.append(min(t.received for t in run.tasks) - called)
        startups.append(run.startup_time)
        right = right and _right(run, 100)
    return {"first_result_s": firsts, "first_result_median_s": statistics.median(firsts),
            "first_in_process_s": firsts[0], "earliest_received_s": received,
            "startup_time_s": startups, "same_results": right}


def warm_second_run(backend: str, repeats: int) -> dict[str, Any]:
    """A cold call on ``backend`` (shut down first, so it is cold), then ``repeats`` warm calls
    of one task; every call timed whole."""
    wb.shutdown(backend)
    began = time.perf_counter()
    first = wb.run(tiny, range(10), backend=backend, workers=WORKERS, view="none")
    cold = time.perf_counter() - began
    warm, startups, right = [], [], _right(first, 10)
    for _ in range(repeats):
        began = time.perf_counter()
        again = wb.run(tiny, range(1), backend=backend, workers=WORKERS, view="none")
        warm.append(time.perf_counter() - began)
        startups.append(again.startup_time)
        right = right and _right(again, 1)
    return {"first_call_s": cold, "first_startup_s": first.startup_time,
            "second_call_s": warm[0], "warm_calls_s": warm,
            "warm_call_median_s": statistics.median(warm), "second_startup_s": startups[0],
            "ratio": statistics.median(warm) / cold, "same_results": right}
