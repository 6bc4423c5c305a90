"""The public entry point :func:`run`: check the input (:mod:`workbench.checks`), choose the
view (:mod:`workbench.views`), and run (:mod:`workbench.engine`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .checks import AUTO, prepare
from .config import NOT_GIVEN
from .engine import execute
from .events import Observer
from .result import Run


def run(fn: Callable[..., Any], items: Iterable[Any], *, backend: str = NOT_GIVEN,
        workers: int | None = NOT_GIVEN, chunksize: int | str = NOT_GIVEN,
        star: bool = False, shared: dict[str, Any] | None = None,
        seed: int | None = NOT_GIVEN, retries: int = NOT_GIVEN,
        timeout: float | None = NOT_GIVEN,
        address: str | None = NOT_GIVEN, backend_options: dict[str, Any] | None = NOT_GIVEN,
        view: Any = NOT_GIVEN, observers: Sequence[Observer] = (),
        journal: Any = NOT_GIVEN, live: bool = NOT_GIVEN) -> Run:
    """Run ``fn`` on every item and return a :class:`Run` with one record per item.

    Parameters
    ----------
    fn : the function; called as ``fn(item)`` (or ``fn(*item)`` with ``star=True``).
    items : any finite iterable: list, range, generator, numpy array, pandas Series, ...
    backend : ``"serial"`` (default), ``"process_map"``, ``"dask"``, ``"ray"``, or ``"auto"``:
        time the first items here, then run the rest where it pays off (``run.reason``
        says why; see :mod:`workbench.auto`).
    workers : tasks at once; ``None`` means all cores (or the cluster's workers).
    chunksize : items sent together; ``"auto"`` sizes chunks from measured task durations.
    star : call ``fn(*item)``, for items that are argument tuples.
    shared : objects every task needs, passed as keyword arguments: ``fn(item, **shared)``.
        Each worker receives them once per run (a large array or model is not pickled with
        every task). A large global or closure variable of ``fn`` travels the same way.
    seed : root of the per-task seeds read by :func:`workbench.task_rng` (``None``: fresh).
    retries : re-run a task that failed or whose worker died up to this many times.
    timeout : seconds a task may run; past it the task fails with ``TaskTimeout`` and the
        others go on.
    address : connect to an existing Dask scheduler or Ray cluster instead of starting one.
    backend_options : backend specific settings, e.g. ``{"start_method": "spawn"}`` for
        ``process_map`` or ``{"dashboard": True}`` for ``ray``.
    view : ``"auto"``, ``"text"`` (a tqdm bar), ``"none"``, or an observer callable.
    observers : more callables that receive the run's events.
    journal : ``True`` (default) writes every record as it arrives to a new file in the
        journal folder (see :func:`workbench.runs`, :func:`workbench.open`,
        :func:`workbench.resume`); a path writes it there; ``False`` keeps the run in memory.
    live : ``True`` (default): what running tasks write reaches :meth:`Run.running` and the
        panel while they run, about every 0.5 s; ``False``: only in each task's record.

    Examples
    --------
    >>> run = workbench.run(str.upper, ["a", "b"], backend="process_map", workers=2)
    >>> run.results
    ['A', 'B']
    """
    return start(*prepare(
        fn, items, backend=backend, workers=workers, chunksize=chunksize, star=star,
        shared=shared, seed=seed, retries=retries, timeout=timeout, address=address,
        backend_options=backend_options, view=view, observers=observers, journal=journal,
        live=live))


def start(fn: Callable[..., Any], items: dict[int, Any], settings: dict[str, Any],
          **resumed: Any) -> Run:
    """Run what :func:`~workbench.checks.prepare` checked, with the view its settings name
    (``resumed``: what :func:`workbench.resume` passes on to the engine); ``backend="auto"``
    is planned first (:mod:`workbench.auto`)."""
    from .views import make_view

    views = [make_view(settings["view"])]
    if settings["backend"] == AUTO:
        from . import auto

        return auto.run(fn, items, settings, views, **resumed)
    return execute(fn, items, settings, views, **resumed)
