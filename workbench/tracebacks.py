"""Tracebacks that point at the user's code, whichever process ran it.

A function defined in a notebook cell or a script, or in a local module sent by value, reaches
a worker through cloudpickle, which renames the file of every code object it sends to
``"<dynamic-code>"`` (cloudpickle 3.1): the worker's traceback would name neither the cell nor
the line's source. So the two sides split the work:

* in the worker, :func:`format_exception` renders the traceback as usual, but names each frame
  of such code by a key of its code object (name, first line, a checksum of its bytecode);
* in the caller, which pickled that code and remembers where each key came from (see
  :func:`workbench.payload.encode_function`), :func:`localize` puts the file back, adds the
  line's source from the caller's ``linecache`` (where IPython keeps cell sources), and names a
  notebook cell as IPython does: ``Cell In[5], line 9, in load``.

The worker half imports only the standard library.
"""

from __future__ import annotations

import linecache
import re
import sys
import traceback
import zlib
from collections.abc import Iterable
from types import CodeType, TracebackType

#: What cloudpickle calls the file of code it pickled by value.
DYNAMIC = "<dynamic-code>"
_MARK = "<workbench-code {}>"
_FRAME = re.compile(r'^(?P<indent> *)File "(?P<file>.*)", line (?P<line>\d+), in (?P<name>.*)$')


def code_key(code: CodeType) -> str:
    """Names a code object the same way in the caller and in a worker that unpickled it."""
    return f"{code.co_name}:{code.co_firstlineno}:{zlib.crc32(code.co_code):08x}"


# --------------------------------------------------------------------------- in the worker
def format_exception(exc: BaseException, tb: TracebackType | None,
                     hide: Iterable[tuple[str, str]] = ()) -> str:
    """``traceback.format_exception``, with frames of by-value code named by :func:`code_key`
    (chained exceptions included), and frames ``(filename, function)`` in ``hide`` left out."""
    te = traceback.TracebackException(type(exc), exc, tb, lookup_lines=False)
    _mark(te, exc, tb, set())
    hidden = set(hide)
    if hidden:
        te.stack = traceback.StackSummary.from_list(
            [f for f in te.stack if (f.filename, f.name) not in hidden])
    return "".join(te.format())


def _mark(te: traceback.TracebackException | None, exc: BaseException | None,
          tb: TracebackType | None, seen: set[int]) -> None:
    if te is None or exc is None or id(te) in seen:
        return
    seen.add(id(te))
    for summary, (frame, _) in zip(te.stack, traceback.walk_tb(tb)):
        if frame.f_code.co_filename == DYNAMIC:
            summary.filename = _MARK.format(code_key(frame.f_code))
    for nested_te, nested in ((te.__cause__, exc.__cause__), (te.__context__, exc.__context__)):
        _mark(nested_te, nested, getattr(nested, "__traceback__", None), seen)
    for nested_te, nested in zip(getattr(te, "exceptions", None) or (),
                                 getattr(exc, "exceptions", None) or ()):
        _mark(nested_te, nested, nested.__traceback__, seen)


# --------------------------------------------------------------------------- in the caller
def localize(text: str, files: dict[str, str]) -> str:
    """The traceback ``text`` of a task as the user should read it: each frame of by-value
    code gets back its file (from ``files``, key -> file name, made when the function was
    pickled) and its line's source; a notebook cell is named ``Cell In[n]`` as IPython does."""
    if 'File "' not in text:
        return text
    label = _cell_labeller()
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        match = _FRAME.match(line.rstrip("\n"))
        if match is None:
            out.append(line)
            continue
        indent, filename, lineno = match["indent"], match["file"], int(match["line"])
        marked = filename.startswith("<workbench-code ")
        if marked:
            filename = files.get(filename[len("<workbench-code "):-1], DYNAMIC)
        where = label(filename) if label is not None else None
        head = f"{where}, line {lineno}" if where else f'File "{filename}", line {lineno}'
        out.append(f"{indent}{head}, in {match['name']}\n")
        if marked:  # the worker had no source for it; the caller has
            source = linecache.getline(filename, lineno).strip()
            if source:
                out.append(f"{indent}  {source}\n")
    return "".join(out)


def _cell_labeller():  # -> Callable[[str], str | None] | None
    """``"Cell In[5]"`` for a file name IPython gave a cell, when IPython runs this process."""
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    name_of = getattr(getattr(shell, "compile", None), "format_code_name", None)
    if name_of is None:
        return None

    def label(filename: str) -> str | None:
        try:
            found = name_of(filename)
        except Exception:  # noqa: BLE001 - an IPython without this mapping
            return None
        return f"{found[0]} {found[1]}" if found else None

    return label
