"""What the code of a running task can use: :func:`current_task`, :func:`task_rng`,
:func:`task_seed_sequence`, and the :class:`TaskTimeout` it may see. Also the task's own
context, into which the capture hooks (:mod:`.hooks`) write what it prints and logs."""

from __future__ import annotations

import signal
import threading
from contextvars import ContextVar

from ..contract import STDERR

#: Default cap on what one task may write (stdout + stderr + logs + warnings), in characters.
MAX_OUTPUT = 1 << 20
#: Default cap on the number of ``logging`` records kept per task.
MAX_LOG_RECORDS = 10_000


class TaskTimeout(TimeoutError):
    """Raised inside a task that runs longer than the run's ``timeout``."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (or "Interrupt kernel") heard while a task ran in the caller's own process: it
    stops the run. A ``KeyboardInterrupt`` the task's code raises itself is that task's error,
    as on every other backend."""


def stops_the_run(exc: KeyboardInterrupt) -> bool:
    """Whether a KeyboardInterrupt that ended a task in the caller's own process is a Ctrl-C
    meant for the run (rather than one the task raised itself)."""
    if isinstance(exc, RunInterrupted):
        return True
    if threading.current_thread() is not threading.main_thread():
        return False  # Ctrl-C is delivered to the main thread only: the task raised it
    handler = signal.getsignal(signal.SIGINT)
    if handler in (signal.SIG_IGN, signal.SIG_DFL, None):
        return False  # Ctrl-C raises nothing here (ignored, as in a background job): the task
    # Without workbench's SIGINT handler (someone else's is installed) the two cannot be
    # told apart: let it stop the run, as a Ctrl-C must.
    return not getattr(handler, "workbench_guard", False)


class TaskContext:
    """What the code of one running task can ask about itself (see :func:`current_task`)."""

    __slots__ = ("index", "attempt", "seed", "output", "logs", "warnings", "_size", "_limit",
                 "_dropped", "started", "running")

    def __init__(self, index: int, attempt: int, seed: int, limit: int):
        self.index = index
        self.attempt = attempt
        self.seed = seed
        # when its task began (time.time()) and whether it runs now: what the live thread
        # (.live) reads; a context that stayed empty serves the next task of its chunk
        self.started, self.running = 0.0, False
        # what it wrote: runs of one stream, each a list of pieces joined once at the end
        # (adding to one string would copy it on every write: quadratic in the output)
        self.output: list[tuple[str, list[str]]] = []
        self.logs: list[tuple[str, str, str, float]] = []
        self.warnings: list[tuple[str, str, str, int]] = []
        self._size = 0
        self._limit = limit
        self._dropped = 0

    def write(self, stream: str, text: str) -> None:
        size = self._size + len(text)
        if size > self._limit:
            room = max(self._limit - self._size, 0)
            self._dropped += len(text) - room
            text, size = text[:room], self._size + room
        if not text:
            return
        self._size = size
        out = self.output
        if out and out[-1][0] is stream:  # consecutive writes to one stream make one run
            out[-1][1].append(text)
        else:
            out.append((stream, [text]))

    def finish_output(self) -> tuple[tuple[str, str], ...]:
        if not self.output and not self._dropped:
            return ()
        if self._dropped:
            self.output.append((STDERR, [f"\n[workbench: output truncated, {self._dropped} "
                                           f"more characters dropped (limit {self._limit})]\n"]))
        return tuple((stream, "".join(pieces)) for stream, pieces in self.output)

    def __repr__(self) -> str:
        return f"<TaskContext index={self.index} attempt={self.attempt}>"


#: The task running in this thread (a context variable: two tasks in two threads of one
#: worker never see each other's context).
current: ContextVar[TaskContext | None] = ContextVar("workbench_task", default=None)


def current_task() -> TaskContext | None:
    """The task running in this thread, or ``None`` outside a workbench task."""
    return current.get()


def task_seed_sequence():  # -> numpy.random.SeedSequence
    """The :class:`numpy.random.SeedSequence` of the running task.

    It is derived from the run's ``seed`` and the item's index only, so the same item gets the
    same random numbers on every backend, chunk size and attempt. Outside a task it is the
    sequence of the run seed 0 with no index.
    """
    import numpy as np

    ctx = current.get()
    if ctx is None:
        return np.random.SeedSequence(0)
    return np.random.SeedSequence(ctx.seed, spawn_key=(ctx.index,))


def task_rng():  # -> numpy.random.Generator
    """A :class:`numpy.random.Generator` seeded for the running task (see
    :func:`task_seed_sequence`).

    Examples
    --------
    >>> def calc_chunk(n):
    ...     xy = workbench.task_rng().random((n, 2))
    ...     return int(((xy ** 2).sum(axis=1) <= 1).sum())
    """
    import numpy as np

    return np.random.default_rng(task_seed_sequence())
