"""Runs that overlap: two threads on one backend, a serial run inside a serial task, and
``shutdown()`` from another thread while a run goes. Never a hang, never mixed records."""

from __future__ import annotations

import threading
import time
import warnings

import pytest

import workbench as wb
from conftest import run


def double(x):
    return 2 * x


def negate(x):
    time.sleep(0.002)
    return -x


def test_two_threads_on_one_backend_each_get_their_own_records(backend):
    results: dict[str, list] = {}
    errors: list[BaseException] = []

    def go(name, fn):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # "waiting for the run ..."
                results[name] = run(fn, range(200), backend, chunksize=7).results
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=("double", double)),
               threading.Thread(target=go, args=("negate", negate))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a run hung"
    assert not errors, errors
    assert results["double"] == [2 * i for i in range(200)]
    assert results["negate"] == [-i for i in range(200)]


def inner_serial(x):
    return sum(wb.run(double, range(x), backend="serial", view="none").results)


def test_a_serial_run_inside_a_serial_task():
    r = run(inner_serial, range(5), "serial")
    assert r.results == [0, 0, 2, 6, 12], r.errors


def test_a_nested_run_on_the_same_backend_in_the_same_thread_is_one_clear_error():
    def nested(x):
        return wb.run(double, [x], backend="process_map", workers=2, view="none").results

    def observer(event):
        if type(event).__name__ == "BackendReady" and not seen:
            try:
                nested(1)
                seen.append("no error")
            except wb.InputError as exc:
                seen.append(str(exc))

    seen: list = []
    r = run(double, range(4), "process_map", observers=[observer])
    assert len(seen) == 1 and "already going in this thread" in seen[0], seen
    assert r.results == [0, 2, 4, 6]


@pytest.mark.parametrize("backend", ["process_map", "dask"])
def test_shutdown_from_another_thread_stops_the_run_and_keeps_what_finished(backend):
    warm = run(double, range(2), backend)
    box: dict = {}

    def go():
        box["run"] = run(time.sleep, [0.2] * 60, backend, chunksize=1)

    t = threading.Thread(target=go)
    t.start()
    deadline = time.monotonic() + 60
    while (wb.last_run() is warm or wb.last_run().done < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    wb.shutdown(backend)
    t.join(40)
    assert not t.is_alive(), "the run hung after shutdown()"
    r = box["run"]
    c = r.counts
    assert r.state == "cancelled" and c["pending"] == 0 and c["ok"] >= 2 and c["cancelled"] > 0
    assert run(double, range(3), backend).results == [0, 2, 4], "the next run starts afresh"
