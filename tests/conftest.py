"""Shared fixtures: the real backends (started once per session, Ray above all) and a check
that no test leaves a process behind."""

from __future__ import annotations

import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import tempfile
import time

import psutil
import pytest

import workbench as wb
from workbench import backends

# Every run is journaled (workbench.journal): the suite's runs, and the tutorials' kernels
# (which inherit this environment), go to a folder of their own, never the user's.
os.environ["WORKBENCH_JOURNAL_DIR"] = tempfile.mkdtemp(prefix="workbench-test-runs-")

ALL_BACKENDS = ["serial", "process_map", "dask", "ray"]
PARALLEL = ["process_map", "dask", "ray"]
#: One setting per backend for the whole session, so the warm backend is reused (Ray's start
#: costs seconds here).
WORKERS = 2


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI (``.ci/run`` sets ``CI=true``) a skip is a failure: everything the suite
    needs is installed there, so a skip could only hide a test that never ran."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, where all it needs is installed: {reason}"


def _stdlib_helpers() -> set[int]:
    """multiprocessing's own singletons (forkserver, resource tracker) live until exit."""
    pids = set()
    for obj, attr in ((multiprocessing.forkserver._forkserver, "_forkserver_pid"),
                      (multiprocessing.resource_tracker._resource_tracker, "_pid")):
        pid = getattr(obj, attr, None)
        if pid:
            pids.add(pid)
    return pids


def _children() -> dict[int, psutil.Process]:
    return {p.pid: p for p in psutil.Process().children(recursive=True)}


def _allowed() -> set[int]:
    pids = _stdlib_helpers()
    for backend in backends.live().values():
        pids.update(p.pid for p in backend.processes())
    return pids


@pytest.fixture(autouse=True)
def no_leaked_processes():
    """Fail a test that leaves a child process behind that no warm backend owns."""
    before = set(_children())
    yield
    deadline = time.monotonic() + 5
    while True:
        leaked = [p for pid, p in _children().items()
                  if pid not in before and pid not in _allowed() and _alive(p)]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if leaked:
        names = [f"{p.pid} {_cmd(p)}" for p in leaked]
        for p in leaked:
            try:
                p.kill()
            except psutil.Error:
                pass
        pytest.fail(f"test left {len(leaked)} child process(es) behind: {names}")


@pytest.fixture(autouse=True)
def sigint_left_as_found():
    """Fail a test after which Ctrl-C is handled differently (and put Python's own handler
    back): workbench's guard only takes Ctrl-C over from Python's default handler, so a
    handler left behind would change what a later run does with a task's KeyboardInterrupt."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before, setter = signal.getsignal(signal.SIGINT), signal.signal
    yield
    after, patched = signal.getsignal(signal.SIGINT), signal.signal is not setter
    if after is not before or patched:
        signal.signal = setter  # (Ray's DeferSigint replaces it while it defers Ctrl-C)
        signal.signal(signal.SIGINT, before)
        pytest.fail(f"test left SIGINT handled by {after!r} (it was {before!r})"
                    + (", and signal.signal replaced" if patched else ""))


def tagged(variable: str, value: str | None = None) -> list[psutil.Process]:
    """Live processes whose environment has ``variable`` (set to ``value``, if given): a
    marker a test puts in a child's environment finds every process that child started, also
    those that left its process group or were re-parented."""
    found = []
    for p in psutil.process_iter():
        try:
            env = p.environ()
            if variable in env and value in (None, env[variable]) and _alive(p):
                found.append(p)
        except psutil.Error:
            continue
    return found


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _cmd(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())[:120]
    except psutil.Error:
        return "?"


@pytest.fixture(scope="session", autouse=True)
def shutdown_at_end():
    """After the session every backend is shut down and no child process remains."""
    yield
    wb.shutdown()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        left = [p for pid, p in _children().items()
                if pid not in _stdlib_helpers() and _alive(p)]
        if not left:
            return
        time.sleep(0.2)
    raise AssertionError(f"processes left after workbench.shutdown(): "
                         f"{[(p.pid, _cmd(p)) for p in left]}")


@pytest.fixture(params=ALL_BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(params=PARALLEL)
def parallel_backend(request) -> str:
    return request.param


def run(fn, items, backend, **kwargs):
    """``workbench.run`` with the session's settings (so warm backends are reused)."""
    kwargs.setdefault("workers", WORKERS)
    kwargs.setdefault("view", "none")
    return wb.run(fn, items, backend=backend, **kwargs)


@pytest.fixture
def in_pid() -> int:
    return os.getpid()
