"""``ray``: a local ``ray.init(num_cpus=workers)`` on 127.0.0.1 with the dashboard off unless
``backend_options={"dashboard": True}``; with ``address=`` it connects to an existing cluster,
which it never shuts down. A Ray session the user started already is used as it is.

Ray's first start costs several seconds, so the session is kept warm between runs. Waiting is
batched (one ``ray.wait`` for the first ready chunk, then one more for every other ready one):
a ``num_returns=1`` loop costs about 30% on tiny tasks. The function is put in the object store
once, and kept while the next runs share the same function; each task gets its reference inside
a list, so Ray does not copy it into the worker for every task: a worker fetches it only when
its function cache lacks it. Ray's own retries are off: workbench counts attempts itself
(``retries=``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from typing import Any

from ..contract import DIED, Outcome
from ..errors import BackendError
from ..payload import as_array, function_size
from ..worker import HOST, functions, live, run_chunk, timeouts
from . import addresses, ray_live, ray_node
from .base import TIMEOUT_GRACE, Backend, Chunk, lost_cause, timeout_loss

#: Functions (with their shared objects) kept in the object store for later runs, and bytes.
PUT_KEEP = 8
PUT_BYTES = 1 << 30


def _run_chunk(key, blob, tasks, items, options, note, mailbox):  # noqa: ANN001 - in Ray
    import ray

    if isinstance(blob, list):  # [ObjectRef]: fetched only by a worker that lacks it
        blob = None if functions.has(key) else ray.get(blob[0])
    worker = "ray-" + ray.get_runtime_context().get_worker_id()[:8]
    if options.timeout is not None:
        timeouts.watch(TIMEOUT_GRACE, _end_this_worker)
    _running[:] = [note]
    if options.live is not None and mailbox is not None:
        live.start(ray_live.post_from_worker(mailbox), worker, HOST)
    try:
        return run_chunk((key, blob), tasks, items, options, worker=worker)
    finally:
        _running.clear()


#: In a Ray worker: the note (see :func:`_end_this_worker`) of the chunk running now.
_running: list[str] = []
#: The namespace of Ray's key-value store that holds the notes.
NOTES = "workbench"


def _end_this_worker(indices: list[int]) -> None:  # pragma: no cover - ends its process
    """In a Ray worker whose task is stuck past its timeout where the TaskTimeout cannot
    reach it (a C call, the alarm signal blocked): the caller cannot tell which process runs
    a chunk, so the worker ends itself, after leaving a note in the cluster's key-value store
    that tells the caller why its chunk failed."""
    from ray.experimental import internal_kv

    with contextlib.suppress(Exception):
        if _running:
            internal_kv._internal_kv_put(_running[0], "timeout", namespace=NOTES)
    os._exit(70)


class RayBackend(Backend):
    requires = ("ray",)
    extra = "ray"
    prefetch = 2
    chunk_target = 0.2
    chunk_floor = 0.05
    stops_stuck_tasks = True

    def __init__(self, spec):
        super().__init__(spec)
        self._ray: Any = None
        self._limits: dict[int, float] = {}  # chunk id -> per-task timeout of timed chunks
        self._remote: Any = None
        self._owned = False
        self._refs: dict[int, Any] = {}
        self._function: Any = None
        self._puts = functions.FunctionCache(PUT_KEEP, PUT_BYTES)  # key -> ObjectRef
        self._marker = uuid.uuid4().hex  # in the environment of every process of our node
        self._keeper: threading.Event | None = None  # ends the thread that started Ray
        self._standby: Any = None  # the standby reaper of our node, for a SIGKILLed caller
        self._live = ray_live.RayLive()

    def preflight(self) -> None:
        if self.spec.address is not None:
            addresses.check(self.spec.address, addresses.GRPC, "Ray head",
                            "start one with `ray start --head`, which prints its address "
                            "(HOST:6379), or check the address", probe_schemes=("tcp", "ray"))

    def start(self) -> None:
        import ray

        self._ray = ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = dict(
                include_dashboard=bool(self.spec.option("dashboard", False)),
                log_to_driver=False, logging_level=logging.ERROR,
                configure_logging=True)
            if self.spec.address is not None:
                kwargs["address"] = self.spec.address
                ray_node.offer_cluster_token()
            else:
                # "local": a node of our own, even where `ray start` left the address of
                # its head (running or not) in /tmp/ray, which a bare ray.init() joins
                kwargs.update(address="local", num_cpus=self._n, _node_ip_address="127.0.0.1")
                if kwargs["include_dashboard"]:
                    kwargs["dashboard_host"] = "127.0.0.1"
            try:
                with ray_node.local_node_env(self.spec.address is None, self._marker):
                    self._keeper = ray_node.init(ray, kwargs)
            except BaseException as exc:
                # a start that failed half-way leaves processes
                ray_node.stop_partial_start(ray, None if self.spec.address else self._marker)
                if not isinstance(exc, Exception):
                    raise  # Ctrl-C during the start
                where = f"at {self.spec.address}" if self.spec.address else "locally"
                hint = ("start a head with `ray start --head`, or check the address"
                        if self.spec.address else "on a busy machine, try again")
                raise BackendError(
                    f"could not start or reach Ray {where}: {type(exc).__name__}: "
                    f"{str(exc).splitlines()[0] if str(exc) else ''} ({hint})") from None
            self._owned = True
            if self.spec.address is None:  # reaps the node if this process is killed
                self._standby = ray_node.standby_reaper([], self._marker)
        if self.spec.address is not None or not self._owned:
            self._n = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_run_chunk)
        if self._owned and self.spec.address is None:
            # The live mailbox takes a worker process of its own, one of the n Ray started:
            # a cold first run then has one task worker until Ray starts another (seconds).
            # Warming n task workers here fixed that, but left a worker Ray was still
            # starting when a SIGKILLed kernel's node was reaped (test_kernel): not done.
            self._live.open(ray)
        self._started = True

    @property
    def alive(self) -> bool:
        return self._started and self._ray is not None and self._ray.is_initialized()

    @property
    def cluster(self) -> str | None:
        if self.spec.address is not None:
            return f"the Ray cluster at {self.spec.address}"
        return None if self._owned else "your Ray session (ray.init)"

    @property
    def dashboard(self) -> str | None:
        try:
            url = self._ray.get_runtime_context().dashboard_url if self._ray else None
        except Exception:  # noqa: BLE001 - a link is a nicety: never fail a run for it
            url = None
        if url and not url.startswith("http"):
            url = "http://" + url
        return url or None

    def prepare(self, key: bytes, function: Any) -> None:
        # Put once, and kept for the next runs that share the same function (same key)
        # again: the last PUT_KEEP functions, up to PUT_BYTES. The buffers go in as numpy
        # views (Ray stores arrays without pickling them).
        ref = self._puts.get(key)
        if ref is None:
            main, buffers = function
            ref = self._ray.put((main, [as_array(b) for b in buffers]))
        self._puts.add(key, ref, function_size(function))  # the most recent last
        self._function = (key, ref)

    def submit(self, chunk: Chunk) -> None:
        key, blob_ref = self._function
        # The reference travels inside a list: Ray resolves a top-level reference (copies
        # the function into the worker) for every task, even when the worker has it cached.
        mailbox = None if chunk.options.live is None else self._live.open(self._ray)
        self._refs[chunk.id] = self._remote.remote(key, [blob_ref], chunk.tasks, chunk.items,
                                                   chunk.options, self._note(chunk.id), mailbox)
        if chunk.options.timeout is not None:
            self._limits[chunk.id] = chunk.options.timeout

    def _note(self, chunk_id: int) -> str:
        return f"{self._marker}:{chunk_id}"  # unique among every caller of a cluster

    def poll(self, timeout: float) -> list[Outcome]:
        if not self._refs:
            return []
        ray = self._ray
        by_ref = {ref: chunk_id for chunk_id, ref in self._refs.items()}
        refs = list(by_ref) + self._live.refs(self._live_sink is not None)
        ready, rest = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        ready = self._live.deliver(ray, ready, self._live_sink)
        outcomes = []
        for ref in ready:
            chunk_id = by_ref[ref]
            del self._refs[chunk_id]
            limit = self._limits.pop(chunk_id, None)
            try:
                outcomes.append(Outcome(chunk_id, ray.get(ref)))
            except Exception as exc:  # noqa: BLE001 - worker died, cancelled, ...
                loss = lost_cause(exc, "Ray", _DIED, started=True)
                if limit is not None and loss.kind == DIED and self._timed_out(chunk_id):
                    loss = timeout_loss(limit, "ended")
                outcomes.append(Outcome(chunk_id, None, loss=loss))
        return outcomes

    def _timed_out(self, chunk_id: int) -> bool:
        """Whether the worker of this chunk ended itself for a stuck task (its note)."""
        from ray.experimental import internal_kv

        try:
            return bool(internal_kv._internal_kv_del(self._note(chunk_id), namespace=NOTES))
        except Exception:  # noqa: BLE001 - no note to read: a death like any other
            return False

    def cancel(self, chunk_ids: list[int]) -> None:
        for chunk_id in chunk_ids:
            ref = self._refs.get(chunk_id)
            if ref is not None:
                try:
                    self._ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - already finished
                    pass

    def shutdown(self) -> None:
        self._refs.clear()
        self._limits.clear()
        self._function = None
        self._puts.clear()
        self._live = ray_live.RayLive()
        if self._owned and self._ray is not None and self._ray.is_initialized():
            started = self.processes()
            reaper = ray_node.standby_reaper(started, self._marker)
            try:
                self._ray.shutdown()
                ray_node.reap(started, self._marker)
            finally:
                for standby in (reaper, self._standby):
                    if standby is not None:
                        standby.kill()  # we lived to do it ourselves
                        standby.wait()
                self._standby = None
        if self._standby is not None:  # (a node that ended by itself: nothing to reap)
            self._standby.kill()
            self._standby.wait()
            self._standby = None
        if self._keeper is not None:
            self._keeper.set()
            self._keeper = None
        self._owned = False
        self._started = False


#: Ray's exceptions for a task whose worker process, actor or node died (the OOM killer's
#: included). Ray hands a task to a worker only to run it: such a chunk had started.
_DIED = ("WorkerCrashedError", "ActorDiedError", "NodeDiedError", "OutOfMemoryError",
         "LocalRayletDiedError")
