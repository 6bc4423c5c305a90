"""What a worker runs for one joblib call: the call itself, with the nested joblib calls
inside it run sequentially (as joblib's own backends arrange it), so that a fit's ``n_jobs``
never starts a pool inside a worker.

A large argument of the calls (a search's ``X``: over joblib's ``max_nbytes``, 1 MB by
default, with its default ``mmap_mode="r"``) travels once per worker with the function (see
:mod:`workbench.payload`: its buffers out of band), not once per call: each call carries a
:class:`Shared` placeholder instead. loky memory-maps such arguments and Dask's joblib
backend scatters them, for the same reason. As loky's memory maps are, a worker's copy is
read-only, so that a call cannot change what the next call on that worker reads.
"""

from __future__ import annotations

from typing import Any


class Shared:
    """Stands for the shared argument ``key`` in a call's arguments."""

    __slots__ = ("key",)

    def __init__(self, key: int):
        self.key = key

    def __reduce__(self) -> tuple[Any, ...]:
        return Shared, (self.key,)


class JoblibCall:
    """The function of a run over joblib calls; an item is ``(func, args, kwargs, nested)``,
    ``nested`` being what :meth:`ParallelBackendBase.get_nested_backend` gave.

    ``__name__`` is the called function's name (``_fit_and_score`` for a scikit-learn
    search), so that the run, its panel and its records name what ran; ``shared`` maps
    keys to the large arguments the calls share (see :class:`Shared`)."""

    def __init__(self, name: str, shared: dict[int, Any] | None = None):
        self.__name__ = name
        self.shared = shared or {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """In a worker: the shared arguments are this worker's own copies, made read-only."""
        self.__dict__.update(state)
        for value in self.shared.values():
            if hasattr(value, "setflags"):
                value.setflags(write=False)

    def __call__(self, item: tuple[Any, tuple, dict, tuple[Any, int | None]]) -> Any:
        from joblib import parallel_config

        func, args, kwargs, (nested, n_jobs) = item
        if self.shared:
            args = tuple(self._own(a) for a in args)
            kwargs = {k: self._own(v) for k, v in kwargs.items()}
        with parallel_config(backend=nested, n_jobs=n_jobs):
            return func(*args, **kwargs)

    def _own(self, value: Any) -> Any:
        return self.shared[value.key] if type(value) is Shared else value

    def __repr__(self) -> str:
        return f"<joblib calls of {self.__name__}>"


def large_arguments(calls: list[tuple[Any, tuple, dict]], over: int) -> dict[int, Any]:
    """The arguments of ``calls`` larger than ``over`` bytes (by ``id``), each to travel
    once per worker (the calls of later batches that pass the same objects send only a
    :class:`Shared` placeholder)."""
    found: dict[int, Any] = {}
    for _func, args, kwargs in calls:
        for value in (*args, *kwargs.values()):
            nbytes = getattr(value, "nbytes", None)
            if isinstance(nbytes, int) and nbytes > over:
                found.setdefault(id(value), value)
    return found


def called_name(func: Any) -> str:
    """The name of what a joblib call calls, through the wrappers libraries put around it
    (scikit-learn's ``_FuncWrapper.function``, ``functools.partial.func``)."""
    for _ in range(5):
        name = getattr(func, "__name__", None)
        if name:
            return name
        inner = getattr(func, "function", None) or getattr(func, "func", None)
        if inner is None:
            break
        func = inner
    return type(func).__name__
