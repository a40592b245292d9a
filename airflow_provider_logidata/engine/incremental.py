"""Incremental reads: the run's data interval, and cursors kept per (source, destination).

**Data interval** (:func:`run_data_interval`): a source reads ``[start, end)`` of the run; its handle's
``meta`` says so (:func:`interval_meta`) so that a ``destination.postgres`` in mode ``append`` replaces
exactly that interval (``engine.incremental_load``: ``DELETE`` of the interval and insert in one
transaction) and a rerun or backfill never doubles a day.

**Cursor**: a ``source.postgres`` with ``incremental: {mode: cursor}`` reads the rows whose column is
``>=`` a start value, and every destination fed by it keeps its own cursor state (:class:`CursorState`)::

    {"column": "updated_at", "value": "<largest value landed, as text>", "boundary": {"<row hash>": 1}}

``boundary`` is the multiset of hashes of the rows with ``column == value`` that this destination has
landed. Per destination, because a destination that fails keeps its state while one that succeeded moves
on: the next run reads from the smallest value of all (:class:`CursorRead`), and each destination drops
what it already holds, so no destination loses or duplicates a row because of another one.

- The source reads ``column >= min(value over its destinations)`` (every row while one has no state yet,
  or from ``initial_value``) and puts in its handle's ``meta`` what it read (:func:`cursor_meta`): column,
  start and largest value read. Transforms copy ``meta`` to their output (``staging.merge_meta``).
- Each destination reads its own state again at load time (the copy the source saw only decided how far
  back to read, and may be older), drops the rows below its value and, at its value, the rows whose hash
  is in its boundary (counted: two identical rows landed once each are dropped twice, a third is new),
  loads the rest and commits its new state: ``destination.postgres`` in the same transaction as the rows
  (table :data:`STATE_TABLE` in the target's schema), ``destination.file`` right after its atomic commit
  (Airflow Variable :func:`destination_key`, which holds a ``pending`` entry from just before the commit
  until then: a failure in between loses nothing). See ``engine.incremental_load``.

Where each part lives: the state model and its persistence in ``engine.cursor_state``; the source's side
(how far back to read) in ``engine.cursor_read``; the destination's filter and row hashes in
``engine.cursor_filter``; the data interval and the ``meta["incremental"]`` entries here.

Before LogiData kept a cursor per destination, a source kept one Airflow Variable
``logidata.cursor.<dag>.<source>`` (:func:`cursor_key`), committed by ``destination.postgres`` only. It
is still read once, as the state of every destination that has none of its own yet (all rows at its
value counted as landed: the old code loaded them on every run).

Light at import time: croniter is imported where it is used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_logidata.engine.errors import LogiDataTaskError


def interval_meta(
    dag_id: str | None, source: str, column: str, start: dt.datetime, end: dt.datetime
) -> dict[str, Any]:
    """The ``meta["incremental"]`` entry of an interval read: a destination in mode ``append`` replaces
    exactly ``column`` in ``[start, end)``."""
    return {
        "kind": "interval",
        "dag_id": dag_id,
        "source": source,
        "column": column,
        "start": start.isoformat(),
        "end": end.isoformat(),
    }


def incremental_entries(handles: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every ``meta["incremental"]`` entry of the inputs, one per (kind, dag, source), the last winning."""
    found: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    for handle in handles:
        meta = handle.get("meta") or {}
        for entry in meta.get("incremental") or []:
            if isinstance(entry, Mapping) and entry.get("kind") in ("cursor", "interval"):
                found[(entry.get("kind"), entry.get("dag_id"), entry.get("source"))] = dict(entry)
    return list(found.values())


# --- data intervals ---------------------------------------------------------------------------------


def run_data_interval(context: Mapping[str, Any], *, owner: str) -> tuple[dt.datetime, dt.datetime]:
    """The ``[start, end)`` interval a run reads, from its Airflow context.

    Airflow 3 schedules cron expressions with a trigger timetable whose runs have a zero-length interval
    (start == end == the scheduled time). For those, the interval is the time since the previous
    scheduled time, ``[previous fire time, this run's time)``: at 2024-01-03 00:00 a daily pipeline reads
    2024-01-02. Deterministic per logical date, so reruns and backfills read the same rows.
    """
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if start is None or end is None:
        raise LogiDataTaskError(
            f"{owner}: incremental mode 'data_interval' needs a run with a data interval, and this run has "
            "none (a manual run of a pipeline without schedule); give the pipeline a schedule, trigger it "
            "with a logical date, or use mode 'cursor'"
        )
    start, end = _aware(start), _aware(end)
    if start < end:
        return start, end
    timetable = getattr(context.get("dag"), "timetable", None)
    previous = previous_fire_time(timetable, end)
    if previous is None:
        raise LogiDataTaskError(
            f"{owner}: the run's data interval is empty ({start.isoformat()} to {end.isoformat()}) and its "
            f"schedule ({type(timetable).__name__}) gives no previous run time to read from; use a cron or "
            "interval schedule, or mode 'cursor'"
        )
    return previous, end


def previous_fire_time(timetable: Any, moment: dt.datetime) -> dt.datetime | None:
    """The latest scheduled time strictly before ``moment`` of a cron or delta timetable (UTC)."""
    expression = getattr(timetable, "expression", None)
    if isinstance(expression, str) and expression:
        from croniter import croniter

        zone = _zone(getattr(timetable, "timezone", None))
        local = moment.astimezone(zone)
        previous = croniter(expression, local).get_prev(dt.datetime)
        if previous.tzinfo is None:
            previous = previous.replace(tzinfo=zone)
        return previous.astimezone(dt.timezone.utc)
    delta = getattr(timetable, "delta", None)
    if isinstance(delta, dt.timedelta) and delta > dt.timedelta(0):
        return moment - delta
    if delta is not None and hasattr(delta, "years"):  # dateutil relativedelta
        return (moment - delta).astimezone(dt.timezone.utc)
    return None


def _zone(value: Any) -> dt.tzinfo:
    if isinstance(value, dt.tzinfo):
        return value
    if isinstance(value, str) and value:
        from zoneinfo import ZoneInfo

        return ZoneInfo(value)
    return dt.timezone.utc


def _aware(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
