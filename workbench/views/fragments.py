"""HTML fragments of the panel: its header, the Errors tab, a task's log, a dashboard link.
Strings only (no widgets), each built from a Run or plain values."""

from __future__ import annotations

import html
from typing import Any

from .format import TABLE_STYLE

#: Rows shown in the Errors table and entries in the failed-task chooser.
MAX_ROWS = 200


def header_html(fn_name: str, backends: list[str], n_items: int, workers: int | None,
                reason: str | None = None) -> str:
    """The panel's first line: function, backends, workers and items; below it, what
    ``backend="auto"`` chose and why (``reason``)."""
    why = f"<br><i>auto: {html.escape(reason)}</i>" if reason else ""
    return (f"<b>{html.escape(fn_name)}</b> &middot; backend{'s' if len(backends) > 1 else ''}"
            f": {html.escape(', '.join(backends))} &middot; workers: "
            f"{'1' if backends == ['serial'] else workers or 'all cores'} &middot; "
            f"items: {n_items}{why}")


def link_html(run: Any) -> str:
    """A link to the backend's own dashboard (Dask's, Ray's), in a new tab."""
    where = f" &middot; on {html.escape(run.cluster)}" if getattr(run, "cluster", None) else ""
    return (f'<a href="{html.escape(run.dashboard)}" target="_blank">'
            f'{html.escape(run.backend)} dashboard</a>{where}')


def errors_html(run: Any) -> str:
    """The Errors tab for one run: index, type, message, traceback."""
    errors = run.errors
    if not errors:
        return f"<p>{html.escape(run.backend)}: no failed tasks</p>"
    rows = []
    for r in errors[:MAX_ROWS]:
        err = r.error
        rows.append(
            f"<tr><td>{r.index}</td><td>{r.status}</td><td>{html.escape(err.type)}</td>"
            f"<td>{html.escape(err.message)}</td><td><details><summary>traceback</summary>"
            f"<pre>{html.escape(err.traceback or '(none)')}</pre></details></td></tr>")
    more = (f"<p>… and {len(errors) - MAX_ROWS} more in run.errors</p>"
            if len(errors) > MAX_ROWS else "")
    return (f"{TABLE_STYLE}<h4>{html.escape(run.backend)}: {len(errors)} failed</h4>"
            f"<table class='wb-table'><tr><th>task</th>"
            f"<th>status</th><th>type</th><th>message</th><th></th></tr>{''.join(rows)}"
            f"</table>{more}")


def task_html(run: Any, index: int) -> str:
    """The Logs tab for one task: where it ran, what it printed and logged, its error; for a
    task running now, what it has written so far (it grows as the panel redraws)."""
    now = next((t for t in run.running() if t.index == index), None)
    if now is not None:
        head = (f"task {index}: running on {now.worker} (pid {now.pid}), attempt "
                f"{now.attempt}, {now.elapsed:.1f} s so far")
        return f"<pre>{html.escape(head)}\n\n{html.escape(now.output or '(no output yet)')}</pre>"
    try:
        r = run.task(index)
    except KeyError as exc:
        return f"<pre>{html.escape(str(exc.args[0]))}</pre>"
    where = f" on {r.worker} (pid {r.pid})" if r.worker else ""
    took = f", {r.duration:.3f} s" if r.duration is not None else ""
    head = f"task {r.index}: {r.status}{where}, attempt {r.attempt}{took}"
    body = r.text or "(no output)"
    error = f"\n\n{r.error.traceback or r.error}" if r.error is not None else ""
    return f"<pre>{html.escape(head)}\n\n{html.escape(body)}{html.escape(error)}</pre>"

