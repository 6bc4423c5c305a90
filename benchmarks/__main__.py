"""``python -m benchmarks [--quick] [--json PATH]``: workbench against the raw backends it wraps.

Every workload runs through workbench (``wb.run(fn, items, backend=B, workers=2,
chunksize="auto", view="none")``, per-item records kept) and through the raw backends, in this
one process: the raw backends and workbench's own are started once and kept warm (start-up is
measured apart), and within a workload every variant runs once per repetition in a rotating
order after a small untimed warm-up. Figures are medians of the repetitions (5, or 3 with
``--quick``), timed around the whole call.

Raw rows (see ``benchmarks/raw.py``): a serial loop; tqdm ``process_map`` with its defaults;
``ProcessPoolExecutor`` ``submit`` per item and ``map`` with ``chunksize = ceil(n / (4 *
workers))``; Dask ``client.map`` per item on a ``LocalCluster(n_workers=2,
threads_per_worker=1, processes=True)``; Ray ``f.remote`` per item (``num_cpus=2``); Dask and
Ray over hand-made chunks (``4 * workers`` lists, one task each). For ``shared``, each
backend's best practice instead of the Dask and Ray chunks (``benchmarks/rawshared.py``).
Every row's results are checked against the serial loop's.

Workloads (functions from ``workbench.examples``; sizes in ``benchmarks/workloads.py``):

* ``tiny``: ``x + 1`` over 10,000 items: the cost of dispatching and recording one task.
* ``pi``: numpy Monte Carlo pi, 20 x ``calc_chunk(n=2_000_000, i)``: CPU-bound numpy.
* ``skewed``: 40 x ``burn`` (busy pure-Python loop, ~20 ms), every 10th 10x heavier;
  ``skewed_last``: the same with the heavy ones last (worst case for fixed chunks).
* ``sleepy``: 40 x ``time.sleep(0.05)``: tasks that wait.
* ``shared``: a 100 MB numpy array read by each of 10 tasks: per-task rows pass it as an
  argument of every task (pickled per task); workbench passes it as ``shared={"arr": arr}``;
  best practice sends it once per call: ``ProcessPoolExecutor(initializer=...)`` (a
  forkserver pool made in the call), Dask ``client.scatter(broadcast=True)``, Ray
  ``ray.put``. One element changes before each repetition, so every timed call (workbench's
  too) sends the array afresh: what is timed is the first send, never a warm cache.
* start-up (``benchmarks/startup.py``), the panel's cost (``benchmarks/overhead.py``) and
  caller memory per record over 100,000 quiet tasks (``benchmarks/memory.py``).

Targets (each row of the targets table: the figure, the target, met or not). A workbench
row that crashed or whose results differ from the serial loop's makes its target a miss; a
raw row that did is named in the note and never used as a baseline.

* P1 tiny: workbench ``process_map`` >= 15x faster than tqdm ``process_map`` defaults;
  workbench ``dask`` / ``ray`` >= 40x faster than per-item Dask / Ray; every record kept.
  Against hand-made chunks on the same warm backend (PPE ``map`` chunked, Dask / Ray
  chunks), workbench adds <= 20 µs per item (its record, output capture and progress).
* P2 pi: workbench's speed-up over the serial loop >= 0.95x the raw backend's own best
  (the best of PPE map chunked / submit and tqdm; of per-item and chunked Dask / Ray).
* P3 skewed, heavy last: workbench ``process_map`` within 10% of PPE ``submit`` per item
  (Dask and Ray against their per-item rows shown for information).
* P4 shared array: workbench's first send within 1.25x of the backend's best raw row
  (best practice or per-task pickling, whichever is faster); the ratio to per-task pickling
  is shown for information.
* P5 a warm 1-task call on Dask / Ray, whole, costs <= 2% of the cold first call and
  <= 0.1 s; a cold ``process_map`` call (after ``wb.shutdown("process_map")``) has its first
  result within 0.5 s.
* P6 the live widget panel plus the resource sampler cost <= 5% on pi (``process_map``),
  against ``view="none"`` with the sampler off; shown for the whole call and for the
  dispatch loop alone.
* P7 caller memory <= 200 B per quiet task record (``tracemalloc``; serial and process_map).
* P8 the journal (on by default) costs <= 3% on tiny and <= 1% on pi, against
  ``journal=False`` in the same run, per backend (``benchmarks/journal.py``); the time until
  the file holds every record is shown beside it. The benchmark journals to a temporary
  folder (``WORKBENCH_JOURNAL_DIR``), removed at the end.
* P10 live output (on by default) costs <= 2% on pi whose every task prints a line about
  every millisecond, and <= 1% on quiet pi, against ``live=False`` in the same run, per
  backend (``benchmarks/live.py``).
* P11 a million tiny items (``--quick``: 200,000) through workbench ``process_map``, every
  record kept and journaled, take at most 2x the raw chunked map (``ProcessPoolExecutor(2).map``
  with ``chunksize = N // 8``) on the same warm pool (``benchmarks/million.py``).
* P12 the timeline and the resources figure of that run are drawn and rendered to PNG in at
  most 1 s each.
* P13 ``backend="auto"`` (a ``wb auto`` row on every workload) within 15% of the best
  workbench backend of the same run, and within 10% of ``wb serial`` on tiny. Every row is
  warm here, as the backends auto weighs are (it never starts a cluster), so start-up is
  in neither side; auto's own probing is.
* P9 a scikit-learn ``GridSearchCV`` of 50 fits through workbench's joblib backend is
  within 10% of joblib's own default (loky) on ``process_map``, and of Dask's and Ray's own
  joblib backends on ``dask`` and ``ray``, with ``n_jobs=2`` (``benchmarks/joblib_search.py``).

``--quick`` (about two minutes here) keeps every workload and target but shrinks them: tiny
over 2,000 items (so fixed per-run costs weigh 5x more in P1 than at 10,000), pi with
n=400,000, a 4 ms skew base, 40 x 10 ms sleeps, a 20 MB shared array, 20,000 quiet tasks,
3 repetitions, and no timing of a raw Ray cold start (Ray's first start alone costs ~10 s).
``--only`` and ``--backends`` narrow a run down while developing.

The machine is shared: the load average before and after is printed and kept in the JSON.
Parallel figures on 2 cores move a lot when other jobs run; read them with that load.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import workbench as wb

from . import (
    joblib_search,
    journal,
    live,
    memory,
    million,
    overhead,
    raw,
    report,
    startup,
    targets,
    wbrows,
)
from .harness import Measurement, measure
from .workloads import SIZES, build, shared_workload

ALL_BACKENDS = ["process_map", "dask", "ray"]
SECTIONS = ["tiny", "pi", "skewed", "skewed_last", "sleepy", "shared", "overhead", "memory",
            "million", "journal", "live", "gridsearch"]
_t0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _t0:6.1f} s] {message}", file=sys.stderr, flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller sizes, 3 repetitions (~2 min)")
    p.add_argument("--json", type=Path, default=Path(__file__).parent / "results.json",
                   help="where to write every number (default: benchmarks/results.json)")
    p.add_argument("--repeats", type=int, default=None, help="repetitions (>= 3)")
    p.add_argument("--only", default=",".join(SECTIONS),
                   help=f"comma-separated sections (default all: {','.join(SECTIONS)})")
    p.add_argument("--backends", default=",".join(ALL_BACKENDS),
                   help="parallel backends to include (default process_map,dask,ray)")
    args = p.parse_args(argv)
    args.mode = "quick" if args.quick else "full"
    args.repeats = args.repeats or SIZES[args.mode]["repeats"]
    if args.repeats < 3:
        p.error("--repeats must be at least 3 (figures are medians)")
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    args.backends = [b for b in ALL_BACKENDS if b in args.backends.split(",")]
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s) {sorted(unknown)}: choose from {SECTIONS}")
    return args


def meta(args: argparse.Namespace) -> dict[str, Any]:
    import dask
    import ray
    import tqdm

    return {"when": datetime.datetime.now().isoformat(timespec="seconds"), "mode": args.mode,
            "repeats": args.repeats, "sizes": SIZES[args.mode], "cpus": os.cpu_count(),
            "python": platform.python_version(), "workbench": wb.__version__,
            "tqdm": tqdm.__version__, "dask": dask.__version__, "ray": ray.__version__,
            "shared_available": wbrows.has_shared(), "load_before": os.getloadavg(),
            "note": "other jobs (tests, notebooks) may share this machine: see the load"}


def start_everything(args: argparse.Namespace, r: raw.Raw) -> dict[str, Any]:
    """Start the raw backends and time every start-up; leaves them all warm."""
    found: dict[str, Any] = {}
    log("start: ProcessPoolExecutor (before any thread: it forks)")
    r.start_pool()
    if "process_map" in args.backends:
        r.time_tqdm_start()
        log("start: workbench process_map, cold calls")
        found["process_map"] = startup.guarded(startup.process_map_cold, args.repeats)
    if "dask" in args.backends:
        log("start: raw Dask LocalCluster, then workbench dask cold and warm")
        r.start_dask()
        found["dask"] = startup.guarded(startup.warm_second_run, "dask", args.repeats)
    if "ray" in args.backends:
        if args.mode == "full":
            log("start: raw Ray cold (ray.init, first result, shutdown)")
            r.time_ray_start()
        log("start: workbench ray cold and warm")
        found["ray"] = startup.guarded(startup.warm_second_run, "ray", args.repeats)
        r.use_ray()
    found["raw"] = dict(r.startup)
    return found


def main(argv: list[str] | None = None) -> int:
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="workbench-benchmark-runs-")
    os.environ["WORKBENCH_JOURNAL_DIR"] = folder  # every workbench run is journaled (P8)
    try:
        return _main(argv)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Found:
    """Everything the sections measured."""

    results: dict[str, dict[str, Measurement]] = field(default_factory=dict)
    over: dict[str, Measurement] = field(default_factory=dict)
    mem: dict[str, Any] = field(default_factory=dict)
    costs: dict[str, dict[str, Measurement]] = field(default_factory=dict)
    live: dict[str, dict[str, Measurement]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


def _main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    info = meta(args)
    log(f"benchmarks, {args.mode} mode, {args.repeats} repetitions, backends "
        f"{', '.join(args.backends)}; load {info['load_before']}")
    out = Found()
    r = raw.Raw()
    try:
        started = start_everything(args, r)
        workloads = build(args.mode)
        for name in [s for s in SECTIONS if s in args.only]:
            log(f"section {name}")
            run_section(name, args, r, workloads, out)
    finally:
        log("shutting down every backend")
        logging.disable(logging.INFO)  # closing Dask clusters log every step at INFO
        try:
            r.close()
            wb.shutdown()
        finally:
            logging.disable(logging.NOTSET)
    info["load_after"] = os.getloadavg()
    info["seconds"] = time.monotonic() - _t0
    found_targets = targets.compute(out.results, started, out.mem, out.over, args.backends)
    found_targets += targets.journal_costs(out.costs)
    found_targets += targets.live_costs(out.live)
    found_targets += targets.joblib_search(out.results.get("gridsearch", {}))
    found_targets += targets.million(out.results.get("million", {}), out.figures)
    print_report(args, info, started, out, found_targets)
    leftovers(log)
    return 0


def run_section(name: str, args: argparse.Namespace, r: raw.Raw,
                workloads: dict[str, Any], out: Found) -> None:
    """Measure one section into ``out``; every result is checked against the serial loop."""
    if name in workloads or name == "shared":
        w = workloads[name] if name in workloads else shared_workload(args.mode)
        out.titles[name] = w.title
        variants = r.variants(args.backends, w) + wbrows.variants(
            ["serial", *args.backends, "auto"], w)
        out.results[name] = measure(w, variants, args.repeats, log=log)
    elif name == "overhead" and "process_map" in args.backends:
        out.over = measure(workloads["pi"], overhead.variants(), args.repeats, log=log,
                           expected=raw.serial_loop(workloads["pi"])[0])
    elif name == "journal":
        expected = {w: raw.serial_loop(workloads[w])[0] for w in ("tiny", "pi")}
        for b in ["serial", *args.backends]:
            for w in ("tiny", "pi"):
                log(f"journal cost: {w} on {b}")
                out.costs[f"{w} {b}"] = measure(workloads[w], journal.variants(b),
                                                args.repeats, log=log, expected=expected[w])
    elif name == "live":
        pi = live.longer(workloads["pi"])
        for w in (pi, live.chatty(pi)):
            expected = raw.serial_loop(w)[0]
            for b in ["serial", *args.backends]:
                log(f"live output cost: {w.name} on {b}")
                out.live[f"{w.name} {b}"] = measure(w, live.variants(b), args.repeats,
                                                    log=log, expected=expected)
    elif name == "million" and "process_map" in args.backends:
        w = million.workload(args.mode)
        out.titles[name] = w.title
        out.results[name] = measure(w, million.variants(r), args.repeats, log=log)
        log("million: drawing the figures of the last run")
        out.figures = million.figures()
    elif name == "gridsearch":
        w = joblib_search.workload(args.mode)
        out.titles[name] = w.title
        out.results[name] = measure(w, joblib_search.variants(args.backends, r),
                                    args.repeats, reference="n_jobs=1", log=log)
        joblib_search.close()
    elif name == "memory":
        for b in ["serial", "process_map"]:
            if b == "serial" or b in args.backends:
                out.mem[b] = startup.guarded(memory.per_record, b, SIZES[args.mode]["quiet"])


def print_report(args: argparse.Namespace, info: dict[str, Any], started: dict[str, Any],
                 out: Found, found_targets: list[targets.Target]) -> None:
    print(f"## workbench benchmarks ({args.mode}, median of {args.repeats}, "
          f"{info['cpus']} cores, load {info['load_before'][0]:.1f} -> "
          f"{info['load_after'][0]:.1f}, {info['seconds']:.0f} s)\n")
    if args.mode == "quick":
        print("_quick sizes (see `python -m benchmarks --help`): every figure is smaller-sample "
              "and P1 is over 2,000 items, not 10,000._\n")
    print(report.targets_table(found_targets) + "\n")
    print(report.startup_table(started) + "\n")
    for name, ms in out.results.items():
        print(report.workload_table(out.titles[name], ms) + "\n")
    if out.over:
        print(report.workload_table("panel + sampler on pi (process_map); results checked "
                                    "against the serial loop", out.over) + "\n")
    for name, ms in out.costs.items():
        print(report.workload_table(f"journal cost: {name}", ms) + "\n")
    for name, ms in out.live.items():
        print(report.workload_table(f"live output cost: {name}", ms) + "\n")
    report.write_json(args.json, info, started,
                      {**out.results, **{f"journal {k}": v for k, v in out.costs.items()},
                       **{f"live {k}": v for k, v in out.live.items()}},
                      out.over, out.mem, found_targets)
    print(f"every number: {args.json}")


def leftovers(log_: Any) -> None:
    """Warn about (and end) any process this run started that is still alive. The
    multiprocessing forkserver and resource tracker end with this process by themselves."""
    import psutil

    keep = ("forkserver", "resource_tracker")
    time.sleep(1)
    children = [p for p in psutil.Process().children(recursive=True)
                if not any(k in " ".join(_cmdline(p)) for k in keep)]
    for p in children:
        log_(f"leftover process {p.pid} {' '.join(_cmdline(p))[:80]}: ending it")
        try:
            p.terminate()
        except psutil.Error:
            pass
    psutil.wait_procs(children, timeout=5)


def _cmdline(p: Any) -> list[str]:
    try:
        return p.cmdline()
    except Exception:  # noqa: BLE001 - it exited meanwhile
        return []


if __name__ == "__main__":
    sys.exit(main())
