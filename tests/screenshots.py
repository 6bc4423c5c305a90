"""The README's panel screenshots, taken as the browser test takes its own: JupyterLab in
Debian's Chromium, driven by Playwright. ``python tests/screenshots.py`` runs one cell that
compares the four backends over a function that prints, logs, fails on 3 items and has one
straggler, and writes

* ``notebooks/images/panel-running.png``: the panel while Ray runs, on its Running tab;
* ``notebooks/images/panel.png``: the same panel once the cell is done, on its Summary tab.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_browser import CHROMIUM, FLAGS, IDLE, ROOT, jupyter_lab  # noqa: E402

IMAGES = ROOT / "notebooks" / "images"
CELLS = [
    "%load_ext workbench\nimport logging\nimport time",
    """%%parallel --over range(24) --backend all --workers 2
def process(i):
    print(f"item {i}: loading")
    time.sleep(2.5 if i == 13 else 0.25)  # item 13 is a straggler
    if i % 10 == 7:
        raise ValueError(f"item {i}: a bad row")
    logging.warning("item %d: 2 rows skipped", i)
    return i * i""",
]


def _notebook(path: Path) -> None:
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": source} for source in CELLS]
    path.write_text(json.dumps({
        "cells": cells, "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                    "language": "python"}}}))


def main() -> None:
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "lab").mkdir()
        _notebook(tmp_path / "lab" / "panel.ipynb")
        with jupyter_lab(tmp_path) as (base, token), sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/lab/tree/panel.ipynb?reset&token={token}")
            expect(page.get_by_role("button", name=IDLE)).to_be_visible(timeout=90_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            panel = page.locator(".jp-OutputArea-output .widget-vbox:has(.widget-hprogress)")
            labels = panel.locator(".widget-hbox:has(> .widget-hprogress) > .widget-label")
            expect(labels.nth(3)).to_contain_text("running", timeout=180_000)  # Ray's turn
            panel.locator(".lm-TabBar-tab", has_text="Running").click()
            running = panel.locator("table.wb-table:visible")
            expect(running).to_contain_text("straggler", timeout=60_000)
            panel.screenshot(path=str(IMAGES / "panel-running.png"))
            # (not the status bar's "Idle": it shows one while the cell still runs)
            expect(labels.nth(3)).to_contain_text("finished", timeout=120_000)
            panel.locator(".lm-TabBar-tab", has_text="Summary").click()
            page.wait_for_timeout(500)
            panel.screenshot(path=str(IMAGES / "panel.png"))
            browser.close()
    print(f"wrote {IMAGES / 'panel-running.png'} and {IMAGES / 'panel.png'}")


if __name__ == "__main__":
    main()
