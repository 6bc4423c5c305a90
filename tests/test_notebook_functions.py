"""Functions defined in ``__main__`` (as in a notebook) with a closure and a global run on
every start method and on Dask: they travel by value. Each case is a real interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent("""
    import json, logging, sys, threading
    import workbench as wb

    OFFSET = 100                      # a global of the notebook
    RATES = {"a": 2, "b": 3}

    def make_scaler(factor):          # a closure
        def scale(x):
            return x * factor
        return scale

    scale = make_scaler(10)

    def etl(shop):                    # uses a global, a closure and a lambda defined here
        logging.getLogger("etl").warning("shop %s", shop)
        print("processing", shop)
        tax = (lambda v: v + OFFSET)
        return tax(scale(RATES[shop[0]] + len(shop)))

    def main():
        # the caller is threaded, as a Jupyter kernel is
        threading.Thread(target=lambda: __import__("time").sleep(5), daemon=True).start()
        backend, method = sys.argv[1], sys.argv[2]
        options = {"start_method": method} if method != "-" else {}
        run = wb.run(etl, ["a1", "bb2", "a"], backend=backend, workers=2, view="none",
                     backend_options=options)
        print(json.dumps({"results": run.results, "log": run.logs[1],
                          "pids": sorted({t.pid for t in run.tasks})}))
        wb.shutdown()
""")


@pytest.mark.parametrize("backend, method", [
    ("process_map", "forkserver"), ("process_map", "spawn"), ("process_map", "fork"),
    ("dask", "-")])
@pytest.mark.parametrize("how", ["notebook", "script"])
def test_main_module_function_with_closure_and_global(backend, method, how, tmp_path):
    if how == "notebook":  # like a kernel: __main__ has no file that workers could import
        cmd = [sys.executable, "-c", PROGRAM + "main()\n", backend, method]
    else:  # a script with the usual guard
        script = tmp_path / "job.py"
        script.write_text(PROGRAM + "if __name__ == '__main__':\n    main()\n")
        cmd = [sys.executable, str(script), backend, method]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["results"] == [140, 160, 130]
    assert data["log"] == "WARNING:etl:shop bb2\nprocessing bb2\n"
    assert len(data["pids"]) >= 1
