"""compare() keeps start-up apart and checks results against serial; the demo prints it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import workbench as wb
import workbench.examples
from workbench.examples import calc_chunk, calc_pi


def test_compare_runs_each_backend_and_checks_results_against_serial():
    items = [(20_000, i) for i in range(8)]
    cmp = wb.compare(calc_chunk, items, backends=["process_map", "dask", "ray"], star=True,
                     workers=2, view="none")
    assert list(cmp.runs) == ["serial", "process_map", "dask", "ray"], "serial runs first"
    assert cmp.all_same
    rows = {row.backend: row for row in cmp.summary}
    serial = cmp["serial"]
    for name, row in rows.items():
        run = cmp[name]
        assert row.same_as_serial is True and row.ok == 8 and row.failed == 0
        assert row.wall_time == run.wall_time and row.startup_time == run.startup_time
        assert row.speedup == pytest.approx(serial.wall_time / run.wall_time)
        assert row.efficiency == pytest.approx(row.speedup / run.workers)
    assert calc_pi(cmp["ray"].results, 20_000) == calc_pi(serial.results, 20_000)
    table = cmp.table()
    assert table.splitlines()[0].startswith("| backend | workers | start-up s | wall s")
    # a header, its rule and a row per backend (a note on short tasks may follow the table)
    assert len([line for line in table.splitlines() if line.startswith("|")]) == 2 + 4


def sometimes_different(x):
    return x if os.environ.get("WB_DIFFERENT") != "1" else -x


def test_compare_reports_results_that_differ_from_serial(monkeypatch):
    cmp = wb.compare(lambda x: os.getpid() if x == 0 else x, range(3),
                     backends=["serial", "process_map"], workers=2, view="none")
    assert not cmp.all_same
    assert [r.same_as_serial for r in cmp.summary] == [True, False]
    assert "| NO |" in cmp.table()


def test_compare_keeps_failures_and_compares_them():
    def f(x):
        if x == 2:
            raise KeyError(x)
        return x
    cmp = wb.compare(f, range(4), backends=["process_map"], workers=2, view="none")
    assert cmp.all_same
    assert [r.failed for r in cmp.summary] == [1, 1]


def test_demo_command_prints_the_comparison_table():
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "demo", "--backends", "serial,process_map",
         "--chunks", "6", "--n", "50000", "--workers", "2"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert any(line.startswith("| serial | 1 |") and line.endswith("| 6 | 0 | 0 | yes |")
               for line in lines)
    assert any(line.startswith("| process_map | 2 |") and line.endswith("| 6 | 0 | 0 | yes |")
               for line in lines)
    pi_lines = [line for line in lines if "pi = " in line]
    assert len(pi_lines) == 2 and len({line.split("pi = ")[1][:8] for line in pi_lines}) == 1


@pytest.mark.slow
def test_demo_runs_every_installed_backend_by_default():
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "demo", "--chunks", "4", "--n", "1000",
         "--workers", "2"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line.split("|")[1].strip() for line in out.stdout.splitlines()
            if line.startswith("| ") and line.endswith("| yes |")]
    assert rows == ["serial", "process_map", "dask", "ray"], out.stdout


def test_demo_rejects_an_unknown_command():
    out = subprocess.run([sys.executable, "-m", "workbench", "dmeo"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "unknown command 'dmeo'" in out.stderr


def test_tasks_too_short_to_pay_off_get_a_hint_with_the_chunk_sizes():
    # one item per chunk: each microsecond task pays a whole round trip to a worker. (Four
    # workers on two cores: the hint's bar, half the workers, is then 2x, far above the 0.3-0.6x
    # such a run gets, so a loaded machine that slows the serial run cannot hide the hint.)
    cmp = wb.compare(wb.examples.tiny, range(500), backends=["process_map"], workers=4,
                     chunksize=1, view="none")
    hints = cmp.hints()
    assert len(hints) == 1 and hints[0].startswith("process_map: tasks take ")
    assert "it sent 500 chunks of 1-1 items" in hints[0]
    assert hints[0] in cmp.table()
    slow = wb.compare(wb.examples.sleepy, [0.05] * 4, backends=["process_map"], workers=2,
                      view="none")
    assert slow.hints() == [], "tasks long enough to pay off get no hint"


def test_stop_during_a_later_backend_cancels_its_tasks_and_ends_the_comparison():
    import threading
    import time

    def slow(x):
        time.sleep(0.05)
        return x

    before = wb.last_run()  # (an earlier test's run: never the one to stop)

    def stop_the_process_map_run():  # what Stop does, once process_map has 4 results
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run = wb.last_run()
            if (run is not before and run.backend == "process_map" and run.fn_name == "slow"
                    and run.counts["ok"] >= 4):
                run.cancel()
                return
            time.sleep(0.01)

    stopper = threading.Thread(target=stop_the_process_map_run)
    stopper.start()
    cmp = wb.compare(slow, range(40), backends=["process_map", "dask"], workers=2,
                     view="none", chunksize=1)
    stopper.join()
    assert list(cmp.runs) == ["serial", "process_map"], "Stop means stop, not the next backend"
    rows = {row.backend: row for row in cmp.summary}
    assert rows["serial"].ok == 40 and cmp["serial"].state == "finished"
    row = rows["process_map"]
    assert cmp["process_map"].state == "cancelled"
    assert row.failed == 0 and row.cancelled > 0 and row.ok >= 4 and row.ok + row.cancelled == 40
    assert "| cancelled |" in cmp.table()


def test_a_backend_that_cannot_start_leaves_the_others_in_the_comparison():
    with pytest.warns(RuntimeWarning, match="compare goes on without dask: no Dask scheduler"):
        cmp = wb.compare(calc_chunk, [(1000, i) for i in range(4)],
                         backends=["serial", "dask", "process_map"], star=True, workers=2,
                         view="none", address="127.0.0.1:9")
    assert [r.state for r in cmp] == ["finished", "failed", "finished"]
    assert [row.same_as_serial for row in cmp.summary] == [True, False, True]
    assert not cmp.all_same and cmp["process_map"].results == cmp["serial"].results
    assert any(h.startswith("dask: its backend could not be started") for h in cmp.hints())
