"""``serial``: every task in the calling process, one after another, through the same
:func:`workbench.worker.run_chunk` as the parallel backends (nothing pickled). The reference
every other backend is compared against."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import Any

from ..contract import ChunkReport, Outcome, report_size
from ..worker import HOST, live, run_chunk
from .base import Backend, Chunk


def _nowhere(message: Any) -> None:
    """Where live messages go between runs."""


class SerialBackend(Backend):
    local = True
    streams = True
    prefetch = 1
    chunk_target = 0.05

    def __init__(self, spec):
        super().__init__(spec)
        self._functions: dict[bytes, Callable[..., Any]] = {}
        self._queue: deque[Chunk] = deque()
        self._positions: dict[int, int] = {}  # chunk id -> tasks of it run so far
        self._reported: list[Outcome] = []

    @property
    def workers(self) -> int:
        return 1

    def start(self) -> None:
        self._started = True

    def prepare(self, key: bytes, function: Any) -> None:
        self._functions = {key: function}

    def live_to(self, sink: Any) -> None:
        """The tasks run in this very thread: workbench's live thread (in this process)
        hands their output to ``sink`` while they run."""
        live.start(sink or _nowhere, "main", HOST)

    def submit(self, chunk: Chunk) -> None:
        self._queue.append(chunk)

    def poll(self, timeout: float) -> list[Outcome]:
        """Run tasks of the next chunk here and now, for about ``timeout`` seconds (at least
        one task), so that the run loop sees a Stop between tasks, not only between chunks.
        Records are kept task by task, so a Ctrl-C in the middle of a task loses nothing that
        finished: the next poll reports it."""
        if self._reported or not self._queue:
            out, self._reported = self._reported, []
            return out
        chunk = self._queue[0]
        position = self._positions.get(chunk.id, 0)
        deadline = time.monotonic() + timeout
        ran = [0]  # tasks reported in this poll

        def keep(report: ChunkReport) -> None:
            ran[0] += report_size(report)
            self._positions[chunk.id] = position + ran[0]
            self._reported.append(Outcome(chunk.id, report, done=False))

        first = [True]

        def enough() -> bool:  # (at least one task per poll)
            if first[0]:
                first[0] = False
                return False
            return time.monotonic() > deadline

        # (a Ctrl-C in a task: run_chunk emits the records finished before it as it leaves)
        keep(run_chunk(self._functions[chunk.key], islice(chunk.tasks, position, None),
                       islice(chunk.items, position, None), chunk.options, "main", emit=keep,
                       stop=enough))
        if self._positions.get(chunk.id, position) == len(chunk.tasks):
            self._queue.popleft()
            del self._positions[chunk.id]
            self._reported.append(Outcome(chunk.id, None, done=True))
        out, self._reported = self._reported, []
        return out

    def cancel(self, chunk_ids: list[int]) -> None:
        """Nothing runs between polls here: every chunk asked for is over at once."""
        ids = set(chunk_ids)
        self._queue = deque(c for c in self._queue if c.id not in ids)
        for chunk_id in ids:
            self._positions.pop(chunk_id, None)
        self._reported += [Outcome(chunk_id, None, done=True) for chunk_id in chunk_ids]

    def shutdown(self) -> None:
        self._queue.clear()
        self._positions.clear()
        self._functions.clear()
        self._started = False
