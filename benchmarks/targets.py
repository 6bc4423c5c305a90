"""The targets (P1-P9), computed from the measured medians. A target whose figure could not
be measured (a variant skipped, a raw row failed, a backend left out) is shown with
``met = n/a``; a workbench row that crashed or whose results differ from the serial loop makes
its target a miss (see :mod:`benchmarks.gates`). Rows marked ``info`` have no goal."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from . import gates as g
from . import rawshared
from .gates import Results
from .harness import Measurement
from .raw import CHUNKED

INFO = "info"
#: P1: what workbench adds per tiny task over hand-made chunks on the same warm backend, µs.
CHUNKED_GOAL = 20.0
#: P4: a large shared object, workbench's first send / the raw backend's best row.
SHARED_GOAL = 1.25
#: P5: a warm 1-task call / the cold first call, whole calls, in percent; and at most
#: WARM_MAX seconds (2% of a slow cold start, Ray's, would allow a slow warm call).
WARM_GOAL, WARM_MAX = 2.0, 0.1
#: P7: caller memory per quiet record, bytes (the Run, its items and its results).
MEMORY_GOAL = 200
#: P13: backend="auto" / the best workbench backend on each workload, and / wb serial on tiny.
AUTO_GOAL, AUTO_TINY_GOAL = 1.15, 1.10
#: P11: a million tiny items through workbench / the raw chunked map; P12: seconds per figure.
MILLION_GOAL, FIGURE_GOAL = 2.0, 1.0
PER_ITEM = {"process_map": "tqdm process_map", "dask": "Dask client.map", "ray": "Ray f.remote"}
PER_TASK = {"process_map": ["PPE submit", "PPE map chunked", "tqdm process_map"],
            "dask": ["Dask client.map"], "ray": ["Ray f.remote"]}
ONCE = {"process_map": rawshared.PPE, "dask": rawshared.DASK, "ray": rawshared.RAY}


@dataclass
class Target:
    id: str
    what: str
    figure: float | None
    unit: str  # "x", "%", "s", "B", "µs"
    goal: str
    met: bool | None
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def compute(results: Results, startup: dict[str, Any], memory: dict[str, Any],
            overhead: dict[str, Measurement], backends: list[str]) -> list[Target]:
    parallel = [b for b in ("process_map", "dask", "ray") if b in backends]
    return [*p1(results, parallel), *p2(results, parallel), *p3(results, parallel),
            *p4(results, parallel), *p5(startup), *p6(overhead), *p7(memory),
            *auto(results, parallel)]


def versus(results: Results, workload: str, tid: str, mine: str, top: str, bottom: str,
           goal: str, ok: Callable[[float], bool], info: str = "") -> Target:
    """figure = median ``top`` / median ``bottom``; ``mine`` (one of them) is the workbench
    row that gates the target."""
    figure = g.ratio(g.median(results, workload, top), g.median(results, workload, bottom))
    what = f"{workload}: {top} time / {bottom} time"
    flags = g.raw_flags(results, workload, [top, bottom])
    why = g.fault(g.get(results, workload, mine))
    if why:
        return Target(tid, what, figure, "x", goal, False, g.join(why, flags))
    note = info if figure is not None else g.why_missing(results, workload, top, bottom)
    return Target(tid, what, figure, "x", goal, g.check(figure, ok), g.join(note, flags))


def against_best(results: Results, workload: str, tid: str, what: str, mine: str,
                 raws: list[str], goal: str, ok: Callable[[float], bool], wb_first: bool,
                 describe: Callable[[str, float, float], str] | None = None) -> Target:
    """wb time / best raw time (``wb_first``) or the inverse; the best is the fastest raw row
    among ``raws`` whose results are right; ``describe(best, its time, wb time)`` notes."""
    name, theirs = g.best(results, workload, raws)
    ours = g.median(results, workload, mine)
    figure = g.ratio(ours, theirs) if wb_first else g.ratio(theirs, ours)
    flags = g.raw_flags(results, workload, raws, left_out=True)
    why = g.fault(g.get(results, workload, mine))
    if why:
        return Target(tid, what, figure, "x", goal, False, g.join(why, flags))
    if figure is None:
        note = g.why_missing(results, workload, mine, *raws)
    else:
        note = describe(name, theirs, ours) if describe else f"best raw: {name}"
    return Target(tid, what, figure, "x", goal, g.check(figure, ok), g.join(note, flags))


def p1(results: Results, parallel: list[str]) -> list[Target]:
    """Tiny tasks, chunksize="auto", every record kept: against the per-item rows users
    write, and against hand-made chunks on the same warm backend."""
    out = []
    for b in parallel:
        mine, goal = f"wb {b}", 15 if b == "process_map" else 40
        m = g.get(results, "tiny", mine)
        records = sorted({e.get("records") for e in m.extra}) if m else []
        out.append(versus(results, "tiny", f"P1 {b}", mine, PER_ITEM[b], mine, f">= {goal}x",
                          lambda v, goal=goal: v >= goal, f"records per run: {records}"))
        out.append(per_item(results, b, records[0] if records else None))
    return out


def per_item(results: Results, b: str, n: int | None) -> Target:
    """(wb time - hand-made chunks' time) / items, in µs: what a record per item, output
    capture and live progress cost over a raw map that keeps results only, both warm."""
    mine, raw = f"wb {b}", CHUNKED[b]
    ours, theirs = g.median(results, "tiny", mine), g.median(results, "tiny", raw)
    figure = 1e6 * (ours - theirs) / n if ours and theirs and n else None
    tid, what = f"P1 {b} vs raw chunked", f"tiny: (wb {b} - {raw}) time per item"
    flags = g.raw_flags(results, "tiny", [raw])
    why = g.fault(g.get(results, "tiny", mine))
    note = (why or (f"time ratio {ours / theirs:.2f}x ({ours:.3f} s / {theirs:.3f} s)"
                    if figure is not None else g.why_missing(results, "tiny", mine, raw)))
    return Target(tid, what, figure, "µs", f"<= {CHUNKED_GOAL:g} µs",
                  False if why else g.check(figure, lambda v: v <= CHUNKED_GOAL),
                  g.join(note, flags))


def p2(results: Results, parallel: list[str]) -> list[Target]:
    """numpy pi: workbench's speed-up over the serial loop against the raw backend's best."""
    serial = g.median(results, "pi", "serial loop")
    bests = {"serial": ["serial loop"],
             "process_map": [CHUNKED["process_map"], "PPE submit", "tqdm process_map"],
             "dask": [PER_ITEM["dask"], CHUNKED["dask"]],
             "ray": [PER_ITEM["ray"], CHUNKED["ray"]]}

    def describe(name: str, theirs: float, ours: float) -> str:
        if not serial:
            return f"best raw: {name}"
        return (f"wb speed-up {serial / ours:.2f}x, raw best ({name}) "
                f"{serial / theirs:.2f}x")

    return [against_best(results, "pi", f"P2 {b}", f"pi: wb {b} speed-up / raw best "
                         "speed-up", f"wb {b}", bests[b], ">= 0.95x", lambda v: v >= 0.95,
                         wb_first=False, describe=describe) for b in ["serial", *parallel]]


def p3(results: Results, parallel: list[str]) -> list[Target]:
    """Skewed with the heavy tasks last, against per-item dispatch."""
    out = []
    if "process_map" in parallel:
        out.append(versus(results, "skewed_last", "P3 process_map", "wb process_map",
                          "wb process_map", "PPE submit", "<= 1.10x", lambda v: v <= 1.10))
    for b in ("dask", "ray"):
        if b in parallel:
            t = versus(results, "skewed_last", f"P3 {b} (info)", f"wb {b}", f"wb {b}",
                       PER_ITEM[b], "<= 1.10x", lambda v: v <= 1.10,
                       "for information: the P3 bar against per-item raw")
            out.append(t)
    return out


def p4(results: Results, parallel: list[str]) -> list[Target]:
    """A large object every task needs: workbench's first send of it (``shared=``) against
    the backend's best raw row (its once-per-call practice, or per-task pickling if that is
    faster), and, for information, against per-task pickling."""
    out = []
    for b in parallel:
        mine = f"wb {b}"
        out.append(against_best(results, "shared", f"P4 {b}", f"shared array: wb {b} "
                                "shared= time / best raw time", mine, [*PER_TASK[b], ONCE[b]],
                                f"<= {SHARED_GOAL:g}x", lambda v: v <= SHARED_GOAL,
                                wb_first=True))
        name, theirs = g.best(results, "shared", PER_TASK[b])
        figure = g.ratio(theirs, g.median(results, "shared", mine))
        out.append(Target(f"P4 {b} (info)", f"shared array: best per-task pickling row / "
                          f"wb {b}", figure, "x", INFO, None,
                          f"per-task row: {name}" if figure else
                          g.why_missing(results, "shared", mine, *PER_TASK[b])))
    return out


def p5(startup: dict[str, Any]) -> list[Target]:
    """Start-up paid once: a warm call against the cold one, whole calls (Dask, Ray); the
    first result of a cold process_map call."""
    out = []
    for b in ("dask", "ray"):
        s = startup.get(b)
        if not s:
            continue
        why = g.fault_of(s)
        figure = 100 * s["ratio"] if "ratio" in s else None
        note = why or (f"warm {1000 * s['warm_call_median_s']:.0f} ms (median of "
                       f"{len(s['warm_calls_s'])}), cold {s['first_call_s']:.2f} s; "
                       f"startup_time {s['first_startup_s']:.2f} s, then "
                       f"{s['second_startup_s']:.3f} s")
        warm = s.get("warm_call_median_s")
        met = False if why else g.check(
            figure, lambda v, warm=warm: v <= WARM_GOAL and warm <= WARM_MAX)
        out.append(Target(f"P5 {b}", "warm 1-task call / cold first call, whole calls",
                          figure, "%", f"<= {WARM_GOAL:g}% and <= {WARM_MAX:g} s", met, note))
    s = startup.get("process_map")
    if s:
        why = g.fault_of(s)
        figure = s.get("first_result_median_s")
        out.append(Target("P5 process_map", "cold call to first result (median)", figure, "s",
                          "<= 0.5 s", False if why else g.check(figure, lambda v: v <= 0.5),
                          why or f"first cold call in the process (forkserver start "
                          f"included): {s['first_in_process_s']:.2f} s"))
    return out


def p6(overhead: dict[str, Measurement]) -> list[Target]:
    """The live panel + sampler, against view="none" with the sampler off."""
    bare, panel, sampler = (overhead.get(k) for k in ("bare", "panel", "sampler"))
    why = g.faults([bare, panel, sampler])
    if why:
        return [Target("P6 whole call", "pi, process_map: panel + sampler vs bare", None, "%",
                       "<= 5%", False, why)]
    if not (bare and panel and bare.median and panel.median):
        return []
    figure = 100 * (panel.median / bare.median - 1)
    live = [e["run_wall_s"] for e in panel.extra], [e["run_wall_s"] for e in bare.extra]
    live_fig = 100 * (statistics.median(live[0]) / statistics.median(live[1]) - 1)
    samp = 100 * (sampler.median / bare.median - 1) if sampler and sampler.median else None
    return [Target("P6 whole call", "pi, process_map: panel + sampler vs bare, whole call",
                   figure, "%", "<= 5%", g.check(figure, lambda v: v <= 5),
                   f"sampler alone: {samp:+.1f}%" if samp is not None else ""),
            Target("P6 during run", "same, run.wall_time (dispatch loop only)", live_fig, "%",
                   "<= 5%", g.check(live_fig, lambda v: v <= 5),
                   "excludes the figures drawn after the last task")]


def p7(memory: dict[str, Any]) -> list[Target]:
    """Caller memory per quiet record."""
    out = []
    for b, m in memory.items():
        why = g.fault_of(m)
        if why:
            out.append(Target(f"P7 {b}", "caller memory per record", None, "B",
                              f"<= {MEMORY_GOAL} B", False, why))
            continue
        out.append(Target(f"P7 {b}", f"caller memory per record ({m['records']:,} quiet tasks)",
                          m["bytes_per_record"], "B", f"<= {MEMORY_GOAL} B",
                          g.check(m["bytes_per_record"], lambda v: v <= MEMORY_GOAL),
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
        limit = 3.0 if workload == "tiny" else 1.0
        what, goal = "journal vs journal=False, whole call", f"<= {limit:g}%"
        why = g.faults([off, on, complete])
        if why or not (off and on and off.median and on.median):
            out.append(Target(f"P8 {name}", what, None, "%", goal, False if why else None,
                              why or "not measured"))
            continue
        figure = 100 * (on.median / off.median - 1)
        after = (f"until the file is complete: {100 * (complete.median / off.median - 1):+.1f}%"
                 if complete and complete.median else "")
        out.append(Target(f"P8 {name}", what, figure, "%", goal,
                          g.check(figure, lambda v, m=limit: v <= m), after))
    return out


def live_costs(costs: dict[str, dict[str, Measurement]]) -> list[Target]:
    """P10: live output against ``live=False``, whole call, per workload and backend."""
    out = []
    for name, ms in costs.items():
        workload, backend = name.split()
        off, on = ms.get(f"{backend} live off"), ms.get(f"{backend} live")
        limit = 2.0 if workload == "pi_chatty" else 1.0
        what, goal = "live output vs live=False, whole call", f"<= {limit:g}%"
        why = g.faults([off, on])
        if why or not (off and on and off.median and on.median):
            out.append(Target(f"P10 {name}", what, None, "%", goal, False if why else None,
                              why or "not measured"))
            continue
        figure = 100 * (on.median / off.median - 1)
        out.append(Target(f"P10 {name}", what, figure, "%", goal,
                          g.check(figure, lambda v, m=limit: v <= m), ""))
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
        why = g.fault(ours)
        flag = g.fault(theirs) if theirs else "not run"
        ratio = g.ratio(ours.median, theirs.median if theirs else None)
        if why or flag:
            out.append(Target(f"P9 {backend}", what, ratio, "x", "<= 1.10x",
                              False if why else None,
                              g.join(why and f"scores vs n_jobs=1: {why}",
                                     flag and f"raw {raw}: {flag}")))
            continue
        out.append(Target(f"P9 {backend}", what, ratio, "x", "<= 1.10x",
                          g.check(ratio, lambda v: v <= 1.10)))
    return out


def million(ms: dict[str, Measurement], figures: dict[str, Any]) -> list[Target]:
    """P11: a million tiny items against the raw chunked map; P12: their figures."""
    if not ms:
        return []
    results = {"million": ms}
    out = [versus(results, "million", "P11", "wb process_map", "wb process_map",
                  CHUNKED["process_map"], f"<= {MILLION_GOAL:g}x",
                  lambda v: v <= MILLION_GOAL)]
    for name in ("timeline", "resources"):
        figure = figures.get(name)
        out.append(Target(f"P12 {name}", f"plot_{name}() of {figures.get('tasks', 0):,} "
                          "tasks, drawn and rendered to PNG", figure, "s",
                          f"<= {FIGURE_GOAL:g} s", g.check(figure, lambda v: v <= FIGURE_GOAL),
                          figures.get("error", "")))
    return out


def auto(results: Results, parallel: list[str]) -> list[Target]:
    """P13: ``backend="auto"`` against the best backend measured in the same run (every row
    warm, as all are here: auto never starts a cluster, and the rows it weighs pay no
    start-up either), on every workload; and against ``serial`` on tiny tasks."""
    out = []
    rows = [f"wb {b}" for b in ("serial", *parallel)]
    for workload in results:
        mine = g.get(results, workload, "wb auto")
        if mine is None:
            continue
        name, theirs = g.best(results, workload, rows)
        figure = g.ratio(mine.median, theirs)
        why = g.fault(mine)
        chose = sorted({e.get("backend", "?") for e in mine.extra})
        note = g.join(why, f"best: {name}; auto ran on {', '.join(chose)}" if name else
                      g.why_missing(results, workload, "wb auto", *rows))
        out.append(Target(f"P13 {workload}", f"{workload}: wb auto / the best wb backend",
                          figure, "x", f"<= {AUTO_GOAL:g}x", False if why else
                          g.check(figure, lambda v: v <= AUTO_GOAL), note))
        if workload == "tiny":
            figure = g.ratio(mine.median, g.median(results, workload, "wb serial"))
            out.append(Target("P13 tiny vs serial", "tiny: wb auto / wb serial", figure, "x",
                              f"<= {AUTO_TINY_GOAL:g}x", False if why else
                              g.check(figure, lambda v: v <= AUTO_TINY_GOAL), why or ""))
    return out
