"""A million tiny items (target P11): ``wb.run(tiny, range(N), backend="process_map",
workers=2, view="none")``, every per-item record kept (and the journal on, as by default),
against the best raw row, ``ProcessPoolExecutor(2).map(tiny, range(N), chunksize=N // 8)``
on the same warm pool; both timed around the whole call, results checked against the serial
loop. Then the figures of that run (P12): ``run.plot_timeline()`` and ``run.plot_resources()``,
each drawn and rendered to PNG (what a notebook shows), timed whole.

N is 1,000,000 (``--quick``: 200,000)."""

from __future__ import annotations

import io
import statistics
import time
from typing import Any

import workbench as wb
from workbench.examples import tiny

from .harness import Variant
from .raw import CHUNKED
from .workloads import Workload

SIZES = {"full": 1_000_000, "quick": 200_000}


def workload(mode: str) -> Workload:
    n = SIZES[mode]
    return Workload("million", f"tiny x {n:,}: a record per item against raw chunked map",
                    tiny, list(range(n)))


def variants(r: Any) -> list[Variant]:
    """The raw chunked map (as the issue measured it) and workbench's process_map."""
    return [Variant("serial loop", "serial", "raw", _serial),
            Variant(CHUNKED["process_map"], "process_map", "raw", r.ppe_map),
            Variant("wb process_map", "process_map", "workbench", _workbench)]


def _serial(w: Workload) -> tuple[list[Any], dict]:
    return [w.fn(x) for x in w.items], {}


_last: dict[str, Any] = {}


def _workbench(w: Workload) -> tuple[list[Any], dict]:
    run = wb.run(w.fn, w.items, backend="process_map", workers=2, view="none")
    if run.done != len(w.items) or not run.ok:
        raise AssertionError(f"{run.done} records for {len(w.items)} items: {run!r}")
    _last["run"] = run
    return run.results, {"records": run.done, "run_wall_s": run.wall_time,
                         "chunks": len(run.chunk_sizes)}


def figures() -> dict[str, Any]:
    """Seconds to draw and render each figure of the last workbench run, median of 3."""
    run = _last.pop("run", None)
    if run is None:
        return {"error": "no workbench run of the million items finished"}
    found: dict[str, Any] = {"tasks": run.done, "samples": len(run.resources)}
    for name, draw in (("timeline", run.plot_timeline), ("resources", run.plot_resources)):
        times = []
        for _ in range(3):
            began = time.perf_counter()
            draw().savefig(io.BytesIO(), format="png", dpi=100)
            times.append(time.perf_counter() - began)
        found[name] = statistics.median(times)
    return found
