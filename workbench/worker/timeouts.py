"""Per-task timeouts: :func:`deadline` raises :class:`.task_api.TaskTimeout` in a task that runs
too long, and :func:`overdue` names the tasks that did not stop (stuck in a C call), whose
process the caller must then kill or restart."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator

from .task_api import TaskTimeout


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
    fired = []  # a task that catches the TaskTimeout (``except Exception``) still timed out
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
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
        if fired:
            raise TaskTimeout(message)
        return
    import ctypes

    thread_id, lock, state = threading.get_ident(), threading.Lock(), {"over": False}
    set_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc

    def expire() -> None:
        with lock:
            if not state["over"]:
                state["fired"] = True
                set_exc(ctypes.c_ulong(thread_id), ctypes.py_object(TaskTimeout))

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    _timed[thread_id] = (time.monotonic() + seconds, index)
    try:
        yield
    finally:
        _timed.pop(thread_id, None)
        with lock:
            state["over"] = True
            timer.cancel()
            if state.get("fired"):  # the task ended meanwhile: drop a pending exception
                set_exc(ctypes.c_ulong(thread_id), None)
    if state.get("fired"):
        raise TaskTimeout(message)


#: thread id -> (deadline, task index) of timed tasks running in threads other than main.
_timed: dict[int, tuple[float, int]] = {}


def overdue(grace: float) -> list[int]:
    """Indices of timed tasks running in this process more than ``grace`` seconds past their
    deadline: stuck in a C call the asynchronous TaskTimeout cannot interrupt. Their process
    must be restarted to stop them (the caller of a Dask cluster asks for this)."""
    now = time.monotonic()
    return [index for end, index in list(_timed.values()) if now > end + grace]
