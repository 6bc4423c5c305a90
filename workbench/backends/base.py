"""The protocol every backend implements, and the plain data it exchanges with the engine.

A backend runs chunks and reports what came back. It never sees a ``Run``, never builds
records and never decides chunk sizes: the engine does all that, identically for every backend.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from ..contract import DIED, FAILED, STOPPED, TIMEOUT, Loss, Outcome
from ..worker.runner import TaskOptions

__all__ = ["Backend", "BackendSpec", "Chunk", "Outcome", "Loss", "TIMEOUT_GRACE", "timeout_loss",
           "lost_cause"]


#: Seconds :meth:`Backend.watched_processes` keeps its list of processes.
WATCH_REFRESH = 5.0


def _descendants(pids: list[int]) -> list[Any]:
    """Every descendant of the processes ``pids`` (``psutil.Process``), from one pass over
    the process table (``Process.children(recursive=True)`` makes one pass per call)."""
    import psutil

    try:
        ppids = psutil._ppid_map()  # {pid: ppid}, what Process.children() reads
    except Exception:  # noqa: BLE001 - a psutil without it
        ppids = {p.pid: p.info.get("ppid") for p in psutil.process_iter(["ppid"])}
    children: dict[int, list[int]] = {}
    for pid, ppid in ppids.items():
        children.setdefault(ppid, []).append(pid)
    found, todo, seen = [], list(pids), set(pids)
    while todo:
        for pid in children.get(todo.pop(), ()):
            if pid not in seen:
                seen.add(pid)
                todo.append(pid)
                try:
                    found.append(psutil.Process(pid))
                except psutil.Error:  # exited meanwhile
                    continue
    return found


@dataclass(frozen=True)
class BackendSpec:
    """The settings that identify a backend instance; same spec, same warm backend."""

    name: str
    workers: int | None = None
    address: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, key: str, default: Any = None) -> Any:
        return dict(self.options).get(key, default)


@dataclass
class Chunk:
    """Some tasks sent together. ``items`` is a pickle (remote backends) or a list (local)."""

    id: int
    tasks: list[tuple[int, int]]  # (index, attempt)
    items: Any
    key: bytes
    options: TaskOptions
    submitted: float = 0.0


#: Seconds past a run's per-task ``timeout`` that a task which has not stopped (stuck in a C
#: call the TaskTimeout cannot interrupt) gets before its worker is killed or restarted, on the
#: backends that can (:attr:`Backend.stops_stuck_tasks`).
TIMEOUT_GRACE = 1.0


def timeout_loss(limit: float, action: str) -> Loss:
    """The loss of a chunk whose task ran past ``limit`` and whose worker was therefore
    ``action`` ("killed", "restarted")."""
    return Loss(TIMEOUT, f"ran past the timeout of {limit:g} s and did not stop (stuck outside "
                         f"Python?); its worker was {action}", True)


def lost_cause(exc: BaseException, backend: str, died: tuple[str, ...],
               started: bool | None) -> Loss:
    """Why a chunk whose future or object reference raised ``exc`` ended: cancelled, its
    worker died (an exception class named in ``died``), or the backend failed to run it.
    ``started``: what the backend knows of a chunk whose worker died (see
    :class:`~workbench.contract.Loss`)."""
    name = type(exc).__name__
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if "Cancelled" in name:
        return Loss(STOPPED, "cancelled", started)
    if name in died:
        return Loss(DIED, f"worker died ({backend} {name}{': ' + first if first else ''})",
                    started)
    return Loss(FAILED, f"{backend} failed to run the chunk: {name}: {first}", started)


class Backend(ABC):
    """Base class of the four backends.

    Capability flags (class attributes) tell the engine what it may rely on:

    * ``local``: runs tasks in the caller's own process (nothing is pickled).
    * ``streams``: reports records of a chunk before the whole chunk is done.
    * ``prefetch``: chunks to keep in flight per worker to hide the round-trip.
    * ``chunk_target``: seconds of work per chunk that make its overhead negligible.
    * ``stops_stuck_tasks``: a task stuck past its timeout in a C call (which the
      TaskTimeout cannot interrupt) has its worker killed or restarted, after
      :data:`TIMEOUT_GRACE`; elsewhere it runs on until it returns.
    * ``chunk_floor``: seconds of work below which ``chunksize="auto"`` does not shrink a
      chunk near the end of a run (see :class:`workbench.plan.Planner`): about what a chunk's
      round trip costs, so tiny items are not sent a few at a time.
    """

    local: ClassVar[bool] = False
    streams: ClassVar[bool] = False
    prefetch: ClassVar[int] = 2
    chunk_target: ClassVar[float] = 0.1
    chunk_floor: ClassVar[float] = 0.0
    stops_stuck_tasks: ClassVar[bool] = False
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None

    def __init__(self, spec: BackendSpec):
        self.spec = spec
        self._started = False
        self._n = spec.workers or os.cpu_count() or 1  # a cluster's backend counts its own
        self._roots: list[Any] = []  # psutil.Process objects started with this backend
        self._watch_cache: tuple[float, list[Any]] | None = None
        self._live_sink: Any = None  # where live messages go (see live_to)

    def processes(self) -> list[Any]:
        """The local processes of this backend (``psutil.Process``), children included:
        what the resource sampler watches and what leak checks allow to outlive a run.
        One pass over the process table, however many roots (Ray has about nine)."""
        roots = []
        for root in self._roots:
            try:
                if root.is_running():
                    roots.append(root)
            except Exception:  # noqa: BLE001 - it exited meanwhile
                continue
        if not roots:
            return []
        return list({p.pid: p for p in roots + _descendants([r.pid for r in roots])}.values())

    def watched_processes(self, fresh: bool = False) -> list[Any]:
        """:meth:`processes`, remembered for :data:`WATCH_REFRESH` seconds (unless ``fresh``):
        the resource sampler of a run on a warm backend starts without listing them again."""
        now = time.monotonic()
        cached = self._watch_cache
        if fresh or cached is None or now - cached[0] > WATCH_REFRESH:
            cached = self._watch_cache = (now, self.processes())
        return list(cached[1])

    @property
    def workers(self) -> int:
        """How many tasks can run at once."""
        return self._n

    def preflight(self) -> None:  # noqa: B027 - optional: most backends need no check
        """Cheap checks before anything starts or a warm backend is replaced (for example
        that an ``address`` answers); raise with a one-line message."""

    def live_to(self, sink: Any) -> None:
        """Hand each live message of the running tasks (see :mod:`workbench.worker.live`) to
        ``sink``, a callable, from now on; ``None``: drop them. Called by the run loop at a
        run's start and end; the backend calls ``self._live_sink`` from :meth:`poll`."""
        self._live_sink = sink

    @abstractmethod
    def start(self) -> None:
        """Start (or connect to) the workers; blocks until they can take tasks."""

    @abstractmethod
    def prepare(self, key: bytes, function: Any) -> None:
        """Make the function (its pickle, or the object for ``local`` backends) available to
        the workers under ``key`` before chunks referring to it are submitted."""

    @abstractmethod
    def submit(self, chunk: Chunk) -> None:
        """Queue a chunk; must not block on its execution."""

    @abstractmethod
    def poll(self, timeout: float) -> list[Outcome]:
        """Wait up to ``timeout`` seconds for news; return what arrived (maybe nothing)."""

    @abstractmethod
    def cancel(self, chunk_ids: list[int]) -> None:
        """Stop these chunks: drop the queued ones, stop the running ones where possible.
        A later :meth:`poll` still reports records that were finished before."""

    @abstractmethod
    def shutdown(self) -> None:
        """Release everything this backend started; idempotent."""

    @property
    def alive(self) -> bool:
        """Whether it can still take work (a dead cluster is replaced on the next run)."""
        return self._started

    @property
    def dashboard(self) -> str | None:
        """URL of the backend's own dashboard, if it has one running."""
        return None

    @property
    def cluster(self) -> str | None:
        """Whose cluster runs the tasks when it is not one workbench started (an
        ``address=``, the user's own Dask Client or Ray session), in words; else None."""
        return None
