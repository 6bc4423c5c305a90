"""Backends by name, imported lazily and kept warm: a second run with the same settings reuses
the running workers; :func:`shutdown` (also called at interpreter exit) stops them all."""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import threading
import time
from typing import Any

from ..errors import BackendNotInstalled, InputError
from .base import Backend, BackendSpec, Chunk, Outcome

__all__ = ["Backend", "BackendSpec", "Chunk", "Outcome", "NAMES", "backend_class", "acquire",
           "shutdown", "installed"]

#: name -> "module:Class"; modules are imported on first use only.
_REGISTRY = {
    "serial": "workbench.backends.serial:SerialBackend",
    "process_map": "workbench.backends.process_map:ProcessMapBackend",
    "dask": "workbench.backends.dask:DaskBackend",
    "ray": "workbench.backends.ray:RayBackend",
}
NAMES = tuple(_REGISTRY)

_live: dict[str, Backend] = {}
_lock = threading.RLock()


def backend_class(name: Any) -> type[Backend]:
    """The class for ``name``; says what to install when its package is missing."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise InputError(f"unknown backend {name!r}: choose one of {', '.join(NAMES)}")
    module, _, cls_name = _REGISTRY[name].partition(":")
    cls: type[Backend] = getattr(importlib.import_module(module), cls_name)
    missing = [pkg for pkg in cls.requires if importlib.util.find_spec(pkg) is None]
    if missing:
        raise BackendNotInstalled(
            f"backend {name!r} needs {' and '.join(missing)}, which is not installed: "
            f'pip install "workbench[{cls.extra or name}]"')
    return cls


def installed() -> list[str]:
    """Names of the backends whose packages are installed here."""
    names = []
    for name in NAMES:
        try:
            backend_class(name)
        except BackendNotInstalled:
            continue
        names.append(name)
    return names


def acquire(spec: BackendSpec) -> tuple[Backend, float]:
    """A started backend for ``spec`` and the seconds spent starting it (0 when warm)."""
    cls = backend_class(spec.name)
    with _lock:
        current = _live.get(spec.name)
        if current is not None and current.spec == spec and current.alive:
            return current, 0.0
        backend = cls(spec)
        backend.preflight()  # before a warm backend is given up for it
        if current is not None:  # other settings, or dead: replace it
            _live.pop(spec.name)
            current.shutdown()
        before = _children()
        began = time.perf_counter()
        try:
            backend.start()
        except BaseException:
            backend.shutdown()
            raise
        backend._roots = [p for pid, p in _children().items() if pid not in before]
        # At exit, stop the workers before anything else runs: multiprocessing's own exit
        # handler (registered when a backend first imports it) joins child processes, which
        # would wait forever for workers that wait for work. atexit runs the last one first.
        atexit.unregister(shutdown)
        atexit.register(shutdown)
        _live[spec.name] = backend
        return backend, time.perf_counter() - began


def _children() -> dict[int, Any]:
    import psutil

    return {p.pid: p for p in psutil.Process().children(recursive=True)}


def live() -> dict[str, Backend]:
    """The backends running now, by name."""
    with _lock:
        return dict(_live)


def shutdown(name: str | None = None) -> None:
    """Stop the warm backend ``name``, or all of them. Safe to call any number of times."""
    with _lock:
        names = [name] if name is not None else list(_live)
        for key in names:
            backend = _live.pop(key, None)
            if backend is not None:
                backend.shutdown()
