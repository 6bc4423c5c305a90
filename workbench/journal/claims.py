"""Who writes a journal file: a new file is reserved by an atomic create, an existing run's
file is claimed for a new session in one SQLite transaction, and a file whose writer lives
(same host: its pid and start time; another host: its word) is refused with that writer
named."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..errors import JournalError
from . import schema

HOST = socket.gethostname()


def _me() -> tuple[str, int, float]:
    """This process, as a writer: host, pid and start time (a pid alone may be reused)."""
    import psutil

    me = psutil.Process()
    return HOST, me.pid, me.create_time()


#: This process's writers that have not finished writing, by path (see ``writer.settle``).
active: dict[Path, Any] = {}
#: A writer on another host is taken for gone when its last commit is this old (a live one
#: commits every fraction of a second).
FOREIGN_SILENCE = 30.0
#: ``sessions`` columns :func:`writer_alive` reads, in its order.
WRITER_COLUMNS = "writer_host, writer_pid, writer_started, state, updated"


def live_writer(path: Path) -> tuple[str, int] | None:
    """``(host, pid)`` of a process writing ``path`` now, or None."""
    try:
        db = schema.open_journal(path)
        try:
            row = db.execute(f"SELECT {WRITER_COLUMNS} FROM sessions ORDER BY session DESC "
                             "LIMIT 1").fetchone()
        finally:
            db.close()
    except (JournalError, sqlite3.Error):
        return None
    return writer_alive(row, path)


def writer_alive(row: Any, path: Path | None = None) -> tuple[str, int] | None:
    """``(host, pid)`` of the writer of a session row (:data:`WRITER_COLUMNS`) when it is
    still writing: on this host, its process lives (same pid and start time) and, when it is
    this process, its writer has not ended; on another, it committed lately."""
    if not row or row[3] != "running":
        return None
    host, pid, started, _, updated = row
    if host != HOST:  # a shared folder: only its heartbeat tells
        return (host, pid) if time.time() - (updated or started) < FOREIGN_SILENCE else None
    if pid == os.getpid():
        return (host, pid) if path is not None and path in active else None
    import psutil

    try:
        if abs(psutil.Process(pid).create_time() - started) < 1.0:
            return host, pid
    except psutil.Error:
        pass
    return None


def reserve(path: Path) -> None:
    """Make ``path`` this process's (an atomic create): a file that exists is an error that
    says whether another process writes it or it holds a run already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x"):
            pass
    except FileExistsError:
        writer = live_writer(path)
        if writer:
            raise JournalError(f"{path} is being written by process {writer[1]} on "
                               f"{writer[0]}: choose another journal path") from None
        raise JournalError(f"{path} already holds a run: wb.resume({str(path)!r}) continues "
                           "it; delete the file or choose another path to start anew") from None


def claim(path: Path, create: bool) -> tuple[sqlite3.Connection, int, int]:
    """Open ``path`` (new and reserved, or an existing run's) for this process to write a new
    session. Returns the connection, the session number and the next ``seq``."""
    db = schema.create(path) if create else schema.open_journal(path, write=True)
    host, pid, started = _me()
    db.execute("BEGIN IMMEDIATE")  # one claimant at a time
    try:
        last = db.execute(f"SELECT {WRITER_COLUMNS}, session FROM sessions ORDER BY session "
                          "DESC LIMIT 1").fetchone()
        writer = writer_alive(last[:5] if last else None, path)
        if writer:
            raise JournalError(f"{path} is being written by process {writer[1]} on "
                               f"{writer[0]}: wait for its run to end, or stop it")
        session = last[5] + 1 if last else 0
        seq = db.execute("SELECT MAX(s) FROM (SELECT MAX(seq) AS s FROM chunks UNION ALL "
                         "SELECT MAX(seq) FROM records)").fetchone()[0]
        db.execute("INSERT INTO sessions (session, started, updated, state, writer_host, "
                   "writer_pid, writer_started) VALUES (?, ?, ?, 'running', ?, ?, ?)",
                   (session, time.time(), time.time(), host, pid, started))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        db.close()
        raise
    return db, session, (seq or 0) + 1
