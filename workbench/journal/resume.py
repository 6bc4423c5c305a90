"""``workbench.resume``: run again only the items of a journaled run that have no ``ok``
record, in a new session of the same file, and return one Run over all the items."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import InputError, JournalError
from ..events import Observer
from . import code, places
from .begin import Append
from .reader import load
from .rows import NotStored


def resume(id_or_path: Any = None, fn: Callable[..., Any] | None = None,
           items: Iterable[Any] | None = None, *, observers: Sequence[Observer] = (),
           **settings: Any) -> Any:
    """Finish a run that was cut off (a dead kernel, Stop, failures): the items without an
    ``ok`` record run again, with the stored function and items unless ``fn``/``items`` are
    given; other keyword arguments override the stored settings (``backend=``,
    ``workers=``, ...). Returns one :class:`Run` over all items, the old records kept.

    Examples
    --------
    >>> wb.runs().head(3)            # the id of the run that was cut off
    >>> run = wb.resume("20261202-140312-etl")
    """
    from ..api import start
    from ..checks import prepare, rerun_settings

    path = places.locate(id_or_path)
    old = load(path)
    if old.state == "running":
        from .claims import live_writer

        who = live_writer(path)
        where = f"process {who[1]} on {who[0]}" if who else "another process"
        raise JournalError(f"{path} is being written by {where}: resume it when its run "
                           "has ended")
    fn = _function(old, fn)
    every = _items(old, items)
    stored = old.spec.settings
    if "view" not in settings:
        settings["view"] = None
    if stored:
        kept = {**stored, "view": None}
        unknown = sorted(set(settings) - set(kept))
        if unknown:
            raise InputError(f"resume() got unknown setting(s) {', '.join(unknown)}")
        again = rerun_settings(kept, {k: v for k, v in settings.items()})
    else:  # settings not stored: the defaults, with what was given
        again = prepare(fn, [], **settings)[2]
    if settings["view"] is None:
        from ..config import NOT_GIVEN, resolve

        again["view"] = resolve("view", NOT_GIVEN)
    again["observers"] = tuple(observers)
    again["journal"] = Append(path)
    todo = {i: every[i] for i in old.indices if not (i in old._records and old.task(i).ok)}
    return start(fn, todo, again, prior=old, all_items=every)


def _function(old: Any, fn: Callable[..., Any] | None) -> Callable[..., Any]:
    name, was = old.fn_name, old.meta.get("fn_hash")
    if fn is None:
        fn = old.spec.fn
        if isinstance(fn, NotStored):
            raise JournalError(f"{fn.reason}: pass the function, wb.resume(..., fn={name})")
    elif not callable(fn):
        raise InputError(f"fn must be a function, got {type(fn).__name__}")
    now = code.code_hash(fn)
    if was and now and was != now:
        warnings.warn(code.change(name, old.meta.get("fn_source"), code.source(fn)) +
                      "; the finished tasks keep the results of the old code",
                      UserWarning, stacklevel=3)
    return fn


def _items(old: Any, items: Iterable[Any] | None) -> dict[int, Any]:
    from ..plan import materialize

    if items is None:
        first = old.spec.items.get(0)
        if isinstance(first, NotStored):
            raise JournalError(f"{first.reason}: pass the same items, wb.resume(..., "
                               "items=...)")
        return dict(old.spec.items)
    given = materialize(items)
    if len(given) != len(old):
        raise InputError(f"the run had {len(old)} items, items= has {len(given)}: pass the "
                         "same items, in the same order")
    return dict(enumerate(given))
