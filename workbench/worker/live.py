"""Live view of the tasks running in this process: what each has written since the last look,
sent to the caller every :data:`INTERVAL` seconds over the backend's own channel.

A task context is registered by :func:`watch` (from :mod:`.runner`, for a run that asked for
live output) and let go by :func:`unwatch`; its task runs while ``ctx.running``. One daemon
thread per process (:func:`start`) looks at them every :data:`INTERVAL` seconds and hands
:func:`collect`'s message to the backend's ``send``. It reads the task's own output buffer (the
:class:`.task_api.TaskContext` the capture hooks fill), with a cursor per task: the buffer only
grows by ``list.append``, so no lock stands between a printing task and this thread. While
tasks run, each look sends one small message (also the process's CPU and memory, which the
caller draws for a cluster it cannot measure itself); an idle worker sends nothing.

A chatty task is throttled: at most :data:`RATE` characters a second per task (bursts up to
:data:`BURST`) go live, the newest ones; what is left out is counted in the message, and the
task's record still holds all of it (within the output cap).

Messages are plain dicts of str keys, lists, str and numbers: Dask's events need msgpack.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from .task_api import TaskContext

#: Seconds between two looks at the running tasks.
INTERVAL = 0.5
#: Characters a second of one task's output sent live, and the most sent at once.
RATE, BURST = 8192, 32768


class _Watched:
    """One running task as the live thread sees it."""

    __slots__ = ("ctx", "run", "index", "attempt", "started", "t0", "run_at", "piece_at",
                 "tokens", "stamp", "held_back", "shown")

    def __init__(self, ctx: TaskContext, run: str, index: int, attempt: int, started: float,
                 t0: float):
        self.ctx, self.run, self.index, self.attempt = ctx, run, index, attempt
        self.started, self.t0 = started, t0  # time.time(), and the same on time.monotonic()
        self.run_at = self.piece_at = 0  # the cursor: runs of output, pieces in the last one
        self.tokens, self.stamp = float(BURST), self.t0
        self.held_back = 0
        self.shown = False  # sent at least once (a new task is sent even if silent)

    def new_text(self) -> list[list[str]]:
        """What the task wrote since the last look, as ``[stream, text]`` runs."""
        out, i, j = self.ctx.output, self.run_at, self.piece_at
        runs: list[list[str]] = []
        while i < len(out):
            stream, pieces = out[i]
            n = len(pieces)
            if j < n:
                runs.append([stream, "".join(pieces[j:n])])
            if i == len(out) - 1:
                j = n
                break
            i, j = i + 1, 0
        self.run_at, self.piece_at = i, j
        return runs

    def throttle(self, runs: list[list[str]], now: float) -> list[list[str]]:
        """Keep the newest characters within the task's budget; count the rest."""
        self.tokens = min(float(BURST), self.tokens + RATE * (now - self.stamp))
        self.stamp = now
        size = sum(len(text) for _, text in runs)
        if size <= self.tokens:
            self.tokens -= size
            return runs
        room, kept = int(self.tokens), []
        for stream, text in reversed(runs):
            if room <= 0:
                break
            kept.append([stream, text[-room:]])
            room -= len(kept[-1][1])
        kept.reverse()
        sent = sum(len(text) for _, text in kept)
        self.held_back += size - sent
        self.tokens -= sent
        return kept


# The task threads only add and remove entries here, each one atomic operation (no lock: a
# stopped Dask task is interrupted by an asynchronous exception, which must never leave a
# lock held), once per task context, not per task: a context that stayed empty serves the
# next task of its chunk, which only sets its ``index``, ``attempt``, ``started`` and
# ``running`` (a million tiny tasks pay nothing more). The live thread takes its snapshot in
# single operations and keeps its own bookkeeping of the tasks it has seen.
_lock = threading.Lock()  # (start() only)
_watching: dict[int, tuple[TaskContext, str]] = {}  # id(ctx) -> (ctx, run)
_seen: dict[int, _Watched] = {}  # the live thread's: id(ctx) -> the task it saw there
_thread: threading.Thread | None = None


def watch(ctx: TaskContext, run: str) -> None:
    """The tasks of the run ``run`` that use ``ctx`` are watched while ``ctx.running``."""
    _watching[id(ctx)] = (ctx, run)


def unwatch(ctx: TaskContext) -> None:
    """``ctx`` serves no more task."""
    _watching.pop(id(ctx), None)


def collect(worker: str, host: str) -> dict[str, Any] | None:
    """The message for the caller: the tasks that began or wrote since the last look and
    those that ended, or ``None`` if nothing changed."""
    now, wall = time.monotonic(), time.time()
    running = {}
    for ctx, run in list(_watching.values()):  # (one operation: tasks may change it meanwhile)
        started, index, attempt = ctx.started, ctx.index, ctx.attempt
        if ctx.running:
            running[id(ctx)] = (ctx, run, started, index, attempt)
    ended = []
    for key, w in list(_seen.items()):  # (a ctx in _seen is alive: its id cannot be reused)
        entry = running.get(key)
        if entry is None or entry[0] is not w.ctx or entry[2] != w.started:
            del _seen[key]
            if w.shown:
                ended.append([w.run, w.index, w.attempt])
    for key, (ctx, run, started, index, attempt) in running.items():
        if key not in _seen:
            _seen[key] = _Watched(ctx, run, index, attempt, started,
                                  now - max(wall - started, 0.0))
    watched = list(_seen.values())
    tasks = []
    for w in watched:
        runs = w.throttle(w.new_text(), now)
        if runs or not w.shown:
            w.shown = True
            tasks.append([w.run, w.index, w.attempt, w.started, now - w.t0, runs,
                          w.held_back])
    cpu, rss = _usage()  # (also when idle: the next reading then covers 0.5 s, not the idle time)
    if not watched and not ended:
        return None
    return {"worker": worker, "host": host, "pid": os.getpid(), "tasks": tasks,
            "ended": ended, "runs": sorted({w.run for w in watched}), "time": time.time(),
            "cpu": cpu, "rss": rss}


#: (pid, monotonic time, CPU seconds) of the last look (a forked child starts again)
_last: tuple[int, float, float] = (0, 0.0, 0.0)
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _usage() -> tuple[float | None, int]:
    """This process's CPU (percent of one core, since the last look; ``None`` at the first
    look, which only sets the baseline) and memory (RSS, from ``/proc``; 0 where there is
    none). The standard library only: worker code needs nothing else (psutil's
    ``cpu_percent`` primed and read at once also divided by almost no time: 8774 %)."""
    global _last
    now, used = time.monotonic(), time.process_time()
    try:
        with open("/proc/self/statm", "rb") as f:
            rss = int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        rss = 0
    pid, then, before = _last
    if pid != os.getpid():
        _last = (os.getpid(), now, used)
        return None, rss
    if now - then < 0.2:
        return None, rss  # too soon to say (the baseline stays)
    _last = (pid, now, used)
    return round(100.0 * (used - before) / (now - then), 1), rss


def start(send: Callable[[dict[str, Any]], None], worker: str, host: str) -> None:
    """Hand this process's live messages to ``send`` from now on, starting the live thread
    the first time. A ``send`` that fails drops that message: the records still carry every
    output."""
    global _thread, _target
    with _lock:
        _target = (send, worker, host)
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_loop, name="workbench-live", daemon=True)
            _thread.start()


_target: tuple[Callable[[dict[str, Any]], None], str, str] | None = None


def _loop() -> None:
    while True:
        time.sleep(INTERVAL)
        send, worker, host = _target  # type: ignore[misc]  # (set before the thread starts)
        message = collect(worker, host)
        if message is not None:
            try:
                send(message)
            except Exception:  # noqa: BLE001, S112 - the channel closed or is busy: next time
                continue
