"""``Run``: every task's record, in input order (kept by :mod:`workbench.store`), and the
numbers derived from them. Nothing here is stored twice: wall time, serial time and speed-up
come from the records and two clock readings, so every number a view shows can be recomputed
from the Run."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .batch import Batch, as_batch
from .errors import TaskErrors
from .records import CANCELLED, ERROR, LOST, OK, Logs, TaskRecord
from .views.format import counts_text, task_errors_text

if TYPE_CHECKING:
    from .live import RunningTask

#: Tracebacks shown in full by :meth:`Run.raise_for_errors`; the rest are counted.
MAX_TRACEBACKS = 3


@dataclass(frozen=True)
class RunSpec:
    """What is needed to run the same function again (for :meth:`Run.rerun_failed`)."""

    fn: Callable[..., Any]
    items: dict[int, Any]  # index -> item
    settings: dict[str, Any]


class Run:
    """The outcome of :func:`workbench.run`: one :class:`TaskRecord` per item, in input order.

    Attributes
    ----------
    fn_name, backend, workers : what ran, where, and how many at once.
    state : ``"starting"``, ``"running"``, ``"finished"``, ``"cancelled"`` or ``"interrupted"``.
    startup_time : seconds spent starting the backend for this run (0 when it was warm).
    wall_time : seconds from the first submission to the last record (start-up excluded).
    history : every superseded attempt of a retried task.
    in_flight : tasks handed to the backend that have not finished (queued there or running);
        :meth:`running` lists the ones running now.
    resources : CPU and memory samples of the worker processes (``Sample`` objects), and
        ``resources_from`` where they come from (this machine, a Dask scheduler, Ray workers).
    chunk_sizes : the size of each chunk sent, in order (shows what ``chunksize="auto"`` chose).
    cluster : whose cluster ran the tasks, in words, when workbench did not start it.
    reason : why ``backend="auto"`` chose this backend, in one line (``None`` otherwise).
    journal, id : the run's journal file and its name (see :func:`workbench.runs`), or ``None``.
    """

    def __init__(self, spec: RunSpec, fn_name: str, backend: str, workers: int | None,
                 seed: int, chunksize: int | str):
        self.spec = spec
        self.fn_name = fn_name
        self.backend = backend
        self.workers = workers
        self.seed = seed
        self.chunksize = chunksize
        self.indices: list[int] = list(spec.items)
        self.state = "starting"
        self.startup_time = 0.0
        self.wall_time = 0.0
        self.started_at: float | None = None  # time.time() of the first submission
        self.dashboard: str | None = None
        self.cluster: str | None = None
        self.reason: str | None = None  # why backend="auto" chose this backend
        self.history: list[TaskRecord] = []
        self.chunk_sizes: list[int] = []
        self.in_flight = 0  # tasks handed to the backend and not finished yet
        self.live: Any = None  # workbench.live.LiveTasks while the run goes (live output on)
        self.resources: list[Any] = []  # workbench.sampler.Sample of the worker processes
        self.resources_from: str | None = None  # where those numbers come from, in words
        self.journal: Any = None  # pathlib.Path of the run's journal file
        self.id: str | None = None
        self.wall_before = 0.0  # a resumed run: the wall time of the sessions before this one
        from .store import Store  # (numpy: imported with the first run, not with workbench)

        self._records = Store(self.indices)
        self._cancel = threading.Event()
        self.logs = Logs(self)

    # ----------------------------------------------------------------- filled by the engine
    def collect_many(self, records: Batch | Iterable[TaskRecord]) -> None:
        """Keep each record, in order; one that replaces an earlier attempt of its task moves
        that attempt to :attr:`history`."""
        self.history += self._records.add(as_batch(records))

    def add_items(self, indices: list[int]) -> None:
        """Items that joined while the run goes (a joblib call's, kept in ``spec.items``)."""
        self.indices.extend(indices)
        self._records.grow(indices)

    def adopt(self, earlier: Run) -> None:
        """Start from ``earlier``'s records, history, wall time and samples (a resume)."""
        self.history.extend(earlier.history)
        self.collect_many(earlier.tasks)
        self.wall_time = self.wall_before = earlier.wall_time
        self.resources = list(earlier.resources)

    # ----------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        """A Run pickles with its records and what ran; not with its live parts (the views and
        observers it told, its cancel flag)."""
        state = self.__dict__.copy()
        settings = {k: v for k, v in self.spec.settings.items() if k not in ("view", "observers")}
        state["spec"] = RunSpec(self.spec.fn, self.spec.items,
                                {**settings, "view": "none", "observers": ()})
        del state["_cancel"], state["logs"]
        state["live"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("running"), int):  # pickled before running() was a method
            state["in_flight"] = state.pop("running")
        if isinstance(state.get("_records"), dict):  # pickled before records had columns
            from .store import Store

            state["_records"] = Store.of(state["indices"], state.pop("_records").values())
            state.pop("_counts", None)
        state.setdefault("live", None)
        state.setdefault("resources_from", None)
        state.setdefault("reason", None)
        self.__dict__.update(state)
        self._cancel = threading.Event()
        self.logs = Logs(self)

    # ----------------------------------------------------------------- while it runs
    def running(self) -> list[RunningTask]:
        """The tasks running now: index, worker, pid, when each began, how long it has run and
        what it has written so far (:class:`workbench.live.RunningTask`), at most about 1 s
        old. Callable from any thread while the run goes (``workbench.last_run()`` is the run
        from its start); empty once it has ended, or with ``live=False``."""
        live = self.live
        return [] if live is None else live.running()

    def stragglers(self) -> list[int]:
        """The tasks that ran over 3x the median duration of the finished ones (with at least
        5 finished): what the panel marks, counted in its Summary."""
        from .live import straggler_limit

        limit = straggler_limit(self)
        return [] if limit is None else self._records.slower_than(limit)

    # ----------------------------------------------------------------- control
    def cancel(self) -> None:
        """Ask the run to stop: queued tasks become ``cancelled``, running ones are stopped,
        finished ones are kept. Safe to call from any thread (a Stop button)."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    # ----------------------------------------------------------------- records
    def __len__(self) -> int:
        return len(self.indices)

    def task(self, index: int) -> TaskRecord:
        """The record of the item at input position ``index``."""
        record = self._records.get(index)
        if record is None:
            raise KeyError(f"this run has no task {index}" if index not in self.spec.items
                           else f"task {index} has not finished yet")
        return record

    @property
    def tasks(self) -> list[TaskRecord]:
        """One record per finished task, in input order (each quiet one made as it is asked
        for: on a million tasks, prefer :attr:`results`, :attr:`errors` or
        :meth:`to_pandas`)."""
        return [r for r in map(self._records.get, self.indices) if r is not None]

    @property
    def results(self) -> list[Any]:
        """Return values in input order; a task that failed holds a :class:`Failed`."""
        return self._records.results(self.indices)

    @property
    def errors(self) -> list[TaskRecord]:
        """Records of the tasks that failed (``error`` or ``lost``), in input order."""
        return self._records.loud_in_order((ERROR, LOST))

    def not_ok(self) -> list[TaskRecord]:
        """Records of the finished tasks that did not return a value (``error``, ``lost``,
        ``cancelled``), in input order."""
        return self._records.loud_in_order((ERROR, LOST, CANCELLED))

    def durations(self) -> Any:
        """Seconds each finished task ran: a numpy array, in no particular order."""
        return self._records.durations()

    @property
    def counts(self) -> dict[str, int]:
        """Tasks per status, plus ``pending`` (not finished yet)."""
        return {**self._records.counts, "pending": len(self) - len(self._records)}

    @property
    def done(self) -> int:
        return len(self._records)

    @property
    def ok(self) -> bool:
        """Every task finished with a value."""
        return self._records.counts[OK] == len(self)

    # ----------------------------------------------------------------- derived timings
    @property
    def serial_time(self) -> float:
        """Sum of the task durations: about what a serial loop would have taken."""
        return float(self._records.durations().sum())

    @property
    def speedup(self) -> float | None:
        """``serial_time / wall_time``: how much the parallelism paid off (start-up excluded)."""
        return self.serial_time / self.wall_time if self.wall_time > 0 else None

    @property
    def efficiency(self) -> float | None:
        """Speed-up per worker (1.0 is perfect)."""
        s = self.speedup
        return s / self.workers if s is not None and self.workers else None

    # ----------------------------------------------------------------- errors at the edge
    def raise_for_errors(self) -> None:
        """Raise one :class:`TaskErrors` describing every task that did not return a value
        (failed, lost, cancelled or never finished; a few tracebacks in full); do nothing
        only when every task returned one. A stopped run never passes for a clean one."""
        errors = self.errors
        unfinished = self._records.loud_in_order((CANCELLED,))
        pending = len(self) - len(self._records)
        if not errors and not unfinished and not pending:
            return
        raise TaskErrors(task_errors_text(self, errors, unfinished, pending, MAX_TRACEBACKS),
                         errors + unfinished)

    def rerun_failed(self, **settings: Any) -> Run:
        """A new Run of the failed, lost and cancelled tasks only, with the same function and
        settings (override any with keyword arguments). Task indices and seeds are kept, so
        ``new.logs[i]`` is the new log of the same item ``i``."""
        from .api import start
        from .checks import rerun_settings

        again = rerun_settings(self.spec.settings, settings)
        store = self._records
        failed = {i: self.spec.items[i] for i in self.indices
                  if i not in store or (i in store.loud and store.loud[i].status != OK)}
        if "view" not in settings and not isinstance(again.get("view"), str):
            again["view"] = "auto"  # a panel belongs to its own run: the rerun gets its own
        return start(self.spec.fn, failed, again)

    # ----------------------------------------------------------------- export
    def to_pandas(self) -> Any:
        """A DataFrame, a row per finished task (columns: :data:`workbench.export.COLUMNS`)."""
        from .export import frame
        return frame(self)

    def save(self, path: Any) -> Any:
        """Write the run to a new journal file (``workbench.open(path)`` reads it)."""
        from .journal import save
        return save(self, path)

    # ----------------------------------------------------------------- plots
    def timeline(self) -> tuple[Any, Any, Any, Any]:
        """``(start, end, worker, status)`` of every finished task as numpy arrays (worker
        times; NaN: it never ran), what the timeline draws, without an object per task."""
        return self._records.timeline()

    def worker_labels(self) -> dict[int, str]:
        """Worker name of each worker process (pid) that ran a task."""
        return self._records.worker_labels()

    def plot_timeline(self) -> Any:
        """A matplotlib Figure: one bar per task on a row per worker, coloured by status
        (aggregated in time bins when there are more bars than pixels)."""
        from .plots import plot_timeline_arrays
        return plot_timeline_arrays(*self.timeline(), title=f"{self.fn_name} on {self.backend}")

    def plot_resources(self) -> Any:
        """A matplotlib Figure: CPU % and memory of each local worker process over time."""
        from .plots import plot_resources
        return plot_resources(self.resources, labels=self.worker_labels(),
                              title=f"{self.fn_name} on {self.backend}")

    # ----------------------------------------------------------------- display
    def counts_text(self) -> str:
        """``6 of 8 tasks done: 5 ok, 1 error, 2 pending``."""
        return counts_text(self)

    def __repr__(self) -> str:
        timing = ""
        if self.state not in ("starting", "running"):
            sp = self.speedup
            timing = f", wall {self.wall_time:.3g} s" + (f", speed-up {sp:.2f}x" if sp else "")
        workers = ("no workers started" if self.workers is None
                   else f"{self.workers} worker{'' if self.workers == 1 else 's'}")
        return (f"<Run {self.fn_name} on {self.backend} ({workers}), "
                f"{self.state}: {self.counts_text()}{timing}>")
