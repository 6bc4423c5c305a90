"""``compare``: the same items through several backends in turn, start-up kept apart from run
time, and a check that every backend's results equal serial's."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from . import backends as _backends
from .api import start
from .checks import ADDRESSED, check_backend, prepare
from .comparison import SHORT_TASK, Comparison, Row, same_results
from .engine import last_run
from .errors import BackendError, InputError
from .plan import materialize
from .views.format import same_text

#: The model lives in :mod:`workbench.comparison`; these names stay importable from here.
__all__ = ["compare", "Comparison", "Row", "SHORT_TASK", "same_results", "same_text"]


def compare(fn: Callable[..., Any], items: Iterable[Any],
            backends: Sequence[str] | None = None, **settings: Any) -> Comparison:
    """Run ``fn`` over ``items`` on each backend in turn and compare them with serial.

    ``backends`` defaults to every installed backend. ``serial`` runs first (it is added if
    missing): it is the reference for speed-up and for the results check. ``"auto"`` may be
    one of them: its row is labelled ``auto`` and its run says what it chose and why. Other keyword
    arguments are those of :func:`workbench.run`.

    Examples
    --------
    >>> cmp = workbench.compare(calc_chunk, range(20), backends=["serial", "process_map"])
    >>> cmp.all_same
    True
    """
    names = list(backends) if backends is not None else _backends.installed()
    if isinstance(backends, str):
        raise InputError(f"backends must be a list of names, e.g. [{backends!r}]")
    if not names:
        raise InputError("backends is empty: name at least one, e.g. ['serial', 'process_map']")
    for name in names:
        check_backend(name)  # an unknown or missing backend fails before any run
    if len(set(names)) != len(names):
        raise InputError(f"backends lists a name twice: {names}")
    ordered = ["serial"] + [n for n in names if n != "serial"]
    if settings.get("seed", 0) is None:  # fresh, but the same for every backend
        import numpy as np

        settings["seed"] = int(np.random.SeedSequence().entropy)
    data = materialize(items)  # a generator must feed every backend the same items
    journal = settings.pop("journal", None)
    # every backend's settings are checked before any runs; address= is for those it fits
    prepared = {name: prepare(fn, data, backend=name, journal=_journal(journal, name), **(
        settings if name in ADDRESSED else {**settings, "address": None})) for name in ordered}
    runs = {}
    for name in ordered:
        try:
            runs[name] = start(*prepared[name])
        except BackendError as exc:  # the runs before it are kept, and the others still run
            if name == "serial":
                raise
            runs[name] = last_run()  # failed, its tasks pending: a row that says so
            warnings.warn(f"workbench: compare goes on without {name}: {exc}", RuntimeWarning,
                          stacklevel=2)
            continue
        if runs[name].state == "cancelled":  # Stop means stop, not "next backend"
            break
    return Comparison(runs, "serial")


def _journal(journal: Any, backend: str) -> Any:
    """A journal file named for a comparison: one per backend (``etl.wbrun`` ->
    ``etl-dask.wbrun``); ``True``/``False``/not given as they are."""
    from .config import NOT_GIVEN

    if journal is None:
        return NOT_GIVEN
    if isinstance(journal, (str, os.PathLike)) and os.fspath(journal):
        path = Path(os.fspath(journal)).expanduser()
        return path.with_name(f"{path.stem}-{backend}{path.suffix or '.wbrun'}")
    return journal
