"""Resource samples of real worker processes, and the plots drawn from real runs."""

from __future__ import annotations

import io
import threading
import time

import matplotlib.pyplot as plt
import numpy as np
import pytest

import workbench as wb
from conftest import WORKERS, run
from workbench.plots import (
    LINE_POINTS,
    STATUS_COLOURS,
    TIME_BINS,
    plot_resources,
    plot_timeline,
    plot_timeline_arrays,
)
from workbench.records import TaskRecord
from workbench.sampler import ResourceSampler, Sample


def busy(x):
    end = time.perf_counter() + 0.15
    while time.perf_counter() < end:
        pass
    return x


def fail_two(x):
    if x in (3, 7):
        raise RuntimeError(x)
    return x


def test_runs_sample_cpu_and_memory_of_each_local_worker():
    r = run(busy, range(12), "process_map", chunksize=1)
    pids = {t.pid for t in r.tasks}
    assert {s.pid for s in r.resources} == pids
    for pid in pids:
        mine = [s for s in r.resources if s.pid == pid]
        assert len(mine) >= 3, "sampled all along the run, not once"
        # busy: well above an idle worker's 0-2 %, even on a machine that other work keeps
        # busy (two such workers then get well under a core each)
        assert max(s.cpu for s in mine) > 10 and min(s.rss for s in mine) > 10 * 2**20


def test_serial_runs_have_no_worker_processes_to_sample():
    assert run(busy, range(2), "serial").resources == []


def test_sampler_skips_processes_that_exit_and_stops_cleanly():
    import subprocess
    import sys

    import psutil

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.6)"])
    proc = psutil.Process(child.pid)
    reaper = threading.Thread(target=child.wait)  # its parent reaps it, as a pool would
    reaper.start()
    with ResourceSampler(lambda: [proc], interval=0.1) as sampler:
        time.sleep(1.2)
    reaper.join()
    samples = sampler.stop()
    assert samples and sampler.errors == 0
    assert max(s.time for s in samples) - min(s.time for s in samples) < 0.8
    assert not [t for t in threading.enumerate() if t.name == "workbench-sampler"]


def _render(fig):
    fig.savefig(io.BytesIO(), format="png")
    assert plt.get_fignums() == [], "plots must not touch pyplot's global state"


def test_timeline_has_one_bar_per_task_on_a_row_per_worker():
    r = run(fail_two, range(12), "process_map", chunksize=1)
    fig = plot_timeline(r.tasks)
    _render(fig)
    ax = fig.axes[0]
    bars = [c for c in ax.collections]
    assert sum(len(c.get_paths()) for c in bars) == 12
    colours = [tuple(fc) for c in bars for fc in c.get_facecolors()]
    from matplotlib.colors import to_rgba

    assert colours.count(to_rgba(STATUS_COLOURS["error"])) == 2
    assert [t.get_text() for t in ax.get_yticklabels()] == list(dict.fromkeys(
        t.worker for t in r.tasks))
    assert r.plot_timeline().axes


def test_timeline_draws_only_tasks_that_ran():
    r = wb.run(lambda x: time.sleep(0.05) or x, range(40), backend="process_map",
               workers=WORKERS, chunksize=1, view="none",
               observers=[lambda e: _cancel_later(e)])
    ran = [t for t in r.tasks if t.start is not None]
    assert r.counts["cancelled"] > 0
    fig = plot_timeline(r.tasks)
    _render(fig)
    assert sum(len(c.get_paths()) for c in fig.axes[0].collections) == len(ran)


def _cancel_later(event):
    if type(event).__name__ == "BackendReady":
        threading.Timer(0.3, event.run.cancel).start()


def test_resources_plot_has_one_line_per_process_on_both_axes():
    r = run(busy, range(8), "process_map", chunksize=1)
    fig = r.plot_resources()
    _render(fig)
    cpu_ax, mem_ax = fig.axes
    pids = {s.pid for s in r.resources}
    assert len(cpu_ax.lines) == len(mem_ax.lines) == len(pids) == WORKERS
    assert {line.get_label() for line in cpu_ax.lines} == {t.worker for t in r.tasks}


def _back_to_back(n, workers):
    """``n`` tasks of 0.5-1.5 ms, dealt in turn to ``workers`` workers that each run theirs
    back to back (10 µs apart): start, end, worker label per task."""
    rng = np.random.default_rng(0)
    duration = rng.uniform(0.5e-3, 1.5e-3, n)
    which = np.arange(n) % workers
    start = np.empty(n)
    for w in range(workers):
        mine = which == w
        start[mine] = 1.7e9 + np.cumsum(duration[mine] + 1e-5) - duration[mine]
    return start, start + duration, np.array([f"worker-{w}" for w in range(workers)])[which]


def _timed_png(draw):
    """The figure ``draw()`` makes, its PNG at a notebook's dpi, and the seconds both took
    (printed for the record: no bound is asserted, the machine may be busy)."""
    began = time.perf_counter()
    fig = draw()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    print(f"drawn and rendered in {time.perf_counter() - began:.2f} s")
    assert plt.get_fignums() == [], "plots must not touch pyplot's global state"
    return fig, buffer


def test_timeline_draws_each_of_a_few_tasks_as_its_own_bar_from_arrays_or_records():
    start, end, worker = _back_to_back(10, 2)
    status = ["ok"] * 10
    status[3] = "error"
    fig, _ = _timed_png(lambda: plot_timeline_arrays(start, end, worker, status))
    ax = fig.axes[0]
    assert ax.get_title() == "10 tasks on 2 workers"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["worker-0", "worker-1"]
    assert ax.yaxis_inverted() and ax.get_xlabel() == "seconds since the first task started"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ok", "error"]
    from matplotlib.colors import to_rgba

    for y, row in enumerate(ax.collections):  # a collection per worker, a bar per task
        mine = np.flatnonzero(worker == f"worker-{y}")
        boxes = [p.get_extents() for p in row.get_paths()]
        assert [b.x0 for b in boxes] == pytest.approx(start[mine] - start.min())
        assert [b.width for b in boxes] == pytest.approx(end[mine] - start[mine])
        assert {(b.y0, b.y1) for b in boxes} == {(y - 0.35, y + 0.35)}
        assert [tuple(c) for c in row.get_facecolors()] == [
            to_rgba(STATUS_COLOURS[status[i]]) for i in mine]
    records = [TaskRecord(index=i, status=status[i], start=float(start[i]), end=float(end[i]),
                          worker=str(worker[i])) for i in range(10)]
    again = plot_timeline(records).axes[0]
    assert [c.get_paths()[0].vertices.tolist() for c in again.collections] == [
        c.get_paths()[0].vertices.tolist() for c in ax.collections]


def test_timeline_of_a_million_tasks_is_drawn_in_time_bins_and_shows_the_one_error():
    n = 1_000_000
    start, end, worker = _back_to_back(n, 2)
    status = np.full(n, "ok", dtype=object)
    failed = n // 2 + 1  # in the middle, on worker-1
    status[failed] = "error"
    fig, png = _timed_png(lambda: plot_timeline_arrays(start, end, worker, status))
    ax = fig.axes[0]
    assert ax.get_title() == f"1,000,000 tasks on 2 workers, drawn in {TIME_BINS:,} time bins"
    bars = [len(c.get_paths()) for c in ax.collections]
    assert len(bars) == 2 and sum(bars) <= 2 * TIME_BINS, "bounded by bins, not by tasks"
    from matplotlib.colors import to_rgba

    red = to_rgba(STATUS_COLOURS["error"])
    row = [t.get_text() for t in ax.get_yticklabels()].index(worker[failed])
    assert red in [tuple(c) for c in ax.collections[row].get_facecolors()]
    assert red not in [tuple(c) for c in ax.collections[1 - row].get_facecolors()]
    # and it shows in the PNG: red pixels where the failed task ran, on its row
    import matplotlib.image

    pixels = matplotlib.image.imread(io.BytesIO(png.getvalue()), format="png")[..., :3]
    x, y = ax.transData.transform(((start[failed] + end[failed]) / 2 - start.min(), row))
    y = pixels.shape[0] - y  # PNG rows count from the top
    around = pixels[int(y) - 5:int(y) + 5, int(x) - 3:int(x) + 4]
    assert (np.abs(around - np.array(red[:3])).max(axis=-1) < 0.05).any()


def test_resources_of_200000_samples_are_drawn_from_time_bins_keeping_a_spike():
    pids, ticks = 8, 25_000  # a sample per process every 0.25 s: 1 h 44 min
    rng = np.random.default_rng(1)
    cpu = np.clip(rng.normal(60, 15, pids * ticks), 0, 100)
    spike = pids * ticks // 2 + 3
    cpu[spike] = 400.0  # a quarter-second spike of one process, in the middle
    samples = [Sample(1.7e9 + (i // pids) * 0.25, 1000 + i % pids, float(cpu[i]),
                      (100 + i % pids) * 2**20) for i in range(pids * ticks)]
    labels = {1000 + p: f"worker-{p}" for p in range(pids)}
    fig, _ = _timed_png(lambda: plot_resources(samples, labels=labels))
    cpu_ax, mem_ax = fig.axes
    assert [line.get_label() for line in cpu_ax.lines] == list(labels.values())
    assert len(mem_ax.lines) == pids
    assert all(len(line.get_xdata()) <= LINE_POINTS for line in cpu_ax.lines + mem_ax.lines)
    band = cpu_ax.collections[spike % pids]  # the spiking process's lowest-highest band
    assert band.get_paths()[0].vertices[:, 1].max() == 400.0
    assert mem_ax.lines[3].get_ydata() == pytest.approx(np.full(LINE_POINTS, 103.0))


def test_empty_plots_say_so():
    assert plot_timeline([]).axes[0].texts[0].get_text() == "no tasks ran"
    assert plot_resources([]).axes[0].texts[0].get_text() == "no resource samples"


def test_comparison_plot_shows_wall_time_and_speedup_per_backend():
    cmp = wb.compare(busy, range(6), backends=["process_map"], workers=WORKERS, view="none")
    fig = cmp.plot()
    _render(fig)
    wall_ax, speed_ax = fig.axes
    assert [t.get_text() for t in speed_ax.get_xticklabels()] == ["serial", "process_map"]
    assert len(speed_ax.patches) == 2 and len(wall_ax.patches) == 4  # run + start-up bars
    assert speed_ax.patches[1].get_height() == pytest.approx(cmp.summary[1].speedup)


def test_sampler_lists_processes_once_and_again_when_one_is_replaced():
    import subprocess
    import sys

    import psutil

    def sleeper():
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])

    first = sleeper()
    current = [psutil.Process(first.pid)]
    calls = []

    def listing():
        calls.append(time.monotonic())
        return list(current)

    second = None
    try:
        with ResourceSampler(listing, interval=0.05, refresh=60) as sampler:
            time.sleep(0.5)
            assert len(calls) == 1, "listed once, not on every tick"
            second = sleeper()  # the pool replaces a dead worker
            current[:] = [psutil.Process(second.pid)]
            first.kill()
            first.wait()
            time.sleep(0.6)
        assert len(calls) == 2, "listed again once, after the worker went"
        assert {first.pid, second.pid} <= sampler.pids and sampler.errors == 0
    finally:
        for p in (first, second):
            if p is not None:
                p.kill()
                p.wait()


def test_figures_show_as_png_in_ipython_without_matplotlib_inline():
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython() or get_ipython()  # (None when another test started it)
    fig = run(abs, [-1, -2], "serial").plot_timeline()
    formatter = shell.display_formatter.formatters["image/png"]
    formatter.enabled = True  # as in a kernel (a terminal shell shows text only)
    png = formatter(fig)
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
