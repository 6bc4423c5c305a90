"""``%%parallel``: map the function a cell defines over ``--over`` items on one backend, or
compare several, with the live panel as the cell's output.

The magic is thin: it parses its line, runs the cell in the user namespace (so the function
stays defined for ordinary use), looks things up there, calls :func:`workbench.run` or
:func:`workbench.compare`, and stores the result. Every mistake in the line is one
``UsageError`` line, raised before any task runs.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import keyword
from collections.abc import Iterator
from typing import Any

from IPython.core import magic_arguments
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class

from . import magic_line
from .api import run as run_one
from .compare import compare
from .errors import BackendNotInstalled, InputError, Interrupted
from .views import make_view
from .views.choices import shown_backends

#: Where the result of the last ``%%parallel`` cell is kept when ``--out`` is not given.
RESULT_NAME = "_parallel"
#: ``--view`` takes the names of :func:`workbench.run`'s ``view=``; ``widget`` is the name
#: ``auto`` had here before, still accepted.
VIEWS = ("auto", "text", "none")
OLD_VIEWS = {"widget": "auto"}


@magics_class
class ParallelMagics(Magics):
    @magic_arguments.magic_arguments()
    @magic_arguments.argument("--over", default=None, metavar="EXPR",
                              help="the items: an expression in the notebook namespace, "
                                   "e.g. shop_ids or range(100) (quote it if it has spaces)")
    @magic_arguments.argument("--backend", default="serial", metavar="NAME",
                              help="serial, process_map, dask, ray, or auto (time the "
                                   "first items, then pick); 'all' or a comma list "
                                   "compares several (default: serial)")
    @magic_arguments.argument("--workers", type=int, default=None,
                              help="tasks at once (default: all cores)")
    @magic_arguments.argument("--chunksize", default="auto",
                              help="items per chunk, or 'auto' (default)")
    @magic_arguments.argument("--timeout", type=float, default=None, metavar="SECONDS",
                              help="a task running longer fails with TaskTimeout")
    @magic_arguments.argument("--retries", type=int, default=0,
                              help="re-run a failed or lost task up to N times")
    @magic_arguments.argument("--address", default=None,
                              help="an existing Dask scheduler or Ray cluster")
    @magic_arguments.argument("--fn", default=None, metavar="NAME",
                              help="the function to map (default: the cell's last def)")
    @magic_arguments.argument("--shared", default=None, metavar="NAMES",
                              help="notebook variables every task needs (comma list), sent "
                                   "to each worker once and passed as fn(item, NAME=NAME)")
    @magic_arguments.argument("--star", action="store_true",
                              help="call fn(*item) for items that are tuples")
    @magic_arguments.argument("--seed", type=int, default=0,
                              help="root of the per-task seeds (workbench.task_rng)")
    @magic_arguments.argument("--out", default=None, metavar="NAME",
                              help=f"store the Run (or Comparison) here; it is always "
                                   f"also stored in {RESULT_NAME}")
    @magic_arguments.argument("--journal", default=None, metavar="PATH",
                              help="write the run's journal to this file (default: a new "
                                   "file in the journal folder, see workbench.runs())")
    @magic_arguments.argument("--no-journal", action="store_true",
                              help="keep the run in memory only")
    @magic_arguments.argument("--no-live", action="store_true",
                              help="no output of running tasks while they run (it is in each "
                                   "task's record when it ends)")
    @magic_arguments.argument("--resume", default=None, metavar="ID",
                              help="finish the journaled run ID (or path): run only its items "
                                   "without an ok record, with this cell's function")
    @magic_arguments.argument("--joblib", action="store_true",
                              help="run the cell as it is, with joblib (scikit-learn's n_jobs) "
                                   "routed through workbench: each joblib call a task, no "
                                   "--over")
    @magic_arguments.argument("--view", default="auto", choices=(*VIEWS, *OLD_VIEWS),
                              help="auto (default: the live panel in a notebook, else as "
                                   "text), text (a progress bar and a summary) or none; "
                                   "widget is the old name of auto")
    @cell_magic
    def parallel(self, line: str, cell: str) -> None:
        """Run the function defined in this cell over ``--over`` items, in parallel.

        Examples
        --------
        ::

            %%parallel --over shop_ids --backend process_map --workers 2
            def etl(shop_id):
                ...
        """
        args = magic_arguments.parse_argstring(self.parallel, line)
        names = magic_line.backend_names(args.backend)
        view = OLD_VIEWS.get(args.view, args.view)
        settings = magic_line.settings_of(args)
        if args.out is not None and (not args.out.isidentifier() or keyword.iskeyword(args.out)):
            raise UsageError(f"--out {args.out}: not a variable name; give a name such as "
                             "--out run2")
        if args.joblib:
            return self._joblib(args, line, names, settings, view, cell)
        magic_line.check_journal(args, names)
        code, filename = self._compile(cell)
        fn_name = args.fn or magic_line.last_def(code)
        if fn_name is None:
            raise UsageError("no function in this cell: define one with `def`, or name one "
                             "with --fn NAME")
        ns = self.shell.user_ns
        exec(compile(code, filename, "exec"), ns)  # noqa: S102 - the user's own cell
        fn = ns.get(fn_name)
        if fn is None:
            raise UsageError(f"--fn {fn_name}: no such name in the notebook; define it in "
                             "this cell or an earlier one")
        if not callable(fn) or inspect.iscoroutinefunction(fn):
            raise UsageError(f"{fn_name} is a {type(fn).__name__}, not a plain function: "
                             "%%parallel maps a `def` function (not async)")
        items = magic_line.evaluate_over(args.over, ns) if args.over is not None else None
        if args.shared:
            settings["shared"] = magic_line.shared_of(args.shared, ns)
        if args.resume is not None:
            result = self._resume(args.resume, fn, items,
                                  magic_line.changes(line, names, settings), view)
        else:
            result = self._run(fn, items, names, settings, view)
        ns[RESULT_NAME] = result
        if args.out:
            ns[args.out] = result

    def _joblib(self, args: Any, line: str, names: list[str], settings: dict[str, Any],
                view: str, cell: str) -> None:
        """``--joblib``: the cell runs as written, inside :func:`workbench.joblib_backend`;
        the block's runs (one per joblib call) go to ``_parallel`` and ``--out``."""
        from .joblib_bridge import joblib_backend

        given = {w.split("=")[0] for w in line.split() if w.startswith("--")}
        wrong = sorted(given & {"--over", "--fn", "--shared", "--star", "--chunksize",
                                "--resume", "--journal", "--no-journal"})
        if wrong:
            raise UsageError(f"{wrong[0]} does not go with --joblib: the cell runs as it is "
                             "and joblib chooses the calls and their batches")
        if len(names) > 1:
            raise UsageError("--joblib runs the cell once, on one backend: give one --backend, "
                             "e.g. --backend process_map")
        code, filename = self._compile(cell)
        settings = {k: v for k, v in settings.items() if k not in ("chunksize", "star")}
        ns = self.shell.user_ns
        with contextlib.ExitStack() as block:
            with self._edge():  # a bad setting: one line, before the cell runs
                runs = block.enter_context(joblib_backend(names[0], view=view, **settings))
            ns[RESULT_NAME] = runs
            if args.out:
                ns[args.out] = runs
            exec(compile(code, filename, "exec"), ns)  # noqa: S102 - the user's own cell

    def _compile(self, cell: str) -> tuple[ast.Module, str]:
        """The cell's code, parsed, and the file name it is cached under: tracebacks, also
        of tasks run in workers, show its lines as ``Cell In[n]``. A syntax error shows as
        in a plain cell (:class:`CellSyntaxError`)."""
        source = self.shell.transform_cell(cell)
        filename = self.shell.compile.cache(source, self.shell.execution_count, raw_code=cell)
        try:
            return compile(source, filename, "exec", ast.PyCF_ONLY_AST), filename
        except SyntaxError as exc:
            raise CellSyntaxError(self.shell, exc) from None

    def _resume(self, run_id: str, fn: Any, items: list | None, changes: dict,
                view: str) -> Any:
        from .journal import resume

        with self._edge():
            return resume(run_id, fn=fn, items=items,
                          view=make_view(view) if view == "auto" else view, **changes)

    def _run(self, fn: Any, items: list, names: list[str], settings: dict, view: str) -> Any:
        # "auto": one view for every run of the cell (a comparison's panel has a bar per
        # backend from the start). "text" and "none" go by name: each run makes its own, and
        # a Run keeps the name for rerun_failed().
        chosen = (make_view(view, backends=shown_backends(names, len(names) > 1))
                  if view == "auto" else view)
        with self._edge():
            if len(names) == 1:
                return run_one(fn, items, backend=names[0], view=chosen, **settings)
            return compare(fn, items, backends=names, view=chosen, **settings)

    @contextlib.contextmanager
    def _edge(self) -> Iterator[None]:
        """A run's way out of the cell: Ctrl-C keeps the run in ``_parallel``; bad input is
        one ``UsageError`` line."""
        try:
            yield
        except Interrupted as exc:
            self.shell.user_ns[RESULT_NAME] = exc.run
            raise KeyboardInterrupt(
                f"interrupted: {exc.run.counts_text()}; the run is kept in {RESULT_NAME}"
            ) from None
        except (InputError, BackendNotInstalled) as exc:
            raise UsageError(str(exc)) from None


class CellSyntaxError(Exception):
    """The cell does not parse. Shown as IPython shows a syntax error in a plain cell (the
    line and a caret), without the magic's own frames; the cell fails, so "Run All" stops."""

    def __init__(self, shell: Any, error: SyntaxError):
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error
        self._lines = shell.SyntaxTB.structured_traceback(type(error), error, [])

    def _render_traceback_(self) -> list[str]:
        return self._lines
