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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..contract import ERROR, OK, OK_PLAIN, ChunkReport, RawError, RawRecord
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
        done: list[RawRecord] = []
        last = time.monotonic()
        for (index, attempt), item in zip(tasks, items):
            if stop is not None and stop():
                break
            done.append(run_task(fn, index, attempt, item, options))
            if emit is not None and time.monotonic() - last >= flush_every:
                emit(ChunkReport(worker, pid, HOST, done))
                done, last = [], time.monotonic()
        return ChunkReport(worker, pid, HOST, done)
    finally:
        hooks.uninstall()


def _not_loaded(exc: BaseException, tasks: list[tuple[int, int]],
                options: TaskOptions) -> list[RawRecord]:
    kind, message, text, payload = encode_error(exc, options.encode, skip_frames=0)
    error = RawError(
        kind, f"could not load the function or its items in the worker: {kind}: {message}",
        text, payload)
    now = time.time()
    return [RawRecord(i, ERROR, None, error, (), (), (), now, now, a) for i, a in tasks]


def run_task(fn: Callable[..., Any], index: int, attempt: int, item: Any,
             options: TaskOptions) -> RawRecord:
    """Run one item: time the call, capture what it writes, turn what it returns or raises
    into data."""
    ctx = TaskContext(index, attempt, options.seed, options.max_output)
    token = current.set(ctx)
    if _reset_warning_registries is not None:
        _reset_warning_registries()  # each task sees its warnings as a fresh process would
    status, value, error = OK, None, None
    start = time.time()
    try:
        if options.live is not None:  # (within the try: an interruption still ends it)
            live.begin(ctx, options.live)
        if options.timeout is None:
            value = fn(*item) if options.star else fn(item)
        else:
            with deadline(options.timeout, index):
                value = fn(*item) if options.star else fn(item)
    except BaseException as exc:  # noqa: BLE001 - every failure becomes data
        if isinstance(exc, KeyboardInterrupt) and not options.encode and stops_the_run(exc):
            raise  # in the caller's own process, Ctrl-C must stop the run
        if type(exc) is TaskTimeout and not exc.args:  # set asynchronously: say what it is
            exc = TaskTimeout(f"task {index} ran longer than the timeout of "
                              f"{options.timeout:g} s").with_traceback(exc.__traceback__)
        status, error = ERROR, encode_error(exc, options.encode)
    finally:
        if options.live is not None:
            live.end(ctx)
    end = time.time()
    current.reset(token)
    if status == OK:
        if options.encode:
            status, value, error = encode_value(value, index)
        elif type(value) in PLAIN:  # marked, so the journal need not look at it again
            status = OK_PLAIN
    # a RawRecord's fields as a plain tuple: see RawRecord for why
    return (index, status, value, error, ctx.finish_output(), tuple(ctx.logs),
            tuple(ctx.warnings), start, end, attempt)
