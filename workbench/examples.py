"""Small workloads used by the demo, the tests, the benchmarks and the tutorials.

They live in the package (not in ``__main__``) so every backend can import them by name.
"""

from __future__ import annotations

import time


def calc_chunk(n: int, i: int) -> int:
    """Monte Carlo pi: how many of ``n`` random points in the unit square fall in the quarter
    circle. Seeded by the chunk number ``i``, so the answer is the same on every backend."""
    import numpy as np

    xy = np.random.default_rng(i).random((n, 2))
    return int(np.count_nonzero((xy * xy).sum(axis=1) <= 1.0))


def calc_chunk_printing(n: int, i: int) -> int:
    """:func:`calc_chunk` in steps of 20,000 points (about a millisecond each), printing a line
    after each step: a chatty task, for measuring what its live output costs."""
    import numpy as np

    rng, inside, done = np.random.default_rng(i), 0, 0
    while done < n:
        step = min(20_000, n - done)
        xy = rng.random((step, 2))
        inside += int(np.count_nonzero((xy * xy).sum(axis=1) <= 1.0))
        done += step
        print(f"chunk {i}: {done:,} of {n:,} points, {inside:,} inside")
    return inside


def calc_pi(counts: list[int], n: int) -> float:
    """The reduce step: pi from the per-chunk counts of :func:`calc_chunk`."""
    return 4.0 * sum(counts) / (n * len(counts))


def tiny(x: int) -> int:
    """The smallest task there is: measures per-task overhead."""
    return x + 1


def sleepy(seconds: float) -> float:
    """A task that waits without using the CPU."""
    time.sleep(seconds)
    return seconds


#: Loop turns in one unit of :func:`burn`: about 20 ms of one core on the 2-core machine the
#: benchmarks were tuned on.
BURN_UNIT = 350_000


def burn(units: float) -> int:
    """Busy pure-Python CPU work (no sleeping, no numpy): ``units`` x :data:`BURN_UNIT` loop
    turns, about 20 ms per unit. Returns a checksum so the work cannot be skipped."""
    total = 0
    for k in range(int(units * BURN_UNIT)):
        total ^= k
    return total


def skewed_items(n: int = 40, every: int = 10, factor: float = 10, unit: float = 1.0,
                 heavy_last: bool = False) -> list[float]:
    """Work sizes for :func:`burn`: ``n`` tasks of ``unit`` where every ``every``-th one is
    ``factor`` times heavier; with ``heavy_last`` the heavy ones come at the end (the worst case
    for fixed chunks)."""
    sizes = [unit * factor if i % every == 0 else unit for i in range(n)]
    if heavy_last:
        sizes.sort()
    return sizes


def shared_array(megabytes: float = 100, seed: int = 0):  # -> numpy.ndarray
    """A float64 array of about ``megabytes`` MB (10**6 bytes), the same for the same seed."""
    import numpy as np

    return np.random.default_rng(seed).random(int(megabytes * 1_000_000) // 8)


def use_shared(i: int, arr) -> float:  # noqa: ANN001 - any numpy array
    """A task that reads a large array every task needs: the sum of every 10th element from
    offset ``i``. Call it as ``use_shared(i, arr)`` or ``use_shared(i, arr=arr)``."""
    return float(arr[i % 10::10].sum())
