"""``process_map``: a pool of local worker processes, in the spirit of tqdm's ``process_map``.

workbench keeps its own small pool instead of ``ProcessPoolExecutor`` because it must know
which worker runs which chunk: records stream back while a chunk runs, a dead worker names the
chunk it held and is replaced (the pool never turns "broken"), and a chunk that must stop is
asked to, then its worker is killed and replaced if it does not.

Each worker has its own duplex pipe (the worker's side is :mod:`.process_worker`).

The default start method is ``forkserver`` where the platform has it (the default from Python
3.14), else ``spawn``: forking a threaded kernel can deadlock. ``fork`` is available through
``backend_options={"start_method": "fork"}``. Functions travel by value (cloudpickle), so
notebook functions, lambdas and closures work under every start method.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import time
from collections import deque
from typing import Any

from ..contract import DIED, STOPPED, Loss
from ..payload import function_size, raw_view
from ..worker import functions
from . import main_module, process_worker
from .base import TIMEOUT_GRACE, Backend, Chunk, Outcome, timeout_loss

#: Seconds a cancelled chunk may take to stop by itself before its worker is killed.
CANCEL_GRACE = 1.0
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


class _Worker:
    __slots__ = ("slot", "name", "process", "conn", "keys", "chunks", "kill_at", "limits",
                 "quiet_since")

    def __init__(self, slot: int, name: str, process: Any, conn: Any):
        self.slot = slot
        self.name = name
        self.process = process
        self.conn = conn
        self.keys = functions.mirror()  # the functions this worker holds
        self.chunks: deque[int] = deque()  # chunk ids sent, in order
        self.kill_at: float | None = None  # deadline of a cancel request
        self.limits: dict[int, float | None] = {}  # chunk id -> the run's per-task timeout
        self.quiet_since = time.monotonic()  # its last message, or the start of its work


class ProcessMapBackend(Backend):
    streams = True
    stops_stuck_tasks = True
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
            self._ctx.set_forkserver_preload(["workbench.backends.process_worker"])
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
        process = self._ctx.Process(target=process_worker.main, args=(child, name, threads),
                                    name=f"workbench-{name}", daemon=False)
        with main_module.not_rerun():  # a script without the __main__ guard works too
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
            if chunk.key not in w.keys:  # (a worker that dies meanwhile is replaced, mirror too)
                blob = self._functions[chunk.key]
                forget = w.keys.add(chunk.key, None, function_size(blob))
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
                outcomes += self._lose(w, Loss(STOPPED, "stopped: the worker did not stop in "
                                                        "time and was killed", True))
            elif w.chunks and self._hung(w):
                outcomes += self._lose(w, timeout_loss(w.limits[w.chunks[0]], "killed"))
        return outcomes

    @staticmethod
    def _hung(w: _Worker) -> bool:
        limit = w.limits.get(w.chunks[0])
        return limit is not None and time.monotonic() - w.quiet_since > limit + TIMEOUT_GRACE

    def _receive(self, w: _Worker) -> list[Outcome]:
        outcomes = []
        try:
            while w.conn.poll():
                wire = w.conn.recv_bytes()  # (what conn.recv() unpickles; kept for the journal)
                kind, chunk_id, result = pickle.loads(wire)
                if kind == "live":  # (not a sign of progress: a task stuck in C has it too)
                    if self._live_sink is not None:
                        self._live_sink(result)
                    continue
                w.quiet_since = time.monotonic()
                done = kind == "done"
                outcomes.append(Outcome(chunk_id, result, done=done, wire=wire))
                if done and w.chunks and w.chunks[0] == chunk_id:
                    w.chunks.popleft()
                    w.limits.pop(chunk_id, None)
                    if not w.chunks:
                        w.kill_at = None
        except (EOFError, OSError):
            pass  # the worker died; _lose() reports its chunks
        return outcomes

    def _lose(self, w: _Worker, loss: Loss | None = None) -> list[Outcome]:
        """``w`` died, or was killed for ``loss`` (it would not stop when cancelled, or a
        task hung past its timeout): its chunks are over; replace it. Only its first chunk
        had started: the others waited in its queue."""
        if loss is None:
            w.process.join(2)  # it is exiting: wait for its exit code
            loss = Loss(DIED, _describe_exit(w.process.exitcode), True)
        # what it sent before it died is still in the pipe: a finished chunk is not lost
        early = self._receive(w)
        outcomes = early + [Outcome(chunk_id, None, done=True, loss=loss._replace(started=n == 0))
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


def _start_error(message: str):
    from ..errors import BackendError

    return BackendError(f"process_map: {message}")
