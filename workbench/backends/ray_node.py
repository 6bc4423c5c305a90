"""The local Ray node workbench starts, and its end: ``ray.init`` from any thread, the
environment its processes inherit, and the reaping that makes sure none of them outlives the
kernel that started it."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any


def init(ray: Any, kwargs: dict[str, Any]) -> threading.Event | None:
    """``ray.init(**kwargs)``. Off the main thread it runs in a thread of its own that lives
    until the returned event is set: Ray starts its GCS and raylet with a parent-death signal,
    which Linux sends when the *thread* that started them ends, so a node started from a
    short-lived thread (a second thread's run, a thread pool) died with that thread."""
    if threading.current_thread() is threading.main_thread():
        ray.init(**kwargs)
        return None
    started, stop, failure = threading.Event(), threading.Event(), []

    def keep() -> None:
        try:
            ray.init(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - raised in the caller below
            failure.append(exc)
        finally:
            started.set()
        stop.wait()

    threading.Thread(target=keep, name="workbench-ray-node", daemon=True).start()
    started.wait()
    if failure:
        stop.set()
        raise failure[0]
    return stop


def offer_cluster_token() -> None:
    """A head started with ``ray start --head`` on a machine that has a Ray token (every
    local ``ray.init`` writes ``~/.ray/auth_token``) demands it, but a client given an address
    sends it only in token mode: turn that on when a token exists and nobody chose a mode.
    Ray reads the mode into its config once, at import: that is read again, as Ray's own
    ``_enable_token_auth`` does (without it, a head by address refused every call)."""
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")
    if "RAY_AUTH_MODE" not in os.environ and (os.environ.get("RAY_AUTH_TOKEN")
                                              or os.path.exists(path)):
        os.environ["RAY_AUTH_MODE"] = "token"
        with contextlib.suppress(Exception):  # private API: without it, as before
            from ray._raylet import Config

            Config.initialize("")


def stop_partial_start(ray: Any, marker: str | None) -> None:
    """Stop whatever a failed ``ray.init`` started (GCS, raylet, dashboard, log monitor).
    A node that timed out while starting is not Ray's to stop (its ``Node`` was never kept),
    so a local one's processes are also found by ``marker``, as at shutdown."""
    try:
        ray.shutdown()
    except Exception:  # noqa: BLE001 - nothing was started
        pass
    try:
        from ray._private import worker as ray_worker

        node = getattr(ray_worker._global_node, "kill_all_processes", None)
        if node is not None:
            node(check_alive=False, allow_graceful=False)
    except Exception:  # noqa: BLE001 - private API; best effort
        pass
    if marker is not None:
        reap([], marker)


@contextlib.contextmanager
def local_node_env(local: bool, marker: str) -> Iterator[None]:
    """The environment a local node starts with, inherited by every process it starts (the
    raylet passes it on to workers and agents). ``PYTHONPATH`` lets local Ray workers import
    what the caller can (as process pools and Dask's spawned workers do); a marker lets
    :func:`reap` find every one of them at shutdown."""
    if not local:
        yield
        return
    paths = [p or os.getcwd() for p in sys.path]
    changes = {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), MARKER: marker}
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


#: Environment variable that marks the processes of a local Ray node workbench started.
MARKER = "WORKBENCH_RAY_NODE"
#: Seconds the node's processes get to exit after ``ray.shutdown()`` before they are killed.
REAP_GRACE = 2.0
#: Most looks for processes of the node left after it: a worker the raylet was still starting
#: when it ended can appear after the first look.
REAP_SWEEPS = 10


#: Run by :func:`standby_reaper` in a process of its own (stdlib and psutil only).
_REAPER = """
import os, sys, time, psutil
parent, variable, marker = int(sys.argv[1]), sys.argv[2], sys.argv[3]
while os.getppid() == parent:  # until the process that shuts Ray down is gone
    time.sleep(0.1)
for sweep in range(20):  # again until a sweep finds none: one may be starting meanwhile
    found = 0
    for p in psutil.process_iter():
        try:
            if (f"{p.pid}:{p.create_time()}" in sys.argv[4:]
                    or p.environ().get(variable) == marker):
                p.kill()
                found += 1
        except psutil.Error:
            pass
    if not found:
        break
    time.sleep(0.25)
"""


def standby_reaper(started: list[Any], marker: str) -> Any:
    """A small process that does :func:`reap`'s work if this one dies first: the driver's
    Ray core ends its own process when the raylet's store goes away before it has let go
    (seen at a kernel's exit, in ``ray.shutdown()``), and a worker the raylet was still
    starting then outlived everything, retrying for a minute."""
    import subprocess

    ids = []
    for p in started:
        with contextlib.suppress(Exception):
            ids.append(f"{p.pid}:{p.create_time()}")
    return subprocess.Popen([sys.executable, "-c", _REAPER, str(os.getpid()), MARKER, marker,
                             *ids],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def reap(started: list[Any], marker: str) -> None:
    """Make sure no process of our local node outlives its shutdown. ``ray.shutdown()`` stops
    the processes the driver started, but the raylet's children (its agents, and a worker it
    was still starting, which has no connection to notice the raylet's end yet) are left to
    notice by themselves, which on a loaded machine took longer than a closing kernel has."""
    import psutil

    alive = [p for p in started if p.pid != os.getpid()]
    _, alive = psutil.wait_procs(alive, timeout=REAP_GRACE)
    for sweep in range(REAP_SWEEPS):  # again until a look finds none new (one may be starting)
        new = []
        for p in psutil.process_iter():
            if p.pid == os.getpid() or p in alive:
                continue
            with contextlib.suppress(psutil.Error):
                if p.environ().get(MARKER) == marker:
                    new.append(p)
        if sweep and not new:
            return
        alive += new
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
        _, alive = psutil.wait_procs(alive, timeout=5)
