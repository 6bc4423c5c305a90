"""Large objects every task needs reach each worker once per run, not once per task: passed
as ``shared=`` (``fn(item, **shared)``) or captured as a global of the function."""

from __future__ import annotations

import os

import psutil
import pytest

import workbench as wb
from conftest import run
from workbench import backends

#: Larger than the size above which Dask broadcasts the function instead of inlining it.
PAYLOAD = 2 << 20


def _revive(path: str, payload: bytes) -> Counted:
    """Called each time a Counted is unpickled: one line per unpickling, with the pid."""
    with open(path, "a") as f:
        f.write(f"{os.getpid()}\n")
    return Counted(path, payload)


class Counted:
    """A big object that writes down every time a process unpickles it."""

    def __init__(self, path: str, payload: bytes):
        self.path, self.payload = path, payload

    def __reduce__(self):
        return (_revive, (self.path, self.payload))


def _uses(item, table):
    return (item, len(table.payload), os.getpid())


def _unpickled(path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def _bytes_read(backend: str) -> int:
    """Bytes the backend's worker processes have read (pipes and sockets included)."""
    total = 0
    for p in backends.live()[backend].processes():
        try:
            total += p.io_counters().read_chars
        except psutil.Error:
            continue
    return total


def test_shared_object_reaches_each_worker_once(tmp_path, backend):
    log = tmp_path / "loads.txt"
    table = Counted(str(log), b"x" * PAYLOAD)
    run(abs, [1], backend)  # warm
    before = _bytes_read(backend) if backend == "process_map" else 0
    result = run(_uses, range(24), backend, shared={"table": table}, chunksize=1)
    if backend == "process_map":  # the pipes: each worker read the object about once
        read = _bytes_read(backend) - before
        assert read < 6 * PAYLOAD, f"workers read {read / 2**20:.0f} MiB for 2 MiB shared"
    if backend == "dask":  # broadcast: one replica of the function per worker, held by Dask
        client = backends.live()["dask"]._client
        sizes = client.nbytes(summary=False)
        big = [key for key, size in sizes.items() if size >= PAYLOAD]
        assert len(big) == 1 and len(client.who_has()[big[0]]) == 2
    assert [r[:2] for r in result.results] == [(i, PAYLOAD) for i in range(24)]
    loads = _unpickled(log)
    pids = {r[2] for r in result.results}
    if backend == "serial":
        assert loads == [], "nothing is pickled in the caller's own process"
    else:
        # each worker process unpickles it once; 24 one-item chunks never mean 24 copies
        assert sorted(loads) == sorted(pids), (loads, pids)
    assert len(result.chunk_sizes) == 24


def test_a_large_global_of_the_function_also_travels_once(tmp_path, parallel_backend):
    log = tmp_path / "loads.txt"
    table = Counted(str(log), b"x" * PAYLOAD)

    def uses_global(item):
        return (item, len(table.payload), os.getpid())

    result = run(uses_global, range(12), parallel_backend, chunksize=1)
    assert [r[1] for r in result.results] == [PAYLOAD] * 12
    assert sorted(_unpickled(log)) == sorted({r[2] for r in result.results})


def test_a_rerun_on_the_warm_backend_sends_a_new_shared_object(tmp_path, backend):
    first = run(_uses, range(4), backend, shared={"table": Counted(str(tmp_path / "a"), b"a")})
    second = run(_uses, range(4), backend, shared={"table": Counted(str(tmp_path / "b"), b"bb")})
    assert [r[1] for r in first.results] == [1] * 4
    assert [r[1] for r in second.results] == [2] * 4
    assert [r[1] for r in second.rerun_failed().results] == []


def _array_facts(item, arr):
    """What a task sees of a shared array: writable, 16-byte aligned (as an unpickled array
    is), and its sum (which differs in the last bit on memory not 8-byte aligned)."""
    arr[item] = arr[item]  # raises if read-only
    return bool(arr.flags.writeable), arr.ctypes.data % 16 == 0, float(arr.sum())


def test_a_shared_array_is_writable_aligned_and_sums_as_in_the_caller(parallel_backend):
    from workbench import examples
    from workbench.worker.functions import HUGE_FROM

    arr = examples.shared_array(2 * HUGE_FROM / 1e6, seed=3)  # takes the huge-page copy
    result = run(_array_facts, range(4), parallel_backend, shared={"arr": arr})
    assert result.results == [(True, True, float(arr.sum()))] * 4


def test_a_worker_copies_only_a_buffer_it_cannot_use_as_it_is():
    from workbench.worker.functions import HUGE_FROM, writable

    data = bytes(range(256)) * 64
    kept = bytearray(data)
    assert writable(kept) is kept
    view = memoryview(bytearray(data))  # writable and aligned: used as it is
    assert writable(view) is view
    for source in (data, memoryview(bytearray(b"\0" + data))[1:]):  # read-only; odd address
        copy = writable(source)
        assert copy is not source and not memoryview(copy).readonly
        assert bytes(copy) == data
    big = writable(bytes(range(256)) * (HUGE_FROM // 256))
    assert not memoryview(big).readonly and bytes(big[:256]) == bytes(range(256))


@pytest.mark.parametrize("shared, message", [
    ([1, 2], "shared must be a dict"),
    ({"not a name": 1}, "shared must be a dict"),
    ({"other": 1}, "cannot be called as fn(item, other=...)"),
])
def test_bad_shared_is_one_clear_line(shared, message):
    with pytest.raises(wb.InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        wb.run(_uses, range(3), shared=shared, view="none")
