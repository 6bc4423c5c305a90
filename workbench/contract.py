"""What a worker sends back and what a backend tells the engine: the one contract between the
three, as plain named data. Workers build :class:`RawRecord` and :class:`ChunkReport`; backends
report each chunk as an :class:`Outcome`, and why a chunk ended early as a :class:`Loss`; the
engine turns all of it into :class:`~workbench.records.TaskRecord` objects.

Standard library only: every worker imports it.
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

# --------------------------------------------------------------------------- task status
#: What a task's record says about it.
OK = "ok"
ERROR = "error"
CANCELLED = "cancelled"  # it never ran, or was stopped: the run was stopped
LOST = "lost"  # its worker died while it was (or may have been) running
STATUSES = (OK, ERROR, CANCELLED, LOST)
#: On the wire only: ``ok``, and the value is a plain builtin that travelled unpickled.
OK_PLAIN = "ok:plain"

#: The streams of a task's output, in :attr:`RawRecord.output`.
STDOUT, STDERR, LOG, WARNING = "stdout", "stderr", "log", "warning"


# --------------------------------------------------------------------------- to workers
class FirstAttempts:
    """The tasks of a chunk that are all first attempts, as their indices only: iterating
    gives the ``(index, attempt)`` pairs any list of tasks gives, but a million items never
    become a million tuples in the caller, and they travel as a list of ints."""

    __slots__ = ("indices",)

    def __init__(self, indices: list[int]):
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Any:
        return zip(self.indices, itertools.repeat(1))

    def __reduce__(self) -> tuple[Any, ...]:
        return FirstAttempts, (self.indices,)

    def __repr__(self) -> str:
        return f"<FirstAttempts of {len(self.indices)} tasks>"


# --------------------------------------------------------------------------- from workers
class RawError(NamedTuple):
    """Why a task failed, as a worker sends it."""

    type: str  # the exception's class name
    message: str
    traceback: str  # its full text (see workbench.tracebacks)
    exception: Any  # the pickled exception (bytes), the object itself (in the caller's
    #                 own process), or None when it cannot travel


class RawRecord(NamedTuple):
    """One task, as a worker sends it back.

    On the wire a record is the plain tuple of these fields, in this order (workers build it
    as such, :func:`workbench.decode.decode_chunk` unpacks it as such): a named tuple pickles
    as a class reference plus a Python-level constructor call per record, six times slower
    to pickle and unpickle, which on tiny tasks would cost more than the task. A ``RawRecord``
    is still a valid record (``tests/test_contract_wire.py`` checks both ends against these
    fields)."""

    index: int
    status: str  # OK, OK_PLAIN or ERROR
    value: Any  # the pickled value, a plain value (OK_PLAIN), or the object (local)
    error: RawError | None
    output: tuple[tuple[str, str], ...]  # (stream, text), in the order written
    logs: tuple[tuple[str, str, str, float], ...]  # (level, logger, message, time)
    warnings: tuple[tuple[str, str, str, int], ...]  # (category, message, file, line)
    start: float  # time.time() on the worker around the call
    end: float
    attempt: int


class QuietColumns(NamedTuple):
    """The quiet records of a chunk report, as columns: tasks that returned a value and wrote
    nothing (no output, log record or warning) need only numbers, and a million of them must
    not cost a million tuples at either end. Position ``k`` of every column is one task.

    ``boxed`` lists the positions whose value is not a plain builtin: from a worker process
    those values travel pickled on their own (bytes, as :attr:`RawRecord.value` with status
    ``OK``); in the caller's own process they are the objects."""

    indices: Any  # array.array("q")
    attempts: Any  # array.array("q")
    starts: Any  # array.array("d"): time.time() on the worker around the call
    ends: Any  # array.array("d")
    values: list[Any]
    boxed: list[int]


class ChunkReport(NamedTuple):
    """Records of one chunk (all of them, or the ones finished since the last report), and
    where they ran: the quiet ones as columns (``quiet``), the others one by one."""

    worker: str
    pid: int
    host: str
    records: list[RawRecord]  # as plain tuples (see RawRecord)
    quiet: QuietColumns | None = None


def report_size(report: ChunkReport) -> int:
    """How many records a report holds, quiet ones included."""
    return len(report.records) + (0 if report.quiet is None else len(report.quiet.values))


# --------------------------------------------------------------------------- from backends
#: Kinds of :class:`Loss`.
DIED = "died"  # the worker process died (a crash, the OOM killer, os._exit)
TIMEOUT = "timeout"  # a task ran past the run's timeout and would not stop: its worker was
#                      killed or restarted
STOPPED = "cancelled"  # the backend cancelled the chunk (the run was stopped)
FAILED = "failed"  # the backend could not run the chunk for another reason
LOSS_KINDS = (DIED, TIMEOUT, STOPPED, FAILED)


class Loss(NamedTuple):
    """Why a chunk ended without a record for each of its tasks.

    ``started`` says whether the chunk had begun to run: ``False`` for a chunk that was only
    queued on a worker that died (the engine simply sends it again), ``True`` when it was
    running, ``None`` when the backend cannot tell (the engine then re-runs each task alone to
    find the one that killed the worker)."""

    kind: str  # one of LOSS_KINDS
    message: str  # what happened, for a person: "worker died: signal 9 (SIGKILL)"
    started: bool | None


class Outcome(NamedTuple):
    """What a backend reports about one chunk: the records that arrived (``report``, maybe
    only some of the chunk's when the backend streams), whether the chunk is over
    (``done``), and if it ended early, why (``loss``). ``wire`` is the pickled message the
    report came in, ``(kind, chunk_id, report)``, when the backend received it as bytes: the
    journal keeps those bytes as they are instead of pickling the report again."""

    chunk_id: int
    report: ChunkReport | None = None
    done: bool = True
    loss: Loss | None = None
    wire: bytes | None = None
