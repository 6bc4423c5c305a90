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
import warnings
from typing import Any

from joblib._parallel_backends import (
    AutoBatchingMixin,
    FallbackToBackend,
    ParallelBackendBase,
    SequentialBackend,
)

from .call_run import CallRun, busy
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
        self._share_over: int | None = None

    # ----------------------------------------------------------------- sizing
    def effective_n_jobs(self, n_jobs: int | None) -> int:
        """What joblib sizes batches and ``pre_dispatch`` with: the tasks run at once, but at
        least 2 unless ``n_jobs=1`` was asked for (joblib runs a call of one job itself,
        unrecorded; one worker still records each call)."""
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs == 1:
            return 1
        return max(self._at_once(n_jobs), 2)

    def _at_once(self, n_jobs: int | None) -> int:
        """Tasks at once for ``n_jobs``: ``-1`` (and None) every worker, ``-2`` all but one,
        ``k`` at most k."""
        capacity = self._capacity()
        n_jobs = self.default_n_jobs if n_jobs is None else n_jobs
        return max(capacity + 1 + n_jobs, 1) if n_jobs < 0 else min(n_jobs, capacity)

    def _spec(self) -> Any:
        from .. import backends

        s = self.settings
        return backends.BackendSpec(s["backend"], s["workers"], s["address"],
                                    tuple(sorted(s["backend_options"].items())))

    def _capacity(self, start: bool = False) -> int:
        """The backend's workers: ``workers=``, or the warm backend's count; with ``start``
        a cluster is started (or joined) now to learn it, as loky starts its pool in
        ``configure``; else the cores here stand in for it."""
        if self.on == "serial":
            return 1
        if self.workers is not None:
            return self.workers
        from .. import backends

        spec = self._spec()
        warm = backends.live().get(self.on)
        if warm is not None and warm.spec == spec and warm.alive:
            return warm.workers
        if start and warm is None and self.on in ("dask", "ray"):  # (never one in use)
            return backends.acquire(spec)[0].workers
        return os.cpu_count() or 1

    def configure(self, n_jobs: int | None = 1, parallel: Any = None, prefer: Any = None,
                  require: Any = None, max_nbytes: int | None = None,
                  mmap_mode: str | None = None, **backend_kwargs: Any) -> int:
        if n_jobs == 1:
            raise FallbackToBackend(SequentialBackend(nesting_level=self.nesting_level))
        if self.call is not None or busy(self.on):
            # a joblib call inside the loop over another's results (return_as="generator"):
            # the backend is that call's until it ends, so this one would wait for ever
            warnings.warn(f"workbench: a joblib call started while another joblib call runs "
                          f"on {self.on} in this thread; it runs here, one call after the "
                          "other, unrecorded", RuntimeWarning, stacklevel=2)
            raise FallbackToBackend(SequentialBackend(nesting_level=self.nesting_level))
        self._capacity(start=True)
        self.parallel, self._n_jobs = parallel, self.effective_n_jobs(n_jobs)
        # joblib's own rule for large arrays (loky memory-maps them read-only): over
        # max_nbytes, with mmap_mode "r", an argument the calls share travels once per worker
        self._share_over = max_nbytes if mmap_mode == "r" else None
        return self._n_jobs

    def get_nested_backend(self) -> tuple[Any, int | None]:
        """joblib calls inside a task run one after the other in the task's worker: the
        workers are already busy, a pool per task would oversubscribe the cores."""
        return SequentialBackend(nesting_level=(self.nesting_level or 0) + 1), None

    # ----------------------------------------------------------------- one Parallel call
    def start_call(self) -> None:
        # the block's workers stay (a warm pool or cluster is kept); n_jobs limits this run
        settings = {**self.settings, "at_once": self._at_once(self.parallel.n_jobs)}
        session = self.session
        self.call = CallRun(
            settings, self.get_nested_backend(), self._share_over,
            make_view=lambda name: session.view_for(name, settings) if session is not None
            else _view(name, settings),
            started=session.started if session is not None else _ignore)

    def submit(self, func: Any, callback: Any = None) -> Any:
        if self.call is None:
            raise RuntimeError("joblib submitted a batch outside a call (start_call first)")
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
