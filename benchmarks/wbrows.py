"""The workbench rows: ``wb.run(fn, items, backend=..., workers=2, chunksize="auto",
view="none")``, timed around the whole call, per-item records kept (and counted)."""

from __future__ import annotations

import inspect
from typing import Any

import workbench as wb

from .harness import Variant
from .workloads import Workload

WORKERS = 2


def has_shared() -> bool:
    """Whether this workbench's ``run`` takes ``shared=`` (it is being added)."""
    return "shared" in inspect.signature(wb.run).parameters


def run_workload(w: Workload, backend: str, **options: Any) -> wb.Run:
    items = w.wb_items if w.wb_items is not None else w.items
    star = w.wb_star if w.wb_star is not None else w.star
    kwargs = {"workers": WORKERS, "chunksize": "auto", "star": star, "view": "none",
              **w.wb_options, **options}
    return wb.run(w.fn, items, backend=backend, **kwargs)


def variants(backends: list[str], workload: Workload) -> list[Variant]:
    skip = None
    if "shared" in workload.wb_options and not has_shared():
        skip = "not available: wb.run has no shared= argument yet"
    return [Variant(f"wb {b}", b, "workbench", _caller(b), skip=skip) for b in backends]


def _caller(backend: str):
    def call(w: Workload) -> tuple[list[Any], dict]:
        run = run_workload(w, backend)
        n = len(w.wb_items if w.wb_items is not None else w.items)
        if run.done != n:
            raise AssertionError(f"{run.done} records for {n} items")
        return run.results, {"records": run.done, "run_wall_s": run.wall_time,
                             "backend": run.backend, "reason": getattr(run, "reason", None),
                             "startup_s": run.startup_time, "chunks": len(run.chunk_sizes),
                             "ok": run.ok}
    return call
