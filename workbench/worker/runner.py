"""The worker's entry point: :func:`run_chunk` runs the items of one chunk and returns a
:class:`~workbench.contract.ChunkReport`. Every backend calls it, ``serial`` included (in the
caller's own process, where nothing is pickled)."""

from __future__ import annotations

import logging
import os
import pickle
import socket
import time
import warnings
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..contract import ERROR, OK, OK_PLAIN, ChunkReport, QuietColumns, RawError, RawRecord
from . import functions, hooks, live
from .encoding import PLAIN, encode_error, encode_value
from .nested import guard_nested_processes
from .task_api import MAX_OUTPUT, TaskContext, TaskTimeout, current, stops_the_run
from .timeouts import deadline

#: How often (seconds) a streaming worker sends the records it has finished.
FLUSH_INTERVAL = 0.05
HOST = socket.gethostname()
_reset_warning_registries = getattr(warnings, "_filters_mutated", None)


@dataclass(frozen=True)
class TaskOptions:
    """How the worker runs each item; the same for every chunk of a run."""

    star: bool = False
    seed: int = 0
    encode: bool = True  # a worker process: pickle values and exceptions (False: the caller's)
    max_output: int = MAX_OUTPUT
    capture_level: int = logging.INFO
    timeout: float | None = None  # seconds per task
    live: str | None = None  # the run's id, if its running tasks' output is sent live


def run_chunk(fn: Callable[..., Any] | tuple[bytes, Any], tasks: Any, items: Any,
              options: TaskOptions, worker: str,
              emit: Callable[[ChunkReport], None] | None = None,
              stop: Callable[[], bool] | None = None,
              flush_every: float = FLUSH_INTERVAL) -> ChunkReport:
    """Run a chunk. ``fn`` is the function, or ``(key, blob)`` to load it through this
    worker's cache (:func:`.functions.load`); ``tasks`` lists ``(index, attempt)`` and
    ``items`` the items, each maybe as a pickle.

    With ``emit``, finished records are also handed to it every ``flush_every`` seconds, and
    the report returned holds the rest. When ``stop()`` turns true before an item, that item
    and the rest are skipped (they get no record).
    """
    pid = os.getpid()
    if options.encode:
        guard_nested_processes()
    hooks.install(options.capture_level)
    try:
        try:
            if isinstance(tasks, bytes):
                tasks = pickle.loads(tasks)
            if isinstance(items, bytes):
                items = pickle.loads(items)
            if isinstance(fn, tuple):
                fn = functions.load(*fn)
        except BaseException as exc:  # noqa: BLE001 - reported on every item of the chunk
            return ChunkReport(worker, pid, HOST, _not_loaded(exc, tasks, options))
        return _run_all(fn, tasks, items, options, worker, pid, emit, stop, flush_every)
    finally:
        hooks.uninstall()


def _run_all(fn: Callable[..., Any], tasks: Any, items: Any, options: TaskOptions,
             worker: str, pid: int, emit: Callable[[ChunkReport], None] | None,
             stop: Callable[[], bool] | None, flush_every: float) -> ChunkReport:
    """The chunk's loop. It is the hot path of a million tiny tasks, so it pays per task only
    what a record needs: a task that wrote nothing leaves its context empty, and the next task
    takes that context over (no new object, no new context variable); its record goes into
    columns (:class:`~workbench.contract.QuietColumns`), five appends bound once."""
    loud: list[RawRecord] = []
    quiet = _Columns()
    add_index, add_attempt, add_start, add_end, add_value = quiet.appends()
    last = time.monotonic()
    ctx: TaskContext | None = None
    token = None
    seed, limit = options.seed, options.max_output
    watched = options.live
    try:
        for (index, attempt), item in zip(tasks, items):
            if stop is not None and stop():
                break
            if ctx is not None and not (ctx.output or ctx.logs or ctx.warnings or ctx._dropped):
                ctx.index, ctx.attempt = index, attempt
            else:
                if ctx is not None and watched is not None:
                    live.unwatch(ctx)
                ctx = TaskContext(index, attempt, seed, limit)
                if token is None:
                    token = current.set(ctx)
                else:
                    current.set(ctx)
                if watched is not None:
                    live.watch(ctx, watched)
            status, value, error, start, end = _call(fn, ctx, item, options)
            if error is None and not (ctx.output or ctx.logs or ctx.warnings or ctx._dropped):
                if status is OK:  # not a plain builtin: pickled on its own, or the object
                    quiet.boxed.append(len(quiet.values))
                add_index(index)
                add_attempt(attempt)
                add_start(start)
                add_end(end)
                add_value(value)
            else:
                loud.append((index, status, value, error, ctx.finish_output(),
                             tuple(ctx.logs), tuple(ctx.warnings), start, end, attempt))
            if emit is not None and time.monotonic() - last >= flush_every:
                emit(ChunkReport(worker, pid, HOST, loud, quiet.columns()))
                loud, quiet, last = [], _Columns(), time.monotonic()
                add_index, add_attempt, add_start, add_end, add_value = quiet.appends()
    except BaseException:  # (Ctrl-C in the caller's own process) what finished is kept
        if emit is not None and (loud or quiet.values):
            emit(ChunkReport(worker, pid, HOST, loud, quiet.columns()))
        raise
    finally:
        if token is not None:
            current.reset(token)
        if ctx is not None and watched is not None:
            live.unwatch(ctx)
    return ChunkReport(worker, pid, HOST, loud, quiet.columns())


def _not_loaded(exc: BaseException, tasks: list[tuple[int, int]],
                options: TaskOptions) -> list[RawRecord]:
    kind, message, text, payload = encode_error(exc, options.encode, skip_frames=0)
    error = RawError(
        kind, f"could not load the function or its items in the worker: {kind}: {message}",
        text, payload)
    now = time.time()
    return [RawRecord(i, ERROR, None, error, (), (), (), now, now, a) for i, a in tasks]


class _Columns:
    """The quiet records of a chunk being filled (see
    :class:`~workbench.contract.QuietColumns`)."""

    __slots__ = ("indices", "attempts", "starts", "ends", "values", "boxed")

    def __init__(self) -> None:
        self.indices, self.attempts = array("q"), array("q")
        self.starts, self.ends = array("d"), array("d")
        self.values: list[Any] = []
        self.boxed: list[int] = []

    def appends(self) -> tuple[Callable[[Any], None], ...]:
        """The columns' ``append`` methods (bound once: the loop calls them per task)."""
        return (self.indices.append, self.attempts.append, self.starts.append,
                self.ends.append, self.values.append)

    def columns(self) -> QuietColumns | None:
        if not self.values:
            return None
        return QuietColumns(self.indices, self.attempts, self.starts, self.ends, self.values,
                            self.boxed)


def run_task(fn: Callable[..., Any], index: int, attempt: int, item: Any,
             options: TaskOptions) -> RawRecord:
    """Run one item: time the call, capture what it writes, turn what it returns or raises
    into data (a :class:`RawRecord`, as a plain tuple)."""
    ctx = TaskContext(index, attempt, options.seed, options.max_output)
    token = current.set(ctx)
    if options.live is not None:
        live.watch(ctx, options.live)
    try:
        status, value, error, start, end = _call(fn, ctx, item, options)
    finally:
        current.reset(token)
        live.unwatch(ctx)
    return (index, status, value, error, ctx.finish_output(), tuple(ctx.logs),
            tuple(ctx.warnings), start, end, attempt)


def _call(fn: Callable[..., Any], ctx: TaskContext, item: Any,
          options: TaskOptions) -> tuple[str, Any, RawError | None, float, float]:
    """Run the item of ``ctx``'s task (the current one): ``(status, value, error, start,
    end)``, the value ready to travel; what the task wrote is in ``ctx``."""
    if _reset_warning_registries is not None:
        _reset_warning_registries()  # each task sees its warnings as a fresh process would
    status, value, error = OK, None, None
    ctx.started = start = time.time()
    try:
        ctx.running = True  # (within the try: an interruption still ends it)
        if options.timeout is None:
            value = fn(*item) if options.star else fn(item)
        else:
            with deadline(options.timeout, ctx.index):
                value = fn(*item) if options.star else fn(item)
    except BaseException as exc:  # noqa: BLE001 - every failure becomes data
        if isinstance(exc, KeyboardInterrupt) and not options.encode and stops_the_run(exc):
            raise  # in the caller's own process, Ctrl-C must stop the run
        if type(exc) is TaskTimeout and not exc.args:  # set asynchronously: say what it is
            exc = TaskTimeout(f"task {ctx.index} ran longer than the timeout of "
                              f"{options.timeout:g} s").with_traceback(exc.__traceback__)
        status, error = ERROR, encode_error(exc, options.encode)
    finally:
        ctx.running = False
    end = time.time()
    if status is OK:
        if type(value) in PLAIN:  # travels as it is (and the journal need not look again)
            status = OK_PLAIN
        elif options.encode:
            status, value, error = encode_value(value, ctx.index)
    return status, value, error, start, end
