"""Results that must not mislead: comparisons with NaN, arrays, frames and models; a stopped
run never passes for a clean one; a swallowed timeout is still a timeout; settings checked
the same way everywhere."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

import workbench as wb
from conftest import WORKERS, run


def nan_and_friends(i):
    import pandas as pd

    return {"nan": float("nan"), "array": np.array([i, np.nan]),
            "frame": pd.DataFrame({"a": [i, np.nan]}), "values": [math.nan, i]}


def fitted(i):
    from sklearn.linear_model import LinearRegression

    return LinearRegression().fit([[0], [1], [2]], [0, i, 2 * i])


def draw(i):
    return float(wb.task_rng().random())


@pytest.mark.parametrize("fn", [nan_and_friends, fitted], ids=["nan", "model"])
def test_compare_says_yes_for_equal_results_with_nan_and_models(fn):
    cmp = wb.compare(fn, range(4), backends=["serial", "process_map"], workers=WORKERS,
                     view="none")
    assert [row.same_as_serial for row in cmp.summary] == [True, True], cmp.table()
    assert cmp.all_same and "NO" not in cmp.table()


def test_compare_still_says_no_when_results_differ():
    from workbench.compare import same_results

    assert same_results([np.array([1.0, np.nan])], [np.array([1.0, 2.0])]) is False
    assert same_results([fitted(1)], [fitted(2)]) is False
    assert same_results([[math.nan, 1]], [[math.nan, 2]]) is False


def test_compare_with_a_fresh_seed_uses_one_seed_for_every_backend():
    cmp = wb.compare(draw, range(6), backends=["serial", "process_map"], seed=None,
                     workers=WORKERS, view="none")
    assert cmp["serial"].seed == cmp["process_map"].seed
    assert cmp.all_same, cmp.table()


def test_a_cancelled_run_does_not_pass_raise_for_errors():
    r_box = {}

    def stop_soon(event):
        if type(event).__name__ == "TasksFinished" and event.run.done >= 2:
            event.run.cancel()

    r_box["run"] = r = run(time.sleep, [0.05] * 40, "process_map", chunksize=1,
                           observers=[stop_soon])
    assert r.state == "cancelled" and r.counts["cancelled"] > 0
    with pytest.raises(wb.TaskErrors) as info:
        r.raise_for_errors()
    assert "did not run to the end (the run was cancelled)" in str(info.value)
    assert "not run: tasks" in str(info.value)


def swallow(x):
    try:
        end = time.monotonic() + 5
        while time.monotonic() < end:  # Python code: the TaskTimeout lands at once
            pass
    except Exception:  # noqa: BLE001 - what careless user code does
        pass
    return "swallowed"


def test_a_task_that_swallows_its_timeout_still_times_out(backend):
    r = run(swallow, [1], backend, timeout=0.3)
    record = r.task(0)
    assert record.status == "error" and record.error.type == "TaskTimeout", record


def test_a_task_that_swallows_its_timeout_in_a_thread_still_times_out():
    box = {}
    t = threading.Thread(target=lambda: box.update(r=run(swallow, [1], "serial", timeout=0.3)))
    t.start()
    t.join(30)
    assert box["r"].task(0).error.type == "TaskTimeout"


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), -1, 0])
def test_a_timeout_that_is_not_a_finite_number_is_refused(bad):
    with pytest.raises(wb.InputError, match="timeout must be a number of seconds"):
        run(abs, [1], "serial", timeout=bad)


def test_numpy_integers_are_accepted_for_every_whole_number_setting():
    r = run(abs, range(-3, 3), "serial", chunksize=np.int64(2), retries=np.int32(1),
            seed=np.int64(5), workers=np.int64(1))
    assert r.results == [3, 2, 1, 0, 1, 2] and r.seed == 5 and type(r.seed) is int


def test_rerun_failed_checks_its_settings_as_run_does():
    r = run(lambda x: 1 / x, [0, 1], "serial")
    with pytest.raises(wb.InputError, match="unknown setting"):
        r.rerun_failed(retry=3)
    with pytest.raises(wb.InputError, match="timeout must be"):
        r.rerun_failed(timeout="x")
    with pytest.raises(wb.InputError, match="keeps the shared objects"):
        r.rerun_failed(shared={"a": 1})
    assert r.rerun_failed(retries=1).counts["error"] == 1


def test_logs_count_from_the_end_like_a_list():
    r = run(print, ["a", "b"], "serial")
    assert r.logs[-1] == "b\n" and r.logs[-2] == "a\n"


def test_stop_on_serial_is_heard_between_tasks_not_only_between_chunks():
    def stop_at_once(event):
        if type(event).__name__ == "TasksFinished":
            event.run.cancel()

    r = run(time.sleep, [0.1] * 50, "serial", chunksize=50, observers=[stop_at_once])
    assert r.state == "cancelled" and r.counts["ok"] < 10, r.counts
    assert r.counts["ok"] + r.counts["cancelled"] == 50


def test_no_items_start_no_backend():
    from workbench import backends

    before = dict(backends.live())
    r = wb.run(abs, [], backend="ray", view="none")
    assert r.results == [] and r.state == "finished" and backends.live() == before
    r.raise_for_errors()


def test_compare_gives_address_to_the_backends_it_fits():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        cmp = wb.compare(abs, [-1, -2, 3], backends=["serial", "dask"],
                         address=cluster.scheduler_address, view="none")
        assert cmp["serial"].results == cmp["dask"].results == [1, 2, 3] and cmp.all_same
    wb.shutdown("dask")  # it was connected to that cluster


def test_a_run_pickles_with_its_records():
    import pickle

    r = run(double_or_fail, range(4), "process_map")
    again = pickle.loads(pickle.dumps(r))
    assert again.results[:2] == [0, 2] and again.counts == r.counts
    assert again.task(3).error.type == "ValueError" and again.logs[3] == "three\n"
    assert again.rerun_failed().counts["error"] == 1  # the same function, run again


def double_or_fail(x):
    if x == 3:
        print("three")
        raise ValueError("three")
    return 2 * x


def die_on_five_and_count(arg):
    import os

    x, folder = arg
    with open(os.path.join(folder, f"ran-{x}"), "a") as f:  # one line per execution
        f.write("x\n")
    if x == 5:
        os._exit(1)
    return x


def test_no_task_runs_twice_unseen_when_its_worker_dies(parallel_backend, tmp_path):
    r = run(die_on_five_and_count, [(x, str(tmp_path)) for x in range(10)], parallel_backend,
            chunksize=10)
    assert r.task(5).status == "lost" and [t.status for t in r.tasks].count("ok") == 9
    for x in range(10):
        path = tmp_path / f"ran-{x}"
        runs = len(path.read_text().splitlines()) if path.exists() else 0
        seen = 1 + sum(1 for h in r.history if h.index == x)
        assert runs <= seen and r.task(x).attempt == seen, (x, runs, seen, r.history)


def interrupt_on_two(x):
    if x == 2:
        raise KeyboardInterrupt("the task's own")
    return x


def test_a_task_that_raises_keyboardinterrupt_is_its_error_on_every_backend(backend):
    r = run(interrupt_on_two, range(5), backend)
    assert r.state == "finished" and r.counts["ok"] == 4, r.counts
    assert r.task(2).error.type == "KeyboardInterrupt"


def test_a_tasks_own_keyboardinterrupt_is_its_error_where_ctrl_c_is_ignored():
    # A background job (`nohup python etl.py &`, a CI runner) starts with SIGINT ignored: no
    # Ctrl-C can raise there, so a KeyboardInterrupt is the task's own (seen in a CI clone).
    import signal

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        r = run(interrupt_on_two, range(5), "serial")
    except KeyboardInterrupt as exc:
        pytest.fail(f"the task's own KeyboardInterrupt stopped the run: {exc}")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert r.state == "finished" and r.counts["ok"] == 4, r.counts
    assert r.task(2).error.type == "KeyboardInterrupt"


def test_config_is_seen_by_threads_started_inside_the_block():
    from concurrent.futures import ThreadPoolExecutor

    with wb.config(backend="process_map", workers=WORKERS, view="none"):
        with ThreadPoolExecutor(2) as pool:
            runs = list(pool.map(lambda xs: wb.run(abs, xs), [[-1], [-2]]))
    assert [r.backend for r in runs] == ["process_map"] * 2
    assert [r.results for r in runs] == [[1], [2]]
    assert wb.run(abs, [-3], view="none").backend == "serial", "the block is over"
