"""Worker processes started without running the caller's script again.

A process started by ``spawn`` or ``forkserver`` (process pools, Dask's nannies) normally runs
the caller's main script again, as ``__mp_main__``: that is why plain multiprocessing and Dask
need an ``if __name__ == "__main__":`` guard, and why a script without one fails with a wall of
``RuntimeError: An attempt has been made to start a new process before the current process has
finished its bootstrapping phase``. Workbench's workers need nothing from the script (functions
and items travel by value), so while it starts them the script's ``__main__`` module carries
the spec ``python -m`` would give it, named ``__main__``: multiprocessing then imports nothing
in the child. A notebook, or ``python -m package``, already has a spec and is left alone.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from importlib.machinery import ModuleSpec

_SPEC = ModuleSpec("__main__", None)


@contextlib.contextmanager
def not_rerun() -> Iterator[None]:
    """While inside, children started by spawn or forkserver do not run the main script."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None:
        yield  # a notebook, `python -m`, or an enclosing not_rerun(): nothing to do
        return
    main.__spec__ = _SPEC
    try:
        yield
    finally:
        if getattr(main, "__spec__", None) is _SPEC:  # still ours: the user did not set one
            main.__spec__ = None
