"""The worker process of the ``process_map`` backend: it reads chunks from its pipe, runs them
(:func:`workbench.worker.run_chunk`) and sends their records back as they finish.

A reader thread empties the pipe at once, so the caller never blocks sending a large chunk to
a busy worker. The worker ignores SIGINT (Jupyter's "Interrupt kernel" signals the whole
process group): the caller decides what stops. When its caller disappears it sees its pipe
close and exits.
"""

from __future__ import annotations

import multiprocessing.connection
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable

from ..contract import ChunkReport
from ..worker import HOST, functions, live, run_chunk

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


def _senders(conn: multiprocessing.connection.Connection,
             name: str) -> Callable[[tuple], None]:
    """What sends records to the caller, and the live thread started with its own sender.
    Two threads send: a message over 16 KiB is two writes, which must not interleave; the
    live thread skips a tick rather than wait long."""
    sending = threading.Lock()

    def send(message: tuple) -> None:
        with sending:
            conn.send(message)

    def send_live(message: dict) -> None:
        if sending.acquire(timeout=0.2):
            try:
                conn.send(("live", None, message))
            finally:
                sending.release()

    live.start(send_live, name, HOST)
    return send


def main(conn: multiprocessing.connection.Connection, name: str,
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
                        buffer = functions.new_buffer(size)
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
    send = _senders(conn, name)
    send(("ready", os.getpid()))
    while True:
        message = inbox.get()
        if message[0] == "stop":
            return
        _, chunk_id, key, blob, forget, tasks, items, options = message
        functions.forget(forget)
        if chunk_id in cancelled:
            cancelled.discard(chunk_id)
            send(("done", chunk_id, ChunkReport(name, os.getpid(), HOST, [])))
            continue
        result = run_chunk(
            (key, blob), tasks, items, options, worker=name,
            emit=lambda batch: send(("part", chunk_id, batch)),  # noqa: B023 - run now
            stop=lambda: chunk_id in cancelled)  # noqa: B023 - called within this pass only
        cancelled.discard(chunk_id)
        send(("done", chunk_id, result))
