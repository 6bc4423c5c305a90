"""Live output on Ray: a small mailbox actor, owned by the caller (it ends with the caller and
holds no CPU: ``num_cpus=0``, so it never waits for a CPU that workbench's tasks fill).
Each worker process's live thread (:mod:`workbench.worker.live`) posts its messages to it
without waiting for an answer; the caller keeps one ``take`` call outstanding, which returns
when messages are there or after :data:`WAIT` seconds, and waits for it in the same
``ray.wait`` as the chunks. Everything goes over Ray's own connections (token included on a
cluster joined by address): no socket of workbench's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Longest a ``take`` waits for messages before it returns empty.
WAIT = 2.0

_mailbox_class: Any = None


def _mailbox(ray: Any) -> Any:
    global _mailbox_class
    if _mailbox_class is None:
        import asyncio

        class Mailbox:
            def __init__(self) -> None:
                self._items: list[Any] = []
                self._event = asyncio.Event()

            async def post(self, message: Any) -> None:
                self._items.append(message)
                self._event.set()

            async def take(self, wait: float) -> list[Any]:
                if not self._items:
                    try:
                        await asyncio.wait_for(self._event.wait(), wait)
                    except asyncio.TimeoutError:
                        pass
                items, self._items = self._items, []
                self._event.clear()
                return items

        _mailbox_class = ray.remote(num_cpus=0, max_restarts=0)(Mailbox)
    return _mailbox_class


class RayLive:
    """The caller's end: the mailbox, made at the first run that wants live output, and the
    outstanding ``take``."""

    def __init__(self) -> None:
        self.mailbox: Any = None
        self._take: Any = None

    def open(self, ray: Any) -> Any:
        """The mailbox handle (passed to every chunk), made near the caller the first time."""
        if self.mailbox is None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            here = ray.get_runtime_context().get_node_id()
            self.mailbox = _mailbox(ray).options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=True)).remote()
        return self.mailbox

    def refs(self, listening: bool) -> list[Any]:
        """What ``ray.wait`` should also wait for: the outstanding ``take``."""
        if listening and self.mailbox is not None and self._take is None:
            self._take = self.mailbox.take.remote(WAIT)
        return [] if self._take is None else [self._take]

    def deliver(self, ray: Any, ready: list[Any],
                sink: Callable[[dict[str, Any]], None] | None) -> list[Any]:
        """Of the refs ``ray.wait`` found ready, hand the mailbox's messages to ``sink`` and
        return the others (the chunks')."""
        if self._take is None or self._take not in ready:
            return ready
        take, self._take = self._take, None
        try:
            messages = ray.get(take)
        except Exception:  # noqa: BLE001 - the mailbox died: no live output, records still come
            self.mailbox = None
            messages = []
        if sink is not None:
            for message in messages:
                sink(message)
        return [ref for ref in ready if ref is not take]


def post_from_worker(mailbox: Any) -> Callable[[dict[str, Any]], None]:
    """In a Ray worker: send a live message to the mailbox, not waiting for it."""
    return lambda message: mailbox.post.remote(message)
