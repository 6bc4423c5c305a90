"""Defaults for :func:`workbench.run` and scoped overrides (``with workbench.config(...)``).

Precedence: an explicit argument > the innermost ``config`` block > the built-in default.

A block is scoped by a :class:`~contextvars.ContextVar` (two threads with blocks of their own
do not see each other's), and a thread with no block of its own (one the user started inside
a block, a thread pool's) sees the most recent block still open in the process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

#: "Not given": distinguishes an omitted argument from an explicit ``None``.
NOT_GIVEN: Any = type("NotGiven", (), {"__repr__": lambda self: "NOT_GIVEN"})()

DEFAULTS: dict[str, Any] = {
    "backend": "serial",
    "workers": None,
    "chunksize": "auto",
    "seed": 0,
    "retries": 0,
    "timeout": None,
    "address": None,
    "view": "auto",
    "backend_options": None,
    "live": True,  # running tasks' output reaches the caller while they run
    # The journal (workbench.journal): on, off, or a file; where runs are kept, how many
    # (and how many bytes in all) are kept there, and the largest result stored.
    "journal": True,
    "journal_dir": None,
    "journal_keep": 100,
    "journal_max_bytes": 2 * 1024**3,
    "journal_max_value": 1024**2,
}

_scoped: ContextVar[dict[str, Any]] = ContextVar("workbench_config", default={})  # noqa: B039 - never mutated: a block sets a new dict
#: The blocks open now, in every thread, oldest first (what a thread without one sees).
_open: list[dict[str, Any]] = []


@contextlib.contextmanager
def config(**settings: Any) -> Iterator[None]:
    """Set defaults for every run inside the block.

    Examples
    --------
    >>> with workbench.config(backend="process_map", workers=2):
    ...     run = workbench.run(fn, items)
    """
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        from .errors import InputError

        raise InputError(f"unknown setting {', '.join(map(repr, unknown))}: "
                         f"choose from {', '.join(DEFAULTS)}")
    merged = {**_scoped.get(), **settings}
    token = _scoped.set(merged)
    _open.append(merged)
    try:
        yield
    finally:
        _scoped.reset(token)
        for i in range(len(_open) - 1, -1, -1):  # this very block (by identity)
            if _open[i] is merged:
                del _open[i]
                break


def resolve(name: str, given: Any) -> Any:
    """The value of setting ``name`` for one call."""
    if given is not NOT_GIVEN:
        return given
    scoped = _scoped.get() or (_open[-1] if _open else {})
    return scoped.get(name, DEFAULTS[name])
