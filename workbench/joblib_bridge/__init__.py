"""scikit-learn and joblib through workbench: a joblib backend whose batches become workbench
chunks, one record per joblib call (one fit), on whichever workbench backend is chosen.

Read in data-flow order: :mod:`.context` (``wb.joblib_backend``, registration), :mod:`.backend`
(joblib's side: the ``ParallelBackendBase`` subclass), :mod:`.call_run` (one ``Parallel`` call
as one workbench run, fed batch by batch), :mod:`.feed` (the hand-over between joblib's
threads and the run's loop), :mod:`.calls` (what a worker runs for one call).

joblib is imported only here, and only when this package is used.
"""

from __future__ import annotations

from .context import JoblibRuns, joblib_backend, register
from .feed import RemoteTraceback, TaskFailed

__all__ = ["joblib_backend", "register", "JoblibRuns", "TaskFailed", "RemoteTraceback"]
