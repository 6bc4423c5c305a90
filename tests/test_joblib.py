"""joblib and scikit-learn through workbench (``wb.joblib_backend``, the ``"workbench"``
joblib backend): real searches on the four real backends give what joblib's own run gives,
with one record per fit; joblib's documented behaviour holds (order, the first error with its
type, nested calls, generators, ``n_jobs``, batches, stopping early)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import workbench as wb
from conftest import ALL_BACKENDS, WORKERS

joblib = pytest.importorskip("joblib")
sklearn = pytest.importorskip("sklearn")

from joblib import Parallel, delayed  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

GRID = {"max_depth": [1, 2, 3, None], "min_samples_leaf": [1, 5]}
CV = 3
FITS = len(GRID["max_depth"]) * len(GRID["min_samples_leaf"]) * CV


def _search(n_jobs: int, **kwargs) -> GridSearchCV:
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(DecisionTreeClassifier(random_state=0), kwargs.pop("grid", GRID),
                          cv=CV, n_jobs=n_jobs, verbose=3, **kwargs)
    return search.fit(X, y)


def _scores(search: GridSearchCV) -> dict[str, list]:
    return {k: list(v) for k, v in search.cv_results_.items()
            if k.startswith(("split", "mean_test", "rank"))}


def _through(backend: str, **kwargs):
    return wb.joblib_backend(backend, workers=WORKERS, view="none", **kwargs)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_a_grid_search_gives_joblibs_result_with_a_record_per_fit(backend):
    alone = _search(n_jobs=1)
    with _through(backend) as jl:
        search = _search(n_jobs=2)
    assert search.best_params_ == alone.best_params_
    assert _scores(search) == _scores(alone)
    assert len(jl.runs) == 1
    run = jl.run
    assert run.fn_name == "_fit_and_score" and run.backend == backend
    assert len(run) == FITS and run.counts["ok"] == FITS and run.state == "finished"
    for record in run.tasks:  # each fit's own verbose line, in its own record
        assert record.stdout.count("[CV ") == 1 and " END " in record.stdout, record.stdout
        assert record.worker and record.duration is not None
    if backend != "serial":
        assert os.getpid() not in {r.pid for r in run.tasks}


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_a_fit_that_raises_is_an_error_record_and_the_search_raises_as_without(backend):
    bad = {"max_depth": [2, -1]}  # -1: scikit-learn's own parameter check refuses it
    with pytest.raises(ValueError) as alone:
        _search(n_jobs=1, grid=bad, error_score="raise")
    with _through(backend) as jl, pytest.raises(type(alone.value)) as through:
        _search(n_jobs=2, grid=bad, error_score="raise")
    assert "max_depth" in str(through.value)
    errors = jl.run.errors
    assert errors and {r.error.type for r in errors} == {type(alone.value).__name__}
    assert all(r.status in ("ok", "error", "cancelled") for r in jl.run.tasks)
    # with error_score=nan the search goes on, exactly as without workbench
    with pytest.warns(Warning):
        alone_nan = _search(n_jobs=1, grid=bad, error_score=np.nan)
    with _through(backend) as jl, pytest.warns(Warning):
        nan = _search(n_jobs=2, grid=bad, error_score=np.nan)
    assert np.array_equal(nan.cv_results_["mean_test_score"],
                          alone_nan.cv_results_["mean_test_score"], equal_nan=True)
    assert jl.run.counts["ok"] == len(jl.run) == 2 * CV


def _square(x):
    print(f"square {x}")
    return x * x


def _fails_on(x, bad):
    if x == bad:
        raise KeyError(f"no {x}")
    return x


def _nested_backend(_):
    from joblib.parallel import get_active_backend

    backend, _n = get_active_backend()
    pids = Parallel(n_jobs=-1)(delayed(os.getpid)() for _ in range(4))
    return type(backend).__name__, set(pids), os.getpid()


def _sleep(seconds):
    time.sleep(seconds)
    return seconds


@pytest.mark.parametrize("backend", ["process_map", "dask", "ray"])
def test_joblib_semantics_hold(backend):
    with _through(backend) as jl:
        # results in order, one record per call even when joblib batches calls together
        assert Parallel(n_jobs=2, batch_size=3)(delayed(_square)(i) for i in range(10)) == [
            i * i for i in range(10)]
        # the first failure is raised with its own type and the worker's traceback
        with pytest.raises(KeyError, match="no 3") as raised:
            Parallel(n_jobs=2)(delayed(_fails_on)(i, 3) for i in range(6))
        # nested calls inside a task run sequentially in the task's own process
        nested = Parallel(n_jobs=2)(delayed(_nested_backend)(i) for i in range(2))
        # generators, ordered and unordered
        gen = Parallel(n_jobs=2, return_as="generator")(delayed(_square)(i) for i in range(6))
        assert list(gen) == [i * i for i in range(6)]
        unordered = Parallel(n_jobs=2, return_as="generator_unordered")(
            delayed(_square)(i) for i in range(6))
        assert sorted(unordered) == [i * i for i in range(6)]
    first = jl.runs[0]
    assert len(first) == 10 and first.logs[4] == "square 4\n" and max(first.chunk_sizes) > 1
    assert "_fails_on" in str(raised.value.__cause__)
    assert jl.runs[1].task(3).status == "error" and jl.runs[1].task(3).error.type == "KeyError"
    for name, pids, pid in nested:
        assert name == "SequentialBackend" and pids == {pid}
    assert len(jl.runs) == 5


@pytest.mark.parametrize("backend", ["process_map", "dask"])
def test_n_jobs_is_honoured_and_a_dropped_generator_stops_the_run(backend):
    with _through(backend) as jl:
        Parallel(n_jobs=1)(delayed(_sleep)(0) for _ in range(3))  # joblib's own, unrecorded
        assert not jl.runs
        Parallel(n_jobs=2)(delayed(_sleep)(0.3) for _ in range(6))
        gen = Parallel(n_jobs=2, return_as="generator")(delayed(_sleep)(0.5) for _ in range(40))
        assert next(gen) == 0.5
        gen.close()  # the caller stops consuming: joblib aborts, workbench stops the run
    steady, dropped = jl.runs
    starts = sorted((r.start, r.end) for r in steady.tasks)
    overlapping = max(sum(1 for s, e in starts if s <= t < e) for t, _ in starts)
    assert overlapping <= 2
    assert dropped.state == "cancelled" and dropped.counts["ok"] < 40
    assert dropped.counts["ok"] + dropped.counts["cancelled"] == len(dropped)


def test_bad_settings_are_one_line():
    with pytest.raises(wb.InputError, match="unknown backend 'nope'"):
        with wb.joblib_backend("nope"):
            pass
    with pytest.raises(wb.InputError, match="chunksize= is not a setting"):
        with wb.joblib_backend("process_map", chunksize=4):
            pass
    with pytest.raises(wb.InputError, match="workers must be at least 1"):
        with wb.joblib_backend("process_map", workers=0):
            pass


def test_the_backend_is_registered_for_joblibs_own_config():
    wb.register_joblib()
    with joblib.parallel_config(backend="workbench", on="serial", view="none", n_jobs=2):
        assert Parallel()(delayed(_square)(i) for i in range(3)) == [0, 1, 4]
    run = wb.last_run()
    assert run.backend == "serial" and run.logs[2] == "square 2\n"


def test_in_a_notebook_the_block_shows_one_box_with_a_panel_per_call(monkeypatch):
    import IPython.display

    import workbench.views

    shown = []
    monkeypatch.setattr(workbench.views, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", shown.append)
    with wb.joblib_backend("process_map", workers=WORKERS) as jl:
        Parallel(n_jobs=2)(delayed(_square)(i) for i in range(7))
        Parallel(n_jobs=2)(delayed(_fails_on)(i, 99) for i in range(3))
    assert len(shown) == 1, "one box for the block, displayed once"
    header, *panels = shown[0].children
    assert "joblib" in header.value and len(panels) == 2
    assert repr(panels[0]) == "<workbench panel _square: process_map: 7 of 7 tasks done: 7 ok>"
    assert panels[0].bars["process_map"].max == 7 and panels[0].log_task.max == 6
    assert "items: 7" in panels[0].header.value
    assert panels[1].runs["process_map"] is jl.runs[1]


def test_stop_ends_the_search_with_one_error_and_keeps_the_finished_fits():
    import threading

    from workbench.joblib_bridge import TaskFailed

    before = wb.last_run()  # (an earlier test's run: never the one to stop)

    def stop_after_two_fits():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run = wb.last_run()
            if run is not before and run.fn_name == "_sleep" and run.counts["ok"] >= 2:
                run.cancel()  # what the panel's Stop button does
                return
            time.sleep(0.02)

    stopper = threading.Thread(target=stop_after_two_fits)
    stopper.start()
    with _through("process_map") as jl, pytest.raises(TaskFailed, match="cancelled"):
        Parallel(n_jobs=2)(delayed(_sleep)(0.3) for _ in range(40))
    stopper.join()
    run = jl.run
    assert run.state == "cancelled" and 2 <= run.counts["ok"] < 40
    assert run.counts["ok"] + run.counts["cancelled"] == len(run)


def _reads(arr, i):
    return float(arr[i]), arr.flags.writeable


@pytest.mark.parametrize("backend", ["process_map", "dask", "ray"])
def test_a_large_argument_every_call_shares_travels_once_and_is_read_only(backend):
    arr = np.arange(200_000, dtype=float)  # 1.6 MB, in every call (as a search's X)
    with _through(backend) as jl:
        out = Parallel(n_jobs=2)(delayed(_reads)(arr, i) for i in range(6))
    assert out == [(float(i), False) for i in range(6)], "a worker's copy, read-only (as loky)"
    shared = jl.run.spec.fn.shared
    assert len(shared) == 1 and next(iter(shared.values())) is arr
    assert all(item[1][0].__class__.__name__ == "Shared" for item in jl.run.spec.items.values())
    assert arr.flags.writeable, "the caller's own array is left as it was"


def test_pre_dispatch_limits_what_joblib_takes_ahead():
    taken = []

    def calls():
        for i in range(20):
            taken.append(i)
            yield delayed(_sleep)(0.05)

    with _through("process_map") as jl:
        gen = Parallel(n_jobs=2, pre_dispatch="n_jobs", return_as="generator")(calls())
        next(gen)
        ahead = len(taken)
        rest = list(gen)
    assert ahead <= 10, f"joblib took {ahead} calls before the first result"
    assert len(rest) == 19 and len(taken) == 20 and len(jl.run) == 20


def test_a_backend_that_cannot_start_is_raised_in_the_caller():
    with wb.joblib_backend("dask", address="tcp://127.0.0.1:9", view="none") as jl:
        with pytest.raises(wb.BackendError, match="no Dask scheduler"):
            Parallel(n_jobs=2)(delayed(_square)(i) for i in range(4))
    # joined in joblib's configure (nothing ran), or, when another Dask backend is warm, by
    # the run, which then failed
    assert all(r.state == "failed" for r in jl.runs)


def test_a_joblib_call_inside_the_loop_over_another_runs_here_with_a_warning():
    with _through("process_map") as jl:
        outer = Parallel(n_jobs=2, return_as="generator")(delayed(_sleep)(0.3) for _ in range(6))
        inner = []
        with pytest.warns(RuntimeWarning, match="another joblib call runs"):
            for _ in outer:  # the outer call's run goes on while this loop runs
                inner.append(Parallel(n_jobs=2)(delayed(_square)(j) for j in range(2)))
    assert inner == [[0, 1]] * 6
    outer_run = jl.runs[0]  # (inner calls made after it ended are runs of their own)
    assert outer_run.fn_name == "_sleep" and outer_run.state == "finished"
    assert outer_run.counts["ok"] == 6


def test_n_jobs_below_workers_limits_the_run_and_keeps_the_warm_pool():
    from workbench import backends

    with wb.joblib_backend("process_map", workers=3, view="none") as jl:
        Parallel(n_jobs=-1)(delayed(_sleep)(0) for _ in range(3))
        pool = backends.live()["process_map"]
        Parallel(n_jobs=2)(delayed(_sleep)(0.2) for _ in range(8))
        assert backends.live()["process_map"] is pool, "n_jobs must not restart the pool"
    spans = sorted((r.start, r.end) for r in jl.runs[1].tasks)
    assert max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans) <= 2
    assert len({r.pid for r in jl.runs[1].tasks}) <= 3


def test_one_worker_still_records_every_call():
    # serial has one worker; scikit-learn's default n_jobs=None means "every worker": the
    # calls come to workbench (only an explicit n_jobs=1 is joblib's own, unrecorded)
    with wb.joblib_backend("serial", view="none") as jl:
        assert Parallel()(delayed(_square)(i) for i in range(3)) == [0, 1, 4]
    assert len(jl.runs) == 1 and jl.run.logs[1] == "square 1\n"
