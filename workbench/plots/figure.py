"""What every plot shares: a new matplotlib Figure (never pyplot's global state) that a
notebook shows, the status colours, and a figure as a PNG image for the panel."""

from __future__ import annotations

from typing import Any

STATUS_COLOURS = {"ok": "#4c9f70", "error": "#d1495b", "lost": "#8d5fd3",
                  "cancelled": "#9e9e9e"}


def new_figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    _show_figures_in_ipython()
    return Figure(figsize=(width, height), layout="constrained")


def _show_figures_in_ipython() -> None:
    """A Figure made without pyplot shows only ``<Figure size ...>`` in a notebook until
    ``%matplotlib inline`` runs; register the PNG formatter (what that magic does) once."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    from matplotlib.figure import Figure

    png = shell.display_formatter.formatters["image/png"]
    if Figure in png.type_printers:
        return

    def to_png(figure: Any) -> bytes:
        import io

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()

    png.for_type(Figure, to_png)


def png_image(figure: Any) -> Any:
    """The figure as an IPython PNG image (a Figure made without pyplot has no notebook
    formatter of its own): what the panel's figure tabs show."""
    import io

    from IPython.display import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return Image(data=buffer.getvalue(), format="png")
