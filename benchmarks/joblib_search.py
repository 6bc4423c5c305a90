"""scikit-learn through joblib (target P9): a ``GridSearchCV`` of at least 40 fits, run by
joblib's default backend (loky), by Dask's and by Ray's own joblib backends, and by
workbench's joblib backend on ``process_map``, ``dask`` and ``ray``, all with ``n_jobs=2``.
``n_jobs=1`` (joblib running the fits itself) is the reference every row's scores must equal.

Every backend is warm (pools and clusters started once, as in the other sections); each row
times the whole ``fit``, so what workbench adds (a record per fit, its output and warnings)
is inside the figure.
"""

from __future__ import annotations

import functools
from typing import Any

from .harness import Variant
from .workloads import Workload

#: n_jobs of every parallel row.
N_JOBS = 2
CV = 5


def workload(mode: str) -> Workload:
    """Values of ``C``: 10 x 5 folds = 50 fits (8 x 5 = 40 with ``--quick``)."""
    import numpy as np

    count = 8 if mode == "quick" else 10
    grid = [float(c) for c in np.logspace(-2, 2, count)]
    return Workload("gridsearch", f"GridSearchCV: an RBF SVC on the digits, {count} values "
                    f"of C x {CV} folds = {count * CV} fits, n_jobs={N_JOBS}", None, grid)


def variants(backends: list[str], raw: Any) -> list[Variant]:
    rows = [Variant("n_jobs=1", "serial", "raw", _search(None, n_jobs=1)),
            Variant("joblib loky", "process_map", "raw", _search("loky"))]
    if "process_map" in backends:
        rows.append(Variant("workbench process_map", "process_map", "workbench",
                            _through("process_map")))
    if "dask" in backends:
        rows.append(Variant("Dask joblib", "dask", "raw", _search("dask", client=raw.client)))
        rows.append(Variant("workbench dask", "dask", "workbench", _through("dask")))
    if "ray" in backends:
        from ray.util.joblib import register_ray

        register_ray()
        rows.append(Variant("Ray joblib", "ray", "raw", _search("ray")))
        rows.append(Variant("workbench ray", "ray", "workbench", _through("ray")))
    return rows


@functools.lru_cache(maxsize=1)
def _data() -> tuple[Any, Any]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _fit(grid: list[float], n_jobs: int) -> tuple[list[Any], dict]:
    """A fit takes 0.1-0.4 s here: a search of minutes, in small."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    X, y = _data()
    search = GridSearchCV(SVC(gamma=0.02), {"C": grid}, cv=CV, n_jobs=n_jobs,
                          refit=False).fit(X, y)
    scores = [float(s) for s in search.cv_results_["mean_test_score"]]
    return [*scores, search.best_params_["C"]], {"fits": len(grid) * CV}


def _search(backend: str | None, n_jobs: int = N_JOBS, **params: Any):
    def call(w: Workload) -> tuple[list[Any], dict]:
        import joblib

        if backend is None:
            return _fit(w.items, n_jobs)
        with joblib.parallel_config(backend=backend, **params):
            return _fit(w.items, n_jobs)
    return call


def _through(backend: str):
    def call(w: Workload) -> tuple[list[Any], dict]:
        import workbench as wb

        with wb.joblib_backend(backend, workers=N_JOBS, view="none") as jl:
            results, extra = _fit(w.items, N_JOBS)
        run = jl.run
        if len(run) != len(w.items) * CV or run.counts["ok"] != len(run):
            raise AssertionError(f"{run.counts_text()}: not one ok record per fit")
        return results, {**extra, "run_wall_s": run.wall_time}
    return call


def close() -> None:
    """joblib's loky workers outlive the call (they are reused): end them with the section."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
