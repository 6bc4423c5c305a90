"""``backend="auto"``'s decision (:mod:`workbench.auto` probes): what each backend would
cost for the items left, from what the probed items showed, and the cheapest of those that
need no cluster started; why, in one line.

The constants were measured on the development machine (2 cores, Linux, Python 3.11, dask
2026.8, ray 2.60) with no-op and ``time.sleep`` tasks, 2 workers; they are estimates, a
decision only needs their order of magnitude.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from typing import Any

from . import backends

#: Items probed at least (the first call often pays for imports or caches, so its duration
#: alone says little): a chunk size is only derived from at least this many.
PROBE_LEAST = 2

# ----------------------------------------------------------------- what a backend costs
#: Start-up of a cold process_map pool of 2 workers (forkserver): 0.30-0.32 s when the
#: forkserver itself starts (the first pool of a process), 0.012-0.033 s for 1 to 4
#: workers once it runs (wb.run of one no-op item after wb.shutdown(), three times).
PROCESS_MAP_FIRST_START = 0.3
PROCESS_MAP_START = 0.03
#: Taking a running cluster (a user's Dask client, a Ray session): a connection, no start.
TAKE_CLUSTER = 0.05
#: Seconds each item costs on top of its own duration when the planner sizes the chunks
#: (tiny tasks): wall time of 2,000 and 20,000 no-op items, 2 workers, chunksize="auto":
#: process_map 19.7 / 9.5 us, dask 52 / 14 us, ray 325 / 215 us.
PER_ITEM = {"process_map": 20e-6, "dask": 50e-6, "ray": 300e-6}
#: ... with chunks of one item (tasks of CHUNK_ONE or more): wall time beyond the ideal
#: of 40 tasks of 50 ms in chunks of 1 on 2 warm workers, per chunk: process_map 1.2 ms,
#: dask 5 ms; ray 4.2 ms (no-op chunks of 1, its throughput).
PER_CHUNK = {"process_map": 1.2e-3, "dask": 5e-3, "ray": 4.2e-3}
#: Seconds per MB of arguments and results moved between the caller and the workers (8
#: items of 1, 8 and 32 MB of random bytes to a no-op task and back by an identity task,
#: 2 warm workers): process_map 3.6-6.2 ms, dask 7-16 ms, ray 2.4-8 ms.
PER_MB = {"process_map": 4e-3, "dask": 10e-3, "ray": 4e-3}

# ----------------------------------------------------------------- the decision
#: A parallel backend is chosen when its estimate is at most this share of serial's; the
#: user's own running cluster (a Dask client, a Ray session) is chosen over the cheapest
#: offer unless that one's estimate is this share of the cluster's or less.
PAYOFF = 0.8
#: Preference among offers of about the same estimate: a cluster of the user's first;
#: workbench's own warm Dask or Ray and a local pool compete on their estimates alone (a
#: warm Dask that a benchmark left behind was chosen over a pool 1.5-1.9x faster on pi).
YOURS, WARM, POOL = 0, 1, 2
#: Tasks of this many seconds or more go in chunks of 1 (each chunk's overhead is small
#: next to them); shorter ones in chunks the planner sizes from their measured durations.
CHUNK_ONE = 0.05
#: Below this share of their time on the CPU, tasks wait (I/O, sleep): more workers than
#: cores still help them.
WAITING = 0.5


@dataclass(frozen=True)
class Probe:
    """What the probed items showed: their count, seconds per task, CPU share, mean MB
    of an argument and of a result, MB of the function (with its ``shared=`` objects), and
    why the work cannot travel to a worker, if it cannot."""

    count: int
    duration: float
    cpu_share: float
    item_mb: float
    result_mb: float
    fn_mb: float
    unpicklable: str | None = None


@dataclass(frozen=True)
class Offer:
    """A backend that could take the rest: its ``workers`` setting (what makes it the
    warm one), the tasks it runs at once, its start-up, what it is in words, and how much
    it is preferred (:data:`YOURS` first) when its estimate is about as good."""

    name: str
    setting: int | None
    workers: int
    startup: float
    what: str
    rank: int = 2  # POOL


@dataclass(frozen=True)
class Plan:
    """The choice: the backend, its ``workers`` and ``chunksize`` settings, and why."""

    backend: str
    workers: int | None
    chunksize: int | str
    reason: str


def decide(probe: Probe, n: int, settings: dict[str, Any],
           offers: list[Offer] | None = None) -> Plan:
    """The cheapest way to run the ``n`` items left, and why, in one line (``offers``: the
    parallel backends to weigh, by default :func:`offered`)."""
    workers, chunksize = settings["workers"], settings["chunksize"]
    took = f"tasks of {_seconds(probe.duration)}"

    def serial(why: str) -> Plan:
        return Plan("serial", workers, chunksize, why)

    if n == 0:
        return serial(f"all {probe.count} item{'s' if probe.count != 1 else ''} ran while "
                      f"timing them ({took}): serial")
    if probe.unpicklable:
        return serial(f"{probe.unpicklable}: serial, the one backend that need not send them")
    alone = n * probe.duration
    offers = offered(settings) if offers is None else offers
    if not offers:
        return serial(f"{took}: serial, no other backend can start here")
    chunks = chunksize if chunksize != "auto" else (
        1 if probe.duration >= CHUNK_ONE and probe.count >= PROBE_LEAST else "auto")
    costs = [(estimate(o, probe, n, chunks), o) for o in offers]
    cheapest = min(sum(c) for c, _ in costs)
    # A running cluster holds the cores a new pool would share, and the user's was made for
    # this: the most preferred offer that is not clearly (PAYOFF) dearer than the cheapest.
    (work, moving), best = min([(c, o) for c, o in costs if PAYOFF * sum(c) <= cheapest],
                               key=lambda c: (c[1].rank != YOURS, sum(c[0])))
    if work + moving <= PAYOFF * alone:
        clusters = [o.what for _, o in costs if o.rank == YOURS]
        where = best.what if best.rank < POOL or not clusters else \
            f"cheaper than {clusters[0]}"
        shape = "chunks sized from task times" if chunks == "auto" else f"chunks of {chunks}"
        return Plan(best.name, best.setting, chunks,
                    f"{took}, {where}: {best.name} with {best.workers} worker"
                    f"{'s' if best.workers != 1 else ''}, {shape}")
    if moving > 0 and work <= PAYOFF * alone:
        size = _megabytes(probe.item_mb + probe.result_mb)
        return serial(f"{took} moving {size} each: serial, sending the data to workers "
                      "would cost more than it saves")
    return serial(f"{took}: serial, parallel would cost more than it saves")


def estimate(offer: Offer, probe: Probe, n: int, chunks: int | str) -> tuple[float, float]:
    """Seconds ``offer`` would take for ``n`` items: (start-up, work and overhead; moving
    the data)."""
    cores = os.cpu_count() or 1
    at_once = offer.workers if probe.cpu_share < WAITING or offer.rank < POOL \
        else min(offer.workers, cores)  # (a cluster's workers may be other machines)
    at_once = max(1, min(at_once, n))
    per_item = PER_ITEM[offer.name] if chunks == "auto" else PER_CHUNK[offer.name] / chunks
    work = offer.startup + math.ceil(n / at_once) * probe.duration + n * per_item
    moving = (n * (probe.item_mb + probe.result_mb) + offer.workers * probe.fn_mb) \
        * PER_MB[offer.name]
    return work, moving


def offered(settings: dict[str, Any]) -> list[Offer]:
    """The parallel backends that could take the rest without starting a cluster:
    process_map always (warm, or cold at its start-up cost), Dask and Ray when one runs."""
    workers = settings["workers"]
    options = tuple(sorted(settings["backend_options"].items()))
    live = backends.live()
    offers = []
    pool = _warm(live, "process_map", workers, options)
    if pool is not None:
        offers.append(Offer("process_map", pool.spec.workers, pool.workers, 0.0,
                            "a process_map pool running"))
    n = workers or os.cpu_count() or 1
    if pool is None or pool.workers < n:  # (a warm pool of fewer workers than cores: both)
        start = PROCESS_MAP_START if _forkserver_runs() else PROCESS_MAP_FIRST_START
        offers.append(Offer("process_map", workers, n, start, "no cluster"))
    dask = _warm(live, "dask", workers, options)
    if dask is not None:
        offers.append(Offer("dask", dask.spec.workers, dask.workers, 0.0,
                            "your Dask client" if dask.cluster else
                            "workbench's Dask cluster running",
                            YOURS if dask.cluster else WARM))
    elif "dask" not in live or not live["dask"].alive:
        from .backends.dask_clients import default_client, threads

        client = default_client()  # None unless distributed is imported and a Client runs
        if client is not None:
            offers.append(Offer("dask", workers, threads(client), TAKE_CLUSTER,
                                "your Dask client", YOURS))
    ray = _warm(live, "ray", workers, options)
    if ray is not None:
        offers.append(Offer("ray", ray.spec.workers, ray.workers, 0.0,
                            "your Ray session" if ray.cluster else "workbench's Ray running",
                            YOURS if ray.cluster else WARM))
    elif "ray" not in live and "ray" in sys.modules and sys.modules["ray"].is_initialized():
        cpus = int(sys.modules["ray"].cluster_resources().get("CPU", 1))
        offers.append(Offer("ray", workers, max(1, cpus), TAKE_CLUSTER, "your Ray session",
                            YOURS))
    return offers


def _warm(live: dict[str, backends.Backend], name: str, workers: int | None,
          options: tuple[tuple[str, Any], ...]) -> backends.Backend | None:
    """Workbench's warm backend ``name`` if a run with these settings would reuse it."""
    backend = live.get(name)
    if backend is None or not backend.alive or backend.spec.address is not None:
        return None
    if backend.spec.options != options or workers not in (None, backend.spec.workers):
        return None
    return backend


def _forkserver_runs() -> bool:
    """Whether multiprocessing's forkserver runs already (a new pool then starts in
    hundredths of a second)."""
    forkserver = sys.modules.get("multiprocessing.forkserver")
    server = getattr(forkserver, "_forkserver", None)
    return bool(getattr(server, "_forkserver_pid", None))


def _seconds(seconds: float) -> str:
    """``3 us``, ``12 ms``, ``0.4 s``, ``25 s``."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 0.1:
        return f"{seconds * 1e3:.0f} ms"
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"


def _megabytes(mb: float) -> str:
    return f"{mb:.0f} MB" if mb >= 1 else f"{mb * 1e3:.0f} kB"
