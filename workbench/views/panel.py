"""The widget panel: live progress per backend, a Stop button, and the Summary, Timeline,
Resources, Logs and Errors tabs, drawn from run events only (it never touches a backend).

Widgets change only in the thread that runs the cell (events arrive there), at most every
:data:`THROTTLE` seconds while a run goes, so a 100,000-task run sends a few updates a second.
The exceptions: the Stop button's click handler, which may run on a side thread (see
:mod:`workbench.views.kernel_comms`) and therefore only sets flags; and a joblib call's run
(:mod:`workbench.joblib_bridge`), whose events come from the run's own thread while the
cell's thread waits inside joblib (ipywidgets sends those changes as well).
"""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as w

from ..comparison import Comparison
from ..events import BackendReady, RunFinished, RunStarted, TasksFinished
from ..records import OK
from . import kernel_comms
from .format import failed_count, progress_text, summary_html
from .fragments import MAX_ROWS, errors_html, header_html, link_html, task_html

__all__ = ["RunPanel", "AutoPanel", "progress_text", "summary_html", "errors_html",
           "task_html"]

#: Seconds between two redraws of the progress bars while a run goes.
THROTTLE = 0.25
#: ... of the Errors tab and the Logs chooser, and of the timelines, during a long run.
DETAILS_EVERY = 2.0
FIGURES_EVERY = 10.0
#: Tabs whose matplotlib figures are drawn when shown (drawing costs a second or more, which
#: must not delay the end of a run, let alone a Stop).
FIGURE_TABS = (1, 2)
TABS = ("Summary", "Timeline", "Resources", "Logs", "Errors")


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
        self.header.value = header_html(fn_name, self.backends, n_items, workers)
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
        elif isinstance(event, BackendReady):  # rates and redraw intervals count from here
            self._started_at = self._last_details = self._last_figures = time.monotonic()
            if run.dashboard:
                self.links.value = link_html(run)
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
            if self._shown is not None:  # the text a viewer without widgets reads: the counts
                self._shown.update(self)

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
        bar, counts = self.bars[run.backend], run.counts
        if len(run) > self.n_items:  # a joblib call's run: its tasks arrive as it goes
            self.n_items = len(run)
            self.header.value = header_html(self.fn_name, self.backends, self.n_items,
                                            self.workers)
            self.log_task.max = self.n_items - 1
        failed = failed_count(counts)
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
        self.log_text.value = "" if run is None else task_html(run, self.log_task.value)

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
        parts = [f"{b}: " + (self.runs[b].counts_text() if b in self.runs else "not run")
                 for b in self.backends]
        return f"<workbench panel {self.fn_name}: {'; '.join(parts)}>"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:  # ipywidgets cuts the text at 110
        bundle = super()._repr_mimebundle_(**kwargs)
        return bundle and {**bundle, "text/plain": repr(self)}


class AutoPanel:
    """``view="auto"`` in a notebook: a panel made and displayed when the first run starts.

    ``backends``: the bars to show, for a comparison (one panel for all its runs); by
    default the one backend of the run."""

    def __init__(self, backends: list[str] | None = None) -> None:
        self.backends = list(backends) if backends else None
        self.panel: RunPanel | None = None

    def __call__(self, event: Any) -> None:
        if self.panel is None:
            run = event.run
            self.panel = RunPanel(run.fn_name, self.backends or [run.backend], len(run),
                                  run.workers)
            self.panel.show()
        self.panel(event)


def _png(figure: Any) -> Any:
    """The figure as a PNG image: a Figure made without pyplot has no notebook formatter."""
    import io

    from IPython.display import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return Image(data=buffer.getvalue(), format="png")


def stored_panel(run: Any) -> RunPanel:
    """The panel of a run that is not going on here (read from its journal), drawn at once:
    its Stop button is off and says how the run ended."""
    panel = RunPanel(run.fn_name, [run.backend], len(run), run.workers)
    panel.current = panel.runs[run.backend] = run
    panel._draw_progress(run)
    panel._draw_results()
    panel.stop_button.disabled = True
    panel.stop_button.description = run.state
    panel.stop_button.tooltip = f"read from {run.journal}" if run.journal else "a past run"
    return panel
