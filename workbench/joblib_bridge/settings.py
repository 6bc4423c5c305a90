"""The settings of runs over joblib calls, checked once when the backend is chosen (each
mistake one :class:`~workbench.errors.InputError` line, as for :func:`workbench.run`)."""

from __future__ import annotations

from typing import Any

from ..errors import InputError

#: Settings of :func:`workbench.run` that a joblib call's run cannot take, and why.
NOT_FOR_JOBLIB = {
    "star": "joblib gives each call its own arguments",
    "shared": "joblib gives each call its own arguments",
    "chunksize": "joblib sizes its batches itself (one batch is one chunk); set "
                 "joblib's batch_size= to change it",
    "journal": "joblib calls are a library's internals and cannot be resumed, so they are "
               "not journaled; keep a run with run.save(path)",
}


def check_settings(on: Any, workers: Any,
                   settings: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """``(run settings, workers)``: the settings as :func:`workbench.checks.prepare` checks
    them, journal off; ``workers`` as given (``None``: the backend decides)."""
    from ..checks import AUTO, prepare
    from ..plan import check_workers
    from .calls import JoblibCall

    refused = sorted(set(settings) & set(NOT_FOR_JOBLIB))
    if refused:
        raise InputError(f"{refused[0]}= is not a setting of the joblib backend: "
                         f"{NOT_FOR_JOBLIB[refused[0]]}")
    try:
        _fn, _items, checked = prepare(JoblibCall("joblib"), [], backend=on, journal=False,
                                       workers=workers, **settings)
    except TypeError as exc:  # an unknown keyword
        raise InputError(f"the joblib backend got an unknown setting: {exc}; it takes on=, "
                         "workers=, address=, timeout=, retries=, seed=, backend_options=, "
                         "view=, observers= and live=") from None
    if checked["backend"] == AUTO:
        raise InputError("the joblib backend cannot take on='auto': joblib hands over its "
                         "calls as it goes, so none can be timed before a backend is taken; "
                         "name one, e.g. on='process_map'")
    checked["chunksize"] = 1  # joblib's batches are the chunks; a retried call goes alone
    return checked, check_workers(workers)
