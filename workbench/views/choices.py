"""What a user types or picks in ``%%parallel``'s line and in the dashboard's controls: a
chunk size, a list of backends, and which backends a panel shows. One parser for both."""

from __future__ import annotations

from collections.abc import Sequence

from .. import backends as _backends
from ..errors import BackendNotInstalled, InputError

#: ``--backend all``: every installed backend.
ALL = "all"


def parse_chunksize(text: str, option: str = "chunksize") -> int | str:
    """``"auto"`` or the whole number in ``text`` (its range is checked where it is used:
    :func:`workbench.plan.check_chunksize`). ``option`` names the field in the message."""
    text = text.strip()
    if text == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{option} must be 'auto' or a whole number, got {text!r}") from None


def parse_backends(spec: str, option: str = "backend") -> list[str]:
    """``"all"`` (every installed backend) or a comma list of known, installed, distinct
    backend names (``auto`` among them: workbench picks, see :mod:`workbench.auto`)."""
    if spec.strip() == ALL:
        return _backends.installed()
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise InputError(f"{option} is empty: name one of "
                         f"{', '.join(_backends.NAMES)}, or '{ALL}'")
    if len(set(names)) != len(names):
        raise InputError(f"{option} lists a backend twice: {spec}")
    from ..checks import check_backend

    for name in names:
        try:
            check_backend(name)
        except (InputError, BackendNotInstalled) as exc:
            raise InputError(f"{option}: {exc}") from None
    return names


def offered_backends(names: Sequence[str] | None = None) -> list[str]:
    """The backends to choose from: ``names`` as a list, or every installed backend and
    ``auto`` when none are named."""
    from ..checks import AUTO

    return list(names) if names else [*_backends.installed(), AUTO]


def shown_backends(names: Sequence[str], comparing: bool) -> list[str]:
    """The backends a panel shows, in the order they run: a comparison runs serial first
    (adding it when it is not named), as :func:`workbench.compare` does."""
    if not comparing:
        return list(names)
    return ["serial"] + [n for n in names if n != "serial"]
