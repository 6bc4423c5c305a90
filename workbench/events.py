"""What the engine tells views while a run goes. Views consume these; they never touch backends.

An observer is any callable taking one event. Events are delivered in the thread that called
:func:`workbench.run` (in a notebook: the cell's thread), never from a background thread; the
exceptions: the run of a joblib call (:mod:`workbench.joblib_bridge`), whose loop has a thread
of its own while joblib waits in the caller's, as joblib's own backends do; and
:class:`TasksRunning` on ``serial``, whose tasks run in the caller's thread, so that their
live output comes from workbench's live thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .live import RunningTask
    from .records import TaskRecord
    from .result import Run


@dataclass(frozen=True)
class RunStarted:
    """The run exists and knows its items; its backend may still be starting."""

    run: Run


@dataclass(frozen=True)
class BackendReady:
    """The backend is up (``run.startup_time`` is known) and tasks are being submitted."""

    run: Run


@dataclass(frozen=True)
class TasksFinished:
    """Some tasks have final (or retried) records."""

    run: Run
    records: tuple[TaskRecord, ...]


@dataclass(frozen=True)
class TasksRunning:
    """The tasks running now changed (one began, wrote or ended): at most twice a second."""

    run: Run
    tasks: tuple[RunningTask, ...]


@dataclass(frozen=True)
class RunFinished:
    """Every task has a final record (``ok``, ``error``, ``lost`` or ``cancelled``)."""

    run: Run


Event = RunStarted | BackendReady | TasksFinished | TasksRunning | RunFinished
Observer = Callable[[Event], None]
