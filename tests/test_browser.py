"""The panel in the front end users have: JupyterLab in a real Chromium, driven by Playwright.

It opens the quickstart tutorial, runs all cells, waits for the panels to render, opens the
Running tab of the slow run and a running task's growing log, presses Stop and sees the page
change, reads a task's log in the Logs tab, checks that the Summary table fits the output and
that a finished run's Stop button is off and says so, shows a timeline, and saves screenshots
(``test-artifacts/``). Widget-value tests cannot prove that
the widgets render; this does.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and the ``playwright`` package; skip it
locally with ``-m "not browser"``. Under CI (``CI`` set) a missing browser fails the test.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.once]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
IDLE = re.compile(r"\(ipykernel\) \| Idle")  # the status bar: kernel name and state
SETTINGS = {  # fresh Lab settings: no news lookups, every cell in the DOM
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """JupyterLab on 127.0.0.1 with a token, serving a copy of notebooks/ (autosave would
    rewrite the originals), with fresh config, settings and workspace folders."""
    missing = [what for what, there in (
        (CHROMIUM, Path(CHROMIUM).exists()), ("jupyter", shutil.which("jupyter")),
        ("playwright", importlib.util.find_spec("playwright"))) if not there]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} missing: .ci/run installs them")
        pytest.skip(f"{', '.join(missing)} missing (apt install chromium; pip install -e "
                    f"'.[test]')")
    shutil.copytree(ROOT / "notebooks", tmp_path / "lab" / "notebooks")
    with jupyter_lab(tmp_path) as (base, token):
        yield base, token, tmp_path


@contextlib.contextmanager
def jupyter_lab(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab serving ``tmp_path / "lab"``: its address and token, until the end."""
    settings = tmp_path / "settings"
    for name, value in SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    token, port = uuid.uuid4().hex, _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
         "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={tmp_path / 'lab'}", "--LabApp.news_url=",
         "--ServerApp.open_browser=False"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text())
            time.sleep(0.5)
    try:
        yield base, token
    finally:
        os.killpg(server.pid, 15)  # the server and the kernels it started
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
        log.close()


def test_quickstart_panel_renders_stops_and_shows_logs(lab):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    base, token, tmp_path = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.goto(f"{base}/lab/tree/notebooks/01-quickstart.ipynb?reset&token={token}")
            # the kernel is ready when the status bar names it and says Idle (the toolbar
            # says idle earlier, and Run All before the kernel is ready clears the cells)
            expect(page.get_by_role("button", name=IDLE)).to_be_visible(
                timeout=90_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

            panels = page.locator(".jp-OutputArea-output .widget-vbox:has(.widget-hprogress)")
            first = panels.filter(has_text="etl").first
            expect(first.locator(".widget-hprogress")).to_be_visible(timeout=90_000)

            # the slow run: press Stop while it runs, and see the page change
            slow = panels.filter(has_text="slow_step").first
            label = slow.locator(".widget-hbox:has(> .widget-hprogress) > .widget-label").first
            expect(label).to_contain_text("running", timeout=120_000)
            expect(label).to_contain_text("/20", timeout=10_000)
            # the Running tab: the tasks running now, with the last line each printed
            slow.locator(".lm-TabBar-tab", has_text="Running").click()
            expect(slow).to_contain_text("running for", timeout=10_000)
            expect(slow).to_contain_text(": part ", timeout=10_000)
            rows = slow.locator("table.wb-table:visible tr")
            expect(rows).to_have_count(3, timeout=10_000)  # a header, and a task per worker
            expect(label).to_contain_text("2 running", timeout=10_000)
            slow.screenshot(path=str(ARTIFACTS / "browser-running-tab.png"))
            # choosing a running task opens its log, which grows as the task prints
            chooser = slow.locator(".widget-dropdown:has-text('open log') select")
            log = slow.locator("pre", has_text=re.compile(r"^task \d+: ")).filter(visible=True)
            log_before = log_after = ""
            for _ in range(4):  # (a chosen task may end before it prints again: another)
                slow.locator(".lm-TabBar-tab", has_text="Running").click()
                # the newest task still running (not "ended"): most of it is still to run
                running = []
                for _wait in range(40):
                    labels = chooser.evaluate("(s) => [...s.options].map((o) => o.text)")
                    # (ipywidgets writes spaces as U+00A0)
                    running = [t for t in labels if re.match(r"task\s\d+$", t)]
                    if running:
                        break
                    page.wait_for_timeout(250)
                else:
                    continue
                try:
                    chooser.select_option(label=running[-1], timeout=2_000)  # (it may end)
                    expect(log).to_contain_text("running on", timeout=5_000)
                    log_before = log.inner_text()
                    parts = re.findall(r"part (\d) of 8", log_before)
                    following = f"part {int(parts[-1]) + 1 if parts else 1} of 8"
                    expect(log).to_contain_text(following, timeout=3_000)
                except (AssertionError, PlaywrightTimeout):
                    continue
                log_after = log.inner_text()
                if "running on" in log_after:
                    break
            slow.get_by_role("button", name="Stop").click()
            pressed = time.monotonic()
            expect(label).to_contain_text("cancelled", timeout=10_000)
            stopped_after = time.monotonic() - pressed
            expect(slow.get_by_role("button", name="Stop")).to_be_disabled()
            # the next cell reads the kept results from _parallel
            after = page.locator(".jp-Cell").filter(has_text="stopped = _parallel").first
            expect(after.locator(".jp-OutputArea-output")).to_contain_text(
                "cancelled -", timeout=60_000)
            kept_text = after.locator(".jp-OutputArea-output").inner_text()
            slow.screenshot(path=str(ARTIFACTS / "browser-stopped-panel.png"))

            # wait for the whole notebook to finish before clicking around the first panel
            expect(page.get_by_role("button", name=IDLE)).to_be_visible(
                timeout=60_000)
            page.wait_for_timeout(1_000)
            first.scroll_into_view_if_needed()
            first.locator(".lm-TabBar-tab", has_text="Logs").click()
            task = first.locator(".widget-inline-hbox:has-text('task') input").first
            task.fill("6")
            task.press("Enter")
            expect(first).to_contain_text("shop 7: downloading the export", timeout=15_000)
            expect(first).to_contain_text("ValueError", timeout=5_000)
            first.screenshot(path=str(ARTIFACTS / "browser-logs-tab.png"))

            # a finished run: Stop is off and says so; the Summary fits the output's width
            expect(first.get_by_role("button", name="finished")).to_be_disabled()
            first.locator(".lm-TabBar-tab", has_text="Summary").click()
            expect(first.locator("table.wb-table").first).to_be_visible(timeout=5_000)
            overflow = first.evaluate(
                "(panel) => panel.querySelector('table.wb-table').getBoundingClientRect().right"
                " - panel.closest('.jp-OutputArea-output').getBoundingClientRect().right")

            first.locator(".lm-TabBar-tab", has_text="Timeline").click()
            expect(first.locator("img").first).to_be_visible(timeout=30_000)
            first.screenshot(path=str(ARTIFACTS / "browser-timeline-tab.png"))
            page.screenshot(path=str(ARTIFACTS / "browser-page.png"), full_page=True)
        finally:
            context.close()
    assert stopped_after < 5, f"the panel showed the stop {stopped_after:.1f} s after Stop"
    kept = int(kept_text.split("\n")[1].split()[0])
    assert 1 <= kept < 20, kept_text
    assert "running on" in log_after and len(log_after) > len(log_before), (
        "the chosen task's log did not grow while it ran", log_before, log_after)
    assert overflow <= 0, f"the Summary table is {overflow:.0f} px wider than the output"
