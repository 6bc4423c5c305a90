"""The widget panel: live progress per backend, a Stop button, and the Summary, Timeline,
Resources, Logs and Errors tabs, drawn from run events only (it never touches a backend).

Widgets change only in the thread that runs the cell (events arrive there), at most every
:data:`THROTTLE` seconds while a run goes, so a 100,000-task run sends a few updates a second.
The one exception is the Stop button's click handler, which may run on a side thread (see
:mod:`workbench.views.kernel_comms`) and therefore only sets flags.
"""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as w

from ..compare import Comparison, same_text
from ..events import BackendReady, RunFinished, RunStarted, TasksFinished
from ..records import OK
from . import kernel_comms

#: Seconds between two redraws of the progress bars while a run goes.
THROTTLE = 0.25
#: ... of the Errors tab and the Logs chooser, and of the timelines, during a long run.
DETAILS_EVERY = 2.0
FIGURES_EVERY = 10.0
#: Tabs whose matplotlib figures are drawn when shown (drawing costs a second or more, which
#: must not delay the end of a run, let alone a Stop).
FIGURE_TABS = (1, 2)
#: Rows shown in the Errors table and entries in the failed-task chooser.
MAX_ROWS = 200
TABS = ("Summary", "Timeline", "Resources", "Logs", "Errors")
TABLE_STYLE = ("<style>.wb-table td, .wb-table th {padding: 2px 10px; text-align: left; "
               "white-space: nowrap}"
               ".wb-table tr:nth-child(even) {background: rgba(0,0,0,0.04)}</style>")


class RunPanel(w.VBox):
    """A panel for one run or a comparison of backends; pass it as ``view=`` (it is an
    observer) and display it.

    Parameters
    ----------
    fn_name, backends, n_items, workers : what the header says; one progress bar per backend.
    """

    def __init__(self, fn_name: str, backends: list[str], n_items: int,
                 workers: int | None = None):
        self.fn_name, self.backends, self.n_items, self.workers = (
            fn_name, list(backends), n_items, workers)
        self.runs: dict[str, Any] = {}
        self.current: Any = None
        self.reruns: list[Any] = []
        self.stop_requested = False
        self._last_draw = 0.0
        self._started_at = 0.0
        self._last_details = self._last_figures = time.monotonic()

        self.header = w.HTML()
        self.bars = {b: w.IntProgress(value=0, min=0, max=max(n_items, 1), description=b,
                                      bar_style="info", layout=w.Layout(width="45%"),
                                      style={"description_width": "90px"})
                     for b in self.backends}
        self.bar_texts = {b: w.Label("waiting") for b in self.backends}
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="danger",
                                    tooltip="cancel what is queued, stop what runs; "
                                            "finished results are kept")
        self.stop_button.on_click(self._on_stop)
        self.links = w.HTML()
        self.summary = w.HTML()
        self.timeline = w.Output()
        self.resources = w.Output()
        self.log_backend = w.Dropdown(description="backend", options=self.backends)
        self.log_task = w.BoundedIntText(description="task", min=0,
                                         max=max(n_items - 1, 0), value=0)
        self.failed_tasks = w.Dropdown(description="failed", options=[])
        self.log_text = w.HTML()
        self.errors = w.HTML()
        self.rerun_button = w.Button(description="Re-run failed", icon="redo", disabled=True)
        self.rerun_output = w.Output()
        for control in (self.log_backend, self.log_task):
            control.observe(lambda _change: self._show_log(), names="value")
        self.failed_tasks.observe(self._on_failed_choice, names="value")
        self.rerun_button.on_click(self._on_rerun)
        self.tabs = w.Tab(children=[
            self.summary, self.timeline, self.resources,
            w.VBox([w.HBox([self.log_backend, self.log_task, self.failed_tasks]),
                    self.log_text]),
            w.VBox([self.rerun_button, self.errors, self.rerun_output]),
        ])
        self.tabs.titles = TABS
        self._figures_stale = False
        self.tabs.observe(self._on_tab, names="selected_index")
        super().__init__(children=[
            self.header,
            *[w.HBox([self.bars[b], self.bar_texts[b]]) for b in self.backends],
            w.HBox([self.stop_button, self.links]),
            self.tabs,
        ])
        self.header.value = (
            f"<b>{html.escape(fn_name)}</b> &middot; backend{'s' if len(backends) > 1 else ''}"
            f": {html.escape(', '.join(backends))} &middot; workers: "
            f"{'1' if self.backends == ['serial'] else workers or 'all cores'} &middot; "
            f"items: {n_items}")
        self.stop_button.disabled = True

    # ----------------------------------------------------------------- events
    def __call__(self, event: Any) -> None:
        run = event.run
        if isinstance(event, RunStarted):
            self.current = run
            self.runs[run.backend] = run
            if self.stop_requested:
                run.cancel()
            self.bar_texts[run.backend].value = "starting…"
            self.stop_button.disabled = False
            kernel_comms.hear_while_busy(self.stop_button)
        elif isinstance(event, BackendReady):
            self._started_at = time.monotonic()
            if run.dashboard:
                self.links.value = (f'<a href="{html.escape(run.dashboard)}" target="_blank">'
                                    f'{html.escape(run.backend)} dashboard</a>')
            self._draw_progress(run)
        elif isinstance(event, TasksFinished):
            now = time.monotonic()
            if now - self._last_draw >= THROTTLE:
                self._draw_progress(run)
            if now - self._last_details >= DETAILS_EVERY:  # a long run: errors, logs so far
                self._draw_details()
            if now - self._last_figures >= FIGURES_EVERY:  # a long run: keep them fresh
                self._draw_figures()
        elif isinstance(event, RunFinished):
            self._draw_progress(run)
            self._draw_results()
            if all(b in self.runs and self.runs[b].state != "running" for b in self.backends):
                self.stop_button.disabled = True
            if self.stop_requested:
                self.stop_button.description = "Stopped"

    def _on_stop(self, _button: Any) -> None:
        """May run on a side thread while the cell is busy: set flags only."""
        self.stop_requested = True
        if self.current is not None:
            self.current.cancel()

    # ----------------------------------------------------------------- drawing
    def _draw_progress(self, run: Any) -> None:
        self._last_draw = time.monotonic()
        bar, counts = self.bars[run.backend], run.counts
        failed = counts["error"] + counts["lost"]
        bar.max = max(len(run), 1)
        bar.value = run.done - counts["cancelled"]  # a stopped run's bar shows what ran
        bar.bar_style = ("danger" if failed and not counts["ok"] else "warning"
                         if failed or counts["cancelled"] else
                         "success" if run.state == "finished" else "info")
        bar.description = run.backend
        self.bar_texts[run.backend].value = progress_text(run, time.monotonic()
                                                          - self._started_at)
        if self.stop_requested and run.state == "running":
            self.stop_button.description = "Stopping…"
            kernel_comms.hear_while_busy(self.stop_button)

    def _draw_results(self) -> None:
        self.summary.value = summary_html(self.comparison())
        self._figures_stale = True
        if self.tabs.selected_index in FIGURE_TABS:
            self._draw_figures()
        self.log_backend.value = self.current.backend
        self._draw_details()
        self.rerun_button.disabled = not any(r.errors for r in self.runs.values())

    def _draw_details(self) -> None:
        """The Errors tab, the failed-task chooser and the chosen task's log, so far."""
        self._last_details = time.monotonic()
        self.errors.value = "".join(errors_html(r) for r in self.runs.values())
        run = self.runs.get(self.log_backend.value) or self.current
        failed = [(f"task {r.index} · {r.status}", r.index)
                  for r in run.tasks if r.status != OK][:MAX_ROWS]
        options = [("—", None)] + failed
        if list(self.failed_tasks.options) != options:
            self.failed_tasks.options = options
        self._show_log()

    def _on_tab(self, change: dict) -> None:
        """Figures are drawn when their tab is shown (between cells: the cell's thread)."""
        running = self.current is not None and self.current.state in ("starting", "running")
        if change["new"] in FIGURE_TABS and self._figures_stale and not running:
            self._draw_figures()

    def _draw_figures(self) -> None:
        """Timelines of every run so far (the running one too); resources of finished runs
        (their samples are collected when the run ends)."""
        from .. import plots

        self._last_figures = time.monotonic()
        self._figures_stale = any(r.state in ("starting", "running") for r in self.runs.values())
        # Replace the outputs as state: ``clear_output()`` would go through ``with out:``.
        self.timeline.outputs = ()
        self.resources.outputs = ()
        for name, run in self.runs.items():
            if run.state == "starting":
                continue
            self.timeline.append_display_data(_png(
                plots.plot_timeline(run.tasks, title=f"{run.fn_name} on {name}")))
            if run.state == "running":
                self.resources.append_stdout(f"{name}: sampled while it runs, drawn at the end\n")
                continue
            if not run.resources:  # serial (the kernel itself), a remote cluster, a short run
                self.resources.append_stdout(f"{name}: no local worker processes sampled\n")
                continue
            labels = {t.pid: t.worker for t in run.tasks if t.pid is not None}
            self.resources.append_display_data(_png(
                plots.plot_resources(run.resources, labels=labels,
                                     title=f"{name}: CPU and memory per worker")))

    def _show_log(self) -> None:
        run = self.runs.get(self.log_backend.value)
        if run is None:
            self.log_text.value = ""
            return
        self.log_text.value = task_html(run, self.log_task.value)

    def _on_failed_choice(self, change: dict) -> None:
        if change["new"] is not None:
            self.log_task.value = change["new"]

    def _on_rerun(self, _button: Any) -> None:
        run = self.runs.get(self.log_backend.value) or self.current
        failed = [r.index for r in run.tasks if r.status != OK]
        panel = RunPanel(run.fn_name, [run.backend], len(failed), run.workers)
        self.rerun_output.outputs = ()
        self.rerun_output.append_display_data(panel)
        self.reruns.append(run.rerun_failed(view=panel))

    # ----------------------------------------------------------------- data
    def comparison(self) -> Comparison:
        """The runs so far, as a Comparison (the Summary tab shows its numbers)."""
        finished = {b: r for b, r in self.runs.items() if r.state != "running"}
        return Comparison(finished, "serial" if "serial" in finished else None)

    def __repr__(self) -> str:
        """Deterministic: no times, pids or hosts (notebooks are checked with nbval)."""
        parts = []
        for b in self.backends:
            run = self.runs.get(b)
            parts.append(f"{b}: " + (run.counts_text() if run else "not run"))
        return f"<workbench panel {self.fn_name}: {'; '.join(parts)}>"


class AutoPanel:
    """``view="auto"`` in a notebook: a panel made and displayed when the run starts."""

    def __init__(self) -> None:
        self.panel: RunPanel | None = None

    def __call__(self, event: Any) -> None:
        if self.panel is None:
            from IPython.display import display

            run = event.run
            self.panel = RunPanel(run.fn_name, [run.backend], len(run), run.workers)
            display(self.panel)
        self.panel(event)


# --------------------------------------------------------------------- text for the widgets
def progress_text(run: Any, elapsed: float) -> str:
    """``done/total · failed · running · rate · ETA``, all from the Run."""
    counts = run.counts
    failed = counts["error"] + counts["lost"]
    rate = run.done / elapsed if elapsed > 0 else 0.0
    left = len(run) - run.done
    parts = [f"{run.done}/{len(run)}"]
    if failed:
        parts.append(f"{failed} failed")
    if counts["cancelled"]:
        parts.append(f"{counts['cancelled']} cancelled")
    if run.state == "running":
        parts.append(f"{run.running} running")
        if rate > 0:
            parts += [f"{rate:.1f} tasks/s", f"ETA {_duration(left / rate)}"]
    else:
        parts.append(f"{run.state} in {_duration(run.wall_time)}")
    return " · ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def summary_html(comparison: Comparison) -> str:
    """The Summary tab: one row per backend."""
    head = ("backend", "workers", "start-up", "wall", "speed-up vs serial", "efficiency",
            "Σ task time / wall", "ok", "failed", "cancelled", "same as serial")
    rows = []
    for row in comparison.summary:
        run = comparison[row.backend]
        same = same_text(row.same_as_serial, comparison.reference is not None, "<b>NO</b>")
        rows.append((row.backend, row.workers, f"{row.startup_time:.2f} s",
                     f"{row.wall_time:.3f} s", _x(row.speedup), _pct(row.efficiency),
                     _x(run.speedup), row.ok, row.failed, row.cancelled, same))
    cells = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    header = "".join(f"<th>{h}</th>" for h in head)
    hints = "".join(f"<p>{html.escape(h)}</p>" for h in comparison.hints())
    return f"{TABLE_STYLE}<table class='wb-table'><tr>{header}</tr>{cells}</table>{hints}"


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
    """The Logs tab for one task: where it ran, what it printed and logged, its error."""
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


def _png(figure: Any) -> Any:
    """The figure as a PNG image: a Figure made without pyplot has no notebook formatter."""
    import io

    from IPython.display import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return Image(data=buffer.getvalue(), format="png")


def _x(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "—"


def _pct(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "—"

