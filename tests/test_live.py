"""Live output of running tasks (issue 12): what a task writes reaches the caller while it
runs, in ``run.running()`` (from another thread, on ``wb.last_run()``) and in the observers'
``TasksRunning`` events, on every backend, over the backend's own channel."""

from __future__ import annotations

import os
import threading
import time

import pytest

import workbench as wb
from conftest import run
from workbench.events import TasksRunning


def ticks(n):
    for i in range(n):
        print(f"tick {i}", flush=True)
        time.sleep(0.2)
    return n


def chatty(n):
    for i in range(n):
        print(f"line {i:07d} " + "x" * 80)
    time.sleep(1.5)  # (still running at the next look)
    return n


class _Watcher:
    """Looks at ``wb.last_run().running()`` from its own thread, as a user's other thread
    would, until stopped."""

    def __init__(self, fn_name: str):
        self.fn_name, self.seen, self._stop = fn_name, [], threading.Event()
        self._thread = threading.Thread(target=self._look, daemon=True)

    def _look(self) -> None:
        while not self._stop.is_set():
            r = wb.last_run()
            if r is not None and r.fn_name == self.fn_name and r.state == "running":
                self.seen += [(time.time(), task) for task in r.running()]
            time.sleep(0.05)

    def __enter__(self) -> _Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def test_a_running_tasks_output_is_seen_while_it_runs(backend):
    events = []

    def observer(event):
        if isinstance(event, TasksRunning):
            events.append((time.time(), event.tasks))

    with _Watcher("ticks") as watcher:
        r = run(ticks, [15], backend, chunksize=1, observers=[observer])
    record = r.task(0)
    assert r.results == [15]
    looked = [(t, task) for t, task in watcher.seen if "tick 3\n" in task.output]
    told = [(t, task) for t, tasks in events for task in tasks if "tick 3\n" in task.output]
    assert looked, "run.running() never showed tick 3"
    assert told, "no TasksRunning event showed tick 3"
    for when, task in (looked[0], told[0]):
        assert when < record.end, "seen only after the task had ended"
        assert (task.index, task.attempt, task.worker) == (0, 1, record.worker)
        assert task.pid == record.pid
        assert 0.6 <= task.elapsed < 3.0 and task.last_line.startswith("tick ")
    # what it printed first was seen within about a second of its printing it
    first = next(t for t, task in watcher.seen if "tick 0\n" in task.output)
    assert first - record.start < 0.2 * 5 + 1.0
    assert r.running() == [] and events[-1][1] == (), "the view is empty once the run ends"
    assert r.task(0).stdout.count("tick") == 15, "the record keeps the whole output"


def quiet_then_silent(x):
    """Item 0 returns at once and writes nothing; item 1 runs a while and writes nothing."""
    if x:
        time.sleep(1.5)
    return x


def test_a_silent_task_after_a_quiet_one_in_its_chunk_is_seen_as_itself(backend):
    """A quiet task's context serves the next task of its chunk: the live view must still
    tell the two apart (the running one is item 1, since its own start)."""
    with _Watcher("quiet_then_silent") as watcher:
        r = run(quiet_then_silent, [0, 1], backend, chunksize=2)
    assert r.results == [0, 1] and r.chunk_sizes == [2]
    seen = [task for _, task in watcher.seen]
    assert seen, "run.running() never showed the running task"
    assert {task.index for task in seen} == {1}
    assert all(abs(task.started - r.task(1).start) < 0.05 for task in seen)


def test_a_chatty_task_is_throttled_and_says_so_and_its_record_keeps_it_all(backend):
    with _Watcher("chatty") as watcher:
        r = run(chatty, [10_000], backend, chunksize=1)
    views = [task for _, task in watcher.seen]
    assert views, "the chatty task was never seen running"
    last = views[-1]
    assert last.held_back > 0 and "throttled" in last.output
    assert len(last.output) < 100_000  # the live budget, not the 0.9 MB it printed
    assert "line 0009999" in last.output, "the newest lines are the ones shown"
    out = r.task(0).stdout
    assert "line 0000000" in out and "line 0009999" in out, "the record has it all"


def test_live_false_sends_nothing_while_tasks_run():
    from workbench.events import TasksFinished
    from workbench.views.format import progress_text

    events, texts = [], []

    def observer(event):
        events.append(event)
        if isinstance(event, TasksFinished) and event.run.state == "running":
            texts.append(progress_text(event.run, 1.0))

    with _Watcher("ticks") as watcher:
        run(ticks, [5, 5, 5], "process_map", live=False, observers=[observer], chunksize=1)
    assert not watcher.seen
    assert not [e for e in events if isinstance(e, TasksRunning)]
    assert texts and all(" in flight" in t for t in texts), "not said to be running now"


def test_live_must_be_a_bool():
    with pytest.raises(wb.InputError, match="live must be True or False"):
        wb.run(abs, [1], live="yes", view="none")


def burn_and_tick(seconds):
    end, i = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        sum(range(20_000))
        if i % 200 == 0:
            print(f"tick {i // 200}", flush=True)
        i += 1
    return seconds


def test_a_dask_cluster_joined_by_address_shows_live_output_and_its_workers_resources():
    from distributed import LocalCluster

    from workbench import cluster_sampler, plots

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        with _Watcher("burn_and_tick") as watcher:
            r = run(burn_and_tick, [2.5, 2.5], "dask", address=cluster.scheduler_address,
                    chunksize=1)
    assert r.results == [2.5, 2.5] and r.cluster is not None
    assert [t for _, t in watcher.seen if "tick 1" in t.output], "live output over address"
    assert r.resources_from == cluster_sampler.FROM_DASK
    pids = {t.pid for t in r.tasks}
    assert pids <= {s.pid for s in r.resources}, "a series for each worker that ran tasks"
    assert max(s.cpu for s in r.resources) > 50, "a busy worker's CPU, as Dask measured it"
    assert min(s.rss for s in r.resources) > 10 * 2**20
    plots.plot_resources(r.resources, labels={t.pid: t.worker for t in r.tasks})


@pytest.fixture
def ray_head():
    """A Ray head started as a user starts one (``ray start --head``, in its own processes,
    not children of this one), found and stopped at the end by a marker in its environment."""
    import socket
    import subprocess
    import sys
    import uuid
    from pathlib import Path

    from workbench.backends import ray_node

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    marker = uuid.uuid4().hex
    ray_cli = Path(sys.executable).with_name("ray")
    started = subprocess.run(
        [str(ray_cli), "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
         "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"],
        env={**os.environ, ray_node.MARKER: marker}, capture_output=True, text=True,
        timeout=120)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield f"127.0.0.1:{port}"
    finally:
        wb.shutdown("ray")  # (the suite's own local Ray starts again when a test needs it)
        ray_node.reap([], marker)
        from ray._common.utils import reset_ray_address

        reset_ray_address()  # (the address `ray start` left in /tmp/ray for a bare ray.init)


@pytest.mark.once  # (a head of its own: 25 s; about Ray, not about the Python)
def test_a_ray_cluster_joined_by_address_shows_live_output_and_its_workers_resources(ray_head):
    from workbench import cluster_sampler, plots

    with _Watcher("burn_and_tick") as watcher:
        r = run(burn_and_tick, [2.5, 2.5], "ray", address=ray_head, chunksize=1)
    assert r.results == [2.5, 2.5] and r.cluster == f"the Ray cluster at {ray_head}"
    assert [t for _, t in watcher.seen if "tick 1" in t.output], "live output over address"
    assert r.resources_from == cluster_sampler.FROM_RAY
    assert {t.pid for t in r.tasks} <= {s.pid for s in r.resources}
    assert 25 < max(s.cpu for s in r.resources) <= 150, "a busy worker: about one core"
    assert min(s.rss for s in r.resources) > 10 * 2**20
    plots.plot_resources(r.resources, labels={t.pid: t.worker for t in r.tasks})
    # without address=, workbench's own node, not the head a bare ray.init() would join
    mine = run(abs, [-1], "ray")
    assert mine.results == [1] and mine.cluster is None
