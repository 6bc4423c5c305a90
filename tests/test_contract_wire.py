"""The worker contract (``workbench.contract``) at both ends: what a worker builds is a
``RawRecord``, what the engine decodes lands in the right fields, the one function-cache rule,
and the layers: workers import nothing of the caller's side, the engine nothing of the views."""

from __future__ import annotations

import ast
import logging
import pickle
import sys
import warnings
from pathlib import Path

import pytest

from workbench import worker
from workbench.contract import ERROR, OK, OK_PLAIN, ChunkReport, RawError, RawRecord
from workbench.decode import decode_chunk
from workbench.worker.functions import FunctionCache

PACKAGE = Path(__file__).resolve().parent.parent / "workbench"


def chatty(x):
    print("out", x)
    print("err", x, file=sys.stderr)
    logging.getLogger("chatty").warning("log %d", x)
    warnings.warn(f"careful {x}", UserWarning, stacklevel=1)
    if x == 2:
        raise ValueError(f"bad {x}")
    return {"x": x}


@pytest.mark.parametrize("encode", [True, False], ids=["in a worker", "in the caller"])
def test_a_worker_record_is_a_raw_record_and_decodes_field_by_field(encode):
    options = worker.TaskOptions(encode=encode)
    report = worker.run_chunk(chatty, [(1, 1), (2, 3)], [1, 2], options, worker="w")
    assert isinstance(report, ChunkReport) and (report.worker, report.host) == ("w", worker.HOST)
    good, bad = (RawRecord(*raw) for raw in report.records)
    assert (good.index, good.status, good.attempt) == (1, OK, 1)
    assert (pickle.loads(good.value) if encode else good.value) == {"x": 1}
    assert [stream for stream, _ in good.output] == ["stdout", "stderr", "log", "warning"]
    assert good.logs[0][:3] == ("WARNING", "chatty", "log 1")
    assert good.warnings[0][:2] == ("UserWarning", "careful 1")
    assert good.start <= good.end
    assert (bad.index, bad.status, bad.attempt) == (2, ERROR, 3)
    assert RawError(*bad.error).type == "ValueError" and "bad 2" in bad.error.traceback

    records, timed, busy = decode_chunk(report, 10.0, 11.0, encoded=encode)
    assert timed == 2 and busy == pytest.approx(sum(r.end - r.start for r in records))
    first, second = records
    assert first.value == {"x": 1} and first.stdout == "out 1\n" and first.stderr == "err 1\n"
    assert first.logs[0].message == "log 1" and first.warnings[0].message == "careful 1"
    assert (first.worker, first.pid, first.submitted, first.received) == (
        "w", report.pid, 10.0, 11.0)
    assert second.status == ERROR and second.error.type == "ValueError"
    assert second.attempt == 3 and isinstance(second.error.exception, ValueError)


def test_a_record_built_by_field_name_decodes_to_the_same_fields():
    raw = RawRecord(index=7, status=OK_PLAIN, value=42, error=None,
                    output=(("stdout", "hi\n"),), logs=(("INFO", "a", "m", 1.5),),
                    warnings=(("UserWarning", "w", "f.py", 3),), start=1.0, end=3.0, attempt=2)
    (record,), _, _ = decode_chunk(ChunkReport("w", 5, "h", [raw]), 0.5, 4.0, encoded=True)
    assert (record.index, record.status, record.value, record.attempt) == (7, OK, 42, 2)
    assert (record.start, record.end, record.duration, record.host) == (1.0, 3.0, 2.0, "h")
    assert record.stdout == "hi\n" and record.logs[0].time == 1.5
    assert record.warnings[0].lineno == 3


def test_the_function_cache_drops_the_oldest_but_never_the_newest():
    cache = FunctionCache(max_count=2, max_bytes=100)
    assert cache.add(b"a", "A", 10) == [] and cache.add(b"b", "B", 10) == []
    assert cache.add(b"a", "A", 10) == []  # used again: now the newest
    assert cache.add(b"c", "C", 10) == [b"b"]
    assert cache.add(b"big", "BIG", 500) == [b"a", b"c"]  # too big alone, but kept
    assert b"big" in cache and len(cache) == 1 and cache.get(b"big") == "BIG"


def _imports(path: Path) -> set[str]:
    """Modules a file imports, relative ones resolved against the package."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found.add(module)
            if not node.module:  # from . import x
                found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _first_party(path: Path) -> set[str]:
    return {m for m in _imports(path) if m.split(".")[0] == "workbench"}


@pytest.mark.parametrize("path", sorted((PACKAGE / "worker").glob("*.py")) + [
    PACKAGE / "contract.py"], ids=lambda p: p.name)
def test_worker_code_needs_only_the_stdlib_and_the_contract(path):
    allowed = {"workbench.contract", "workbench.tracebacks", "workbench.worker"}
    assert all(m in allowed or m.startswith("workbench.worker.")
               for m in _first_party(path)), _first_party(path)
    third_party = {m.split(".")[0] for m in _imports(path)} - set(sys.stdlib_module_names)
    assert third_party <= {"workbench", "numpy", "cloudpickle"}, third_party


@pytest.mark.parametrize("name", ["engine", "loop", "checks", "payload", "records", "plan",
                                  "backends/base", "backends/process_map", "backends/dask",
                                  "backends/ray", "backends/serial"])
def test_the_run_machinery_never_imports_a_view(name):
    imported = _first_party(PACKAGE / f"{name}.py")
    assert not {m for m in imported if m.startswith(("workbench.views", "workbench.magic",
                                                      "workbench.compare"))}, imported
