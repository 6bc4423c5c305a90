"""Ctrl-C / Jupyter's "Interrupt kernel" (SIGINT to the whole process group) stops a run at
once, keeps the finished results, spares the workers, and leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

PROGRAM = textwrap.dedent("""
    import json, os, signal, sys, threading, time
    import workbench as wb

    def slow(x):
        time.sleep(0.2)
        return x

    backend = sys.argv[1]
    wb.run(abs, [1], backend=backend, workers=2, view="none")      # warm up
    threading.Timer(1.0, lambda: os.killpg(os.getpgid(0), signal.SIGINT)).start()
    began = time.monotonic()
    try:
        wb.run(slow, range(60), backend=backend, workers=2, view="none", chunksize=1)
        out = {"interrupted": False}
    except wb.Interrupted as exc:
        run = exc.run
        out = {"interrupted": True, "state": run.state, "counts": run.counts,
               "stop_s": time.monotonic() - began - 1.0, "same": run is wb.last_run(),
               "values_ok": all(v == i for i, v in enumerate(run.results) if v)}
    out["next"] = wb.run(slow, range(4), backend=backend, workers=2, view="none").results
    print(json.dumps(out), flush=True)
    wb.shutdown()
""")


def _session_processes(sid: int) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter():
        try:
            if os.getsid(p.pid) == sid and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue
    return found


@pytest.mark.parametrize("backend", ["serial", "process_map", "dask", "ray"])
def test_interrupt_keeps_results_spares_workers_and_leaves_nothing(backend):
    # SIGINT as a terminal gives it: a shell that started this test in the background (no job
    # control) may have left it ignored, and Python then keeps it ignored in the child
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM, backend], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-3000:]
    data = json.loads(out.strip().splitlines()[-1])
    assert data["interrupted"] and data["state"] == "interrupted" and data["same"]
    counts = data["counts"]
    assert counts["ok"] >= 2 and counts["cancelled"] >= 30 and counts["pending"] == 0
    assert counts["ok"] + counts["cancelled"] == 60
    assert data["values_ok"]
    assert data["stop_s"] < 2.0, f"took {data['stop_s']:.2f} s to stop"
    assert data["next"] == [0, 1, 2, 3], "the backend works after the interrupt"
    deadline = time.monotonic() + 15
    while _session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [(p.pid, " ".join(p.cmdline())[:80]) for p in _session_processes(proc.pid)]
    assert not left, f"processes outlived the program: {left}"
