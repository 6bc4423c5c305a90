"""Let a widget (the Stop button) be heard while the cell that shows it is still running.

A Jupyter kernel handles widget messages on the thread that runs cells, so a button pressed
during a blocking cell is normally handled only after the cell ends. ipykernel 7 has
*subshells* (JEP 91): extra threads with their own message loop, and it routes a widget's
messages to the subshell the widget last spoke from (since ipykernel 7.4, which needs Python
3.11+). workbench starts one subshell per kernel and routes the Stop button there; its click
handler only sets a flag that the running cell reads. Where this is not available (ipykernel
< 7.4, so any kernel on Python 3.10), the button is heard only between cells (a run started
from a thread of your own), and its tooltip says that "Interrupt kernel" stops a running cell
and keeps its results.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

_subshell_id: str | None = None


def _kernel() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return getattr(shell, "kernel", None)


def _subshell(kernel: Any) -> str | None:
    global _subshell_id
    if _subshell_id is None:
        channel = getattr(kernel, "shell_channel_thread", None)
        if channel is None or not getattr(kernel, "_supports_kernel_subshells", False):
            return None
        manager = channel.manager  # created lazily, from the main thread
        future: Future = Future()

        def create() -> None:  # must run on the shell channel thread
            try:
                future.set_result(manager._create_subshell())
            except Exception as exc:  # noqa: BLE001
                future.set_exception(exc)

        channel.io_loop.add_callback(create)
        _subshell_id = future.result(timeout=5)
    return _subshell_id


NOT_HEARD = ("This kernel hears Stop only between cells (it needs ipykernel 7.4+, Python "
             "3.11+): to stop a running cell, use Kernel > Interrupt; it keeps finished results.")
NOT_HEARD_CHOICE = ("This kernel hears this choice only between cells (it needs ipykernel "
                    "7.4+, Python 3.11+).")


def hear_while_busy(widget: Any, not_heard: str = NOT_HEARD) -> bool:
    """Route ``widget``'s messages to a side thread; True if that worked. In a kernel where
    it cannot, the widget's tooltip says so and what to do instead.

    Call it again after changing the widget from the cell's thread: publishing a change routes
    replies back to the publishing thread.
    """
    kernel = _kernel()
    comm = getattr(widget, "comm", None)
    if kernel is None or comm is None:
        return False
    subshell = None
    if hasattr(comm, "_reply_subshell_for"):
        try:
            subshell = _subshell(kernel)
        except Exception:  # noqa: BLE001 - private API of one kernel version: degrade
            subshell = None
    if subshell is None:
        widget.tooltip = not_heard
        return False
    comm._reply_subshell_id = subshell
    return True
