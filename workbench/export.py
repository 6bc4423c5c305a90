"""A run as a table: :meth:`Run.to_pandas`, one row per task."""

from __future__ import annotations

from numbers import Number
from typing import Any

from .records import STDERR, STDOUT

COLUMNS = ["index", "status", "value", "error_type", "error_message", "start", "end",
           "duration", "worker", "pid", "host", "attempt", "stdout_chars", "stderr_chars",
           "log_lines", "warnings"]


def frame(run: Any) -> Any:
    """One row per finished task, in input order, with :data:`COLUMNS`. ``value`` holds a
    scalar result (number, string, bool, None) and is empty (None) for any other."""
    try:
        import pandas as pd
    except ImportError:
        from .errors import InputError

        raise InputError("run.to_pandas() needs pandas: pip install pandas") from None
    rows = []
    for r in run.tasks:
        sizes = {STDOUT: 0, STDERR: 0}
        for stream, text in r.output:
            if stream in sizes:
                sizes[stream] += len(text)
        value = r.value if isinstance(r.value, (Number, str, bool)) else None
        rows.append((r.index, r.status, value, r.error.type if r.error else None,
                     r.error.message if r.error else None, r.start, r.end, r.duration,
                     r.worker, r.pid, r.host, r.attempt, sizes[STDOUT], sizes[STDERR],
                     len(r.logs), len(r.warnings)))
    table = pd.DataFrame(rows, columns=COLUMNS)
    # Results of several types (or with gaps) stay as they are: no int turned into a float.
    table["value"] = pd.Series([row[2] for row in rows], dtype=object)
    return table
