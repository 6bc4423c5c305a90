"""What every target is gated on, and the small helpers the targets share: a workbench row
that crashed or whose results differ from the serial loop makes its target a miss, whatever
its time; a raw row that did so is named in the note and never chosen as a baseline."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .harness import Measurement

Results = dict[str, dict[str, Measurement]]


def get(results: Results, workload: str, variant: str) -> Measurement | None:
    return results.get(workload, {}).get(variant)


def median(results: Results, workload: str, variant: str) -> float | None:
    m = get(results, workload, variant)
    return m.median if m is not None else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def check(value: float | None, ok: Callable[[float], bool]) -> bool | None:
    return None if value is None else bool(ok(value))


def fault(m: Measurement | None) -> str | None:
    """Why a workbench row is a miss whatever its time: ``crashed`` or ``wrong results``."""
    if m is None:
        return None
    if m.note.startswith("failed"):
        return f"crashed ({m.note.removeprefix('failed: ')})"
    if m.same_results is False:
        return "wrong results"
    return None


def fault_of(found: dict[str, Any] | None) -> str | None:
    """:func:`fault` for a dict measured apart (start-up, memory)."""
    if not found:
        return None
    if "crashed" in found:
        return f"crashed ({found['crashed']})"
    if found.get("same_results") is False:
        return "wrong results"
    return None


def faults(ms: Iterable[Measurement | None]) -> str | None:
    """The first workbench fault among ``ms``, with the row's name."""
    for m in ms:
        why = fault(m)
        if why:
            return f"{m.variant}: {why}"
    return None


def raw_flags(results: Results, workload: str, variants: Iterable[str],
              left_out: bool = False) -> str:
    """Raw rows among ``variants`` that crashed or gave wrong results (a note, not a miss);
    ``left_out``: such rows were left out of the best (see :func:`best`)."""
    flags = []
    for v in variants:
        m = get(results, workload, v)
        why = fault(m) if m is not None and m.kind == "raw" else None
        if why:
            flags.append(f"raw {v}: {why}" + (", left out" if left_out else ""))
    return "; ".join(flags)


def best(results: Results, workload: str,
         variants: Iterable[str]) -> tuple[str | None, float | None]:
    """The fastest of ``variants`` with a time and results that are not wrong."""
    times = {}
    for v in variants:
        m = get(results, workload, v)
        if m is not None and m.median and m.same_results is not False:
            times[v] = m.median
    if not times:
        return None, None
    name = min(times, key=times.get)
    return name, times[name]


def why_missing(results: Results, workload: str, *variants: str) -> str:
    notes = []
    for v in variants:
        m = get(results, workload, v)
        if m is None:
            notes.append(f"{v}: not run")
        elif m.median is None:
            notes.append(f"{v}: {m.note or 'no time'}")
    return "; ".join(notes)


def join(*notes: str | None) -> str:
    return "; ".join(n for n in notes if n)
