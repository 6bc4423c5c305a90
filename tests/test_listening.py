"""What a local backend listens on: nothing but 127.0.0.1 (Dask's dashboard defaults to all
interfaces; workbench's local cluster must not). Ray 2.60 binds its core gRPC servers to all
interfaces whatever ``_node_ip_address`` says, and offers no setting against it; what it does
offer, and what is checked here, is token authentication: nothing it serves on another
interface answers a caller without the cluster's token."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from conftest import run
from workbench import backends


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


LOOPBACK = {"127.0.0.1", "::1"}


def test_local_ray_serves_nothing_beyond_loopback_without_its_token(tmp_path):
    run(abs, [-1], "ray")
    backend = backends.live()["ray"]
    ray_processes = backend.processes()
    assert ray_processes, "the local Ray has processes"
    # the driver (this process) hosts Ray's core worker server too, beside Dask's scheduler
    outside = {(ip, port) for ip, port in listening(ray_processes + [psutil.Process()])
               if ip not in LOOPBACK}
    if not outside:
        return  # a Ray that binds to loopback only: nothing beyond loopback to refuse
    from ray._raylet import AuthenticationMode, get_authentication_mode

    assert os.environ.get("RAY_AUTH_MODE") == "token"
    assert get_authentication_mode() == AuthenticationMode.TOKEN
    # the one HTTP server among them (the runtime-env agent) turns a stranger away
    http = [(ip, port) for ip, port in outside if ip not in ("::", "0.0.0.0")]
    for ip, port in http:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"http://{ip}:{port}/", timeout=5)
        assert info.value.code == 401
    # the GCS, one of the gRPC servers on every interface, asked from this machine's own
    # network address as a stranger would: without the token, and with a wrong one, it
    # refuses; with the token it answers (so the refusals are the token's doing)
    import ray

    gcs_port = int(ray.get_runtime_context().gcs_address.rsplit(":", 1)[1])
    assert gcs_port in {port for _, port in outside}
    address = f"{_network_address()}:{gcs_port}"
    stranger = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    stranger["HOME"] = str(tmp_path)  # no ~/.ray/auth_token
    for env in ({**stranger, "RAY_AUTH_MODE": "disabled"},
                {**stranger, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0" * 32}):
        refused = _ray_status(address, env)
        assert refused.returncode != 0 and "Unauthenticated" in refused.stderr, refused.stderr
    answered = _ray_status(address, dict(os.environ))
    assert answered.returncode == 0 and "Active:" in answered.stdout, answered.stderr[-2000:]


def _network_address() -> str:
    """This machine's first IPv4 address that is not loopback (its address on the network)."""
    for name, addresses in psutil.net_if_addrs().items():
        stats = psutil.net_if_stats().get(name)
        for a in addresses:
            if a.family == socket.AF_INET and not a.address.startswith("127.") and \
                    stats is not None and stats.isup:
                return a.address
    pytest.fail("this machine has no network address besides loopback")


def _ray_status(address: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``ray status --address``: Ray's own command line, a client of the GCS."""
    ray_cli = Path(sys.executable).with_name("ray")
    return subprocess.run([str(ray_cli), "status", "--address", address], env=env,
                          capture_output=True, text=True, timeout=120)
