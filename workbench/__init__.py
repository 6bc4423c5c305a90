"""workbench: run an ordinary function over many items on ``serial``, ``process_map``,
``dask`` or ``ray``, and keep, for every item, its result or error, its output and its timing.

>>> import workbench as wb
>>> run = wb.run(fn, items, backend="process_map")
>>> run.results, run.errors, run.logs[17], run.speedup

Heavy packages (dask, ray, IPython, ipywidgets, matplotlib) are imported only when used.
"""

from __future__ import annotations

from .api import run
from .backends import shutdown
from .compare import Comparison, compare
from .config import config
from .engine import last_run
from .errors import (
    BackendError,
    BackendNotInstalled,
    InputError,
    Interrupted,
    JournalError,
    JournalWarning,
    TaskErrors,
)
from .joblib_bridge import joblib_backend
from .joblib_bridge import register as register_joblib

# wb.open; left out of __all__, so that `from workbench import *` keeps the built-in open
from .journal import open_run as open  # noqa: F401
from .journal import resume, runs
from .records import Failed, LogEntry, TaskError, TaskRecord, WarningEntry
from .result import Run
from .worker import TaskTimeout, current_task, task_rng, task_seed_sequence

__version__ = "0.1.0"


def load_ipython_extension(ipython) -> None:  # noqa: ANN001
    """``%load_ext workbench``: register the ``%%parallel`` cell magic."""
    from .magic import ParallelMagics

    ipython.register_magics(ParallelMagics)

__all__ = [
    "run", "compare", "shutdown", "config", "last_run", "runs", "resume",
    "joblib_backend", "register_joblib",
    "task_rng", "task_seed_sequence", "current_task",
    "Run", "Comparison", "TaskRecord", "TaskError", "LogEntry", "WarningEntry", "Failed",
    "InputError", "BackendError", "BackendNotInstalled", "TaskErrors", "Interrupted",
    "JournalError", "JournalWarning",
    "TaskTimeout", "Panel", "load_ipython_extension",
]


def __getattr__(name: str):
    if name == "Panel":  # the standing dashboard needs ipywidgets: import it on first use
        from .views.dashboard import Panel

        return Panel
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
