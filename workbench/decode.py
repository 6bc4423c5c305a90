"""From what a worker sent to the caller's records: a chunk report's tuples become
:class:`~workbench.records.TaskRecord` objects, its quiet columns stay columns (a
:class:`~workbench.store.Batch`); results that travelled pickled on their own are loaded,
and a remote traceback is shown against the caller's sources."""

from __future__ import annotations

import pickle
import sys

from .batch import Batch, Place, QuietPart
from .contract import OK_PLAIN, ChunkReport, QuietColumns, RawError
from .records import ERROR, OK, LogEntry, TaskError, TaskRecord, WarningEntry, make_record
from .tracebacks import localize


def decode_chunk(report: ChunkReport, submitted: float, received: float, encoded: bool,
                 files: dict[str, str] | None = None) -> tuple[Batch, int, float]:
    """Turn the raw records of one chunk's report into a :class:`~workbench.store.Batch`
    (quiet records stay columns); also return how many of them have a duration and the sum
    of those durations (what the planner observes). Tracebacks are shown against the
    caller's sources (``files``: see :func:`encode_function` and :mod:`workbench.tracebacks`)."""
    worker, pid, host = sys.intern(report.worker), report.pid, sys.intern(report.host)
    place = Place(submitted, received, worker, pid, host)
    loads = pickle.loads
    records: list[TaskRecord] = []
    append = records.append
    timed, busy = 0, 0.0
    # RawRecord's fields, unpacked (records travel as plain tuples: see RawRecord)
    for index, status, value, err, output, logs, warns, start, end, attempt in report.records:
        error = None
        if err is None:
            if status == OK_PLAIN:  # a plain value that travelled unpickled
                status = OK
            elif status == OK and encoded:
                try:
                    value = loads(value)
                except Exception as exc:  # noqa: BLE001 - that task's error, not the run's
                    status, value, error = ERROR, None, _not_loaded(index, exc)
        else:
            error = _decode_error(err, encoded, files)
        if start is not None and end is not None:
            timed += 1
            busy += end - start
        append(make_record(
            index, status, value, error, output,
            tuple([LogEntry(*entry) for entry in logs]) if logs else (),
            tuple([WarningEntry(*entry) for entry in warns]) if warns else (),
            start, end, submitted, received, worker, pid, host, attempt))
    batch = Batch(records)
    if report.quiet is not None:
        part, failed = _quiet_part(report.quiet, place, encoded)
        timed += len(part.values)
        busy += float((part.ends - part.starts).sum())
        batch.quiet.append(part)
        batch.loud += failed
    return batch, timed, busy


def _quiet_part(quiet: QuietColumns, place: Place, encoded: bool
                ) -> tuple[QuietPart, list[TaskRecord]]:
    """The columns as arrays; a value pickled on its own is loaded, and one that does not
    load makes its task an error record, out of the columns."""
    import numpy as np

    indices, attempts = (np.asarray(quiet.indices, np.int64),
                         np.asarray(quiet.attempts, np.int64))
    starts, ends = np.asarray(quiet.starts, np.float64), np.asarray(quiet.ends, np.float64)
    values, failed, bad = quiet.values, [], []
    if quiet.boxed and encoded:
        values = list(values)  # (the report stays as it came: the journal keeps it)
        for k in quiet.boxed:
            try:
                values[k] = pickle.loads(values[k])
            except Exception as exc:  # noqa: BLE001 - that task's error, not the run's
                bad.append(k)
                index = int(indices[k])
                failed.append(make_record(
                    index, ERROR, None, _not_loaded(index, exc), (), (), (), float(starts[k]),
                    float(ends[k]), place.submitted, place.received, place.worker, place.pid,
                    place.host, int(attempts[k])))
    if bad:
        keep = np.ones(len(values), bool)
        keep[bad] = False
        indices, attempts, starts, ends = (a[keep] for a in (indices, attempts, starts, ends))
        values = [v for k, v in enumerate(values) if keep[k]]
    return QuietPart(indices, attempts, starts, ends, values, place), failed


def _not_loaded(index: int, exc: BaseException) -> TaskError:
    return TaskError("UnpicklableResult", f"the result of task {index} could not be loaded "
                     f"in the caller: {type(exc).__name__}: {exc}", "")


def _decode_error(err: RawError, encoded: bool, files: dict[str, str] | None) -> TaskError:
    exc_obj = err.exception
    if encoded and exc_obj is not None:
        try:
            exc_obj = pickle.loads(exc_obj)
        except Exception:  # noqa: BLE001 - the traceback text still tells
            exc_obj = None
    return TaskError(err.type, err.message, localize(err.traceback, files or {}), exc_obj)
