"""The panel's Timeline and Resources tabs: a timeline per run, and the CPU and memory of its
workers with where those numbers come from, as PNG images (drawn when the tab is shown: well
under a second each, however many tasks and samples)."""

from __future__ import annotations

from typing import Any


def draw(timeline: Any, resources: Any, runs: dict[str, Any]) -> None:
    """Fill the ``timeline`` and ``resources`` Output widgets with the figures of ``runs``
    (by backend name)."""
    from .. import plots

    # Replace the outputs as state: ``clear_output()`` would go through ``with out:``.
    timeline.outputs = ()
    resources.outputs = ()
    for name, run in runs.items():
        if run.state == "starting":
            continue
        timeline.append_display_data(plots.png_image(
            plots.plot_timeline_arrays(*run.timeline(), title=f"{run.fn_name} on {name}")))
        if run.state == "running":
            resources.append_stdout(f"{name}: sampled while it runs, drawn at the end\n")
            continue
        if not run.resources:  # serial (the kernel itself), a short run
            resources.append_stdout(f"{name}: no worker process sampled\n")
            continue
        labels = run.worker_labels()
        if run.resources_from:
            resources.append_stdout(f"{name}: from {run.resources_from}\n")
        resources.append_display_data(plots.png_image(
            plots.plot_resources(run.resources, labels=labels,
                                 title=f"{name}: CPU and memory per worker")))
