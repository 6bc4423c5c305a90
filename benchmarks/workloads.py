"""The workloads: what is mapped, over which items, at full and ``--quick`` sizes.

Every task function comes from :mod:`workbench.examples`, so Dask and Ray workers import it by
name and tests and tutorials can reuse it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench import examples

#: Sizes per mode. ``--quick`` keeps every workload but makes it smaller.
SIZES = {
    "full": dict(tiny=10_000, pi_chunks=20, pi_n=2_000_000, skew_unit=1.0, sleepy=40,
                 sleep=0.05, shared_mb=100, shared_tasks=10, quiet=100_000, repeats=5),
    "quick": dict(tiny=2_000, pi_chunks=20, pi_n=400_000, skew_unit=0.2, sleepy=40,
                  sleep=0.01, shared_mb=20, shared_tasks=10, quiet=20_000, repeats=3),
}


@dataclass
class Workload:
    """``fn`` over ``items`` (argument tuples when ``star``). Workbench may map other items
    with extra options (``wb_items``, ``wb_star``, ``wb_options``), e.g. ``shared=``.
    ``fresh(repetition)``, if given, runs untimed before each repetition (every variant of
    that repetition then sees the same data)."""

    name: str
    title: str
    fn: Callable[..., Any]
    items: list[Any]
    star: bool = False
    wb_items: list[Any] | None = None
    wb_star: bool | None = None
    wb_options: dict[str, Any] = field(default_factory=dict)
    fresh: Callable[[int], None] | None = None

    @property
    def shared(self) -> dict[str, Any] | None:
        """The ``shared=`` objects workbench gets (raw best-practice rows send them too)."""
        return self.wb_options.get("shared")

    def columns(self) -> list[tuple[Any, ...]]:
        """The items as argument columns, for ``map(fn, *columns)``-style APIs."""
        if not self.star:
            return [self.items]
        return [list(col) for col in zip(*self.items)]


def build(mode: str) -> dict[str, Workload]:
    s = SIZES[mode]
    pi_items = [(s["pi_n"], i) for i in range(s["pi_chunks"])]
    unit = s["skew_unit"]
    workloads = [
        Workload("tiny", f"tiny: x + 1 over {s['tiny']:,} items", examples.tiny,
                 list(range(s["tiny"]))),
        Workload("pi", f"numpy pi: {s['pi_chunks']} x calc_chunk(n={s['pi_n']:,}, i)",
                 examples.calc_chunk, pi_items, star=True),
        Workload("skewed", f"skewed: 40 x burn, every 10th 10x heavier (~{20 * unit:g} ms base)",
                 examples.burn, examples.skewed_items(unit=unit)),
        Workload("skewed_last", "skewed, the heavy ones last",
                 examples.burn, examples.skewed_items(unit=unit, heavy_last=True)),
        Workload("sleepy", f"sleepy: {s['sleepy']} x time.sleep({s['sleep']})",
                 examples.sleepy, [s["sleep"]] * s["sleepy"]),
    ]
    return {w.name: w for w in workloads}


def shared_workload(mode: str) -> Workload:
    """A ~100 MB array (20 MB with ``--quick``) read by each of 10 tasks: the per-task rows
    pass it as an argument of every task; workbench passes it once as ``shared={"arr": arr}``
    and the best-practice raw rows send it once per call (see :mod:`benchmarks.raw`).

    Before each repetition one element of the array changes in place (``fresh``): workbench
    keys a shared object by its pickle and the CRC-32 of its buffers, so every timed
    workbench call sends the array again (its first send), as the raw rows do; a warm worker
    holding an earlier version never makes a timed call a cache hit."""
    s = SIZES[mode]
    arr = examples.shared_array(s["shared_mb"])
    n = s["shared_tasks"]

    def fresh(repetition: int) -> None:
        arr[0] = 1.0 + repetition  # never seen before: the array's contents are in [0, 1)

    return Workload("shared", f"large shared object: {s['shared_mb']} MB array x {n} tasks",
                    examples.use_shared, [(i, arr) for i in range(n)], star=True,
                    wb_items=list(range(n)), wb_star=False, wb_options={"shared": {"arr": arr}},
                    fresh=fresh)
