"""The user's code as the user sees it: a failing task's traceback names the notebook cell (or
the file) and shows the failing line's source on every backend, and warm workers run the
current version of a local module after it was edited and reloaded."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
import uuid

import pytest
from IPython import get_ipython
from IPython.testing.globalipapp import start_ipython

import workbench as wb
from conftest import WORKERS, run

CELL = '''
def parse(text):
    cleaned = text.strip()
    value = float(cleaned)
    return value
'''


@pytest.fixture(scope="module")
def ip():
    shell = start_ipython() or get_ipython()  # one shell per process: maybe started already
    shell.run_line_magic("load_ext", "workbench")
    return shell


def test_a_notebook_function_fails_with_its_cell_and_line(ip, backend):
    ip.user_ns["texts"] = ["1", "x", "3"]
    ip.run_cell_magic("parallel", f"--over texts --backend {backend} --workers {WORKERS} "
                                  "--view none", CELL)
    tb = ip.user_ns["_parallel"].task(1).error.traceback
    assert "Cell In[" in tb and ", line 3, in parse\n" in tb, tb
    assert "    value = float(cleaned)\n" in tb, tb  # the failing line's source
    assert "<dynamic-code>" not in tb and "workbench-code" not in tb, tb
    assert tb.rstrip().endswith("ValueError: could not convert string to float: 'x'"), tb


@pytest.fixture
def make_module(tmp_path, monkeypatch):
    """Fresh modules beside the 'notebook', imported under unique names."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(source: str):
        name = f"usermod_{uuid.uuid4().hex[:8]}"
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        return importlib.import_module(name), path

    yield make


def test_a_module_function_fails_with_its_file_and_line(parallel_backend, make_module):
    module, path = make_module("""
        def load(text):
            rows = text.split(",")
            return int(rows[1])
    """)
    r = run(module.load, ["1,2", "3"], parallel_backend)
    tb = r.task(1).error.traceback
    assert f'  File "{path}", line 4, in load\n    return int(rows[1])\n' in tb, tb
    assert tb.rstrip().endswith("IndexError: list index out of range"), tb


def test_a_script_function_fails_with_the_scripts_line(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent("""
        import workbench as wb

        def halve(x):
            if x == 3:
                raise ValueError("three is odd")
            return x // 2

        run = wb.run(halve, range(5), backend="process_map", workers=2, view="none")
        print(run.task(3).error.traceback)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (f'  File "{script}", line 6, in halve\n'
            '    raise ValueError("three is odd")\n') in out.stdout, out.stdout


def test_warm_workers_run_an_edited_and_reloaded_module(parallel_backend, make_module):
    helper, helper_path = make_module("""
        def bump(x):
            return x + 1
    """)
    module, path = make_module(f"""
        import {helper.__name__} as helper

        FACTOR = 2

        def score(x):
            return helper.bump(x) * FACTOR
    """)

    def via_global(x):  # a notebook function that calls into the module
        return module.score(x)

    assert run(module.score, range(3), parallel_backend).results == [2, 4, 6]
    assert run(via_global, range(3), parallel_backend).results == [2, 4, 6]
    # edit both files as a user would (other sizes, so no stale bytecode), then reload
    path.write_text(path.read_text().replace("FACTOR = 2", "FACTOR = 30"))
    helper_path.write_text(helper_path.read_text().replace("x + 1", "x + 100"))
    importlib.reload(helper)
    importlib.reload(module)
    assert module.score(1) == 3030
    assert run(module.score, range(3), parallel_backend).results == [3000, 3030, 3060]
    assert run(via_global, range(3), parallel_backend).results == [3000, 3030, 3060]


def test_the_stdlib_and_installed_packages_still_travel_by_reference(make_module):
    import json

    import numpy

    from workbench.local_code import is_local, local_modules

    mine, _ = make_module("def f(x):\n    return x\n")

    def fn(x):
        return json.dumps(x) + wb.__name__ + str(numpy.pi) + str(mine.f(x))

    found = {m.__name__ for m in local_modules(fn)}
    assert mine.__name__ in found and __name__ in found  # this test module is local too
    assert not found & {"json", "numpy", "workbench"}
    assert not any(is_local(m) for m in (json, numpy, wb, pytest))


def test_items_and_results_of_a_local_class_are_the_class_the_function_knows(
        parallel_backend, make_module):
    module, _ = make_module("""
        class Shop:
            def __init__(self, n):
                self.n = n

        def grow(shop):
            assert isinstance(shop, Shop), type(shop)
            return Shop(shop.n * 2)
    """)
    r = run(module.grow, [module.Shop(1), module.Shop(2)], parallel_backend)
    assert r.errors == []
    assert [type(v) is module.Shop for v in r.results] == [True, True]
    assert [v.n for v in r.results] == [2, 4]


def test_a_module_that_cannot_travel_by_value_is_imported_by_name_with_a_warning(make_module):
    module, _ = make_module("""
        import threading

        LOCK = threading.Lock()  # a module-level object that cannot be pickled

        def bump(x):
            with LOCK:
                return x + 1
    """)

    def via_the_module(x):
        return module.bump(x)

    with pytest.warns(RuntimeWarning, match=f"workbench: {module.__name__} could not be sent "
                                            "by value .* workers import it by name"):
        # a pool started now, so that its workers can import the module by name
        r = run(via_the_module, [1, 2], "process_map", workers=1)
    assert r.results == [2, 3]
