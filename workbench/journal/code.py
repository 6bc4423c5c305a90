"""What a function's code is, so a resumed run can tell the user when it is not the code that
ran before: its source text (for the message) and a hash of its compiled code (the test)."""

from __future__ import annotations

import difflib
import functools
import hashlib
import inspect
import tokenize
import types
from collections.abc import Callable
from typing import Any


def _unwrap(fn: Any) -> Any:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def source(fn: Callable[..., Any]) -> str | None:
    """The function's source text (a notebook cell's too: IPython keeps it), or None."""
    fn = _unwrap(fn)
    code = getattr(fn, "__code__", None)
    return _source(code) if code is not None else None


@functools.lru_cache(maxsize=64)  # the same function run again: no second look at its file
def _source(code: types.CodeType) -> str | None:
    """Read from ``linecache`` (where IPython keeps cells too) by the code's own file and first
    line: ``inspect.getsource`` would first look for the code's module among every module
    loaded, a fifth of a second with Dask imported."""
    import linecache

    lines = linecache.getlines(code.co_filename)
    if not lines or code.co_firstlineno > len(lines):
        return None
    try:
        return "".join(inspect.getblock(lines[code.co_firstlineno - 1:]))
    except (IndexError, SyntaxError, ValueError, tokenize.TokenError):
        return None


def code_hash(fn: Callable[..., Any]) -> str | None:
    """A hash of the function's bytecode and constants, nested functions included; the same
    code defined again hashes the same, an edited body does not. None for a builtin."""
    code = getattr(_unwrap(fn), "__code__", None)
    if code is None:
        return None
    digest = hashlib.sha256()
    _feed(digest, code)
    return digest.hexdigest()[:16]


def _feed(digest: Any, code: types.CodeType) -> None:
    digest.update(code.co_code)
    digest.update(repr(code.co_names).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _feed(digest, const)
        else:
            digest.update(_stable(const).encode())


def _stable(const: Any) -> str:
    """``repr`` of a constant, the same in every process: a frozenset's order depends on the
    string hash seed, so its elements are sorted."""
    if isinstance(const, frozenset):
        return "frozenset(" + ", ".join(sorted(map(_stable, const))) + ")"
    if isinstance(const, tuple):
        return "(" + ", ".join(map(_stable, const)) + ")"
    return repr(const)


def change(name: str, old_source: str | None, new_source: str | None) -> str:
    """One line naming what changed in ``name``: the first lines that differ."""
    if not old_source or not new_source:
        return f"{name} is not the code that ran before (its bytecode differs)"
    old, new = old_source.splitlines(), new_source.splitlines()
    removed = [line[1:].strip() for line in difflib.unified_diff(old, new, lineterm="", n=0)
               if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in difflib.unified_diff(old, new, lineterm="", n=0)
             if line.startswith("+") and not line.startswith("+++")]
    if removed and added:
        what = f"`{removed[0]}` is now `{added[0]}`"
    elif added:
        what = f"`{added[0]}` was added"
    elif removed:
        what = f"`{removed[0]}` was removed"
    else:
        what = "only its layout changed"
    more = max(len(removed), len(added)) - 1
    return (f"{name} changed since the run: {what}"
            + (f" (and {more} more changed line{'s' if more > 1 else ''})" if more > 0 else ""))
