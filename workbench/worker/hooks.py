"""The capture hooks: while a task runs, ``print`` / ``sys.stdout`` / ``sys.stderr``, the
``logging`` module and ``warnings`` write into that task's own context (see
:class:`.task_api.TaskContext`), and outside a task they behave as before.

They are installed process-wide, reference counted (:func:`install` / :func:`uninstall`),
and keyed by the task's context variable: two tasks running at once in two threads of one
worker (a Dask worker with several threads) never see each other's output.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
import traceback
import warnings
from typing import Any

from ..contract import LOG, STDERR, STDOUT, WARNING
from .task_api import MAX_LOG_RECORDS, current

_get = current.get


class _TaskStream(io.TextIOBase):
    """Replaces ``sys.stdout`` / ``sys.stderr``: a task's writes go to its own buffer."""

    def __init__(self, name: str, original: Any):
        self._name = name
        self._original = original

    def write(self, text: str) -> int:
        ctx = _get()
        if ctx is None:
            return self._original.write(text)
        if type(text) is not str and not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        n = len(text)
        if n and ctx._size + n <= ctx._limit:  # TaskContext.write's common case, inlined:
            ctx._size += n                      # a chatty task calls this for every print
            out = ctx.output
            if out and out[-1][0] is self._name:
                out[-1][1].append(text)
            else:
                out.append((self._name, [text]))
        elif n:
            ctx.write(self._name, text)
        return n

    def flush(self) -> None:
        if _get() is None:
            self._original.flush()

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # io.TextIOBase says None: code that encodes for us breaks
        return getattr(self._original, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:
        return getattr(self._original, "errors", None) or "strict"

    @property
    def buffer(self) -> _TaskBuffer:
        """Bytes written here are decoded into the task's output too."""
        return _TaskBuffer(self)

    def fileno(self) -> int:
        """The real stream's descriptor, for code that needs one (``subprocess.run(...,
        stdout=sys.stdout)``, ``faulthandler``): what is written to it by descriptor goes to
        the worker's own stream, not into the task's record."""
        return self._original.fileno()

    def __getattr__(self, name: str) -> Any:  # line_buffering, newlines, ...
        return getattr(self._original, name)


class _TaskBuffer(io.RawIOBase):
    """``sys.stdout.buffer`` inside a task."""

    def __init__(self, stream: _TaskStream):
        self._stream = stream

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if _get() is None:
            return self._stream._original.buffer.write(data)
        view = memoryview(data)
        self._stream.write(bytes(view).decode(self._stream.encoding, "replace"))
        return view.nbytes

    def flush(self) -> None:
        self._stream.flush()


class _TaskLogHandler(logging.Handler):
    """Root-logger handler that keeps a running task's log records in that task's buffer."""

    def emit(self, record: logging.LogRecord) -> None:
        ctx = _get()
        if ctx is None or len(ctx.logs) >= MAX_LOG_RECORDS:
            return
        try:
            message = record.getMessage()
        except Exception as exc:  # noqa: BLE001 - a bad format string must not kill the task
            message = f"{record.msg!r} (could not format: {exc})"
        if record.exc_info and record.exc_info[0] is not None:
            message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        ctx.logs.append((record.levelname, record.name, message, record.created))
        ctx.write(LOG, f"{record.levelname}:{record.name}:{message}\n")


class _KeepToThemselves(logging.Filter):
    """Put on the root handlers that were there before capture (the user's console, a
    worker's log): a task's log records belong to its record only, as its prints do, and
    what the root level lowered for capture lets through, but the user's level would not,
    is dropped (so a serial run does not show INFO lines to a user who chose WARNING)."""

    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if _get() is not None:
            return False
        if record.levelno >= self.level:
            return True
        logger = logging.Logger.manager.loggerDict.get(record.name)
        while isinstance(logger, logging.Logger) and logger.parent is not None:
            if logger.level:  # a level of its own let the record through, not ours
                return True
            logger = logger.parent
        return False


class _Capture:
    """Process-wide hooks, installed once per worker process (and for a run in the caller)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: tuple[Any, ...] = ()
        self._handler = _TaskLogHandler(level=logging.NOTSET)
        self._quiet: _KeepToThemselves | None = None

    def install(self, level: int = logging.INFO) -> None:
        with self._lock:
            self._users += 1
            if self._users > 1:
                return
            root = logging.getLogger()
            self._saved = (sys.stdout, sys.stderr, warnings.showwarning, root.level)
            sys.stdout = _TaskStream(STDOUT, sys.stdout)
            sys.stderr = _TaskStream(STDERR, sys.stderr)
            warnings.showwarning = _show_warning
            self._quiet = _KeepToThemselves(root.level)
            for handler in root.handlers:
                handler.addFilter(self._quiet)
            root.addHandler(self._handler)
            if root.level > level or root.level == logging.NOTSET:
                root.setLevel(level)

    def uninstall(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0 or not self._saved:
                return
            stdout, stderr, showwarning, level = self._saved
            # Put back only what is still ours: the user may have replaced it meanwhile.
            if isinstance(sys.stdout, _TaskStream):
                sys.stdout = stdout
            if isinstance(sys.stderr, _TaskStream):
                sys.stderr = stderr
            if warnings.showwarning is _show_warning:
                warnings.showwarning = showwarning
            root = logging.getLogger()
            root.removeHandler(self._handler)
            root.setLevel(level)
            for handler in root.handlers:
                handler.removeFilter(self._quiet)
            self._saved = ()


_capture = _Capture()
_original_showwarning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
    ctx = _get()
    if ctx is None:
        return _original_showwarning(message, category, filename, lineno, file, line)
    ctx.warnings.append((category.__name__, str(message), str(filename), int(lineno)))
    ctx.write(WARNING, warnings.formatwarning(message, category, filename, lineno, line))


def install(level: int = logging.INFO) -> None:
    """Install the capture hooks in this process (reference counted)."""
    _capture.install(level)


def uninstall() -> None:
    _capture.uninstall()
