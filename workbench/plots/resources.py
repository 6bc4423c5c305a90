"""CPU and memory of each worker process over time, from time bins of the samples when
there are more samples than pixels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .figure import new_figure

#: A process with more samples than this is drawn from time bins of its samples (this many at
#: most): a line through each bin's mean and a band from its lowest to its highest value, so
#: spikes stay. Measured: a line costs ~40 ms to render per 1,000 noisy points; 8 processes
#: with 200,000 samples in all then draw and render in ~0.5 s.
LINE_POINTS = 500


def plot_resources(samples: Iterable[Any], labels: dict[int, str] | None = None,
                   title: str | None = None) -> Any:
    """CPU % and memory (RSS, MiB) of each sampled process over time: one line per process
    on each of two stacked axes (through each time bin's mean, with a band from its lowest
    to its highest value, when the process has more than :data:`LINE_POINTS` samples).
    """
    samples = list(samples)
    fig = new_figure(8, 4.5)
    if not samples:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no resource samples", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    cpu_ax, mem_ax = fig.subplots(2, 1, sharex=True)
    time, pid, cpu, rss = _sample_columns(samples)
    time = time - time.min()
    labels = labels or {}
    for mine in _by_process(pid, time):
        label = labels.get(int(pid[mine[0]]), f"pid {pid[mine[0]]}")
        _plot_usage(cpu_ax, time[mine], cpu[mine], label)
        _plot_usage(mem_ax, time[mine], rss[mine] / 2**20, label)
    cpu_ax.set_ylabel("CPU %")
    mem_ax.set_ylabel("RSS MiB")
    mem_ax.set_xlabel("seconds")
    cpu_ax.legend(loc="upper right", fontsize="small")
    cpu_ax.set_title(title or "CPU and memory per worker process")
    return fig


def _sample_columns(samples: list[Any]) -> tuple[Any, Any, Any, Any]:
    """Time, pid, CPU % and RSS of :class:`~workbench.sampler.Sample` objects, as arrays."""
    from operator import attrgetter

    import numpy as np

    def column(name: str, dtype: Any) -> Any:
        return np.fromiter(map(attrgetter(name), samples), dtype=dtype, count=len(samples))

    return (column("time", float), column("pid", np.int64), column("cpu", float),
            column("rss", float))


def _by_process(pid: Any, time: Any) -> list[Any]:
    """Indices of each process's samples in time order, processes in order of first sample
    (as the sampler lists them)."""
    import numpy as np

    pids, first, code = np.unique(pid, return_index=True, return_inverse=True)
    order = np.lexsort((time, code))
    groups = np.split(order, np.cumsum(np.bincount(code, minlength=len(pids)))[:-1])
    return [groups[i] for i in np.argsort(first)]


def _plot_usage(ax: Any, t: Any, v: Any, label: str) -> None:
    """One process's readings ``v`` at times ``t`` (ascending): the line of every sample, or
    past :data:`LINE_POINTS` samples the binned line and band of :func:`_bins_of_samples`."""
    if len(t) <= LINE_POINTS or t[-1] <= t[0]:
        ax.plot(t, v, label=label)
        return
    at, low, mean, high = _bins_of_samples(t, v, LINE_POINTS)
    (line,) = ax.plot(at, mean, label=label)
    ax.fill_between(at, low, high, color=line.get_color(), alpha=0.25, linewidth=0)


def _bins_of_samples(t: Any, v: Any, bins: int) -> tuple[Any, Any, Any, Any]:
    """The samples ``(t, v)`` (``t`` ascending, not all equal) in ``bins`` equal time bins:
    per bin that has samples, its first sample's time and the lowest, mean and highest
    value."""
    import numpy as np

    b = np.minimum(((t - t[0]) * (bins / (t[-1] - t[0]))).astype(np.int64), bins - 1)
    starts = np.flatnonzero(np.diff(b, prepend=-1))  # each bin's first sample
    counts = np.diff(np.append(starts, len(t)))
    return (t[starts], np.minimum.reduceat(v, starts), np.add.reduceat(v, starts) / counts,
            np.maximum.reduceat(v, starts))
