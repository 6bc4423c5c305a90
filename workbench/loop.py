"""One run's dispatch loop: keep chunks in flight, turn what comes back into records, decide
what a lost chunk means, retry, and stop cleanly. It runs in the caller's thread."""

from __future__ import annotations

import itertools
import operator
import time
from collections.abc import Callable
from typing import Any

from . import live
from .backends import Backend, Chunk
from .batch import Batch, as_batch
from .contract import FirstAttempts, Loss, Outcome
from .decode import decode_chunk
from .errors import Interrupted
from .events import RunFinished, TasksFinished
from .payload import Encoded, encode_items, unpicklable_item_record
from .plan import Planner
from .records import ERROR, LOST, TaskRecord
from .sigint import SigintGuard
from .unreported import never_started, suspected, unrecorded
from .worker import TaskOptions

#: Longest the loop waits for news before checking for a cancel request.
POLL_INTERVAL = 0.1
#: Longest a cancelled run waits for its running chunks to report.
CANCEL_TIMEOUT = 5.0
#: ... when items may still arrive (a fed run): a new batch waits at most this long.
FEED_POLL = 0.02
#: Errors that a retry cannot fix.
NOT_RETRIED = ("UnpicklableItem",)

#: Chunk ids are unique in the process, so a late message about a chunk of an earlier run can
#: never be taken for one of this run.
_chunk_ids = itertools.count()

Task = tuple[int, int]  # (index, attempt)
_first = operator.itemgetter(0)


class Loop:
    """Runs ``result``'s items on ``backend`` and keeps every record in ``result``."""

    def __init__(self, result: Any, backend: Backend, encoded: Encoded,
                 items: dict[int, Any], settings: dict[str, Any],
                 notify: Callable[[Any], None], journal: Any = None, feed: Any = None):
        self.run, self.backend, self.items, self.notify = result, backend, items, notify
        self.journal = journal  # workbench.journal.writer.JournalWriter, or None
        # Where more items come from while the run goes, and where their final records go
        # (a workbench.joblib_bridge.feed.Feed), or None: the items are all known.
        self.feed = feed
        self.at_once = settings.get("at_once")  # (see _capacity)
        self.key = encoded.key
        self.files = encoded.files  # where the code sent by value came from (tracebacks)
        self.by_value = encoded.by_value  # modules the items must be pickled with, by value
        self.retries = settings["retries"]
        self.live = live.attach(result, backend, settings, notify)  # None: live=False
        self.options = TaskOptions(star=settings["star"], seed=settings["seed"],
                                   encode=not backend.local, timeout=settings.get("timeout"),
                                   live=None if self.live is None else self.live.run_id)
        self.planner = Planner((), backend.workers, settings["chunksize"],
                               backend.chunk_target, backend.chunk_floor, fresh=list(items))
        self.in_flight: dict[int, tuple[list[Task], float]] = {}
        # chunk id -> how many records a streaming chunk has sent so far
        self.reported: dict[int, int] = {}
        self.reported_count = 0
        self.isolated: set[Task] = set()  # re-sent alone to find who killed a worker
        self.alone_in_flight: set[int] = set()
        self._stopping = False
        backend.prepare(encoded.key, encoded.blob)

    # ----------------------------------------------------------------- main loop
    def go(self, sampler: Any = None) -> None:
        run = self.run
        began = time.perf_counter()
        run.started_at = time.time()
        interrupted = False
        guard = SigintGuard()
        try:
            with guard:
                while not (run.cancel_requested or guard.heard):
                    self._take_fed()
                    self._fill()
                    if not self.in_flight and not len(self.planner):
                        if self.feed is None or self.feed.done:
                            break
                        self.feed.wait(POLL_INTERVAL)
                        continue
                    self._handle(self.backend.poll(self._poll_interval()))
                    if self.live is not None:
                        self.live.tell()
        except KeyboardInterrupt:
            interrupted = True
        finally:
            interrupted = interrupted or guard.heard
            stopping = interrupted or run.cancel_requested
            if stopping or self.in_flight:  # also an unexpected error: leave nothing running
                self._stop()
            run.wall_time = run.wall_before + (time.perf_counter() - began)
            if sampler is not None:
                run.resources = [*run.resources, *sampler.stop()]
            live.detach(self.live, run, self.backend)
            run.state = "interrupted" if interrupted else (
                "cancelled" if stopping else "finished")
            self.notify(RunFinished(run))
        if interrupted:
            raise Interrupted(run)

    def _capacity(self) -> int:
        """Chunks in flight: ``prefetch`` per worker, or, for a run asked to run fewer tasks
        at once than the backend has workers (``at_once``, a joblib call's ``n_jobs``),
        that many."""
        if self.at_once is not None and self.at_once < self.backend.workers:
            return self.at_once
        return self.backend.workers * self.backend.prefetch

    def _poll_interval(self) -> float:
        """Items that may still arrive while there is room for them: look again soon."""
        room = len(self.in_flight) < self._capacity()
        return FEED_POLL if room and self.feed is not None and not self.feed.done \
            else POLL_INTERVAL

    def _take_fed(self) -> None:
        """Items that arrived since the last look, each batch kept together as one chunk."""
        if self.feed is None:
            return
        for batch, modules in self.feed.take():
            # the user's own modules its calls reach travel by value, as a function's do
            self.by_value = [*self.by_value, *(m for m in modules if m not in self.by_value)]
            self.items.update(batch)
            self.run.add_items(list(batch))
            self.planner.add_chunk([(index, 1) for index in batch])

    def _fill(self) -> None:
        capacity = self._capacity()
        while len(self.in_flight) < capacity and len(self.planner):
            # A suspect of a worker death runs with nothing else in flight, so that if its
            # worker dies again no innocent task shares its fate (and its blame).
            if self.alone_in_flight or (self.planner.isolating and self.in_flight):
                break
            alone = self.planner.isolating
            tasks = self.planner.next_chunk()
            indices = tasks.indices if type(tasks) is FirstAttempts else map(_first, tasks)
            items = list(map(self.items.__getitem__, indices))
            if not self.backend.local:
                items, tasks = self._encode(items, tasks)
                if not tasks:
                    continue
            chunk = Chunk(next(_chunk_ids), tasks, items, self.key, self.options, time.time())
            self.backend.submit(chunk)
            self.in_flight[chunk.id] = (tasks, chunk.submitted)
            if alone:
                self.alone_in_flight.add(chunk.id)
            self.run.chunk_sizes.append(len(tasks))
        self._count_running()

    def _encode(self, items: list[Any], tasks: list[Task]) -> tuple[bytes, list[Task]]:
        """The chunk's items pickled; an item that cannot be is an error record at once."""
        blob, bad = encode_items(items, self.by_value)
        if bad:
            tasks, records = list(tasks), []
            for pos, reason in reversed(bad):
                index, attempt = tasks.pop(pos)
                records.append(unpicklable_item_record(index, attempt, self.items[index],
                                                       reason))
            self._finish(self._made(records[::-1]))
        return blob, tasks

    def _count_running(self) -> None:
        self.run.in_flight = (sum(len(tasks) for tasks, _ in self.in_flight.values())
                            - self.reported_count)

    # ----------------------------------------------------------------- what comes back
    def _handle(self, outcomes: list[Outcome]) -> None:
        finished = Batch()
        for outcome in outcomes:
            entry = self.in_flight.get(outcome.chunk_id)
            if entry is not None:
                finished.extend(self._take(outcome, *entry))
        self._count_running()
        self._finish(finished)
        if self.journal is not None:
            self.journal.push()

    def _take(self, outcome: Outcome, tasks: list[Task], submitted: float) -> Batch:
        """The records of one chunk's outcome; when the chunk is over, also those of its
        tasks that never reported."""
        chunk_id, records = outcome.chunk_id, Batch()
        report = outcome.report
        if report is not None and (report.records or report.quiet is not None):
            received, encoded = time.time(), not self.backend.local
            records, timed, busy = decode_chunk(outcome.report, submitted, received, encoded,
                                                self.files)
            self.planner.observe_many(timed, busy)
            if self.journal is not None:  # what the wire carried, kept as it came
                self.journal.report(chunk_id, outcome.report, submitted, received, encoded,
                                    outcome.wire)
        earlier = self.reported.get(chunk_id, 0)  # records of this chunk that came before
        if not outcome.done:
            if records:
                self.reported[chunk_id] = earlier + len(records)
                self.reported_count += len(records)
            return records
        del self.in_flight[chunk_id]
        self.alone_in_flight.discard(chunk_id)
        if earlier:
            del self.reported[chunk_id]
            self.reported_count -= earlier
        if earlier + len(records) == len(tasks):
            return records  # the usual case: every record came
        # (the records that came before are the run's already, with their attempts)
        got, attempt_of = records.keys(), self.run._records.attempt_of
        missing = [t for t in tasks if t not in got and attempt_of(t[0]) != t[1]]
        records.extend(self._unreported(missing, len(tasks), outcome.loss, submitted))
        return records

    def _unreported(self, missing: list[Task], size: int, loss: Loss | None,
                    submitted: float) -> list[TaskRecord]:
        """Records for the tasks of a chunk that ended without reporting them."""
        if missing and loss is not None and not self._stopping:
            if loss.started is False:  # only queued on a dead worker: send again
                self.planner.resend(missing)
                return []
            # Which task killed the worker? Unless it ran alone on a backend that knows what
            # was running, run each again alone: the culprit dies again. Each may have run
            # already (its record died with the worker): the new run is its next attempt,
            # and the first stays in the run's history.
            if size > 1 or loss.started is None:
                suspects = [t for t in missing if t not in self.isolated]
                if suspects:
                    again = [(i, a + 1) for i, a in suspects]
                    self.isolated.update(again)
                    self.planner.resend(again, alone=True)
                    self._record(self._made(suspected(suspects, loss, submitted)))
                missing = [t for t in missing if t not in suspects]
        return self._missing(missing, loss, submitted)

    def _missing(self, tasks: list[Task], loss: Loss | None,
                 submitted: float) -> list[TaskRecord]:
        """Final records for tasks that never reported."""
        stopped = self.run.cancel_requested or self._stopping
        return self._made(unrecorded(tasks, loss, submitted, stopped))

    def _made(self, records: list[TaskRecord]) -> list[TaskRecord]:
        """Records made here, not by a worker: the journal keeps them one by one."""
        if self.journal is not None:
            self.journal.records(records)
        return records

    def _record(self, records: Batch | list[TaskRecord]) -> None:
        """Keep records and tell the observers (no retries decided here)."""
        batch = as_batch(records)
        self.run.collect_many(batch)
        if self.live is not None:
            self.live.finished()
        self.notify(TasksFinished(self.run, batch))

    def _finish(self, records: Batch | list[TaskRecord]) -> None:
        if not records:
            return
        records = as_batch(records)
        again: set[int] = set()
        if self.retries and not self._stopping and not self.run.cancel_requested:
            for record in records.loud:  # (a quiet record is ok: never retried)
                if (record.status in (ERROR, LOST) and record.attempt <= self.retries
                        and record.error is not None
                        and record.error.type not in NOT_RETRIED):
                    self.planner.requeue(record.index, record.attempt + 1)
                    again.add(record.index)
        self._record(records)
        if self.feed is not None:  # its caller waits for these (a joblib batch's results)
            self.feed.finished([r for r in records if r.index not in again])

    # ----------------------------------------------------------------- stopping
    def _stop(self) -> None:
        """Cancel what is queued and running; keep every record that made it back."""
        self._stopping = True
        self._take_fed()  # what arrived meanwhile is cancelled with the rest, on record
        now = time.time()
        self._finish(self._made(never_started(self.planner.drain(), now)))
        if not self.in_flight:
            return
        self.backend.cancel(list(self.in_flight))
        deadline = time.monotonic() + CANCEL_TIMEOUT
        while self.in_flight and time.monotonic() < deadline:
            try:
                self._handle(self.backend.poll(POLL_INTERVAL))
            except KeyboardInterrupt:
                break  # a second Ctrl-C: stop waiting
        attempt_of = self.run._records.attempt_of
        leftovers = [t for tasks, _ in self.in_flight.values() for t in tasks
                     if attempt_of(t[0]) != t[1]]
        self.reported.clear()
        self.reported_count = 0
        self.in_flight.clear()
        self._finish(self._missing(leftovers, None, now))
