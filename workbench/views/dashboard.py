"""``workbench.Panel``: a standing dashboard over one function and its items. Choose the
backends, workers and chunk size, press Run or Compare, press Stop; the last runs stay listed
so they can be compared."""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as w

from ..api import run as run_one
from ..compare import compare
from ..comparison import Comparison
from ..errors import BackendError, BackendNotInstalled, InputError
from ..payload import function_name
from ..plan import materialize
from .choices import offered_backends, parse_chunksize, shown_backends
from .format import summary_html
from .panel import RunPanel


class Panel(w.VBox):
    """A dashboard for ``fn`` over ``items``.

    Examples
    --------
    >>> dashboard = workbench.Panel(calc_chunk, items, star=True)
    >>> dashboard            # shows the controls; press Run or Compare
    >>> dashboard.runs[-1]   # the last Run (or Comparison)
    """

    def __init__(self, fn: Callable[..., Any], items: Iterable[Any], *,
                 backends: list[str] | None = None, keep: int = 10, **settings: Any):
        self.fn = fn
        self.items = materialize(items)
        self.settings = settings
        self.keep = keep
        self.runs: list[Any] = []  # Run or Comparison, oldest first
        self.panel: RunPanel | None = None  # the panel of the last run pressed: its Stop
        names = offered_backends(backends)
        self.backend_choice = w.SelectMultiple(options=names, value=(names[0],),
                                               description="backends", rows=len(names))
        self.workers = w.BoundedIntText(value=os.cpu_count() or 1, min=1, max=4096,
                                        description="workers")
        self.chunksize = w.Text(value="auto", description="chunk size")
        self.run_button = w.Button(description="Run", icon="play", button_style="primary",
                                   tooltip="run on the first chosen backend")
        self.compare_button = w.Button(description="Compare", icon="balance-scale",
                                       tooltip="run on every chosen backend, serial first")
        self.message = w.HTML()
        self.current = w.Output()
        self.history = w.HTML()
        self.run_button.on_click(lambda _b: self.run())
        self.compare_button.on_click(lambda _b: self.compare())
        super().__init__(children=[
            w.HTML(f"<b>{html.escape(function_name(fn))}</b> over {len(self.items)} items"),
            w.HBox([self.backend_choice,
                    w.VBox([self.workers, self.chunksize,
                            w.HBox([self.run_button, self.compare_button])])]),
            self.message, self.current, self.history,
        ])

    # ----------------------------------------------------------------- actions
    def run(self) -> Any:
        """Run on the first chosen backend (what the Run button does)."""
        return self._go(list(self.backend_choice.value)[:1], comparing=False)

    def compare(self) -> Any:
        """Run on every chosen backend, serial first (what the Compare button does)."""
        return self._go(list(self.backend_choice.value), comparing=True)

    def _go(self, names: list[str], comparing: bool) -> Any:
        self.message.value = ""
        try:
            settings = {**self.settings, "workers": self.workers.value,
                        "chunksize": parse_chunksize(self.chunksize.value, "chunk size")}
            if not names:
                raise InputError("choose at least one backend")
        except InputError as exc:
            self.message.value = f"<span style='color:#d1495b'>{html.escape(str(exc))}</span>"
            return None
        panel = self.panel = RunPanel(function_name(self.fn), shown_backends(names, comparing),
                                      len(self.items), self.workers.value)
        self.current.outputs = ()  # not clear_output(): that goes through `with out:`
        self.current.append_display_data(panel)
        self.run_button.disabled = self.compare_button.disabled = True
        try:
            if comparing:
                result = compare(self.fn, self.items, backends=names, view=panel, **settings)
            else:
                result = run_one(self.fn, self.items, backend=names[0], view=panel, **settings)
        except (InputError, BackendError, BackendNotInstalled) as exc:
            self.message.value = f"<span style='color:#d1495b'>{html.escape(str(exc))}</span>"
            return None
        finally:
            self.run_button.disabled = self.compare_button.disabled = False
        self.runs = (self.runs + [result])[-self.keep:]
        self.history.value = "<h4>Last runs</h4>" + summary_html(self.comparison())
        return result

    def comparison(self) -> Comparison:
        """Every kept run side by side (a compared backend counts as one run)."""
        runs: dict[str, Any] = {}
        for n, result in enumerate(self.runs, 1):
            for run in (result.runs.values() if isinstance(result, Comparison) else [result]):
                chosen = " (auto)" if run.reason else ""
                runs[f"#{n} {run.backend}{chosen} ×{run.workers}, chunks {run.chunksize}"] = run
        serial = [label for label, run in runs.items() if run.backend == "serial"]
        return Comparison(runs, serial[-1] if serial else None)

    def __repr__(self) -> str:
        return (f"<workbench.Panel {function_name(self.fn)} over {len(self.items)} items, "
                f"{len(self.runs)} runs kept>")

