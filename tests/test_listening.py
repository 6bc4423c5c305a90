"""What a local backend listens on: nothing but 127.0.0.1 (Dask's dashboard defaults to all
interfaces; workbench's local cluster must not). Ray's own servers are checked by the
security suite of the reliability issue: Ray 2.60 binds them to all interfaces."""

from __future__ import annotations

import psutil

from workbench import backends
from conftest import run


def listening(processes) -> set[tuple[str, int]]:
    found = set()
    for proc in processes:
        try:
            for conn in proc.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    found.add((conn.laddr.ip, conn.laddr.port))
        except psutil.Error:
            continue
    return found


def test_process_map_opens_no_socket():
    run(abs, [-1], "process_map")
    assert listening(backends.live()["process_map"].processes()) == set()


def test_local_dask_cluster_and_its_dashboard_listen_on_loopback_only():
    r = run(abs, [-1, 2], "dask")
    backend = backends.live()["dask"]
    workers = backend.processes()
    assert workers, "the local cluster has worker processes"
    worker_sockets = listening(workers)
    assert worker_sockets and {ip for ip, _ in worker_sockets} == {"127.0.0.1"}
    # the scheduler and the dashboard live in this process (beside, maybe, a warm Ray)
    assert r.dashboard and r.dashboard.startswith("http://127.0.0.1:")
    dashboard_port = int(r.dashboard.split(":")[2].split("/")[0])
    scheduler_port = int(backend._cluster.scheduler_address.rsplit(":", 1)[1])
    mine = {(ip, port) for ip, port in listening([psutil.Process()])
            if port in (dashboard_port, scheduler_port)}
    assert mine == {("127.0.0.1", dashboard_port), ("127.0.0.1", scheduler_port)}
