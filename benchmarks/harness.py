"""Timing: every variant of a workload once per repetition, in a rotating order (so no variant
always runs first or right after a heavy one), after one small untimed warm-up each; and the
check that every variant's results equal the serial reference's."""

from __future__ import annotations

import dataclasses
import gc
import math
import statistics
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .workloads import Workload


@dataclass
class Variant:
    """One way to run a workload. ``call(workload)`` returns ``(results, extra)``, where
    ``extra`` is a dict of anything worth keeping (e.g. the Run's own wall time)."""

    name: str
    backend: str  # serial, process_map, dask, ray
    kind: str  # "raw" or "workbench"
    call: Callable[[Workload], tuple[list[Any], dict[str, Any]]]
    skip: str | None = None  # why it cannot run here (then it is shown, not timed)


@dataclass
class Measurement:
    variant: str
    backend: str
    kind: str
    times: list[float] = field(default_factory=list)
    extra: list[dict[str, Any]] = field(default_factory=list)
    same_results: bool | None = None
    note: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    def as_json(self) -> dict[str, Any]:
        return {"variant": self.variant, "backend": self.backend, "kind": self.kind,
                "median_s": self.median, "times_s": self.times, "extra": self.extra,
                "same_results": self.same_results, "note": self.note}


def _warm_subset(workload: Workload, k: int = 4) -> Workload:
    wb_items = workload.wb_items[:k] if workload.wb_items is not None else None
    return dataclasses.replace(workload, items=workload.items[:k], wb_items=wb_items)


def measure(workload: Workload, variants: list[Variant], repeats: int,
            reference: str | None = "serial loop", log: Callable[[str], None] = print,
            expected: list[Any] | None = None) -> dict[str, Measurement]:
    """Median-able times of every variant; the results of each one's last repetition are
    checked against ``expected`` if given, else against ``reference``'s of that repetition."""
    out = {v.name: Measurement(v.name, v.backend, v.kind, note=v.skip or "") for v in variants}
    live = [v for v in variants if v.skip is None]
    last: dict[str, list[Any]] = {}
    small = _warm_subset(workload)
    for v in live:
        try:
            v.call(small)
        except Exception as exc:  # noqa: BLE001 - one broken variant must not stop the suite
            _fail(out[v.name], exc, log)
    for rep in range(repeats):
        if workload.fresh is not None:
            workload.fresh(rep)
        shift = rep % len(live) if live else 0
        for v in live[shift:] + live[:shift]:
            m = out[v.name]
            if m.note.startswith("failed"):
                continue
            gc.collect()
            began = time.perf_counter()
            try:
                results, extra = v.call(workload)
            except Exception as exc:  # noqa: BLE001
                _fail(m, exc, log)
                continue
            m.times.append(time.perf_counter() - began)
            m.extra.append(extra)
            last[v.name] = results
            del results
        log(f"  {workload.name}: repetition {rep + 1}/{repeats} done")
    ref = expected if expected is not None else last.get(reference) if reference else None
    for name, results in last.items():
        out[name].same_results = None if ref is None else same(results, ref)
    return out


def same(a: list[Any], b: list[Any]) -> bool:
    """Equal item by item; floats up to rounding (numpy sums of one array may differ in the
    last digit with the array's alignment in memory, e.g. after a trip through Dask)."""
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=1e-12) if isinstance(x, float) and isinstance(y, float)
        else x == y for x, y in zip(a, b))


def _fail(m: Measurement, exc: BaseException, log: Callable[[str], None]) -> None:
    m.note = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    m.times.clear()
    log(f"  {m.variant}: {m.note}\n{traceback.format_exc(limit=3)}")
