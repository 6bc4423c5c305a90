"""``compare``: the same items through several backends in turn, start-up kept apart from run
time, and a check that every backend's results equal serial's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from . import backends as _backends
from .engine import run as run_one
from .errors import InputError
from .plan import materialize
from .records import Failed
from .run import Run


def same_results(a: list[Any], b: list[Any]) -> bool:
    """Whether two result lists are equal item by item (numpy arrays compared by value)."""
    return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, Failed) or isinstance(y, Failed):
        return (isinstance(x, Failed) and isinstance(y, Failed) and x.status == y.status
                and getattr(x.error, "type", None) == getattr(y.error, "type", None))
    try:
        equal = x == y
        if isinstance(equal, bool):
            return equal
        import numpy as np

        return bool(np.shape(x) == np.shape(y) and np.all(equal))
    except Exception:
        import pickle

        try:
            return pickle.dumps(x) == pickle.dumps(y)
        except Exception:
            return False


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
    same_as_serial: bool | None


#: Seconds: a task shorter than this on average is dominated by the cost of sending it.
SHORT_TASK = 1e-3


class Comparison:
    """The runs of :func:`compare`, by backend name (``comparison["dask"]`` is a Run)."""

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
                ok=c["ok"], failed=c["error"] + c["lost"], cancelled=c["cancelled"],
                same_as_serial=same_results(ref.results, r.results) if ref else None))
        return rows

    @property
    def all_same(self) -> bool:
        """Every backend returned exactly serial's results."""
        return all(row.same_as_serial is not False for row in self.summary)

    def table(self) -> str:
        """The summary as a markdown table."""
        head = ("| backend | workers | start-up s | wall s | speed-up | efficiency | ok | "
                "failed | cancelled | same as serial |")
        lines = [head, "|" + "---|" * 10]
        for row in self.summary:
            same = {True: "yes", False: "NO", None: "-"}[row.same_as_serial]
            lines.append(
                f"| {row.backend} | {row.workers} | {row.startup_time:.2f} | "
                f"{row.wall_time:.3f} | {_x(row.speedup)} | {_pct(row.efficiency)} | "
                f"{row.ok} | {row.failed} | {row.cancelled} | {same} |")
        return "\n".join(lines + [f"\n{hint}" for hint in self.hints()])

    def hints(self) -> list[str]:
        """Plain-language notes on what limited the speed-up: tasks so short that sending
        them costs more than running them (with the chunk sizes that were chosen)."""
        hints = []
        for name, r in self.runs.items():
            if name == self.reference or not r.chunk_sizes:
                continue
            durations = [t.duration for t in r.tasks if t.duration is not None]
            if not durations:
                continue
            mean = sum(durations) / len(durations)
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


def _x(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "-"


def _pct(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "-"


def compare(fn: Callable[..., Any], items: Iterable[Any],
            backends: Sequence[str] | None = None, **settings: Any) -> Comparison:
    """Run ``fn`` over ``items`` on each backend in turn and compare them with serial.

    ``backends`` defaults to every installed backend. ``serial`` runs first (it is added if
    missing): it is the reference for speed-up and for the results check. Other keyword
    arguments are those of :func:`workbench.run`.

    Examples
    --------
    >>> cmp = workbench.compare(calc_chunk, range(20), backends=["serial", "process_map"])
    >>> cmp.all_same
    True
    """
    names = list(backends) if backends is not None else _backends.installed()
    if isinstance(backends, str):
        raise InputError(f"backends must be a list of names, e.g. [{backends!r}]")
    if not names:
        raise InputError("backends is empty: name at least one, e.g. ['serial', 'process_map']")
    for name in names:
        _backends.backend_class(name)  # an unknown or missing backend fails before any run
    if len(set(names)) != len(names):
        raise InputError(f"backends lists a name twice: {names}")
    ordered = ["serial"] + [n for n in names if n != "serial"]
    data = materialize(items)  # a generator must feed every backend the same items
    runs = {}
    for name in ordered:
        runs[name] = run_one(fn, data, backend=name, **settings)
        if runs[name].state == "cancelled":  # Stop means stop, not "next backend"
            break
    return Comparison(runs, "serial")

