"""The fault table: what a user gets from each backend when one task misbehaves.

    python -m benchmarks.faults [--backends serial,process_map,dask,ray]

Each fault hits task 7 of 20 (two workers, one item per chunk); the table says how many of the
other 19 results were kept, what the culprit's record says, how long the run took past the
fault's own cost, and whether any process was left over. It measures; the assertions live in
tests/ (test_faults, test_interrupt, test_kernel, test_leaks).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time

import psutil

import workbench as wb
from workbench import backends

N, CULPRIT = 20, 7


def raises(x):
    if x == CULPRIT:
        raise ValueError("bad item")
    return x


def exits(x):
    if x == CULPRIT:
        os._exit(1)
    return x


def sigkill(x):
    if x == CULPRIT:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def segfault(x):
    if x == CULPRIT:
        import ctypes

        ctypes.string_at(0)
    return x


def sleeps(x):
    if x == CULPRIT:
        time.sleep(30)
    return x


def ignores_alarm(x):
    if x == CULPRIT:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(30)
    return x


def no_memory(x):
    if x == CULPRIT:
        return bytearray(2**50)  # a petabyte: MemoryError
    return x


def unpicklable(x):
    if x == CULPRIT:
        return threading.Lock()
    return x


def swallows_timeout(x):
    if x == CULPRIT:
        try:
            time.sleep(5)
        except Exception:  # noqa: BLE001 - careless user code catches the TaskTimeout
            pass
    return x


def raises_interrupt(x):
    if x == CULPRIT:
        raise KeyboardInterrupt("the task's own")
    return x


def slow(x):
    time.sleep(0.2)
    return x


FAULTS = [  # name, function, run options, in the caller's process too?
    ("exception", raises, {}, True),
    ("os._exit(1)", exits, {}, False),
    ("SIGKILL", sigkill, {}, False),
    ("segfault", segfault, {}, False),
    ("hang, timeout=1", sleeps, {"timeout": 1}, True),
    ("hang in C, timeout=1", ignores_alarm, {"timeout": 1}, False),
    ("MemoryError", no_memory, {}, True),
    ("unpicklable result", unpicklable, {}, True),
    ("swallows its TaskTimeout, timeout=1", swallows_timeout, {"timeout": 1}, True),
    ("raises KeyboardInterrupt", raises_interrupt, {}, True),
    ("os._exit(1), chunks of 10", exits, {"chunksize": 10}, False),
]


def _leftovers(before: set[int], backend: str) -> int:
    """Child processes that neither existed before nor belong to a warm backend."""
    time.sleep(0.5)
    owned = {p.pid for b in backends.live().values() for p in b.processes()}
    now = {p.pid for p in psutil.Process().children(recursive=True)
           if p.status() != psutil.STATUS_ZOMBIE}
    return len(now - before - owned)


def measure(backend: str) -> list[tuple]:
    rows = []
    wb.run(abs, [1], backend=backend, workers=2, view="none")  # warm
    for name, fn, options, in_caller in FAULTS:
        if backend == "serial" and not in_caller:
            rows.append((name, backend, "-", "would end the caller itself", "-", "-"))
            continue
        before = {p.pid for p in psutil.Process().children(recursive=True)}
        began = time.perf_counter()
        r = wb.run(fn, range(N), backend=backend, workers=2, view="none",
                   **{"chunksize": 1, **options})
        took = time.perf_counter() - began
        kept = sum(1 for t in r.tasks if t.status == "ok" and t.index != CULPRIT)
        bad = r.task(CULPRIT)
        said = f"{bad.status}: {bad.error.type}: {bad.error.message}"[:90] if bad.error else \
            bad.status
        again = sorted({h.index for h in r.history})
        if again:  # tasks that ran more than once: each run is an attempt of its own
            said += f" (run again, as attempt 2 with the first in run.history: tasks {again})"
        rows.append((name, backend, f"{kept}/19", said, f"{took:.1f} s",
                     _leftovers(before, backend)))
    # Stop: cancel() from another thread while 20 x 0.2 s tasks run
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    timer = threading.Timer(0.5, lambda: wb.last_run().cancel())
    timer.start()
    began = time.perf_counter()
    r = wb.run(slow, range(N), backend=backend, workers=2, view="none", chunksize=1)
    stop = time.perf_counter() - began - 0.5
    rows.append(("Stop / cancel()", backend, f"{r.counts['ok']} ok kept",
                 f"{r.counts['cancelled']} cancelled", f"stopped {stop:.2f} s after",
                 _leftovers(before, backend)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(backends.installed()))
    args = parser.parse_args()
    print("| fault | backend | other results kept | the culprit's record | run took | "
          "leftover processes |")
    print("|---|---|---|---|---|---|")
    try:
        for backend in args.backends.split(","):
            for row in measure(backend):
                print("| " + " | ".join(str(c).replace("|", "/") for c in row) + " |",
                      flush=True)
    finally:
        wb.shutdown()


if __name__ == "__main__":
    main()
