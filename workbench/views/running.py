"""HTML fragments of the panel's view into a run while it goes: the Running tab (the tasks
running now, stragglers marked) and the Summary's line on stragglers."""

from __future__ import annotations

import html
from typing import Any

from .format import TABLE_STYLE
from .fragments import MAX_ROWS

#: How many tasks the "open log" chooser lists before it starts again from those running.
CHOICES = 40
#: Its first entry, shown until a task is chosen (a value, not None: ipywidgets shows a
#: Dropdown whose value is None as blank).
PROMPT = ("choose a task", -1)


def running_html(tasks: list[Any], limit: float | None) -> str:
    """The Running tab: the tasks running now, the longest-running first; a task past
    ``limit`` seconds (3x the median of the finished ones) is marked as a straggler."""
    if not tasks:
        return "<p>no task is running</p>"
    rows = []
    for t in sorted(tasks, key=lambda t: -t.elapsed)[:MAX_ROWS]:
        mark = " <b title='over 3x the median of finished tasks'>straggler</b>" if (
            limit is not None and t.elapsed > limit) else ""
        rows.append(f"<tr><td>{t.index}{mark}</td><td>{html.escape(t.worker)}</td>"
                    f"<td>{t.elapsed:.1f} s</td><td>{html.escape(t.last_line[-120:])}</td></tr>")
    return (f"{TABLE_STYLE}<table class='wb-table'><tr><th>task</th><th>worker</th>"
            f"<th>running for</th><th>last line</th></tr>{''.join(rows)}</table>")


def stragglers_html(runs: dict[str, Any]) -> str:
    """The Summary's line on stragglers: per run, the tasks that ran over 3x the median."""
    parts = []
    for name, run in runs.items():
        late = run.stragglers()
        if late:
            shown = ", ".join(map(str, late[:10])) + (" …" if len(late) > 10 else "")
            parts.append(f"{html.escape(name)}: {len(late)} (tasks {shown})")
    return (f"<p>stragglers (over 3x the median task time): {'; '.join(parts)}</p>"
            if parts else "")


def chooser_options(listed: list[int], tasks: list[Any]) -> tuple[list[int], list[tuple]]:
    """The "open log" chooser: the tasks ``listed`` so far (running or since ended), then those
    running now that are new, so that a place in the list always names the same task (the
    browser sends a choice as a place in the list it shows, which may be a redraw behind).
    Past :data:`CHOICES` it starts again from the running ones. Returns the new ``listed``
    and the chooser's options."""
    running = sorted(t.index for t in tasks)
    known = set(listed)
    new = [i for i in running if i not in known]
    listed = running if len(listed) + len(new) > CHOICES else listed + new
    now = set(running)
    return listed, [PROMPT] + [(f"task {i}" if i in now else f"task {i} · ended", i)
                                    for i in listed]

