"""From the user's items to chunks: index every item, then hand out chunks whose size follows
the measured task duration (large while much is left, small near the end)."""

from __future__ import annotations

import itertools
import math
import operator
from collections import deque
from collections.abc import Iterable
from typing import Any

from .contract import FirstAttempts
from .errors import InputError

#: Types that iterate forever: ``list()`` on them would hang the caller.
_ENDLESS = (itertools.count, itertools.cycle, itertools.repeat)


def materialize(items: Iterable[Any]) -> list[Any]:
    """The items as a list, in input order (a generator is consumed once, here)."""
    if isinstance(items, (str, bytes)):
        raise InputError(
            f"items is a {type(items).__name__} ({items[:20]!r}); pass a list of items such as "
            f"[{items[:20]!r}], or list(...) of it to map over its characters")
    if isinstance(items, dict):
        return list(items)  # its keys, as iterating a dict gives
    if type(items).__name__ == "DataFrame" and hasattr(items, "itertuples"):
        raise InputError(
            f"items is a {type(items).__module__.split('.')[0]} DataFrame, which iterates over "
            "its column names: pass its rows as df.itertuples(index=False) or "
            "df.to_dict('records'), one column as df['name'], or list(df.columns) for the names")
    if isinstance(items, _ENDLESS) and operator.length_hint(items, -1) < 0:
        raise InputError(f"items is an endless {type(items).__name__}: give a finite iterable, "
                         "for example itertools.islice(items, 1000)")
    if hasattr(items, "shape") and getattr(items, "ndim", 1) == 0:
        raise InputError("items is a 0-d array; pass an array with at least one dimension")
    try:
        iterator = iter(items)
    except TypeError:
        raise InputError(
            f"items must be iterable, got {type(items).__name__} {_short(items)}: pass a list, "
            "range, generator, numpy array or pandas Series, e.g. range(10)") from None
    return list(iterator)


def whole(value: Any) -> Any:
    """A whole number of any integer type (numpy's too) as an ``int``; anything else (a bool,
    a float, a string) as it is, for the caller's check to refuse."""
    import numbers

    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def check_workers(workers: Any) -> int | None:
    """``workers`` as a positive int (or ``None`` for "all cores")."""
    if workers is None:
        return None
    workers = whole(workers)
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise InputError(f"workers must be a whole number, got {type(workers).__name__} "
                         f"{workers!r}: pass e.g. workers=2, or workers=None for all cores")
    if workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}: pass e.g. workers=2, "
                         "or workers=None for all cores")
    return workers


def check_chunksize(chunksize: Any) -> int | str:
    if isinstance(chunksize, str) and chunksize == "auto":
        return "auto"
    chunksize = whole(chunksize)
    if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
        raise InputError(f"chunksize must be 'auto' or a whole number >= 1, got {chunksize!r}")
    return chunksize


def _short(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 40 else text[:37] + "..."


#: Seconds each item costs besides its own duration (dispatch, capture, its record in the
#: caller): what a chunk floor counts so that it holds enough tiny items.
PER_ITEM_OVERHEAD = 20e-6


class Planner:
    """Hands out the next chunk of ``(index, attempt)`` tasks.

    With ``chunksize="auto"`` the first chunks hold one item each; once durations are known a
    chunk holds about ``target`` seconds of work, but never more than a ``1 / (2 * workers)``
    share of what is left, so the last chunks are small and no worker idles at the end while
    another works through a big final chunk.

    ``floor`` (seconds) stops that shrinking for cheap items: a chunk keeps at least as many
    items as make ``floor`` seconds of estimated work, counting :data:`PER_ITEM_OVERHEAD` per
    item on top of the measured duration, so 10,000 tiny items never end in a string of
    one-item chunks that each pay a full round trip. Items that take longer than ``floor``
    still shrink down to one per chunk near the end. ``0`` (the default) means no floor.
    """

    def __init__(self, tasks: Iterable[tuple[int, int]], workers: int, chunksize: int | str,
                 target: float = 0.1, floor: float = 0.0, fresh: list[int] | None = None):
        # What is queued, in order: tasks sent again (first), the first attempts of
        # ``fresh``'s indices (a list and a cursor: a million items are no million tuples
        # until they are sent), then ``tasks`` and the tasks queued again.
        self._front: deque[tuple[int, int]] = deque()
        self._fresh: list[int] = fresh or []
        self._next = 0
        self._queue: deque[tuple[int, int]] = deque(tasks)
        self._alone: deque[tuple[int, int]] = deque()  # tasks to send one per chunk
        self._formed: deque[list[tuple[int, int]]] = deque()  # chunks made by the caller
        self._formed_tasks = 0
        self._workers = max(1, workers)
        self._fixed = None if chunksize == "auto" else int(chunksize)
        self._target = target
        self._floor = floor
        self._observed = 0
        self._busy = 0.0

    def __len__(self) -> int:
        return self._queued() + len(self._alone) + self._formed_tasks

    def _queued(self) -> int:
        return len(self._front) + len(self._fresh) - self._next + len(self._queue)

    @property
    def isolating(self) -> bool:
        """Tasks are waiting to be run alone (see :meth:`resend`)."""
        return bool(self._alone)

    def observe(self, duration: float | None) -> None:
        if duration is not None:
            self._observed += 1
            self._busy += max(duration, 0.0)

    def observe_many(self, count: int, busy: float) -> None:
        """``count`` durations adding up to ``busy`` seconds (a chunk's worth at once)."""
        self._observed += count
        self._busy += max(busy, 0.0)

    def requeue(self, index: int, attempt: int) -> None:
        self._queue.append((index, attempt))

    def resend(self, tasks: list[tuple[int, int]], alone: bool = False) -> None:
        """Send these tasks again before anything else; ``alone``: one per chunk, so that a
        task that kills its worker is told apart from its innocent chunk mates."""
        if alone:
            self._alone.extend(tasks)
        else:
            self._front.extendleft(reversed(tasks))

    def add_chunk(self, tasks: list[tuple[int, int]]) -> None:
        """Send these tasks together as one chunk, after what is queued (a joblib batch:
        its caller sized it)."""
        self._formed.append(tasks)
        self._formed_tasks += len(tasks)

    def size(self) -> int:
        """How many items the next chunk takes."""
        if self._fixed is not None:
            return self._fixed
        if not self._observed:
            return 1
        per_item = max(self._busy / self._observed, 1e-7)
        by_time = int(self._target / per_item)
        fair_share = math.ceil(self._queued() / (2 * self._workers))
        floor = int(self._floor / (per_item + PER_ITEM_OVERHEAD)) if self._floor else 0
        return max(1, min(by_time, max(fair_share, floor)))

    def next_chunk(self) -> list[tuple[int, int]] | FirstAttempts:
        if self._alone:
            return [self._alone.popleft()]
        if self._formed and not self._queued():
            tasks = self._formed.popleft()
            self._formed_tasks -= len(tasks)
            return tasks
        size = min(self.size(), self._queued())
        front = self._front
        if not front and self._next < len(self._fresh):  # the usual chunk: first attempts
            start = self._next
            self._next = min(start + size, len(self._fresh))
            chunk = FirstAttempts(self._fresh[start:self._next])
            if self._next == len(self._fresh):
                self._fresh, self._next = [], 0
            return chunk
        chunk = [front.popleft() for _ in range(min(size, len(front)))]
        if len(chunk) < size and self._next < len(self._fresh):
            start = self._next
            self._next = min(start + size - len(chunk), len(self._fresh))
            chunk += zip(self._fresh[start:self._next], itertools.repeat(1))
            if self._next == len(self._fresh):
                self._fresh, self._next = [], 0
        queue = self._queue
        chunk += [queue.popleft() for _ in range(min(size - len(chunk), len(queue)))]
        return chunk

    def drain(self) -> list[tuple[int, int]]:
        rest = [*self._alone, *self._front, *zip(self._fresh[self._next:], itertools.repeat(1)),
                *self._queue, *(t for chunk in self._formed for t in chunk)]
        self._alone.clear()
        self._front.clear()
        self._fresh, self._next = [], 0
        self._queue.clear()
        self._formed.clear()
        self._formed_tasks = 0
        return rest
