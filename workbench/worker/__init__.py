"""The only workbench code that runs inside workers, one job per module:

* :mod:`.runner`: the entry point every backend calls, :func:`run_chunk`, and one task's run;
* :mod:`.task_api`: what a task's code may use (``current_task``, ``task_rng``, ``TaskTimeout``);
* :mod:`.hooks`: print, ``sys.stdout``/``sys.stderr``, logging and warnings into the task's record;
* :mod:`.timeouts`: a task's deadline, and the tasks stuck past it;
* :mod:`.encoding`: a value or an exception as data that travels;
* :mod:`.functions`: the functions a worker holds (the cache rule callers mirror);
* :mod:`.nested`: the one deliberate patch, a guard against tasks that start process pools.

What it sends back is defined in :mod:`workbench.contract`. At import time it needs only the
standard library (numpy and cloudpickle are imported when a task asks for them).
"""

from .runner import FLUSH_INTERVAL, HOST, TaskOptions, run_chunk, run_task
from .task_api import RunInterrupted, TaskTimeout, current_task, task_rng, task_seed_sequence

__all__ = ["run_chunk", "run_task", "TaskOptions", "FLUSH_INTERVAL", "HOST", "TaskTimeout",
           "RunInterrupted", "current_task", "task_rng", "task_seed_sequence"]
