"""Plots of runs, drawn with matplotlib on a new Figure each (never pyplot's global state).

Each function takes plain data (records, samples, a Comparison) and returns the Figure, which
a notebook displays and a script can ``savefig``.
"""

from .comparison import plot_comparison
from .figure import STATUS_COLOURS, png_image
from .resources import LINE_POINTS, plot_resources
from .timeline import (
    MAX_BARS,
    MAX_BARS_PER_ROW,
    MIN_TIME_BINS,
    SEVERITY,
    TIME_BINS,
    plot_timeline,
    plot_timeline_arrays,
)

__all__ = ["plot_timeline", "plot_timeline_arrays", "plot_resources", "plot_comparison",
           "png_image", "STATUS_COLOURS", "SEVERITY", "LINE_POINTS", "MAX_BARS",
           "MAX_BARS_PER_ROW", "TIME_BINS", "MIN_TIME_BINS"]
