"""Per-task timeouts: :func:`deadline` raises :class:`.task_api.TaskTimeout` in a task that runs
too long; :func:`overdue` names the tasks that did not stop (stuck in a C call, or with the
alarm signal blocked), whose process must then be ended: by the caller (``process_map``, Dask)
or, where the caller cannot tell which process runs them (Ray), by :func:`watch` in the worker
itself."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator

from .task_api import TaskTimeout

#: thread id -> (deadline, task index) of the timed tasks running in this process.
_timed: dict[int, tuple[float, int]] = {}


@contextlib.contextmanager
def deadline(seconds: float | None, index: int) -> Iterator[None]:
    """Raise :class:`TaskTimeout` in the running task after ``seconds``.

    In a process's main thread an interval timer (SIGALRM) interrupts even a sleeping task;
    in other threads (a Dask worker's) the exception is set asynchronously and lands at the
    next Python instruction. Code stuck inside one C call notices it only when that returns.
    """
    if seconds is None:
        yield
        return
    message = f"task {index} ran longer than the timeout of {seconds:g} s"
    fired: list[bool] = []  # a task that catches its TaskTimeout still timed out
    thread_id = threading.get_ident()
    _timed[thread_id] = (time.monotonic() + seconds, index)
    try:
        if threading.current_thread() is threading.main_thread() and hasattr(signal,
                                                                             "setitimer"):
            with _alarm(seconds, message, fired):
                yield
        else:
            with _async_exception(seconds, thread_id, fired):
                yield
    finally:
        _timed.pop(thread_id, None)
    if fired:
        raise TaskTimeout(message)


@contextlib.contextmanager
def _alarm(seconds: float, message: str, fired: list[bool]) -> Iterator[None]:
    def alarm(signum, frame):  # noqa: ANN001 - hidden in tracebacks (see encoding)
        fired.append(True)
        raise TaskTimeout(message)

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _async_exception(seconds: float, thread_id: int, fired: list[bool]) -> Iterator[None]:
    import ctypes

    lock, over = threading.Lock(), []
    set_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc

    def expire() -> None:
        with lock:
            if not over:
                fired.append(True)
                set_exc(ctypes.c_ulong(thread_id), ctypes.py_object(TaskTimeout))

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            over.append(True)
            timer.cancel()
            if fired:  # the task ended meanwhile: drop a pending exception
                set_exc(ctypes.c_ulong(thread_id), None)


def overdue(grace: float) -> list[int]:
    """Indices of timed tasks running in this process more than ``grace`` seconds past their
    deadline: stuck where the TaskTimeout cannot reach them."""
    now = time.monotonic()
    return [index for end, index in list(_timed.values()) if now > end + grace]


_watching: list[threading.Thread] = []


def watch(grace: float, act: Callable[[list[int]], None], every: float = 0.25) -> None:
    """In this process, call ``act(indices)`` (once) when timed tasks are :func:`overdue`
    by ``grace``; ``act`` is expected to end the process. A thread of its own checks, so it
    runs while a task waits in a C call that releases the GIL (a sleep, a read, most I/O)."""
    if _watching:
        return

    def loop() -> None:
        while True:
            time.sleep(every)
            stuck = overdue(grace)
            if stuck:
                act(stuck)
                return

    thread = threading.Thread(target=loop, name="workbench-timeout-watch", daemon=True)
    _watching.append(thread)
    thread.start()
