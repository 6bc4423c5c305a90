"""Binder: the files repo2docker reads declare everything the tutorials import, and an
environment made from them alone runs a tutorial (docker is not available here: this is the
offline equivalent of a Binder launch)."""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import subprocess
import sys
from importlib import metadata
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as a package
    import tomli as tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
#: The distribution's name, as pip compares names.
PROJECT = canonicalize_name(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"])
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LAUNCH = "?urlpath=lab/tree/notebooks/01-quickstart.ipynb"


def _declared() -> set[str]:
    """Distributions binder/requirements.txt installs, with workbench's extras expanded."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    names: set[str] = set()

    def add(requirement: str) -> None:
        req = Requirement(requirement)
        name = canonicalize_name(req.name)
        if name == PROJECT:
            names.add(name)
            for dependency in project["dependencies"]:
                add(dependency)
            for extra in req.extras:
                for dependency in extras[extra]:
                    add(dependency)
        elif name not in names:
            names.add(name)
            for extra in req.extras:  # what the extra pulls in, from the installed metadata
                for dependency in metadata.requires(req.name) or []:
                    dep = Requirement(dependency)
                    if dep.marker is not None and dep.marker.evaluate({"extra": extra}):
                        names.add(canonicalize_name(dep.name))

    for line in (BINDER / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("."):  # the repository itself, with extras
            line = PROJECT + line[1:]
        if line:
            add(line)
    return names


def _imports(notebook: Path) -> set[str]:
    modules = set()
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "\n".join(line for line in "".join(cell["source"]).splitlines()
                           if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                modules.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module.split(".")[0])
    return modules


def test_binder_pins_python_and_installs_the_package_with_the_tutorial_extras():
    assert re.fullmatch(r"python-3\.\d+", (BINDER / "runtime.txt").read_text().strip()), \
        "repo2docker takes python-3.X (a patch version fails)"
    assert not (BINDER / "environment.yml").exists(), "it would win over requirements.txt"
    declared = _declared()
    assert {PROJECT, "dask", "ray", "ipywidgets", "matplotlib", "jupyterlab"} <= declared


@functools.cache
def _providers(module: str) -> list[str]:
    """The distributions that install import name ``module``: from their top_level.txt and,
    where a wheel has none (scikit-learn's), from the files they installed (what Python 3.11
    infers; 3.10 does not)."""
    found = packages_distributions().get(module)
    if found:
        return list(found)
    names = []
    for dist in metadata.distributions():
        for file in dist.files or []:
            top, _, rest = str(file).partition("/")
            if top == module or (not rest and top == f"{module}.py"):
                names.append(dist.metadata["Name"])
                break
    return names or [module]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_binder_declares_what_each_tutorial_imports(notebook):
    declared = _declared()
    missing = []
    for module in sorted(_imports(notebook)):
        if module in sys.stdlib_module_names:
            continue
        dists = {canonicalize_name(d) for d in _providers(module)}
        if not dists & declared:
            missing.append(f"{module} (from {', '.join(sorted(dists))})")
    assert not missing, f"{notebook.name} imports what binder/ does not install: {missing}"


def test_readme_has_a_binder_badge_that_opens_the_quickstart():
    readme = (ROOT / "README.md").read_text()
    assert "https://mybinder.org/badge_logo.svg" in readme
    assert re.search(r"https://mybinder\.org/v2/gh/[^)\s]+" + re.escape(LAUNCH), readme)


@pytest.mark.slow
@pytest.mark.once
@pytest.mark.timeout(1500)  # installing JupyterLab, Dask and Ray takes minutes
def test_an_environment_from_binder_files_alone_runs_the_quickstart(tmp_path):
    """A fresh virtual environment, `pip install -r binder/requirements.txt` from the
    repository root (as repo2docker does), then the quickstart executed top to bottom."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"],
        cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert install.returncode == 0, install.stderr[-3000:]
    out = tmp_path / "run.ipynb"
    env = {**os.environ, "CI": "1", "JUPYTER_PLATFORM_DIRS": "1"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [str(python), "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.timeout=300", "--ExecutePreprocessor.kernel_name=python3",
         f"--output={out}", str(ROOT / "notebooks" / "01-quickstart.ipynb")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    cells = json.loads(out.read_text())["cells"]
    errors = [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, errors
    which = subprocess.run([str(python), "-c", "import workbench, sys; print(workbench.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert which.stdout.startswith(str(venv)), "the package itself came from binder/"
