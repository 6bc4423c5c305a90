"""Ctrl-C while a run goes: heard by the run loop between two polls, never lost mid-record."""

from __future__ import annotations

from typing import Any


class SigintGuard:
    """While a run goes, Ctrl-C (or Jupyter's "Interrupt kernel") sets a flag that the loop
    reads within the loop's poll interval, instead of raising wherever the caller happens to be:
    a KeyboardInterrupt landing between taking a chunk's results and recording them would lose
    records. It still raises at once inside a task running in this very process (``serial``),
    where only the task is interrupted, and on a second Ctrl-C. Only the main thread can
    install it; elsewhere (and under a handler someone else installed) nothing changes."""

    def __init__(self) -> None:
        self.heard = False
        self._previous: Any = None

    def __enter__(self) -> SigintGuard:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is signal.default_int_handler:
                self._previous = previous
                signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum: int, frame: Any) -> None:
        from .worker.task_api import RunInterrupted, current_task

        again, self.heard = self.heard, True
        if again or current_task() is not None:
            raise RunInterrupted

    _handler.workbench_guard = True  # type: ignore[attr-defined]  # (see worker.task_api)

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            import signal

            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
