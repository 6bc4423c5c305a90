"""A run from start to end: make its :class:`~workbench.result.Run`, send the function, take a
backend (starting it, or waiting for a warm one's turn), hand the work to the dispatch loop
(:mod:`workbench.loop`), and tell the observers.

Everything here happens in the caller's thread; only :mod:`workbench.worker` runs in workers.
The checks come before (:mod:`workbench.checks`), the view is chosen above
(:mod:`workbench.api`).
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from . import backends
from .events import BackendReady, Observer, RunFinished, RunStarted
from .journal import begin
from .loop import Loop
from .payload import Encoded, encode_function, function_name
from .result import Run, RunSpec

_last_run: Run | None = None


def last_run() -> Run | None:
    """The most recent Run started in this process (also one that was interrupted)."""
    return _last_run


def execute(fn: Callable[..., Any], items: dict[int, Any], settings: dict[str, Any],
            observers: Sequence[Observer] = (), prior: Run | None = None,
            all_items: dict[int, Any] | None = None, feed: Any = None,
            reason: str | None = None, probed: Run | None = None) -> Run:
    """Run ``fn`` over ``items`` (index -> item) with checked ``settings`` (see
    :func:`workbench.checks.prepare`); ``observers`` and the settings' own receive the
    events, after the journal's writer (:mod:`workbench.journal`).

    A resumed run (:func:`workbench.resume`) passes the run it continues as ``prior`` and
    every item as ``all_items``: it starts with ``prior``'s records and runs only ``items``.
    A run that ``feed`` feeds (a joblib call, :mod:`workbench.joblib_bridge`) starts with no
    items and takes them from the feed until it is closed; each final record goes back to it.
    A run ``backend="auto"`` planned (:mod:`workbench.auto`) passes the run of the items it
    probed (``probed``, see :func:`_take_probed`) and why it chose this backend (``reason``)."""
    global _last_run
    name = settings["backend"]
    cls = backends.backend_class(name)
    encoded = Encoded(b"local", fn, {}, []) if cls.local else encode_function(fn)
    spec = backends.BackendSpec(name, settings["workers"], settings["address"],
                                tuple(sorted(settings["backend_options"].items())))
    result = Run(RunSpec(fn, items if all_items is None else all_items, settings),
                 function_name(fn), name, settings["workers"], settings["seed"],
                 settings["chunksize"])
    result.reason = reason
    if prior is not None:
        result.adopt(prior)
    journal = begin(result, fn, settings, encoded.files)  # a file in use: an error here
    if probed is not None:  # (after begin: their time is this session's, not an earlier one's)
        _take_probed(result, probed, journal)
    _last_run = result
    notify = _Notifier([o for o in (journal, *observers, *settings["observers"]) if o])
    notify(RunStarted(result))
    if not items and feed is None:  # nothing to run: no backend to start (Ray's costs seconds)
        result.state = "finished"
        notify(BackendReady(result))
        notify(RunFinished(result))
        return result
    with contextlib.ExitStack() as held:
        try:  # waits its turn if another thread runs on the same backend
            backend, result.startup_time = held.enter_context(backends.use(spec, result))
        except BaseException:
            result.state = "failed"
            notify(RunFinished(result))
            raise
        result.workers = backend.workers
        result.dashboard = backend.dashboard
        result.cluster = backend.cluster
        result.state = "running"
        notify(BackendReady(result))
        try:  # (the loop tells RunFinished itself, also when it fails)
            loop = Loop(result, backend, encoded, items, settings, notify, journal, feed)
            sampler = _sampler(backend, loop.live, result)
        except BaseException as exc:  # e.g. sending a large shared= object failed
            result.state = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            notify(RunFinished(result))
            raise
        if journal is not None:
            journal.watch(sampler)
        loop.go(sampler)
    return result


def _take_probed(run: Run, probed: Run, journal: Any) -> None:
    """The records of the items ``backend="auto"`` probed join ``run`` (and its journal), and
    the time they took its wall time."""
    run.history.extend(probed.history)
    tasks = probed.tasks
    run.collect_many(tasks)
    run.wall_time = run.wall_before = run.wall_before + probed.wall_time
    if journal is not None:
        journal.records([*probed.history, *tasks])


def _sampler(backend: backends.Backend, live: Any, run: Run) -> Any:
    """CPU and memory of the backend's worker processes, sampled in the background: local
    ones read here (the list of processes is remembered by the warm backend, so a run does
    not wait for it); those of a cluster workbench did not start as the cluster gives them
    (:mod:`workbench.cluster_sampler`); nothing for the caller's own process (``serial``)."""
    from . import cluster_sampler
    from .sampler import ResourceSampler

    if backend.local:
        return None
    if backend.watched_processes():
        sampler = ResourceSampler(backend.watched_processes,
                                  fresh=functools.partial(backend.watched_processes, fresh=True))
        run.resources_from = cluster_sampler.FROM_HERE
        return sampler.start()
    found = cluster_sampler.reader_for(backend, live)
    if found is None:
        return None
    read, run.resources_from = found
    return cluster_sampler.ClusterSampler(read).start()


class _Notifier:
    """Calls observers; one that raises is reported once and then left out."""

    def __init__(self, observers: list[Observer]):
        self._observers = observers

    def __call__(self, event: Any) -> None:
        for observer in list(self._observers):
            try:
                observer(event)
            except Exception as exc:  # noqa: BLE001 - a broken view must not break the run
                self._observers.remove(observer)
                warnings.warn(f"workbench: observer {observer!r} failed and was removed: "
                              f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
