"""The backend contract: the same behaviour on serial, process_map, dask and ray, checked on
the real backends (a real process pool, a real Dask LocalCluster, a real local Ray)."""

from __future__ import annotations

import logging
import os
import random
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench as wb
from conftest import run

log = logging.getLogger("tests.contract")


def slow_identity(x):
    time.sleep(random.Random(x).uniform(0, 0.02))
    return x


def test_results_in_input_order(backend):
    r = run(slow_identity, range(30), backend, chunksize=1)
    assert r.results == list(range(30))
    assert [t.index for t in r.tasks] == list(range(30))
    assert r.state == "finished" and r.ok


def fail_on_multiples_of_7(x):
    if x % 7 == 0:
        raise ValueError(f"bad item {x}")
    return x * 10


def test_errors_keep_other_results_and_carry_tracebacks(backend):
    r = run(fail_on_multiples_of_7, range(20), backend)
    failed = [0, 7, 14]
    assert [e.index for e in r.errors] == failed
    for i, value in enumerate(r.results):
        if i in failed:
            assert isinstance(value, wb.Failed) and value.status == "error"
            assert value != None  # noqa: E711 - never silently None
        else:
            assert value == i * 10
    err = r.task(7).error
    assert (err.type, err.message) == ("ValueError", "bad item 7")
    assert "fail_on_multiples_of_7" in err.traceback
    assert 'raise ValueError(f"bad item {x}")' in err.traceback
    assert "workbench" not in err.traceback.split("fail_on_multiples_of_7")[0].split("\n", 1)[1]
    assert isinstance(err.exception, ValueError) and err.exception.args == ("bad item 7",)
    assert r.counts["ok"] == 17 and r.counts["error"] == 3
    with pytest.raises(wb.TaskErrors) as info:
        r.raise_for_errors()
    text = str(info.value)
    assert text.startswith("3 of 20 tasks failed in fail_on_multiples_of_7")
    assert "task 14: error: ValueError: bad item 14" in text
    assert len(info.value.errors) == 3


def chatty(x):
    print(f"out {x}")
    print(f"err {x}", file=sys.stderr)
    log.warning("log %s", x)
    log.info("info %s", x)
    warnings.warn(f"warn {x}", UserWarning, stacklevel=1)
    time.sleep(0.002)
    print(f"out2 {x}")
    return x


def test_output_is_captured_per_task_and_never_mixed(backend):
    r = run(chatty, range(24), backend, chunksize=3)
    for t in r.tasks:
        i = t.index
        assert t.stdout == f"out {i}\nout2 {i}\n"
        assert t.stderr == f"err {i}\n"
        assert [(e.level, e.logger, e.message) for e in t.logs] == [
            ("WARNING", "tests.contract", f"log {i}"), ("INFO", "tests.contract", f"info {i}")]
        assert [(w.category, w.message) for w in t.warnings] == [("UserWarning", f"warn {i}")]
        assert r.logs[i].startswith(f"out {i}\nerr {i}\nWARNING:tests.contract:log {i}\n")
        assert r.logs[i].endswith(f"out2 {i}\n")


def test_serial_capture_restores_the_callers_streams_and_logging():
    stdout, stderr, level = sys.stdout, sys.stderr, logging.getLogger().level
    handlers = list(logging.getLogger().handlers)
    run(chatty, range(3), "serial")
    assert (sys.stdout, sys.stderr) == (stdout, stderr)
    assert logging.getLogger().level == level
    assert logging.getLogger().handlers == handlers


def test_generator_input(backend):
    r = run(lambda x: x * x, (i for i in range(12)), backend)
    assert r.results == [i * i for i in range(12)]


def test_array_and_series_input(backend):
    r = run(lambda x: float(x) * 2, np.arange(5), backend)
    assert r.results == [0.0, 2.0, 4.0, 6.0, 8.0]
    r = run(lambda x: x.upper(), pd.Series(["a", "b", "c"]), backend)
    assert r.results == ["A", "B", "C"]


def test_empty_input(backend):
    r = run(lambda x: x, [], backend)
    assert r.results == [] and r.tasks == [] and r.errors == []
    assert r.state == "finished" and r.serial_time == 0


def test_star_calls_with_unpacked_tuples(backend):
    r = run(lambda a, b: a - b, [(5, 1), (10, 3)], backend, star=True)
    assert r.results == [4, 7]


def test_ten_thousand_tiny_items_travel_in_chunks(backend):
    r = run(lambda x: x + 1, range(10_000), backend)
    assert r.results == list(range(1, 10_001))
    assert len(r.tasks) == 10_000 and {t.status for t in r.tasks} == {"ok"}
    assert sum(r.chunk_sizes) == 10_000
    assert len(r.chunk_sizes) < 200, "auto chunking should group tiny tasks"
    assert max(r.chunk_sizes) > 100


def test_records_say_when_and_where(backend, in_pid):
    before = time.time()
    r = run(slow_identity, range(6), backend)
    after = time.time()
    for t in r.tasks:
        assert before <= t.submitted <= t.start <= t.end <= t.received <= after
        assert t.duration == t.end - t.start
        assert t.attempt == 1 and t.host and t.worker
        assert (t.pid == in_pid) == (backend == "serial")
    assert r.serial_time == pytest.approx(sum(t.duration for t in r.tasks))
    assert r.wall_time > 0 and r.speedup == pytest.approx(r.serial_time / r.wall_time)


def _meet(args):
    """Each of two tasks waits until both have started: they can only both return if two
    workers run them at the same time (one worker alone would wait for the other in vain)."""
    folder, i = args
    Path(folder, f"{i}-{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while len(os.listdir(folder)) < 2:
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)
    return os.getpid()


def test_parallel_backends_run_tasks_on_several_workers_at_once(parallel_backend, tmp_path):
    r = run(_meet, [(str(tmp_path), 0), (str(tmp_path), 1)], parallel_backend, chunksize=1)
    assert None not in r.results, "the two tasks never ran at the same time"
    assert len(set(r.results)) == 2 and len({t.worker for t in r.tasks}) == 2


@pytest.mark.parametrize("name", ["process_map", "dask"])
def test_workers_none_means_every_core(name):
    r = run(lambda x: os.getpid(), range(4), name, workers=None)
    assert r.workers == os.cpu_count() and r.results and os.getpid() not in r.results


def test_warm_backend_pays_no_startup_the_second_time(backend):
    from workbench import backends

    first = run(lambda x: os.getpid(), range(4), backend, chunksize=1)
    warm = backends.live().get(backend)  # (serial: none; each serial run is its own)
    again = run(lambda x: os.getpid(), range(4), backend, chunksize=1)
    assert first.startup_time >= 0 and again.startup_time == 0
    if backend != "serial":  # the very backend the first run started, not a new one
        assert backends.live()[backend] is warm and warm.alive
        assert os.getpid() not in again.results


class Unpicklable:
    def __reduce__(self):
        raise TypeError("no pickling for you")


def test_unpicklable_result_becomes_an_error_record(backend):
    r = run(lambda x: Unpicklable() if x == 1 else x, range(3), backend)
    if backend == "serial":  # nothing travels, so nothing needs pickling
        assert r.ok
        return
    assert r.results[0] == 0 and r.results[2] == 2
    err = r.task(1).error
    assert err.type == "UnpicklableResult"
    assert "cannot be sent back" in err.message and "no pickling for you" in err.message


class PickyError(Exception):
    """An exception that pickles but cannot be rebuilt (its __init__ needs two arguments)."""

    def __init__(self, a, b):
        super().__init__(f"{a}/{b}")


def raise_picky(x):
    if x == 2:
        raise PickyError("x", x)
    return x


def test_exception_that_cannot_travel_is_kept_as_text(backend):
    r = run(raise_picky, range(4), backend)
    assert r.results[:2] == [0, 1] and r.results[3] == 3
    err = r.task(2).error
    assert err.type == "PickyError" and err.message == "x/2"
    assert "raise PickyError" in err.traceback
    if backend == "serial":
        assert isinstance(err.exception, PickyError)
    else:
        assert err.exception is None


def random_draw(x):
    return float(wb.task_rng().random())


def test_seeds_give_the_same_numbers_on_every_backend_and_chunk_size(backend):
    expected = run(random_draw, range(12), "serial").results
    assert len(set(expected)) == 12
    assert run(random_draw, range(12), backend, chunksize=1).results == expected
    assert run(random_draw, range(12), backend, chunksize=5).results == expected
    assert run(random_draw, range(12), backend, seed=1).results != expected


def fail_first_attempt(x):
    if x % 2 and wb.current_task().attempt == 1:
        raise RuntimeError(f"flaky {x}")
    return x


def test_retries_rerun_failed_tasks_and_keep_every_attempt(backend):
    r = run(fail_first_attempt, range(6), backend, retries=1)
    assert r.results == list(range(6))
    assert [t.attempt for t in r.tasks] == [1, 2, 1, 2, 1, 2]
    assert sorted((h.index, h.attempt, h.status) for h in r.history) == [
        (1, 1, "error"), (3, 1, "error"), (5, 1, "error")]
    no_retry = run(fail_first_attempt, range(6), backend)
    assert [e.index for e in no_retry.errors] == [1, 3, 5]


def fail_while_flag_exists(item):
    index, flag = item
    if index % 3 == 0 and os.path.exists(flag):
        raise OSError(f"file {index} is corrupt")
    return index


def test_rerun_failed_runs_only_the_failed_items(backend, tmp_path):
    flag = tmp_path / "corrupt"
    flag.touch()
    items = [(i, str(flag)) for i in range(10)]
    r = run(fail_while_flag_exists, items, backend)
    assert [e.index for e in r.errors] == [0, 3, 6, 9]
    flag.unlink()
    again = r.rerun_failed()
    assert again.indices == [0, 3, 6, 9] and again.ok
    assert again.results == [0, 3, 6, 9]
    assert again.task(6).value == 6 and again.backend == backend


def test_cancel_from_another_thread_keeps_finished_results(backend):
    before = wb.last_run()
    cancelled_at = []

    def stop_once_running():
        while (current := wb.last_run()) is before or current is None or current.done < 1:
            time.sleep(0.02)
        cancelled_at.append(time.monotonic())
        current.cancel()

    threading.Thread(target=stop_once_running, daemon=True).start()
    r = run(lambda x: time.sleep(0.1) or x, range(100), backend, chunksize=1)
    returned_at = time.monotonic()
    assert r.state == "cancelled"
    c = r.counts
    assert c["ok"] >= 1 and c["cancelled"] >= 50 and c["pending"] == 0
    assert all(r.results[t.index] == t.index for t in r.tasks if t.ok)
    # the promise: a stopped run returns within about 2 s (tasks of 0.1 s end meanwhile)
    assert returned_at - cancelled_at[0] < 2.5
    assert run(lambda x: x, [1, 2], backend).results == [1, 2], "backend usable afterwards"


def spin_on_four(x):
    if x == 4:
        while True:  # a hung task that never sleeps or returns
            pass
    return x


def test_timeout_fails_the_hung_task_alone(backend):
    run(lambda x: x, [0], backend)  # warm: time the run, not the start-up
    r = run(spin_on_four, range(8), backend, timeout=0.5, chunksize=1)
    # the README's promise: TaskTimeout within the timeout + 3 s (task 4 starts at once)
    assert r.task(4).received - r.started_at < 0.5 + 3
    assert [e.index for e in r.errors] == [4]
    err = r.task(4).error
    assert err.type == "TaskTimeout"
    assert err.message == "task 4 ran longer than the timeout of 0.5 s"
    assert "while True" in err.traceback and "alarm" not in err.traceback
    assert [v for i, v in enumerate(r.results) if i != 4] == [0, 1, 2, 3, 5, 6, 7]
    assert run(lambda x: x, [1], backend, timeout=5).results == [1], "usable afterwards"
