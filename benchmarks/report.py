"""Markdown tables for the terminal and one JSON file with every raw number."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .harness import Measurement
from .targets import INFO, Target


def _s(value: float | None) -> str:
    """Seconds with 3 significant digits (tiny times stay readable)."""
    if value is None:
        return "—"
    return f"{value:.3g}" if value < 1000 else f"{value:.0f}"


def _x(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}x"


def table(rows: list[list[str]], head: list[str]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def workload_table(title: str, ms: dict[str, Measurement]) -> str:
    """One row per variant: median time, spread, speed-up vs the serial loop, and for a
    workbench row its ratio to the best raw row on the same backend (> 1: workbench faster)."""
    serial = ms["serial loop"].median if "serial loop" in ms else None
    rows = []
    for m in ms.values():
        t = m.median
        vs_raw = "—"
        if m.kind == "workbench" and t:
            raws = [r.median for r in ms.values() if r.kind == "raw" and
                    r.backend == m.backend and r.median and r.same_results is not False]
            vs_raw = _x(min(raws) / t) if raws else "—"
        spread = f"{_s(min(m.times))}–{_s(max(m.times))}" if m.times else "—"
        same = {True: "yes", False: "**NO**", None: "—"}[m.same_results]
        rows.append([m.variant, _s(t), spread, _x(serial / t if serial and t else None),
                     vs_raw, same, m.note])
    head = ["variant", "median s", "min–max s", "speed-up vs serial loop",
            "best raw same backend / this", "same results", "note"]
    return f"### {title}\n\n" + table(rows, head)


def startup_table(startup: dict[str, Any]) -> str:
    rows = [[f"raw {k}", _s(v), "cold, to the first result"]
            for k, v in startup.get("raw", {}).items()]
    for b in ("process_map", "dask", "ray"):
        if "crashed" in startup.get(b, {}):
            rows.append([f"wb {b}", "—", f"crashed: {startup[b]['crashed']}"])
    pm = startup.get("process_map")
    if pm and "crashed" not in pm:
        rows.append(["wb process_map", _s(pm["first_result_median_s"]),
                     f"cold call to first result, median of {len(pm['first_result_s'])}; "
                     f"first in process {pm['first_in_process_s']:.3f} s; startup_time "
                     f"{_s(min(pm['startup_time_s']))}–{_s(max(pm['startup_time_s']))} s"])
    for b in ("dask", "ray"):
        s = startup.get(b)
        if s and "crashed" not in s:
            rows.append([f"wb {b}", _s(s["first_call_s"]),
                         f"whole cold call of 10 tasks (its startup_time "
                         f"{s['first_startup_s']:.3f} s); warm 1-task calls "
                         f"{_s(min(s['warm_calls_s']))}–{_s(max(s['warm_calls_s']))} s "
                         f"(second run's startup_time {s['second_startup_s']:.3f} s)"])
    return "### start-up (s)\n\n" + table(rows, ["what", "s", "how"])


def _figure(t: Target) -> str:
    if t.figure is None:
        return "—"
    if t.unit == "x":
        return f"{t.figure:.2f}x"
    if t.unit == "%":
        return f"{t.figure:+.1f}%"
    if t.unit == "s":
        return f"{t.figure:.3f} s"
    if t.unit == "µs":
        return f"{t.figure:.1f} µs"
    return f"{t.figure:.0f} B"


def targets_table(targets: list[Target]) -> str:
    met = {True: "yes", False: "**no**", None: "n/a"}
    rows = [[t.id, t.what, _figure(t), t.goal, "—" if t.goal == INFO else met[t.met],
             t.note] for t in targets]
    return "### targets\n\n" + table(rows, ["id", "figure of", "figure", "target", "met",
                                             "note"])


def write_json(path: Path, meta: dict[str, Any], startup: dict[str, Any],
               results: dict[str, dict[str, Measurement]], overhead: dict[str, Measurement],
               memory: dict[str, Any], targets: list[Target]) -> None:
    data = {
        "meta": meta,
        "startup": startup,
        "workloads": {w: [m.as_json() for m in ms.values()] for w, ms in results.items()},
        "panel_overhead": [m.as_json() for m in overhead.values()],
        "memory": memory,
        "targets": [t.as_json() for t in targets],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")
