"""The resource sampler: CPU % and memory (RSS) of the local worker processes, read with
psutil in one background thread. It collects plain samples; it never draws or prints."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Samples kept per run; past it every other old sample is dropped, so a long run keeps an
#: evenly thinned history instead of growing without bound.
MAX_SAMPLES = 100_000


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of one process."""

    time: float  # time.time()
    pid: int
    cpu: float  # percent; 100 = one full core
    rss: int  # bytes


class ResourceSampler:
    """Samples the processes returned by ``processes()`` every ``interval`` seconds.

    The list of processes is asked for once when sampling starts (on the sampler's own
    thread, so starting never waits for it), then again when a watched process has gone (a
    replaced worker is picked up at the next tick) and every ``refresh`` seconds (new
    processes a backend started meanwhile); in between, a tick only reads the known
    processes. ``fresh`` (default: ``processes``) is what is called for those later lists,
    for a ``processes`` that answers from a cache. A process's first reading only primes
    psutil's CPU counter and is not recorded.
    """

    def __init__(self, processes: Callable[[], list[Any]], interval: float = 0.25,
                 refresh: float = 5.0, fresh: Callable[[], list[Any]] | None = None):
        self._processes = processes
        self._fresh = fresh or processes
        self._interval = interval
        self._refresh = refresh
        self._watched: list[Any] | None = None  # the current list of processes
        self._listed_at = 0.0
        self._stale = False  # a watched process has gone: list them again
        self._samples: list[Sample] = []
        self._known: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._tick_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0

    def start(self) -> ResourceSampler:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="workbench-sampler",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> list[Sample]:
        """Stop sampling (idempotent) and return every sample. A run shorter than one
        interval has no sample yet: it gets one last reading, taken now."""
        if self._thread is not None and not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            if not self._samples:
                try:
                    self._tick()
                except Exception:  # noqa: BLE001
                    self.errors += 1
        self._stop.set()
        return self.samples

    def __enter__(self) -> ResourceSampler:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def samples(self) -> list[Sample]:
        with self._lock:
            return list(self._samples)

    @property
    def pids(self) -> set[int]:
        with self._lock:
            return {s.pid for s in self._samples}

    def _loop(self) -> None:
        while True:
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - never break the run for a reading
                self.errors += 1
            if self._stop.wait(self._interval):
                return

    def _list(self) -> list[Any]:
        now = time.monotonic()
        if self._watched is None:
            self._watched = list(self._processes())
            self._listed_at = now
        elif self._stale or now - self._listed_at > self._refresh:
            self._watched = list(self._fresh())
            self._listed_at, self._stale = now, False
        return self._watched

    def _tick(self) -> None:
        import psutil

        with self._tick_lock:
            procs = self._list()
            now = time.time()
            batch = []
            current = {}
            for proc in procs:
                pid = proc.pid
                known = self._known.get(pid)
                try:
                    if known is None:
                        proc.cpu_percent(None)  # prime: the first value means nothing
                        current[pid] = proc
                        continue
                    with known.oneshot():
                        batch.append(Sample(now, pid, known.cpu_percent(None),
                                            known.memory_info().rss))
                    current[pid] = known
                except (psutil.NoSuchProcess, psutil.ZombieProcess):
                    self._stale = True  # a worker gone (maybe replaced): list them again
                    continue
                except psutil.AccessDenied:
                    continue
            self._known = current
            with self._lock:
                self._samples.extend(batch)
                if len(self._samples) > MAX_SAMPLES:
                    self._samples = self._samples[::2]


def usage_by_pid(samples: list[Sample]) -> dict[int, list[Sample]]:
    """Samples grouped by process, in time order."""
    grouped: dict[int, list[Sample]] = {}
    for s in samples:
        grouped.setdefault(s.pid, []).append(s)
    return grouped
