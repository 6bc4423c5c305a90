"""The engine imports no heavy optional package until it is used."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ["dask", "distributed", "ray", "IPython", "ipywidgets", "matplotlib", "pandas", "joblib",
         "numpy", "cloudpickle", "tqdm", "psutil"]


def test_import_workbench_is_light():
    code = ("import sys, workbench\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_a_serial_run_imports_no_backend_or_widget_package():
    code = ("import sys, workbench as wb\n"
            "wb.run(abs, [-1, 2], view='none')\n"
            f"print(','.join(m for m in {HEAVY[:6]!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
