"""Cost of the journal (target P8): the same workbench call with ``journal=False`` and with
the journal on (the default), interleaved, on the tiny and pi workloads, for each backend.

The journal writes on its own thread and the call returns without waiting for the last
commit (a reopen in the process waits for it); ``journal`` times the call as a user waits for
it, ``complete`` also waits until the file holds every record (``settle``), so the work the
journal does after the call is shown, not hidden.
"""

from __future__ import annotations

from typing import Any

from workbench.journal.writer import settle

from .harness import Variant
from .wbrows import run_workload
from .workloads import Workload


def variants(backend: str) -> list[Variant]:
    return [Variant(f"{backend} no journal", backend, "workbench", _call(backend, False)),
            Variant(f"{backend} journal", backend, "workbench", _call(backend, True)),
            Variant(f"{backend} complete", backend, "workbench", _call(backend, True, True))]


def _call(backend: str, journal: bool, complete: bool = False):
    def call(w: Workload) -> tuple[list[Any], dict]:
        run = run_workload(w, backend, journal=journal)
        if complete:
            settle()
        n = len(w.wb_items if w.wb_items is not None else w.items)
        if len(run.tasks) != n:
            raise AssertionError(f"{len(run.tasks)} records for {n} items")
        return run.results, {"run_wall_s": run.wall_time, "journaled": run.journal is not None}
    return call
