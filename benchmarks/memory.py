"""Caller memory per quiet task record (target P7): ``tracemalloc`` counts what the caller's
Python heap holds after a run of tiny tasks that print nothing, with the Run still alive
(records, results, the indexed items), divided by the number of records. The RSS growth of
the caller is kept too, as a coarser second opinion."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import psutil

import workbench as wb
from workbench.examples import tiny


def per_record(backend: str, n: int) -> dict[str, Any]:
    wb.run(tiny, range(8), backend=backend, workers=2, view="none")  # warm, imports done
    gc.collect()
    rss_before = psutil.Process().memory_info().rss
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run = wb.run(tiny, range(n), backend=backend, workers=2, view="none")
        gc.collect()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_after = psutil.Process().memory_info().rss
    records = len(run.tasks)
    ok = run.ok
    right = run.results == [tiny(x) for x in range(n)]
    del run
    return {"records": records, "ok": ok, "same_results": right,
            "bytes_per_record": (after - before) / records,
            "peak_bytes_per_record": (peak - before) / records,
            "rss_bytes_per_record": (rss_after - rss_before) / records}
