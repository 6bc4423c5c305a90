"""Backends by name, imported lazily and kept warm: a second run with the same settings reuses
the running workers; :func:`shutdown` (also called at interpreter exit) stops them all."""

from __future__ import annotations

import atexit
import contextlib
import importlib
import importlib.util
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

from ..errors import BackendNotInstalled, InputError
from .base import Backend, BackendSpec, Chunk, Outcome

__all__ = ["Backend", "BackendSpec", "Chunk", "Outcome", "NAMES", "backend_class", "acquire",
           "use", "shutdown", "installed"]

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
#: One run at a time on each shared backend: name -> its lock, the thread and run using it.
_turns: dict[str, threading.Lock] = {}
_users: dict[str, tuple[int, Any]] = {}
#: Seconds :func:`shutdown` waits for a run it stopped in another thread to hand back.
SHUTDOWN_WAIT = 30.0


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
            f'pip install "parallel-workbench[{cls.extra or name}]"')
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


@contextlib.contextmanager
def use(spec: BackendSpec, run: Any) -> Iterator[tuple[Backend, float]]:
    """A started backend for ``spec`` (and its start-up seconds), held for one run.

    Runs on one warm backend take turns: a second run from another thread waits (with a
    warning) until the first is over, rather than mixing their chunks. A backend that runs
    tasks in the caller (``serial``) costs nothing to start, so each run gets its own, which
    also lets a task of a serial run start a serial run of its own."""
    cls = backend_class(spec.name)
    if cls.local:
        backend = cls(spec)
        backend.start()
        try:
            yield backend, 0.0
        finally:
            backend.shutdown()
        return
    me = threading.get_ident()
    with _lock:
        turn = _turns.setdefault(spec.name, threading.Lock())
        user = _users.get(spec.name)
    if user is not None and user[0] == me:
        raise InputError(f"a run on {spec.name} is already going in this thread (a task or "
                         "an observer of it started another): give the inner run another "
                         "backend, e.g. backend='serial'")
    if not turn.acquire(blocking=False):
        warnings.warn(f"workbench: waiting for the run on {spec.name} in another thread to "
                      "finish (runs on one backend take turns)", RuntimeWarning, stacklevel=4)
        turn.acquire()
    _users[spec.name] = (me, run)
    try:
        yield acquire(spec)
    finally:
        _users.pop(spec.name, None)
        turn.release()


def _children() -> dict[int, Any]:
    import psutil

    return {p.pid: p for p in psutil.Process().children(recursive=True)}


def live() -> dict[str, Backend]:
    """The backends running now, by name."""
    with _lock:
        return dict(_live)


def shutdown(name: str | None = None) -> None:
    """Stop the warm backend ``name``, or all of them. Safe to call any number of times.

    A run going on one of them in another thread is stopped first (its unfinished tasks are
    cancelled, its finished ones kept), so it never waits on workers that are gone."""
    with _lock:
        names = [name] if name is not None else list(_live)
    me = threading.get_ident()
    for key in names:
        user = _users.get(key)
        turn = _turns.get(key)
        waited = False
        if user is not None and user[0] != me and turn is not None:
            user[1].cancel()
            waited = turn.acquire(timeout=SHUTDOWN_WAIT)
        try:
            with _lock:
                backend = _live.pop(key, None)
            if backend is not None:
                backend.shutdown()
        finally:
            if waited:
                turn.release()
