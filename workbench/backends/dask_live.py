"""Live output on Dask: each worker process's live thread (:mod:`workbench.worker.live`)
logs its messages as Dask events (``Worker.log_event``, thread-safe: it hands the message to the
worker's event loop), the scheduler passes them on to the clients subscribed to the topic
(``Client.subscribe_topic``), and the handler, on the client's event loop, only puts them in
the backend's queue, which :meth:`DaskBackend.poll` reads. This is how Dask's own
``forward_logging`` works: no socket but Dask's own.

The scheduler keeps the last 1000 events of the topic (``distributed.admin.low-level-log-length``)
and shows them to every client of a shared scheduler (its dashboard's events too): a task's
live output is as visible there as its logs are to whoever runs the cluster.
"""

from __future__ import annotations

import functools
import queue
from collections.abc import Callable
from typing import Any

#: The Dask event topic of workbench's live messages (each names its run).
TOPIC = "workbench-live"


def start_here(options: Any) -> None:
    """On a Dask worker, in a task's thread (where ``get_worker`` works): send this process's
    live messages as events of :data:`TOPIC`, if the run asked for live output."""
    if options.live is None:
        return
    from distributed import get_worker

    from ..worker import HOST, live

    worker = get_worker()
    live.start(functools.partial(worker.log_event, TOPIC), str(worker.address), HOST)


def listen(client: Any, inbox: queue.SimpleQueue, on: bool) -> None:
    """Put the live messages of :data:`TOPIC` into ``inbox`` (``on``), or stop."""
    if client is None:
        return
    try:
        if on:
            client.subscribe_topic(TOPIC, lambda event: inbox.put(event[1]))
        else:
            client.unsubscribe_topic(TOPIC)
    except Exception:  # noqa: BLE001 - a closed client: no live output, the records still come
        return


def split(news: list[Any], sink: Callable[[dict[str, Any]], None] | None) -> list[Any]:
    """Of what the queue held, hand the live messages to ``sink``; return the rest (the ids
    of finished chunks)."""
    rest = []
    for item in news:
        if isinstance(item, dict):
            if sink is not None:
                sink(item)
        else:
            rest.append(item)
    return rest
