"""Plots of runs, drawn with matplotlib on a new Figure each (never pyplot's global state).

Each function takes plain data (records, samples, a Comparison) and returns the Figure, which
a notebook displays and a script can ``savefig``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

STATUS_COLOURS = {"ok": "#4c9f70", "error": "#d1495b", "lost": "#8d5fd3",
                  "cancelled": "#9e9e9e"}


def _figure(width: float, height: float) -> Any:
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


def plot_timeline(records: Iterable[Any], title: str | None = None) -> Any:
    """One bar per task that ran, on a row per worker, coloured by status (the bars of a row
    are one ``BrokenBarHCollection``-like collection in ``ax.collections``).

    Parameters
    ----------
    records : :class:`~workbench.TaskRecord` objects (``run.tasks``).
    """
    from matplotlib.patches import Patch

    ran = [r for r in records if r.start is not None and r.end is not None]
    workers = list(dict.fromkeys(r.worker for r in ran))
    fig = _figure(8, 1.2 + 0.35 * max(len(workers), 1))
    ax = fig.add_subplot()
    if not ran:
        ax.text(0.5, 0.5, "no tasks ran", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    origin = min(r.start for r in ran)
    for y, worker in enumerate(workers):  # one collection per worker: fast for 100,000 tasks
        mine = [r for r in ran if r.worker == worker]
        ax.broken_barh([(r.start - origin, max(r.end - r.start, 1e-6)) for r in mine],
                       (y - 0.35, 0.7), facecolors=[STATUS_COLOURS.get(r.status, "#333333")
                                                    for r in mine], edgecolor="none")
    ax.set_yticks(range(len(workers)), labels=workers)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the first task started")
    present = [s for s in STATUS_COLOURS if any(r.status == s for r in ran)]
    ax.legend(handles=[Patch(color=STATUS_COLOURS[s], label=s) for s in present],
              loc="upper right", fontsize="small")
    ax.set_title(title or f"{len(ran)} tasks on {len(workers)} workers")
    return fig


def plot_resources(samples: Iterable[Any], labels: dict[int, str] | None = None,
                   title: str | None = None) -> Any:
    """CPU % and memory (RSS, MiB) of each sampled process over time: one line per process
    on each of two stacked axes."""
    from .sampler import usage_by_pid

    samples = list(samples)
    fig = _figure(8, 4.5)
    if not samples:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no resource samples", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    cpu_ax, mem_ax = fig.subplots(2, 1, sharex=True)
    origin = min(s.time for s in samples)
    labels = labels or {}
    for pid, series in usage_by_pid(samples).items():
        t = [s.time - origin for s in series]
        label = labels.get(pid, f"pid {pid}")
        cpu_ax.plot(t, [s.cpu for s in series], label=label)
        mem_ax.plot(t, [s.rss / 2**20 for s in series], label=label)
    cpu_ax.set_ylabel("CPU %")
    mem_ax.set_ylabel("RSS MiB")
    mem_ax.set_xlabel("seconds")
    cpu_ax.legend(loc="upper right", fontsize="small")
    cpu_ax.set_title(title or "CPU and memory per worker process")
    return fig


def plot_comparison(comparison: Any, title: str | None = None) -> Any:
    """Wall time per backend (start-up stacked on top, lighter) and speed-up vs serial."""
    rows = comparison.summary
    names = [r.backend for r in rows]
    fig = _figure(9, 3.5)
    wall_ax, speed_ax = fig.subplots(1, 2)
    x = range(len(rows))
    wall_ax.bar(x, [r.wall_time for r in rows], color="#30638e", label="run")
    wall_ax.bar(x, [r.startup_time for r in rows], bottom=[r.wall_time for r in rows],
                color="#9ec1dd", label="start-up")
    wall_ax.set_xticks(list(x), labels=names)
    wall_ax.set_ylabel("seconds")
    wall_ax.set_title("wall time")
    wall_ax.legend(fontsize="small")
    speed_ax.bar(x, [r.speedup or 0 for r in rows], color="#4c9f70")
    speed_ax.axhline(1.0, linestyle="--", color="#555555", linewidth=1)
    best = max(rows, key=lambda r: r.speedup or 0, default=None)
    if best is not None and best.workers:
        speed_ax.axhline(best.workers, linestyle="--", color="#d1495b", linewidth=1,
                         label=f"ideal ({best.workers} workers)")
        speed_ax.legend(fontsize="small")
    speed_ax.set_xticks(list(x), labels=names)
    speed_ax.set_ylabel("speed-up vs serial (×)")
    speed_ax.set_title("speed-up")
    if title:
        fig.suptitle(title)
    return fig
