"""The caller's view of the tasks running now (:meth:`Run.running`), kept from the live
messages the workers send (:mod:`workbench.worker.live`) while their tasks run.

A task leaves the view when its record arrives, or when its worker says it ended (on Dask and
Ray a chunk's records come only when the whole chunk is done). Messages for a task that already
has a record are dropped: live messages and records travel by different paths. Each task keeps
the newest :data:`KEEP` characters of its output here; its record keeps all of it (within the
output cap). Nothing here is journaled: it is a view, and the record is the truth.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Characters of a running task's output kept for the view.
KEEP = 64 * 1024
#: Fewest seconds between two ``TasksRunning`` events.
EVENT_INTERVAL = 0.5
#: Seconds after which the running tasks are told again though none wrote or changed: their
#: elapsed times grow (a silent task can become a straggler).
REFRESH = 1.0
#: A task is a straggler past this many times the median duration of the finished tasks,
#: once at least STRAGGLER_BASE of them have finished.
STRAGGLER_FACTOR, STRAGGLER_BASE = 3.0, 5


def straggler_limit(run: Any) -> float | None:
    """Seconds past which a task of ``run`` is a straggler (``None``: too few finished)."""
    import numpy as np

    durations = run._records.durations(ok_only=True)
    if len(durations) < STRAGGLER_BASE:
        return None
    return STRAGGLER_FACTOR * float(np.median(durations))


@dataclass(frozen=True)
class RunningTask:
    """One task running now, as its worker last described it."""

    index: int
    attempt: int
    worker: str
    host: str
    pid: int | None
    started: float  # time.time() on the worker when the task began
    elapsed: float  # seconds it has run, now
    output: str  # what it wrote so far (its newest KEEP characters)
    held_back: int  # characters not sent live, for a task printing faster than the budget

    @property
    def last_line(self) -> str:
        """The last line it wrote that is not blank."""
        for line in reversed(self.output.splitlines()):
            if line.strip():
                return line
        return ""


class _Entry:
    __slots__ = ("index", "attempt", "worker", "host", "pid", "started", "elapsed", "seen",
                 "pieces", "size", "held_back")

    def __init__(self, index: int, attempt: int, message: dict[str, Any]):
        self.index, self.attempt = index, attempt
        self.worker, self.host, self.pid = message["worker"], message["host"], message["pid"]
        self.pieces: list[str] = []
        self.size = 0
        self.started = self.elapsed = self.seen = 0.0
        self.held_back = 0

    def add(self, text: str) -> None:
        self.pieces.append(text)
        self.size += len(text)
        if self.size > 2 * KEEP:  # trim now and then, not on every piece
            kept = "".join(self.pieces)[-KEEP:]
            self.pieces, self.size = [kept], len(kept)

    def view(self, now: float) -> RunningTask:
        text = "".join(self.pieces)[-KEEP:]
        if self.held_back:
            text = (f"[workbench: live output throttled, {self.held_back} characters not "
                    f"shown here; the task's record keeps them]\n{text}")
        return RunningTask(self.index, self.attempt, self.worker, self.host, self.pid,
                           self.started, self.elapsed + (now - self.seen), text,
                           self.held_back)


class LiveTasks:
    """The running tasks of one run (``run_id``), fed by the backend's live messages."""

    def __init__(self, run_id: str, has_record: Callable[[int, int], bool],
                 notify: Callable[[list[RunningTask]], None] | None = None):
        self.run_id = run_id
        self._has_record = has_record  # (index, attempt) -> whether its record is in
        self._notify = notify
        self._lock = threading.Lock()
        self._tasks: dict[tuple[int, int], _Entry] = {}
        self._usage: list[Any] = []  # the workers' own CPU and memory readings (Samples)
        self._changed = False
        self._last_event = 0.0

    def receive(self, message: dict[str, Any]) -> None:
        """One worker's message (see :func:`workbench.worker.live.collect`)."""
        now = time.monotonic()
        with self._lock:
            for run, index, attempt, started, elapsed, runs, held_back in message["tasks"]:
                key = (index, attempt)
                if run != self.run_id:
                    continue
                entry = self._tasks.get(key)
                if entry is None:
                    if self._has_record(index, attempt):
                        continue  # (its record came first, by the other path)
                    entry = self._tasks[key] = _Entry(index, attempt, message)
                entry.started, entry.elapsed, entry.seen = started, elapsed, now
                entry.held_back = held_back
                for _stream, text in runs:
                    entry.add(text)
            for run, index, attempt in message["ended"]:
                if run == self.run_id:
                    self._tasks.pop((index, attempt), None)
            self._changed = self._changed or bool(message["tasks"] or message["ended"])
            if self.run_id in message["runs"] and message["cpu"] is not None:
                # (a shared Dask topic: others' workers too; no CPU yet at a first look)
                self._usage.append((message["time"], message["pid"], message["cpu"],
                                    message["rss"]))
        self.tell()

    def finished(self) -> None:
        """Records came: the tasks they belong to are not running any more (a look at the
        few running ones, not at each record: a batch may hold a million)."""
        with self._lock:
            for key in [k for k in self._tasks if self._has_record(*k)]:
                del self._tasks[key]
                self._changed = True

    def usage(self) -> list[tuple[float, int, float, int]]:
        """The workers' own CPU and memory readings since the last call: ``(time, pid, cpu,
        rss)``, for a cluster this machine cannot measure (see :mod:`workbench.sampler`)."""
        with self._lock:
            taken, self._usage = self._usage, []
        return taken

    def running(self) -> list[RunningTask]:
        """The tasks running now, by index."""
        now = time.monotonic()
        with self._lock:
            entries = sorted(self._tasks.values(), key=lambda e: (e.index, e.attempt))
            return [e.view(now) for e in entries]

    def tell(self, force: bool = False) -> None:
        """Hand the running tasks to the observers if they changed (or every
        :data:`REFRESH` seconds while any runs), at most every :data:`EVENT_INTERVAL`
        seconds (``force``: now, e.g. once the run ends)."""
        if self._notify is None:
            return
        now = time.monotonic()
        with self._lock:
            due = self._changed or (self._tasks and now - self._last_event >= REFRESH)
            if not due or (not force and now - self._last_event < EVENT_INTERVAL):
                return
            self._changed, self._last_event = False, now
        self._notify(self.running())

    def close(self) -> None:
        """The run is over: nothing runs any more."""
        with self._lock:
            self._changed = self._changed or bool(self._tasks)
            self._tasks.clear()
        self.tell(force=True)


def attach(run: Any, backend: Any, settings: dict[str, Any],
           notify: Callable[[Any], None]) -> LiveTasks | None:
    """Give ``run`` its live view and point ``backend``'s live messages at it (``None``:
    the run asked for no live output, ``live=False``)."""
    if not settings.get("live", True):
        return None
    import uuid

    from .events import TasksRunning

    def has_record(index: int, attempt: int) -> bool:
        got = run._records.attempt_of(index)
        return got is not None and got >= attempt

    live = LiveTasks(uuid.uuid4().hex[:12], has_record,
                     lambda tasks: notify(TasksRunning(run, tuple(tasks))))
    run.live = live
    backend.live_to(live.receive)
    return live


def detach(live: LiveTasks | None, run: Any, backend: Any) -> None:
    """The run is over: its backend's live messages go nowhere, its view is empty."""
    if live is not None:
        backend.live_to(None)
        live.close()
        run.live = None
