"""Which Dask client a run uses when no ``address=`` is given: the user's own default
``Client`` when there is one (``dask.compute``, Dask's joblib backend and every Dask-aware
library use it), else workbench's own ``LocalCluster`` (:mod:`workbench.backends.dask`)."""

from __future__ import annotations

import sys
from typing import Any


def default_client() -> Any:
    """The Client the user made (``Client(...)`` makes itself the default), if distributed
    is imported and that Client is running; workbench's own are never the default."""
    if "distributed" not in sys.modules:
        return None
    from distributed import default_client as current

    try:
        client = current()
    except ValueError:  # none
        return None
    return client if client.status == "running" else None


def threads(client: Any) -> int:
    """Tasks at once on a client's cluster: its worker threads."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    return max(1, sum(w.get("nthreads", 1) for w in info.values()))
