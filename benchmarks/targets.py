"""The targets (P1-P7), computed from the measured medians. A target whose figure could not
be measured (a variant skipped or failed, a backend left out) is shown with ``met = n/a``."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .harness import Measurement

Results = dict[str, dict[str, Measurement]]


@dataclass
class Target:
    id: str
    what: str
    figure: float | None
    unit: str  # "x", "%", "s", "B"
    goal: str
    met: bool | None
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _median(results: Results, workload: str, variant: str) -> float | None:
    m = results.get(workload, {}).get(variant)
    return m.median if m is not None else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _check(value: float | None, ok: Callable[[float], bool]) -> bool | None:
    return None if value is None else bool(ok(value))


def _why_missing(results: Results, workload: str, *variants: str) -> str:
    notes = []
    for v in variants:
        m = results.get(workload, {}).get(v)
        if m is None:
            notes.append(f"{v}: not run")
        elif m.median is None:
            notes.append(f"{v}: {m.note or 'no time'}")
    return "; ".join(notes)


def compute(results: Results, startup: dict[str, Any], memory: dict[str, Any],
            overhead: dict[str, Measurement], backends: list[str]) -> list[Target]:
    out: list[Target] = []
    parallel = [b for b in ("process_map", "dask", "ray") if b in backends]
    raw_per_item = {"process_map": "tqdm process_map", "dask": "Dask client.map",
                    "ray": "Ray f.remote"}

    # P1: tiny tasks, chunksize="auto", every record kept
    for b in parallel:
        raw, mine = raw_per_item[b], f"wb {b}"
        goal = 15 if b == "process_map" else 40
        figure = _ratio(_median(results, "tiny", raw), _median(results, "tiny", mine))
        m = results.get("tiny", {}).get(mine)
        records = {e.get("records") for e in m.extra} if m else set()
        note = _why_missing(results, "tiny", raw, mine) or f"records per run: {sorted(records)}"
        out.append(Target(f"P1 {b}", f"tiny: {raw} time / wb {b} time", figure, "x",
                          f">= {goal}x", _check(figure, lambda v, g=goal: v >= g), note))

    # P2: numpy pi, speed-up vs the serial loop, against the raw backend's own best
    serial = _median(results, "pi", "serial loop")
    bests = {"serial": ["serial loop"],
             "process_map": ["PPE map chunked", "PPE submit", "tqdm process_map"],
             "dask": ["Dask client.map"], "ray": ["Ray f.remote"]}
    for b in ["serial", *parallel]:
        times = {v: _median(results, "pi", v) for v in bests[b]}
        times = {v: t for v, t in times.items() if t}
        best = min(times, key=times.get) if times else None
        mine = _median(results, "pi", f"wb {b}")
        figure = _ratio(times.get(best), mine)
        note = (f"wb speed-up {_ratio(serial, mine):.2f}x, raw best ({best}) "
                f"{_ratio(serial, times[best]):.2f}x" if figure and serial else
                _why_missing(results, "pi", f"wb {b}", *bests[b]))
        out.append(Target(f"P2 {b}", f"pi: wb {b} speed-up / raw best speed-up", figure,
                          "x", ">= 0.95x", _check(figure, lambda v: v >= 0.95), note))

    # P3: skewed with the heavy tasks last, against per-item dispatch
    if "process_map" in parallel:
        figure = _ratio(_median(results, "skewed_last", "wb process_map"),
                        _median(results, "skewed_last", "PPE submit"))
        out.append(Target("P3 process_map", "skewed, heavy last: wb process_map time / "
                          "PPE submit time", figure, "x", "<= 1.10x",
                          _check(figure, lambda v: v <= 1.10),
                          _why_missing(results, "skewed_last", "wb process_map", "PPE submit")))
    for b in ("dask", "ray"):
        if b in parallel:
            figure = _ratio(_median(results, "skewed_last", f"wb {b}"),
                            _median(results, "skewed_last", raw_per_item[b]))
            out.append(Target(f"P3 {b} (info)", f"skewed, heavy last: wb {b} / "
                              f"{raw_per_item[b]}", figure, "x", "<= 1.10x",
                              _check(figure, lambda v: v <= 1.10),
                              _why_missing(results, "skewed_last", f"wb {b}", raw_per_item[b])
                              or "for information: the P3 bar against per-item raw"))

    # P4: a large object every task needs
    raw_shared = {"process_map": "PPE submit", "dask": "Dask client.map", "ray": "Ray f.remote"}
    for b in parallel:
        figure = _ratio(_median(results, "shared", raw_shared[b]),
                        _median(results, "shared", f"wb {b}"))
        out.append(Target(f"P4 {b}", f"shared array: {raw_shared[b]} (per-task pickling) / "
                          f"wb {b} shared=", figure, "x", ">= 10x",
                          _check(figure, lambda v: v >= 10),
                          _why_missing(results, "shared", raw_shared[b], f"wb {b}")))

    # P5: start-up paid once
    for b in ("dask", "ray"):
        s = startup.get(b)
        if s:
            figure = 100 * s["ratio"] if s["ratio"] is not None else None
            out.append(Target(f"P5 {b}", f"second run's startup_time / first's "
                              f"({s['first_startup_s']:.2f} s)", figure, "%", "<= 2%",
                              _check(figure, lambda v: v <= 2),
                              f"whole warm 1-task call: {s['second_call_s'] * 1000:.0f} ms"))
    s = startup.get("process_map")
    if s:
        out.append(Target("P5 process_map", "cold call to first result (median)",
                          s["first_result_median_s"], "s", "<= 0.5 s",
                          _check(s["first_result_median_s"], lambda v: v <= 0.5),
                          f"first cold call in the process (forkserver start included): "
                          f"{s['first_in_process_s']:.2f} s"))

    # P6: live panel + sampler
    bare, panel = (overhead.get(k) for k in ("bare", "panel"))
    if bare and panel and bare.median and panel.median:
        figure = 100 * (panel.median / bare.median - 1)
        live = [e["run_wall_s"] for e in panel.extra], [e["run_wall_s"] for e in bare.extra]
        live_fig = 100 * (statistics.median(live[0]) / statistics.median(live[1]) - 1)
        sampler = overhead.get("sampler")
        samp = 100 * (sampler.median / bare.median - 1) if sampler and sampler.median else None
        out.append(Target("P6 whole call", "pi, process_map: panel + sampler vs bare, whole "
                          "call", figure, "%", "<= 5%", _check(figure, lambda v: v <= 5),
                          f"sampler alone: {samp:+.1f}%" if samp is not None else ""))
        out.append(Target("P6 during run", "same, run.wall_time (dispatch loop only)",
                          live_fig, "%", "<= 5%", _check(live_fig, lambda v: v <= 5),
                          "excludes the figures drawn after the last task"))

    # P7: caller memory per quiet record
    for b, m in memory.items():
        out.append(Target(f"P7 {b}", f"caller memory per record ({m['records']:,} quiet tasks)",
                          m["bytes_per_record"], "B", "<= 1024 B",
                          _check(m["bytes_per_record"], lambda v: v <= 1024),
                          f"peak {m['peak_bytes_per_record']:.0f} B, RSS "
                          f"{m['rss_bytes_per_record']:.0f} B per record"))
    return out



def journal_costs(costs: dict[str, dict[str, Measurement]]) -> list[Target]:
    """P8: the journal against ``journal=False``, whole call, per workload and backend."""
    out = []
    for name, ms in costs.items():
        workload, backend = name.split()
        off, on, complete = (ms.get(f"{backend} {k}") for k in ("no journal", "journal",
                                                                 "complete"))
        if not (off and on and off.median and on.median) or off.same_results is False or \
                on.same_results is False:
            out.append(Target(f"P8 {name}", "journal vs journal=False, whole call", None, "%",
                              "", None, "failed or wrong results: a miss"))
            continue
        limit = 3.0 if workload == "tiny" else 1.0
        figure = 100 * (on.median / off.median - 1)
        after = (f"until the file is complete: {100 * (complete.median / off.median - 1):+.1f}%"
                 if complete and complete.median else "")
        out.append(Target(f"P8 {name}", "journal vs journal=False, whole call", figure, "%",
                          f"<= {limit:g}%", _check(figure, lambda v, m=limit: v <= m), after))
    return out


def joblib_search(ms: dict[str, Measurement]) -> list[Target]:
    """P9: the grid search through workbench against the backend's own joblib backend."""
    out = []
    for backend, raw in (("process_map", "joblib loky"), ("dask", "Dask joblib"),
                         ("ray", "Ray joblib")):
        ours, theirs = ms.get(f"workbench {backend}"), ms.get(raw)
        if ours is None:
            continue
        what = f"GridSearchCV, workbench {backend} / {raw}"
        if not (theirs and ours.median and theirs.median) or not (
                ours.same_results and theirs.same_results):
            out.append(Target(f"P9 {backend}", what, None, "x", "<= 1.10x", None,
                              "failed or scores differ from n_jobs=1: a miss"))
            continue
        ratio = ours.median / theirs.median
        out.append(Target(f"P9 {backend}", what, ratio, "x", "<= 1.10x",
                          _check(ratio, lambda v: v <= 1.10)))
    return out
