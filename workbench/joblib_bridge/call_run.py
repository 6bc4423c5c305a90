"""One joblib ``Parallel`` call as one workbench run: it starts with the call's first batch,
takes the next batches as joblib dispatches them, and ends when joblib ends the call.

The run's loop (:mod:`workbench.loop`) goes on a thread of its own, as loky's and Dask's
result threads do: joblib waits for results in its caller's thread and dispatches the next
batch from the callback that a finished batch triggers."""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable
from typing import Any

from ..events import RunStarted
from .calls import JoblibCall, Shared, called_name, large_arguments
from .feed import BatchFuture, Feed, TaskFailed


class CallRun:
    """The run of one joblib call.

    ``settings``: checked run settings (:func:`workbench.checks.prepare`); ``nested``: the
    backend and ``n_jobs`` that joblib calls inside a task get; ``make_view``: called with
    the run's function name before the run starts (in joblib's calling thread, where a
    notebook shows what it displays), returns an observer or None; ``started``: told the
    :class:`~workbench.result.Run` as soon as it exists."""

    def __init__(self, settings: dict[str, Any], nested: tuple[Any, int | None],
                 share_over: int | None, make_view: Callable[[str], Any],
                 started: Callable[[Any], None]):
        self.settings, self.nested, self.share_over = settings, nested, share_over
        self.make_view, self.started = make_view, started
        self.feed = Feed()
        self.run: Any = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._cancelled = False
        self._shared: dict[int, tuple[int, Any]] = {}  # id -> (key, the argument)
        self._mine = (settings["backend"], threading.get_ident())
        with _lock:
            _active.append(self._mine)

    def submit(self, batch: Any, callback: Callable[[Any], None] | None) -> BatchFuture:
        """One joblib batch (``BatchedCalls``): each call is a task of its own."""
        if self._thread is None:
            self._start(called_name(batch.items[0][0]) if batch.items else "joblib",
                        batch.items)
        calls = [(func, self._placed(args), {k: self._place(v) for k, v in kwargs.items()},
                  self.nested) for func, args, kwargs in batch.items]
        future = self.feed.put(calls, _local_modules(batch.items))
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def _place(self, value: Any) -> Any:
        shared = self._shared.get(id(value))
        return Shared(shared[0]) if shared is not None and shared[1] is value else value

    def _placed(self, args: tuple) -> tuple:
        return tuple(self._place(a) for a in args) if self._shared else args

    def _start(self, name: str, first: list[tuple[Any, tuple, dict]]) -> None:
        from ..engine import execute

        observers = [o for o in (self._tell_run, self.make_view(name)) if o is not None]
        if self.settings["backend"] != "serial" and self.share_over is not None:
            # (in the caller's process nothing travels)
            self._shared = {i: (key, value) for key, (i, value)
                            in enumerate(large_arguments(first, self.share_over).items())}
        fn = JoblibCall(name, {key: value for key, value in self._shared.values()})

        def go() -> None:
            try:
                execute(fn, {}, self.settings, observers, feed=self.feed)
            except BaseException as exc:  # noqa: BLE001 - joblib raises it in its caller
                self.error = exc
                self.feed.fail(exc)
            else:  # stopped (Stop, or joblib aborted): whatever still waits will not run
                self.feed.fail(TaskFailed("the workbench run of this joblib call was stopped "
                                          "before this call ran"))

        # the config of the caller (wb.config blocks) goes with the run's thread
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(go,), daemon=True,
                                        name=f"workbench-joblib-{name}")
        self._thread.start()

    def _tell_run(self, event: Any) -> None:
        if isinstance(event, RunStarted):
            self.run = event.run
            if self._cancelled:
                self.run.cancel()
            self.started(self.run)

    def cancel(self) -> None:
        """joblib gave up on the call (a call failed, the caller stopped consuming, Ctrl-C):
        stop what is queued and running; finished records stay in the run."""
        self._cancelled = True
        if self.run is not None:
            self.run.cancel()
        self.feed.close()

    def close(self) -> None:
        """joblib ended the call: let the run finish what it has, and wait for it."""
        self.feed.close()
        try:
            if self._thread is not None:
                self._thread.join()
        finally:
            with _lock:
                _active.remove(self._mine)


#: (workbench backend, caller's thread) of every joblib call whose run is going.
_active: list[tuple[str, int]] = []
_lock = threading.Lock()


def busy(backend: str) -> bool:
    """A joblib call from this thread holds ``backend`` (a shared one: serial runs each get
    their own) until it ends: another call here would wait for it for ever."""
    with _lock:
        return backend != "serial" and (backend, threading.get_ident()) in _active


def _local_modules(calls: list[tuple[Any, tuple, dict]]) -> list[Any]:
    """The user's own modules that a batch's calls reach (their functions, and instances of
    their classes among the arguments): they travel by value, so that a worker runs today's
    code and a cluster's workers need not import them."""
    from ..local_code import local_modules

    found: dict[str, Any] = {}
    for func, args, kwargs in calls:
        for module in local_modules(functools.partial(func, *args, **kwargs)):
            found.setdefault(module.__name__, module)
    return list(found.values())
