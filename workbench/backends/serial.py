"""``serial``: every task in the calling process, one after another, with the same capture as
the parallel backends. The reference every other backend is compared against."""

from __future__ import annotations

import os
from collections import deque
from typing import Any, Callable

from .. import capture
from .base import Backend, Chunk, Outcome


class SerialBackend(Backend):
    local = True
    streams = True
    prefetch = 1
    chunk_target = 0.05

    def __init__(self, spec):
        super().__init__(spec)
        self._functions: dict[bytes, Callable[..., Any]] = {}
        self._queue: deque[Chunk] = deque()
        self._reported: list[Outcome] = []

    @property
    def workers(self) -> int:
        return 1

    def start(self) -> None:
        self._started = True

    def prepare(self, key: bytes, function: Any) -> None:
        self._functions = {key: function}

    def submit(self, chunk: Chunk) -> None:
        self._queue.append(chunk)

    def poll(self, timeout: float) -> list[Outcome]:
        """Run the next chunk here and now. Records are kept item by item, so a Ctrl-C in the
        middle of a chunk loses nothing that finished: the next poll reports it."""
        if self._reported or not self._queue:
            out, self._reported = self._reported, []
            return out
        chunk = self._queue.popleft()
        reported = self._reported

        def emit(batch: tuple) -> None:
            reported.append(Outcome(chunk.id, batch, done=False))

        capture.install_capture(chunk.options.capture_level)
        try:
            fn = self._functions[chunk.key]
            pid = os.getpid()
            for (index, attempt), item in zip(chunk.tasks, chunk.items):
                raw = capture.run_task(fn, index, attempt, item, chunk.options)
                emit(("main", pid, capture.HOST, [raw]))
        finally:
            capture.uninstall_capture()
        reported.append(Outcome(chunk.id, None, done=True))
        out, self._reported = self._reported, []
        return out

    def cancel(self, chunk_ids: list[int]) -> None:
        """Nothing runs between polls here: every chunk asked for is over at once."""
        ids = set(chunk_ids)
        self._queue = deque(c for c in self._queue if c.id not in ids)
        self._reported += [Outcome(chunk_id, None, done=True) for chunk_id in chunk_ids]

    def shutdown(self) -> None:
        self._queue.clear()
        self._functions.clear()
        self._started = False
