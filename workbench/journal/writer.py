"""The journal of a run as it goes: an observer that hands each event's records to a thread,
which writes them to the run's SQLite file in one transaction every :data:`FLUSH_EVERY`
seconds. A kernel killed with SIGKILL loses only what was not committed yet: the records of
the last fraction of a second.

The run loop never waits for the disk. If the journal cannot be written (a folder that cannot
be created, a full disk), the run goes on in memory and one :class:`JournalWarning` says so.
"""

from __future__ import annotations

import atexit
import bisect
import json
import queue
import sqlite3
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from ..errors import JournalWarning
from ..events import BackendReady, RunFinished
from . import schema
from .claims import active, claim
from .reports import pack
from .rows import to_row

#: Seconds between two commits while a run goes.
FLUSH_EVERY = 0.25
#: Longest the end of a run waits for the last records to be written.
FINISH_TIMEOUT = 60.0


def settle(path: Path | None = None, timeout: float = FINISH_TIMEOUT) -> None:
    """Wait until this process's writers of runs that have ended (of ``path``, or all) have
    written everything; a run still going (in another thread) is not waited for."""
    for p, writer in list(active.items()):
        if (path is None or p == path) and writer.ending:
            writer.wait(timeout)


atexit.register(settle)  # a script that ends right after a run: its journal is complete


class JournalWriter:
    """A run's journal: the run loop hands it chunk reports and the records it made itself
    (:meth:`report`, :meth:`records`), views' events tell it the run's state; one thread
    writes. Nothing here blocks the run.

    ``opened`` is the (connection, session, next seq) of a file already claimed, or None for
    a new file this thread creates; ``meta`` and ``blobs`` are callables returning the rows
    that say what ran, called on the writing thread (pickling the function and the items is
    its work, not the run's)."""

    def __init__(self, path: Path, opened: tuple[sqlite3.Connection, int, int] | None,
                 meta: Any, blobs: Any, max_value: int, files: dict[str, str] | None = None,
                 sampled_until: float = 0.0, wall_before: float = 0.0):
        self.path, self.max_value, self.files = path, max_value, files or {}
        self.failed: str | None = None
        self.ending = False  # the run's end is queued: what is left to write is bounded
        self.session = opened[1] if opened else 0
        self._db, self._seq = (opened[0], opened[2]) if opened else (None, 1)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pending: list[list[Any]] = []  # reports not handed over yet (see push)
        self._warned = False
        self._run: Any = None
        self._sampler: Any = None
        self._sampled_until = sampled_until  # samples up to here are written (a resume's)
        self._wall_before = wall_before  # the wall time of the sessions before this one
        self._queue.put(("start", (meta, blobs)))
        active[path] = self
        self._thread = threading.Thread(target=self._work, daemon=True,
                                        name=f"workbench-journal-{path.stem}")
        self._thread.start()

    def watch(self, sampler: Any) -> None:
        """Also write the samples ``sampler`` takes (a :class:`ResourceSampler`)."""
        self._sampler = sampler

    # ----------------------------------------------------------------- run loop's thread
    def report(self, chunk_id: int, report: Any, submitted: float, received: float,
               encoded: bool, wire: bytes | None = None) -> None:
        """A chunk report as it arrived (its records are the run's next), or the bytes it
        came in (``wire``), kept as they are. Reports of the same chunk that follow each
        other are kept together (``serial`` reports task by task)."""
        pending = self._pending
        if wire is not None:
            pending.append([chunk_id, submitted, received, encoded, None, wire, []])
        elif pending and pending[-1][0] == chunk_id and pending[-1][4] is not None:
            last = pending[-1]
            last[2] = received
            last[5].extend(report.records)
            if report.quiet is not None:
                last[6].append(report.quiet)
        else:
            pending.append([chunk_id, submitted, received, encoded, tuple(report[:3]),
                            list(report.records),
                            [] if report.quiet is None else [report.quiet]])

    def records(self, records: list[Any]) -> None:
        """Records the caller made (cancelled, lost, timed out, unpicklable item)."""
        self.push()
        if records:
            self._queue.put(("records", records))

    def push(self) -> None:
        """Hand the reports kept so far to the writing thread (the run loop calls this after
        each round of news)."""
        if self._pending:
            self._queue.put(("reports", self._pending))
            self._pending = []

    def __call__(self, event: Any) -> None:
        if isinstance(event, BackendReady):
            self._run = run = event.run
            self._queue.put(("sql", [(
                "UPDATE sessions SET backend=?, workers=?, startup_time=?, dashboard=? "
                "WHERE session=?",
                (run.backend, run.workers, run.startup_time, run.dashboard, self.session))]))
        elif isinstance(event, RunFinished):
            self.finish(event.run)
        self._warn()

    def finish(self, run: Any, wait: bool = False, whole: bool = False) -> None:
        """Queue the run's end; the thread writes it and stops. ``wait``: until written (a
        reopen in this process waits anyway, see :func:`settle`). The session's wall time is
        this session's own (a resumed run's earlier ones are in their rows; what it began
        with, such as ``backend="auto"``'s probed items, is its own), or ``whole``."""
        self._run = run
        self.push()
        if self._thread.is_alive() and not self.ending:
            self.ending = True
            wall = run.wall_time - (0.0 if whole else self._wall_before)
            self._queue.put(("sql", [(
                "UPDATE sessions SET ended=?, state=?, wall_time=?, startup_time=?, "
                "backend=?, workers=? WHERE session=?",
                (time.time(), run.state, wall, run.startup_time, run.backend,
                 run.workers, self.session))]))
            self._queue.put(("samples", run.resources))
            self._queue.put(None)
        if wait:
            self.wait()
        self._warn()

    def wait(self, timeout: float = FINISH_TIMEOUT) -> None:
        self._thread.join(timeout)
        self._warn()

    def _warn(self) -> None:
        if self.failed and not self._warned:
            self._warned = True
            warnings.warn(f"workbench: the journal {self.path} stopped ({self.failed}); the "
                          "run goes on in memory: run.save(path) keeps it when it ends",
                          JournalWarning, stacklevel=4)

    # ----------------------------------------------------------------- writing thread
    def _work(self) -> None:
        done = False
        try:
            while not done:
                batch, done = self._gather()
                if self.failed is None:
                    self._write(batch)
        finally:
            active.pop(self.path, None)
            if self._db is not None:
                try:
                    self._db.close()
                except sqlite3.Error:
                    pass

    def _gather(self) -> tuple[list[Any], bool]:
        """What arrived in the next :data:`FLUSH_EVERY` seconds (or until the end)."""
        batch, deadline = [], time.monotonic() + FLUSH_EVERY
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return batch, False
            if item is None:
                return batch, True
            if item[0] == "reports" and self.failed is None:
                # pickled at once: the run need not keep them alive, nor the GC scan them
                try:
                    item = ("packed", pack(item[1], self.max_value))
                except Exception as exc:  # noqa: BLE001 - the journal stops, the run goes on
                    self.failed = f"{type(exc).__name__}: {exc}"
            batch.append(item)

    def _write(self, batch: list[Any]) -> None:
        try:
            if self._db is None:
                self._db, self.session, self._seq = claim(self.path, create=True)
            db = self._db
            db.execute("BEGIN")
            for kind, payload in batch:
                getattr(self, f"_write_{kind}")(db, payload)
            if self._sampler is not None:
                self._write_samples(db, self._sampler.samples)
            counts = json.dumps(self._run.counts) if self._run is not None else None
            db.execute("UPDATE sessions SET counts=COALESCE(?, counts), updated=? WHERE "
                       "session=?", (counts, time.time(), self.session))  # also a heartbeat
            db.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - a full disk, a lost folder: the run goes on
            self.failed = f"{type(exc).__name__}: {exc}"
            self._cut_off()

    def _cut_off(self) -> None:
        """After a failed commit: the session says it was cut off, if the file still takes
        that one small change (so no reader takes this live process for its writer)."""
        if self._db is None:
            return
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        try:
            self._db.execute("UPDATE sessions SET state='interrupted' WHERE session=?",
                             (self.session,))
        except sqlite3.Error:
            pass

    def _write_start(self, db: sqlite3.Connection, payload: Any) -> None:
        meta, blobs = payload
        db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                       [(k, json.dumps(v)) for k, v in meta().items()])
        db.executemany("INSERT OR REPLACE INTO blobs (name, data, note) VALUES (?, ?, ?)",
                       blobs())

    def _write_packed(self, db: sqlite3.Connection, data: bytes) -> None:
        db.execute("INSERT INTO chunks VALUES (?, ?, ?)", (self._seq, self.session, data))
        self._seq += 1

    def _write_records(self, db: sqlite3.Connection, records: list[Any]) -> None:
        first, self._seq = self._seq, self._seq + len(records)
        db.executemany(schema.INSERT_RECORD, [to_row(first + i, self.session, r, self.max_value)
                                              for i, r in enumerate(records)])

    def _write_sql(self, db: sqlite3.Connection, rows: list[Any]) -> None:
        for sql, params in rows:
            db.execute(sql, params)

    def _write_samples(self, db: sqlite3.Connection, samples: list[Any]) -> None:
        """The samples newer than those written (they come in time order)."""
        start = bisect.bisect_right(samples, self._sampled_until, key=lambda s: s.time)
        new = samples[start:]
        if new:
            db.executemany("INSERT INTO samples VALUES (?, ?, ?, ?, ?)",
                           [(self.session, s.time, s.pid, s.cpu, s.rss) for s in new])
            self._sampled_until = new[-1].time
