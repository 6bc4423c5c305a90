"""Cost of the live widget panel and the resource sampler (target P6), on numpy pi with
``process_map``, three ways, interleaved:

* ``bare``: ``view="none"`` and the sampler switched off (``workbench.engine._sampler`` is
  patched to return None for this call only: there is no public switch);
* ``sampler``: ``view="none"``, the sampler on (what every non-serial run does);
* ``panel``: a fresh ``RunPanel`` as the view (as ``%%parallel`` makes it), the sampler on.
  It is built outside a notebook (no front end draws it), so what is measured is the work the
  kernel does: widget state, progress text, and the timeline and resources PNGs at the end.

The whole call is timed (in a notebook the cell ends after the last drawing); the Run's own
``wall_time`` (dispatch loop only) is kept too.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import workbench.engine

from .harness import Variant
from .wbrows import run_workload
from .workloads import Workload

BACKEND = "process_map"


def variants() -> list[Variant]:
    return [Variant("bare", BACKEND, "workbench", _bare),
            Variant("sampler", BACKEND, "workbench", _sampler),
            Variant("panel", BACKEND, "workbench", _panel)]


def _extra(run: Any) -> dict[str, Any]:
    return {"run_wall_s": run.wall_time, "samples": len(run.resources)}


def _bare(w: Workload) -> tuple[list[Any], dict]:
    with mock.patch.object(workbench.engine, "_sampler", lambda *args: None):
        run = run_workload(w, BACKEND)
    return run.results, _extra(run)


def _sampler(w: Workload) -> tuple[list[Any], dict]:
    run = run_workload(w, BACKEND)
    return run.results, _extra(run)


def _panel(w: Workload) -> tuple[list[Any], dict]:
    from workbench.views.panel import RunPanel

    panel = RunPanel(w.fn.__name__, [BACKEND], len(w.items), 2)
    run = run_workload(w, BACKEND, view=panel)
    return run.results, _extra(run)
