"""200 consecutive small runs on a warm backend leave the caller as they found it: the same
child processes, open file descriptors and threads, and memory within 50 MB."""

from __future__ import annotations

import gc
import time

import psutil
import pytest

from conftest import run

RUNS = 200
WARM_UP = 20
MEMORY_SLACK = 50 * 2**20
#: Dask's connection pool and Ray's thread pools may hold one or two more a moment after a
#: run; a leak of one per run would show as +200.
POOL_SLACK = 4


def _snapshot() -> dict[str, int]:
    gc.collect()
    me = psutil.Process()
    return {
        "children": len([p for p in me.children(recursive=True)
                         if p.status() != psutil.STATUS_ZOMBIE]),
        "fds": me.num_fds(),
        "threads": me.num_threads(),
        "rss": me.memory_info().rss,
    }


def _settled(before: dict[str, int], timeout: float = 10.0) -> dict[str, int]:
    """Helper threads and sockets close a moment after a run: wait for the counts to drop."""
    deadline = time.monotonic() + timeout
    while True:
        now = _snapshot()
        if all(now[k] <= before[k] + (k != "children") * POOL_SLACK
               for k in ("children", "fds", "threads")) or \
                time.monotonic() > deadline:
            return now
        time.sleep(0.2)


def _small(x):
    print("item", x)
    if x == 3:
        raise ValueError("one failure per run, kept as data")
    return x * 2


@pytest.mark.slow
def test_two_hundred_runs_leak_nothing(backend):
    for _ in range(WARM_UP):  # start the backend, fill caches and pools
        run(_small, range(8), backend)
    before = _snapshot()
    for _ in range(RUNS):
        r = run(_small, range(8), backend)
        assert r.results[4] == 8 and len(r.errors) == 1
    after = _settled(before)
    # (Ray may reap idle workers meanwhile: fewer is fine, more is a leak)
    assert after["children"] <= before["children"], (before, after)
    assert after["fds"] <= before["fds"] + POOL_SLACK, (before, after)
    assert after["threads"] <= before["threads"] + POOL_SLACK, (before, after)
    grew = after["rss"] - before["rss"]
    assert grew < MEMORY_SLACK, f"the caller grew by {grew / 2**20:.1f} MiB over {RUNS} runs"
