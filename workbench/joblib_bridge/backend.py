"""joblib's side: :class:`WorkbenchBackend`, a ``ParallelBackendBase`` as joblib documents
third-party backends (Dask's and Ray's are built the same way), registered as
``"workbench"`` by :func:`workbench.joblib_bridge.register`.

Each ``Parallel`` call is one workbench run (:mod:`.call_run`); each joblib batch is one
chunk, and each call in it one task with its own record. Batches are sized by joblib's
auto-batching, as with loky: a fit that takes seconds travels alone, a thousand tiny calls
travel together. ``n_jobs=1`` is run by joblib itself in the caller, as with every backend.
"""

from __future__ import annotations

import os
from typing import Any

from joblib._parallel_backends import (
    AutoBatchingMixin,
    FallbackToBackend,
    ParallelBackendBase,
    SequentialBackend,
)

from .call_run import CallRun
from .settings import check_settings


class WorkbenchBackend(AutoBatchingMixin, ParallelBackendBase):
    """Run joblib's calls through workbench.

    Parameters (``joblib.parallel_config(backend="workbench", on=..., ...)``)
    ----------
    on : the workbench backend: ``"serial"``, ``"process_map"`` (default), ``"dask"`` or
        ``"ray"`` (``backend`` is joblib's own parameter, hence the name).
    workers : the most tasks at once (``None``: all cores, or the cluster's workers);
        ``n_jobs`` asks for fewer.
    session : the :class:`~workbench.joblib_bridge.context.JoblibRuns` that collects the runs
        (``wb.joblib_backend`` passes it).
    other keyword arguments : settings of :func:`workbench.run` (``address``, ``timeout``,
        ``retries``, ``seed``, ``backend_options``, ``view``, ``observers``).
    """

    #: ``n_jobs=None`` (scikit-learn's default) means every worker inside the block, as with
    #: Dask's joblib backend: choosing workbench is choosing to run in parallel.
    default_n_jobs = -1
    supports_retrieve_callback = True
    supports_inner_max_num_threads = False
    uses_threads = False
    supports_sharedmem = False

    def __init__(self, on: str = "process_map", workers: int | None = None,
                 session: Any = None, nesting_level: int | None = None,
                 inner_max_num_threads: int | None = None, **settings: Any):
        super().__init__(nesting_level=nesting_level,
                         inner_max_num_threads=inner_max_num_threads)
        self.settings, self.workers = check_settings(on, workers, settings)
        self.on = self.settings["backend"]
        self.session = session
        self.call: CallRun | None = None
        self._n_jobs = 1

    # ----------------------------------------------------------------- sizing
    def effective_n_jobs(self, n_jobs: int | None) -> int:
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs is None:
            n_jobs = self.default_n_jobs
        capacity = self._capacity()
        n = max(capacity + 1 + n_jobs, 1) if n_jobs < 0 else min(n_jobs, capacity)
        # serial runs one call at a time in workbench's thread; joblib must still hand the
        # calls over (with n_jobs == 1 it would run them itself, unrecorded)
        return max(n, 2) if self.on == "serial" and n_jobs != 1 else n

    def _capacity(self) -> int:
        """Tasks at once: ``workers=``, or the warm backend's workers, or the cores here."""
        if self.workers is not None:
            return self.workers
        from .. import backends

        warm = backends.live().get(self.on)
        if warm is not None and warm.spec.address == self.settings["address"]:
            return warm.workers
        return os.cpu_count() or 1

    def configure(self, n_jobs: int | None = 1, parallel: Any = None, prefer: Any = None,
                  require: Any = None, **backend_kwargs: Any) -> int:
        n = self.effective_n_jobs(n_jobs)
        if n == 1:
            raise FallbackToBackend(SequentialBackend(nesting_level=self.nesting_level))
        self.parallel, self._n_jobs = parallel, n
        return n

    def get_nested_backend(self) -> tuple[Any, int | None]:
        """joblib calls inside a task run one after the other in the task's worker: the
        workers are already busy, a pool per task would oversubscribe the cores."""
        return SequentialBackend(nesting_level=(self.nesting_level or 0) + 1), None

    # ----------------------------------------------------------------- one Parallel call
    def start_call(self) -> None:
        workers = self.workers if self.on == "serial" or self._n_jobs == self._capacity() \
            else self._n_jobs
        settings = {**self.settings, "workers": workers}
        session = self.session
        self.call = CallRun(
            settings, self.get_nested_backend(),
            make_view=lambda name: session.view_for(name, settings) if session is not None
            else _view(name, settings),
            started=session.started if session is not None else _ignore)

    def submit(self, func: Any, callback: Any = None) -> Any:
        if self.call is None:  # joblib always starts a call first; be safe if not
            self.start_call()
        return self.call.submit(func, callback)

    def retrieve_result_callback(self, future: Any) -> Any:
        return future.result()

    def abort_everything(self, ensure_ready: bool = True) -> None:
        if self.call is not None:
            self.call.cancel()

    def stop_call(self) -> None:
        call, self.call = self.call, None
        if call is not None:
            call.close()

    def terminate(self) -> None:
        """The workers stay warm for the next call (``wb.shutdown()`` stops them)."""
        self.stop_call()
        self.reset_batch_stats()


def _view(name: str, settings: dict[str, Any]) -> Any:
    """The view of a run outside ``wb.joblib_backend``: the one ``view=`` names, made now
    (in joblib's calling thread; a notebook panel is displayed here, not from the run's)."""
    from .view import view_now

    return view_now(name, settings)


def _ignore(_run: Any) -> None:
    pass
