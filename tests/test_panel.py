"""The widget panel and the standing dashboard: widget values after real runs (ipywidgets
work without a front end; what a browser shows is checked by the browser test)."""

from __future__ import annotations

import html
import json
import threading
import time
from pathlib import Path

import workbench as wb
from conftest import WORKERS
from workbench.events import TasksFinished
from workbench.views.panel import RunPanel, progress_text


def flaky(x):
    print(f"task {x} says hi")
    if x % 4 == 1:
        raise ValueError(f"no {x}")
    return x


def run_with_panel(fn, items, names, **kwargs):
    panel = RunPanel(fn.__name__, names, len(items), WORKERS)
    if len(names) == 1:
        result = wb.run(fn, items, backend=names[0], workers=WORKERS, view=panel, **kwargs)
    else:
        result = wb.compare(fn, items, backends=names, workers=WORKERS, view=panel, **kwargs)
    return panel, result


def press_stop_once_running(panel):
    """Press the panel's Stop (as a click does) from another thread once a task has finished;
    return a list that gets the moment of the press."""
    pressed = []

    def press():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            run = panel.current
            if run is not None and run.counts["ok"] >= 1:
                pressed.append(time.monotonic())
                panel.stop_button.click()
                return
            time.sleep(0.02)

    threading.Thread(target=press, daemon=True).start()
    return pressed


def test_panel_shows_counts_tables_logs_and_errors_after_a_run(parallel_backend):
    panel, run = run_with_panel(flaky, list(range(12)), [parallel_backend])
    bar = panel.bars[parallel_backend]
    assert (bar.value, bar.max, bar.bar_style) == (12, 12, "warning")
    text = panel.bar_texts[parallel_backend].value
    assert text.startswith("12/12 · 3 failed · finished in")
    assert panel.tabs.titles == ("Summary", "Running", "Timeline", "Resources", "Logs", "Errors")
    summary = panel.summary.value
    assert f"<td>{parallel_backend}</td><td>{WORKERS}</td>" in summary
    assert "<td>9</td><td>3</td>" in summary  # ok, failed
    errors = panel.errors.value
    assert errors.count("<tr><td>") == 3 and "ValueError" in errors and "no 5" in errors
    assert "raise ValueError" in errors  # the traceback
    assert [v for _, v in panel.failed_tasks.options] == [None, 1, 5, 9]
    panel.log_task.value = 6
    assert "task 6 says hi" in panel.log_text.value and "task 6: ok on " in panel.log_text.value
    panel.failed_tasks.value = 5
    assert panel.log_task.value == 5
    assert "task 5 says hi" in panel.log_text.value and "no 5" in panel.log_text.value
    assert not panel.rerun_button.disabled and panel.stop_button.disabled
    stop = panel.stop_button  # over: off, and it says how the run ended, not a red "Stop"
    assert (stop.description, stop.button_style) == ("finished", "")
    assert panel.running.value == "<p>no task is running</p>"
    assert panel.timeline.outputs == (), "figures wait until their tab is shown"
    panel.tabs.selected_index = 2
    assert len(panel.timeline.outputs) == 1 and len(panel.resources.outputs) == 2
    assert panel.resources.outputs[0]["text"] == (
        f"{parallel_backend}: from {panel.current.resources_from}\n")
    assert "image/png" in panel.resources.outputs[1]["data"]
    assert repr(panel) == (f"<workbench panel flaky: {parallel_backend}: 12 of 12 tasks done: "
                           "9 ok, 3 error>")


def test_panel_for_a_comparison_has_a_bar_and_a_row_per_backend():
    panel, cmp = run_with_panel(flaky, list(range(8)), ["serial", "process_map"])
    assert set(panel.bars) == {"serial", "process_map"}
    assert all(bar.value == 8 for bar in panel.bars.values())
    assert panel.summary.value.count("<tr><td>") == 2
    assert panel.summary.value.count("<td>yes</td>") == 2  # same as serial
    panel.tabs.selected_index = 3
    assert len(panel.timeline.outputs) == 2
    resources = panel.resources.outputs
    assert resources[0]["text"] == "serial: no worker process sampled\n"
    assert resources[1]["text"] == ("process_map: from this machine's worker processes "
                                    "(psutil, every 0.25 s)\n")
    assert "image/png" in resources[2]["data"]
    assert cmp.all_same


def test_rerun_failed_button_runs_only_the_failed_tasks():
    panel, run = run_with_panel(flaky, list(range(8)), ["process_map"])
    panel._on_rerun(panel.rerun_button)
    again = panel.reruns[-1]
    assert again.indices == [1, 5] and len(panel.rerun_output.outputs) == 1


def test_stop_keeps_finished_results_and_leaves_nothing_running(parallel_backend):
    panel = RunPanel("slow", [parallel_backend], 60, WORKERS)
    pressed = press_stop_once_running(panel)
    run = wb.run(lambda x: time.sleep(0.1) or x, range(60), backend=parallel_backend,
                 workers=WORKERS, chunksize=1, view=panel)
    assert time.monotonic() - pressed[0] < 2.5, "the README promises about 2 s after Stop"
    assert run.state == "cancelled" and run.counts["ok"] >= 1 and run.counts["cancelled"] > 20
    assert all(v == i for i, v in enumerate(run.results) if v)
    assert "cancelled" in panel.bar_texts[parallel_backend].value
    assert run.in_flight == 0 and run.running() == []


def test_throttled_updates_on_a_big_run():
    draws = []
    panel = RunPanel("tiny", ["process_map"], 100_000, WORKERS)
    original = panel._draw_progress
    panel._draw_progress = lambda run: (draws.append(time.monotonic()), original(run))
    run = wb.run(lambda x: x, range(100_000), backend="process_map", workers=WORKERS,
                 view=panel)
    assert run.ok and panel.bars["process_map"].value == 100_000
    gaps = [b - a for a, b in zip(draws[1:-1], draws[2:-1])]
    assert all(gap >= 0.2 for gap in gaps), "at most a few redraws per second"
    assert len(draws) < 10 + 5 * run.wall_time


def test_progress_text_comes_from_the_run():
    run = wb.run(lambda x: x, range(5), view="none")
    assert progress_text(run, 1.0).startswith("5/5 · finished in ")


def test_progress_text_shows_rate_and_eta_while_a_run_goes():
    import time

    seen = []

    def watch(event):  # a view: the text the panel's bar shows, as tasks finish
        if isinstance(event, TasksFinished) and event.run.state == "running":
            run = event.run
            seen.append((run.done, progress_text(run, time.monotonic() - began)))

    began = time.monotonic()
    wb.run(time.sleep, [0.1] * 6, backend="process_map", workers=2, chunksize=1, view=watch)
    done, text = seen[0]
    assert text.startswith(f"{done}/6 · ") and " running · " in text, text
    assert 0 <= int(text.split(" · ")[1].removesuffix(" running")) <= 2, "at most 2 run now"
    rate = float(text.split(" · ")[-2].removesuffix(" tasks/s"))
    assert 0 < rate < 100 and text.split(" · ")[-1].startswith("ETA "), text


def test_dashboard_runs_compares_and_keeps_history():
    dashboard = wb.Panel(flaky, range(8), backends=["serial", "process_map"])
    dashboard.workers.value = WORKERS
    dashboard.chunksize.value = "2"
    dashboard.backend_choice.value = ("process_map",)
    first = dashboard.run()
    assert isinstance(first, wb.Run) and first.chunk_sizes == [2, 2, 2, 2]
    dashboard.chunksize.value = "auto"
    dashboard.backend_choice.value = ("serial", "process_map")
    second = dashboard.compare()
    assert isinstance(second, wb.Comparison) and list(second.runs) == ["serial", "process_map"]
    assert dashboard.runs == [first, second]
    assert dashboard.history.value.count("<tr><td>") == 3
    assert len(dashboard.current.outputs) == 1
    dashboard.chunksize.value = "lots"
    assert dashboard.run() is None
    assert "chunk size must be 'auto' or a whole number" in html.unescape(
        dashboard.message.value)
    assert repr(dashboard) == "<workbench.Panel flaky over 8 items, 2 runs kept>"


def test_the_dashboards_stop_button_stops_its_run():
    dashboard = wb.Panel(lambda x: time.sleep(0.1) or x, range(60), backends=["process_map"])
    dashboard.workers.value = WORKERS
    dashboard.chunksize.value = "1"
    pressed = []

    def press_when_shown():
        deadline = time.monotonic() + 120
        while dashboard.panel is None and time.monotonic() < deadline:
            time.sleep(0.02)
        pressed.extend(press_stop_once_running(dashboard.panel))

    threading.Thread(target=press_when_shown, daemon=True).start()
    run = dashboard.run()
    assert run.state == "cancelled" and run.counts["ok"] >= 1 and run.counts["cancelled"] > 20
    assert dashboard.runs == [run] and dashboard.panel.stop_button.description == "Stopped"


def test_the_panel_links_to_the_dask_dashboard_of_the_cluster_that_ran():
    panel, run = run_with_panel(flaky, list(range(4)), ["dask"])
    assert run.dashboard and run.dashboard.startswith("http")
    assert f'href="{html.escape(run.dashboard)}"' in panel.links.value
    assert "dask dashboard" in panel.links.value


def test_auto_view_is_text_outside_a_notebook():
    from workbench.views import make_view
    from workbench.views.text import TextView

    assert isinstance(make_view("auto"), TextView)


def test_errors_logs_and_timeline_show_up_while_a_long_run_goes(monkeypatch):
    import workbench.views.panel as panel_module

    monkeypatch.setattr(panel_module, "DETAILS_EVERY", 0.3)
    monkeypatch.setattr(panel_module, "FIGURES_EVERY", 0.6)
    panel = RunPanel("slowflaky", ["process_map"], 24, WORKERS)
    seen = []

    def look(event):  # runs after the panel, during the run
        if type(event).__name__ == "TasksFinished" and event.run.state == "running":
            seen.append((event.run.done, panel.errors.value.count("<tr><td>"),
                         len(panel.timeline.outputs)))

    wb.run(lambda x: time.sleep(0.1) or flaky(x), range(24), backend="process_map",
           workers=WORKERS, chunksize=1, view=panel, observers=[look])
    during = [s for s in seen if s[0] < 24]
    assert any(errors > 0 for _, errors, _ in during), "failures listed before the end"
    assert any(figures > 0 for _, _, figures in during), "a timeline drawn before the end"
    assert panel.errors.value.count("<tr><td>") == 6


def test_rerun_of_a_run_shown_in_a_panel_gets_its_own_view():
    panel = RunPanel("flaky", ["serial"], 6)
    first = wb.run(flaky, range(6), view=panel)
    again = first.rerun_failed()
    assert panel.runs["serial"] is first, "the old panel keeps showing its own run"
    assert again.spec.settings["view"] == "auto"


FLAKY_CELL = """
def flaky(x):
    if x % 4 == 1:
        raise ValueError(f"no {x}")
    return x
"""


def test_a_shown_panels_text_gives_the_counts_once_the_run_ends(monkeypatch):
    """What a viewer without widgets (GitHub) shows and a saved notebook keeps is the panel's
    text/plain; it is sent when the cell starts, so each run's end sends it again (an
    update of the same display, the widget in it) with the counts, never cut short."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    import workbench.views

    shell = InteractiveShell.instance()  # a real shell: the one running, or a new one
    shell.run_line_magic("load_ext", "workbench")
    monkeypatch.setattr(workbench.views, "in_notebook", lambda: True)
    with capture_output() as captured:
        shell.run_cell_magic("parallel", f"--over range(12) --backend serial,process_map "
                                         f"--workers {WORKERS}", FLAKY_CELL)
    first, *updates = captured.outputs
    widget = "application/vnd.jupyter.widget-view+json"
    assert not first.update and widget in first.data
    assert first.data["text/plain"] == ("<workbench panel flaky: serial: not run; "
                                        "process_map: not run>")
    assert [u.update for u in updates] == [True, True], "one update as each run ends"
    assert {u.transient["display_id"] for u in updates} == {first.transient["display_id"]}
    assert updates[-1].data[widget] == first.data[widget], "the same widget stays shown"
    assert updates[-1].data["text/plain"] == (
        "<workbench panel flaky: serial: 12 of 12 tasks done: 9 ok, 3 error; "
        "process_map: 12 of 12 tasks done: 9 ok, 3 error>")


def test_the_stored_tutorials_keep_the_final_counts_of_their_panels():
    """nbval ignores display updates, so it cannot see a stale "not run" in a stored notebook
    (the text GitHub shows): this does. Refresh a notebook with ``jupyter nbconvert --execute``."""
    notebooks = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
    panels = []
    for path in notebooks:
        for cell in json.loads(path.read_text())["cells"]:
            for output in cell.get("outputs", []):
                text = "".join(output.get("data", {}).get("text/plain", ""))
                if text.startswith("<workbench panel "):
                    panels.append((path.name, text))
    assert len(panels) >= 10
    assert [p for p in panels if "not run" in p[1] or "…" in p[1]] == []


def naps(seconds):
    for i in range(int(seconds / 0.3)):
        print(f"still here {i}", flush=True)
        time.sleep(0.3)
    time.sleep(seconds % 0.3)
    return seconds


def test_the_running_tab_shows_running_tasks_marks_stragglers_and_opens_their_logs():
    from workbench.events import TasksRunning
    from workbench.views.panel import LOGS_TAB

    panel = RunPanel("naps", ["process_map"], 9, WORKERS)
    seen: dict = {}

    def observer(event):  # (told after the panel: it sees what the panel drew)
        if not isinstance(event, TasksRunning) or not any(
                t.index == 8 and "still here" in t.output for t in event.tasks):
            return
        if "chosen" not in seen and "straggler" in panel.running.value:
            seen["running"] = panel.running.value
            seen["chosen"] = panel.running_task.value = 8  # as choosing it in the tab does
            seen["tab_at_once"] = panel.tabs.selected_index  # (noted, opened at the redraw)
        elif "chosen" in seen and "log" not in seen:
            seen["tab"], seen["log"] = panel.tabs.selected_index, panel.log_text.value
        elif "log" in seen:
            seen["later"] = panel.log_text.value

    run = wb.run(naps, [0.05] * 8 + [3.0], backend="process_map", workers=WORKERS,
                 chunksize=1, view=panel, observers=[observer])
    assert "<td>8 <b" in seen["running"] and "still here" in seen["running"], seen
    assert seen["tab_at_once"] != LOGS_TAB, "a choice heard while busy only sets a flag"
    assert seen["tab"] == LOGS_TAB and "task 8: running on proc-" in seen["log"]
    assert len(seen["later"]) > len(seen["log"]), "the running task's log grows"
    assert run.stragglers() == [8]
    assert "stragglers (over 3x the median task time): process_map: 1 (tasks 8)" in \
        panel.summary.value
    assert panel.running.value == "<p>no task is running</p>"
    assert "task 8: ok on proc-" in panel.log_text.value


def test_the_open_log_chooser_keeps_each_task_in_its_place():
    """The browser sends a choice as a place in the list it shows, which may be a redraw
    behind: a place must name the same task in the next list."""
    from types import SimpleNamespace as Task

    from workbench.views.running import CHOICES, PROMPT, chooser_options

    listed, options = chooser_options([], [Task(index=3), Task(index=1)])
    assert options == [PROMPT, ("task 1", 1), ("task 3", 3)]
    listed, options = chooser_options(listed, [Task(index=3), Task(index=2)])
    assert options == [PROMPT, ("task 1 · ended", 1), ("task 3", 3), ("task 2", 2)]
    _, options = chooser_options(list(range(CHOICES)), [Task(index=99)])
    assert options == [PROMPT, ("task 99", 99)], "a full list starts again"
