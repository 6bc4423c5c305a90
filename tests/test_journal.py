"""The journal: every record of a run on disk as it arrives, read back as the same Run, a run
finished by ``resume``, and each way the file or its folder can be wrong, on real backends."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
import warnings

import pytest

import workbench as wb
from conftest import ALL_BACKENDS, WORKERS
from workbench.journal import NotStored

SEEN = "WORKBENCH_TEST_SEEN"


def chatty(x):
    """Output, a log line, a warning, an error, a non-plain and a large result."""
    print(f"out {x}")
    if x % 5 == 1:
        print(f"err {x}", file=sys.stderr)
        logging.getLogger("etl").warning("shop %s is slow", x)
    if x % 5 == 2:
        warnings.warn(f"careful {x}", UserWarning, stacklevel=1)
    if x == 3:
        raise KeyError(f"no shop {x}")
    if x == 4:
        return b"x" * 5000  # over the cap set below
    return {"shop": x, "total": x * 1.5} if x % 2 else x * x


def same_records(a, b):
    """Every field a user can see, compared (the exception object only by type and text)."""
    assert a.indices == b.indices
    assert len(a.tasks) == len(b.tasks) and len(a.history) == len(b.history)
    for x, y in zip([*a.history, *a.tasks], [*b.history, *b.tasks]):
        assert (x.index, x.status, x.attempt, x.output, x.logs, x.warnings, x.start, x.end,
                x.worker, x.pid, x.host, x.submitted) == (
            y.index, y.status, y.attempt, y.output, y.logs, y.warnings, y.start, y.end,
            y.worker, y.pid, y.host, y.submitted)
        assert str(x.error) == str(y.error)
        if x.error is not None:
            assert x.error.traceback == y.error.traceback
            assert repr(x.error.exception) == repr(y.error.exception)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_a_run_reads_back_from_its_journal_as_it_was(backend):
    with wb.config(journal_max_value=1000):
        run = wb.run(chatty, range(12), backend=backend, workers=WORKERS, view="none")
    assert run.journal is not None and run.journal.is_file() and run.id == run.journal.stem
    stored = wb.open(run.id)
    same_records(run, stored)
    assert isinstance(stored.results[4], NotStored)
    assert "5,000 bytes, over the 1,000 byte journal cap: b'xxxxx" in repr(stored.results[4])
    assert [v for i, v in enumerate(stored.results) if i not in (3, 4)] == [
        v for i, v in enumerate(run.results) if i not in (3, 4)]
    assert stored.task(3).error.type == "KeyError" and stored.logs[3] == "out 3\n"
    assert isinstance(stored.task(3).error.exception, KeyError)
    assert "shop 1 is slow" in stored.logs[1] and "err 1" in stored.task(1).stderr
    assert stored.task(2).warnings[0].message == "careful 2"
    assert (stored.state, stored.backend, stored.workers, stored.fn_name) == (
        "finished", backend, run.workers, "chatty")
    assert stored.wall_time == pytest.approx(run.wall_time)
    assert stored.counts == run.counts and stored.speedup == pytest.approx(run.speedup)
    assert len(stored.resources) == len(run.resources)


def test_the_record_of_a_retried_task_keeps_its_history():
    run = wb.run(flaky, range(6), backend="process_map", workers=WORKERS, retries=2,
                 view="none", seed=1)
    stored = wb.open(run.journal)
    same_records(run, stored)
    assert stored.ok and [r.attempt for r in stored.history] == [1, 2]


def flaky(x):
    from workbench import current_task

    if x == 2 and current_task().attempt < 3:
        raise OSError(f"attempt {current_task().attempt}")
    return x


def test_runs_lists_the_kept_runs_newest_first_with_their_counts():
    first = wb.run(chatty, range(6), backend="serial", view="none")
    second = wb.run(str, range(3), backend="serial", view="none")
    off = wb.run(str, range(3), backend="serial", view="none", journal=False)
    assert off.journal is None and off.id is None
    table = wb.runs()
    ids = list(table["id"])
    assert ids.index(second.id) < ids.index(first.id)
    row = table.set_index("id").loc[first.id]
    assert (row["function"], row["backend"], row["items"], row["ok"], row["failed"],
            row["state"], row["resumed"]) == ("chatty", "serial", 6, 5, 1, "finished", 0)
    assert wb.open().id == second.id  # no id: the newest


def test_a_run_opens_by_a_unique_start_of_its_id(tmp_path):
    with wb.config(journal_dir=tmp_path):
        run = wb.run(str, range(2), view="none")
        assert wb.open(run.id[:9]).id == run.id  # "20261202-"
        wb.run(str, range(2), view="none")
        with pytest.raises(wb.JournalError, match="names 2 runs .*: give more of the id"):
            wb.open(run.id[:9])


def counted(x, folder):
    """Leaves a mark per call, so a test can tell which items ran and how often."""
    with open(os.path.join(folder, f"{x}.{os.getpid()}.{os.urandom(4).hex()}"), "w"):
        pass
    if x in (2, 7) and not os.path.exists(os.path.join(folder, "fixed")):
        raise ValueError(f"bad row {x}")
    return x * 10


def runs_of(folder) -> dict[int, int]:
    out: dict[int, int] = {}
    for name in os.listdir(folder):
        if name[0].isdigit():
            out[int(name.split(".")[0])] = out.get(int(name.split(".")[0]), 0) + 1
    return out


@pytest.mark.parametrize("backend", ["serial", "process_map"])
def test_resume_runs_only_what_has_no_ok_record_and_returns_one_run(tmp_path, backend):
    import functools

    fn = functools.partial(counted, folder=str(tmp_path))
    first = wb.run(fn, range(10), backend=backend, workers=WORKERS, view="none")
    assert first.counts["error"] == 2
    (tmp_path / "fixed").touch()
    again = wb.resume(first.id, workers=1)
    assert again.ok and again.results == [x * 10 for x in range(10)]
    assert runs_of(tmp_path) == {**dict.fromkeys(range(10), 1), 2: 2, 7: 2}
    assert [(r.index, r.status) for r in again.history] == [(2, "error"), (7, "error")]
    assert again.journal == first.journal and again.id == first.id
    stored = wb.open(first.id)
    same_records(again, stored)
    assert [s["state"] for s in stored.sessions] == ["finished", "finished"]
    assert stored.sessions[1]["workers"] == 1
    assert wb.runs().set_index("id").loc[first.id, "resumed"] == 1
    assert wb.resume(first.id).ok and runs_of(tmp_path)[2] == 2, "nothing left to run"


CODE = textwrap.dedent("""
    def total(x):
        return x + 1
""")


def test_resume_with_changed_code_names_the_change(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "etl_v1.py").write_text(CODE)
    (tmp_path / "etl_v2.py").write_text(CODE.replace("x + 1", "x + 2"))
    import etl_v1
    import etl_v2

    run = wb.run(etl_v1.total, range(4), view="none")
    run = wb.open(run.id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wb.resume(run.id, fn=etl_v1.total)  # the same code: no warning
    assert not [w for w in caught if issubclass(w.category, UserWarning)]
    with pytest.warns(UserWarning, match=r"total changed since the run: `return x \+ 1` is "
                                         r"now `return x \+ 2`"):
        wb.resume(run.id, fn=etl_v2.total)


def test_resume_says_what_it_needs_when_items_were_not_stored(tmp_path):
    import threading

    locks = [threading.Lock() for _ in range(3)]  # cannot be pickled
    run = wb.run(lambda lock: lock.locked(), locks, backend="serial", view="none")
    assert run.ok
    stored = wb.open(run.id)
    assert isinstance(stored.spec.items[0], NotStored)
    with pytest.raises(wb.JournalError, match=r"items not stored: cannot be pickled "
                                              r".*pass the same items"):
        wb.resume(run.id)
    with pytest.raises(wb.InputError, match="the run had 3 items, items= has 2"):
        wb.resume(run.id, items=locks[:2])


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(os.urandom(4096)), "damaged or not one|not a workbench journal"),
    (lambda p: p.write_bytes(p.read_bytes()[:2048]), "damaged|cannot be read|holds no run"),
    (lambda p: _sql(p, "PRAGMA user_version=99"), r"written by a newer workbench \(journal "
                                                  r"schema 99, this one reads up to 1\)"),
    (lambda p: (p.unlink(), _sql(p, "CREATE TABLE t (x)")), "not a workbench journal"),
    (lambda p: p.write_bytes(b""), "holds no run yet .*cut off before it"),
])
def test_a_damaged_foreign_or_newer_file_is_one_clear_line(damage, message):
    run = wb.run(chatty, range(30), backend="serial", view="none")
    wb.open(run.id)  # (written in full)
    damage(run.journal)
    with pytest.raises(wb.JournalError, match=message) as caught:
        wb.open(run.journal)
    assert "\n" not in str(caught.value) and str(run.journal) in str(caught.value)
    assert wb.runs().set_index("id").loc[run.id, "state"] == "unreadable"


def _sql(path, statement):
    db = sqlite3.connect(path)
    db.execute(statement)
    db.commit()
    db.close()


def test_an_unknown_id_says_where_runs_are_kept():
    with pytest.raises(wb.JournalError, match="no run 'nope' in .*wb.runs"):
        wb.open("nope")


def test_a_folder_that_cannot_be_written_warns_once_and_the_run_goes_on(tmp_path):
    (tmp_path / "afile").write_text("")
    with wb.config(journal_dir=tmp_path / "afile" / "runs"):  # a file in the way: no mkdir
        with pytest.warns(wb.JournalWarning, match="cannot keep a journal at") as caught:
            run = wb.run(chatty, range(6), backend="process_map", workers=WORKERS,
                         view="none")
    ours = [w for w in caught if w.category is wb.JournalWarning]
    assert len(ours) == 1 and run.journal is None and run.counts["ok"] == 5


FULL_DISK = """
import resource, signal, sys, time, warnings
import workbench as wb
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit a write fails (EFBIG)
resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))
def loud(x):
    print("x" * 40_000)
    time.sleep(0.02)
    return x
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    run = wb.run(loud, range(100), backend="serial", view="none", journal=sys.argv[1])
print(run.counts["ok"], run.results == list(range(100)))
print([str(w.message) for w in caught if w.category is wb.JournalWarning])
print(wb.open(sys.argv[1]).state)  # this process lives on: it is not taken for the writer
"""


def test_a_full_disk_mid_run_stops_the_journal_not_the_run(tmp_path):
    """A file size limit (RLIMIT_FSIZE) makes the disk "full" for this process alone."""
    out = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path / "run.wbrun")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    counts, warned, state = out.stdout.strip().splitlines()
    assert state == "interrupted"
    assert counts == "100 True"
    messages = eval(warned)  # noqa: S307 - our own subprocess's list of strings
    assert len(messages) == 1 and "the journal" in messages[0] and "stopped" in messages[0]
    assert "run.save(path)" in messages[0]
    assert 0 < len(wb.open(tmp_path / "run.wbrun").tasks) < 100, "what was written reads back"


HOLDER = """
import sys, time, workbench as wb
def slow(x):
    time.sleep(0.2)
    return x
print("go", flush=True)
wb.run(slow, range(40), backend="serial", view="none", journal=sys.argv[1])
"""


def test_a_second_writer_of_the_same_file_is_refused(tmp_path):
    path = tmp_path / "shared.wbrun"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "go"
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (path.exists() and wb.runs(tmp_path)[
                "state"].eq("running").any()):
            time.sleep(0.1)
        with pytest.raises(wb.JournalError, match=f"is being written by process "
                                                  f"{holder.pid} on"):
            wb.run(str, range(3), view="none", journal=path)
        with pytest.raises(wb.JournalError, match=f"is being written by process "
                                                  f"{holder.pid} on .*when its run has ended"):
            wb.resume(path)
        assert wb.open(path).state == "running", "a run being written reads as it stands"
    finally:
        holder.kill()
        holder.wait()
    reopened = wb.open(path)
    assert reopened.state == "interrupted", (str(reopened.sessions), holder.pid)
    with pytest.raises(wb.JournalError, match="already holds a run: wb.resume"):
        wb.run(str, range(3), view="none", journal=path)


def test_old_runs_are_pruned_to_the_newest_kept(tmp_path):
    from workbench.journal.places import PRUNE_SLACK

    made = []
    with wb.config(journal_dir=tmp_path, journal_keep=3):
        for _ in range(3 + PRUNE_SLACK):
            made.append(wb.run(str, range(2), view="none").id)
            wb.open(made[-1])  # (its last commit written)
        assert len(list(tmp_path.glob("*.wbrun"))) == 3 + PRUNE_SLACK, "not pruned yet"
        made.append(wb.run(str, range(2), view="none").id)  # one too many: prune
        wb.open(made[-1])
        import time

        deadline = time.monotonic() + 10  # pruning runs beside the run
        while len(list(tmp_path.glob("*.wbrun"))) > 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert set(wb.runs()["id"]) == set(made[-3:])


def test_to_pandas_and_save_for_a_run_without_journal(tmp_path):
    run = wb.run(chatty, range(6), backend="process_map", workers=WORKERS, view="none",
                 journal=False)
    table = run.to_pandas()
    assert list(table["index"]) == list(range(6))
    assert list(table["status"]) == ["ok", "ok", "ok", "error", "ok", "ok"]
    assert table["value"].tolist()[:3] == [0, None, 4]  # a dict is not a scalar: left out
    assert table.loc[3, "error_type"] == "KeyError"
    assert table.loc[1, ["stderr_chars", "log_lines", "warnings"]].tolist() == [6, 1, 0]
    assert (table["duration"] == table["end"] - table["start"]).all()
    path = run.save(tmp_path / "kept")
    assert path.name == "kept.wbrun"
    same_records(run, wb.open(path))
    with pytest.raises(wb.JournalError, match="already holds a run"):
        run.save(path)


@pytest.fixture(scope="module")
def ip():
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython() or get_ipython()  # one shell per process: maybe started already
    shell.run_line_magic("load_ext", "workbench")
    return shell


CELL = """
import os
def job(x):
    if x == 2 and not os.path.exists(os.path.join(MARKS, "fixed")):
        raise ValueError("not yet")
    print("job", x)
    return x + 100
"""


def test_the_magic_writes_where_told_and_resumes_a_run(ip, tmp_path):
    from IPython.core.error import UsageError

    path = tmp_path / "cell.wbrun"
    ip.user_ns["MARKS"] = str(tmp_path)
    ip.run_cell_magic("parallel", f"--over range(5) --journal {path} --view none", CELL)
    first = ip.user_ns["_parallel"]
    assert first.journal == path and first.counts["error"] == 1
    ip.run_cell_magic("parallel", "--over range(5) --no-journal --view none", CELL)
    assert ip.user_ns["_parallel"].journal is None
    (tmp_path / "fixed").touch()
    ip.run_cell_magic("parallel", f"--resume {path} --backend process_map --workers "
                                  f"{WORKERS} --view none", CELL)
    done = ip.user_ns["_parallel"]
    assert done.ok and done.results == [100, 101, 102, 103, 104]
    assert done.backend == "process_map" and done.logs[2] == "job 2\n"
    assert [s["backend"] for s in wb.open(path).sessions] == ["serial", "process_map"]
    for line, message in [
        (f"--over range(3) --journal {path} --no-journal", "contradict each other"),
        ("--backend serial", "--over is required"),
        (f"--resume {path} --backend serial,process_map", "one --backend"),
        (f"--resume {path} --no-journal", "leave out --journal and --no-journal"),
        ("--resume nope", "no run 'nope' in"),
        (f"--over range(3) --journal {path}", "already holds a run"),
    ]:
        with pytest.raises(UsageError, match=message):
            ip.run_cell_magic("parallel", line + " --view none", CELL)


def test_a_stored_run_shows_itself_as_the_panel_with_stop_off():
    run = wb.run(chatty, range(6), backend="process_map", workers=WORKERS, view="none")
    stored = wb.open(run.id)
    bundle = stored._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == repr(stored)
    from workbench.views.auto import stored_panel

    panel = stored_panel(stored)
    assert panel.stop_button.disabled and panel.stop_button.description == "finished"
    assert panel.bars["process_map"].value == 6 and "KeyError" in panel.errors.value
    panel.log_task.value = 1
    assert "shop 1 is slow" in panel.log_text.value


def test_a_stored_run_reruns_its_failed_tasks_into_a_journal_of_their_own():
    run = wb.run(chatty, range(6), backend="serial", view="none")
    again = wb.open(run.id).rerun_failed()
    assert again.indices == [3] and again.counts["error"] == 1
    assert again.journal is not None and again.journal != run.journal


def test_a_resumed_run_keeps_each_sessions_own_wall_time_and_samples():
    run = wb.run(flaky, range(8), backend="process_map", workers=WORKERS, view="none")
    again = wb.resume(run.id, backend="serial", retries=3)
    stored = wb.open(run.id)
    walls = [s["wall_time"] for s in stored.sessions]
    assert walls[0] == pytest.approx(run.wall_time) and walls[1] >= 0
    assert stored.wall_time == pytest.approx(again.wall_time)
    assert len(stored.resources) == len(again.resources) == len(run.resources)


def test_a_writer_on_another_host_counts_as_gone_once_silent(tmp_path):
    import time

    run = wb.run(str, range(3), view="none", journal=tmp_path / "shared.wbrun")
    wb.open(run.journal)
    for updated, refused in ((time.time(), True), (time.time() - 60, False)):
        _sql(run.journal, f"UPDATE sessions SET state='running', writer_host='elsewhere', "
                          f"updated={updated}")
        if refused:
            with pytest.raises(wb.JournalError, match="is being written by process"):
                wb.resume(run.journal)
        else:
            assert wb.open(run.journal).state == "interrupted"
            assert wb.resume(run.journal).ok


def test_compare_with_a_named_journal_keeps_one_file_per_backend(tmp_path):
    cmp = wb.compare(str, range(3), backends=["serial", "process_map"], workers=WORKERS,
                     view="none", journal=tmp_path / "etl.wbrun")
    assert {r.journal.name for r in cmp.runs.values()} == {"etl-serial.wbrun",
                                                             "etl-process_map.wbrun"}
    assert wb.open(tmp_path / "etl-process_map.wbrun").results == ["0", "1", "2"]


def test_the_code_hash_is_the_same_in_every_process():
    code = ("from workbench.journal.code import code_hash\n"
            "print(code_hash(lambda x: x in {'a', 'b', 'c'} or x in {1.5, 'z'}))")
    hashes = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
              for seed in range(4)}
    assert len(hashes) == 1 and len(hashes.pop().strip()) == 16


DEFAULT_FOLDER = """
import workbench as wb
run = wb.run(str, range(2), view="none")
print(wb.journal.journal_dir())
print(run.journal.parent == wb.journal.journal_dir(), run.journal.is_file())
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the XDG folders are Linux's")
@pytest.mark.parametrize("xdg", [True, False])
def test_runs_go_to_the_users_data_folder_by_default(tmp_path, xdg):
    env = {k: v for k, v in os.environ.items()
           if k not in ("WORKBENCH_JOURNAL_DIR", "XDG_DATA_HOME")}
    env["HOME"] = str(tmp_path / "home")
    if xdg:
        env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    out = subprocess.run([sys.executable, "-c", DEFAULT_FOLDER], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    folder, written = out.stdout.strip().splitlines()
    expected = (tmp_path / "xdg" if xdg else tmp_path / "home" / ".local" / "share")
    assert folder == str(expected / "workbench" / "runs") and written == "True True"


def test_old_runs_are_pruned_to_the_byte_budget(tmp_path):
    import time

    made = []
    with wb.config(journal_dir=tmp_path, journal_max_bytes=1):  # only the newest fits
        for _ in range(3):
            made.append(wb.run(str, range(2), view="none").id)
            wb.open(made[-1])
        deadline = time.monotonic() + 10  # pruning runs beside the run
        while len(list(tmp_path.glob("*.wbrun"))) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert set(wb.runs()["id"]) == {made[-1]}
