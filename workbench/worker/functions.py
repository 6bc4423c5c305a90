"""The functions a worker holds, and the one cache rule used for them everywhere: the worker's
own cache, the copy a caller keeps of what each worker holds (``process_map``), and what a
backend keeps in a cluster's object store (``ray``).

A worker keeps at most :data:`CACHE_FUNCTIONS` functions and :data:`CACHE_BYTES` of their
pickles (a function may carry large shared objects). A caller that mirrors a worker's cache
uses half of each limit and tells the worker what to drop, so it always knows what each worker
holds, and the worker's own limits never drop a function behind its back.
"""

from __future__ import annotations

import mmap
import pickle
from collections.abc import Callable
from typing import Any

CACHE_FUNCTIONS = 16
CACHE_BYTES = 1 << 30


class FunctionCache:
    """Values by key, oldest first; adding one drops the oldest others while there are more
    than ``max_count`` or their sizes sum to more than ``max_bytes``. The newest is never
    dropped, however large."""

    def __init__(self, max_count: int, max_bytes: int):
        self.max_count = max_count
        self.max_bytes = max_bytes
        self._entries: dict[bytes, tuple[Any, int]] = {}

    def __contains__(self, key: bytes) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> Any:
        entry = self._entries.get(key)
        return None if entry is None else entry[0]

    def add(self, key: bytes, value: Any, size: int) -> list[bytes]:
        """Keep ``value`` as the newest; return the keys dropped to make room."""
        entries = self._entries
        entries.pop(key, None)
        entries[key] = (value, size)
        dropped = []
        total = sum(s for _, s in entries.values())
        while len(entries) > 1 and (len(entries) > self.max_count or total > self.max_bytes):
            oldest = next(iter(entries))
            total -= entries.pop(oldest)[1]
            dropped.append(oldest)
        return dropped

    def forget(self, keys: Any) -> None:
        for key in keys:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


def mirror() -> FunctionCache:
    """A caller's record of one worker's cache (see the module's docstring)."""
    return FunctionCache(CACHE_FUNCTIONS // 2, CACHE_BYTES // 2)


#: This process's functions, when it is a worker.
_held = FunctionCache(CACHE_FUNCTIONS, CACHE_BYTES)


def has(key: bytes) -> bool:
    """Whether this process holds the function ``key`` already (its blob need not come)."""
    return key in _held


def forget(keys: Any) -> None:
    """Drop functions (the caller decides, so that it knows what each worker holds)."""
    _held.forget(keys)


def load(key: bytes, blob: Any) -> Callable[..., Any]:
    """The function for ``key``: unpickled from ``blob`` once per process, then cached.

    ``blob`` is a pickle, or ``(pickle, buffers)``: a protocol 5 pickle whose large buffers
    (arrays) travel beside it, out of band. The function's arrays are made over those buffers
    as they are when they are writable and aligned as an ordinary unpickling's (a Dask frame
    read into a memory of its own, what :func:`new_buffer` gave); any other (bytes, Ray's
    read-only shared memory, a frame at an odd offset of a network message) is copied once
    (:func:`writable`), so the arrays are always writable and laid out in memory as after an
    ordinary unpickling (numpy's sums differ in the last bit on memory not 8-byte aligned)."""
    fn = _held.get(key)
    if fn is not None:
        return fn
    if blob is None:
        raise LookupError("the function was not sent to this worker")
    if isinstance(blob, tuple):
        main, buffers = blob
        buffers = [writable(b) for b in buffers]
        size = len(main) + sum(memoryview(b).nbytes for b in buffers)
        fn = pickle.loads(main, buffers=buffers)
    else:
        fn, size = pickle.loads(blob), len(blob)
    _held.add(key, fn, size)
    return fn


#: Buffers from this size on are allocated as huge pages where the system offers them.
HUGE_FROM = 4 << 20
#: The alignment of an ordinary allocation (``malloc``; what an unpickled array gets).
ALIGNMENT = 16


def writable(buffer: Any) -> Any:
    """``buffer`` itself if it is writable, contiguous and aligned to :data:`ALIGNMENT`;
    else a copy of its bytes in :func:`new_buffer` memory."""
    if type(buffer) is bytearray:
        return buffer
    view = memoryview(buffer)
    if not view.c_contiguous:
        return bytearray(view)
    if not view.readonly and view.nbytes and _aligned(view):
        return buffer
    copy = new_buffer(view.nbytes)
    if view.nbytes:
        memoryview(copy).cast("B")[:] = view.cast("B")
    return copy


def _aligned(view: memoryview) -> bool:
    import ctypes

    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(view)) % ALIGNMENT == 0
    except (TypeError, ValueError):  # not a plain buffer: copy it
        return False


def new_buffer(size: int) -> Any:
    """``size`` writable bytes, aligned like an ordinary allocation: from :data:`HUGE_FROM`
    bytes on Linux, a private anonymous memory map advised to use huge pages (as numpy
    allocates large arrays): filling 100 MB of fresh 4 KiB pages costs about 2.5x more in
    page faults (85 ms against 33 ms here); else a ``bytearray``."""
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if size < HUGE_FROM or advice is None:
        return bytearray(size)
    memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        memory.madvise(advice)
    except OSError:  # a kernel without transparent huge pages: ordinary pages then
        pass
    return memory
