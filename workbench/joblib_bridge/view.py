"""What shows a joblib call's run: in a notebook a panel displayed when the call starts (in
joblib's calling thread, the cell's), elsewhere the view ``view=`` names. The panel's widgets
are then updated from the run's thread, as ipywidgets allows."""

from __future__ import annotations

from typing import Any

from .. import views


def view_now(name: str, settings: dict[str, Any], container: Any = None) -> Any:
    """The observer of a new run of ``name``; a panel is displayed now (or added to
    ``container``, an ipywidgets box, when one holds every run of a block)."""
    view = settings["view"]
    if view == "auto" and views.in_notebook():
        try:
            from ..views.panel import RunPanel
        except ImportError:  # no ipywidgets: the text view
            return views.make_view("text")
        from ..views import kernel_comms

        panel = RunPanel(name, [settings["backend"]], 0, settings["workers"])
        kernel_comms.hear_while_busy(panel.stop_button)  # from the cell's thread: see there
        if container is not None:
            container.children = (*container.children, panel)
        else:
            panel.show()
        return panel
    return views.make_view(view)
