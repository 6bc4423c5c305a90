"""Views draw a run from its events. This module alone decides which view a run gets."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import InputError

VIEWS = ("auto", "text", "none")


def in_notebook() -> bool:
    """Whether we run in a Jupyter kernel (not a terminal IPython, not a plain script)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return bool(shell) and type(shell).__name__ == "ZMQInteractiveShell"


def make_view(view: Any,
              backends: Sequence[str] | None = None) -> Callable[[Any], None] | None:
    """The observer for ``view``: ``"auto"``, ``"text"``, ``"none"``/``None``/``False``, or a
    callable taking events (used as it is).

    ``"auto"`` is the panel in a notebook (when ipywidgets is installed), else the text view.
    ``backends``: the backends that will run, in order, when one observer is to show several
    runs (a comparison): the panel then has a bar for each from the start."""
    if view is None or view is False or view == "none":
        return None
    if callable(view):
        return view
    if view == "auto" and in_notebook():
        try:
            from .auto import AutoPanel
        except ImportError:  # no ipywidgets: the text view still works
            pass
        else:
            return AutoPanel(backends)
    if view in ("auto", "text", True):
        from .text import TextView

        return TextView()
    raise InputError(f"unknown view {view!r}: choose one of {', '.join(VIEWS)}, "
                     "or pass a callable that takes events")
