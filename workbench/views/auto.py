"""Panels workbench makes for you: the one ``view="auto"`` shows in a notebook, and the one a
run read from its journal shows (:mod:`workbench.journal`)."""

from __future__ import annotations

from typing import Any

from .format import shown_name
from .panel import RunPanel


class AutoPanel:
    """``view="auto"`` in a notebook: a panel made and displayed when the first run starts.

    ``backends``: the bars to show, for a comparison (one panel for all its runs); by
    default the one backend of the run."""

    def __init__(self, backends: list[str] | None = None) -> None:
        self.backends = list(backends) if backends else None
        self.panel: RunPanel | None = None

    def __call__(self, event: Any) -> None:
        if self.panel is None:
            run = event.run
            self.panel = RunPanel(run.fn_name, self.backends or [shown_name(run)], len(run),
                                  run.workers)
            self.panel.show()
        self.panel(event)


def stored_panel(run: Any) -> RunPanel:
    """The panel of a run that is not going on here (read from its journal), drawn at once:
    its Stop button is off and says how the run ended."""
    panel = RunPanel(run.fn_name, [shown_name(run)], len(run), run.workers)
    panel.current = panel.runs[shown_name(run)] = run
    panel.reason = run.reason
    panel.header.value = panel._header()
    panel._draw_progress(run)
    panel._draw_results()
    panel.stop_button.disabled = True
    panel.stop_button.description = run.state
    panel.stop_button.tooltip = f"read from {run.journal}" if run.journal else "a past run"
    return panel
