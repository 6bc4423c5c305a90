"""Stop on Dask: ``client.cancel(force=True)`` forgets a running task but leaves it running in
its worker's thread, so a stopped hour-long task would hold its worker, and the next run, for
the rest of the hour. Here a stopped chunk is stopped where it runs: the rest of its items are
skipped, the item running is interrupted (an asynchronous exception, heard at its next Python
instruction), and a worker whose task still runs a moment later (stuck in a C call: a sleep, a
read) is ended, on a cluster workbench started, whose nanny starts a new one (as for a task
past its timeout). A cluster that is not workbench's (``address=``, the user's own Client)
keeps its workers: only the interruption is tried there.

A worker ended here (or for a timeout) is restarted by its nanny; where that takes longer than
Dask's ``lost-worker-timeout`` (15 s: a loaded machine), ``LocalCluster`` closes the nanny and
the cluster stays a worker short for good, or with none, and a run would wait forever:
:func:`replace_dropped` starts it again."""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

#: Seconds a stopped task has to end after its interruption before its worker is ended.
STOP_GRACE = 1.0
#: Seconds one round trip to the workers may take.
ASK_TIMEOUT = 10.0

#: keys of the chunks stopped while running in this worker process
_stopped: set[Any] = set()


class ChunkStopped(Exception):  # noqa: N818 - what the interrupted task raises
    """Raised in a stopped task: the run it belongs to was stopped."""


def stop_check() -> tuple[Any, Callable[[], bool]]:
    """In a Dask worker's task: its key, and whether it has been stopped (the runner asks
    before each item)."""
    from distributed import get_worker

    key = get_worker().get_current_task()
    return key, lambda: key in _stopped


def forget(key: Any) -> None:
    """The chunk ``key`` has returned: its stop, if any, is over."""
    _stopped.discard(key)


def _stop_here(keys: list[Any], dask_worker: Any = None) -> list[Any]:
    """On each worker (``client.run``): stop the chunks ``keys`` running here; the keys it
    found running."""
    keys_set = set(keys)
    found = []
    for thread_id, key in list(dask_worker.active_threads.items()):
        if key in keys_set:
            _stopped.add(key)
            found.append(key)
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                                       ctypes.py_object(ChunkStopped))
    return found


def _running_here(keys: list[Any], dask_worker: Any = None) -> list[Any]:
    keys_set = set(keys)
    return [key for key in dask_worker.active_threads.values() if key in keys_set]


def _end_worker() -> None:  # pragma: no cover - runs on a Dask worker, and ends it
    import os

    os._exit(70)


def in_background(client: Any, keys: Iterable[Any], own_cluster: bool) -> None:
    """Stop the running chunks ``keys`` in a thread of its own: the run does not wait."""
    thread = threading.Thread(target=stop_running, args=(client, list(keys), own_cluster),
                              name="workbench-dask-stop", daemon=True)
    thread.start()


def stop_running(client: Any, keys: list[Any], own_cluster: bool) -> None:
    try:
        found = client.run(_stop_here, keys, on_error="return", callback_timeout=ASK_TIMEOUT)
        if not any(isinstance(v, list) and v for v in found.values()):
            return
        time.sleep(STOP_GRACE)
        still = client.run(_running_here, keys, on_error="return",
                           callback_timeout=ASK_TIMEOUT)
        stuck = [address for address, v in still.items() if isinstance(v, list) and v]
        if stuck and own_cluster:  # it never answers: the connection closes as it ends
            client.run(_end_worker, workers=stuck, on_error="return",
                       callback_timeout=ASK_TIMEOUT)
    except Exception:  # noqa: BLE001 - a closed client, a worker going away: nothing to stop
        return


def replace_dropped(cluster: Any) -> None:
    """Give workbench's ``LocalCluster`` back the workers it was asked for, where Dask dropped
    a nanny whose worker came back late, or a replacement failed to start (cheap: on every
    poll, a look at two small dicts). A replacement gets a new name: the dropped nanny may still
    be closing, its restarted worker still registered under the old one ("name taken")."""
    if cluster is None or getattr(cluster, "_correct_state_waiting", None) is not None or (
            getattr(cluster, "_lock", None) is not None and cluster._lock.locked()):
        return  # Dask is starting or closing workers now
    failed = {name for name, nanny in cluster.workers.items()
              if str(getattr(nanny, "status", "")).endswith(("failed", "closed"))}
    gone = [name for name in cluster.worker_spec if name not in cluster.workers or name in failed]
    if gone and all(isinstance(name, int) for name in (*cluster.worker_spec, *cluster.workers)):
        spec = cluster.worker_spec[gone[0]]
        fresh = max((*cluster.worker_spec, *cluster.workers), default=-1) + 1
        for k, name in enumerate(gone):
            del cluster.worker_spec[name]
            cluster.worker_spec[fresh + k] = spec
        cluster.scale(len(cluster.worker_spec))  # starts the new, closes the failed, at once
