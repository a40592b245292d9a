"""Incremental reads: the run's data interval, and cursors committed only once data has landed.

A cursor is the largest value of a column a source has read. The source records it in its staging handle
as ``meta: {"cursors": [{"key": <Variable key>, "value": <JSON>}]}``; transforms copy their inputs' meta
into their output handle (``staging.merge_meta``); a destination that commits transactionally calls
:func:`commit_cursors` after its commit, which stores each value as the Airflow Variable ``key`` (JSON).
A run that fails anywhere before that leaves the cursor where it was, so the next run reads the same rows
again (and a merge on keys makes reading them twice harmless).

Light at import time: Airflow's ``Variable`` and croniter are imported where they are used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.engine.errors import LogiDataTaskError

if TYPE_CHECKING:
    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.engine.staging import StagingHandle

CURSOR_PREFIX = "logidata.cursor"

CursorStore = Callable[[str, Any], None]


def cursor_key(dag_id: str, task_id: str) -> str:
    """The Airflow Variable holding a source task's committed cursor."""
    return f"{CURSOR_PREFIX}.{dag_id}.{task_id}"


def load_cursor(key: str) -> Any:
    """The committed cursor stored under ``key`` (decoded JSON), or ``None`` if there is none yet.

    A value set by hand that is not JSON (``2024-01-01``) is returned as the text itself.
    """
    import json

    from airflow.sdk import Variable

    raw = Variable.get(key, default=None)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


def store_cursor(key: str, value: Any) -> None:
    """Store a cursor value (JSON) as the Airflow Variable ``key``."""
    from airflow.sdk import Variable

    Variable.set(
        key,
        value,
        description="LogiData incremental cursor: the largest value read and loaded; the next run "
        "reads from it (inclusive). Delete it to read everything again.",
        serialize_json=True,
    )


def cursors_of(handles: Sequence[StagingHandle]) -> list[dict[str, Any]]:
    """Every cursor carried by the staging handles (last value wins per key)."""
    found: dict[str, dict[str, Any]] = {}
    for handle in handles:
        meta = handle.get("meta") or {}
        for cursor in meta.get("cursors") or []:
            if isinstance(cursor, Mapping) and isinstance(cursor.get("key"), str):
                found[cursor["key"]] = {"key": cursor["key"], "value": cursor.get("value")}
    return list(found.values())


def commit_cursors(
    handles: Sequence[StagingHandle],
    *,
    owner: str,
    log: TaskLog,
    store: CursorStore | None = None,
) -> list[str]:
    """After a destination committed: store the cursors of its inputs; returns the keys stored.

    A failure here means the data landed but the cursor did not move: the task fails saying so, and a
    retry loads the same rows again (idempotent with merge) before trying to store the cursor again.
    """
    cursors = cursors_of(handles)
    writer = store or store_cursor
    stored = []
    for cursor in cursors:
        try:
            writer(cursor["key"], cursor["value"])
        except Exception as error:
            raise LogiDataTaskError(
                f"{owner}: the data was committed but the incremental cursor {cursor['key']!r} could not be "
                f"saved: {error!r}. The next run reads those rows again; retry this task to save it."
            ) from error
        log.info(f"{owner}: cursor {cursor['key']} = {cursor['value']!r} committed")
        stored.append(cursor["key"])
    return stored


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
