"""Exceptions workbench raises at its edges. Inside a run, failures are data (records)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .records import TaskRecord
    from .result import Run


class InputError(ValueError):
    """A bad argument: the message says what is wrong and how to fix it, in one line."""


class BackendNotInstalled(ImportError):
    """The backend's package is missing; the message says what to ``pip install``."""


class BackendError(RuntimeError):
    """A backend could not be started or reached (for example an ``address`` that does not
    answer)."""


class JournalError(InputError):
    """A journal file that cannot be used (missing, damaged, newer, in use by another
    process): the message says which and what to do, in one line."""


class JournalWarning(RuntimeWarning):
    """The journal stopped (a folder that cannot be written, a full disk): the run goes on in
    memory, and the message says where the journal was and why it stopped."""


class TaskErrors(Exception):
    """Raised by :meth:`Run.raise_for_errors`: a summary of every failed task of a run."""

    def __init__(self, message: str, errors: list[TaskRecord]):
        super().__init__(message)
        self.errors = errors


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C / "Interrupt kernel". ``.run`` holds every finished task."""

    def __init__(self, run: Run):
        super().__init__(f"run interrupted: {run.counts_text()}; the finished results are in "
                         "this exception's .run (and workbench.last_run())")
        self.run = run
