"""A task's outcome as plain data: its value pickled on its own (or sent as it is when it is a
plain builtin), an exception as type, message, traceback text and pickle."""

from __future__ import annotations

import pickle
from typing import Any

from ..contract import ERROR, OK, OK_PLAIN, RawError
from ..tracebacks import format_exception
from . import timeouts
from .task_api import TaskTimeout

#: Result types that every pickler handles and every process can load: such a value travels
#: inside the chunk's own message, with status OK_PLAIN; any other value is pickled on its
#: own, so that one that cannot travel (or load) fails alone as ``UnpicklableResult``.
PLAIN = frozenset({int, float, str, bytes, bool, type(None), complex})


def encode_error(exc: BaseException, encode: bool, skip_frames: int = 1) -> RawError:
    """``exc`` as a :class:`RawError`; ``skip_frames`` of workbench's own frames are hidden,
    and ``encode`` pickles the exception (else it stays the object: the caller's process)."""
    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    # a timeout shows where the task was, not the alarm handler
    hide = ((timeouts.__file__, "alarm"),) if isinstance(exc, TaskTimeout) else ()
    text = format_exception(exc, tb, hide)
    payload: Any = exc
    if encode:
        payload = _pickled_exception(exc)
    exc.__traceback__ = None  # do not keep frames (and their locals) alive in the caller
    return RawError(type(exc).__name__, str(exc), text, payload)


def _pickled_exception(exc: BaseException) -> bytes | None:
    """``exc`` pickled so that it comes back to life in the caller, or None. An exception
    class of the notebook (``__main__``) or of a module sent by value cannot be pickled by
    reference in a worker: cloudpickle sends it by value, and the caller gets its own class
    back (so ``except MyError`` works, as with loky)."""
    for dumps in (pickle.dumps, _cloudpickle_dumps):
        try:
            payload = dumps(exc)
            pickle.loads(payload)  # it must also come back to life in the caller
            return payload
        except Exception:  # noqa: BLE001 - the traceback text still tells
            continue
    return None


def _cloudpickle_dumps(value: Any) -> bytes:
    import cloudpickle

    return cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def encode_value(value: Any, index: int) -> tuple[str, Any, RawError | None]:
    """``(status, value, error)`` of a task that returned ``value``, ready to travel."""
    if type(value) in PLAIN:  # travels as it is: no pickle of its own
        return OK_PLAIN, value, None
    try:
        return OK, _pickle(value), None
    except Exception as exc:  # noqa: BLE001 - that task's error, not the chunk's
        return ERROR, None, RawError(
            "UnpicklableResult",
            f"the result of task {index} ({type(value).__name__}) cannot be sent back from "
            f"the worker: {exc}. Return plain data (numbers, strings, lists, dicts, arrays) "
            "instead.", "", None)


def _pickle(value: Any) -> bytes:
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - pickle refuses: cloudpickle may not
        return _cloudpickle_dumps(value)  # lambdas, local classes, ...
