"""What a ``%%parallel`` line says, checked: backends, settings, ``--shared`` names,
``--over`` items and the cell's function. Each mistake is one IPython ``UsageError`` line,
raised before any task runs (:mod:`workbench.magic` is the magic itself)."""

from __future__ import annotations

import ast
from typing import Any

from IPython.core.error import UsageError

from .errors import InputError
from .plan import materialize
from .views.choices import parse_backends, parse_chunksize


def backend_names(spec: str) -> list[str]:
    try:
        return parse_backends(spec, "--backend")
    except InputError as exc:
        raise UsageError(str(exc)) from None


def check_journal(args: Any, names: list[str]) -> None:
    if args.journal is not None and args.no_journal:
        raise UsageError("--journal PATH and --no-journal contradict each other: give one")
    if args.resume is not None:
        if args.journal is not None or args.no_journal:
            raise UsageError("--resume writes to the journal of the run it resumes: leave "
                             "out --journal and --no-journal")
        if len(names) > 1:
            raise UsageError("--resume continues one run on one backend: give one --backend")
    elif args.over is None:
        raise UsageError("--over is required: the items to map, e.g. --over range(100) "
                         "(or --resume ID to finish a journaled run)")


#: What ``--resume`` takes from the line; the rest comes from the run it resumes.
RESUMED = ("backend", "workers", "chunksize", "timeout", "retries", "address", "seed")


def changes(line: str, names: list[str], settings: dict[str, Any]) -> dict[str, Any]:
    """``--resume``: the settings written on the line (not argparse's defaults), which
    override the resumed run's own."""
    import shlex

    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    given = {w[2:].split("=")[0] for w in words if w.startswith("--")}
    changes = {k: v for k, v in {**settings, "backend": names[0]}.items()
               if k in given and k in RESUMED}
    if "shared" in settings:
        raise UsageError("--resume keeps the shared objects of the run it resumes: leave "
                         "out --shared")
    return changes


def settings_of(args: Any) -> dict[str, Any]:
    from .plan import check_chunksize, check_workers

    try:
        chunksize = parse_chunksize(args.chunksize, "--chunksize")
    except InputError as exc:
        raise UsageError(str(exc)) from None
    try:
        settings = {"workers": check_workers(args.workers), "chunksize": check_chunksize(
            chunksize), "retries": args.retries, "star": args.star, "seed": args.seed}
    except InputError as exc:
        raise UsageError(f"--{str(exc).split()[0]}: {exc}") from None
    if args.retries < 0:
        raise UsageError(f"--retries must be 0 or more, got {args.retries}")
    if args.seed < 0:
        raise UsageError(f"--seed must be 0 or more, got {args.seed}")
    if args.timeout is not None:
        if not 0 < args.timeout < float("inf"):
            raise UsageError(f"--timeout must be a number of seconds > 0 (finite), got "
                             f"{args.timeout}")
        settings["timeout"] = args.timeout
    if args.address is not None:
        settings["address"] = args.address
    if args.no_live:
        settings["live"] = False
    if args.no_journal:
        settings["journal"] = False
    elif args.journal is not None:
        settings["journal"] = args.journal
    return settings


def shared_of(names: str, ns: dict[str, Any]) -> dict[str, Any]:
    shared = {}
    for name in (n.strip() for n in names.split(",")):
        if not name.isidentifier():
            raise UsageError(f"--shared {names}: {name!r} is not a variable name; give a "
                             "comma list of names, e.g. --shared model,table")
        if name not in ns:
            raise UsageError(f"--shared {name}: no such name in the notebook; define it in "
                             "an earlier cell")
        shared[name] = ns[name]
    return shared


def last_def(tree: ast.Module) -> str | None:
    """Name of the last top-level ``def`` of the cell, or ``None``."""
    defs = [node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return defs[-1] if defs else None


def evaluate_over(expression: str, ns: dict[str, Any]) -> list[Any]:
    expression = expression.strip()
    if len(expression) > 1 and expression[0] == expression[-1] and expression[0] in "'\"":
        expression = expression[1:-1]  # magic_arguments keeps the quotes around an argument
    try:
        value = eval(expression, ns)  # noqa: S307 - the user's own expression, in their namespace
    except NameError as exc:
        raise UsageError(f"--over {expression}: {exc}; define it in an earlier cell") from None
    except Exception as exc:  # noqa: BLE001
        raise UsageError(f"--over {expression}: evaluating it raised "
                         f"{type(exc).__name__}: {exc}") from None
    try:
        return materialize(value)
    except InputError as exc:
        raise UsageError(f"--over {expression}: {exc}") from None
