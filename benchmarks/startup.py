"""Start-up of workbench's backends (target P5), measured apart from the workloads.

* ``process_map``: ``wb.shutdown("process_map")``, then the time from the call to the first
  task event an observer sees (cross-checked with the earliest ``received`` of the records).
  The first cold call of the process also starts multiprocessing's forkserver.
* Dask and Ray: ``run.startup_time`` of a first (cold) and a second (warm) run, and the whole
  time of that warm second call of one task.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import workbench as wb
from workbench.events import TasksFinished
from workbench.examples import tiny

WORKERS = 2


def process_map_cold(repeats: int) -> dict[str, Any]:
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
    return {"first_result_s": firsts, "first_result_median_s": statistics.median(firsts),
            "first_in_process_s": firsts[0], "earliest_received_s": received,
            "startup_time_s": startups}


def warm_second_run(backend: str) -> dict[str, Any]:
    """A cold run then a warm one on ``backend`` (shut down first, so the first is cold)."""
    wb.shutdown(backend)
    first = wb.run(tiny, range(10), backend=backend, workers=WORKERS, view="none")
    began = time.perf_counter()
    second = wb.run(tiny, range(1), backend=backend, workers=WORKERS, view="none")
    call = time.perf_counter() - began
    return {"first_startup_s": first.startup_time, "second_startup_s": second.startup_time,
            "second_call_s": call,
            "ratio": second.startup_time / first.startup_time if first.startup_time else None}
