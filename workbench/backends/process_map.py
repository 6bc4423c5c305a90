"""``process_map``: a pool of local worker processes, in the spirit of tqdm's ``process_map``.

workbench keeps its own small pool instead of ``ProcessPoolExecutor`` because it must know
which worker runs which chunk: records stream back while a chunk runs, a dead worker names the
chunk it held and is replaced (the pool never turns "broken"), and a chunk that must stop is
asked to, then its worker is killed and replaced if it does not.

Each worker has its own duplex pipe. A reader thread in the worker empties the pipe at once, so
the caller never blocks sending a large chunk to a busy worker. Workers ignore SIGINT (Jupyter's
"Interrupt kernel" signals the whole process group); the caller decides what stops. A worker
whose caller disappears sees its pipe close and exits.

The default start method is ``forkserver`` where the platform has it (the default from Python
3.14), else ``spawn``: forking a threaded kernel can deadlock. ``fork`` is available through
``backend_options={"start_method": "fork"}``. Functions travel by value (cloudpickle), so
notebook functions, lambdas and closures work under every start method.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from typing import Any, Iterator

from .. import capture
from ..payload import function_size, raw_view
from .base import Backend, Chunk, Outcome

#: Seconds a cancelled chunk may take to stop by itself before its worker is killed.
CANCEL_GRACE = 1.0
#: Seconds past a run's per-task ``timeout`` that a silent worker gets before it is killed
#: (a task stuck in C code that never returns to Python cannot be interrupted otherwise).
TIMEOUT_GRACE = 2.0
TIMEOUT_CAUSE = "timeout"
_START_TIMEOUT = 60.0


def _default_start_method() -> str:
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "worker died"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"worker died: signal {-code} ({name})"
    return f"worker died: exit code {code}"


# --------------------------------------------------------------------------- in the worker
#: What numpy's BLAS, OpenMP and friends read for their thread count.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _cap_threads(threads: int) -> None:
    """Workers x threads must not exceed the cores: cap the math libraries' thread pools
    (unless the user set them). Read when those libraries load, i.e. after this in spawned and
    forkserver workers; a forked worker that inherited loaded ones is capped live if
    threadpoolctl is installed."""
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, str(threads))
    if "numpy" in sys.modules:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return
        threadpool_limits(int(os.environ["OMP_NUM_THREADS"]))


def _worker_main(conn: multiprocessing.connection.Connection, name: str,
                 threads: int = 1) -> None:
    """Entry point of a worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _cap_threads(threads)
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    cancelled: set[int] = set()

    def read() -> None:
        while True:
            try:
                message = conn.recv()
                if message[0] == "run" and message[3] is not None:
                    # a function's large buffers follow, one raw message each, read
                    # straight into writable memory (no pickling, no extra copy)
                    main, sizes = message[3]
                    buffers = []
                    for size in sizes:
                        buffer = bytearray(size)
                        if size:
                            conn.recv_bytes_into(buffer)
                        else:
                            conn.recv_bytes()
                        buffers.append(buffer)
                    message = (*message[:3], (main, buffers), *message[4:])
            except (EOFError, OSError):
                os._exit(0)  # the caller is gone: nobody will read our results
            if message[0] == "cancel":
                cancelled.update(message[1])
            else:
                inbox.put(message)

    threading.Thread(target=read, name="workbench-reader", daemon=True).start()
    conn.send(("ready", os.getpid()))
    while True:
        message = inbox.get()
        if message[0] == "stop":
            return
        _, chunk_id, key, blob, forget, tasks, items, options = message
        capture.forget_functions(forget)
        if chunk_id in cancelled:
            cancelled.discard(chunk_id)
            conn.send(("done", chunk_id, (name, os.getpid(), capture.HOST, [])))
            continue
        result = capture.execute(
            key, blob, tasks, items, options, worker=name,
            emit=lambda batch: conn.send(("part", chunk_id, batch)),
            stop=lambda: chunk_id in cancelled)
        cancelled.discard(chunk_id)
        conn.send(("done", chunk_id, result))


# --------------------------------------------------------------------------- in the caller
class _Worker:
    __slots__ = ("slot", "name", "process", "conn", "keys", "chunks", "kill_at", "limits",
                 "quiet_since")

    def __init__(self, slot: int, name: str, process: Any, conn: Any):
        self.slot = slot
        self.name = name
        self.process = process
        self.conn = conn
        self.keys: dict[bytes, int] = {}  # functions this worker holds -> pickle size
        self.chunks: deque[int] = deque()  # chunk ids sent, in order
        self.kill_at: float | None = None  # deadline of a cancel request
        self.limits: dict[int, float | None] = {}  # chunk id -> the run's per-task timeout
        self.quiet_since = time.monotonic()  # its last message, or the start of its work


class ProcessMapBackend(Backend):
    streams = True
    prefetch = 2
    chunk_target = 0.1
    chunk_floor = 0.005

    def __init__(self, spec):
        super().__init__(spec)
        method = spec.option("start_method", _default_start_method())
        if method not in multiprocessing.get_all_start_methods():
            from ..errors import InputError

            raise InputError(f"start_method {method!r} is not available here: choose one of "
                             f"{', '.join(multiprocessing.get_all_start_methods())}")
        self._ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            # Forks from the server then start with workbench already imported.
            self._ctx.set_forkserver_preload(["workbench.backends.process_map"])
        self._workers: list[_Worker] = []
        self._functions: dict[bytes, bytes] = {}
        self._stash: list[Outcome] = []  # news found outside poll(), reported by the next one

    def processes(self) -> list[Any]:
        """The worker processes (replacements included). multiprocessing's own forkserver and
        resource tracker are not ours: they serve every pool and live until exit."""
        import psutil

        found = []
        for w in self._workers:
            try:
                found.append(psutil.Process(w.process.pid))
            except (psutil.Error, TypeError):
                continue
        return found

    # ----------------------------------------------------------------- life cycle
    def _spawn(self, slot: int) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        name = f"proc-{slot}"
        threads = self.spec.option("threads_per_worker",
                                   max(1, (os.cpu_count() or 1) // self._n))
        process = self._ctx.Process(target=_worker_main, args=(child, name, threads),
                                    name=f"workbench-{name}", daemon=False)
        with _without_main_script():
            process.start()
        child.close()
        return _Worker(slot, name, process, parent)

    def _await_ready(self, workers: list[_Worker]) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        for w in workers:
            if not w.conn.poll(max(0.0, deadline - time.monotonic())):
                raise _start_error(f"worker {w.name} did not start within {_START_TIMEOUT:.0f} s")
            try:
                w.conn.recv()
            except EOFError:
                w.process.join(1)
                raise _start_error(
                    f"worker {w.name} failed to start ({_describe_exit(w.process.exitcode)}); "
                    "in a script, put the code that starts runs under "
                    "`if __name__ == '__main__':` (workers import the main module)") from None

    def start(self) -> None:
        self._workers = [self._spawn(slot) for slot in range(self._n)]
        self._await_ready(self._workers)
        self._started = True

    @property
    def alive(self) -> bool:
        return self._started and all(w.process.is_alive() for w in self._workers)

    def _replace(self, w: _Worker) -> None:
        """Kill ``w`` (if it still runs) and put a fresh worker in its slot."""
        if w.process.is_alive():
            w.process.kill()
        w.process.join(5)
        w.conn.close()
        fresh = self._spawn(w.slot)
        self._workers[w.slot] = fresh
        self._await_ready([fresh])

    def shutdown(self) -> None:
        workers, self._workers = self._workers, []
        for w in workers:
            try:
                w.conn.send(("stop",))
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 2.0
        for w in workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join(5)
            w.conn.close()
        self._functions.clear()
        self._started = False

    # ----------------------------------------------------------------- work
    def prepare(self, key: bytes, function: Any) -> None:
        self._functions = {key: function}

    def submit(self, chunk: Chunk) -> None:
        for _ in range(3):
            w = min(self._workers, key=lambda w: len(w.chunks))
            blob, forget, head = None, [], None
            if chunk.key not in w.keys:
                blob = self._functions[chunk.key]
                forget = _make_room(w.keys, function_size(blob))
                main, buffers = blob
                views = [raw_view(b) for b in buffers]
                head = (main, [v.nbytes for v in views])
            try:
                w.conn.send(("run", chunk.id, chunk.key, head, forget, chunk.tasks,
                             chunk.items, chunk.options))
                if head is not None:
                    for view in views:
                        w.conn.send_bytes(view)
            except (BrokenPipeError, ConnectionResetError, EOFError):
                # it died since the last poll: report its chunks next poll, use a new one
                self._stash += self._lose(w)
                continue
            w.keys[chunk.key] = (function_size(blob) if blob is not None
                                 else w.keys[chunk.key])
            if not w.chunks:
                w.quiet_since = time.monotonic()
            w.chunks.append(chunk.id)
            w.limits[chunk.id] = chunk.options.timeout
            return
        raise _start_error("workers keep dying on start; see the lost tasks' causes")

    def poll(self, timeout: float) -> list[Outcome]:
        waitables: list[Any] = [w.conn for w in self._workers]
        waitables += [w.process.sentinel for w in self._workers]
        if any(w.kill_at is not None for w in self._workers):
            timeout = min(timeout, 0.05)
        if self._stash:
            timeout = 0
        ready = set(multiprocessing.connection.wait(waitables, timeout))
        outcomes, self._stash = self._stash, []
        for w in list(self._workers):
            if w.conn in ready or w.process.sentinel in ready:
                outcomes += self._receive(w)
            if not w.process.is_alive():
                outcomes += self._lose(w)
            elif w.kill_at is not None and time.monotonic() > w.kill_at:
                outcomes += self._lose(w, "stopped: the worker did not stop in time and was "
                                          "killed")
            elif w.chunks and self._hung(w):
                outcomes += self._lose(w, f"{TIMEOUT_CAUSE}: ran past the timeout of "
                                          f"{w.limits[w.chunks[0]]:g} s and did not stop (stuck "
                                          "outside Python?); its worker was killed")
        return outcomes

    @staticmethod
    def _hung(w: _Worker) -> bool:
        limit = w.limits.get(w.chunks[0])
        return limit is not None and time.monotonic() - w.quiet_since > limit + TIMEOUT_GRACE

    def _receive(self, w: _Worker) -> list[Outcome]:
        outcomes = []
        try:
            while w.conn.poll():
                kind, chunk_id, result = w.conn.recv()
                w.quiet_since = time.monotonic()
                done = kind == "done"
                outcomes.append(Outcome(chunk_id, result, done=done))
                if done and w.chunks and w.chunks[0] == chunk_id:
                    w.chunks.popleft()
                    w.limits.pop(chunk_id, None)
                    if not w.chunks:
                        w.kill_at = None
        except (EOFError, OSError):
            pass  # the worker died; _lose() reports its chunks
        return outcomes

    def _lose(self, w: _Worker, cause: str | None = None) -> list[Outcome]:
        """``w`` died, or was killed for ``cause`` (it would not stop when cancelled, or a
        task hung past its timeout): its chunks are over; replace it."""
        if cause is None:
            w.process.join(2)  # it is exiting: wait for its exit code
            cause = _describe_exit(w.process.exitcode)
        # what it sent before it died is still in the pipe: a finished chunk is not lost
        early = self._receive(w)
        outcomes = early + [Outcome(chunk_id, None, done=True, lost=cause, started=n == 0)
                    for n, chunk_id in enumerate(w.chunks)]
        w.chunks.clear()
        self._replace(w)
        return outcomes

    def cancel(self, chunk_ids: list[int]) -> None:
        ids = set(chunk_ids)
        deadline = time.monotonic() + CANCEL_GRACE
        for w in self._workers:
            mine = [c for c in w.chunks if c in ids]
            if mine:
                try:
                    w.conn.send(("cancel", mine))
                except (OSError, ValueError):
                    continue
                w.kill_at = deadline


@contextlib.contextmanager
def _without_main_script() -> Iterator[None]:
    """Start children without re-running the caller's script in them.

    Spawned and forkserver children normally run the main script again (as ``__mp_main__``),
    which is why plain multiprocessing needs an ``if __name__ == "__main__":`` guard, and why
    ``python - < script`` (``__file__`` is ``<stdin>``) fails outright. Functions and items
    travel by value (cloudpickle), so workers need nothing from the script: hide its path
    while a worker starts, and a script without the guard works too.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or getattr(main, "__spec__", None) is not None:
        yield  # a notebook, or `python -m package`: imported by name, guarded by its package
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _make_room(held: dict[bytes, int], size: int) -> list[bytes]:
    """Keys a worker must drop before it takes a new function of ``size`` bytes. The caller
    decides (within the worker's own cache limits), so it always knows what each worker holds
    and sends every function, with its shared objects, to each worker once."""
    forget = []
    while held and (len(held) >= capture.CACHE_FUNCTIONS // 2
                    or sum(held.values()) + size > capture.CACHE_BYTES // 2):
        key = next(iter(held))
        del held[key]
        forget.append(key)
    return forget


def _start_error(message: str):
    from ..errors import BackendError

    return BackendError(f"process_map: {message}")
