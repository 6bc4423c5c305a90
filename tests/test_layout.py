"""No upward imports: the comparison model and the views import neither the engine nor the
backends (read from the source, so no import of ``workbench`` itself gets in the way: its
``__init__`` imports everything)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "workbench"
#: The model and the presentation: they show runs, they never start one.
ENGINE_FREE = ["workbench.comparison", "workbench.views", "workbench.views.format",
               "workbench.views.fragments", "workbench.views.text", "workbench.views.panel",
               "workbench.views.kernel_comms"]
RUNNING = ("workbench.engine", "workbench.backends")


def _path(module: str) -> Path | None:
    base = PACKAGE.parent.joinpath(*module.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(module: str) -> set[str]:
    """Every module ``module`` imports (at the top or inside a function; not the ones for
    type checkers only), with the packages a submodule import runs, but not the root."""
    path = _path(module)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    skipped = {id(n) for node in ast.walk(tree) if _is_type_checking(node)
               for n in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if _path(f"{base}.{a.name}"))
    parents = {".".join(m.split(".")[:i]) for m in found for i in range(2, m.count(".") + 1)}
    return {m for m in found | parents if m != "workbench"}


def _reached(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo += [m for m in _imports(current) if m.startswith("workbench.") and _path(m)]
    return seen


@pytest.mark.parametrize("module", ENGINE_FREE)
def test_model_and_views_do_not_import_the_engine_or_backends(module):
    assert {"workbench.engine", "workbench.comparison"} <= _reached("workbench.compare"), (
        "the walk finds what compare() imports")
    reached = _reached(module)
    bad = sorted(m for m in reached if m.startswith(RUNNING))
    assert not bad, f"{module} imports {bad} (through {sorted(reached)})"


def test_the_format_module_needs_only_the_standard_library_and_the_records():
    outside = {m for m in _imports("workbench.views.format")
               if m.split(".")[0] not in sys.stdlib_module_names
               and m not in ("__future__", "workbench.views", "workbench.records")}
    assert not outside


#: The size rule of the package: a file does one job and reads in one sitting.
MAX_FILE_LINES, MAX_FUNCTION_LINES = 300, 60


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_file_and_function_is_small(path):
    source = path.read_text()
    assert source.count("\n") <= MAX_FILE_LINES, f"{path.name}: split it by job"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{path.name}: {long}"
