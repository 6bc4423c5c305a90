"""``backend="auto"``: a planning step before a backend is taken. The first items run here,
serially, in the caller (they are the run's first records, never run again); their duration,
the pickled size of their arguments and results, and what is installed and already warm (a
Dask client or Ray session of the user's, workbench's own warm backends) give each backend's
estimated time for the rest (:mod:`workbench.auto_plan`); the cheapest runs it, and
``run.reason`` says why in one line.

A Dask or Ray cluster is never started for this: on one machine ``process_map`` starts in a
fraction of a second where they take seconds, so only one that is running counts.
"""

from __future__ import annotations

import pickle
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from .auto_plan import (
    PER_ITEM,
    POOL,
    PROBE_LEAST,
    PROCESS_MAP_FIRST_START,
    TAKE_CLUSTER,
    WARM,
    YOURS,
    Offer,
    Plan,
    Probe,
    decide,
    estimate,
    offered,
)
from .checks import AUTO
from .engine import execute
from .events import Observer
from .result import Run

__all__ = ["AUTO", "run", "decide", "measure", "offered", "estimate", "Probe", "Offer", "Plan",
           "YOURS", "WARM", "POOL", "PROCESS_MAP_FIRST_START", "TAKE_CLUSTER", "PROBE_LEAST"]

# ----------------------------------------------------------------- how much is probed
#: Seconds of probing after which no more items are probed (at least PROBE_LEAST are).
PROBE_BUDGET = 0.3
#: Items probed at most, and at least (the first call often pays for imports or caches, so
#: its duration alone says little), unless the first alone took PROBE_ALONE seconds.
PROBE_MOST = 8
PROBE_ALONE = 0.5  # (PROBE_LEAST: in auto_plan, whose chunk rule needs it)


def run(fn: Callable[..., Any], items: dict[int, Any], settings: dict[str, Any],
        observers: Sequence[Observer] = (), prior: Run | None = None,
        all_items: dict[int, Any] | None = None) -> Run:
    """Probe, plan, and run the rest on the chosen backend: one Run over every item,
    with the probed records kept (``observers`` and the journal see that Run only)."""
    every = items if all_items is None else all_items
    probe_run, probed, cpu_share = _probe(fn, items, settings, every)
    rest = {i: items[i] for i in items if i not in probed}
    plan = decide(measure(fn, items, probe_run, probed, cpu_share), len(rest), settings)
    chosen = {**settings, "backend": plan.backend, "workers": plan.workers,
              "chunksize": plan.chunksize}
    return execute(fn, rest, chosen, observers, prior=prior, all_items=every,
                   reason=plan.reason, probed=probe_run)


def _probe(fn: Callable[..., Any], items: dict[int, Any], settings: dict[str, Any],
           every: dict[int, Any]) -> tuple[Run | None, list[int], float]:
    """Run the first item here, then as many more as fit the budget (one serial run each
    time, nothing shown, nothing journaled); the last Run holds them all. Also returns the
    share of the time this thread spent on the CPU (the tasks ran in it)."""
    quiet = {**settings, "backend": "serial", "observers": (), "journal": False,
             "live": False, "view": "none"}
    order = list(items)
    if not order:
        return None, [], 1.0
    began, cpu = time.perf_counter(), time.thread_time()
    run = execute(fn, {order[0]: items[order[0]]}, quiet, all_items=every)
    first = time.perf_counter() - began
    more = 0
    took = run.task(order[0]).duration if run.state == "finished" else None
    # a task cheaper than sending it to a worker: no parallel backend can pay off, and a
    # second probe would cost more than the tasks (a run of tiny tasks stays near serial's)
    tiny = took is not None and took < PER_ITEM["process_map"]
    if not tiny and first < PROBE_ALONE and run.state == "finished":
        more = PROBE_LEAST - 1 if first >= PROBE_BUDGET else int(
            (PROBE_BUDGET - first) / max(first, 1e-9))
        more = min(max(more, PROBE_LEAST - 1), PROBE_MOST - 1, len(order) - 1)
    if more:
        run = execute(fn, {i: items[i] for i in order[1:1 + more]}, quiet, prior=run,
                      all_items=every)
    wall, cpu = time.perf_counter() - began, time.thread_time() - cpu
    return run, order[:1 + more], min(1.0, cpu / wall) if wall > 0 else 1.0


def measure(fn: Callable[..., Any], items: dict[int, Any], run: Run | None,
            probed: list[int], cpu_share: float = 1.0) -> Probe:
    """The numbers of the probed items (their records in ``run``; ``cpu_share``: of the
    time they took, the share on the CPU)."""
    fn_mb = _fn_bytes(fn) / 1e6
    if run is None or not probed:
        return Probe(0, 0.0, 1.0, 0.0, 0.0, fn_mb)
    records = [run.task(i) for i in probed]
    durations = [r.duration for r in records if r.duration is not None] or [0.0]
    later = durations[1:] or durations  # the first call often pays for imports or caches
    duration = sum(later) / len(later)
    try:
        item_mb = sum(_bytes(items[i]) for i in probed) / len(probed) / 1e6
    except Exception as exc:  # noqa: BLE001 - whatever pickling raises: the item stays here
        return Probe(len(probed), duration, 1.0, 0.0, 0.0, fn_mb,
                     f"its items cannot be pickled ({type(exc).__name__})")
    values = [r.value for r in records if r.ok]
    try:
        result_mb = sum(_bytes(v) for v in values) / max(len(values), 1) / 1e6
    except Exception as exc:  # noqa: BLE001
        return Probe(len(probed), duration, 1.0, item_mb, 0.0, fn_mb,
                     f"its results cannot be pickled ({type(exc).__name__})")
    return Probe(len(probed), duration, cpu_share, item_mb, result_mb, fn_mb)


def _bytes(obj: Any) -> int:
    """Bytes ``obj`` takes pickled; the buffers of arrays (and large bytes) are counted,
    not copied."""
    if isinstance(obj, (bytes, bytearray)):
        return len(obj)
    import cloudpickle

    buffers: list[pickle.PickleBuffer] = []
    main = cloudpickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    return len(main) + sum(b.raw().nbytes for b in buffers)


def _fn_bytes(fn: Callable[..., Any]) -> int:
    """A cheap guess at the size of the function's ``shared=`` objects (sent to each
    worker once); the function itself is small next to them."""
    import functools

    if not isinstance(fn, functools.partial):
        return 0
    total = 0
    for value in (*fn.args, *fn.keywords.values()):
        nbytes = getattr(value, "nbytes", None)
        total += nbytes if isinstance(nbytes, int) else sys.getsizeof(value)
    return total
