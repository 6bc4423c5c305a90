"""Loaded by every Dask worker workbench starts (a Dask "preload"): Jupyter's "Interrupt
kernel" signals the whole process group, and an unprotected Dask worker dies of it."""

from __future__ import annotations

import signal
from typing import Any


def dask_setup(worker: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
