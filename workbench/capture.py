"""The only workbench code that runs inside workers: call the function on each item of a chunk
and turn everything about the call into plain data.

For each item it times the call, captures ``print`` / ``sys.stdout`` / ``sys.stderr``, the
``logging`` module and ``warnings`` into that task's own buffer, and turns an exception into its
type name, message and traceback text. Capture is keyed by a :class:`contextvars.ContextVar`, so
two tasks running at once in two threads of one worker (a Dask worker with several threads)
never see each other's output; output written outside a task goes to the original streams.

This module imports only the standard library at import time: it is imported by every worker.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import signal
import socket
import sys
import threading
import time
import traceback
import warnings
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .tracebacks import format_exception

#: Default cap on what one task may write (stdout + stderr + logs + warnings), in characters.
MAX_OUTPUT = 1 << 20
#: Default cap on the number of ``logging`` records kept per task.
MAX_LOG_RECORDS = 10_000
#: How often (seconds) a streaming worker sends the records it has finished.
FLUSH_INTERVAL = 0.05


@dataclass(frozen=True)
class TaskOptions:
    """How the worker runs each item; the same for every chunk of a run."""

    star: bool = False
    seed: int = 0
    encode: bool = True  # pickle values and exceptions (False only in the caller's own process)
    max_output: int = MAX_OUTPUT
    capture_level: int = logging.INFO
    timeout: float | None = None  # seconds per task


class TaskTimeout(TimeoutError):
    """Raised inside a task that runs longer than the run's ``timeout``."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (or "Interrupt kernel") heard while a task ran in the caller's own process: it
    stops the run. A ``KeyboardInterrupt`` the task's code raises itself is that task's error,
    as on every other backend."""


def _stops_the_run(exc: KeyboardInterrupt) -> bool:
    if isinstance(exc, RunInterrupted):
        return True
    if threading.current_thread() is not threading.main_thread():
        return False  # Ctrl-C is delivered to the main thread only: the task raised it
    # Without workbench's SIGINT handler (someone else's is installed) the two cannot be
    # told apart: let it stop the run, as a Ctrl-C must.
    return not getattr(signal.getsignal(signal.SIGINT), "workbench_guard", False)


@contextlib.contextmanager
def deadline(seconds: float | None, index: int) -> Iterator[None]:
    """Raise :class:`TaskTimeout` in the running task after ``seconds``.

    In a process's main thread an interval timer (SIGALRM) interrupts even a sleeping task;
    in other threads (a Dask worker's) the exception is set asynchronously and lands at the
    next Python instruction. Code stuck inside one C call notices it only when that returns.
    """
    if seconds is None:
        yield
        return
    message = f"task {index} ran longer than the timeout of {seconds:g} s"
    fired = []  # a task that catches the TaskTimeout (``except Exception``) still timed out
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        def alarm(signum, frame):  # noqa: ANN001
            fired.append(True)
            raise TaskTimeout(message)

        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        if fired:
            raise TaskTimeout(message)
        return
    import ctypes

    thread_id, lock, state = threading.get_ident(), threading.Lock(), {"over": False}
    set_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc

    def expire() -> None:
        with lock:
            if not state["over"]:
                state["fired"] = True
                set_exc(ctypes.c_ulong(thread_id), ctypes.py_object(TaskTimeout))

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    _timed[thread_id] = (time.monotonic() + seconds, index)
    try:
        yield
    finally:
        _timed.pop(thread_id, None)
        with lock:
            state["over"] = True
            timer.cancel()
            if state.get("fired"):  # the task ended meanwhile: drop a pending exception
                set_exc(ctypes.c_ulong(thread_id), None)
    if state.get("fired"):
        raise TaskTimeout(message)


#: thread id -> (deadline, task index) of timed tasks running in threads other than main.
_timed: dict[int, tuple[float, int]] = {}


def overdue(grace: float) -> list[int]:
    """Indices of timed tasks running in this process more than ``grace`` seconds past their
    deadline: stuck in a C call the asynchronous TaskTimeout cannot interrupt. Their process
    must be restarted to stop them (the caller of a Dask cluster asks for this)."""
    now = time.monotonic()
    return [index for end, index in list(_timed.values()) if now > end + grace]


# --------------------------------------------------------------------------- task context
class TaskContext:
    """What the code of one running task can ask about itself (see :func:`current_task`)."""

    __slots__ = ("index", "attempt", "seed", "output", "logs", "warnings", "_size", "_limit",
                 "_dropped")

    def __init__(self, index: int, attempt: int, seed: int, limit: int):
        self.index = index
        self.attempt = attempt
        self.seed = seed
        # what it wrote: runs of one stream, each a list of pieces joined once at the end
        # (adding to one string would copy it on every write: quadratic in the output)
        self.output: list[tuple[str, list[str]]] = []
        self.logs: list[tuple[str, str, str, float]] = []
        self.warnings: list[tuple[str, str, str, int]] = []
        self._size = 0
        self._limit = limit
        self._dropped = 0

    def write(self, stream: str, text: str) -> None:
        size = self._size + len(text)
        if size > self._limit:
            room = max(self._limit - self._size, 0)
            self._dropped += len(text) - room
            text, size = text[:room], self._size + room
        if not text:
            return
        self._size = size
        out = self.output
        if out and out[-1][0] is stream:  # consecutive writes to one stream make one run
            out[-1][1].append(text)
        else:
            out.append((stream, [text]))

    def finish_output(self) -> tuple[tuple[str, str], ...]:
        if self._dropped:
            self.output.append(("stderr", [f"\n[workbench: output truncated, {self._dropped} "
                                           f"more characters dropped (limit {self._limit})]\n"]))
        return tuple((stream, "".join(pieces)) for stream, pieces in self.output)

    def __repr__(self) -> str:
        return f"<TaskContext index={self.index} attempt={self.attempt}>"


_current: ContextVar[TaskContext | None] = ContextVar("workbench_task", default=None)
_get_current = _current.get


def current_task() -> TaskContext | None:
    """The task running in this thread, or ``None`` outside a workbench task."""
    return _current.get()


# --------------------------------------------------------------------------- stream capture
class _TaskStream(io.TextIOBase):
    """Replaces ``sys.stdout`` / ``sys.stderr``: a task's writes go to its own buffer."""

    def __init__(self, name: str, original: Any):
        self._name = name
        self._original = original

    def write(self, text: str) -> int:
        ctx = _get_current()
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
        if _current.get() is None:
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
    def buffer(self) -> "_TaskBuffer":
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
        if _current.get() is None:
            return self._stream._original.buffer.write(data)
        view = memoryview(data)
        self._stream.write(bytes(view).decode(self._stream.encoding, "replace"))
        return view.nbytes

    def flush(self) -> None:
        self._stream.flush()


class _TaskLogHandler(logging.Handler):
    """Root-logger handler that keeps a running task's log records in that task's buffer."""

    def emit(self, record: logging.LogRecord) -> None:
        ctx = _current.get()
        if ctx is None or len(ctx.logs) >= MAX_LOG_RECORDS:
            return
        try:
            message = record.getMessage()
        except Exception as exc:  # a bad format string must not kill the task
            message = f"{record.msg!r} (could not format: {exc})"
        if record.exc_info and record.exc_info[0] is not None:
            message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        ctx.logs.append((record.levelname, record.name, message, record.created))
        ctx.write("log", f"{record.levelname}:{record.name}:{message}\n")


class _KeepToThemselves(logging.Filter):
    """Put on the root handlers that were there before capture (the user's console, a
    worker's log): a task's log records belong to its record only, as its prints do, and
    what the root level lowered for capture lets through, but the user's level would not,
    is dropped (so a serial run does not show INFO lines to a user who chose WARNING)."""

    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if _get_current() is not None:
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
            sys.stdout = _TaskStream("stdout", sys.stdout)
            sys.stderr = _TaskStream("stderr", sys.stderr)
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
    ctx = _current.get()
    if ctx is None:
        return _original_showwarning(message, category, filename, lineno, file, line)
    ctx.warnings.append((category.__name__, str(message), str(filename), int(lineno)))
    ctx.write("warning", warnings.formatwarning(message, category, filename, lineno, line))


def install_capture(level: int = logging.INFO) -> None:
    """Install the capture hooks in this process (reference counted)."""
    _capture.install(level)


def uninstall_capture() -> None:
    _capture.uninstall()


# --------------------------------------------------------------------------- nested pools
_nested_guard = False


def guard_nested_processes() -> None:
    """In a worker, a task that starts processes of its own (a ``multiprocessing.Pool``, a
    ``ProcessPoolExecutor``, joblib) gets a warning in its record: workers x its processes
    oversubscribe the cores. Where the worker is daemonic (Dask), which cannot have children,
    it fails with one clear line instead of multiprocessing's bare AssertionError."""
    global _nested_guard
    if _nested_guard:
        return
    _nested_guard = True
    import multiprocessing.process

    original = multiprocessing.process.BaseProcess.start

    def start(self):  # noqa: ANN001, ANN202
        task = _current.get()
        if task is not None:
            if multiprocessing.process.current_process().daemon:
                raise RuntimeError(
                    f"task {task.index} starts a process inside a daemonic worker (Dask's "
                    "are), which cannot have children: use backend='process_map' or 'ray' "
                    "for a function that starts its own pool, or give it one worker's work")
            warnings.warn(
                f"task {task.index} starts processes inside a workbench worker: "
                f"{os.cpu_count()} cores are now shared by every worker and its processes; "
                "let workbench parallelise instead (map the inner items), or use fewer workers",
                RuntimeWarning, stacklevel=2)
        return original(self)

    multiprocessing.process.BaseProcess.start = start


# --------------------------------------------------------------------------- seeds
def task_seed_sequence():  # -> numpy.random.SeedSequence
    """The :class:`numpy.random.SeedSequence` of the running task.

    It is derived from the run's ``seed`` and the item's index only, so the same item gets the
    same random numbers on every backend, chunk size and attempt. Outside a task it is the
    sequence of the run seed 0 with no index.
    """
    import numpy as np

    ctx = _current.get()
    if ctx is None:
        return np.random.SeedSequence(0)
    return np.random.SeedSequence(ctx.seed, spawn_key=(ctx.index,))


def task_rng():  # -> numpy.random.Generator
    """A :class:`numpy.random.Generator` seeded for the running task (see :func:`task_seed_sequence`).

    Examples
    --------
    >>> def calc_chunk(n):
    ...     xy = workbench.task_rng().random((n, 2))
    ...     return int(((xy ** 2).sum(axis=1) <= 1).sum())
    """
    import numpy as np

    return np.random.default_rng(task_seed_sequence())


# --------------------------------------------------------------------------- running tasks
_functions: dict[bytes, tuple[Callable[..., Any], int]] = {}  # key -> (function, blob size)
#: A worker keeps at most this many functions, and this many bytes of their pickles (a function
#: may carry large shared objects); the one just loaded is never dropped.
CACHE_FUNCTIONS = 16
CACHE_BYTES = 1 << 30
HOST = socket.gethostname()
_reset_warning_registries = getattr(warnings, "_filters_mutated", None)


def has_function(key: bytes) -> bool:
    """Whether this process holds the function ``key`` already (its blob need not come)."""
    return key in _functions


def load_function(key: bytes, blob: Any) -> Callable[..., Any]:
    """The function for ``key``: unpickled from ``blob`` once per process, then cached.

    ``blob`` is a pickle, or ``(pickle, buffers)``: a protocol 5 pickle whose large buffers
    (arrays) travel beside it, out of band. A buffer that is not a ``bytearray`` (bytes,
    shared memory, a frame of a network message) is copied once into one, so the function's
    arrays are writable and laid out in memory as after an ordinary unpickling (numpy's
    sums can differ in the last bit on memory aligned otherwise)."""
    entry = _functions.get(key)
    if entry is None:
        if blob is None:
            raise LookupError("the function was not sent to this worker")
        if isinstance(blob, tuple):
            main, buffers = blob
            buffers = [b if type(b) is bytearray else bytearray(b) for b in buffers]
            size = len(main) + sum(memoryview(b).nbytes for b in buffers)
            entry = (pickle.loads(main, buffers=buffers), size)
        else:
            entry = (pickle.loads(blob), len(blob))
        _functions[key] = entry
        while len(_functions) > 1 and (len(_functions) > CACHE_FUNCTIONS or sum(
                size for _, size in _functions.values()) > CACHE_BYTES):
            _functions.pop(next(iter(_functions)))
    return entry[0]


def forget_functions(keys: Any) -> None:
    """Drop cached functions (the caller decides, so that it knows what each worker holds)."""
    for key in keys:
        _functions.pop(key, None)


def _error_tuple(exc: BaseException, encode: bool, skip_frames: int = 1):
    tb = exc.__traceback__
    for _ in range(skip_frames):  # hide workbench's own frames
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    # a timeout shows where the task was, not the alarm handler
    hide = ((__file__, "alarm"),) if isinstance(exc, TaskTimeout) else ()
    text = format_exception(exc, tb, hide)
    payload: Any = exc
    if encode:
        try:
            payload = pickle.dumps(exc)
            pickle.loads(payload)  # it must also come back to life in the caller
        except Exception:
            payload = None
    exc.__traceback__ = None  # do not keep frames (and their locals) alive in the caller
    return (type(exc).__name__, str(exc), text, payload)


#: Result types that every pickler handles and every process can load: such a value travels
#: inside the chunk's own message, with status :data:`OK_PLAIN`; any other value is pickled
#: on its own, so that one that cannot travel (or load) fails alone as ``UnpicklableResult``.
_PLAIN = frozenset({int, float, str, bytes, bool, type(None), complex})
OK_PLAIN = "ok:plain"


def _encode_value(value: Any) -> bytes:
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        import cloudpickle  # lambdas, local classes, ...

        return cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def run_task(fn: Callable[..., Any], index: int, attempt: int, item: Any,
             options: TaskOptions) -> tuple:
    """Run one item; return its raw record (see :func:`workbench.engine.decode`)."""
    ctx = TaskContext(index, attempt, options.seed, options.max_output)
    token = _current.set(ctx)
    if _reset_warning_registries is not None:
        _reset_warning_registries()  # each task sees its warnings as a fresh process would
    status, value, error = "ok", None, None
    start = time.time()
    try:
        if options.timeout is None:
            value = fn(*item) if options.star else fn(item)
        else:
            with deadline(options.timeout, index):
                value = fn(*item) if options.star else fn(item)
    except BaseException as exc:  # noqa: BLE001 - every failure becomes data
        if isinstance(exc, KeyboardInterrupt) and not options.encode and _stops_the_run(exc):
            raise  # in the caller's own process, Ctrl-C must stop the run
        if type(exc) is TaskTimeout and not exc.args:  # set asynchronously: say what it is
            exc = TaskTimeout(f"task {index} ran longer than the timeout of "
                              f"{options.timeout:g} s").with_traceback(exc.__traceback__)
        status, error = "error", _error_tuple(exc, options.encode)
    end = time.time()
    _current.reset(token)
    if status == "ok" and options.encode:
        if type(value) in _PLAIN:  # travels as it is: no pickle of its own
            status = OK_PLAIN
        else:
            try:
                value = _encode_value(value)
            except Exception as exc:
                kind = type(value).__name__
                status, value = "error", None
                error = (
                    "UnpicklableResult",
                    f"the result of task {index} ({kind}) cannot be sent "
                    f"back from the worker: {exc}. Return plain data (numbers, strings, "
                    "lists, dicts, arrays) instead.",
                    "", None)
    return (index, status, value, error, ctx.finish_output(), tuple(ctx.logs),
            tuple(ctx.warnings), start, end, attempt)


def execute(key: bytes, blob: bytes | None, tasks: list[tuple[int, int]], items: Any,
            options: TaskOptions, worker: str,
            emit: Callable[[tuple], None] | None = None,
            stop: Callable[[], bool] | None = None) -> tuple:
    """Run a chunk: ``tasks`` lists ``(index, attempt)``, ``items`` the items (or their pickle).

    Returns ``(worker, pid, host, [raw records])``. With ``emit``, finished records are also
    handed to it every :data:`FLUSH_INTERVAL` seconds, and the return holds the rest. When
    ``stop()`` turns true the remaining items are skipped (they get no record).
    """
    pid = os.getpid()
    guard_nested_processes()
    install_capture(options.capture_level)
    try:
        try:
            if isinstance(items, bytes):
                items = pickle.loads(items)
            fn = load_function(key, blob)
        except BaseException as exc:  # noqa: BLE001 - reported on every item of the chunk
            kind, message, text, payload = _error_tuple(exc, options.encode, skip_frames=0)
            err = (kind, f"could not load the function or its items in the worker: "
                         f"{kind}: {message}", text, payload)
            now = time.time()
            return (worker, pid, HOST,
                    [(i, "error", None, err, (), (), (), now, now, a) for i, a in tasks])
        done: list[tuple] = []
        last = time.monotonic()
        for (index, attempt), item in zip(tasks, items):
            if stop is not None and stop():
                break
            done.append(run_task(fn, index, attempt, item, options))
            if emit is not None and time.monotonic() - last > FLUSH_INTERVAL:
                emit((worker, pid, HOST, done))
                done, last = [], time.monotonic()
        return (worker, pid, HOST, done)
    finally:
        uninstall_capture()
