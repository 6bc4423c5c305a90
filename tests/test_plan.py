"""Chunk sizes: auto sizing from measured durations, large first and small near the end,
and the text view counting items, not chunks."""

from __future__ import annotations

import io
import time

import pytest

import workbench as wb
from conftest import run
from workbench.plan import Planner


def test_auto_chunks_start_small_then_follow_the_measured_duration():
    planner = Planner(((i, 1) for i in range(10_000)), workers=2, chunksize="auto",
                      target=0.1)
    assert planner.size() == 1
    for _ in range(4):
        planner.observe(0.001)  # 1 ms per item: 100 items make 0.1 s
    assert planner.size() == 100
    planner.observe(10.0)  # slower items: smaller chunks
    assert planner.size() < 100


def test_auto_chunks_shrink_towards_the_end():
    planner = Planner(((i, 1) for i in range(1000)), workers=2, chunksize="auto")
    planner.observe(1e-6)
    sizes = []
    while len(planner):
        sizes.append(len(planner.next_chunk()))
    assert sizes[0] == 250  # a quarter of what is left with 2 workers
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] == 1
    assert sum(sizes) == 1000


def test_fixed_chunksize_keeps_one_record_per_item(backend):
    r = run(lambda x: x, range(25), backend, chunksize=10)
    assert r.chunk_sizes == [10, 10, 5]
    assert [t.index for t in r.tasks] == list(range(25))


def test_text_view_counts_items_not_chunks():
    out = io.StringIO()
    from workbench.views.text import TextView

    r = wb.run(lambda x: x, range(101), backend="process_map", workers=2, chunksize=10,
               view=TextView(file=out))
    text = out.getvalue()
    assert "101/101" in text and "11/101" not in text.split("101/101")[-1]
    assert text.strip().splitlines()[-1].startswith(
        "<lambda> on process_map: 101 of 101 tasks done: 101 ok in")
    assert r.ok


def test_text_view_shows_failures_and_a_summary():
    out = io.StringIO()
    from workbench.views.text import TextView

    wb.run(lambda x: 1 / x, [1, 0, 2], view=TextView(file=out))
    text = out.getvalue()
    assert "failed=1" in text
    assert "3 of 3 tasks done: 2 ok, 1 error" in text


def test_a_broken_observer_is_dropped_with_a_warning_and_the_run_goes_on():
    import pytest

    def broken(event):
        raise RuntimeError("view bug")

    with pytest.warns(RuntimeWarning, match="view bug"):
        r = wb.run(lambda x: x, range(3), view="none", observers=[broken])
    assert r.ok and r.results == [0, 1, 2]


def test_config_sets_defaults_and_explicit_arguments_win():
    with wb.config(backend="process_map", workers=2, view="none"):
        r = wb.run(lambda x: x, [1])
        assert r.backend == "process_map" and r.workers == 2
        assert wb.run(lambda x: x, [1], backend="serial").backend == "serial"
    assert wb.run(lambda x: x, [1], view="none").backend == "serial"


def test_events_arrive_in_order_in_the_callers_thread():
    import threading

    seen = []
    r = wb.run(lambda x: time.sleep(0.01) or x, range(5), backend="process_map", workers=2,
               view="none", observers=[lambda e: seen.append(
                   (type(e).__name__, threading.current_thread() is threading.main_thread()))])
    names = [n for n, _ in seen]
    assert names[:2] == ["RunStarted", "BackendReady"] and names[-1] == "RunFinished"
    # (TasksRunning too, when a look at the running tasks falls within the run)
    assert "TasksFinished" in names and set(names[2:-1]) <= {"TasksFinished", "TasksRunning"}
    assert all(main for _, main in seen)
    assert r.ok


def test_a_chunk_floor_keeps_tiny_items_out_of_one_item_chunks():
    planner = Planner(((i, 1) for i in range(10_000)), workers=2, chunksize="auto",
                      target=0.2, floor=0.05)
    planner.observe_many(4, 4 * 2e-6)  # tiny items: 2 us each
    sizes = []
    while len(planner):
        sizes.append(len(planner.next_chunk()))
    assert sum(sizes) == 10_000 and len(sizes) < 10
    assert min(sizes[:-1]) > 1000  # only the remainder may be smaller


def test_a_chunk_floor_still_lets_heavy_items_go_one_per_chunk_at_the_end():
    planner = Planner(((i, 1) for i in range(40)), workers=2, chunksize="auto",
                      target=0.1, floor=0.005)
    planner.observe(0.004)  # 4 ms items: the floor is one item
    sizes = []
    while len(planner):
        sizes.append(len(planner.next_chunk()))
    assert sizes == sorted(sizes, reverse=True) and sizes[-3:] == [1, 1, 1]
    assert sum(sizes) == 40


@pytest.mark.parametrize("backend", ["process_map", "dask", "ray"])
def test_chunks_of_tiny_items_do_not_end_one_by_one(backend):
    # 2,000 tasks of a microsecond: after the first chunks of one item each (the probes that
    # measure the duration), no chunk of one item, also not near the end, where chunks
    # shrink (each would pay a whole round trip for a microsecond of work)
    r = run(lambda x: x + 1, range(2000), backend)
    probes = r.workers * 2  # prefetch: chunks in flight before any duration is known
    assert r.results == list(range(1, 2001)) and sum(r.chunk_sizes) == 2000
    assert r.chunk_sizes[:probes] == [1] * probes
    assert min(r.chunk_sizes[probes:]) > 1, r.chunk_sizes
