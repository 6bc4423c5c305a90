"""Records that arrived together, on their way into a :class:`~workbench.store.Store`: what
one look at the backend brought, the quiet ones still the columns the workers sent
(:class:`~workbench.contract.QuietColumns`), so a million tiny tasks never become a million
Python objects on the way in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from .records import OK, TaskRecord, make_record

if TYPE_CHECKING:
    import numpy as np


class Place(NamedTuple):
    """Where and when a report's records ran and travelled (shared by its quiet records)."""

    submitted: float | None
    received: float | None
    worker: str | None
    pid: int | None
    host: str | None


class QuietPart(NamedTuple):
    """Quiet records of one report, decoded: every one ``ok``, with nothing written."""

    indices: np.ndarray  # int64
    attempts: np.ndarray  # int64
    starts: np.ndarray  # float64
    ends: np.ndarray  # float64
    values: list[Any]
    place: Place

    def record(self, k: int) -> TaskRecord:
        p = self.place
        return make_record(int(self.indices[k]), OK, self.values[k], None, (), (), (),
                           float(self.starts[k]), float(self.ends[k]), p.submitted,
                           p.received, p.worker, p.pid, p.host, int(self.attempts[k]))


class Batch:
    """Records that arrived together: ``loud`` ones as objects, ``quiet`` ones as columns.
    Iterating makes every record an object (for the few who want them one by one)."""

    __slots__ = ("loud", "quiet")

    def __init__(self, loud: list[TaskRecord] | None = None,
                 quiet: list[QuietPart] | None = None):
        self.loud = loud if loud is not None else []
        self.quiet = quiet if quiet is not None else []

    def extend(self, other: Batch | Iterable[TaskRecord]) -> None:
        if isinstance(other, Batch):
            self.loud += other.loud
            self.quiet += other.quiet
        else:
            self.loud += other

    def __len__(self) -> int:
        return len(self.loud) + sum(len(q.values) for q in self.quiet)

    def __bool__(self) -> bool:
        return bool(self.loud) or any(q.values for q in self.quiet)

    def keys(self) -> set[tuple[int, int]]:
        """``(index, attempt)`` of every record."""
        keys = {(r.index, r.attempt) for r in self.loud}
        for q in self.quiet:
            keys.update(zip(q.indices.tolist(), q.attempts.tolist()))
        return keys

    def __iter__(self) -> Iterator[TaskRecord]:
        yield from self.loud
        for q in self.quiet:
            for k in range(len(q.values)):
                yield q.record(k)


def as_batch(records: Batch | Iterable[TaskRecord]) -> Batch:
    return records if isinstance(records, Batch) else Batch(list(records))
