"""``dask``: dask.distributed. The user's own default ``Client`` when there is one (as
``dask.compute`` and Dask's joblib backend use it; never closed here); else a ``LocalCluster``
of ``workers`` processes with one thread each, its scheduler, workers and dashboard bound to
127.0.0.1. With ``address=`` it connects to an existing scheduler, which it never shuts down.

Finished futures are pushed into a queue by done-callbacks, so waiting costs nothing per task
(``as_completed`` adds about 15% on tiny tasks). A small function travels as bytes with each
chunk and is unpickled once per worker; a large one (a function carrying big globals, or the
run's ``shared=`` objects) is scattered to every worker once, so each worker receives it once,
and a worker that replaces a dead one fetches it from a peer; the broadcast is kept for the next
runs while they share the same function and objects. The tasks of a chunk travel as one bytes
object, which Dask does not walk.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import queue
import time
from typing import Any

from ..contract import Outcome
from ..errors import BackendError
from ..payload import as_array, function_size, raw_view
from ..worker import run_chunk, timeouts
from . import addresses, dask_live, dask_stop, main_module
from .base import TIMEOUT_GRACE, Backend, Chunk, lost_cause, timeout_loss
from .dask_clients import default_client as _default_client
from .dask_clients import threads as _threads

#: Seconds to wait for an existing scheduler given by ``address=``.
CONNECT_TIMEOUT = 10.0
#: Functions pickled larger than this are broadcast once instead of sent with every chunk.
BROADCAST_BYTES = 1 << 20
_HINT = ("start one with `dask scheduler`, which prints its address (tcp://HOST:8786 by "
         "default; the dashboard's HTTP port is not it), or check the address")


def _run_chunk(key, blob, tasks, items, options):  # noqa: ANN001 - runs on a Dask worker
    from distributed import get_worker

    mine, stopped = dask_stop.stop_check()
    dask_live.start_here(options)
    try:
        return run_chunk((key, blob), tasks, items, options,
                         worker=str(get_worker().address), stop=stopped)
    finally:
        dask_stop.forget(mine)


def _overdue_here(grace: float) -> list[int]:  # runs on each Dask worker through client.run
    return timeouts.overdue(grace)


#: Seconds between two checks for such tasks (only while timed chunks are in flight).
WATCH_EVERY = 1.0
#: Seconds the check for stuck tasks, and ending a stuck worker, may take; a chunk whose
#: worker was ended is reported as timed out this long after at the latest.
RESTART_WAIT = 10.0


class DaskBackend(Backend):
    requires = ("distributed",)
    extra = "dask"
    prefetch = 2
    chunk_target = 0.2
    chunk_floor = 0.05
    stops_stuck_tasks = True

    def __init__(self, spec):
        super().__init__(spec)
        self._client: Any = None
        self._cluster: Any = None
        self._futures: dict[int, Any] = {}
        self._timed_chunks: dict[int, tuple[float, set[int]]] = {}  # id -> (timeout, indices)
        # chunks whose worker was ended for a timeout -> (the timeout, when it was asked)
        self._killed: dict[int, tuple[float, float]] = {}
        self._next_watch = 0.0
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._function: Any = None
        self._broadcast: tuple[bytes, Any] | None = None  # (key, future) of the last one
        self._main = contextlib.ExitStack()  # see main_module
        self._borrowed = False  # the user's default Client: never closed here

    def preflight(self) -> None:
        if self.spec.address is not None:
            addresses.check(self.spec.address, addresses.DASK, "Dask scheduler", _HINT,
                            probe_schemes=("tcp",))

    def start(self) -> None:
        import dask
        from distributed import Client, LocalCluster

        address = self.spec.address
        mine = _default_client() if address is None else None
        if mine is not None:  # the user's own Client: used as Dask-aware libraries use it
            self._client, self._borrowed = mine, True
            self._n = _threads(mine)
        elif address is not None:
            try:
                self._client = Client(address, timeout=self.spec.option(
                    "timeout", CONNECT_TIMEOUT), set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise BackendError(f"no Dask scheduler answered at {address} within "
                                   f"{self.spec.option('timeout', CONNECT_TIMEOUT):.0f} s "
                                   f"({exc}): {_HINT}") from None
            self._client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
            self._n = _threads(self._client)
        else:
            dashboard = self.spec.option("dashboard", True)
            # The nannies start (and restart) workers with spawn, which would run a script
            # without the __main__ guard again in each: not while this cluster lives.
            self._main = contextlib.ExitStack()
            self._main.enter_context(main_module.not_rerun())
            # workbench counts attempts itself (retries=): a task that kills its worker must
            # not be re-run three times by the scheduler first.
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self._cluster = LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:0" if dashboard else None,
                    silence_logs=logging.CRITICAL,  # workbench reports deaths itself
                    preload=["workbench.backends.dask_worker"])
            self._client = Client(self._cluster, set_as_default=False)
        self._started = True

    def processes(self) -> list[Any]:
        """Worker processes of the local cluster, restarted ones included (a LocalCluster's
        nannies live in the caller and start workers as its direct children)."""
        import psutil

        found = {p.pid: p for p in super().processes()}
        for nanny in getattr(self._cluster, "workers", {}).values():
            pid = getattr(getattr(nanny, "process", None), "pid", None)
            if pid:
                try:
                    found.setdefault(pid, psutil.Process(pid))
                except psutil.Error:
                    continue
        return list(found.values())

    @property
    def alive(self) -> bool:
        """Running, and still what a run would use: without ``address=``, the user's default
        Client if there is one now (made, or closed, since this backend started), else
        workbench's own cluster."""
        if not (self._started and self._client is not None
                and self._client.status == "running"):
            return False
        if self.spec.address is None:
            return _default_client() is (self._client if self._borrowed else None)
        return True

    @property
    def cluster(self) -> str | None:
        """Whose scheduler runs the tasks, when it is not workbench's own cluster."""
        if self._borrowed:
            return f"your Dask client's scheduler at {self._client.scheduler.address}"
        return f"the Dask scheduler at {self.spec.address}" if self.spec.address else None

    @property
    def dashboard(self) -> str | None:
        try:
            return self._client.dashboard_link if self._client is not None else None
        except Exception:  # noqa: BLE001 - a link is a nicety: never fail a run for it
            return None

    def prepare(self, key: bytes, function: Any) -> None:
        # Small: sent with every chunk (workers unpickle it once per key). Large: broadcast,
        # so the bytes cross the network once per worker, not once per chunk; the broadcast
        # is kept while the next runs share the same function (same key) again.
        main, buffers = function
        if function_size(function) <= BROADCAST_BYTES:
            self._function = (key, (main, [bytes(raw_view(b)) for b in buffers]))
            return
        if self._broadcast is not None and self._broadcast[0] == key:
            self._function = self._broadcast
            return
        self._broadcast = None  # let the previous one go before the next is sent
        # numpy views of the buffers (no copy): Dask sends arrays as raw frames
        future = self._client.scatter((main, [as_array(b) for b in buffers]),
                                      broadcast=True, hash=False)
        self._function = self._broadcast = (key, future)

    def _watch_timeouts(self) -> None:
        """A timed task stuck in a C call (a sleep, a socket read) ignores the asynchronous
        TaskTimeout of its worker thread: end the worker process that runs it (its nanny
        starts a new one; waiting for Dask's own restart took seconds more). Its chunk then
        fails, and is reported as a timeout."""
        now = time.monotonic()
        if not self._timed_chunks or now < self._next_watch:
            return
        self._next_watch = now + WATCH_EVERY
        try:  # a worker that is restarting must not hold the run up: ask with a deadline
            stuck = self._client.run(_overdue_here, TIMEOUT_GRACE, on_error="return",
                                     callback_timeout=RESTART_WAIT)
        except Exception:  # noqa: BLE001 - a worker going away: next time
            return
        for address, indices in stuck.items():
            if not isinstance(indices, list) or not indices:
                continue
            for chunk_id, (limit, tasks) in list(self._timed_chunks.items()):
                if any(i in tasks for i in indices) and chunk_id not in self._killed:
                    self._killed[chunk_id] = (limit, time.monotonic())
            try:  # it never answers: the connection closes as the process ends
                self._client.run(dask_stop._end_worker, workers=[address], on_error="return",
                                 callback_timeout=RESTART_WAIT)
            except Exception:  # noqa: BLE001 - it died anyway
                pass

    def _given_up(self) -> list[Outcome]:
        """Chunks whose worker was ended for a timeout but that Dask has not reported failed
        :data:`RESTART_WAIT` seconds later (a worker slow to go, on a loaded machine): they
        are over, as timed out, and the run goes on."""
        now, outcomes = time.monotonic(), []
        for chunk_id, (limit, asked) in list(self._killed.items()):
            if chunk_id in self._futures and now > asked + RESTART_WAIT:
                future = self._futures.pop(chunk_id)
                self._timed_chunks.pop(chunk_id, None)
                del self._killed[chunk_id]
                try:
                    self._client.cancel([future], force=True)
                except Exception:  # noqa: BLE001 - already gone
                    pass
                outcomes.append(Outcome(chunk_id, None, loss=timeout_loss(limit, "restarted")))
        return outcomes

    def submit(self, chunk: Chunk) -> None:
        key, blob = self._function
        # The tasks travel as one bytes object: Dask walks a list of tuples argument looking
        # for keys and futures (three calls per task), which costs more than pickling it.
        tasks = pickle.dumps(chunk.tasks, protocol=pickle.HIGHEST_PROTOCOL)
        future = self._client.submit(_run_chunk, key, blob, tasks, chunk.items,
                                     chunk.options, pure=False, retries=0)
        self._futures[chunk.id] = future
        if chunk.options.timeout is not None:
            self._timed_chunks[chunk.id] = (chunk.options.timeout, {i for i, _ in chunk.tasks})
        chunk_id = chunk.id
        future.add_done_callback(lambda _f: self._done.put(chunk_id))

    def live_to(self, sink: Any) -> None:
        super().live_to(sink)
        dask_live.listen(self._client, self._done, sink is not None)

    def poll(self, timeout: float) -> list[Outcome]:
        dask_stop.replace_dropped(self._cluster)
        self._watch_timeouts()
        ids = []
        try:
            ids.append(self._done.get(timeout=timeout))
            while True:
                ids.append(self._done.get_nowait())
        except queue.Empty:
            pass
        ids = dask_live.split(ids, self._live_sink)
        ready = {c: self._futures.pop(c) for c in ids if c in self._futures}
        for chunk_id in ready:
            self._timed_chunks.pop(chunk_id, None)
        fine = {c: f for c, f in ready.items() if f.status == "finished"}
        outcomes = []
        if fine:  # one round trip for every finished chunk (result() costs one each)
            try:
                results = self._client.gather(list(fine.values()), errors="raise")
            except Exception:  # noqa: BLE001 - lost meanwhile: take them one by one below
                results = None
            if results is not None:
                outcomes += [Outcome(c, r) for c, r in zip(fine, results)]
                ready = {c: f for c, f in ready.items() if c not in fine}
        for chunk_id, future in ready.items():
            try:
                outcomes.append(Outcome(chunk_id, future.result(timeout=30)))
            except Exception as exc:  # noqa: BLE001 - worker died, cancelled, data lost
                # Dask fails every task that was on a dying worker, not only the culprit
                loss = lost_cause(exc, "Dask", ("KilledWorker",), started=None)
                if chunk_id in self._killed:
                    loss = timeout_loss(self._killed.pop(chunk_id)[0], "restarted")
                outcomes.append(Outcome(chunk_id, None, loss=loss))
        return outcomes + self._given_up()

    def cancel(self, chunk_ids: list[int]) -> None:
        futures = [self._futures[c] for c in chunk_ids if c in self._futures]
        if futures:
            self._client.cancel(futures, force=True)  # queued ones; running ones go on:
            dask_stop.in_background(self._client, [f.key for f in futures],
                                    own_cluster=self._cluster is not None)

    def shutdown(self) -> None:
        self._futures.clear()
        self._function = self._broadcast = None
        client, cluster, self._client, self._cluster = self._client, self._cluster, None, None
        self._started = False
        if client is not None and not self._borrowed:
            client.close()
        if cluster is not None:  # only a cluster we started: never an existing scheduler
            with contextlib.suppress(Exception):  # distributed's close can trip over a
                cluster.close()  # worker it removed (KeyError, in CI): all closed by then
        self._main.close()
