"""The records the caller writes itself for tasks whose chunk ended without reporting them:
cancelled (the run was stopped), lost (their worker died), or failed with ``TaskTimeout``
(their worker was ended for running past the timeout). :mod:`workbench.loop` decides which
tasks those are; this module only says what their records hold."""

from __future__ import annotations

import time

from .contract import STOPPED, TIMEOUT, Loss
from .records import CANCELLED, ERROR, LOST, TaskError, TaskRecord

Task = tuple[int, int]  # (index, attempt)


def never_started(tasks: list[Task], now: float) -> list[TaskRecord]:
    """Records of the tasks still queued when the run was stopped."""
    error = TaskError("Cancelled", "the run was stopped before this task started", "")
    return [TaskRecord(index=i, status=CANCELLED, attempt=a, submitted=None, received=now,
                       error=error) for i, a in tasks]


def suspected(tasks: list[Task], loss: Loss, submitted: float) -> list[TaskRecord]:
    """Records of the tasks of a lost chunk that are run again alone."""
    now = time.time()
    message = (f"{loss.message}; it was in the chunk that was running, so it may have "
               "run: run again alone to find the task that killed the worker")
    return [TaskRecord(index=i, status=LOST, attempt=a, submitted=submitted, received=now,
                       error=TaskError("WorkerLost", message, "")) for i, a in tasks]


def unrecorded(tasks: list[Task], loss: Loss | None, submitted: float,
               stopped: bool) -> list[TaskRecord]:
    """Final records of tasks that never reported; ``stopped``: the run was stopped."""
    if stopped:
        status, error = CANCELLED, TaskError("Cancelled", "the run was stopped", "")
    elif loss is None:
        status, error = LOST, TaskError("WorkerLost", "the worker returned no record", "")
    elif loss.kind == TIMEOUT:  # its worker was killed: the task failed, it was not lost
        now = time.time()
        return [TaskRecord(index=i, status=ERROR, attempt=a, submitted=submitted,
                           received=now, error=TaskError(
                               "TaskTimeout", f"task {i} {loss.message}", ""))
                for i, a in tasks]
    elif loss.kind == STOPPED:
        status, error = CANCELLED, TaskError("Cancelled", loss.message, "")
    else:
        status, error = LOST, TaskError("WorkerLost", loss.message, "")
    now = time.time()
    return [TaskRecord(index=i, status=status, error=error, attempt=a,
                       submitted=submitted, received=now) for i, a in tasks]
