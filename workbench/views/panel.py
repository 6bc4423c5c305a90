"""The widget panel: live progress per backend, a Stop button, and the Summary, Running,
Timeline, Resources, Logs and Errors tabs, drawn from run events only (never a backend).

Widgets change only in the thread that runs the cell (events arrive there), at most every
:data:`THROTTLE` seconds while a run goes, so a 100,000-task run sends a few updates a second.
The exceptions: the Stop button's click handler, which may run on a side thread (see
:mod:`workbench.views.kernel_comms`) and therefore only sets flags; a joblib call's run
(:mod:`workbench.joblib_bridge`), whose events come from the run's own thread while the
cell's thread waits inside joblib; and the Running tab on ``serial``, drawn from workbench's
live thread while the task runs in the cell's (ipywidgets sends those changes as well).
"""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as w

from ..comparison import Comparison
from ..events import BackendReady, RunFinished, RunStarted, TasksFinished, TasksRunning
from ..live import straggler_limit
from . import figures, kernel_comms
from .format import failed_count, progress_text, shown_name, summary_html
from .fragments import MAX_ROWS, errors_html, header_html, link_html, task_html
from .running import PROMPT, chooser_options, running_html, stragglers_html

__all__ = ["RunPanel", "progress_text", "summary_html", "errors_html", "task_html"]

#: Seconds between two redraws of the progress bars while a run goes.
THROTTLE = 0.25
#: ... of the Errors tab and the Logs chooser, and of the timelines, during a long run.
DETAILS_EVERY = 2.0
FIGURES_EVERY = 10.0
#: Tabs whose matplotlib figures are drawn when shown (drawing costs a second or more, which
#: must not delay the end of a run, let alone a Stop).
FIGURE_TABS = (2, 3)
TABS = ("Summary", "Running", "Timeline", "Resources", "Logs", "Errors")
LOGS_TAB = 4
STOP_TIP = "cancel what is queued, stop what runs; finished results are kept"


def _force(widget: w.Widget, **values: Any) -> None:
    """Set traits and send them even if this side's copy already has those values: while a
    cell runs, what the browser changes (a tab clicked) is heard only after it, so the copy
    here may be stale, and an unchanged trait is not sent."""
    same = [name for name, value in values.items() if getattr(widget, name) == value]
    for name, value in values.items():
        setattr(widget, name, value)
    if same:
        widget.send_state(same)


class RunPanel(w.VBox):
    """A panel for one run or a comparison of backends; pass it as ``view=`` (it is an
    observer) and display it (with :meth:`show`, its text is redrawn when a run ends).

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
        self._last_draw = self._started_at = 0.0
        self._last_details = self._last_figures = time.monotonic()
        self._shown: Any = None  # the DisplayHandle of show()
        self.header = w.HTML()
        self.bars = {b: w.IntProgress(value=0, min=0, max=max(n_items, 1), description=b,
                                      bar_style="info", layout=w.Layout(width="45%"),
                                      style={"description_width": "90px"})
                     for b in self.backends}
        self.bar_texts = {b: w.Label("waiting") for b in self.backends}
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="danger",
                                    tooltip=STOP_TIP, disabled=True)
        self.stop_button.on_click(self._on_stop)
        self.links = w.HTML()
        self.summary = w.HTML()
        self.running = w.HTML("<p>no task is running</p>")
        self.running_task = w.Dropdown(description="open log", options=[PROMPT])
        self.running_task.observe(self._on_running_choice, names="value")
        self._chosen: int | None = None  # a running task chosen under "open log"
        self._listed: list[int] = []  # the tasks it lists (see chooser_options)
        self._straggler_limit: tuple[int, float | None] = (-1, None)  # (tasks done, limit)
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
            self.summary, w.VBox([self.running_task, self.running]), self.timeline,
            self.resources,
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
        self.reason: str | None = None
        self.header.value = self._header()

    # ----------------------------------------------------------------- events
    def __call__(self, event: Any) -> None:
        run = event.run
        if isinstance(event, RunStarted):
            self.current, self._listed = run, []
            self.runs[shown_name(run)] = run
            if self.stop_requested:
                run.cancel()
            if run.reason:  # backend="auto": what it chose, and why
                self.reason = run.reason
                self.header.value = self._header()
            self.bar_texts[shown_name(run)].value = "starting…"
            self.stop_button.disabled = False
            kernel_comms.hear_while_busy(self.stop_button)
            kernel_comms.hear_while_busy(self.running_task, kernel_comms.NOT_HEARD_CHOICE)
        elif isinstance(event, BackendReady):  # rates and redraw intervals count from here
            self._started_at = self._last_details = self._last_figures = time.monotonic()
            if run.dashboard:
                self.links.value = link_html(run)
            self._draw_progress(run)
        elif isinstance(event, TasksRunning):  # (also every second: elapsed, ETA tick)
            self._draw_running(run, event.tasks)
            if time.monotonic() - self._last_draw >= THROTTLE:
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
                self.stop_button.disabled = True  # and says how it ended, not a red "Stop"
                self.stop_button.description = "Stopped" if self.stop_requested else run.state
                self.stop_button.button_style = ""
                self.stop_button.tooltip = "the run is over; its results are kept"
            if self._shown is not None:  # the text a viewer without widgets reads: the counts
                self._shown.update(self)

    def _header(self) -> str:
        return header_html(self.fn_name, self.backends, self.n_items, self.workers,
                           self.reason)

    def show(self) -> None:
        """Display the panel as the cell's output, redrawn when a run ends: its text (what a
        viewer without widgets shows, what a saved notebook keeps) then gives the counts."""
        from IPython.display import display

        self._shown = display(self, display_id=True)

    def _on_stop(self, _button: Any) -> None:
        """May run on a side thread while the cell is busy: set flags only."""
        self.stop_requested = True
        if self.current is not None:
            self.current.cancel()

    # ----------------------------------------------------------------- drawing
    def _draw_progress(self, run: Any) -> None:
        self._last_draw = time.monotonic()
        name = shown_name(run)
        bar, counts = self.bars[name], run.counts
        if len(run) > self.n_items:  # a joblib call's run: its tasks arrive as it goes
            self.n_items = len(run)
            self.header.value = self._header()
            self.log_task.max = self.n_items - 1
        failed = failed_count(counts)
        bar.max = max(len(run), 1)
        bar.value = run.done - counts["cancelled"]  # a stopped run's bar shows what ran
        bar.bar_style = ("danger" if failed and not counts["ok"] else "warning"
                         if failed or counts["cancelled"] else
                         "success" if run.state == "finished" else "info")
        bar.description = name
        chosen = "" if name == run.backend else f"{run.backend} · "  # what auto chose
        self.bar_texts[name].value = chosen + progress_text(run, time.monotonic()
                                                            - self._started_at)
        if self.stop_requested and run.state == "running":
            self.stop_button.description = "Stopping…"
            kernel_comms.hear_while_busy(self.stop_button)

    def _draw_results(self) -> None:
        self.summary.value = summary_html(self.comparison()) + stragglers_html(self.runs)
        self._figures_stale = True
        if self.tabs.selected_index in FIGURE_TABS:
            self._draw_figures()
        self.log_backend.value = shown_name(self.current)
        self._draw_details()
        self.rerun_button.disabled = not any(r.errors for r in self.runs.values())

    def _draw_details(self) -> None:
        """The Errors tab, the failed-task chooser and the chosen task's log, so far."""
        self._last_details = time.monotonic()
        self.errors.value = "".join(errors_html(r) for r in self.runs.values())
        run = self.runs.get(self.log_backend.value) or self.current
        failed = [(f"task {r.index} · {r.status}", r.index)
                  for r in run.not_ok()[:MAX_ROWS]]
        options = [("—", None)] + failed
        if list(self.failed_tasks.options) != options:
            self.failed_tasks.options = options
        self._show_log()

    def _draw_running(self, run: Any, tasks: tuple) -> None:
        """The Running tab (the tasks running now, stragglers marked), and the Logs tab if
        it shows one of them: its output grows there."""
        done, last = run.done, self._straggler_limit[0]
        if done != last and (done < 10_000 or done > 1.1 * last):  # (a median of them all)
            self._straggler_limit = (done, straggler_limit(run))
        self.running.value = running_html(list(tasks), self._straggler_limit[1])
        self._listed, options = chooser_options(self._listed, list(tasks))
        if list(self.running_task.options) != options:
            self.running_task.options = options
            kernel_comms.hear_while_busy(self.running_task, kernel_comms.NOT_HEARD_CHOICE)
        chosen, self._chosen = self._chosen, None
        if chosen is not None:  # open its log: the Logs tab
            _force(self.log_backend, value=shown_name(run))
            _force(self.log_task, value=chosen)
            _force(self.tabs, selected_index=LOGS_TAB)
        if self.log_backend.value == shown_name(run) and any(
                t.index == self.log_task.value for t in tasks):
            self._show_log()

    def _on_running_choice(self, change: dict) -> None:
        """Choosing a running task opens its log. Heard on a side thread while the cell runs
        (as Stop): it only notes the choice, which the next redraw of the Running tab, on the
        cell's thread, opens (within a second: it redraws that often while tasks run)."""
        if change["new"] != PROMPT[1]:
            self._chosen = change["new"]

    def _on_tab(self, change: dict) -> None:
        """Figures are drawn when their tab is shown (between cells: the cell's thread)."""
        running = self.current is not None and self.current.state in ("starting", "running")
        if change["new"] in FIGURE_TABS and self._figures_stale and not running:
            self._draw_figures()

    def _draw_figures(self) -> None:
        """Timelines of every run so far (the running one too); resources of finished runs
        (their samples are collected when the run ends)."""
        self._last_figures = time.monotonic()
        self._figures_stale = any(r.state in ("starting", "running") for r in self.runs.values())
        figures.draw(self.timeline, self.resources, self.runs)

    def _show_log(self) -> None:
        run = self.runs.get(self.log_backend.value)
        self.log_text.value = "" if run is None else task_html(run, self.log_task.value)

    def _on_failed_choice(self, change: dict) -> None:
        if change["new"] is not None:
            self.log_task.value = change["new"]

    def _on_rerun(self, _button: Any) -> None:
        run = self.runs.get(self.log_backend.value) or self.current
        failed = [r.index for r in run.not_ok()]
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
        parts = [f"{b}: " + (self.runs[b].counts_text() if b in self.runs else "not run")
                 for b in self.backends]
        return f"<workbench panel {self.fn_name}: {'; '.join(parts)}>"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:  # ipywidgets cuts the text at 110
        bundle = super()._repr_mimebundle_(**kwargs)
        return bundle and {**bundle, "text/plain": repr(self)}

