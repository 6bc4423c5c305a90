"""The journal's promise, end to end: a real Jupyter kernel is SIGKILLed in the middle of a
200-task run; a new kernel's ``wb.open`` shows every task that finished more than a second
before the kill, with its log, and ``wb.resume`` completes the rest, so that all 200 are
``ok`` and no item ran twice but those in flight when the kill struck."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from test_kernel import _tagged, execute, kernel  # noqa: F401 - kernel is a fixture

N = 200

RUN = """
import os, time, workbench as wb
MARKS = {marks!r}

def shop(i):
    with open(MARKS, "a") as f:
        f.write(f"start {{i}} {{time.time()}}\\n")
    print(f"shop {{i}} done")
    time.sleep(0.05)
    with open(MARKS, "a") as f:
        f.write(f"end {{i}} {{time.time()}}\\n")
    return i * i

run = wb.run(shop, range({n}), backend={backend!r}, workers=2, view="none",
             journal={path!r})
"""

REOPEN = """
import json, workbench as wb
old = wb.open({path!r})
seen = {{r.index: r.text for r in old.tasks if r.ok}}
run = wb.resume({path!r}, view="none")
with open({out!r}, "w") as f:
    json.dump({{"state": old.state, "seen": seen, "ok": run.ok, "results": run.results,
               "statuses": [r.status for r in run.tasks]}}, f)
"""


def _marks(path) -> list[tuple[str, int, float]]:
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                out.append((parts[0], int(parts[1]), float(parts[2])))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["process_map", "dask", "ray"])
def test_a_killed_kernels_run_reopens_and_resumes_in_a_new_kernel(kernel, backend,  # noqa: F811
                                                                   tmp_path):
    marks, path, out = (str(tmp_path / n) for n in ("marks.txt", "run.wbrun", "out.json"))
    execute(kernel, "import workbench")
    kernel.execute(RUN.format(marks=marks, n=N, backend=backend, path=path))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # 80 of 200 done (a cold Dask or Ray included)
        if os.path.exists(marks) and sum(m[0] == "end" for m in _marks(marks)) >= 80:
            break
        time.sleep(0.05)
    pid = kernel.manager.provisioner.process.pid
    killed = time.time()
    os.kill(pid, signal.SIGKILL)  # the kernel alone, as the OOM killer does
    deadline = time.monotonic() + 15
    while [p for p in _tagged(kernel.tag) if p.pid != pid] and time.monotonic() < deadline:
        time.sleep(0.1)
    gone = time.time()  # no worker of the dead kernel is left: nothing more can start
    assert not _tagged(kernel.tag), "the kernel's workers outlived it"
    before = _marks(marks)
    finished_early = {i for kind, i, t in before if kind == "end" and t < killed - 1.0}
    started = [i for kind, i, t in before if kind == "start" and t <= gone]
    ended = {i for kind, i, _ in before if kind == "end"}
    assert len(finished_early) >= 20 and len(ended) < N - 20, "the kill struck mid-run"

    kernel.manager.restart_kernel(now=True)  # a new kernel, as after "Restart kernel"
    kernel.wait_for_ready(timeout=60)
    execute(kernel, REOPEN.format(path=path, out=out), timeout=240)
    with open(out) as f:
        result = json.load(f)
    assert result["state"] == "interrupted"
    seen = {int(i): text for i, text in result["seen"].items()}
    missing = sorted(finished_early - set(seen))
    assert not missing, f"finished more than 1 s before the kill, not in the journal: {missing}"
    assert all(seen[i] == f"shop {i} done\n" for i in seen), "each task's log came back"
    assert result["ok"] and result["statuses"] == ["ok"] * N
    assert result["results"] == [i * i for i in range(N)]
    runs: dict[int, int] = {}
    for kind, i, _ in _marks(marks):
        if kind == "start":
            runs[i] = runs.get(i, 0) + 1
    assert set(runs) == set(range(N)) and max(runs.values()) <= 2
    twice = {i for i, n in runs.items() if n == 2}
    in_flight = {i for i in started if i not in seen}
    assert twice <= in_flight, f"ran twice though not in flight at the kill: {twice - in_flight}"
