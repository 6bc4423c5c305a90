"""A chunk report as the journal keeps it: the pickle of what the workers sent, with results
in the form remote workers send them (plain, or pickled on their own), so that reading it back
is :func:`workbench.decode.decode_chunk`, as on arrival."""

from __future__ import annotations

import operator
import pickle
from array import array
from typing import Any

from ..contract import OK, OK_PLAIN, ChunkReport, QuietColumns, RawError
from .rows import NotStored, dump, exception_bytes, over_cap

_status = operator.itemgetter(1)
_ONLY_PLAIN = {OK_PLAIN}


def pack(reports: list[list[Any]], cap: int) -> bytes:
    """Chunk reports ``[chunk_id, submitted, received, encoded, (worker, pid, host),
    records, quiet]`` pickled together for the journal as ``(submitted, received, encoded,
    report)`` entries (``quiet``: the :class:`~workbench.contract.QuietColumns` of the
    reports, merged into one). ``encoded``: the results are already pickled (remote
    workers), else (``serial``) they are the objects. A report that came as bytes (``head``
    None, ``records`` the pickled ``(kind, chunk_id, report)`` message) is kept as those
    bytes. Results larger than ``cap`` bytes, or that cannot be pickled, are replaced by a
    :class:`NotStored` that says so. (Reports of one chunk that followed each other came as
    one entry, with the ``received`` of the last: nothing reads it but the journal, and a
    serial task's record arrives as it ends.)"""
    kept = []
    for _, submitted, received, encoded, head, records, quiet in reports:
        if head is None:  # the wire's bytes: as they came, unless a result may be too big
            if len(records) <= cap:
                kept.append((submitted, received, encoded, records))
                continue
            report = pickle.loads(records)[2]
            head, records, quiet = tuple(report[:3]), report.records, report.quiet
        else:
            quiet = merged(quiet)
        if encoded or (_plain(records) and (quiet is None or not quiet.boxed)):
            kept.append((submitted, received, encoded, (*head, records, quiet)))
        else:
            kept.append(_recast(submitted, received, head, expanded(records, quiet), cap))
    data = pickle.dumps(kept, protocol=5)
    if len(data) <= cap:  # no result can be over the cap: the usual case, no per-task look
        return data
    kept = [_recast(e[0], e[1], e[3][:3], expanded(*e[3][3:5]), cap, encoded=e[2])
            if not isinstance(e[3], bytes) and _too_big(*e[3][3:5], cap) else e
            for e in kept]
    return pickle.dumps(kept, protocol=5)


def merged(parts: list[QuietColumns]) -> QuietColumns | None:
    """The quiet columns of reports that followed each other, as one."""
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    out = QuietColumns(array("q", first.indices), array("q", first.attempts),
                       array("d", first.starts), array("d", first.ends), list(first.values),
                       list(first.boxed))
    for part in parts[1:]:
        out.boxed.extend(k + len(out.values) for k in part.boxed)
        out.indices.extend(part.indices)
        out.attempts.extend(part.attempts)
        out.starts.extend(part.starts)
        out.ends.extend(part.ends)
        out.values.extend(part.values)
    return out


def expanded(records: list[tuple[Any, ...]], quiet: QuietColumns | None
             ) -> list[tuple[Any, ...]]:
    """A report's records one by one, its quiet columns made tuples as well (for the rare
    report that needs a look at each result)."""
    if quiet is None:
        return records
    boxed = set(quiet.boxed)
    return [*records, *((index, OK if k in boxed else OK_PLAIN, value, None, (), (), (), start,
                         end, attempt)
                        for k, (index, attempt, start, end, value) in enumerate(zip(
                            quiet.indices, quiet.attempts, quiet.starts, quiet.ends,
                            quiet.values)))]


def _plain(records: list[tuple[Any, ...]]) -> bool:
    """Local records that a new kernel can load as they are: every task ``ok`` with a plain
    result (the worker marks those ``OK_PLAIN``), so no object and no exception in them."""
    return set(map(_status, records)) <= _ONLY_PLAIN


def _too_big(records: list[tuple[Any, ...]], quiet: QuietColumns | None, cap: int) -> bool:
    """Some result is larger than ``cap`` (only a str or bytes one can be: a plain value, or
    one pickled on its own)."""
    values = [r[2] for r in records] if quiet is None else [*(r[2] for r in records),
                                                             *quiet.values]
    return any(type(v) in (bytes, str) and len(v) > cap for v in values)


def _recast(submitted: float, received: float, head: tuple[Any, ...],
            records: list[tuple[Any, ...]], cap: int, encoded: bool = False
            ) -> tuple[float, float, bool, tuple[Any, ...]]:
    """The report in the remote form (results pickled on their own, or a NotStored)."""
    return submitted, received, True, (*head, [_stored(r, encoded, cap) for r in records], None)


def _stored(record: tuple[Any, ...], encoded: bool, cap: int) -> tuple[Any, ...]:
    index, status, value, err, *rest = record
    shown = value  # the object, for the repr of one that is not stored
    if status == OK and not encoded:  # (a plain value is OK_PLAIN already)
        value = _dumped(value)
    if status in (OK, OK_PLAIN):
        if isinstance(value, (bytes, str)) and len(value) > cap:
            if status == OK and encoded:
                shown = _loaded(value)
            what = "bytes" if status == OK or isinstance(value, bytes) else "characters"
            value = NotStored(over_cap(len(value), what, cap, shown))
        if isinstance(value, NotStored):
            status = OK_PLAIN
    if err is not None and not encoded and err.exception is not None:
        err = RawError(err.type, err.message, err.traceback, exception_bytes(err.exception))
    return (index, status, value, err, *rest)


def _loaded(data: bytes) -> Any:
    try:
        return pickle.loads(data)
    except Exception as exc:  # noqa: BLE001 - only its repr was wanted
        return f"<a result that does not load here: {type(exc).__name__}>"


def _dumped(value: Any) -> bytes | NotStored:
    try:
        return dump(value)
    except Exception as exc:  # noqa: BLE001 - an unpicklable result is kept as a note
        return NotStored(f"not picklable ({type(exc).__name__}: {exc})"[:300])


def unpack(data: bytes) -> list[tuple[float, float, bool, ChunkReport]]:
    """What :func:`pack` wrote: ``(submitted, received, encoded, report)`` entries."""
    return [(s, r, e, pickle.loads(report)[2] if isinstance(report, bytes)
             else ChunkReport(*report)) for s, r, e, report in pickle.loads(data)]
