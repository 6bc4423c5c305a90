"""Runs on a warm backend leave the caller and the workers as they found them: every `Run`
freed once the user drops it, no memory held per run by workbench's own code, and the same
child processes, file descriptors and threads in the caller and the workers.

The bounds are per run, sized by what a leak would add: keeping one run's eight records is
about 2.5 KB a run (250 KB over the measured 100 runs), where what workbench's code still holds
after 100 warm runs is about 10 KB in all (sqlite's statement cache and the journal's
prepared schema, filled once). Memory is counted by tracemalloc, by the line of workbench that
allocated it: the RSS of the caller moves by tens of KB a run with Dask's bounded logs in the
in-process scheduler, which would hide such a leak. The workers' memory is RSS (about 10-20 KB
a run in all here while their allocator settles, Ray's and Dask's own logs included); a
worker that kept each task's output or re-imported a module per run grows faster."""

from __future__ import annotations

import gc
import sys
import threading
import time
import tracemalloc
import weakref
from pathlib import Path

import psutil
import pytest

import workbench as wb
from conftest import run
from workbench import backends

WARM_UP = 20  # start the backend, fill caches, pools and sqlite's statement cache
SETTLE = 100  # runs whose growth is not counted: allocators and bounded logs settle
RUNS = 100  # runs measured
#: what workbench's own code may still hold after RUNS runs, in all
OWN_BYTES = 40 * 2**10
#: the workers' RSS growth per run, all worker processes together
WORKER_BYTES_PER_RUN = 64 * 2**10
#: Dask's connection pool and Ray's thread pools may hold one or two more a moment after a
#: run; a leak of one per run would show as +100.
POOL_SLACK = 4
PACKAGE = str(Path(wb.__file__).parent)


def _counts(processes) -> dict[str, int]:
    gc.collect()
    me = psutil.Process()
    alive = [p for p in processes if p.is_running()]
    return {
        "children": len([p for p in me.children(recursive=True)
                         if p.status() != psutil.STATUS_ZOMBIE]),
        "fds": me.num_fds(),
        "threads": me.num_threads(),
        "worker fds": sum(p.num_fds() for p in alive),
        "worker rss": sum(p.memory_info().rss for p in alive),
    }


def _settled(before: dict[str, int], processes, timeout: float = 10.0) -> dict[str, int]:
    """Helper threads and sockets close a moment after a run: wait for the counts to drop."""
    deadline = time.monotonic() + timeout
    while True:
        now = _counts(processes)
        if all(now[k] <= before[k] + (k != "children") * POOL_SLACK
               for k in ("children", "fds", "threads", "worker fds")) or \
                time.monotonic() > deadline:
            return now
        time.sleep(0.2)


def _snapshot() -> tracemalloc.Snapshot:
    """CPython's method cache keeps a reference to the last 4096 attribute names looked up
    (Python 3.10 any name, 3.11+ interned ones only): bounded, not a leak, but on 3.10 it
    held ~30 KB of names made by f-strings here. Emptied first, it counts nothing. A journal
    pruning the folder in its own thread (every few runs) holds the folder's listing while it
    works: taken mid-prune, a snapshot counted that transient list (55 KB) as held."""
    for thread in threading.enumerate():
        if thread.name == "workbench-journal-prune":
            thread.join(10)
    sys._clear_type_cache()
    return tracemalloc.take_snapshot()


def _own_bytes(snapshot: tracemalloc.Snapshot, since: tracemalloc.Snapshot) -> int:
    """Bytes allocated by workbench's own lines that are still held, grown since ``since``."""
    return sum(d.size_diff for d in snapshot.compare_to(since, "filename")
               if d.traceback[0].filename.startswith(PACKAGE))


def _alive(refs: list, timeout: float = 10.0) -> int:
    """Runs not freed: the last one stays as ``wb.last_run()``; the others only until their
    journal's writer thread has written its last records (a fraction of a second)."""
    deadline = time.monotonic() + timeout
    while True:
        gc.collect()
        alive = sum(ref() is not None for ref in refs)
        if alive <= 1 or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def _small(x):
    print("item", x)
    if x == 3:
        raise ValueError("one failure per run, kept as data")
    return x * 2


def _runs(backend: str, n: int, refs: list) -> None:
    for _ in range(n):
        r = run(_small, range(8), backend)
        assert r.results[4] == 8 and len(r.errors) == 1
        refs.append(weakref.ref(r))
        del r


@pytest.mark.slow
def test_runs_leak_nothing(backend):
    refs: list = []
    _runs(backend, WARM_UP, refs)
    workers = backends.live()[backend].processes() if backend != "serial" else []
    assert backend == "serial" or workers, "the warm backend has worker processes"
    tracemalloc.start()
    try:
        _runs(backend, SETTLE, refs)
        before = _counts(workers)
        _alive(refs)  # (measured from, as to, a moment when the journals have let go of runs)
        start = _snapshot()
        _runs(backend, RUNS, refs)
        after = _settled(before, workers)
        alive = _alive(refs)  # (a run its journal still writes is held a moment: wait for it)
        end = _snapshot()
        own = _own_bytes(end, start)
        top = [f"{d.size_diff:+d} B {d.traceback[0].filename}:{d.traceback[0].lineno}"
               for d in end.compare_to(start, "lineno")[:8]]  # (said if the bound is passed)
    finally:
        tracemalloc.stop()
    assert alive <= 1, f"{alive} of {len(refs)} runs are still alive after the user dropped them"
    assert own < OWN_BYTES, (f"workbench's code holds {own / 1024:.1f} KiB more after {RUNS} "
                             f"runs; the lines that grew most: {top}")
    # (Ray may reap idle workers meanwhile: fewer is fine, more is a leak)
    assert after["children"] <= before["children"], (before, after)
    for key in ("fds", "threads", "worker fds"):
        assert after[key] <= before[key] + POOL_SLACK, (key, before, after)
    per_run = (after["worker rss"] - before["worker rss"]) / RUNS
    assert per_run < WORKER_BYTES_PER_RUN, f"the workers grew {per_run / 1024:.1f} KiB a run"
