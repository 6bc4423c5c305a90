"""%%parallel through a real IPython shell, on every backend, and its UsageErrors."""

from __future__ import annotations

import pytest
from IPython import get_ipython
from IPython.core.error import UsageError
from IPython.testing.globalipapp import start_ipython

import workbench as wb
from conftest import WORKERS

CELL = '''
import logging, sys
def etl(shop):
    print("shop", shop)
    print("warn", shop, file=sys.stderr)
    logging.getLogger("etl").info("did %s", shop)
    if shop % 5 == 3:
        raise ValueError(f"bad shop {shop}")
    return shop * 2
'''


@pytest.fixture(scope="module")
def ip():
    shell = start_ipython() or get_ipython()  # one shell per process: maybe started already
    shell.run_line_magic("load_ext", "workbench")
    shell.user_ns["shops"] = list(range(12))
    return shell


def test_magic_runs_the_cells_function_on_each_backend(ip, backend):
    ip.user_ns.pop("etl", None)
    ip.run_cell_magic("parallel", f"--over shops --backend {backend} --workers {WORKERS} "
                                  "--view none --out r", CELL)
    r = ip.user_ns["r"]
    assert ip.user_ns["_parallel"] is r
    assert isinstance(r, wb.Run) and r.backend == backend
    assert [e.index for e in r.errors] == [3, 8]
    assert r.results[4] == 8
    assert r.logs[8] == "shop 8\nwarn 8\nINFO:etl:did 8\n"
    assert "bad shop 8" in r.task(8).error.traceback
    assert ip.user_ns["etl"](2) == 4, "the function stays defined for ordinary use"


def test_several_backends_make_a_comparison(ip):
    ip.run_cell_magic("parallel", f"--over range(6) --backend serial,process_map "
                                  f"--workers {WORKERS} --view none",
                      "def sq(x):\n    return x*x\n")
    cmp = ip.user_ns["_parallel"]
    assert isinstance(cmp, wb.Comparison) and list(cmp.runs) == ["serial", "process_map"]
    assert cmp.all_same and cmp["process_map"].results == [0, 1, 4, 9, 16, 25]


def test_all_means_every_installed_backend(ip):
    ip.run_cell_magic("parallel", f"--over range(3) --backend all --workers {WORKERS} "
                                  "--view none", "def inc(x):\n    return x + 1\n")
    assert list(ip.user_ns["_parallel"].runs) == ["serial", "process_map", "dask", "ray"]


def test_fn_option_star_and_seed(ip):
    cell = "def helper(a, b):\n    return a * b\ndef other(x):\n    return x\n"
    ip.run_cell_magic("parallel", "--over \"[(1, 2), (3, 4)]\" --fn helper --star --view none",
                      cell)
    assert ip.user_ns["_parallel"].results == [2, 12]


SEEDED = "import workbench as wb\ndef draw(x):\n    return float(wb.task_rng().random())\n"


def test_seed_option_gives_the_same_draws_on_every_backend_and_another_seed_others(ip):
    ip.run_cell_magic("parallel", "--over range(4) --seed 7 --view none", SEEDED)
    first = ip.user_ns["_parallel"]
    ip.run_cell_magic("parallel", f"--over range(4) --seed 7 --backend process_map "
                                  f"--workers {WORKERS} --view none", SEEDED)
    again = ip.user_ns["_parallel"]
    ip.run_cell_magic("parallel", "--over range(4) --seed 8 --view none", SEEDED)
    other = ip.user_ns["_parallel"]
    assert first.seed == again.seed == 7 and other.seed == 8
    assert again.results == first.results and len(set(first.results)) == 4
    assert other.results != first.results


FLAKY = ("import workbench as wb\ndef flaky(x):\n    if wb.current_task().attempt == 1:\n"
         "        raise RuntimeError('first try')\n    return x\n")


def test_retries_option_runs_a_failed_task_again_and_keeps_the_first_attempt(ip):
    ip.run_cell_magic("parallel", f"--over range(3) --retries 1 --backend process_map "
                                  f"--workers {WORKERS} --view none", FLAKY)
    r = ip.user_ns["_parallel"]
    assert r.results == [0, 1, 2] and {t.attempt for t in r.tasks} == {2}
    assert sorted(h.index for h in r.history) == [0, 1, 2]
    assert {h.error.type for h in r.history} == {"RuntimeError"}


def test_shared_option_passes_notebook_objects_by_name(ip, backend):
    ip.user_ns["table"] = {"a": 1, "b": 2}
    ip.run_cell_magic("parallel", f"--over \"['a', 'b', 'a']\" --shared table --backend "
                                  f"{backend} --workers {WORKERS} --view none",
                      "def look(key, table):\n    return table[key]\n")
    assert ip.user_ns["_parallel"].results == [1, 2, 1]


def test_timeout_option(ip):
    ip.run_cell_magic("parallel", "--over range(3) --timeout 0.3 --view none",
                      "import time\ndef nap(x):\n"
                      "    time.sleep(5 if x == 1 else 0)\n    return x\n")
    r = ip.user_ns["_parallel"]
    assert [e.error.type for e in r.errors] == ["TaskTimeout"] and r.results[2] == 2


def test_text_view_prints_a_bar_and_a_summary(ip, capsys):
    ip.run_cell_magic("parallel", "--over range(4) --view text", "def f(x):\n    return x\n")
    err = capsys.readouterr().err
    assert "4/4" in err and "f on serial: 4 of 4 tasks done: 4 ok" in err


def test_view_auto_and_its_old_name_widget_are_text_outside_a_notebook(ip, capsys):
    for view in ("auto", "widget"):
        ip.run_cell_magic("parallel", f"--over range(3) --view {view}", "def f(x):\n    return x\n")
        assert "f on serial: 3 of 3 tasks done: 3 ok" in capsys.readouterr().err


def test_in_a_notebook_a_comparison_gets_one_panel_serial_first(ip, monkeypatch):
    import IPython.display

    import workbench.views

    shown = []
    monkeypatch.setattr(workbench.views, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kwargs: shown.append(obj))
    ip.run_cell_magic("parallel", f"--over range(4) --backend process_map,serial "
                                  f"--workers {WORKERS}", "def g(x):\n    return x\n")
    assert len(shown) == 1 and list(shown[0].bars) == ["serial", "process_map"]
    assert repr(shown[0]) == ("<workbench panel g: serial: 4 of 4 tasks done: 4 ok; "
                              "process_map: 4 of 4 tasks done: 4 ok>")


USAGE_ERRORS = [
    ("--over shops --backend rey", "def f(x):\n    return x\n",
     "--backend: unknown backend 'rey': choose one of serial, process_map, dask, ray"),
    ("--over shops --backend dask,dask", "def f(x):\n    return x\n",
     "--backend lists a backend twice"),
    ("--over nope", "def f(x):\n    return x\n", "--over nope: name 'nope' is not defined"),
    ("--over 5", "def f(x):\n    return x\n", "--over 5: items must be iterable"),
    ("--over 1/0", "def f(x):\n    return x\n", "ZeroDivisionError"),
    ("--over shops --workers 0", "def f(x):\n    return x\n", "workers must be at least 1"),
    ("--over shops --bogus 1", "def f(x):\n    return x\n", "unrecognized arguments: --bogus"),
    ("--over shops --chunksize x", "def f(x):\n    return x\n", "--chunksize must be 'auto'"),
    ("--over shops --timeout 0", "def f(x):\n    return x\n", "--timeout must be a number"),
    ("--over shops --retries -1", "def f(x):\n    return x\n", "--retries must be 0 or more"),
    ("--over shops --view fancy", "def f(x):\n    return x\n", "invalid choice: 'fancy'"),
    ("--backend serial", "def f(x):\n    return x\n", "--over is required"),
    ("--over shops --fn missing", "def f(x):\n    return x\n", "--fn missing: no such name"),
    ("--over shops", "x = 1\n", "no function in this cell"),
    ("--over shops", "def g(a, b):\n    return a\n", "g(a, b) cannot be called with one item"),
    ("--over shops", "async def h(x):\n    return x\n", "not a plain function"),
    ("--over shops --shared nothing", "def f(x, nothing):\n    return x\n",
     "--shared nothing: no such name"),
    ("--over shops --shared 'a b'", "def f(x):\n    return x\n", "is not a variable name"),
    ("--over shops --shared shops", "def f(x):\n    return x\n",
     "cannot be called as fn(item, shops=...)"),
    ("--over shops --fn shops", "def f(x):\n    return x\n", "shops is a list, not a plain"),
    ("--over shops --out 1bad", "def f(x):\n    return x\n", "--out 1bad: not a variable name"),
    ("--over shops --out a.b", "def f(x):\n    return x\n", "--out a.b: not a variable name"),
    ("--joblib --over shops", "x = 1\n", "--over does not go with --joblib"),
    ("--joblib --backend serial,dask", "x = 1\n", "--joblib runs the cell once, on one"),
    ("--joblib --timeout 0", "x = 1\n", "--timeout must be a number"),
]


@pytest.mark.parametrize("line, cell, words", USAGE_ERRORS, ids=[u[0] for u in USAGE_ERRORS])
def test_a_mistake_in_the_line_is_one_usage_error_and_nothing_runs(ip, line, cell, words):
    before = wb.last_run()
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("parallel", line + " --view none" if "--view" not in line else line,
                          cell)
    message = str(info.value)
    assert "\n" not in message and words in message, message
    assert wb.last_run() is before, "no run may start"


JOBLIB_CELL = '''
from joblib import Parallel, delayed
def cube(x):
    print("cube", x)
    return x ** 3
cubes = Parallel(n_jobs=2)(delayed(cube)(i) for i in range(5))

class BadCube(Exception):
    pass

def picky_cube(x):
    if x == 3:
        raise BadCube(f"no cube of {x}")
    return x ** 3

try:
    Parallel(n_jobs=2)(delayed(picky_cube)(i) for i in range(5))
except BadCube as exc:  # the notebook's own class, back from the worker
    caught = exc
'''


def test_joblib_option_runs_the_cell_with_each_joblib_call_a_task(ip):
    ip.run_cell_magic("parallel", f"--joblib --backend process_map --workers {WORKERS} "
                                  "--view none --out jl", JOBLIB_CELL)
    assert ip.user_ns["cubes"] == [0, 1, 8, 27, 64]
    runs = ip.user_ns["_parallel"]
    assert ip.user_ns["jl"] is runs and len(runs.runs) == 2
    first = runs.runs[0]
    assert first.fn_name == "cube" and first.backend == "process_map"
    assert first.logs[2] == "cube 2\n" and first.counts["ok"] == 5
    assert str(ip.user_ns["caught"]) == "no cube of 3"
    assert runs.runs[1].task(3).error.type == "BadCube"


def test_a_syntax_error_in_the_cell_shows_as_in_a_plain_cell(ip, capsys):
    before = wb.last_run()
    result = ip.run_cell("%%parallel --over shops --view none\ndef g(x)\n    return x\n")
    shown = capsys.readouterr().out
    assert type(result.error_in_exec).__name__ == "CellSyntaxError", result
    assert "SyntaxError: expected ':'" in shown and "def g(x)" in shown, shown
    assert "magic.py" not in shown and "no function" not in shown, shown
    assert wb.last_run() is before, "nothing runs"


def test_over_keeps_the_quotes_inside_its_expression(ip):
    ip.run_cell_magic("parallel", """--over "'a b c'.split()" --view none""",
                      "def twice(x):\n    return x * 2\n")
    assert ip.user_ns["_parallel"].results == ["aa", "bb", "cc"]


def test_address_goes_to_the_backends_it_fits_in_a_comparison(ip):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        ip.run_cell_magic("parallel", f"--over shops --backend serial,dask --view none "
                                      f"--address {cluster.scheduler_address}",
                          "def twice(x):\n    return x * 2\n")
        cmp = ip.user_ns["_parallel"]
        assert isinstance(cmp, wb.Comparison) and cmp.all_same
        assert cmp["dask"].results == [2 * s for s in range(12)]
    wb.shutdown("dask")
