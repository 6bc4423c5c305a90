"""The start of a run's journal: which file, what is written first (what ran, with what), and
the one warning when the journal cannot be kept."""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import NOT_GIVEN, resolve
from ..errors import InputError, JournalError, JournalWarning
from . import code, places
from .claims import claim, reserve
from .rows import dump
from .schema import SUFFIX
from .writer import JournalWriter

#: The largest function (with its ``shared=`` objects) or item list pickled into the journal;
#: past it they are not stored, and a resume must be given them again.
MAX_BLOB = 64 * 1024**2
#: Settings that describe how the run was shown, not what ran: never stored.
NOT_KEPT = ("view", "observers", "journal")


@dataclass(frozen=True)
class Append:
    """``settings["journal"]`` of a resumed run: a new session in the file of the old one."""

    path: Path


def check(journal: Any) -> Any:
    """``journal=``: True, False/None, or a path (``str`` or ``os.PathLike``)."""
    if isinstance(journal, Append):
        return journal
    if journal is None or isinstance(journal, bool):
        return bool(journal)
    if isinstance(journal, (str, os.PathLike)) and os.fspath(journal):
        return Path(os.fspath(journal)).expanduser()
    raise InputError(f"journal must be True, False or a file path, got {journal!r}: e.g. "
                     "journal='etl.wbrun'")


def begin(run: Any, fn: Callable[..., Any], settings: dict[str, Any],
          files: dict[str, str] | None = None) -> JournalWriter | None:
    """The journal writer of ``run``, or None when the journal is off or cannot be written
    (then one :class:`JournalWarning` says why and the run goes on in memory). A file that
    another process writes, or that holds a run already, is an error before anything runs."""
    target = settings.get("journal", False)
    if not target:
        return None
    append = isinstance(target, Append)
    try:
        if append:
            path = target.path
            opened = claim(path, create=False)
        elif isinstance(target, Path):
            path = target if target.suffix else target.with_suffix(SUFFIX)
            opened = reserve(path)
        else:
            path, opened = _new_file(run.fn_name), None
    except OSError as exc:
        where = exc.filename or places.journal_dir()
        warnings.warn(f"workbench: cannot keep a journal at {where} ({exc.strerror or exc}); "
                      "the run goes on in memory: set wb.config(journal_dir=...) to a folder "
                      "you can write, or journal=False", JournalWarning, stacklevel=4)
        return None
    run.journal, run.id = path, path.stem
    items, created = run.spec.items, time.time()
    writer = JournalWriter(
        path, opened,
        (lambda: {}) if append else (lambda: _meta(run, fn, settings, files, created)),
        (lambda: []) if append else (lambda: _blobs(fn, items, settings)),
        max_value(), files,
        sampled_until=max((s.time for s in run.resources), default=0.0),  # a resume's
        wall_before=run.wall_before)
    if not append and target is True:  # old runs go, off the run's thread
        threading.Thread(target=writer_prune, args=(path,), daemon=True,
                         name="workbench-journal-prune").start()
    return writer


def _new_file(fn_name: str) -> Path:
    """A new file in the journal folder, reserved (ids of the same millisecond: another)."""
    folder = places.journal_dir()
    for _ in range(5):
        path = folder / f"{places.new_id(fn_name)}{SUFFIX}"
        try:
            reserve(path)
            return path
        except JournalError:
            continue
    raise FileExistsError(f"no free name in {folder}")


def max_value() -> int:
    """The largest result stored (``wb.config(journal_max_value=...)``)."""
    return resolve("journal_max_value", NOT_GIVEN)


def writer_prune(path: Path) -> None:
    """Old runs go (newest ``journal_keep`` kept, at most ``journal_max_bytes`` in all)."""
    try:
        places.prune(path.parent, resolve("journal_keep", NOT_GIVEN),
                     resolve("journal_max_bytes", NOT_GIVEN), spare=path)
    except OSError:
        pass  # another process pruning at the same moment, or a file in use: next time


def _meta(run: Any, fn: Callable[..., Any], settings: dict[str, Any],
          files: dict[str, str] | None = None, created: float | None = None) -> dict[str, Any]:
    from .. import __version__

    return {
        "run_id": run.id, "fn_name": run.fn_name, "fn_source": code.source(fn),
        "fn_hash": code.code_hash(fn), "n_items": len(run),
        "created": created or time.time(), "workbench": __version__,
        "python": sys.version.split()[0], "files": files or {},
        "reason": getattr(run, "reason", None),
        "settings": {k: v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)
                     for k, v in settings.items() if k not in NOT_KEPT},
    }


def _blobs(fn: Callable[..., Any], items: dict[int, Any],
           settings: dict[str, Any]) -> list[tuple[str, bytes | None, str | None]]:
    """The function, the items and the settings, pickled on the journal's thread."""
    kept = {k: v for k, v in settings.items() if k not in NOT_KEPT}
    return [_blob("function", fn), _blob("items", list(items.values())),
            _blob("settings", kept)]


def _blob(name: str, obj: Any) -> tuple[str, bytes | None, str | None]:
    size = _rough_size(obj)
    if size > MAX_BLOB:
        return name, None, f"about {size / 1e6:,.0f} MB, over the {MAX_BLOB / 1e6:,.0f} MB cap"
    try:
        data = dump(obj)
    except Exception as exc:  # noqa: BLE001 - whatever pickling raises: not stored, say why
        return name, None, f"cannot be pickled ({type(exc).__name__}: {exc})"[:300]
    if len(data) > MAX_BLOB:
        return name, None, f"{len(data) / 1e6:,.0f} MB, over the {MAX_BLOB / 1e6:,.0f} MB cap"
    return name, data, None


def _rough_size(obj: Any) -> int:
    """A cheap guess at the pickled size, from the objects' own sizes two levels down (an
    array's or a DataFrame's buffers included, also inside argument tuples and dicts; a long
    list from a sample of its items), so that a huge argument is not pickled to learn that it
    is too large."""
    import functools

    parts: list[Any] = []
    if isinstance(obj, functools.partial):
        parts = [*obj.args, *obj.keywords.values()]
    elif isinstance(obj, list):
        parts = obj
    step = max(1, len(parts) // 100)
    return sum(_size(part, 1) for part in parts[::step]) * step


def _size(obj: Any, depth: int) -> int:
    nbytes = getattr(obj, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    inner = (obj.values() if isinstance(obj, dict) else obj
             if isinstance(obj, (tuple, list)) and len(obj) <= 100 else ())
    return sys.getsizeof(obj) + (sum(_size(x, depth - 1) for x in inner) if depth else 0)
