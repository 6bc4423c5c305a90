"""The journal: every run written, as it goes, to one SQLite file (:mod:`.schema`), so that
what finished survives the kernel. :func:`runs` lists them, :func:`open_run` reads one back,
:func:`~.resume.resume` finishes one, :func:`save` writes a run that was not journaled.

The writer (:mod:`.writer`) is an observer of the run's events; nothing here runs a task
except :func:`~.resume.resume`, which hands the missing items to :func:`workbench.api.start`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from . import places
from .begin import Append, begin, check
from .reader import StoredRun, load, summary
from .resume import resume
from .rows import NotStored

__all__ = ["runs", "open_run", "resume", "save", "begin", "check", "Append", "StoredRun",
           "NotStored", "journal_dir"]

journal_dir = places.journal_dir


def runs(folder: str | os.PathLike[str] | None = None) -> Any:
    """The runs kept in the journal folder (or ``folder``), newest first, as a pandas
    DataFrame: id, function, started, backend, items, ok, failed, state (``finished``,
    ``cancelled``, ``interrupted``, ``running``, ``failed``), resumed (how many times), path.
    A damaged file is listed with state ``unreadable``."""
    try:
        import pandas as pd
    except ImportError:
        raise InputError("workbench.runs() returns a pandas DataFrame: pip install pandas; "
                         "the files are in workbench.journal.journal_dir()") from None
    from ..errors import JournalError
    from .writer import settle

    settle()
    where = Path(folder).expanduser() if folder is not None else places.journal_dir()
    rows = []
    for path in places.listing(where):
        try:
            rows.append(summary(path))
        except JournalError:
            rows.append({"id": path.stem, "state": "unreadable", "path": str(path)})
    frame = pd.DataFrame(rows, columns=["id", "function", "started", "backend", "items", "ok",
                                        "failed", "state", "resumed", "path"])
    frame["started"] = pd.to_datetime(frame["started"], unit="s", utc=True)
    return frame.sort_values("started", ascending=False, na_position="last",
                             ignore_index=True)


def open_run(id_or_path: str | os.PathLike[str] | None = None) -> StoredRun:
    """The run with this id (or a unique start of it) or journal path; the newest run when
    none is given. It has the :class:`Run` API and shows itself as the panel."""
    return load(places.locate(id_or_path))


def save(run: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``run`` (every record, the function and items when they pickle) to a new
    journal file at ``path``; returns the path."""
    from ..events import BackendReady
    from .begin import _blobs, _meta, max_value
    from .claims import reserve
    from .writer import JournalWriter

    target = check(path)
    if not isinstance(target, Path):
        raise InputError(f"save() needs a file path, got {path!r}")
    target = target if target.suffix else target.with_suffix(".wbrun")
    reserve(target)
    spec = run.spec
    writer = JournalWriter(target, None,
                           lambda: {**_meta(run, spec.fn, spec.settings), "run_id": target.stem},
                           lambda: _blobs(spec.fn, spec.items, spec.settings),
                           max_value())
    writer(BackendReady(run))
    writer.records([*run.history, *run.tasks])
    writer.finish(run, wait=True, whole=True)
    if writer.failed:
        raise OSError(f"cannot write {target}: {writer.failed}")
    return target
