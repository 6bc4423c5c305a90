"""``wb.joblib_backend()``: joblib (and so scikit-learn's ``n_jobs``) through workbench for a
block, with one panel for everything joblib runs in it; and :func:`register`, which makes
``joblib.parallel_config(backend="workbench")`` work anywhere."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from ..errors import InputError

#: The name joblib knows the backend by.
NAME = "workbench"


def register() -> None:
    """Register the ``"workbench"`` joblib backend (as Ray's ``register_ray()`` does):
    afterwards ``joblib.parallel_config(backend="workbench", on="dask")`` routes joblib's
    calls through workbench. :func:`joblib_backend` and ``%%parallel --joblib`` call it."""
    try:
        from joblib import parallel_config, register_parallel_backend  # noqa: F401
    except ImportError:
        raise InputError('the joblib backend needs joblib 1.3 or newer (scikit-learn brings '
                         'it): pip install "joblib>=1.3"') from None
    from .backend import WorkbenchBackend

    register_parallel_backend(NAME, WorkbenchBackend)


class JoblibRuns:
    """What :func:`joblib_backend` yields: ``runs`` holds a :class:`~workbench.result.Run`
    for each joblib ``Parallel`` call made inside the block (for a ``GridSearchCV``, one
    run, with one record per fit), in the order the calls started."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.runs: list[Any] = []
        self.panel: Any = None  # an ipywidgets box holding a panel per call, in a notebook
        self._lock = threading.Lock()

    def view_for(self, name: str, settings: dict[str, Any]) -> Any:
        """The observer of a new call's run (its panel goes into this block's box)."""
        from .view import view_now

        return view_now(name, settings, self.panel)

    def started(self, run: Any) -> None:
        with self._lock:
            self.runs.append(run)

    @property
    def run(self) -> Any:
        """The last call's run (``None`` before any call)."""
        return self.runs[-1] if self.runs else None

    def __repr__(self) -> str:
        calls = ", ".join(f"{r.fn_name}: {r.counts_text()}" for r in self.runs) or "none yet"
        return f"<workbench joblib runs on {self.backend}: {len(self.runs)} call(s); {calls}>"


@contextlib.contextmanager
def joblib_backend(backend: str = "process_map", workers: int | None = None, *,
                   n_jobs: int | None = None, **settings: Any) -> Iterator[JoblibRuns]:
    """Route joblib's ``Parallel`` calls inside the block (scikit-learn's ``n_jobs`` work
    too) through workbench: each call (each fit) becomes a task with its own record: its
    output, logs, warnings, timing and worker.

    Parameters
    ----------
    backend : ``"serial"``, ``"process_map"`` (default), ``"dask"`` or ``"ray"``.
    workers : the most tasks at once (``None``: all cores, or the cluster's workers).
    n_jobs : the default ``n_jobs`` of joblib calls inside the block (``None``: every
        worker, also for scikit-learn's default ``n_jobs=None``); a call's own ``n_jobs``
        wins, and ``n_jobs=1`` is run by joblib itself, unrecorded, as with any backend.
    settings : ``address``, ``timeout``, ``retries``, ``seed``, ``backend_options``,
        ``view``, ``observers``, as for :func:`workbench.run`.

    Examples
    --------
    >>> with wb.joblib_backend("process_map", workers=2) as jl:
    ...     search = GridSearchCV(model, grid, cv=5, verbose=3).fit(X, y)
    >>> jl.run.logs[0]          # the first fit's "[CV] END ..." line
    """
    register()
    import joblib

    session = JoblibRuns(backend)
    if n_jobs is not None:
        settings = {**settings, "n_jobs": n_jobs}  # (None: joblib's own "not set")
    config = joblib.parallel_config(backend=NAME, on=backend, workers=workers,
                                    session=session, **settings)
    with config:
        _show(session, config)
        yield session


def _show(session: JoblibRuns, config: Any) -> None:
    """In a notebook, the block's panel: one box, a panel per joblib call added as it
    starts."""
    from ..views import in_notebook

    backend = config.parallel_config["backend"]
    if backend.settings["view"] != "auto" or not in_notebook():
        return
    try:
        from .box import CallsBox
    except ImportError:  # no ipywidgets: each call's run gets the text view
        return
    from IPython.display import display

    where = backend.settings["backend"] + (f" at {backend.settings['address']}"
                                           if backend.settings["address"] else "")
    session.panel = CallsBox(session, where)
    display(session.panel)
