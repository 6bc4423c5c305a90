"""Where a :class:`~workbench.result.Run` keeps its records: a quiet record (the task returned
a value and wrote nothing) needs only numbers, so those live in columns (numpy arrays and one
list of values, about 40 bytes a task besides the value; numpy is imported by the first run,
not by ``import workbench``); every other record is a :class:`~workbench.records.TaskRecord`
object. A record read back from the columns is made
when asked for (:meth:`Store.get`), equal to the one a worker's tuple would have made.

Records arrive as a :class:`~workbench.batch.Batch`, the quiet ones still columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .batch import Batch, Place, QuietPart
from .records import OK, STATUSES, Failed, TaskRecord, make_record

if TYPE_CHECKING:
    import numpy as np


class Store:
    """The records of a run's tasks by index: quiet ones in columns, others as objects.
    Counts per status are kept as records come and go."""

    def __init__(self, indices: list[int]):
        import numpy as np

        self._slot: dict[int, int] | None = None  # index -> row; None: the row is the index
        self._rows = 0
        self.start = np.empty(0)
        self.end = np.empty(0)
        self.attempt = np.empty(0, np.int64)
        self.place = np.empty(0, np.int32)  # row -> its Place, -1: no quiet record there
        self.values: list[Any] = []
        self.places: list[Place] = []
        self.loud: dict[int, TaskRecord] = {}
        self.counts = dict.fromkeys(STATUSES, 0)
        self.quiet_count = 0
        self.grow(indices)

    @classmethod
    def of(cls, indices: list[int], records: Any) -> Store:
        """A store holding ``records`` (TaskRecord objects)."""
        store = cls(indices)
        store.add(Batch(list(records)))
        return store

    # ----------------------------------------------------------------- rows
    def grow(self, indices: list[int]) -> None:
        """Room for more items (a run fed while it goes)."""
        import numpy as np

        first = self._rows
        if self._slot is None and indices and not (  # (the ends first: a cheap "no")
                indices[0] == first and indices[-1] == first + len(indices) - 1
                and indices == list(range(first, first + len(indices)))):
            self._slot = {i: i for i in range(self._rows)}
        if self._slot is not None:
            for i in indices:
                self._slot.setdefault(i, len(self._slot))
            rows = len(self._slot)
        else:
            rows = self._rows + len(indices)
        more = rows - self._rows
        if more <= 0:
            return
        self.start = np.concatenate([self.start, np.full(more, np.nan)])
        self.end = np.concatenate([self.end, np.full(more, np.nan)])
        self.attempt = np.concatenate([self.attempt, np.zeros(more, np.int64)])
        self.place = np.concatenate([self.place, np.full(more, -1, np.int32)])
        self.values.extend([None] * more)
        self._rows = rows

    def _row(self, index: int) -> int | None:
        if self._slot is None:
            return index if 0 <= index < self._rows else None
        return self._slot.get(index)

    def _rows_of(self, indices: np.ndarray) -> np.ndarray:
        import numpy as np

        if self._slot is None:
            return indices
        slot = self._slot
        return np.fromiter((slot[i] for i in indices.tolist()), np.int64, len(indices))

    # ----------------------------------------------------------------- reading
    def __len__(self) -> int:
        return self.quiet_count + len(self.loud)

    def __contains__(self, index: object) -> bool:
        import numpy as np

        if index in self.loud:
            return True
        row = self._row(index) if isinstance(index, (int, np.integer)) else None
        return row is not None and self.place[row] >= 0

    def get(self, index: int) -> TaskRecord | None:
        record = self.loud.get(index)
        if record is not None:
            return record
        row = self._row(index)
        if row is None or self.place[row] < 0:
            return None
        p = self.places[self.place[row]]
        return make_record(index, OK, self.values[row], None, (), (), (),
                           float(self.start[row]), float(self.end[row]), p.submitted,
                           p.received, p.worker, p.pid, p.host, int(self.attempt[row]))

    def attempt_of(self, index: int) -> int | None:
        record = self.loud.get(index)
        if record is not None:
            return record.attempt
        row = self._row(index)
        return None if row is None or self.place[row] < 0 else int(self.attempt[row])

    def quiet_rows(self) -> np.ndarray:
        import numpy as np

        return np.flatnonzero(self.place >= 0)

    # ----------------------------------------------------------------- adding
    def add(self, batch: Batch) -> list[TaskRecord]:
        """Keep ``batch``'s records; return the ones they replace (earlier attempts)."""
        replaced: list[TaskRecord] = []
        for part in batch.quiet:
            if len(part.values):
                replaced += self._add_quiet(part)
        counts, loud = self.counts, self.loud
        for record in batch.loud:
            index = record.index
            old = loud.get(index)
            if old is None:
                old = self._take_quiet(index)
            if old is not None:
                counts[old.status] -= 1
                replaced.append(old)
            loud[index] = record
            counts[record.status] += 1
        return replaced

    def _add_quiet(self, part: QuietPart) -> list[TaskRecord]:
        import numpy as np

        rows = self._rows_of(part.indices)
        replaced = []
        if self.loud:  # an earlier attempt that failed, now retried: it goes to history
            for index in part.indices[np.isin(part.indices,
                                              np.fromiter(self.loud, np.int64))].tolist():
                old = self.loud.pop(index)
                self.counts[old.status] -= 1
                replaced.append(old)
        taken = self.place[rows] >= 0
        if taken.any():
            for row_index in np.flatnonzero(taken).tolist():
                replaced.append(self.get(int(part.indices[row_index])))
            self.counts[OK] -= int(taken.sum())
            self.quiet_count -= int(taken.sum())
        self.places.append(part.place)
        self.place[rows] = len(self.places) - 1
        self.start[rows] = part.starts
        self.end[rows] = part.ends
        self.attempt[rows] = part.attempts
        n = len(rows)
        first = int(rows[0])
        if int(rows[-1]) - first == n - 1 and (n < 2 or bool((np.diff(rows) == 1).all())):
            self.values[first:first + n] = part.values
        else:
            values = self.values
            for row, value in zip(rows.tolist(), part.values):
                values[row] = value
        self.counts[OK] += n
        self.quiet_count += n
        return replaced

    def _take_quiet(self, index: int) -> TaskRecord | None:
        """The quiet record of ``index`` leaves the columns (a loud one replaces it)."""
        row = self._row(index)
        if row is None or self.place[row] < 0:
            return None
        old = self.get(index)
        self.place[row] = -1
        self.values[row] = None
        self.quiet_count -= 1
        return old

    # ----------------------------------------------------------------- in bulk
    def results(self, indices: list[int]) -> list[Any]:
        """Return values of ``indices`` in order; a :class:`Failed` where there is none."""
        if self.quiet_count == len(indices) and self._slot is None:
            return list(self.values)  # every task quiet and ok: the values as they are
        out = []
        for i in indices:
            r = self.get(i)
            if r is None:
                out.append(Failed(i, "pending", None))
            elif r.status == OK:
                out.append(r.value)
            else:
                out.append(Failed(i, r.status, r.error))
        return out

    def loud_in_order(self, statuses: tuple[str, ...]) -> list[TaskRecord]:
        """The records of these statuses (never quiet ones: a quiet task is ok), in input
        order (rows follow it)."""
        found = [r for r in self.loud.values() if r.status in statuses]
        return sorted(found, key=lambda r: self._row(r.index))

    def slower_than(self, limit: float) -> list[int]:
        """Indices of the tasks that ran longer than ``limit`` seconds, in input order."""
        import numpy as np

        rows = self.quiet_rows()
        slow = rows[(self.end[rows] - self.start[rows]) > limit].tolist()
        slow += [self._row(r.index) for r in self.loud.values()
                 if r.duration is not None and r.duration > limit]
        index_of = (list(range(self._rows)) if self._slot is None
                    else {row: index for index, row in self._slot.items()})
        return [index_of[row] for row in np.unique(np.asarray(slow, np.int64)).tolist()]

    def timeline(self) -> tuple[Any, Any, Any, Any]:
        """``(start, end, worker, status)`` arrays of every record (see
        :meth:`workbench.result.Run.timeline`)."""
        import numpy as np

        rows = self.quiet_rows()
        names = np.array([p.worker for p in self.places] or [None], dtype=object)
        loud = list(self.loud.values())
        start = np.concatenate([self.start[rows], np.array(
            [np.nan if r.start is None else r.start for r in loud], float)])
        end = np.concatenate([self.end[rows], np.array(
            [np.nan if r.end is None else r.end for r in loud], float)])
        worker = np.concatenate([names[self.place[rows]],
                                 np.array([r.worker for r in loud], dtype=object)])
        status = np.concatenate([np.full(len(rows), OK, dtype=object),
                                 np.array([r.status for r in loud], dtype=object)])
        return start, end, worker, status

    def worker_labels(self) -> dict[int, str]:
        labels = {p.pid: p.worker for p in self.places if p.pid is not None}
        labels.update({r.pid: r.worker for r in self.loud.values() if r.pid is not None})
        return labels

    def durations(self, ok_only: bool = False) -> np.ndarray:
        """Seconds each task with a duration took (``ok_only``: of the ok ones): quiet ones,
        then the others."""
        import numpy as np

        rows = self.quiet_rows()
        quiet = self.end[rows] - self.start[rows]
        other = [r.duration for r in self.loud.values()
                 if r.duration is not None and (r.status == OK or not ok_only)]
        return np.concatenate([quiet, np.asarray(other, float)]) if other else quiet
