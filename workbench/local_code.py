"""The user's own modules travel with the function, so warm workers run today's code.

A worker imports a module once and keeps it. A function imported from ``mymod.py`` beside the
notebook would, after the user edits and reloads ``mymod`` (by hand or with ``%autoreload``),
still run the old code on a warm process pool, Dask or Ray worker: silently wrong results.
So the modules a function reaches that are the user's own, i.e. neither the standard library
nor an installed package, are pickled by value with it (cloudpickle's
``register_pickle_by_value``, for the duration of one pickling): an edit changes the
function's key, and the workers receive the new code. Installed packages stay by reference.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import sysconfig
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

#: cloudpickle's by-value registry is process-wide: one pickling at a time changes it.
_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _installed_roots() -> tuple[str, ...]:
    """Folders of the standard library and of installed packages."""
    import site

    paths = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        for scheme_vars in ({}, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}):
            try:
                paths.add(sysconfig.get_paths(vars=scheme_vars or None)[key])
            except KeyError:
                continue
    paths.update(getattr(site, "getsitepackages", list)())
    paths.add(site.getusersitepackages())
    return tuple(sorted({os.path.realpath(p) for p in paths if p}))


def is_local(module: types.ModuleType) -> bool:
    """Whether ``module`` is the user's own Python source (not stdlib, not installed)."""
    name = getattr(module, "__name__", "")
    if name in ("__main__", "__mp_main__") or name.split(".")[0] == "workbench":
        return False  # __main__ travels by value anyway; workbench is what workers run
    path = getattr(module, "__file__", None)
    if not path or not path.endswith(".py") or name not in sys.modules:
        return False  # built-in, compiled extension, namespace package, or not importable
    path = os.path.realpath(path)
    parts = path.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return False
    return not any(path.startswith(root + os.sep) for root in _installed_roots())


def local_modules(fn: Callable[..., Any]) -> list[types.ModuleType]:
    """The user's own modules that ``fn`` reaches: the modules of the functions, classes and
    objects it refers to (globals, closures, defaults, partial arguments), and in turn what
    the code of ``__main__`` and of those modules refers to. Installed code is not entered:
    it travels by reference."""
    found: dict[str, types.ModuleType] = {}
    seen: set[int] = set()
    todo: list[Any] = [fn]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        module = obj if isinstance(obj, types.ModuleType) else _module_of(obj)
        if module is not None and module.__name__ not in found and is_local(module):
            found[module.__name__] = module
            todo += [v for v in vars(module).values() if _worth_a_look(v)]
        if isinstance(obj, types.ModuleType):
            continue
        travels_by_value = module is None or module.__name__ in found or (
            module.__name__ in ("__main__", "__mp_main__"))
        if travels_by_value or isinstance(obj, (functools.partial, types.MethodType)):
            todo += _references(obj)
    return list(found.values())


def _module_of(obj: Any) -> types.ModuleType | None:
    holder = obj if isinstance(obj, (type, types.FunctionType)) else type(obj)
    name = getattr(holder, "__module__", None)
    return sys.modules.get(name) if isinstance(name, str) else None


def _worth_a_look(value: Any) -> bool:
    return isinstance(value, (types.ModuleType, types.FunctionType, type, functools.partial,
                              types.MethodType))


def _references(obj: Any) -> list[Any]:
    """What a function, class, partial or method refers to, as cloudpickle would pickle it."""
    if isinstance(obj, functools.partial):
        refs = [obj.func, *obj.args, *obj.keywords.values()]
    elif isinstance(obj, types.MethodType):
        refs = [obj.__func__, obj.__self__]
    elif isinstance(obj, type):
        refs = [v for v in vars(obj).values() if isinstance(v, types.FunctionType)]
    elif isinstance(obj, types.FunctionType):
        names: set[str] = set()
        codes = [obj.__code__]
        while codes:  # nested functions, lambdas and comprehensions use globals too
            code = codes.pop()
            names.update(code.co_names)
            codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        refs = [obj.__globals__[n] for n in names if n in obj.__globals__]
        for cell in obj.__closure__ or ():
            with contextlib.suppress(ValueError):  # an empty cell
                refs.append(cell.cell_contents)
        refs += list(obj.__defaults__ or ()) + list((obj.__kwdefaults__ or {}).values())
    else:
        return []
    return [r for r in refs if _worth_a_look(r) or _is_local_instance(r)]


def _is_local_instance(value: Any) -> bool:
    """An instance of a class from one of the user's own modules (its class travels too)."""
    module = sys.modules.get(getattr(type(value), "__module__", ""))
    return module is not None and is_local(module)


@contextlib.contextmanager
def by_value(modules: list[types.ModuleType]) -> Iterator[None]:
    """Within the block, cloudpickle pickles ``modules`` (their functions and classes) by
    value; the registry is as it was afterwards."""
    if not modules:
        yield
        return
    import cloudpickle

    with _lock:
        added = []
        for module in modules:
            try:
                cloudpickle.register_pickle_by_value(module)
                added.append(module)
            except ValueError:  # already registered (by the user), or not importable
                continue
        try:
            yield
        finally:
            for module in added:
                with contextlib.suppress(ValueError):
                    cloudpickle.unregister_pickle_by_value(module)
