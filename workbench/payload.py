"""What crosses the wire going out: the function and items (cloudpickle, so notebook functions,
lambdas and closures work under every start method); what comes back is read by
:mod:`workbench.decode`."""

from __future__ import annotations

import hashlib
import pickle
import sys
import time
import zlib
from collections.abc import Callable
from typing import Any, NamedTuple

from .errors import InputError
from .records import ERROR, TaskError, TaskRecord


def function_name(fn: Callable[..., Any]) -> str:
    """The short name users gave the function (``etl``, ``<lambda>``)."""
    name = getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", None)
    return name or type(fn).__name__


class Encoded(NamedTuple):
    """A function ready to travel (see :func:`encode_function`)."""

    key: bytes  # names it: same key, same pickle and buffers
    blob: tuple[bytes, list[Any]]  # (pickle, out-of-band buffers)
    files: dict[str, str]  # code key -> file it came from (see workbench.tracebacks)
    by_value: list[Any]  # the user's own modules sent by value with it (items use them too)


def encode_function(fn: Callable[..., Any]) -> Encoded:
    """The function pickled by value with protocol 5, its large buffers (numpy arrays,
    ``shared=`` objects) left out of band as ``pickle.PickleBuffer`` views of the caller's own
    memory (nothing copied), a key that names it, and where the code it carries came from.

    The user's own modules that the function uses (see :mod:`workbench.local_code`) travel by
    value too, so a warm worker runs the code the caller has now, never a stale import; the
    items must then travel the same way (:func:`encode_items`), so that an item of a class
    from such a module is of the very class the function knows.

    The key is a digest of the pickle plus, per buffer, its size and CRC-32 (about 3 GB/s,
    where a cryptographic digest of a 100 MB array costs 0.15 s): two functions get the same
    key only if their pickles are identical and their buffers have the same sizes and
    checksums, so an array changed in place between runs gets a new key (a stale copy on a
    warm worker would have the same checksum by chance only, 1 in 2**32 per buffer).
    :func:`workbench.worker.functions.load` turns ``(pickle, buffers)`` back into the
    function."""
    from .local_code import by_value, local_modules

    modules = local_modules(fn)
    try:
        with by_value(modules):
            main, buffers, files = _pickle(fn)
    except Exception as exc:  # noqa: BLE001 - whatever the pickler raises, say what to fix
        if not modules:
            raise _cannot_send(fn, exc) from None
        # Some module holds what cannot be pickled (a lock, a connection): send the others
        # by value, and that one by name (the workers import it)
        stuck = [m for m in modules if not _picklable_with(fn, [m])]
        modules = [m for m in modules if m not in stuck]
        try:
            with by_value(modules):
                main, buffers, files = _pickle(fn)
        except Exception as again:  # noqa: BLE001 - as above
            raise _cannot_send(fn, again) from None
        import warnings

        warnings.warn(f"workbench: {', '.join(m.__name__ for m in stuck) or 'a module'} could "
                      f"not be sent by value ({type(exc).__name__}: {exc}); workers import it "
                      "by name, so a warm worker may run an older version of it",
                      RuntimeWarning, stacklevel=4)
    return Encoded(_key(main, buffers), (main, buffers), files, modules)


def _picklable_with(fn: Callable[..., Any], modules: list[Any]) -> bool:
    from .local_code import by_value

    try:
        with by_value(modules):
            _pickle(fn)
    except Exception:  # noqa: BLE001 - that is the question
        return False
    return True


def _cannot_send(fn: Callable[..., Any], exc: Exception) -> InputError:
    return InputError(
        f"{function_name(fn)} cannot be sent to worker processes: "
        f"{_unpicklable_reference(fn) or exc}; create that object inside the function "
        "(or pass what it needs as part of each item), or use backend='serial'")


def _key(main: bytes, buffers: list[Any]) -> bytes:
    digest = hashlib.blake2b(main, digest_size=16)
    for buffer in buffers:
        view = buffer.raw()
        digest.update(b"%d:%d;" % (view.nbytes, zlib.crc32(view)))
    return digest.digest()


def _pickle(fn: Callable[..., Any]) -> tuple[bytes, list[Any], dict[str, str]]:
    """cloudpickle ``fn`` (protocol 5, buffers out of band) and note the file of every code
    object it sends by value, by :func:`workbench.tracebacks.code_key`."""
    import io
    import types

    import cloudpickle

    from .tracebacks import code_key

    files: dict[str, str] = {}
    buffers: list[Any] = []

    class Pickler(cloudpickle.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            if type(obj) is types.CodeType:
                files[code_key(obj)] = obj.co_filename
            return super().reducer_override(obj)

    with io.BytesIO() as out:
        Pickler(out, protocol=5, buffer_callback=buffers.append).dump(fn)
        return out.getvalue(), buffers, files


def raw_view(buffer: Any) -> memoryview:
    """A flat byte view of a buffer (a ``PickleBuffer`` of a C or Fortran ordered array)."""
    if isinstance(buffer, pickle.PickleBuffer):
        return buffer.raw()
    return memoryview(buffer).cast("B")


def as_array(buffer: Any) -> Any:
    """A buffer as a flat uint8 numpy array over the same memory (Dask sends those without
    pickling them); bytes if numpy is missing."""
    view = raw_view(buffer)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        return bytes(view)
    return np.frombuffer(view, dtype=np.uint8)


def function_size(blob: tuple[bytes, list[Any]]) -> int:
    """Bytes of an encoded function, buffers included."""
    main, buffers = blob
    return len(main) + sum(memoryview(b).nbytes for b in buffers)


def _unpicklable_reference(fn: Callable[..., Any]) -> str | None:
    """Name the global, closure variable or default argument that cannot be pickled."""
    import cloudpickle

    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    candidates: list[tuple[str, Any]] = []
    globals_ = getattr(fn, "__globals__", {})
    candidates += [(f"global {n!r}", globals_[n]) for n in code.co_names if n in globals_]
    cells = getattr(fn, "__closure__", None) or ()
    for name, cell in zip(code.co_freevars, cells):
        try:
            candidates.append((f"closure variable {name!r}", cell.cell_contents))
        except ValueError:  # empty cell
            pass
    for i, value in enumerate(getattr(fn, "__defaults__", None) or ()):
        candidates.append((f"default argument {i}", value))
    for label, value in candidates:
        if isinstance(value, type(sys)):
            continue  # modules are pickled by reference
        try:
            cloudpickle.dumps(value)
        except Exception as exc:  # noqa: BLE001 - that is the question
            return f"it uses {label}, a {type(value).__name__}, which cannot be pickled ({exc})"
    return None


def encode_items(items: list[Any], by_value: list[Any] = ()) -> tuple[bytes, list[tuple[int, str]]]:
    """Pickle a chunk's items (the modules ``by_value`` of the function by value, as for
    the function); return the blob and ``(position, reason)`` for items that cannot be
    pickled (those are left out of the blob)."""
    from .local_code import by_value as modules_by_value

    with modules_by_value(list(by_value)):
        return _encode_items(items)


def _encode_items(items: list[Any]) -> tuple[bytes, list[tuple[int, str]]]:
    import cloudpickle

    try:
        return cloudpickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL), []
    except Exception:  # noqa: BLE001 - some item cannot travel: find which, below
        pass
    good, bad = [], []
    for pos, item in enumerate(items):
        try:
            cloudpickle.dumps(item)
            good.append(item)
        except Exception as exc:  # noqa: BLE001 - this item's error record says why
            bad.append((pos, f"{type(exc).__name__}: {exc}"))
    return cloudpickle.dumps(good, protocol=pickle.HIGHEST_PROTOCOL), bad


def unpicklable_item_record(index: int, attempt: int, item: Any, reason: str) -> TaskRecord:
    now = time.time()
    message = (f"item {index} ({type(item).__name__}) cannot be sent to a worker: {reason}; "
               "pass plain data (numbers, strings, paths, arrays) or use backend='serial'")
    return TaskRecord(index=index, status=ERROR, attempt=attempt, submitted=now, received=now,
                      error=TaskError("UnpicklableItem", message, ""))
