"""The text view: a tqdm bar that counts items (not chunks), then a one-line summary."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from ..events import BackendReady, RunFinished, RunStarted, TasksFinished
from .format import failed_count


def summary_line(run: Any) -> str:
    """One line about a finished run; every number comes from the Run."""
    speed = f", speed-up {run.speedup:.2f}x" if run.speedup else ""
    start = f" (+{run.startup_time:.2f} s start-up)" if run.startup_time >= 0.005 else ""
    where = f" ({run.cluster})" if getattr(run, "cluster", None) else ""
    return (f"{run.fn_name} on {run.backend}{where}: {run.counts_text()} in "
            f"{run.wall_time:.2f} s{start}{speed} [{run.state}]")


class TextView:
    """Observer that drives a tqdm bar on ``file`` (stderr by default)."""

    def __init__(self, file: TextIO | None = None):
        self._file = file
        self._bar: Any = None

    def __call__(self, event: Any) -> None:
        if isinstance(event, RunStarted):
            from tqdm.auto import tqdm

            run = event.run
            if run.reason:  # backend="auto": what it chose, and why, once
                print(f"{run.fn_name}: auto: {run.reason}", file=self._file or sys.stderr)
            self._bar = tqdm(total=len(run), unit="task", file=self._file or sys.stderr,
                             desc=f"{run.fn_name} [{run.backend}: starting]", leave=True)
        elif isinstance(event, BackendReady) and self._bar is not None:
            run = event.run
            self._bar.set_description(f"{run.fn_name} [{run.backend}]", refresh=False)
            self._bar.reset(total=len(run))  # rate and ETA count from here, not the start-up
        elif isinstance(event, TasksFinished) and self._bar is not None:
            if self._bar.total != len(event.run):  # a joblib call's run grows as it goes
                self._bar.total = len(event.run)
            failed = failed_count(event.run.counts)
            if failed:
                self._bar.set_postfix(failed=failed, refresh=False)
            self._bar.n = event.run.done
            self._bar.update(0)
        elif isinstance(event, RunFinished) and self._bar is not None:
            self._bar.n = event.run.done
            self._bar.close()
            self._bar = None
            print(summary_line(event.run), file=self._file or sys.stderr)
