"""A journal read back: :func:`load` makes a :class:`StoredRun` (the ``Run`` API, read-only)
and :func:`summary` one row of :func:`workbench.runs`."""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..decode import decode_chunk
from ..errors import JournalError
from ..result import Run, RunSpec
from ..sampler import Sample
from . import schema
from .claims import WRITER_COLUMNS, writer_alive
from .reports import unpack
from .rows import READ_COLUMNS, NotStored, from_row
from .rows import load as load_blob
from .writer import settle

#: Statuses a task can end with that count as failed in :func:`workbench.runs`.
FAILED = ("error", "lost")


class StoredRun(Run):
    """A run read from its journal: every record kept, the same attributes and methods as a
    live :class:`Run`; in a notebook it shows itself as the panel (read-only).

    ``sessions`` lists the times it ran (the first, then each resume) as dicts.
    """

    sessions: list[dict[str, Any]]

    def rerun_failed(self, **settings: Any) -> Run:
        """As :meth:`Run.rerun_failed`, once the function and items are known: give them
        with ``wb.resume(id, fn=..., items=...)`` when they were not stored."""
        for what in (self.spec.fn, next(iter(self.spec.items.values()), None)):
            if isinstance(what, NotStored):
                raise JournalError(f"{what.reason}: wb.resume(...) with fn= and items= runs "
                                   "the tasks without an ok record")
        return super().rerun_failed(**settings)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from ..views.auto import stored_panel

        bundle = stored_panel(self)._repr_mimebundle_(include=include, exclude=exclude)
        bundle["text/plain"] = repr(self)
        return bundle


def load(path: Path) -> StoredRun:
    settle(path)  # a run of this process: wait for its last records
    db = schema.open_journal(path)
    try:
        schema.check_integrity(db, path)
        return _read(db, path)
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path}: the journal cannot be read ({exc})") from None
    finally:
        db.close()


def _read(db: sqlite3.Connection, path: Path) -> StoredRun:
    meta = {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
    if "n_items" not in meta:
        raise JournalError(f"{path}: the journal holds no run (it was cut off as it began)")
    blobs = {name: (data, note) for name, data, note in
             db.execute("SELECT name, data, note FROM blobs")}
    n = meta["n_items"]
    fn = _blob(blobs, "function")
    items = _blob(blobs, "items")
    settings = _blob(blobs, "settings")
    if isinstance(settings, dict):  # as a live run has them (rerun_failed() works)
        settings = {**settings, "view": "auto", "observers": (), "journal": True}
    spec = RunSpec(fn, dict(enumerate(items)) if isinstance(items, list) and len(items) == n
                   else dict.fromkeys(range(n), items), settings if isinstance(settings, dict)
                   else {})
    names = ("session", "backend", "workers", "started", "ended", "state", "wall_time",
             "startup_time", "dashboard", "updated", "writer_host", "writer_pid",
             "writer_started")
    sessions = [dict(zip(names, row)) for row in db.execute(
        f"SELECT {', '.join(names)} FROM sessions ORDER BY session")]
    last = sessions[-1] if sessions else {}
    saved = meta.get("settings", {})
    run = StoredRun(spec, meta["fn_name"], last.get("backend") or saved.get("backend", "?"),
                    last.get("workers"), saved.get("seed", 0), saved.get("chunksize", "auto"))
    run.journal, run.id, run.sessions, run.meta = path, path.stem, sessions, meta
    run.reason = meta.get("reason")
    files = meta.get("files") or {}
    for records in _in_order(db, files):
        run.collect_many(records)
    run.resources = [Sample(*s) for s in
                     db.execute("SELECT time, pid, cpu, rss FROM samples ORDER BY rowid")]
    _times(run, path, sessions)
    return run


def _in_order(db: sqlite3.Connection, files: dict[str, str]) -> Iterator[list[Any]]:
    """The records in the order they arrived: chunk reports (decoded as on arrival) and the
    caller's own records, merged by ``seq``."""
    chunks = db.execute("SELECT seq, data FROM chunks ORDER BY seq")
    own = db.execute(f"SELECT seq, {READ_COLUMNS} FROM records ORDER BY seq")
    for _, *row in heapq.merge(chunks, own, key=lambda row: row[0]):
        if len(row) == 1:
            for submitted, received, encoded, report in unpack(row[0]):
                yield decode_chunk(report, submitted, received, encoded, files)[0]
        else:
            yield [from_row(row)]


def _blob(blobs: dict[str, Any], name: str) -> Any:
    data, note = blobs.get(name, (None, "not written (the run was cut off as it began)"))
    if data is None:
        return NotStored(f"{name} not stored: {note}")
    return load_blob(data, f"the {name}")


def _times(run: StoredRun, path: Path, sessions: list[dict[str, Any]]) -> None:
    """State, wall and start-up time over every session; a session whose writer died has
    the wall time up to its last commit and the state ``interrupted``."""
    wall = startup = 0.0
    for s in sessions:
        if s["state"] == "running" and not writer_alive(
                (s["writer_host"], s["writer_pid"], s["writer_started"], s["state"],
                 s["updated"]), path):
            s["state"] = "interrupted"
            s["wall_time"] = max(0.0, (s["updated"] or s["started"]) - s["started"])
        wall += s["wall_time"] or 0.0
        startup += s["startup_time"] or 0.0
    run.wall_time, run.startup_time = wall, startup
    run.started_at = sessions[0]["started"] if sessions else None
    run.state = sessions[-1]["state"] if sessions else "interrupted"
    run.dashboard = sessions[-1]["dashboard"] if sessions else None


def summary(path: Path) -> dict[str, Any]:
    """One row of :func:`workbench.runs` for the journal at ``path`` (the counts its writer
    keeps: no record is read)."""
    db = schema.open_journal(path)
    try:
        meta = {k: json.loads(v) for k, v in db.execute(
            "SELECT key, value FROM meta WHERE key IN ('fn_name', 'n_items', 'created')")}
        sessions = db.execute(f"SELECT backend, counts, {WRITER_COLUMNS} FROM sessions "
                              "ORDER BY session").fetchall()
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path}: the journal cannot be read ({exc})") from None
    finally:
        db.close()
    state, counts, backend = "interrupted", {}, None
    if sessions:
        backend, counted, *writer = sessions[-1]
        counts, state = json.loads(counted) if counted else {}, writer[3]
        if state == "running" and not writer_alive(writer, path):
            state = "interrupted"
    return {"id": path.stem, "function": meta.get("fn_name"),
            "started": meta.get("created"), "backend": backend,
            "items": meta.get("n_items"), "ok": counts.get("ok", 0),
            "failed": sum(counts.get(s, 0) for s in FAILED), "state": state,
            "resumed": max(len(sessions) - 1, 0), "path": str(path)}
