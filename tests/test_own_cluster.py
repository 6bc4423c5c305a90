"""The user's own cluster comes first: a default Dask ``Client`` the user made is what
``backend="dask"`` runs on (as ``dask.compute`` and Dask's joblib backend use it), and
workbench leaves it running; without it, workbench's own cluster is back."""

from __future__ import annotations

import html

import pytest

import workbench as wb
from conftest import WORKERS
from workbench import backends
from workbench.views.fragments import link_html
from workbench.views.text import summary_line

pytest.importorskip("distributed")


def _double(x):
    return 2 * x


def test_a_users_dask_client_is_used_and_left_running():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)  # the default client, as a Dask user makes it
    try:
        theirs = set(client.scheduler_info(n_workers=-1)["workers"])
        r = wb.run(_double, range(6), backend="dask", workers=WORKERS, view="none")
        assert r.results == [0, 2, 4, 6, 8, 10] and r.startup_time < 1.0
        assert {t.worker for t in r.tasks} <= theirs, "the tasks ran on the user's workers"
        assert r.cluster == f"your Dask client's scheduler at {cluster.scheduler_address}"
        assert r.cluster in summary_line(r) and html.escape(r.cluster) in link_html(r)
        with wb.joblib_backend("dask", workers=WORKERS, view="none") as jl:
            from joblib import Parallel, delayed

            assert Parallel(n_jobs=2)(delayed(_double)(i) for i in range(3)) == [0, 2, 4]
        assert {t.worker for t in jl.run.tasks} <= theirs
        wb.shutdown("dask")  # stops only what workbench started
        assert client.status == "running"
        assert set(client.scheduler_info(n_workers=-1)["workers"]) == theirs
        assert client.submit(_double, 21).result() == 42
    finally:
        client.close()
        cluster.close()
    again = wb.run(_double, range(3), backend="dask", workers=WORKERS, view="none")
    assert again.results == [0, 2, 4] and again.cluster is None, "its own cluster is back"
    assert backends.live()["dask"]._cluster is not None
