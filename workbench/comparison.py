"""The outcome of :func:`workbench.compare`: the runs by backend, their summary against
serial, and the check that results are the same (:func:`same_results`).

A model only: it holds finished runs and never starts one, so it imports neither the engine
nor the backends (the panel and the dashboard build Comparisons of the runs they show).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .records import Failed
from .views.format import failed_count, summary_markdown

if TYPE_CHECKING:
    from .result import Run

__all__ = ["Comparison", "Row", "SHORT_TASK", "same_results"]


def same_results(a: list[Any], b: list[Any]) -> bool | None:
    """Whether two result lists are equal item by item: ``True``, ``False``, or ``None`` when
    some pair cannot be compared (objects with neither ``__eq__`` nor a state to compare).

    NaN equals NaN here (a backend that returns the same NaN as serial returned the same
    thing); numpy arrays and pandas objects are compared by value, containers item by item,
    and objects without an ``__eq__`` of their own (a fitted scikit-learn model) by their
    attributes."""
    if len(a) != len(b):
        return False
    return _all(_same(x, y) for x, y in zip(a, b))


def _all(verdicts: Iterable[bool | None]) -> bool | None:
    """``False`` if any is False, else ``None`` if any is None, else ``True``."""
    unknown = False
    for verdict in verdicts:
        if verdict is False:
            return False
        unknown = unknown or verdict is None
    return None if unknown else True


def _same(x: Any, y: Any, depth: int = 0) -> bool | None:
    if x is y:
        return True
    if isinstance(x, Failed) or isinstance(y, Failed):
        return (isinstance(x, Failed) and isinstance(y, Failed) and x.status == y.status
                and getattr(x.error, "type", None) == getattr(y.error, "type", None))
    if _is_number(x) and _is_number(y):
        return bool(x == y or (x != x and y != y))  # NaN == NaN here
    if type(x) is not type(y):
        return False
    if depth > 20:  # a self-referencing structure: give up rather than recurse forever
        return None
    if isinstance(x, (list, tuple)):
        return len(x) == len(y) and _all(_same(i, j, depth + 1) for i, j in zip(x, y))
    if isinstance(x, dict):
        return x.keys() == y.keys() and _all(_same(x[k], y[k], depth + 1) for k in x)
    if hasattr(x, "__array__") and hasattr(x, "dtype") and hasattr(x, "shape"):
        return _same_array(x, y)
    equals = getattr(x, "equals", None)  # pandas: by value, NaN in the same place is equal
    if callable(equals) and type(x).__module__.startswith("pandas"):
        return bool(equals(y))
    if type(x).__eq__ is object.__eq__:  # no equality of its own: compare its state
        if hasattr(x, "__dict__"):
            return _same(vars(x), vars(y), depth + 1)
        return _same_pickle(x, y)
    try:
        equal = x == y
    except Exception:  # noqa: BLE001 - an __eq__ that fails
        return _same_pickle(x, y)
    return equal if isinstance(equal, bool) else _same_pickle(x, y)


def _is_number(x: Any) -> bool:
    import numbers

    return isinstance(x, numbers.Number) and not isinstance(x, bool)


def _same_array(x: Any, y: Any) -> bool | None:
    import numpy as np

    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    try:
        return bool(np.array_equal(x, y, equal_nan=True))
    except TypeError:  # strings, objects: NaN has no meaning there
        if x.dtype == object:
            return _all(_same(i, j, 1) for i, j in zip(x.ravel(), y.ravel()))
        return bool(np.array_equal(x, y))


def _same_pickle(x: Any, y: Any) -> bool | None:
    """Equal pickles mean equal state; different ones may still be equal: cannot tell."""
    import pickle

    try:
        return True if pickle.dumps(x) == pickle.dumps(y) else None
    except Exception:  # noqa: BLE001
        return None


@dataclass(frozen=True)
class Row:
    """One backend's line in :attr:`Comparison.summary`."""

    backend: str
    workers: int | None
    startup_time: float
    wall_time: float
    speedup: float | None  # serial wall time / this wall time
    efficiency: float | None  # speed-up per worker
    ok: int
    failed: int  # error or lost
    cancelled: int
    same_as_serial: bool | None  # None: no reference, or results that cannot be compared


#: Seconds: a task shorter than this on average is dominated by the cost of sending it.
SHORT_TASK = 1e-3


class Comparison:
    """The runs of :func:`workbench.compare`, by backend name (``comparison["dask"]`` is a
    Run). ``reference`` names the run the others are measured against (serial), if any."""

    def __init__(self, runs: dict[str, Run], reference: str | None):
        self.runs = runs
        self.reference = reference

    def __getitem__(self, backend: str) -> Run:
        return self.runs[backend]

    def __iter__(self):
        return iter(self.runs.values())

    @property
    def summary(self) -> list[Row]:
        ref = self.runs.get(self.reference) if self.reference else None
        rows = []
        for name, r in self.runs.items():
            speedup = ref.wall_time / r.wall_time if ref and r.wall_time > 0 else None
            c = r.counts
            rows.append(Row(
                backend=name, workers=r.workers, startup_time=r.startup_time,
                wall_time=r.wall_time, speedup=speedup,
                efficiency=speedup / r.workers if speedup and r.workers else None,
                ok=c["ok"], failed=failed_count(c), cancelled=c["cancelled"],
                same_as_serial=same_results(ref.results, r.results) if ref else None))
        return rows

    @property
    def all_same(self) -> bool:
        """Every backend returned exactly serial's results (``False`` also when some could
        not be compared: see :func:`same_results`)."""
        return all(row.same_as_serial is True for row in self.summary)

    def table(self) -> str:
        """The summary as a markdown table."""
        return summary_markdown(self)

    def hints(self) -> list[str]:
        """Plain-language notes on what limited the speed-up: tasks so short that sending
        them costs more than running them (with the chunk sizes that were chosen)."""
        hints = []
        for name, r in self.runs.items():
            if r.state == "failed" and not r.done:
                hints.append(f"{name}: its backend could not be started or reached, so none "
                             f"of its tasks ran (the warning says why).")
            if name == self.reference or not r.chunk_sizes:
                continue
            durations = r.durations()
            if not len(durations):
                continue
            mean = float(durations.mean())
            ref = self.runs.get(self.reference) if self.reference else None
            if ref is None or r.wall_time <= 0 or not r.workers:
                continue
            speedup = ref.wall_time / r.wall_time
            if mean < SHORT_TASK and speedup < 0.5 * r.workers:
                sizes = r.chunk_sizes
                hints.append(
                    f"{name}: tasks take {mean * 1e3:.2g} ms on average, about what sending "
                    f"them costs, so {r.workers} workers give {speedup:.2g}x; it sent "
                    f"{len(sizes)} chunks of {min(sizes)}-{max(sizes)} items. Give each task "
                    f"more work (several items per call), or stay serial.")
        return hints

    def plot(self) -> Any:
        """A matplotlib Figure: wall time (start-up apart) and speed-up per backend."""
        from .plots import plot_comparison

        return plot_comparison(self)

    def __repr__(self) -> str:
        return f"<Comparison of {', '.join(self.runs)}>\n{self.table()}"

    def _repr_markdown_(self) -> str:
        return self.table()
