"""The record of one task: what it returned or raised, what it printed, when and where it ran.

Records are plain, frozen data. Workers send them as :class:`~workbench.contract.RawRecord`
tuples of strings, numbers and bytes; the caller turns each into a :class:`TaskRecord` and adds
its own clock readings (``submitted``, ``received``) and where it ran. ``run.logs`` (:class:`Logs`)
reads their text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .contract import CANCELLED, ERROR, LOG, LOST, OK, STATUSES, STDERR, STDOUT, WARNING  # noqa: F401


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One ``logging`` record emitted by a task."""

    level: str
    logger: str
    message: str
    time: float


@dataclass(frozen=True, slots=True)
class WarningEntry:
    """One warning issued by a task."""

    category: str
    message: str
    filename: str
    lineno: int


@dataclass(frozen=True, slots=True)
class TaskError:
    """Why a task failed.

    ``exception`` is the original exception object when it survived the trip back from the
    worker (it is ``None`` when it could not be pickled or unpickled); ``traceback`` is always
    the full text of the remote traceback.
    """

    type: str
    message: str
    traceback: str
    exception: BaseException | None = None

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """Everything known about one task (one item), whatever backend ran it.

    Attributes
    ----------
    index : position of the item in the input.
    status : ``"ok"``, ``"error"``, ``"cancelled"`` (never ran) or ``"lost"`` (its worker died).
    value : the function's return value (``None`` unless ``status == "ok"``).
    error : a :class:`TaskError` unless ``status == "ok"``.
    output : what the task wrote, in order, as ``(stream, text)`` pairs; stream is one of
        ``"stdout"``, ``"stderr"``, ``"log"``, ``"warning"``.
    logs, warnings : the structured ``logging`` records and warnings.
    start, end : wall-clock times (``time.time()``) on the worker around the call.
    submitted, received : wall-clock times in the caller when the task's chunk was handed to
        the backend and when its record arrived.
    worker, pid, host : where it ran; ``attempt`` counts from 1.
    """

    index: int
    status: str
    value: Any = None
    error: TaskError | None = None
    output: tuple[tuple[str, str], ...] = ()
    logs: tuple[LogEntry, ...] = ()
    warnings: tuple[WarningEntry, ...] = ()
    start: float | None = None
    end: float | None = None
    submitted: float | None = None
    received: float | None = None
    worker: str | None = None
    pid: int | None = None
    host: str | None = None
    attempt: int = 1

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def duration(self) -> float | None:
        """Seconds the call took on the worker, or ``None`` if it never ran to the end."""
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    @property
    def stdout(self) -> str:
        return "".join(text for stream, text in self.output if stream == STDOUT)

    @property
    def stderr(self) -> str:
        return "".join(text for stream, text in self.output if stream == STDERR)

    @property
    def text(self) -> str:
        """stdout, stderr, log lines and warnings interleaved as the task produced them."""
        return "".join(text for _, text in self.output)

    def __repr__(self) -> str:
        where = f" on {self.worker}" if self.worker else ""
        what = repr(self.value) if self.ok else str(self.error)
        if len(what) > 80:
            what = what[:77] + "..."
        return f"<TaskRecord {self.index} {self.status}{where}: {what}>"


class Failed:
    """Stands in :attr:`Run.results` at the position of a task that did not return a value.

    It is never ``None`` and never equal to a real result, so a failure cannot pass for data.
    """

    __slots__ = ("index", "status", "error")

    def __init__(self, index: int, status: str, error: TaskError | None):
        self.index = index
        self.status = status
        self.error = error

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Failed)
            and (other.index, other.status) == (self.index, self.status)
            and str(other.error) == str(self.error)
        )

    def __hash__(self) -> int:
        return hash((self.index, self.status, str(self.error)))

    def __repr__(self) -> str:
        return f"<Failed task {self.index}: {self.status}: {self.error}>"


# A record is built for every task in the caller: the dataclass's frozen ``__init__`` (one
# ``object.__setattr__`` per field) costs about three times what filling the slots directly
# does. ``make_record`` gives the same, equal, frozen TaskRecord, faster (workbench's own hot
# path only; it takes every field, positionally).
_new = object.__new__
(_set_index, _set_status, _set_value, _set_error, _set_output, _set_logs, _set_warnings,
 _set_start, _set_end, _set_submitted, _set_received, _set_worker, _set_pid, _set_host,
 _set_attempt) = (TaskRecord.__dict__[name].__set__ for name in (
    "index", "status", "value", "error", "output", "logs", "warnings", "start", "end",
    "submitted", "received", "worker", "pid", "host", "attempt"))


def make_record(index: int, status: str, value: Any, error: TaskError | None,
                output: tuple, logs: tuple, warnings: tuple, start: float | None,
                end: float | None, submitted: float | None, received: float | None,
                worker: str | None, pid: int | None, host: str | None,
                attempt: int) -> TaskRecord:
    """``TaskRecord(index=..., ..., attempt=...)``, every field given, without the frozen
    dataclass's per-field ``object.__setattr__``."""
    record = _new(TaskRecord)
    _set_index(record, index)
    _set_status(record, status)
    _set_value(record, value)
    _set_error(record, error)
    _set_output(record, output)
    _set_logs(record, logs)
    _set_warnings(record, warnings)
    _set_start(record, start)
    _set_end(record, end)
    _set_submitted(record, submitted)
    _set_received(record, received)
    _set_worker(record, worker)
    _set_pid(record, pid)
    _set_host(record, host)
    _set_attempt(record, attempt)
    return record


class Logs:
    """``run.logs[i]``: what task ``i`` printed and logged, interleaved as it happened."""

    def __init__(self, run: Any):
        self._run = run

    def __getitem__(self, index: int) -> str:
        if isinstance(index, int) and index < 0:  # from the end, as for a list
            index = self._run.indices[index]
        return self._run.task(index).text

    def __len__(self) -> int:
        return len(self._run)

    def __iter__(self) -> Iterator[str]:
        return (r.text for r in self._run.tasks)

    def __repr__(self) -> str:
        chatty = sum(1 for r in self._run._records.loud.values() if r.output)
        return f"<Logs of {len(self)} tasks, {chatty} with output; run.logs[i] for task i>"
