"""The raw backends, used the way their own docs show, each started once and kept warm:

* a serial loop;
* tqdm ``process_map`` with its defaults (chunksize 1, a fresh pool per call, so its start-up
  is part of every call; the bar goes to /dev/null);
* one ``ProcessPoolExecutor`` (default start method), per-item ``submit`` and ``map`` with a
  tuned ``chunksize = ceil(n / (4 * workers))``;
* ``client.map`` per item on a Dask ``LocalCluster(n_workers=2, threads_per_worker=1,
  processes=True)``;
* ``f.remote`` per item on Ray (``ray.init(num_cpus=2)``; see :meth:`Raw.use_ray`).
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from .harness import Variant
from .workloads import Workload

WORKERS = 2


class Raw:
    """The warm raw backends of one benchmark run, and their start-up times."""

    def __init__(self) -> None:
        self.pool: ProcessPoolExecutor | None = None
        self.client: Any = None
        self.cluster: Any = None
        self.ray: Any = None
        self._ray_owned = False
        self._remote: dict[Any, Any] = {}
        self.startup: dict[str, float] = {}
        self._devnull = open(os.devnull, "w")  # noqa: SIM115 - closed in close()

    # ----------------------------------------------------------------- start-up
    def start_pool(self) -> None:
        """Before any thread is started: the default start method here is fork."""
        from workbench.examples import tiny

        began = time.perf_counter()
        self.pool = ProcessPoolExecutor(max_workers=WORKERS)
        list(self.pool.map(tiny, range(WORKERS)))  # start every worker now
        self.startup["ProcessPoolExecutor"] = time.perf_counter() - began

    def time_tqdm_start(self) -> None:
        """tqdm ``process_map`` starts a pool per call: a 1-item call is its start-up."""
        from tqdm.contrib.concurrent import process_map

        from workbench.examples import tiny

        began = time.perf_counter()
        process_map(tiny, [0], file=self._devnull)
        self.startup["tqdm process_map (per call)"] = time.perf_counter() - began

    def start_dask(self) -> None:
        from distributed import Client, LocalCluster

        from workbench.examples import tiny

        began = time.perf_counter()
        self.cluster = LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                                    host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                    silence_logs=logging.ERROR)
        self.client = Client(self.cluster, set_as_default=False)
        self.client.submit(tiny, 0, pure=False).result()
        self.startup["Dask LocalCluster"] = time.perf_counter() - began

    def time_ray_start(self) -> None:
        """A cold ``ray.init(num_cpus=2)`` to the first result, then shut down again, so that
        workbench's own cold start can be timed next (one Ray session per process)."""
        import ray

        from workbench.examples import tiny

        if ray.is_initialized():
            return
        began = time.perf_counter()
        ray.init(num_cpus=WORKERS, log_to_driver=False, logging_level=logging.ERROR)
        try:
            ray.get(ray.remote(tiny).remote(0))
            self.startup["Ray init"] = time.perf_counter() - began
        finally:
            ray.shutdown()

    def use_ray(self) -> None:
        """Raw Ray rows run in the process's Ray session: workbench's, if it started one (its
        ``num_cpus`` is also 2), else a new ``ray.init(num_cpus=2)`` owned here."""
        import ray

        if not ray.is_initialized():
            ray.init(num_cpus=WORKERS, log_to_driver=False, logging_level=logging.ERROR)
            self._ray_owned = True
        self.ray = ray

    def close(self) -> None:
        """Stop everything started here; safe to call more than once."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        if self._ray_owned and self.ray is not None and self.ray.is_initialized():
            self.ray.shutdown()
        self.ray, self._ray_owned = None, False
        self._remote.clear()
        if not self._devnull.closed:
            self._devnull.close()

    # ----------------------------------------------------------------- the rows
    def variants(self, backends: list[str]) -> list[Variant]:
        rows = [Variant("serial loop", "serial", "raw", serial_loop)]
        if "process_map" in backends:
            rows += [Variant("tqdm process_map", "process_map", "raw", self.tqdm_map),
                     Variant("PPE submit", "process_map", "raw", self.ppe_submit),
                     Variant("PPE map chunked", "process_map", "raw", self.ppe_map)]
        if "dask" in backends:
            rows.append(Variant("Dask client.map", "dask", "raw", self.dask_map))
        if "ray" in backends:
            rows.append(Variant("Ray f.remote", "ray", "raw", self.ray_map))
        return rows

    def tqdm_map(self, w: Workload) -> tuple[list[Any], dict]:
        from tqdm import TqdmWarning
        from tqdm.contrib.concurrent import process_map

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TqdmWarning)  # "set chunksize": we keep defaults
            return process_map(w.fn, *w.columns(), file=self._devnull), {}

    def ppe_submit(self, w: Workload) -> tuple[list[Any], dict]:
        if w.star:
            futures = [self.pool.submit(w.fn, *item) for item in w.items]
        else:
            futures = [self.pool.submit(w.fn, item) for item in w.items]
        return [f.result() for f in futures], {}

    def ppe_map(self, w: Workload) -> tuple[list[Any], dict]:
        chunksize = max(1, math.ceil(len(w.items) / (4 * WORKERS)))
        return list(self.pool.map(w.fn, *w.columns(), chunksize=chunksize)), {
            "chunksize": chunksize}

    def dask_map(self, w: Workload) -> tuple[list[Any], dict]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "large object in task graph": that is the point
            futures = self.client.map(w.fn, *w.columns(), pure=False)
            results = self.client.gather(futures)
        del futures
        return results, {}

    def ray_map(self, w: Workload) -> tuple[list[Any], dict]:
        remote = self._remote.get(w.fn)
        if remote is None:
            remote = self._remote[w.fn] = self.ray.remote(w.fn)
        if w.star:
            refs = [remote.remote(*item) for item in w.items]
        else:
            refs = [remote.remote(item) for item in w.items]
        return self.ray.get(refs), {}


def serial_loop(w: Workload) -> tuple[list[Any], dict]:
    if w.star:
        return [w.fn(*item) for item in w.items], {}
    return [w.fn(item) for item in w.items], {}
