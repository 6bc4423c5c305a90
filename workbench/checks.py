"""The checks of :func:`workbench.run`, before anything starts: each mistake in the input is
one :class:`~workbench.errors.InputError` line that says what is wrong and how to fix it."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from numbers import Real
from typing import Any

from . import backends
from .config import NOT_GIVEN, resolve
from .errors import InputError
from .events import Observer
from .journal import check as journal_setting
from .payload import function_name
from .plan import check_chunksize, check_workers, materialize, whole

#: The backends that can connect to a cluster by ``address=``.
ADDRESSED = ("dask", "ray")
#: ``backend="auto"``: not a backend, a plan made before one is taken (:mod:`workbench.auto`).
AUTO = "auto"


def prepare(fn: Callable[..., Any], items: Iterable[Any], *, backend: str = NOT_GIVEN,
            workers: int | None = NOT_GIVEN, chunksize: int | str = NOT_GIVEN,
            star: bool = False, shared: dict[str, Any] | None = None,
            seed: int | None = NOT_GIVEN, retries: int = NOT_GIVEN,
            timeout: float | None = NOT_GIVEN, address: str | None = NOT_GIVEN,
            backend_options: dict[str, Any] | None = NOT_GIVEN, view: Any = NOT_GIVEN,
            observers: Sequence[Observer] = (), journal: Any = NOT_GIVEN,
            live: bool = NOT_GIVEN) -> tuple[Callable[..., Any], dict[int, Any], dict[str, Any]]:
    """The checks of :func:`workbench.run`, nothing started: ``(fn, items by index,
    settings)`` for :func:`workbench.engine.execute`, or an :class:`InputError` that says
    what is wrong."""
    if not callable(fn):
        raise InputError(f"fn must be a function, got {type(fn).__name__} {fn!r:.40}: "
                         "pass the function itself, e.g. run(process, items)")
    shared = _check_shared(shared)
    _check_signature(fn, star, shared)
    if shared:
        fn = functools.partial(fn, **shared)
    settings = {
        "backend": resolve("backend", backend),
        "workers": check_workers(resolve("workers", workers)),
        "chunksize": check_chunksize(resolve("chunksize", chunksize)),
        "star": bool(star),
        "seed": resolve("seed", seed),
        "retries": resolve("retries", retries),
        "timeout": resolve("timeout", timeout),
        "address": resolve("address", address),
        "backend_options": resolve("backend_options", backend_options) or {},
        "view": resolve("view", view),
        "observers": tuple(observers),
        "journal": journal_setting(resolve("journal", journal)),
        "live": resolve("live", live),
    }
    if not isinstance(settings["live"], bool):
        raise InputError(f"live must be True or False, got {settings['live']!r}")
    _check_settings(settings)
    check_backend(settings["backend"])  # unknown or missing backend: fail before work
    return fn, dict(enumerate(materialize(items))), settings


def _check_shared(shared: Any) -> dict[str, Any]:
    if shared is None:
        return {}
    if not isinstance(shared, dict) or not all(
            isinstance(k, str) and k.isidentifier() for k in shared):
        raise InputError("shared must be a dict of keyword-argument names to objects, e.g. "
                         "shared={'model': model}; the function is called as fn(item, model=model)")
    return shared


def _check_signature(fn: Callable[..., Any], star: bool, shared: dict[str, Any]) -> None:
    """A function that cannot take one item (or, with ``star``, any arguments) is a mistake
    to report before starting anything."""
    import inspect

    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    if inspect.iscoroutinefunction(fn):
        raise InputError(f"{function_name(fn)} is an async function: workbench maps plain "
                         "functions; wrap it, e.g. lambda x: asyncio.run(fn(x))")
    if star:
        try:
            signature.bind_partial(**shared)
        except TypeError as exc:
            raise InputError(f"{function_name(fn)}{signature} cannot take shared= "
                             f"{sorted(shared)}: {exc}") from None
        return
    try:
        signature.bind(object(), **shared)
    except TypeError:
        if shared:
            raise InputError(
                f"{function_name(fn)}{signature} cannot be called as fn(item, "
                f"{', '.join(f'{k}=...' for k in shared)}): give it one parameter for the "
                "item and one keyword parameter per shared object") from None
        raise InputError(
            f"{function_name(fn)}{signature} cannot be called with one item: give it one "
            "parameter, or pass items that are argument tuples with star=True") from None


def _check_settings(settings: dict[str, Any]) -> None:
    settings["retries"] = retries = whole(settings["retries"])
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InputError(f"retries must be a whole number >= 0, got {retries!r}")
    timeout = settings["timeout"]
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, Real)
                                or not 0 < timeout < math.inf):
        raise InputError(f"timeout must be a number of seconds > 0 (finite), or None; got "
                         f"{timeout!r}")
    if timeout is not None:
        settings["timeout"] = float(timeout)
    settings["seed"] = seed = whole(settings["seed"])
    if seed is None:
        import numpy as np

        settings["seed"] = int(np.random.SeedSequence().entropy)
    elif isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be a whole number >= 0 or None, got {seed!r}")
    address = settings["address"]
    if address is not None and settings["backend"] not in ADDRESSED:
        raise InputError(f"address= is for the dask and ray backends, not "
                         f"{settings['backend']!r}: add backend='dask' or backend='ray'")
    if not isinstance(settings["backend_options"], dict):
        raise InputError("backend_options must be a dict, e.g. {'start_method': 'spawn'}")


def rerun_settings(previous: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The settings of a run again (:meth:`Run.rerun_failed`) with ``changes``, checked as
    :func:`workbench.run` checks its arguments."""
    if "shared" in changes:
        raise InputError("rerun_failed() keeps the shared objects of the run; to change them, "
                         "call workbench.run(fn, items, shared=...) again")
    unknown = sorted(set(changes) - set(previous))
    if unknown:
        raise InputError(f"rerun_failed() got unknown setting(s) {', '.join(unknown)}: "
                         f"choose from {', '.join(sorted(previous))}")
    again = {**previous, **changes}
    again["workers"] = check_workers(again["workers"])
    again["chunksize"] = check_chunksize(again["chunksize"])
    again["observers"] = tuple(again["observers"])
    # A rerun is a run of its own: a new journal file, unless one is named for it.
    again["journal"] = journal_setting(changes.get("journal", bool(again.get("journal"))))
    _check_settings(again)
    check_backend(again["backend"])
    return again


def check_backend(name: Any) -> None:
    """A backend that is installed, or ``"auto"``; an unknown name lists them all."""
    if name == AUTO:
        return
    try:
        backends.backend_class(name)
    except InputError as exc:
        raise InputError(f"{exc}, or {AUTO!r} (workbench times the first items and picks "
                         "one)") from None
