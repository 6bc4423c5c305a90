"""The panel in a real Jupyter kernel (jupyter_client): live progress messages reach the
front end while the cell runs, and pressing Stop during the run stops it and keeps results."""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import time
import uuid
from importlib import metadata

import psutil
import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

from conftest import tagged

SETUP = """
%load_ext workbench
import time
"""

SLOW = """%%parallel --over range(40) --backend process_map --workers 2 --chunksize 1
def slow(x):
    time.sleep(0.25)
    return x
"""


@pytest.fixture
def kernel(tmp_path):
    spec = tmp_path / "kernels" / "wbtest"
    spec.mkdir(parents=True)
    tag = uuid.uuid4().hex  # inherited by every process the kernel starts
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "env": {"WORKBENCH_KERNEL_TEST": tag},
        "display_name": "workbench test", "language": "python"}))
    km = KernelManager(kernel_name="wbtest",
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)]))
    # Closing a notebook gives the kernel 5 s to stop (then SIGTERM); stopping a local Ray
    # takes 2-3 s, longer on a loaded 2-core machine: allow for the load, not for a hang.
    km.shutdown_wait_time = 30
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    kc.manager, kc.tag = km, tag
    try:
        yield kc
    finally:
        if km.is_alive():
            kc.execute("import workbench; workbench.shutdown()")
            time.sleep(1)
            km.shutdown_kernel(now=False)
        kc.stop_channels()
        for p in _tagged(tag):  # never leave anything behind, even when a test failed
            p.kill()


def _tagged(tag: str) -> list[psutil.Process]:
    return tagged("WORKBENCH_KERNEL_TEST", tag)


def execute(kc, code, on_message=None, timeout=120, errors=None):
    msg_id = kc.execute(code)
    deadline = time.monotonic() + timeout
    outputs = []
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=timeout)
        if on_message is not None:
            on_message(msg)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            outputs.append(msg["content"]["text"])
        if msg["msg_type"] == "error" and errors is not None:
            errors.append(msg["content"])
        elif msg["msg_type"] == "error":
            raise AssertionError("\n".join(msg["content"]["traceback"]))
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(outputs)
    raise TimeoutError(code)


def test_the_kernel_installed_is_not_one_that_leaves_cells_unread():
    # ipykernel 7.0-7.3 sends a reply raw on the shell socket, which can eat the wake-up of a
    # request arriving then: the kernel idles and the cell never runs (ipykernel PR 1529; seen
    # here on Python 3.10, whose newest is 7.3, in this file's tests). workbench[widgets]
    # excludes them; this checks that the installer obeyed.
    version = tuple(int(n) for n in metadata.version("ipykernel").split(".")[:2])
    assert not (7, 0) <= version < (7, 4), f"ipykernel {version} can leave a cell unread"


def test_stop_button_stops_a_running_cell_and_keeps_results(kernel):
    execute(kernel, SETUP)
    state = {"stop": None, "clicked": None, "bar_updates": 0, "labels": [], "tooltips": []}

    def watch(msg):
        content = msg["content"]
        if msg["msg_type"] == "comm_open":
            data = content["data"]["state"]
            if data.get("_model_name") == "ButtonModel" and data.get("description") == "Stop":
                state["stop"] = content["comm_id"]
        if msg["msg_type"] == "comm_msg":
            delta = content["data"].get("state", {})
            if "value" in delta and isinstance(delta["value"], int):
                state["bar_updates"] += 1
            if isinstance(delta.get("value"), str) and "/40" in delta["value"]:
                state["labels"].append(delta["value"])
            if delta.get("tooltip"):
                state["tooltips"].append(delta["tooltip"])
        if (state["stop"] and state["clicked"] is None and state["bar_updates"] >= 3):
            state["clicked"] = time.monotonic()
            kernel.session.send(kernel.shell_channel.socket, "comm_msg", {
                "comm_id": state["stop"],
                "data": {"method": "custom", "content": {"event": "click"}}})

    execute(kernel, SLOW, on_message=watch)
    ended = time.monotonic()
    assert state["clicked"] is not None, "the Stop button never showed"
    assert any("running" in label for label in state["labels"]), state["labels"]
    out = execute(kernel, "print(_parallel.state, _parallel.counts['ok'], "
                          "_parallel.counts['cancelled'], _parallel.counts['pending'])")
    status, ok, cancelled, pending = out.split()
    if tuple(int(n) for n in metadata.version("ipykernel").split(".")[:2]) < (7, 4):
        # (Python 3.10's newest): the click waits for the cell's end; the button said so
        assert any("Kernel > Interrupt" in tip for tip in state["tooltips"]), state["tooltips"]
        assert (status, ok, cancelled) == ("finished", "40", "0")
    else:
        excuses = [tip for tip in state["tooltips"] if "between cells" in tip]
        assert not excuses, "the button (and the Running tab's chooser) are heard while busy"
        assert ended - state["clicked"] < 2.5, "the run did not stop within about 2 s of Stop"
        assert status == "cancelled" and int(ok) >= 2 and int(cancelled) >= 10
        assert int(ok) + int(cancelled) == 40 and pending == "0"
    execute(kernel, "%%parallel --over range(3) --backend process_map --workers 2 --view none"
                    "\ndef sq(x):\n    return x * x\n")
    again = execute(kernel, "print(_parallel.results)")
    assert again.strip() == "[0, 1, 4]", "the same backend works in the next cell"


PIDS = ("from workbench import backends; "
        "print(sorted(p.pid for p in backends.live()[{b!r}].processes()))")


@pytest.mark.parametrize("backend", ["process_map", "dask", "ray"])
def test_interrupt_kernel_mid_cell_keeps_results_and_leaves_no_orphans(kernel, backend):
    """Jupyter's "Interrupt kernel" (SIGINT to the kernel's whole process group, as
    jupyter_client sends it) in the middle of a %%parallel run."""
    execute(kernel, SETUP)
    execute(kernel, f"%%parallel --over range(2) --backend {backend} --workers 2 --view none"
                    "\ndef warm(x):\n    return x\n")
    workers = execute(kernel, PIDS.format(b=backend))
    state = {"updates": 0, "interrupted": None}

    def watch(msg):
        if msg["msg_type"] == "comm_msg" and isinstance(
                msg["content"]["data"].get("state", {}).get("value"), int):
            state["updates"] += 1
        if state["updates"] >= 4 and state["interrupted"] is None:
            state["interrupted"] = time.monotonic()
            kernel.manager.interrupt_kernel()

    errors: list[dict] = []
    execute(kernel, SLOW.replace("process_map", backend), on_message=watch, errors=errors)
    stopped = time.monotonic()
    assert state["interrupted"] is not None, "the run never showed progress"
    assert stopped - state["interrupted"] < 2.5, "the cell did not stop within about 2 s"
    assert [e["ename"] for e in errors] == ["KeyboardInterrupt"]
    assert "the run is kept in _parallel" in errors[0]["evalue"]
    out = execute(kernel, "print(_parallel.state, _parallel.counts['ok'], "
                          "_parallel.counts['cancelled'], _parallel.counts['pending'], "
                          "all(v == i for i, v in enumerate(_parallel.results) "
                          "if not isinstance(v, workbench.Failed)))".replace(
                              "workbench.", "__import__('workbench')."))
    status, ok, cancelled, pending, values_ok = out.split()
    assert status == "interrupted" and int(ok) >= 1 and int(cancelled) >= 10
    counts = execute(kernel, "print(dict(_parallel.counts))")
    assert int(ok) + int(cancelled) == 40 and pending == "0" and values_ok == "True", counts
    if backend != "ray":  # Ray stops a running task by killing its worker (force-cancel)
        assert execute(kernel, PIDS.format(b=backend)) == workers, "SIGINT broke no worker"
    execute(kernel, f"%%parallel --over range(3) --backend {backend} --workers 2 "
                    "--view none\ndef sq(x):\n    return x * x\n")
    assert execute(kernel, "print(_parallel.results)").strip() == "[0, 1, 4]"
    kernel.manager.shutdown_kernel(now=False)  # as closing the notebook does
    deadline = time.monotonic() + 15
    while _tagged(kernel.tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [(p.pid, p.name()) for p in _tagged(kernel.tag)], "orphans after shutdown"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["process_map", "dask", "ray"])
def test_a_kernel_killed_mid_run_leaves_no_process(kernel, backend):
    """The kernel alone is SIGKILLed (out of memory, a culled server) while a run goes: every
    process it started, workers, Dask's, Ray's node, is gone within 15 s."""
    execute(kernel, SETUP)
    state = {"updates": 0}

    def watch(msg):
        if msg["msg_type"] == "comm_msg" and isinstance(
                msg["content"]["data"].get("state", {}).get("value"), int):
            state["updates"] += 1

    kernel.execute(SLOW.replace("process_map", backend))
    deadline = time.monotonic() + 120
    while state["updates"] < 4 and time.monotonic() < deadline:
        try:
            watch(kernel.get_iopub_msg(timeout=1))
        except queue.Empty:
            continue
    assert state["updates"] >= 4, "the run never showed progress"
    pid = kernel.manager.provisioner.process.pid
    started = [p for p in _tagged(kernel.tag) if p.pid != pid]
    assert started, "the run started no process"
    os.kill(pid, signal.SIGKILL)  # the kernel only, not its process group
    deadline = time.monotonic() + 15
    while _tagged(kernel.tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [(p.pid, p.name(), p.cmdline()[:2], p.ppid())
                for p in _tagged(kernel.tag)], "outlived the kernel"
