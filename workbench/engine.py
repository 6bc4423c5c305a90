"""The run loop: check the input, start (or reuse) the backend, hand out chunks, turn what
comes back into records, tell the observers, and return the :class:`~workbench.run.Run`.

Everything here happens in the caller's thread; only :mod:`workbench.capture` runs in workers.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import time
import warnings
from numbers import Real
from typing import Any, Callable, Iterable, Sequence

from . import backends
from .capture import TaskOptions
from .config import NOT_GIVEN, resolve
from .errors import InputError, Interrupted
from .events import BackendReady, Observer, RunFinished, RunStarted, TasksFinished
from .payload import (Encoded, decode_chunk, encode_function, encode_items, function_name,
                      unpicklable_item_record)
from .plan import Planner, check_chunksize, check_workers, materialize, whole
from .records import CANCELLED, ERROR, LOST, TaskError, TaskRecord
from .run import Run, RunSpec

#: The backends that can connect to a cluster by ``address=``.
ADDRESSED = ("dask", "ray")
#: Longest the loop waits for news before checking for a cancel request.
POLL_INTERVAL = 0.1
#: Longest a cancelled run waits for its running chunks to report.
CANCEL_TIMEOUT = 5.0

_last_run: Run | None = None
#: Chunk ids are unique in the process, so a late message about a chunk of an earlier run can
#: never be taken for one of this run.
_chunk_ids = itertools.count()


def last_run() -> Run | None:
    """The most recent Run started in this process (also one that was interrupted)."""
    return _last_run


def run(fn: Callable[..., Any], items: Iterable[Any], *, backend: str = NOT_GIVEN,
        workers: int | None = NOT_GIVEN, chunksize: int | str = NOT_GIVEN,
        star: bool = False, shared: dict[str, Any] | None = None,
        seed: int | None = NOT_GIVEN, retries: int = NOT_GIVEN,
        timeout: float | None = NOT_GIVEN,
        address: str | None = NOT_GIVEN, backend_options: dict[str, Any] | None = NOT_GIVEN,
        view: Any = NOT_GIVEN, observers: Sequence[Observer] = ()) -> Run:
    """Run ``fn`` on every item and return a :class:`Run` with one record per item.

    Parameters
    ----------
    fn : the function; called as ``fn(item)`` (or ``fn(*item)`` with ``star=True``).
    items : any finite iterable: list, range, generator, numpy array, pandas Series, ...
    backend : ``"serial"`` (default), ``"process_map"``, ``"dask"`` or ``"ray"``.
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

    Examples
    --------
    >>> run = workbench.run(str.upper, ["a", "b"], backend="process_map", workers=2)
    >>> run.results
    ['A', 'B']
    """
    return execute(*prepare(
        fn, items, backend=backend, workers=workers, chunksize=chunksize, star=star,
        shared=shared, seed=seed, retries=retries, timeout=timeout, address=address,
        backend_options=backend_options, view=view, observers=observers))


def prepare(fn: Callable[..., Any], items: Iterable[Any], *, backend: str = NOT_GIVEN,
            workers: int | None = NOT_GIVEN, chunksize: int | str = NOT_GIVEN,
            star: bool = False, shared: dict[str, Any] | None = None,
            seed: int | None = NOT_GIVEN, retries: int = NOT_GIVEN,
            timeout: float | None = NOT_GIVEN, address: str | None = NOT_GIVEN,
            backend_options: dict[str, Any] | None = NOT_GIVEN, view: Any = NOT_GIVEN,
            observers: Sequence[Observer] = ()
            ) -> tuple[Callable[..., Any], dict[int, Any], dict[str, Any]]:
    """The checks of :func:`run`, nothing started: ``(fn, items by index, settings)`` for
    :func:`execute`, or an :class:`InputError` that says what is wrong."""
    if not callable(fn):
        raise InputError(f"fn must be a function, got {type(fn).__name__} {fn!r:.40}: "
                         "pass the function itself, e.g. run(process, items)")
    shared = _check_shared(shared)
    _check_signature(fn, star, shared)
    if shared:
        fn = functools.partial(fn, **shared)
    settings = {
        "backend": resolve("backend", backend),
        "workers": check_workers(resolve("workers", workers)),
        "chunksize": check_chunksize(resolve("chunksize", chunksize)),
        "star": bool(star),
        "seed": resolve("seed", seed),
        "retries": resolve("retries", retries),
        "timeout": resolve("timeout", timeout),
        "address": resolve("address", address),
        "backend_options": resolve("backend_options", backend_options) or {},
        "view": resolve("view", view),
        "observers": tuple(observers),
    }
    _check_settings(settings)
    backends.backend_class(settings["backend"])  # unknown or missing backend: fail before work
    return fn, dict(enumerate(materialize(items))), settings


def _check_shared(shared: Any) -> dict[str, Any]:
    if shared is None:
        return {}
    if not isinstance(shared, dict) or not all(
            isinstance(k, str) and k.isidentifier() for k in shared):
        raise InputError("shared must be a dict of keyword-argument names to objects, e.g. "
                         "shared={'model': model}; the function is called as fn(item, model=model)")
    return shared


def _check_signature(fn: Callable[..., Any], star: bool, shared: dict[str, Any]) -> None:
    """A function that cannot take one item (or, with ``star``, any arguments) is a mistake
    to report before starting anything."""
    import inspect

    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    if inspect.iscoroutinefunction(fn):
        raise InputError(f"{function_name(fn)} is an async function: workbench maps plain "
                         "functions; wrap it, e.g. lambda x: asyncio.run(fn(x))")
    if star:
        try:
            signature.bind_partial(**shared)
        except TypeError as exc:
            raise InputError(f"{function_name(fn)}{signature} cannot take shared= "
                             f"{sorted(shared)}: {exc}") from None
        return
    try:
        signature.bind(object(), **shared)
    except TypeError:
        if shared:
            raise InputError(
                f"{function_name(fn)}{signature} cannot be called as fn(item, "
                f"{', '.join(f'{k}=...' for k in shared)}): give it one parameter for the "
                "item and one keyword parameter per shared object") from None
        raise InputError(
            f"{function_name(fn)}{signature} cannot be called with one item: give it one "
            "parameter, or pass items that are argument tuples with star=True") from None


def _check_settings(settings: dict[str, Any]) -> None:
    settings["retries"] = retries = whole(settings["retries"])
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InputError(f"retries must be a whole number >= 0, got {retries!r}")
    timeout = settings["timeout"]
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, Real)
                                or not 0 < timeout < math.inf):
        raise InputError(f"timeout must be a number of seconds > 0 (finite), or None; got "
                         f"{timeout!r}")
    if timeout is not None:
        settings["timeout"] = float(timeout)
    settings["seed"] = seed = whole(settings["seed"])
    if seed is None:
        import numpy as np

        settings["seed"] = int(np.random.SeedSequence().entropy)
    elif isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be a whole number >= 0 or None, got {seed!r}")
    address = settings["address"]
    if address is not None and settings["backend"] not in ADDRESSED:
        raise InputError(f"address= is for the dask and ray backends, not "
                         f"{settings['backend']!r}: add backend='dask' or backend='ray'")
    if not isinstance(settings["backend_options"], dict):
        raise InputError("backend_options must be a dict, e.g. {'start_method': 'spawn'}")


def rerun_settings(previous: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The settings of a run again (:meth:`Run.rerun_failed`) with ``changes``, checked as
    :func:`run` checks its arguments."""
    if "shared" in changes:
        raise InputError("rerun_failed() keeps the shared objects of the run; to change them, "
                         "call workbench.run(fn, items, shared=...) again")
    unknown = sorted(set(changes) - set(previous))
    if unknown:
        raise InputError(f"rerun_failed() got unknown setting(s) {', '.join(unknown)}: "
                         f"choose from {', '.join(sorted(previous))}")
    again = {**previous, **changes}
    again["workers"] = check_workers(again["workers"])
    again["chunksize"] = check_chunksize(again["chunksize"])
    again["observers"] = tuple(again["observers"])
    _check_settings(again)
    backends.backend_class(again["backend"])
    return again


def execute(fn: Callable[..., Any], items: dict[int, Any], settings: dict[str, Any]) -> Run:
    """Run ``fn`` over ``items`` (index -> item) with checked ``settings``."""
    global _last_run
    name = settings["backend"]
    cls = backends.backend_class(name)
    encoded = Encoded(b"local", fn, {}, []) if cls.local else encode_function(fn)
    spec = backends.BackendSpec(name, settings["workers"], settings["address"],
                                tuple(sorted(settings["backend_options"].items())))
    run = Run(RunSpec(fn, items, settings), function_name(fn), name, settings["workers"],
              settings["seed"], settings["chunksize"])
    _last_run = run
    from .views import make_view

    observers = [o for o in (make_view(settings["view"]), *settings["observers"]) if o]
    notify = _Notifier(observers)
    notify(RunStarted(run))
    if not items:  # nothing to run: no backend to start (a cold Ray costs seconds)
        run.state = "finished"
        notify(BackendReady(run))
        notify(RunFinished(run))
        return run
    with contextlib.ExitStack() as held:
        try:  # waits its turn if another thread runs on the same backend
            backend, run.startup_time = held.enter_context(backends.use(spec, run))
        except BaseException:
            run.state = "failed"
            notify(RunFinished(run))
            raise
        run.workers = backend.workers
        run.dashboard = backend.dashboard
        run.state = "running"
        notify(BackendReady(run))
        _Loop(run, backend, encoded, items, settings, notify).go()
    return run


def _sampler(backend: backends.Backend) -> Any:
    """CPU and memory of the backend's local worker processes, sampled in the background
    (nothing to sample in the caller's own process or on a remote cluster). The list of
    processes is remembered by the warm backend, so a run does not wait for it."""
    if backend.local or not backend.watched_processes():
        return None
    from .sampler import ResourceSampler

    sampler = ResourceSampler(backend.watched_processes,
                              fresh=functools.partial(backend.watched_processes, fresh=True))
    sampler.start()
    return sampler


class _SigintGuard:
    """While a run goes, Ctrl-C (or Jupyter's "Interrupt kernel") sets a flag that the loop
    reads within :data:`POLL_INTERVAL`, instead of raising wherever the caller happens to be:
    a KeyboardInterrupt landing between taking a chunk's results and recording them would lose
    records. It still raises at once inside a task running in this very process (``serial``),
    where only the task is interrupted, and on a second Ctrl-C. Only the main thread can
    install it; elsewhere (and under a handler someone else installed) nothing changes."""

    def __init__(self) -> None:
        self.heard = False
        self._previous: Any = None

    def __enter__(self) -> "_SigintGuard":
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is signal.default_int_handler:
                self._previous = previous
                signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum: int, frame: Any) -> None:
        from .capture import RunInterrupted, current_task

        again, self.heard = self.heard, True
        if again or current_task() is not None:
            raise RunInterrupted

    _handler.workbench_guard = True  # type: ignore[attr-defined]  # (see capture)

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            import signal

            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class _Notifier:
    """Calls observers; one that raises is reported once and then left out."""

    def __init__(self, observers: list[Observer]):
        self._observers = observers

    def __call__(self, event: Any) -> None:
        for observer in list(self._observers):
            try:
                observer(event)
            except Exception as exc:  # a broken view must not break the run
                self._observers.remove(observer)
                warnings.warn(f"workbench: observer {observer!r} failed and was removed: "
                              f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)


class _Loop:
    """One run's dispatch loop. Keeps chunks in flight, collects records, retries, cancels."""

    def __init__(self, run: Run, backend: backends.Backend, encoded: Encoded,
                 items: dict[int, Any], settings: dict[str, Any], notify: _Notifier):
        self.run, self.backend, self.items, self.notify = run, backend, items, notify
        self.key = encoded.key
        self.files = encoded.files  # where the code sent by value came from (tracebacks)
        self.by_value = encoded.by_value  # modules the items must be pickled with, by value
        self.retries = settings["retries"]
        self.options = TaskOptions(star=settings["star"], seed=settings["seed"],
                                   encode=not backend.local,
                                   timeout=settings.get("timeout"))
        self.planner = Planner(((i, 1) for i in items), backend.workers,
                               settings["chunksize"], backend.chunk_target,
                               backend.chunk_floor)
        self.in_flight: dict[int, tuple[list[tuple[int, int]], float]] = {}
        # chunk id -> (index, attempt) of the records a streaming chunk has sent so far
        self.reported: dict[int, set[tuple[int, int]]] = {}
        self.reported_count = 0
        self.isolated: set[tuple[int, int]] = set()  # (index, attempt) re-sent alone
        self.alone_in_flight: set[int] = set()
        self._stopping = False
        backend.prepare(encoded.key, encoded.blob)

    # ----------------------------------------------------------------- main loop
    def go(self) -> None:
        run = self.run
        sampler = _sampler(self.backend)
        began = time.perf_counter()
        run.started_at = time.time()
        interrupted = False
        guard = _SigintGuard()
        try:
            with guard:
                while True:
                    if run.cancel_requested or guard.heard:
                        break
                    self._fill()
                    if not self.in_flight and not len(self.planner):
                        break
                    self._handle(self.backend.poll(POLL_INTERVAL))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            interrupted = interrupted or guard.heard
            stopping = interrupted or run.cancel_requested
            if stopping or self.in_flight:  # also an unexpected error: leave nothing running
                self._stop()
            run.wall_time = time.perf_counter() - began
            if sampler is not None:
                run.resources = sampler.stop()
            run.state = "interrupted" if interrupted else (
                "cancelled" if stopping else "finished")
            self.notify(RunFinished(run))
        if interrupted:
            raise Interrupted(run)

    def _fill(self) -> None:
        capacity = self.backend.workers * self.backend.prefetch
        while len(self.in_flight) < capacity and len(self.planner):
            # A suspect of a worker death runs with nothing else in flight, so that if its
            # worker dies again no innocent task shares its fate (and its blame).
            if self.alone_in_flight or (self.planner.isolating and self.in_flight):
                break
            alone = self.planner.isolating
            tasks = self.planner.next_chunk()
            items = [self.items[i] for i, _ in tasks]
            if not self.backend.local:
                items, bad = encode_items(items, self.by_value)
                if bad:
                    records = []
                    for pos, reason in reversed(bad):
                        index, attempt = tasks.pop(pos)
                        records.append(unpicklable_item_record(
                            index, attempt, self.items[index], reason))
                    self._finish(records[::-1])
                    if not tasks:
                        continue
            chunk = backends.Chunk(next(_chunk_ids), tasks, items, self.key, self.options,
                                   time.time())
            self.backend.submit(chunk)
            self.in_flight[chunk.id] = (tasks, chunk.submitted)
            if alone:
                self.alone_in_flight.add(chunk.id)
            self.run.chunk_sizes.append(len(tasks))
        self._count_running()

    def _count_running(self) -> None:
        self.run.running = (sum(len(tasks) for tasks, _ in self.in_flight.values())
                            - self.reported_count)

    def _handle(self, outcomes: list[backends.Outcome]) -> list[TaskRecord]:
        finished: list[TaskRecord] = []
        encoded = not self.backend.local
        for outcome in outcomes:
            chunk_id = outcome.chunk_id
            entry = self.in_flight.get(chunk_id)
            if entry is None:
                continue
            tasks, submitted = entry
            records: list[TaskRecord] = []
            if outcome.result is not None:
                worker, pid, host, raws = outcome.result
                if raws:
                    records, timed, busy = decode_chunk(raws, worker, pid, host, submitted,
                                                        time.time(), encoded, self.files)
                    self.planner.observe_many(timed, busy)
                    finished += records
            earlier = self.reported.get(chunk_id)  # records of this chunk that came before
            if not outcome.done:
                if records:
                    if earlier is None:
                        earlier = self.reported[chunk_id] = set()
                    earlier.update([(r.index, r.attempt) for r in records])
                    self.reported_count += len(records)
                continue
            del self.in_flight[chunk_id]
            self.alone_in_flight.discard(chunk_id)
            if earlier is not None:
                del self.reported[chunk_id]
                self.reported_count -= len(earlier)
            if earlier is None and len(records) == len(tasks):
                missing: list[tuple[int, int]] = []  # the usual case: every record at once
            else:
                got = (earlier or set()) | {(r.index, r.attempt) for r in records}
                missing = [t for t in tasks if t not in got]
            if missing and outcome.lost is not None and not self._stopping:
                if outcome.started is False:  # only queued on a dead worker: send again
                    self.planner.resend(missing)
                    continue
                # Which task killed the worker? Unless it ran alone on a backend that
                # knows what was running, run each again alone: the culprit dies again.
                # Each may have run already (its record died with the worker): the new run
                # is its next attempt, and the first stays in the run's history.
                suspects = [t for t in missing if t not in self.isolated]
                if len(tasks) > 1 or outcome.started is None:
                    if suspects:
                        again = [(i, a + 1) for i, a in suspects]
                        self.isolated.update(again)
                        self.planner.resend(again, alone=True)
                        self._record(self._missing(suspects, outcome.lost, submitted,
                                                   isolating=True))
                    missing = [t for t in missing if t not in suspects]
            finished += self._missing(missing, outcome.lost, submitted)
        self._count_running()
        self._finish(finished)
        return finished

    def _missing(self, tasks: list[tuple[int, int]], lost: str | None,
                 submitted: float, isolating: bool = False) -> list[TaskRecord]:
        """Records for the tasks of a finished chunk that never reported (``isolating``:
        that are run again alone to find which of them killed the worker)."""
        now = time.time()
        if isolating:
            message = (f"{lost}; it was in the chunk that was running, so it may have run: "
                       "run again alone to find the task that killed the worker")
            return [TaskRecord(index=i, status=LOST, attempt=a, submitted=submitted,
                               received=now, error=TaskError("WorkerLost", message, ""))
                    for i, a in tasks]
        if self.run.cancel_requested or self._stopping:
            status, error = CANCELLED, TaskError("Cancelled", "the run was stopped", "")
        elif lost is not None and lost.startswith("timeout: "):  # its worker was killed
            return [TaskRecord(index=i, status=ERROR, attempt=a, submitted=submitted,
                               received=now, error=TaskError(
                                   "TaskTimeout", f"task {i} {lost[len('timeout: '):]}", ""))
                    for i, a in tasks]
        elif lost is not None:
            status, error = LOST, TaskError("WorkerLost", lost, "")
        else:
            status, error = LOST, TaskError("WorkerLost", "the worker returned no record", "")
        return [TaskRecord(index=i, status=status, error=error, attempt=a,
                           submitted=submitted, received=now) for i, a in tasks]

    def _record(self, records: list[TaskRecord]) -> None:
        """Keep records and tell the observers (no retries decided here)."""
        self.run.collect_many(records)
        self.notify(TasksFinished(self.run, tuple(records)))

    def _finish(self, records: list[TaskRecord]) -> None:
        if not records:
            return
        retry = self.retries and not self._stopping and not self.run.cancel_requested
        if retry:
            for record in records:
                if (record.status in (ERROR, LOST) and record.attempt <= self.retries
                        and record.error is not None
                        and record.error.type not in ("UnpicklableItem",)):
                    self.planner.requeue(record.index, record.attempt + 1)
        self._record(records)

    # ----------------------------------------------------------------- stopping
    def _stop(self) -> None:
        """Cancel what is queued and running; keep every record that made it back."""
        self._stopping = True
        queued = self.planner.drain()
        now = time.time()
        self._finish([TaskRecord(index=i, status=CANCELLED, attempt=a, submitted=None,
                                 received=now,
                                 error=TaskError("Cancelled", "the run was stopped before "
                                                 "this task started", ""))
                      for i, a in queued])
        if not self.in_flight:
            return
        self.backend.cancel(list(self.in_flight))
        deadline = time.monotonic() + CANCEL_TIMEOUT
        while self.in_flight and time.monotonic() < deadline:
            try:
                self._handle(self.backend.poll(POLL_INTERVAL))
            except KeyboardInterrupt:
                break  # a second Ctrl-C: stop waiting
        leftovers = [t for chunk_id, (tasks, _) in self.in_flight.items() for t in tasks
                     if t not in self.reported.get(chunk_id, ())]
        self.reported.clear()
        self.reported_count = 0
        self.in_flight.clear()
        self._finish(self._missing(leftovers, None, now))

