"""A destination's cursor state: what it holds of one cursor source, and where that is kept.

The state model (:class:`CursorState`, its ``boundary`` multiset of row hashes), the cursor values it
compares as typed values, and its persistence: the table :data:`STATE_TABLE` in a PostgreSQL target's
schema, the Airflow Variable :func:`destination_key` (files; PostgreSQL when it has no table), and the
legacy one-Variable cursor of a source (:func:`cursor_key`). ``engine.incremental`` tells the whole story.

Light at import time: Airflow's ``Variable``, pyarrow and psycopg are imported where they are used.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from airflow_provider_logidata.engine.errors import LogiDataTaskError

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.engine.staging import StagingHandle

CURSOR_PREFIX = "logidata.cursor"
# The table holding the cursor states of a PostgreSQL destination, in the target table's schema.
STATE_TABLE = "logidata_cursor_state"
DESTINATION_POSTGRES = "destination.postgres"
DESTINATION_FILE = "destination.file"
CURSOR_DESTINATIONS = (DESTINATION_POSTGRES, DESTINATION_FILE)

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


# --- cursor states per (source, destination) --------------------------------------------------------

Boundary = dict[str, int] | Literal["all", "unknown"]


def destination_key(dag_id: str, source: str, destination: str) -> str:
    """The Airflow Variable of one destination's cursor state (files; PostgreSQL when it has no table)."""
    return f"{CURSOR_PREFIX}.{dag_id}.{source}.{destination}"


@dataclass
class CursorState:
    """What one destination holds of one cursor source.

    ``value``: the largest cursor value it has loaded (as text PostgreSQL reads back, see
    ``engine.pg_read_plan.cursor_text``), ``None`` for none. ``boundary``: hashes of the rows with that value
    it has landed, with their counts; ``"all"`` (a cursor of the one-Variable era: every row at the value
    was loaded) or ``"unknown"`` (more rows at the value than :data:`BOUNDARY_CAP`, kept by a merge
    destination, which does not need them: loading such a row again only merges it again). ``column``
    ``None``: a value set by hand, valid for any column.
    """

    column: str | None
    value: str | None
    boundary: Boundary = field(default_factory=dict)
    committed_at: str | None = None
    origin: str = ""  # where it was read from, for the log

    def to_json(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "value": self.value,
            "boundary": self.boundary
            if isinstance(self.boundary, str)
            else dict(sorted(self.boundary.items())),
            "committed_at": self.committed_at,
        }

    @classmethod
    def parse(cls, raw: Any, origin: str) -> CursorState | None:
        """A state from its stored JSON; a legacy ``{"column", "value"}`` or a bare value set by hand."""
        if raw is None:
            return None
        if isinstance(raw, Mapping):
            if "value" not in raw:
                return None
            value = raw.get("value")
            boundary: Any = raw.get("boundary", "all")
            if isinstance(boundary, Mapping):
                boundary = {str(k): int(v) for k, v in boundary.items() if int(v) > 0}
            elif boundary not in ("all", "unknown"):
                boundary = "unknown"
            column = raw.get("column")
            return cls(
                column=column if isinstance(column, str) else None,
                value=None if value is None else str(value),
                boundary=boundary,
                committed_at=raw.get("committed_at") if isinstance(raw.get("committed_at"), str) else None,
                origin=origin,
            )
        if isinstance(raw, (str, int, float, decimal.Decimal)) and not isinstance(raw, bool):
            return cls(column=None, value=str(raw), boundary={}, origin=f"{origin} (set by hand)")
        return None

    def applies_to(self, column: str) -> bool:
        return self.column is None or self.column == column

    def describe(self) -> str:
        if self.value is None:
            return "nothing loaded yet"
        return repr(self.value)


def newest(*states: CursorState | None) -> CursorState | None:
    """The most recently committed of several copies of one state (``committed_at``), else the first.

    Compared as moments, not as text: a state read back from the table may carry the row's
    ``committed_at`` in the session's time zone.
    """
    found = [s for s in states if s is not None]
    if not found:
        return None
    dated = [(moment, s) for s in found if (moment := _committed(s.committed_at)) is not None]
    if dated:
        return max(dated, key=lambda item: item[0])[1]
    return found[0]


def _committed(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)


class VariableStore(Protocol):
    """Where Variables are read and written (Airflow's, or a dict in unit tests)."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


class AirflowVariables:
    """Airflow Variables holding JSON (``load_cursor``/``store_cursor``)."""

    def get(self, key: str) -> Any:
        return load_cursor(key)

    def set(self, key: str, value: Any) -> None:
        store_cursor(key, value)


def now_text() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


# --- typed cursor values ----------------------------------------------------------------------------


def typed_value(text: str, arrow_type: pa.DataType, *, what: str) -> Any:
    """A cursor value (text) as the Python value of a column of ``arrow_type``, to compare with it.

    Strings compare by code point, like PostgreSQL's ``COLLATE "C"`` the source uses for text cursors.
    """
    import pyarrow as pa

    t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    try:
        if pa.types.is_integer(t):
            return int(decimal.Decimal(text))
        if pa.types.is_floating(t):
            return float(text)
        if pa.types.is_decimal(t):
            return decimal.Decimal(text)
        if pa.types.is_timestamp(t):
            moment = dt.datetime.fromisoformat(text.strip())
            if t.tz:
                return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
            if moment.tzinfo is not None:
                return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
            return moment
        if pa.types.is_date(t):
            return dt.datetime.fromisoformat(text.strip()).date()
        if pa.types.is_time(t):
            return dt.time.fromisoformat(text.strip())
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return text
    except (ValueError, ArithmeticError) as error:
        raise LogiDataTaskError(f"{what}: cursor value {text!r} is not a valid {t}: {error}") from None
    raise LogiDataTaskError(
        f"{what}: a cursor column of type {t} cannot be compared reliably; use a number, date, timestamp "
        "or text column (an updated_at timestamp, an increasing id)"
    )


def typed_scalar(text: str, arrow_type: pa.DataType, *, what: str) -> pa.Scalar:
    import pyarrow as pa

    t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    return pa.scalar(typed_value(text, t, what=what), type=t)


# --- the state table -------------------------------------------------------------------------------


def read_table_state(
    con: Any, schema: str, dag_id: str, source: str, destination: str, *, lock: bool = False
) -> CursorState | None:
    """A destination's state from its ``STATE_TABLE`` (``None``: no table or no row)."""
    from psycopg import sql

    found = con.execute(
        "SELECT to_regclass(quote_ident(%s) || '.' || quote_ident(%s))", (schema, STATE_TABLE)
    ).fetchone()
    if found is None or found[0] is None:
        return None
    statement = sql.SQL(
        "SELECT state, committed_at FROM {}.{} WHERE dag_id = %s AND source_task = %s "
        "AND destination_task = %s"
    ).format(sql.Identifier(schema), sql.Identifier(STATE_TABLE))
    if lock:
        statement = statement + sql.SQL(" FOR UPDATE")
    row = con.execute(statement, (dag_id, source, destination)).fetchone()
    if row is None:
        return None
    raw = row[0] if isinstance(row[0], Mapping) else json.loads(row[0])
    state = CursorState.parse(raw, origin=f"table {schema}.{STATE_TABLE}")
    if state is not None and state.committed_at is None and row[1] is not None:
        state.committed_at = row[1].isoformat()
    return state
