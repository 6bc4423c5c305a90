"""The hand-over between joblib and a run's loop: joblib's threads put batches of calls in,
the loop (:mod:`workbench.loop`) takes them out as chunks and hands back each final record,
which settles the batch's future (joblib's callback then dispatches the next batch)."""

from __future__ import annotations

import copy
import threading
from concurrent.futures import Future
from typing import Any

from ..records import OK


class TaskFailed(RuntimeError):
    """A joblib call that did not return and whose own exception could not be brought back:
    its worker died, the run was stopped, or the exception could not be pickled. ``record``
    is the task's record (its traceback, output and worker)."""

    def __init__(self, message: str, record: Any = None):
        super().__init__(message)
        self.record = record


class RemoteTraceback(Exception):
    """The traceback of a call that failed in a worker, chained as the ``__cause__`` of its
    exception when it is raised again in the caller (as ``concurrent.futures`` does)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text.rstrip()}\n"""'


class BatchFuture(Future):
    """The future of one joblib batch: its results in order once every call has a final
    record, or the exception of the first call (by position) that failed."""

    def __init__(self, size: int):
        super().__init__()
        self._values: list[Any] = [None] * size
        self._failed: dict[int, Any] = {}
        self._left = size
        self._lock = threading.Lock()

    def settle(self, position: int, record: Any) -> None:
        with self._lock:
            if record.status == OK:
                self._values[position] = record.value
            else:
                self._failed[position] = record
            self._left -= 1
            last = self._left == 0
        if not last:
            return
        if self._failed:
            self.set_exception(exception_of(self._failed[min(self._failed)]))
        else:
            self.set_result(self._values)


def exception_of(record: Any) -> BaseException:
    """What the failed call raised (its type kept, the worker's traceback chained as its
    cause), or a :class:`TaskFailed` that says why there is none."""
    error = record.error
    exc = error.exception if error is not None else None
    if exc is None:
        where = f" on {record.worker}" if record.worker else ""
        return TaskFailed(f"joblib call {record.index} {record.status}{where}: {error}", record)
    try:  # raised in the caller, it gathers the caller's frames: not the record's own object
        exc = copy.copy(exc)
    except Exception:  # noqa: BLE001 - an exception that does not copy: raise it as it is
        pass
    if error.traceback:
        exc.__cause__ = RemoteTraceback(error.traceback)
    return exc


class Feed:
    """Batches of calls waiting for the loop, and the futures waiting for their records."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._batches: list[tuple[dict[int, Any], list[Any]]] = []
        self._waiting: dict[int, tuple[BatchFuture, int]] = {}
        self._next = 0
        self._closed = False
        self._failure: BaseException | None = None

    # ----------------------------------------------------------------- joblib's side
    def put(self, items: list[Any], modules: list[Any]) -> BatchFuture:
        """A batch of calls, sent as one chunk, and the user's own modules they reach (see
        :mod:`workbench.local_code`); its future settles when every call is done."""
        future = BatchFuture(len(items))
        with self._ready:
            if self._failure is not None or self._closed:
                failure = self._failure or RuntimeError("this joblib call has ended")
                future.set_exception(failure)
                return future
            batch = {}
            for position, item in enumerate(items):
                batch[self._next] = item
                self._waiting[self._next] = (future, position)
                self._next += 1
            self._batches.append((batch, modules))
            self._ready.notify_all()
        return future

    def close(self) -> None:
        """No more batches: the loop ends once the last one is done."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def fail(self, exc: BaseException) -> None:
        """The run cannot go on (its backend did not start, or it stopped): every call still
        waiting fails with ``exc``, and so does every later one."""
        with self._ready:
            self._failure, self._closed = exc, True
            waiting, self._waiting, self._batches = self._waiting, {}, []
            self._ready.notify_all()
        for future in {f for f, _ in waiting.values()}:
            if not future.done():
                future.set_exception(exc)

    # ----------------------------------------------------------------- the loop's side
    def take(self) -> list[tuple[dict[int, Any], list[Any]]]:
        """The batches that arrived since the last call: (index -> item, modules) each."""
        with self._ready:
            batches, self._batches = self._batches, []
        return batches

    def wait(self, timeout: float) -> None:
        """Block until a batch arrives, the feed closes, or ``timeout`` passes."""
        with self._ready:
            if not self._batches and not self._closed:
                self._ready.wait(timeout)

    @property
    def done(self) -> bool:
        with self._ready:
            return self._closed and not self._batches

    def finished(self, records: list[Any]) -> None:
        """Final records: settle their batches' futures (outside the lock: a future's
        callback is joblib's, which may put the next batch at once)."""
        with self._ready:
            found = [(self._waiting.pop(r.index, None), r) for r in records]
        for entry, record in found:
            if entry is not None:
                entry[0].settle(entry[1], record)
