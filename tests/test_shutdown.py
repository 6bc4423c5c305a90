"""shutdown() stops a warm backend's processes, can be called again and again, and the next
run starts the backend anew. (Last file: Ray is restarted here.)"""

from __future__ import annotations

import time

import psutil

import workbench as wb
from conftest import run
from workbench import backends


def test_shutdown_is_idempotent_and_leaves_no_process(backend):
    run(abs, [-1], backend)
    # serial keeps nothing warm: each run has its own (it runs in the caller)
    processes = backends.live()[backend].processes() if backend != "serial" else []
    if backend != "serial":
        assert processes, "a parallel backend has worker processes"
    wb.shutdown(backend)
    wb.shutdown(backend)
    wb.shutdown()
    assert backend not in backends.live()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in processes):
        time.sleep(0.1)
    assert not [p.pid for p in processes if _alive(p)]
    again = run(abs, [-2], backend)
    assert again.results == [2] and (again.startup_time > 0 or backend == "serial")
    wb.shutdown()


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
