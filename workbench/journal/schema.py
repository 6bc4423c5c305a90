"""The journal's file format: one SQLite database per run (``*.wbrun``), and the one place that
opens such a file, so that every way a file can be wrong is one clear line.

A file is a workbench journal when SQLite can read it and its ``application_id`` is
:data:`APPLICATION_ID`; ``user_version`` is the schema version. Version 1 (documented in the
README) has four tables:

* ``meta(key, value)``: what ran, as JSON values (``run_id``, ``fn_name``, ``fn_source``,
  ``fn_hash``, ``n_items``, ``settings``, ``created``, ``workbench``).
* ``blobs(name, data, note)``: the function (``"function"``), the items (``"items"``) and the
  settings (``"settings"``), each pickled with cloudpickle, or ``data`` NULL and ``note`` saying
  why it was not stored.
* ``sessions``: one row per time the run was run (0 the first, then one per resume): backend,
  workers, start, end, state, wall and start-up time, the task counts so far (JSON) and the
  time of the last commit (``updated``: a cut-off session's wall time ends there), and which
  process wrote it (host, pid, its start time) so a second writer is refused while it lives.
* ``chunks``: the records as the workers sent them, the reports that arrived between two
  commits in one row: ``data`` is the pickled list of ``(submitted, received, encoded,
  report)``, the caller's clock readings and a :class:`~workbench.contract.ChunkReport` whose
  records are :class:`~workbench.contract.RawRecord` tuples (results plain, or pickled on
  their own when ``encoded``). Storing what the wire carried costs no per-task work.
* ``records``: records one by one, with ``output``, ``logs``, ``warnings`` as JSON: those the
  caller made itself (cancelled, lost, timed out, unpicklable item), and a whole run written
  at once by :meth:`Run.save`.
* ``seq`` orders ``chunks`` and ``records`` together, in the order records arrived: a task's
  current record is its last, the earlier ones are superseded attempts.
* ``samples(session, time, pid, cpu, rss)``: CPU % and memory of the local workers.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..errors import JournalError

SCHEMA_VERSION = 1
#: ``PRAGMA application_id``: "WBRN", so ``file`` and SQLite tools can tell a journal apart.
APPLICATION_ID = 0x5742524E
SUFFIX = ".wbrun"

TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE blobs (name TEXT PRIMARY KEY, data BLOB, note TEXT);
CREATE TABLE sessions (
    session INTEGER PRIMARY KEY, backend TEXT, workers INTEGER, started REAL, ended REAL,
    state TEXT, wall_time REAL, startup_time REAL, dashboard TEXT, counts TEXT, updated REAL,
    writer_host TEXT, writer_pid INTEGER, writer_started REAL);
CREATE TABLE chunks (seq INTEGER PRIMARY KEY, session INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE records (
    seq INTEGER PRIMARY KEY, session INTEGER NOT NULL, idx INTEGER NOT NULL,
    attempt INTEGER NOT NULL, status TEXT NOT NULL, value BLOB, value_note TEXT,
    error_type TEXT, error_message TEXT, traceback TEXT, exception BLOB, output TEXT, logs TEXT,
    warnings TEXT, start REAL, "end" REAL, submitted REAL, received REAL, worker TEXT,
    pid INTEGER, host TEXT);
CREATE TABLE samples (session INTEGER, time REAL, pid INTEGER, cpu REAL, rss INTEGER);
"""

#: Columns of ``records`` in the order rows are written.
RECORD_COLUMNS = ("seq", "session", "idx", "attempt", "status", "value", "value_note",
                  "error_type", "error_message", "traceback", "exception", "output", "logs",
                  "warnings", "start", "end", "submitted", "received", "worker", "pid", "host")
INSERT_RECORD = (f"INSERT INTO records ({', '.join(map(repr, RECORD_COLUMNS))}) "
                 f"VALUES ({', '.join('?' * len(RECORD_COLUMNS))})").replace("'", '"')


def create(path: Path) -> sqlite3.Connection:
    """A new, empty journal at ``path`` (which must not exist)."""
    db = _connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: a killed process loses nothing committed (a power cut may lose the last
    # commits), and a commit does not wait for the disk.
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(f"PRAGMA application_id={APPLICATION_ID};"
                     f"PRAGMA user_version={SCHEMA_VERSION};BEGIN;{TABLES}COMMIT;")
    return db


def open_journal(path: str | os.PathLike[str], write: bool = False) -> sqlite3.Connection:
    """The journal at ``path``, checked: a missing, foreign, damaged or newer file is one
    :class:`JournalError` line."""
    path = Path(path)
    if not path.is_file():
        raise JournalError(f"{path}: no such journal file; wb.runs() lists the runs kept")
    try:
        db = _connect(path, readonly=not write)
        app, version = (db.execute(f"PRAGMA {p}").fetchone()[0]
                        for p in ("application_id", "user_version"))
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path}: cannot be read as a workbench journal: it is damaged "
                           f"or not one ({exc})") from None
    if app != APPLICATION_ID and path.stat().st_size == 0:
        db.close()
        raise JournalError(f"{path}: holds no run yet (its writer has not made its first "
                           "commit, or was cut off before it)")
    if app != APPLICATION_ID:
        db.close()
        raise JournalError(f"{path}: not a workbench journal (an SQLite file of another "
                           "program, or damaged)")
    if version > SCHEMA_VERSION:
        db.close()
        raise JournalError(f"{path}: written by a newer workbench (journal schema {version}, "
                           f"this one reads up to {SCHEMA_VERSION}): pip install -U "
                           "parallel-workbench")
    if write:
        db.execute("PRAGMA synchronous=NORMAL")
    return db


def _connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        # Read-only, but not immutable: a run still being written is read as it stands.
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                             check_same_thread=False, timeout=10)
    else:
        db = sqlite3.connect(path, check_same_thread=False, timeout=10,
                             isolation_level=None)  # transactions are explicit: BEGIN ... COMMIT
    return db


def check_integrity(db: sqlite3.Connection, path: Path) -> None:
    """A truncated or damaged file fails here with one line, not on some later query."""
    try:
        problems = db.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path}: the journal is damaged ({exc}); the runs it held cannot "
                           "be read") from None
    if problems and problems[0][0] != "ok":
        raise JournalError(f"{path}: the journal is damaged ({problems[0][0]}); the runs it "
                           "held cannot be read")
