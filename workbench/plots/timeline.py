"""The timeline: a bar per task on a row per worker, coloured by status; time bins (the
worst status of each kept visible) when there are more bars than pixels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .figure import STATUS_COLOURS, new_figure

#: Worst first: in an aggregated timeline a time bin takes the colour of the worst status of
#: its tasks, so one failure among a million still shows. Other statuses rank just above "ok".
SEVERITY = {"ok": 0, "cancelled": 2, "lost": 3, "error": 4}
_OTHER_SEVERITY = 1
_OTHER_COLOUR = "#333333"

#: Up to this many bars on every worker row (and this many in all), each task is its own bar;
#: past it a row is drawn as time bins. Measured: a bar costs ~30 µs to draw and render (a
#: 12,000-bar timeline ~0.4 s), and past ~2,000 bars a row has more bars than pixels.
MAX_BARS_PER_ROW = 2_000
MAX_BARS = 12_000
#: Time bins per worker row when aggregated: half a pixel to a pixel each at the panel's (dpi
#: 80) and notebooks' (dpi 100) sizes; fewer (not under MIN_TIME_BINS) when many rows would
#: make more than MAX_BARS bins in all.
TIME_BINS = 1_200
MIN_TIME_BINS = 200


def plot_timeline(records: Iterable[Any], title: str | None = None) -> Any:
    """One bar per task that ran, on a row per worker, coloured by status; time bins instead
    when there are more bars than pixels (see :func:`plot_timeline_arrays`).

    Parameters
    ----------
    records : :class:`~workbench.TaskRecord` objects (``run.tasks``).
    """
    from operator import attrgetter

    import numpy as np

    records = list(records)
    start = np.array([r.start for r in records], dtype=float)  # None -> NaN: did not run
    end = np.array([r.end for r in records], dtype=float)
    # worker and status: read as they are numbered, with no list in between
    return plot_timeline_arrays(start, end, map(attrgetter("worker"), records),
                                map(attrgetter("status"), records), title=title)


def plot_timeline_arrays(start: Any, end: Any, worker: Any, status: Any,
                         title: str | None = None) -> Any:
    """The timeline of tasks given as columns: a row per worker, coloured by status, drawn and
    rendered in well under a second for any number of tasks.

    Each worker row is one collection in ``ax.collections``. While every row has at most
    :data:`MAX_BARS_PER_ROW` tasks (and all rows :data:`MAX_BARS`), each task is one bar.
    Past that, bars would be narrower than a pixel and cost more to draw than they show, so
    each row is cut into time bins (:data:`TIME_BINS`, a pixel or less each): a bin where tasks
    ran is shaded by the share of its time they were busy, in the colour of its worst status
    (:data:`SEVERITY`). A bin with a task that did not end ``ok`` is opaque and outlined, so
    it keeps a visible width: one failed task among a million shows as a red mark. The title
    then says how many bins.

    Parameters
    ----------
    start, end : ``time.time()`` of each task's start and end; NaN: it did not run (skipped).
    worker : each task's worker label (``None``: ``"?"``); a row per worker that ran a task,
        in order of appearance.
    status : each task's status: ``"ok"``, ``"error"``, ``"lost"``, ``"cancelled"``.

    ``worker`` and ``status`` may be any iterables (read once), ``start`` and ``end`` any
    sequences of numbers."""
    import numpy as np

    start, end = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    ran = np.isfinite(start) & np.isfinite(end)
    if not ran.any():
        fig = new_figure(8, 1.55)
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no tasks ran", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    row, workers = _factorize(worker)
    status_code, statuses = _factorize(status)
    if not ran.all():
        start, end, row, status_code = start[ran], end[ran], row[ran], status_code[ran]
    row, workers = _rows_that_ran(row, workers)
    origin = start.min()
    tasks = _Tasks(start - origin, np.maximum(end - start, 0.0), row, status_code, statuses)
    n, w = len(row), len(workers)
    fig = new_figure(8, 1.2 + 0.35 * w)
    ax = fig.add_subplot()
    if np.bincount(row).max() <= MAX_BARS_PER_ROW and n <= MAX_BARS:
        _draw_bars(ax, tasks, w)
        heading, legend_title = title or f"{n} tasks on {w} workers", None
    else:
        bins = max(MIN_TIME_BINS, min(TIME_BINS, MAX_BARS // w))
        _draw_bins(ax, tasks, w, bins)
        note = f"{n:,} tasks on {w} workers, drawn in {bins:,} time bins"
        heading = f"{title}\n{note}" if title else note
        legend_title = "shade: share of time busy"
    ax.set_yticks(range(w), labels=workers)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the first task started")
    present = statuses[np.flatnonzero(np.bincount(tasks.status_code))]
    _status_legend(ax, set(present), legend_title)
    ax.set_title(heading)
    return fig


class _Tasks:
    """The tasks that ran, as columns: offset from the first start (s), duration (s), row
    (worker index) and status code; and per status code its RGBA colour and severity."""

    def __init__(self, offset: Any, duration: Any, row: Any, status_code: Any,
                 statuses: Any):
        import numpy as np

        self.offset, self.duration, self.row = offset, duration, row
        self.status_code = status_code
        self.status_rgba = _rgba([STATUS_COLOURS.get(s, _OTHER_COLOUR) for s in statuses])
        self.status_severity = np.array([SEVERITY.get(s, _OTHER_SEVERITY) for s in statuses],
                                        dtype=np.int64)


def _factorize(values: Any) -> tuple[Any, Any]:
    """``(codes, labels)``: each value's index into ``labels`` (an object array of strings in
    order of first appearance, ``None`` as ``"?"``).

    One pass of ``map`` over the values, each looked up in a dict of the distinct ones (no
    Python code per value): 0.1 s for a million strings, where sorting them (``np.unique``)
    takes 0.25-0.75 s.
    """
    import numpy as np

    if isinstance(values, np.ndarray):
        values = values.tolist()
    distinct = _Codes()
    codes = np.fromiter(map(distinct.__getitem__, values), dtype=np.int64)
    return _merge_equal_labels(codes, [_label(v) for v in distinct])


class _Codes(dict):
    """A number for each key, counting from 0 in the order keys are first looked up."""

    def __missing__(self, key: Any) -> int:
        self[key] = code = len(self)
        return code


def _label(value: Any) -> str:
    return "?" if value is None else str(value)


def _merge_equal_labels(codes: Any, labels: list[str]) -> tuple[Any, Any]:
    """Codes and labels with equal labels merged (``None`` and ``"?"``, ``1`` and ``"1"``)."""
    import numpy as np

    unique = list(dict.fromkeys(labels))
    if len(unique) == len(labels):
        return codes, np.array(labels, dtype=object)
    where = {label: i for i, label in enumerate(unique)}
    return (np.array([where[label] for label in labels], dtype=np.int64)[codes],
            np.array(unique, dtype=object))


def _rows_that_ran(row: Any, workers: Any) -> tuple[Any, Any]:
    """A row only for the workers of tasks that ran, in the order of their first such task
    (a worker whose tasks were all cancelled before they started gets none)."""
    import numpy as np

    first = np.full(len(workers), len(row))
    np.minimum.at(first, row, np.arange(len(row)))
    used = np.flatnonzero(first < len(row))
    used = used[np.argsort(first[used])]
    renumber = np.zeros(len(workers), dtype=np.int64)
    renumber[used] = np.arange(len(used))
    return renumber[row], workers[used]


def _rgba(colours: list[str]) -> Any:
    import numpy as np
    from matplotlib.colors import to_rgba_array

    return to_rgba_array(colours) if colours else np.zeros((0, 4))


def _status_legend(ax: Any, present: set[str], title: str | None) -> None:
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=STATUS_COLOURS[s], label=s)
                       for s in STATUS_COLOURS if s in present],
              loc="upper right", fontsize="small", title=title, title_fontsize="small")


def _draw_bars(ax: Any, tasks: _Tasks, rows: int) -> None:
    """One bar per task, one collection per worker row (as it always looked)."""
    import numpy as np

    order = np.argsort(tasks.row, kind="stable")
    bounds = np.cumsum(np.bincount(tasks.row, minlength=rows))[:-1]
    for y, mine in enumerate(np.split(order, bounds)):
        ax.broken_barh(np.column_stack([tasks.offset[mine],
                                        np.maximum(tasks.duration[mine], 1e-6)]),
                       (y - 0.35, 0.7), facecolors=tasks.status_rgba[tasks.status_code[mine]],
                       edgecolor="none")


def _draw_bins(ax: Any, tasks: _Tasks, rows: int, bins: int) -> None:
    """Each worker row as ``bins`` time bins, runs of bins that look alike merged into one
    bar: shaded by the share of time busy (a quarter at least, so any work shows), in the
    colour of the bin's worst status; bins with a task that did not end ok are opaque,
    outlined so they keep a pixel's width whatever the bin's, and drawn last (on top)."""
    import numpy as np

    width = (float((tasks.offset + tasks.duration).max()) or 1.0) / bins
    first = np.minimum((tasks.offset // width).astype(np.int64), bins - 1)
    last = np.clip(((tasks.offset + tasks.duration) // width).astype(np.int64), first,
                   bins - 1)
    base = tasks.row.astype(np.int64) * bins  # bin b of row y is flat bin y * bins + b
    busy = _busy_share(tasks, first, last, base, width, rows * bins)
    worst = _worst_severity(tasks.status_severity[tasks.status_code], base + first,
                            base + last, rows * bins)
    shade = np.where(worst > 0, 4, np.clip(np.ceil(busy * 4), 1, 4)).astype(np.int64)
    look = np.where(worst >= 0, (worst + 1) * 5 + shade, 0)  # 0: no task in the bin
    new_run = np.diff(look, prepend=-1) != 0
    new_run[::bins] = True  # a run never crosses rows
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.append(starts, look.size))
    drawn = look[starts] > 0
    starts, lengths = starts[drawn], lengths[drawn]
    colours = _severity_rgba()
    for y, mine in enumerate(np.split(np.arange(len(starts)),
                                      np.searchsorted(starts, np.arange(1, rows) * bins))):
        mine = mine[np.argsort(worst[starts[mine]] > 0, kind="stable")]  # failures on top
        s, failed = starts[mine], worst[starts[mine]] > 0
        faces = colours[worst[s]]
        faces[:, 3] = shade[s] / 4
        edges = faces.copy()
        edges[~failed, 3] = 0.0
        ax.broken_barh(np.column_stack([(s - y * bins) * width, lengths[mine] * width]),
                       (y - 0.35, 0.7), facecolors=faces, edgecolors=edges,
                       linewidths=np.where(failed, 1.0, 0.0))


def _busy_share(tasks: _Tasks, first: Any, last: Any, base: Any, width: float,
                size: int) -> Any:
    """Per flat bin, the share of its time tasks ran (0-1; overlapping tasks add up, capped
    at 1). A task within one bin adds its duration there; one over several adds its part to
    its first and last bins and a whole bin to each in between."""
    import numpy as np

    end = tasks.offset + tasks.duration
    within = first == last
    over = ~within
    busy = np.bincount(base[within] + first[within], weights=tasks.duration[within],
                       minlength=size)
    busy += np.bincount(base[over] + first[over],
                        weights=(first[over] + 1) * width - tasks.offset[over], minlength=size)
    busy += np.bincount(base[over] + last[over], weights=end[over] - last[over] * width,
                        minlength=size)
    between = (np.bincount(base[over] + first[over] + 1, minlength=size + 1)
               - np.bincount(base[over] + last[over], minlength=size + 1))
    busy += np.cumsum(between)[:size] * width
    return np.clip(busy / width, 0.0, 1.0)


def _worst_severity(severity: Any, lo: Any, hi: Any, size: int) -> Any:
    """Per flat bin, the highest severity of the tasks over it (task i covers bins
    ``lo[i]..hi[i]``), -1 where none is."""
    import numpy as np

    worst = np.full(size, -1, dtype=np.int64)
    for level in np.flatnonzero(np.bincount(severity)):  # ascending: the worst is set last
        mine = severity == level
        cover = np.cumsum(np.bincount(lo[mine], minlength=size + 1)
                          - np.bincount(hi[mine] + 1, minlength=size + 1))[:size]
        worst[cover > 0] = level
    return worst


def _severity_rgba() -> Any:
    """The colour of each severity level (its index), as an RGBA array."""
    names = {level: name for name, level in SEVERITY.items()}
    return _rgba([STATUS_COLOURS.get(names.get(level, ""), _OTHER_COLOUR)
                  for level in range(max(SEVERITY.values()) + 1)])
