"""The raw backends, used the way their own docs show, each started once and kept warm:

* a serial loop;
* tqdm ``process_map`` with its defaults (chunksize 1, a fresh pool per call, so its start-up
  is part of every call; the bar goes to /dev/null);
* one ``ProcessPoolExecutor`` (default start method), per-item ``submit`` and ``map`` with a
  tuned ``chunksize = ceil(n / (4 * workers))``;
* ``client.map`` per item on a Dask ``LocalCluster(n_workers=2, threads_per_worker=1,
  processes=True)``, and ``client.map`` over hand-made chunks (``4 * workers`` lists);
* ``f.remote`` per item on Ray (``ray.init(num_cpus=2)``; see :meth:`Raw.use_ray`), and
  ``f.remote`` over the same hand-made chunks.

A workload with ``shared=`` objects also gets each backend's best practice for one large
object every task needs, sent once per call (see :mod:`benchmarks.rawshared`).
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from . import rawshared
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
    def variants(self, backends: list[str], workload: Workload) -> list[Variant]:
        """The raw rows for ``workload``: per item and chunked; for a workload with
        ``shared=`` objects, the chunked Dask and Ray rows give way to each backend's best
        practice for a large object (the per-item rows then pickle it per task)."""
        shared = workload.shared is not None
        rows = [Variant("serial loop", "serial", "raw", serial_loop)]
        if "process_map" in backends:
            rows += [Variant("tqdm process_map", "process_map", "raw", self.tqdm_map),
                     Variant("PPE submit", "process_map", "raw", self.ppe_submit),
                     Variant(CHUNKED["process_map"], "process_map", "raw", self.ppe_map)]
            if shared:
                rows.append(Variant(rawshared.PPE, "process_map", "raw", rawshared.ppe_init))
        if "dask" in backends:
            rows.append(Variant("Dask client.map", "dask", "raw", self.dask_map))
            rows.append(Variant(rawshared.DASK, "dask", "raw", self.dask_scatter) if shared
                        else Variant(CHUNKED["dask"], "dask", "raw", self.dask_chunked))
        if "ray" in backends:
            rows.append(Variant("Ray f.remote", "ray", "raw", self.ray_map))
            rows.append(Variant(rawshared.RAY, "ray", "raw", self.ray_put) if shared
                        else Variant(CHUNKED["ray"], "ray", "raw", self.ray_chunked))
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

    def dask_chunked(self, w: Workload) -> tuple[list[Any], dict]:
        chunks = split(w.items)
        futures = self.client.map(run_chunk, [w.fn] * len(chunks), chunks,
                                  [w.star] * len(chunks), pure=False)
        results = [x for part in self.client.gather(futures) for x in part]
        del futures
        return results, {"chunks": len(chunks)}

    def dask_scatter(self, w: Workload) -> tuple[list[Any], dict]:
        return rawshared.dask_scatter(self.client, w)

    def ray_put(self, w: Workload) -> tuple[list[Any], dict]:
        return rawshared.ray_put(self.ray, self._remote, w)

    def ray_chunked(self, w: Workload) -> tuple[list[Any], dict]:
        remote = rawshared.remote_of(self.ray, self._remote, run_chunk)
        chunks = split(w.items)
        parts = self.ray.get([remote.remote(w.fn, chunk, w.star) for chunk in chunks])
        return [x for part in parts for x in part], {"chunks": len(chunks)}

    def ray_map(self, w: Workload) -> tuple[list[Any], dict]:
        remote = rawshared.remote_of(self.ray, self._remote, w.fn)
        if w.star:
            refs = [remote.remote(*item) for item in w.items]
        else:
            refs = [remote.remote(item) for item in w.items]
        return self.ray.get(refs), {}


#: The rows with hand-made chunks (P1 and P2 compare against them).
CHUNKED = {"process_map": "PPE map chunked", "dask": "Dask map chunked",
           "ray": "Ray remote chunked"}


def split(items: list[Any], parts: int = 4 * WORKERS) -> list[list[Any]]:
    """``items`` in ``parts`` contiguous lists of nearly equal length (none empty)."""
    size, extra = divmod(len(items), parts)
    bounds = [i * size + min(i, extra) for i in range(parts + 1)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def run_chunk(fn: Any, chunk: list[Any], star: bool) -> list[Any]:
    """One hand-made chunk, run on a Dask or Ray worker (imported there by name)."""
    return [fn(*item) for item in chunk] if star else [fn(item) for item in chunk]


def serial_loop(w: Workload) -> tuple[list[Any], dict]:
    if w.star:
        return [w.fn(*item) for item in w.items], {}
    return [w.fn(item) for item in w.items], {}
