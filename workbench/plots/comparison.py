"""A comparison of backends: wall time (start-up stacked) and speed-up vs serial."""

from __future__ import annotations

from typing import Any

from .figure import new_figure


def plot_comparison(comparison: Any, title: str | None = None) -> Any:
    """Wall time per backend (start-up stacked on top, lighter) and speed-up vs serial."""
    rows = comparison.summary
    names = [r.backend for r in rows]
    fig = new_figure(9, 3.5)
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
