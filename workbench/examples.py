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
