"""Where journals are kept, what a new one is called, which file an id names, and pruning.

The folder is, first to last: ``workbench.config(journal_dir=...)``, the environment variable
``WORKBENCH_JOURNAL_DIR``, then the platform's per-user data folder: ``$XDG_DATA_HOME`` (else
``~/.local/share``) ``/workbench/runs`` on Linux, ``~/Library/Application Support/workbench/runs``
on macOS, ``%LOCALAPPDATA%\\workbench\\runs`` on Windows.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import time
from pathlib import Path

from ..config import NOT_GIVEN, resolve
from ..errors import JournalError
from .schema import SUFFIX

ENV = "WORKBENCH_JOURNAL_DIR"


def journal_dir() -> Path:
    """The folder new runs are journaled in (it may not exist yet)."""
    chosen = resolve("journal_dir", NOT_GIVEN)
    if chosen:
        return Path(chosen).expanduser()
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    home = Path.home()
    if sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "workbench" / "runs"


def new_id(fn_name: str) -> str:
    """``20261202-140312.094-etl-3f9a``: in time order by name (to the millisecond), readable,
    unique."""
    now = time.time()
    name = re.sub(r"[^A-Za-z0-9_]+", "", fn_name)[:40] or "fn"
    return (f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}.{int(now % 1 * 1000):03d}"
            f"-{name}-{secrets.token_hex(2)}")


def locate(id_or_path: str | os.PathLike[str] | None) -> Path:
    """The file a run id (or a unique start of one), or a path, names; ``None``: the newest."""
    from .writer import settle

    settle()  # this process's runs: their last records written, their files final
    folder = journal_dir()
    if id_or_path is None:
        kept = listing(folder)
        if not kept:
            raise JournalError(f"no runs kept in {folder}: runs are journaled there unless "
                               "journal=False")
        return kept[0]
    text = os.fspath(id_or_path)
    path = Path(text).expanduser()
    if path.suffix == SUFFIX or os.sep in text or path.is_file():
        return path
    exact = folder / f"{text}{SUFFIX}"
    if exact.is_file():
        return exact
    matches = [p for p in listing(folder) if p.stem.startswith(text)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        some = ", ".join(p.stem for p in matches[:3]) + (", ..." if len(matches) > 3 else "")
        raise JournalError(f"{text!r} names {len(matches)} runs ({some}): give more of the id")
    raise JournalError(f"no run {text!r} in {folder}: wb.runs() lists the runs kept, or give "
                       "the path of a .wbrun file")


def listing(folder: Path) -> list[Path]:
    """The journals in ``folder``, newest first: by name, which starts with the time the run
    started (a file named otherwise sorts by its name)."""
    try:
        return sorted((p for p in folder.iterdir() if p.suffix == SUFFIX), reverse=True)
    except OSError:
        return []


def remove(path: Path) -> None:
    """A journal and SQLite's side files."""
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


#: Pruning waits until this many runs past ``journal_keep`` have gathered, then removes them
#: together: a run in a full folder does not pay for a look at every file.
PRUNE_SLACK = 10


def prune(folder: Path, keep: int, max_bytes: int, spare: Path | None = None) -> list[Path]:
    """Delete the oldest journals in ``folder`` past the newest ``keep`` or past ``max_bytes``
    in all, once more than :data:`PRUNE_SLACK` runs are over the count; never ``spare`` nor a
    run another process is writing now. Returns what went."""
    from .claims import live_writer

    try:
        entries = sorted(((e.name, e.stat().st_size) for e in os.scandir(folder)
                          if e.name.endswith(SUFFIX)), reverse=True)
    except OSError:
        return []
    total = sum(size for _, size in entries)
    if len(entries) <= keep + PRUNE_SLACK and total <= max_bytes:
        return []  # the usual case: one look at the folder's names, no file opened
    gone, total = [], 0
    for i, (name, size) in enumerate(entries):
        path = folder / name
        total += size
        if path == spare or (i < keep and total <= max_bytes) or live_writer(path):
            continue
        remove(path)
        gone.append(path)
    return gone
