"""Defaults for :func:`workbench.run` and scoped overrides (``with workbench.config(...)``).

Precedence: an explicit argument > the innermost ``config`` block > the built-in default.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Any, Iterator

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
}

_scoped: ContextVar[dict[str, Any]] = ContextVar("workbench_config", default={})


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
    token = _scoped.set({**_scoped.get(), **settings})
    try:
        yield
    finally:
        _scoped.reset(token)


def resolve(name: str, given: Any) -> Any:
    """The value of setting ``name`` for one call."""
    if given is not NOT_GIVEN:
        return given
    return _scoped.get().get(name, DEFAULTS[name])
