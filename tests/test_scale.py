"""Many tasks: a quiet record (ok, nothing written) is kept in columns, and every way of
reading a run gives the same records as before, on every backend: results, ``run.tasks``,
one task, retries that replace a quiet or a loud record, a rerun over some indices, a pickled
run, the journal read back, the timeline's arrays."""

from __future__ import annotations

import gc
import pickle
import sys
import tracemalloc

import numpy as np
import pytest

import workbench as wb
from tests.conftest import run
from workbench.records import TaskRecord


def inc(x):
    return x + 1


def mixed(x):
    """Most tasks quiet; some print, some fail, some return objects that travel pickled."""
    if x % 97 == 5:
        print("loud", x)
    if x % 101 == 7:
        raise ValueError(f"bad {x}")
    if x % 89 == 3:
        return {"x": x}
    return x * 2


def expected(x):
    if x % 101 == 7:
        return None
    return {"x": x} if x % 89 == 3 else x * 2


def flaky_once(x):
    """Fails on its first attempt for a few items, quietly succeeds on the second."""
    if x % 50 == 0 and wb.current_task().attempt == 1:
        raise RuntimeError("first attempt")
    return x


def test_mixed_records_read_the_same_every_way(backend):
    items = list(range(3000))
    r = run(mixed, items, backend)
    want = [expected(x) for x in items]
    got = r.results
    for x in items:
        if want[x] is None:
            assert isinstance(got[x], wb.Failed) and "bad" in str(got[x].error)
        else:
            assert got[x] == want[x]
    tasks = r.tasks
    assert [t.index for t in tasks] == items and all(isinstance(t, TaskRecord) for t in tasks)
    assert [t.index for t in r.errors] == [x for x in items if x % 101 == 7]
    assert r.counts == {"ok": 3000 - len(r.errors), "error": len(r.errors), "lost": 0,
                        "cancelled": 0, "pending": 0}
    quiet, loud = r.task(10), r.task(5)
    assert quiet.output == () and quiet.value == 20 and quiet.worker and quiet.pid
    assert quiet.start <= quiet.end and quiet.submitted <= quiet.received
    assert loud.stdout == "loud 5\n" and r.logs[5] == "loud 5\n" and r.logs[10] == ""
    assert r.task(3).value == {"x": 3}  # a quiet object that travelled pickled on its own
    assert r.serial_time == pytest.approx(sum(t.duration for t in tasks))
    start, end, worker, status = r.timeline()
    assert len(start) == 3000 and (status == "error").sum() == len(r.errors)
    assert set(worker) == {t.worker for t in tasks}
    assert np.nansum(end - start) == pytest.approx(r.serial_time)


def test_a_retry_replaces_a_loud_record_with_a_quiet_one(parallel_backend):
    r = run(flaky_once, range(400), parallel_backend, retries=1)
    assert r.ok and r.results == list(range(400))
    assert sorted(h.index for h in r.history) == list(range(0, 400, 50))
    assert all(h.status == "error" and h.attempt == 1 for h in r.history)
    assert r.task(50).attempt == 2 and r.task(51).attempt == 1


def test_a_rerun_over_some_indices_keeps_them(backend):
    first = run(mixed, range(600), backend)
    again = first.rerun_failed()  # indices 7, 108, 209, ...: not a range
    failed = [x for x in range(600) if x % 101 == 7]
    assert again.indices == failed and [t.index for t in again.tasks] == failed
    assert [t.index for t in again.errors] == failed


def test_a_pickled_run_and_its_journal_give_the_same_records():
    r = run(mixed, range(2000), "process_map")
    back = pickle.loads(pickle.dumps(r))
    stored = wb.open(r.journal)
    for other in (back, stored):
        assert other.results == r.results
        assert [(t.index, t.status, t.value, t.output, t.start, t.worker)
                for t in other.tasks] == [(t.index, t.status, t.value, t.output, t.start,
                                           t.worker) for t in r.tasks]


def test_a_quiet_record_costs_the_caller_under_200_bytes():
    """The issue's bound: at most 200 B per quiet record held by the caller (the Run with its
    items and results, here ints)."""
    run(inc, range(10), "process_map")  # warm
    items = list(range(200_000))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        r = run(inc, items, "process_map", journal=False)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert r.results[-1] == 200_000 and r.ok
    print(f"{held / len(items):.0f} B per record", file=sys.stderr)
    assert held / len(items) < 200
