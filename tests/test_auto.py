"""``backend="auto"``: what it chooses for tiny, heavy and large-argument tasks and with a
user's Dask client running; the probed items run once, in the caller; the reason reaches the
Run, the journal, the text view, the panel, the dashboard and ``%%parallel``."""

from __future__ import annotations

import os
import time

import pytest

import workbench as wb
from conftest import WORKERS
from workbench import auto
from workbench.views.panel import RunPanel


def inc(x):
    return x + 1


def nap(x):
    time.sleep(0.25)
    return x * 2


def nap_on(blob):
    time.sleep(0.15)
    return len(blob)


def once_each(run, n):
    """Every index has exactly one record, its first attempt, and nothing was retried."""
    assert [t.index for t in run.tasks] == list(range(n))
    assert all(t.attempt == 1 for t in run.tasks) and run.history == []


@pytest.fixture(scope="module")
def ip():
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    # first in this module: a widget made before would have made a plain shell of its own
    shell = start_ipython() or get_ipython()
    shell.run_line_magic("load_ext", "workbench")
    return shell


def test_the_magic_takes_backend_auto(ip, capsys):
    ip.run_cell_magic("parallel", "--over range(300) --backend auto --view text --out r",
                      "def plus(x):\n    return x + 1\n")
    run = ip.user_ns["r"]
    assert run.backend == "serial" and run.results == [x + 1 for x in range(300)]
    assert f"plus: auto: {run.reason}" in capsys.readouterr().err


def test_the_magic_refuses_auto_with_an_address_in_one_line(ip):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="address= is for the dask and ray backends, not "
                                         "'auto'"):
        ip.run_cell_magic("parallel", "--over range(3) --backend auto --address "
                                      "tcp://127.0.0.1:8786 --view none",
                          "def plus(x):\n    return x + 1\n")


def test_in_a_notebook_the_panel_of_an_auto_run_shows_why(ip, monkeypatch):
    import IPython.display

    import workbench.views

    shown = []
    monkeypatch.setattr(workbench.views, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kwargs: shown.append(obj))
    ip.run_cell_magic("parallel", "--over range(40) --backend auto",
                      "def plus(x):\n    return x + 1\n")
    run = ip.user_ns["_parallel"]
    assert len(shown) == 1 and list(shown[0].bars) == ["auto"]
    assert f"auto: {run.reason}" in shown[0].header.value
    assert repr(shown[0]) == "<workbench panel plus: auto: 40 of 40 tasks done: 40 ok>"


def test_tiny_tasks_run_serially_and_say_why():
    run = wb.run(inc, range(2000), backend="auto", view="none")
    assert run.backend == "serial" and run.results == [x + 1 for x in range(2000)]
    assert run.reason.startswith("tasks of ") and run.reason.endswith(
        " us: serial, parallel would cost more than it saves"), run.reason
    once_each(run, 2000)
    assert {t.pid for t in run.tasks} == {os.getpid()}


def test_heavy_tasks_go_to_a_process_pool_in_chunks_of_1_and_probed_items_run_once():
    # (a cluster of the user's is preferred to a pool; a Dask or Ray that earlier tests left
    # warm competes with the pool on its estimate)
    offers = auto.offered({"workers": WORKERS, "backend_options": {}})
    yours = [o.name for o in offers if o.rank == auto.YOURS]
    warm = [o.name for o in offers if o.rank == auto.WARM]
    run = wb.run(nap, range(10), backend="auto", workers=WORKERS, view="none")
    assert run.backend in (yours or ["process_map", *warm]) and run.workers == WORKERS
    assert run.reason.startswith("tasks of 0.25 s, ") and run.reason.endswith(
        f": {run.backend} with {WORKERS} workers, chunks of 1"), run.reason
    assert run.results == [2 * x for x in range(10)]
    once_each(run, 10)
    here = [t.index for t in run.tasks if t.pid == os.getpid()]
    assert here == list(range(len(here))) and auto.PROBE_LEAST <= len(here) < 10, here
    assert all(t.pid != os.getpid() for t in run.tasks[len(here):])
    assert set(run.chunk_sizes) == {1} and sum(run.chunk_sizes) == 10 - len(here)
    assert run.serial_time == pytest.approx(sum(t.duration for t in run.tasks))
    stored = wb.open(run.id)  # one journal, every record once, the reason kept
    assert [t.index for t in stored.tasks] == list(range(10)) and stored.history == []
    assert stored.reason == run.reason and stored.backend == run.backend
    assert stored.wall_time == pytest.approx(run.wall_time)


def test_large_arguments_stay_serial_because_moving_them_costs_more():
    blob = bytes(20 << 20)  # one 20 MB object, 16 times: each item travels on its own
    run = wb.run(nap_on, [blob] * 16, backend="auto", workers=WORKERS, view="none")
    assert run.backend == "serial" and run.results == [len(blob)] * 16
    assert run.reason.startswith("tasks of 0.15 s moving 21 MB each: serial, sending the "
                                 "data to workers would cost more than it saves"), run.reason
    once_each(run, 16)


def test_a_users_running_dask_client_takes_heavy_tasks_and_is_left_running():
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)  # the default client, as a Dask user makes it
    try:
        theirs = set(client.scheduler_info(n_workers=-1)["workers"])
        run = wb.run(nap, range(10), backend="auto", view="none")
        assert run.backend == "dask", run.reason
        assert run.reason.endswith("your Dask client: dask with 2 workers, chunks of 1")
        assert run.results == [2 * x for x in range(10)]
        once_each(run, 10)
        probed = [t for t in run.tasks if t.pid == os.getpid()]
        assert {t.worker for t in run.tasks[len(probed):]} <= theirs
        assert client.status == "running"
        wb.shutdown("dask")  # stops only what workbench started
        assert client.status == "running" and client.submit(inc, 41).result() == 42
    finally:
        client.close()
        cluster.close()


SETTINGS = {"workers": 2, "chunksize": "auto", "backend_options": {}}
POOL = auto.Offer("process_map", 2, 2, auto.PROCESS_MAP_FIRST_START, "no cluster")
THEIRS = auto.Offer("dask", None, 2, auto.TAKE_CLUSTER, "your Dask client", auto.YOURS)
TINY = auto.Probe(8, 3e-6, 1.0, 1e-4, 1e-4, 0.0)
HEAVY = auto.Probe(2, 0.4, 0.01, 1e-4, 1e-4, 0.0)


@pytest.mark.parametrize("probe, n, offers, backend, reason", [
    (TINY, 100_000, [POOL, THEIRS], "serial",
     "tasks of 3 us: serial, parallel would cost more than it saves"),
    (HEAVY, 40, [POOL], "process_map",
     "tasks of 0.4 s, no cluster: process_map with 2 workers, chunks of 1"),
    (HEAVY, 40, [POOL, THEIRS], "dask",
     "tasks of 0.4 s, your Dask client: dask with 2 workers, chunks of 1"),
    (HEAVY, 1, [POOL, THEIRS], "serial",
     "tasks of 0.4 s: serial, parallel would cost more than it saves"),
    (auto.Probe(1, 2.0, 1.0, 1e-4, 1e-4, 0.0), 40, [POOL], "process_map",  # one probe
     "tasks of 2 s, no cluster: process_map with 2 workers, chunks sized from task times"),
    (auto.Probe(3, 0.1, 1.0, 50.0, 1e-4, 0.0), 40, [POOL, THEIRS], "serial",
     "tasks of 0.1 s moving 50 MB each: serial, sending the data to workers would cost more "
     "than it saves"),
    (HEAVY, 0, [POOL], "serial", "all 2 items ran while timing them (tasks of 0.4 s): serial"),
    (auto.Probe(2, 0.4, 0.0, 0.0, 0.0, 0.0, "its items cannot be pickled (TypeError)"), 40,
     [POOL], "serial", "its items cannot be pickled (TypeError): serial, the one backend "
                       "that need not send them"),
])
def test_the_decision_rules(probe, n, offers, backend, reason):
    plan = auto.decide(probe, n, SETTINGS, offers)
    assert (plan.backend, plan.reason) == (backend, reason)


def test_a_chunk_size_given_is_kept():
    plan = auto.decide(HEAVY, 40, {**SETTINGS, "chunksize": 3}, [POOL])
    assert plan.chunksize == 3 and plan.reason.endswith("chunks of 3")


def test_auto_in_a_comparison_is_a_row_of_its_own():
    panel = RunPanel("nap", ["serial", "auto"], 6, WORKERS)
    cmp = wb.compare(nap, range(6), backends=["serial", "auto"], workers=WORKERS, view=panel)
    assert list(cmp.runs) == ["serial", "auto"] and cmp.all_same
    assert cmp.runs["auto"].backend == "process_map" and cmp.runs["auto"].reason
    assert panel.bars["auto"].value == 6 and panel.bar_texts["auto"].value.startswith(
        "process_map · 6/6")
    assert "auto: tasks of 0.25 s" in panel.header.value


def test_the_dashboard_offers_auto_and_shows_why():
    dashboard = wb.Panel(inc, range(300))
    assert "auto" in dashboard.backend_choice.options
    dashboard.backend_choice.value = ("auto",)
    run = dashboard.run()
    assert run.backend == "serial" and run.reason
    assert list(dashboard.panel.bars) == ["auto"] and dashboard.panel.bars["auto"].value == 300
    assert "auto: tasks of" in dashboard.panel.header.value
    assert "serial (auto)" in dashboard.history.value


def test_the_text_view_prints_the_reason_once(capsys):
    run = wb.run(inc, range(50), backend="auto", view="text")
    err = capsys.readouterr().err
    assert err.count(f"inc: auto: {run.reason}\n") == 1


@pytest.mark.parametrize("call, words", [
    (lambda: wb.run(inc, [1], backend="auto", address="tcp://127.0.0.1:8786"),
     "address= is for the dask and ray backends, not 'auto'"),
    (lambda: wb.run(inc, [1], backend="outo"), "unknown backend 'outo': choose one of "
                                               "serial, process_map, dask, ray, or 'auto'"),
    (lambda: wb.joblib_backend("auto").__enter__(),
     "the joblib backend cannot take on='auto'"),
])
def test_what_auto_cannot_do_is_one_line(call, words):
    before = wb.last_run()
    with pytest.raises(wb.InputError) as info:
        call()
    assert words in str(info.value) and "\n" not in str(info.value)
    assert wb.last_run() is before


FAIL = {3}


def fails_while_told(x):
    if x in FAIL:
        raise ValueError(f"not yet {x}")
    return x


def test_a_resume_may_be_planned_too():
    first = wb.run(fails_while_told, range(6), backend="serial", view="none")
    FAIL.clear()
    again = wb.resume(first.id, backend="auto", view="none")
    assert again.ok and again.reason and [t.index for t in again.tasks] == list(range(6))
    stored = wb.open(first.id)  # the probed record is in the journal, once
    assert stored.ok and [r.index for r in stored.history] == [3]
    assert len(stored.sessions) == 2 and stored.wall_time == pytest.approx(again.wall_time)
