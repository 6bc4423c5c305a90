"""The notebook view of a ``wb.joblib_backend`` block: one box, a panel per joblib call
added as the call starts (imported only in a notebook with ipywidgets)."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w


class CallsBox(w.VBox):
    """A header and, below it, the panel of each joblib ``Parallel`` call of the block."""

    def __init__(self, session: Any, where: str):
        self.session = session
        super().__init__([w.HTML(
            f"<b>joblib</b> through workbench on {html.escape(where)}: every call is a task "
            "with its own record; a panel per <code>Parallel</code> call below")])

    def __repr__(self) -> str:
        """Deterministic, for notebooks checked with nbval (shown before any call ran)."""
        return f"<workbench joblib calls on {self.session.backend}>"
