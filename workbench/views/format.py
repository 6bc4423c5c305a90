"""How runs and comparisons read: numbers, counts, progress and the summary table.

Every view takes its words and numbers from here (the text view, the panel, ``repr(run)``,
``Comparison.table()``), so a number reads the same wherever it is shown. The summary table
is built once, as rows of cells, then rendered as Markdown or as HTML. Standard library only.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from ..records import ERROR, LOST, OK, STATUSES

#: What a table shows for a number that does not exist (no reference run, no wall time).
MISSING_TEXT, MISSING_HTML = "-", "—"
#: The style of the widget tables (the Summary and Errors tabs, the dashboard's history).
TABLE_STYLE = ("<style>.wb-table td, .wb-table th {padding: 2px 8px; text-align: left}"
               ".wb-table td {white-space: nowrap}"  # a header wraps: the table fits the cell
               ".wb-table th {white-space: normal; vertical-align: bottom; max-width: 7em}"
               ".wb-table tr:nth-child(even) {background: rgba(0,0,0,0.04)}</style>")


# --------------------------------------------------------------------- numbers
def factor(value: float | None, missing: str = MISSING_TEXT) -> str:
    """A speed-up: ``2.50x``."""
    return f"{value:.2f}x" if value is not None else missing


def percent(value: float | None, missing: str = MISSING_TEXT) -> str:
    """An efficiency: ``125%``."""
    return f"{value:.0%}" if value is not None else missing


def duration(seconds: float) -> str:
    """``4.2 s``, ``3 min 05 s``, ``2 h 07 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    return (f"{minutes} min {secs:02d} s" if minutes < 60
            else f"{minutes // 60} h {minutes % 60:02d} min")


def shown_name(run: Any) -> str:
    """The name a panel files a run under: ``auto`` for a run whose backend
    ``backend="auto"`` chose (it has a ``reason``), else its backend."""
    return "auto" if getattr(run, "reason", None) else run.backend


# --------------------------------------------------------------------- counts
def ranges_text(indices: list[int]) -> str:
    """``[1, 2, 3, 7]`` as ``"tasks 1-3, 7"``."""
    if not indices:
        return "no task"
    parts, start = [], indices[0]
    for prev, cur in zip(indices, indices[1:] + [None]):
        if cur is None or cur != prev + 1:
            parts.append(f"{start}-{prev}" if prev != start else f"{start}")
            start = cur
    return "tasks " + ", ".join(parts)


def failed_count(counts: dict[str, int]) -> int:
    """Tasks that failed: raised (``error``) or lost with their worker (``lost``)."""
    return counts[ERROR] + counts[LOST]


def counts_text(run: Any) -> str:
    """``6 of 8 tasks done: 5 ok, 1 error, 2 pending`` (``ok`` always, others when > 0)."""
    c = run.counts
    parts = [f"{c[s]} {s}" for s in (*STATUSES, "pending") if c[s] or s == OK]
    return f"{run.done} of {len(run)} tasks done: " + ", ".join(parts)


def progress_text(run: Any, elapsed: float) -> str:
    """``done/total · failed · running · rate · ETA``, all from the Run (redrawn as tasks
    finish, and as the running ones change or every second while none finishes)."""
    counts = run.counts
    failed = failed_count(counts)
    rate = run.done / elapsed if elapsed > 0 else 0.0
    left = len(run) - run.done
    parts = [f"{run.done}/{len(run)}"]
    if failed:
        parts.append(f"{failed} failed")
    if counts["cancelled"]:
        parts.append(f"{counts['cancelled']} cancelled")
    if run.state == "running":
        # the tasks running now, as their workers said (live), else those handed out
        parts.append(f"{len(run.running())} running" if run.live is not None
                     else f"{run.in_flight} in flight")
        if rate > 0:
            parts += [f"{rate:.1f} tasks/s", f"ETA {duration(left / rate)}"]
    else:
        parts.append(f"{run.state} in {duration(run.wall_time)}")
    return " · ".join(parts)


def same_text(same: bool | None, compared: bool, no: str = "NO") -> str:
    """How a summary shows ``Row.same_as_serial``."""
    if not compared:
        return "-"
    return {True: "yes", False: no, None: "cannot compare"}[same]


# --------------------------------------------------------------------- the summary table
#: (Markdown header, HTML header) of each summary column; ``None``: not in that table.
COLUMNS = (
    ("backend", "backend"), ("workers", "workers"), ("start-up s", "start-up"),
    ("wall s", "wall"), ("speed-up", "speed-up vs serial"), ("efficiency", "efficiency"),
    (None, "Σ task time / wall"), ("ok", "ok"), ("failed", "failed"),
    ("cancelled", "cancelled"), ("same as serial", "same as serial"),
)


def summary_cells(comparison: Any, for_html: bool = False) -> tuple[list[str], list[list[str]]]:
    """The header and one row of cells per backend of ``comparison``'s summary. HTML cells
    carry units, a long dash for a missing number and a bold NO; Markdown cells are plain."""
    missing, unit, no = ((MISSING_HTML, " s", "<b>NO</b>") if for_html
                         else (MISSING_TEXT, "", "NO"))
    which = 1 if for_html else 0  # the header of the column in COLUMNS
    shown = [i for i, heads in enumerate(COLUMNS) if heads[which] is not None]
    rows = []
    for row in comparison.summary:
        run = comparison[row.backend]
        cells = (row.backend, row.workers, f"{row.startup_time:.2f}{unit}",
                 f"{row.wall_time:.3f}{unit}", factor(row.speedup, missing),
                 percent(row.efficiency, missing), factor(run.speedup, missing),
                 row.ok, row.failed, row.cancelled,
                 same_text(row.same_as_serial, comparison.reference is not None, no))
        rows.append([str(cells[i]) for i in shown])
    return [str(COLUMNS[i][which]) for i in shown], rows


def markdown_table(head: Sequence[str], rows: Iterable[Sequence[str]],
                   notes: Iterable[str] = ()) -> str:
    """A Markdown table, then each note as a paragraph."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines + [f"\n{note}" for note in notes])


def html_table(head: Sequence[str], rows: Iterable[Sequence[str]],
               notes: Iterable[str] = ()) -> str:
    """An HTML table (cells as they are: they may hold markup), then each note, escaped."""
    header = "".join(f"<th>{h}</th>" for h in head)
    cells = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    paragraphs = "".join(f"<p>{html.escape(note)}</p>" for note in notes)
    return f"{TABLE_STYLE}<table class='wb-table'><tr>{header}</tr>{cells}</table>{paragraphs}"


def summary_markdown(comparison: Any) -> str:
    """``Comparison.table()``: one row per backend, then the hints."""
    return markdown_table(*summary_cells(comparison), comparison.hints())


def summary_html(comparison: Any) -> str:
    """The panel's Summary tab and the dashboard's history: one row per backend."""
    return html_table(*summary_cells(comparison, for_html=True), comparison.hints())


def task_errors_text(run: Any, errors: list[Any], unfinished: list[Any], pending: int,
                     tracebacks: int) -> str:
    """What :meth:`Run.raise_for_errors` says: every task that did not return a value (failed,
    lost, cancelled, never finished), the first ``tracebacks`` tracebacks in full."""
    problems = []
    if errors:
        problems.append(f"{len(errors)} of {len(run)} tasks failed")
    if unfinished or pending:
        problems.append(f"{len(unfinished) + pending} of {len(run)} did not run to the "
                        f"end (the run was {run.state})")
    lines = [f"{' and '.join(problems)} in {run.fn_name} on {run.backend}:"]
    lines += [f"  task {r.index}: {r.status}: {r.error}" for r in errors[:20]]
    if len(errors) > 20:
        lines.append(f"  ... and {len(errors) - 20} more (see run.errors)")
    if unfinished or pending:
        lines.append(f"  not run: {ranges_text([r.index for r in unfinished])}"
                     + (f" and {pending} pending" if pending else ""))
    for r in errors[:tracebacks]:
        where = f" on {r.worker} (pid {r.pid})" if r.worker else ""
        lines.append(f"\n--- task {r.index}, attempt {r.attempt}{where} ---")
        lines.append((r.error.traceback if r.error else "").rstrip() or str(r.error))
    if len(errors) > tracebacks:
        lines.append(f"\n({len(errors) - tracebacks} more tracebacks in run.errors)")
    return "\n".join(lines)
