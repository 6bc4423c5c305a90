"""CPU and memory of the workers of a cluster workbench did not start (``address=``, your
own Dask client or Ray session), whose processes this machine cannot read: the numbers the
cluster gives, in the same :class:`~workbench.sampler.Sample` form as local ones, so the same
plot draws them. Where they come from is said in ``run.resources_from``.

* Dask: the scheduler's worker metrics (``Client.scheduler_info``: each worker's own
  ``cpu`` and ``memory`` from its heartbeat), read every second.
* Ray: each worker process measures itself (psutil) in its live messages
  (:mod:`workbench.worker.live`), every 0.5 s while it runs tasks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from .sampler import MAX_SAMPLES, ResourceSampler, Sample

FROM_HERE = "this machine's worker processes (psutil, every 0.25 s)"
FROM_DASK = "the Dask scheduler's worker metrics (from each worker's heartbeat, every second)"
FROM_RAY = "each Ray worker process, measuring itself while it runs tasks (every 0.5 s)"


class ClusterSampler(ResourceSampler):
    """Samples that ``read()`` returns, every ``interval`` seconds, on the sampler's thread."""

    def __init__(self, read: Callable[[], list[Sample]], interval: float = 1.0):
        super().__init__(list, interval=interval)
        self._read = read

    def _tick(self) -> None:
        batch = self._read()
        with self._lock:
            self._samples.extend(batch)
            if len(self._samples) > MAX_SAMPLES:
                self._samples = self._samples[::2]


def dask_reader(client: Any) -> Callable[[], list[Sample]]:
    """Reads the Dask scheduler's metrics of every worker (one round trip); each worker's
    pid is asked once (``client.run``), for a worker the scheduler had not listed before."""
    pids: dict[str, int] = {}

    def read() -> list[Sample]:
        workers = client.scheduler_info(n_workers=-1)["workers"]
        if set(workers) - set(pids):
            pids.update(client.run(os.getpid))
        now = time.time()
        return [Sample(now, pids[address], float(w["metrics"].get("cpu", 0.0)),
                       int(w["metrics"].get("memory", 0)))
                for address, w in workers.items() if address in pids and "metrics" in w]
    return read


def live_reader(live: Any) -> Callable[[], list[Sample]]:
    """The readings the workers sent with their live messages since the last call."""
    return lambda: [Sample(*reading) for reading in live.usage()]


def reader_for(backend: Any, live: Any) -> tuple[Callable[[], list[Sample]], str] | None:
    """What reads the workers of ``backend``'s cluster, and where the numbers come from."""
    if backend.spec.name == "dask" and getattr(backend, "_client", None) is not None:
        return dask_reader(backend._client), FROM_DASK
    if backend.spec.name == "ray" and live is not None:
        return live_reader(live), FROM_RAY
    return None
