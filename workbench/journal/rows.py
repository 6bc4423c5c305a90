"""A :class:`~workbench.records.TaskRecord` as a row of the journal's ``records`` table and
back. Text fields are JSON; a quiet task's are NULL, so its row holds only numbers."""

from __future__ import annotations

import json
import pickle
from typing import Any

from ..records import OK, LogEntry, TaskError, TaskRecord, WarningEntry, make_record

#: Longest ``repr`` kept for a value that is not stored.
REPR_CHARS = 200


class NotStored:
    """Stands for the value of an ``ok`` task that the journal did not keep (too large, or
    not picklable): ``run.results`` of a reopened run holds it. ``repr`` is the value's."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason

    def __repr__(self) -> str:
        return f"<value not stored: {self.reason}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NotStored) and other.reason == self.reason

    def __hash__(self) -> int:
        return hash(self.reason)


#: Values the standard pickle writes in full (no reference to code that a new kernel may not
#: have); anything else goes through cloudpickle, which writes a notebook's classes by value.
PLAIN = (int, float, str, bytes, bool, complex)


def dump(obj: Any) -> bytes:
    """``obj`` pickled so that a new kernel can read it: with the standard pickle (fast) when
    that pickle names nothing in ``__main__``, else with cloudpickle, which writes a lambda,
    or a class or function defined in the notebook, by value."""
    if type(obj) not in PLAIN:
        try:
            data = pickle.dumps(obj, protocol=5)
        except Exception:  # noqa: BLE001 - a lambda, a local class: cloudpickle writes them
            data = None
        if data is not None and b"__main__" not in data:
            return data
        import cloudpickle

        return cloudpickle.dumps(obj, protocol=5)
    return pickle.dumps(obj, protocol=5)


def load(data: bytes, what: str) -> Any:
    """Unpickled, or a :class:`NotStored` that says why it could not be (a module missing)."""
    try:
        return pickle.loads(data)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure: say it, keep the rest
        return NotStored(f"{what} could not be read back ({type(exc).__name__}: {exc})")


def encode_value(value: Any, cap: int) -> tuple[bytes | None, str | None]:
    """``(pickle, None)``, or ``(None, why not stored)`` past ``cap`` bytes or unpicklable."""
    if value is None:
        return None, None
    try:
        data = dump(value)
    except Exception as exc:  # noqa: BLE001 - an unpicklable result is kept as its repr
        return None, f"not picklable ({type(exc).__name__}): {short_repr(value)}"
    if len(data) > cap:
        return None, over_cap(len(data), "bytes", cap, value)
    return data, None


def exception_bytes(exc: BaseException | None) -> bytes | None:
    """The exception pickled, when it pickles and loads again; else None (its text stays)."""
    if exc is None:
        return None
    try:
        data = pickle.dumps(exc)
        pickle.loads(data)
        return data
    except Exception:  # noqa: BLE001 - the type, message and traceback text are kept anyway
        return None


def over_cap(size: int, unit: str, cap: int, value: Any) -> str:
    """Why a result was not stored: its size past the cap, and what it looked like."""
    return f"{size:,} {unit}, over the {cap:,} byte journal cap: {short_repr(value)}"


def short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= REPR_CHARS else text[: REPR_CHARS - 3] + "..."


def to_row(seq: int, session: int, r: TaskRecord, cap: int) -> tuple[Any, ...]:
    """The row of ``r`` in :data:`~workbench.journal.schema.RECORD_COLUMNS` order."""
    value, note = encode_value(r.value, cap) if r.status == OK else (None, None)
    err = r.error
    return (seq, session, r.index, r.attempt, r.status, value, note,
            err.type if err else None, err.message if err else None,
            err.traceback if err else None, exception_bytes(err.exception) if err else None,
            json.dumps(r.output) if r.output else None,
            json.dumps([(e.level, e.logger, e.message, e.time) for e in r.logs])
            if r.logs else None,
            json.dumps([(e.category, e.message, e.filename, e.lineno) for e in r.warnings])
            if r.warnings else None,
            r.start, r.end, r.submitted, r.received, r.worker, r.pid, r.host)


#: The columns :func:`from_row` reads, in its order.
READ_COLUMNS = ('idx, status, value, value_note, error_type, error_message, traceback, '
                'exception, output, logs, warnings, start, "end", submitted, received, '
                'worker, pid, host, attempt')


def from_row(row: tuple[Any, ...]) -> TaskRecord:
    (index, status, value, note, etype, emessage, tb, exc, output, logs, warns, start, end,
     submitted, received, worker, pid, host, attempt) = row
    if status == OK:
        value = NotStored(note) if note is not None else (
            load(value, "the value") if value is not None else None)
    else:
        value = None
    if exc is not None:
        exc = load(exc, "the exception")
    error = (TaskError(etype, emessage or "", tb or "", exc if isinstance(exc, BaseException)
                       else None) if etype is not None else None)
    return make_record(
        index, status, value, error,
        tuple(map(tuple, json.loads(output))) if output else (),
        tuple(LogEntry(*e) for e in json.loads(logs)) if logs else (),
        tuple(WarningEntry(*e) for e in json.loads(warns)) if warns else (),
        start, end, submitted, received, worker, pid, host, attempt)
