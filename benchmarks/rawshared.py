"""Each raw backend's best practice for a large object every task needs (target P4): the
object travels once per call, never once per task, and the tasks get it as a keyword
argument, ``fn(item, **shared)``, as workbench's ``shared=`` calls them.

* ``ProcessPoolExecutor(initializer=...)``: a pool made for the call (its initializer is the
  only once-per-worker hook, and it runs when a worker starts), ``forkserver`` start method
  (workbench's own default, and Python's from 3.14; the benchmark's Dask and Ray threads are
  running by then, so it does not fork this process), so each worker receives the object
  once, pickled; the pool's start-up is part of the call, as it is part of this practice;
* Dask ``client.scatter(obj, broadcast=True, hash=False)``, then ``client.map`` with the
  future as a keyword argument (Dask resolves it on each worker);
* Ray ``ray.put(obj)`` once, then ``f.remote(item, obj=ref)`` (Ray resolves the reference).

Every call sends the object again: the workload changes it before each repetition (see
:func:`benchmarks.workloads.shared_workload`), so no call reuses an earlier copy.
"""

from __future__ import annotations

import functools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a pool worker imports this module: keep its import light
    from .workloads import Workload

WORKERS = 2
PPE = "PPE initializer"
DASK = "Dask scatter broadcast"
RAY = "Ray put once"

_held: dict[str, Any] = {}  # in a pool worker: what the initializer received


def _keep(shared: dict[str, Any]) -> None:  # runs once in each pool worker
    _held.clear()
    _held.update(shared)


def _with_held(fn: Any, item: Any) -> Any:  # runs in a pool worker, per task
    return fn(item, **_held)


def _items(w: Workload) -> list[Any]:
    return w.wb_items if w.wb_items is not None else w.items


def ppe_init(w: Workload) -> tuple[list[Any], dict]:
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(WORKERS, mp_context=ctx, initializer=_keep,
                             initargs=(w.shared,)) as pool:
        return list(pool.map(functools.partial(_with_held, w.fn), _items(w))), {}


def dask_scatter(client: Any, w: Workload) -> tuple[list[Any], dict]:
    scattered = {k: client.scatter(v, broadcast=True, hash=False) for k, v in w.shared.items()}
    futures = client.map(w.fn, _items(w), pure=False, **scattered)
    results = client.gather(futures)
    del futures, scattered
    return results, {}


def ray_put(ray: Any, cache: dict[Any, Any], w: Workload) -> tuple[list[Any], dict]:
    refs = {k: ray.put(v) for k, v in w.shared.items()}
    remote = remote_of(ray, cache, w.fn)
    results = ray.get([remote.remote(item, **refs) for item in _items(w)])
    del refs
    return results, {}


def remote_of(ray: Any, cache: dict[Any, Any], fn: Any) -> Any:
    """``ray.remote(fn)``, made once per function."""
    remote = cache.get(fn)
    if remote is None:
        remote = cache[fn] = ray.remote(fn)
    return remote
