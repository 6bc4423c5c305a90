"""What crosses the wire: the function and items going out (cloudpickle, so notebook functions,
lambdas and closures work under every start method), raw records coming back."""

from __future__ import annotations

import hashlib
import pickle
import sys
import time
from typing import Any, Callable

from .errors import InputError
from .records import ERROR, OK, LogEntry, TaskError, TaskRecord, WarningEntry


def function_name(fn: Callable[..., Any]) -> str:
    """The short name users gave the function (``etl``, ``<lambda>``)."""
    name = getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", None)
    return name or type(fn).__name__


def encode_function(fn: Callable[..., Any]) -> tuple[bytes, bytes]:
    """``(key, blob)``: the function pickled by value, and a digest that names it."""
    import cloudpickle

    try:
        blob = cloudpickle.dumps(fn, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise InputError(
            f"{function_name(fn)} cannot be sent to worker processes: "
            f"{_unpicklable_reference(fn) or exc}; create that object inside the function "
            "(or pass what it needs as part of each item), or use backend='serial'") from None
    return hashlib.blake2b(blob, digest_size=16).digest(), blob


def _unpicklable_reference(fn: Callable[..., Any]) -> str | None:
    """Name the global, closure variable or default argument that cannot be pickled."""
    import cloudpickle

    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    candidates: list[tuple[str, Any]] = []
    globals_ = getattr(fn, "__globals__", {})
    candidates += [(f"global {n!r}", globals_[n]) for n in code.co_names if n in globals_]
    cells = getattr(fn, "__closure__", None) or ()
    for name, cell in zip(code.co_freevars, cells):
        try:
            candidates.append((f"closure variable {name!r}", cell.cell_contents))
        except ValueError:  # empty cell
            pass
    for i, value in enumerate(getattr(fn, "__defaults__", None) or ()):
        candidates.append((f"default argument {i}", value))
    for label, value in candidates:
        if isinstance(value, type(sys)):
            continue  # modules are pickled by reference
        try:
            cloudpickle.dumps(value)
        except Exception as exc:
            return f"it uses {label}, a {type(value).__name__}, which cannot be pickled ({exc})"
    return None


def encode_items(items: list[Any]) -> tuple[bytes, list[tuple[int, str]]]:
    """Pickle a chunk's items; return the blob and ``(position, reason)`` for items that
    cannot be pickled (those are left out of the blob)."""
    import cloudpickle

    try:
        return cloudpickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL), []
    except Exception:
        pass
    good, bad = [], []
    for pos, item in enumerate(items):
        try:
            cloudpickle.dumps(item)
            good.append(item)
        except Exception as exc:
            bad.append((pos, f"{type(exc).__name__}: {exc}"))
    return cloudpickle.dumps(good, protocol=pickle.HIGHEST_PROTOCOL), bad


def unpicklable_item_record(index: int, attempt: int, item: Any, reason: str) -> TaskRecord:
    now = time.time()
    message = (f"item {index} ({type(item).__name__}) cannot be sent to a worker: {reason}; "
               "pass plain data (numbers, strings, paths, arrays) or use backend='serial'")
    return TaskRecord(index=index, status=ERROR, attempt=attempt, submitted=now, received=now,
                      error=TaskError("UnpicklableItem", message, ""))


def decode(raw: tuple, worker: str, pid: int, host: str, submitted: float, received: float,
           encoded: bool) -> TaskRecord:
    """Turn a raw record from :func:`workbench.capture.run_task` into a :class:`TaskRecord`."""
    index, status, value, err, output, logs, warns, start, end, attempt = raw
    error = None
    if status == OK and encoded:
        try:
            value = pickle.loads(value)
        except Exception as exc:
            status, value = ERROR, None
            error = TaskError("UnpicklableResult",
                              f"the result of task {index} could not be loaded in the caller: "
                              f"{type(exc).__name__}: {exc}", "")
    if err is not None:
        kind, message, text, exc_obj = err
        if encoded and exc_obj is not None:
            try:
                exc_obj = pickle.loads(exc_obj)
            except Exception:
                exc_obj = None
        error = TaskError(kind, message, text, exc_obj)
    return TaskRecord(
        index=index, status=status, value=value, error=error, output=output,
        logs=tuple(LogEntry(*entry) for entry in logs),
        warnings=tuple(WarningEntry(*entry) for entry in warns),
        start=start, end=end, submitted=submitted, received=received,
        worker=sys.intern(worker), pid=pid, host=sys.intern(host), attempt=attempt)
