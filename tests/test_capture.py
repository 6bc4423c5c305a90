"""Capture inside the worker: per task, also when one worker runs tasks in several threads;
capped so a chatty task cannot exhaust memory."""

from __future__ import annotations

import sys
import threading
import time

import pytest

import workbench as wb
from conftest import run
from workbench import backends, worker
from workbench.contract import RawRecord
from workbench.worker.task_api import MAX_OUTPUT


def interleaved(x):
    for step in range(5):
        print(f"task {x} step {step}")
        print(f"task {x} err {step}", file=sys.stderr)
        time.sleep(0.003)
    return x


def test_tasks_in_threads_of_one_process_never_mix():
    options = worker.TaskOptions(encode=False)
    results = {}

    def run_in_thread(n):
        tasks = [(i, 1) for i in range(n * 10, n * 10 + 10)]
        results[n] = worker.run_chunk(interleaved, tasks, [i for i, _ in tasks], options,
                                      worker=f"thread-{n}")

    threads = [threading.Thread(target=run_in_thread, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1, 2, 3]
    for report in results.values():
        assert len(report.records) == 10
        for raw in map(RawRecord._make, report.records):
            text = "".join(chunk for stream, chunk in raw.output if stream == "stdout")
            assert text == "".join(f"task {raw.index} step {s}\n" for s in range(5))


def test_dask_worker_with_four_threads_keeps_outputs_apart():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=4, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        try:
            r = wb.run(interleaved, range(16), backend="dask", address=cluster.scheduler_address,
                       chunksize=1, view="none")
            assert r.workers == 4
            for t in r.tasks:
                assert t.stdout == "".join(f"task {t.index} step {s}\n" for s in range(5))
                assert t.stderr == "".join(f"task {t.index} err {s}\n" for s in range(5))
            overlapping = sum(1 for a in r.tasks for b in r.tasks
                              if a.index < b.index and a.start < b.end and b.start < a.end)
            assert overlapping > 0, "tasks should really have run at the same time"
        finally:
            backends.shutdown("dask")  # the next test gets its own local cluster again
    assert cluster.status.name == "closed"


def shout(x):
    sys.stdout.write("x" * 1_500_000)
    print("never seen")
    return x


@pytest.mark.parametrize("name", ["serial", "process_map", "dask", "ray"])
def test_output_is_capped_per_task_with_a_visible_marker(name):
    r = run(shout, [1], name)
    t = r.tasks[0]
    assert t.ok and t.value == 1
    assert len(t.stdout) == MAX_OUTPUT
    assert "never seen" not in t.text
    assert "[workbench: output truncated" in t.stderr


def test_print_outside_a_task_still_reaches_the_console(capsys):
    run(lambda x: print("inside", x), [1], "serial")
    print("outside")
    assert capsys.readouterr().out == "outside\n"


def dots(n):
    for _ in range(n):
        print(".", end="")
    return n


def test_capture_is_linear_in_the_output(backend):
    """A task printing n dots one by one: four times the dots take about four times as long
    (a copy of the whole output per write made it 16 times: 45 s for a million)."""
    def took(n):
        began = time.perf_counter()
        r = run(dots, [n], backend)
        assert r.results == [n] and len(r.logs[0]) == n
        return time.perf_counter() - began

    took(20_000)  # warm
    small, large = min(took(50_000) for _ in range(2)), min(took(200_000) for _ in range(2))
    assert large / small < 8, f"50,000 dots {small:.3f} s, 200,000 dots {large:.3f} s"


def uses_the_real_stream(x):
    import faulthandler
    import subprocess

    sys.stdout.buffer.write("bytes é\n".encode())
    faulthandler.enable()  # needs a file descriptor
    subprocess.run([sys.executable, "-c", "pass"], stdout=sys.stdout, check=True)
    return sys.stdout.encoding, sys.stderr.errors, sys.stdout.fileno() >= 0


def test_a_tasks_streams_have_encoding_fileno_and_buffer(backend):
    r = run(uses_the_real_stream, [1], backend)
    assert r.errors == [] and r.results[0][0] and r.results[0][1] and r.results[0][2]
    assert r.logs[0] == "bytes é\n"


def test_serial_task_logs_stay_in_the_record_not_on_the_users_console():
    import logging

    seen: list[str] = []
    handler = logging.Handler(level=logging.NOTSET)
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        def chatty(x):
            logging.getLogger("etl").info("info %s", x)
            logging.getLogger("etl").warning("warn %s", x)
            return x

        r = run(chatty, [1], "serial")
        logging.getLogger("etl").info("after the run: below WARNING")
        logging.getLogger("etl").warning("after the run: shown")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert r.logs[0] == "INFO:etl:info 1\nWARNING:etl:warn 1\n"
    assert seen == ["after the run: shown"], seen
