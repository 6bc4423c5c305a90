"""Bad input: one clear line that names the problem and the fix, before any worker starts."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import workbench as wb
from workbench import backends

ROOT = Path(__file__).resolve().parents[1]


def square(x):
    return x * x


def notebook_function(source: str, name: str, **globals_):
    """Define a function as a notebook cell does: in a module that workers cannot import, so
    it must travel by value with the globals it uses."""
    namespace = {"__name__": "notebook_cell", **globals_}
    exec(source, namespace)
    return namespace[name]


uses_a_lock = notebook_function("def uses_a_lock(x):\n    with LOCK:\n        return x\n",
                                "uses_a_lock", LOCK=threading.Lock())


# (what, call, exception type, words the message must contain)
CASES = [
    ("unknown backend", lambda: wb.run(square, [1], backend="rey"), wb.InputError,
     ["unknown backend 'rey'", "serial, process_map, dask, ray"]),
    ("backend not a string", lambda: wb.run(square, [1], backend=3), wb.InputError,
     ["unknown backend 3"]),
    ("zero workers", lambda: wb.run(square, [1], workers=0), wb.InputError,
     ["workers must be at least 1, got 0", "workers=None"]),
    ("negative workers", lambda: wb.run(square, [1], workers=-2), wb.InputError,
     ["at least 1, got -2"]),
    ("fractional workers", lambda: wb.run(square, [1], workers=2.5), wb.InputError,
     ["whole number", "2.5"]),
    ("workers as text", lambda: wb.run(square, [1], workers="2"), wb.InputError,
     ["whole number", "'2'"]),
    ("workers as bool", lambda: wb.run(square, [1], workers=True), wb.InputError,
     ["whole number"]),
    ("items not iterable", lambda: wb.run(square, 5), wb.InputError,
     ["items must be iterable, got int 5", "range(10)"]),
    ("items is None", lambda: wb.run(square, None), wb.InputError,
     ["items must be iterable, got NoneType"]),
    ("items is a string", lambda: wb.run(square, "abc"), wb.InputError,
     ["items is a str", "['abc']"]),
    ("endless items", lambda: wb.run(square, itertools.count()), wb.InputError,
     ["endless count", "islice"]),
    ("0-d array", lambda: wb.run(square, np.array(3)), wb.InputError, ["0-d array"]),
    ("fn not callable", lambda: wb.run([1, 2], [1]), wb.InputError,
     ["fn must be a function, got list"]),
    ("bad chunksize", lambda: wb.run(square, [1], chunksize=0), wb.InputError,
     ["chunksize must be 'auto' or a whole number >= 1, got 0"]),
    ("bad retries", lambda: wb.run(square, [1], retries=-1), wb.InputError,
     ["retries must be a whole number >= 0"]),
    ("bad timeout", lambda: wb.run(square, [1], timeout=0), wb.InputError,
     ["timeout must be a number of seconds > 0 (finite), or None"]),
    ("endless timeout", lambda: wb.run(square, [1], timeout=float("inf")), wb.InputError,
     ["timeout must be a number of seconds > 0 (finite), or None"]),
    ("a DataFrame as items", lambda: wb.run(square, __import__("pandas").DataFrame({"a": [1]})),
     wb.InputError, ["items is a pandas DataFrame", "df.itertuples(index=False)"]),
    ("bad seed", lambda: wb.run(square, [1], seed="x"), wb.InputError,
     ["seed must be a whole number >= 0 or None"]),
    ("address on a local backend", lambda: wb.run(square, [1], address="tcp://h:1"),
     wb.InputError, ["address= is for the dask and ray backends", "backend='dask'"]),
    ("backend_options not a dict", lambda: wb.run(square, [1], backend_options=[1]),
     wb.InputError, ["backend_options must be a dict"]),
    ("unknown start method",
     lambda: wb.run(square, [1], backend="process_map", backend_options={"start_method": "x"}),
     wb.InputError, ["start_method 'x' is not available", "forkserver"]),
    ("unknown view", lambda: wb.run(square, [1], view="fancy"), wb.InputError,
     ["unknown view 'fancy'", "auto, text, none"]),
    ("unknown config key", lambda: wb.config(bakend="dask").__enter__(), wb.InputError,
     ["unknown setting 'bakend'"]),
    ("unpicklable global",
     lambda: wb.run(uses_a_lock, [1], backend="process_map", workers=2, view="none"),
     wb.InputError, ["uses_a_lock cannot be sent to worker processes", "global 'LOCK'",
                     "lock", "backend='serial'"]),
    ("compare with a string", lambda: wb.compare(square, [1], backends="dask"), wb.InputError,
     ["backends must be a list of names", "['dask']"]),
    ("compare with no backends", lambda: wb.compare(square, [1], backends=[]), wb.InputError,
     ["backends is empty"]),
    ("compare with an unknown backend",
     lambda: wb.compare(square, [1], backends=["serial", "spark"]), wb.InputError,
     ["unknown backend 'spark'"]),
]


@pytest.mark.parametrize("what, call, kind, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_one_clear_line_and_starts_nothing(what, call, kind, words):
    live = set(backends.live())
    with pytest.raises(kind) as info, warnings.catch_warnings():
        warnings.simplefilter("error")  # the one line, and no warning beside it
        call()
    message = str(info.value)
    assert "\n" not in message, f"{what}: message is not one line: {message!r}"
    for word in words:
        assert word in message, f"{what}: {word!r} not in {message!r}"
    assert set(backends.live()) == live, "nothing may start on bad input"


def test_closure_variable_that_cannot_be_pickled_is_named():
    lock = threading.Lock()

    def f(x):
        with lock:
            return x

    with pytest.raises(wb.InputError, match="closure variable 'lock'"):
        wb.run(f, [1], backend="process_map", workers=2, view="none")


def test_unpicklable_item_fails_alone(parallel_backend):
    items = [1, threading.Lock(), 3]
    r = wb.run(lambda x: x if isinstance(x, int) else "?", items, backend=parallel_backend,
               workers=2, view="none")
    assert r.results[0] == 1 and r.results[2] == 3
    err = r.task(1).error
    assert err.type == "UnpicklableItem" and "item 1 (lock) cannot be sent" in err.message


@pytest.mark.parametrize("backend", ["dask", "ray"])
def test_address_nobody_answers_fails_fast_and_keeps_the_warm_backend(backend):
    wb.run(square, [1], backend=backend, workers=2, view="none")  # warm local one
    warm = backends.live()[backend]
    began = time.monotonic()
    with pytest.raises(wb.BackendError) as info:
        wb.run(square, [1], backend=backend, address="127.0.0.1:9", view="none")
    assert time.monotonic() - began < 10
    message = str(info.value)
    assert "\n" not in message and "127.0.0.1:9" in message and "start" in message
    assert backends.live()[backend] is warm


@pytest.fixture
def chatty_server():
    """A TCP service that is neither Dask nor Ray: it greets every connection with a line."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"220 mail.example ESMTP ready\r\n")
                time.sleep(0.3)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    server.close()


def _dask_dashboard() -> str:
    wb.run(square, [1], backend="dask", workers=2, view="none")
    link = backends.live()["dask"].dashboard
    return link.split("://")[1].split("/")[0]


def _dask_scheduler() -> str:
    wb.run(square, [1], backend="dask", workers=2, view="none")
    return backends.live()["dask"]._client.scheduler.address


@pytest.mark.parametrize("backend, where, words", [
    ("dask", "dashboard", "an HTTP server answered there"),
    ("dask", "chatty", "a service that said '220 mail.example ESMTP ready"),
    ("dask", "http", "is a web address, not a Dask scheduler's"),
    ("ray", "chatty", "a service that said '220 mail.example ESMTP ready"),
    ("ray", "dask", "a Dask scheduler answered there"),
    ("ray", "http", "is a web address, not a Ray head's"),
])
def test_an_address_where_something_else_answers_is_named_in_one_line(
        backend, where, words, chatty_server):
    address = {"dashboard": _dask_dashboard, "dask": _dask_scheduler,
               "chatty": lambda: chatty_server, "http": lambda: "http://127.0.0.1:8787"}[where]()
    before = dict(backends.live())
    began = time.monotonic()
    with pytest.raises(wb.BackendError) as info:
        wb.run(square, [1], backend=backend, address=address, view="none")
    assert time.monotonic() - began < 15, "the promise: an answer within 15 s"
    message = str(info.value)
    assert "\n" not in message and address in message and words in message, message
    assert dict(backends.live()) == before, "the warm backends are kept"


@pytest.mark.parametrize("backend, extra", [("dask", "dask"), ("ray", "ray")])
def test_missing_package_says_what_to_install(backend, extra, tmp_path):
    # A real interpreter without site-packages: workbench itself needs only the stdlib to
    # import, so this is an environment where dask and ray are really not installed.
    code = (f"import workbench as wb\n"
            f"try:\n    wb.run(abs, [1], backend={backend!r})\n"
            f"except ImportError as e:\n    print(type(e).__name__, '|', e)\n")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert out.returncode == 0, out.stderr
    kind, message = out.stdout.strip().split(" | ")
    assert kind == "BackendNotInstalled"
    assert f'pip install "parallel-workbench[{extra}]"' in message
