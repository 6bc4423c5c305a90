"""The one patch workbench makes to someone else's code, on purpose, in workers only.

A task that starts processes of its own (a ``multiprocessing.Pool``, a
``ProcessPoolExecutor``, joblib's loky) inside a workbench worker oversubscribes the cores:
workers x its processes. ``multiprocessing.process.BaseProcess.start`` is wrapped, once per
worker process and never undone (the worker is ours), so that such a task gets a warning in its
own record, and, in a daemonic worker (Dask's), which cannot have children, fails with one
clear line instead of multiprocessing's bare ``AssertionError``. Outside a task, and in the
caller's own process (``serial``), nothing changes.
"""

from __future__ import annotations

import os
import warnings

from .task_api import current

_installed = False


def guard_nested_processes() -> None:
    """Install the wrapper in this worker process (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    import multiprocessing.process

    original = multiprocessing.process.BaseProcess.start

    def start(self):  # noqa: ANN001, ANN202
        task = current.get()
        if task is not None:
            if multiprocessing.process.current_process().daemon:
                raise RuntimeError(
                    f"task {task.index} starts a process inside a daemonic worker (Dask's "
                    "are), which cannot have children: use backend='process_map' or 'ray' "
                    "for a function that starts its own pool, or give it one worker's work")
            warnings.warn(
                f"task {task.index} starts processes inside a workbench worker: "
                f"{os.cpu_count()} cores are now shared by every worker and its processes; "
                "let workbench parallelise instead (map the inner items), or use fewer workers",
                RuntimeWarning, stacklevel=2)
        return original(self)

    multiprocessing.process.BaseProcess.start = start
