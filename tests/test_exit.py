"""A plain script that runs on a backend and simply ends: it exits promptly, prints its
results, and leaves no process behind (workbench stops its workers at interpreter exit)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from conftest import tagged

UNGUARDED = """
import sys, workbench as wb
print(wb.run(abs, [-1, -2, -3], backend=sys.argv[1], workers=2, view="none").results)
"""
GUARDED = """
import sys, workbench as wb
if __name__ == "__main__":
    print(wb.run(abs, [-1, -2, -3], backend=sys.argv[1], workers=2, view="none").results)
"""


def _run_script(tmp_path, source: str, backend: str, stdin: bool = False):
    tag = uuid.uuid4().hex  # this test's own: a test running beside it has another
    env = {**os.environ, "WORKBENCH_EXIT_TEST": tag}
    env.pop("RAY_ADDRESS", None)
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(source))
    cmd = [sys.executable, "-", backend] if stdin else [sys.executable, str(script), backend]
    began = time.monotonic()
    done = subprocess.run(cmd, input=script.read_text() if stdin else None, env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    took = time.monotonic() - began
    deadline = time.monotonic() + 10
    while tagged("WORKBENCH_EXIT_TEST", tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [(p.pid, p.name()) for p in tagged("WORKBENCH_EXIT_TEST", tag)]
    for p in tagged("WORKBENCH_EXIT_TEST", tag):
        p.kill()
    return done, took, left


@pytest.mark.parametrize("start_method", ["forkserver", "spawn", "fork"])
def test_process_map_script_without_main_guard_exits_cleanly(tmp_path, start_method):
    source = UNGUARDED.replace('view="none"', f'view="none", '
                               f'backend_options={{"start_method": "{start_method}"}}')
    done, took, left = _run_script(tmp_path, source, "process_map")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[1, 2, 3]"
    assert took < 30 and not left


def test_process_map_script_from_stdin(tmp_path):
    done, took, left = _run_script(tmp_path, UNGUARDED, "process_map", stdin=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[1, 2, 3]" and not left


@pytest.mark.slow
@pytest.mark.parametrize("backend, source", [("dask", GUARDED), ("ray", GUARDED),
                                             ("ray", UNGUARDED)],
                         ids=["dask", "ray", "ray-unguarded"])
def test_cluster_script_exits_cleanly(tmp_path, backend, source):
    done, took, left = _run_script(tmp_path, source, backend)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[1, 2, 3]"
    assert took < 90 and not left, left


UNGUARDED_WITH_A_DEATH = """
import os, sys, workbench as wb

def f(x):
    if x == 1:
        os._exit(3)  # its worker dies: the nanny starts a new one while the script runs
    return x

print([t.status for t in wb.run(f, range(4), backend=sys.argv[1], workers=2,
                                 view="none").tasks])
print(wb.run(abs, [-1, -2, -3], backend=sys.argv[1], workers=2, view="none").results)
"""


@pytest.mark.slow
@pytest.mark.parametrize("stdin", [False, True], ids=["file", "stdin"])
def test_dask_script_without_main_guard_works(tmp_path, stdin):
    """Dask's nannies start workers with spawn, which would run the script again in each
    (a wall of "bootstrapping phase" errors); workbench's workers need nothing from it."""
    done, took, left = _run_script(tmp_path, UNGUARDED_WITH_A_DEATH, "dask", stdin=stdin)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["['ok', 'lost', 'ok', 'ok']", "[1, 2, 3]"]
    assert "bootstrapping" not in done.stderr and not left, (done.stderr[-2000:], left)


SLOW_RUN = """
import sys, time, workbench as wb

def slow(x):
    time.sleep(0.5)
    return x

print("running", flush=True)
wb.run(slow, range(1000), backend=sys.argv[1], workers=2, view="none")
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["process_map", "dask", "ray"])
def test_a_script_killed_mid_run_leaves_no_process(tmp_path, backend):
    """SIGKILL to the script alone while a run goes: nothing it started outlives it by 15 s."""
    tag = uuid.uuid4().hex
    env = {**os.environ, "WORKBENCH_EXIT_TEST": tag}
    env.pop("RAY_ADDRESS", None)
    script = tmp_path / "job.py"
    script.write_text(SLOW_RUN)
    child = subprocess.Popen([sys.executable, str(script), backend], env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert child.stdout.readline().strip() == "running"
        deadline = time.monotonic() + 90  # a cold Ray takes seconds: wait for its workers
        while len(tagged("WORKBENCH_EXIT_TEST", tag)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # the run is going
        assert len(tagged("WORKBENCH_EXIT_TEST", tag)) >= 3, "the run started no workers"
        child.kill()
        child.wait(10)
        deadline = time.monotonic() + 15
        while tagged("WORKBENCH_EXIT_TEST", tag) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [(p.pid, p.name()) for p in tagged("WORKBENCH_EXIT_TEST", tag)]
        assert not left, f"outlived the script: {left}"
    finally:
        child.kill()
        for p in tagged("WORKBENCH_EXIT_TEST", tag):
            p.kill()
