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

Row hashes are computed on the rows as they reach the destination, not as read: transforms may drop,
rename or add columns, so a hash column added by the source would not survive ``select_columns``, an
``aggregate`` or ``sql``; a row-by-row deterministic transform turns the same source row into the same
landed row, so its hash identifies it just as well. Validation (``spec.incremental``) refuses, between a
cursor source and a destination that needs the boundary, the nodes for which that does not hold, and
requires the cursor column to reach the destination unchanged.

More than :data:`BOUNDARY_CAP` rows sharing one cursor value are refused where the boundary is needed
(append, files): the column is not selective enough to tell new rows from loaded ones.

Before LogiData kept a cursor per destination, a source kept one Airflow Variable
``logidata.cursor.<dag>.<source>`` (:func:`cursor_key`), committed by ``destination.postgres`` only. It
is still read once, as the state of every destination that has none of its own yet (all rows at its
value counted as landed: the old code loaded them on every run).

Light at import time: Airflow's ``Variable``, pyarrow and croniter are imported where they are used.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
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
# Most rows sharing the cursor value a destination that needs the boundary remembers (see module doc).
BOUNDARY_CAP = 10_000
# Hex characters kept of a row's sha256 (80 bits: no collision among BOUNDARY_CAP rows in practice).
HASH_CHARS = 20
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


# --- the source: how far back to read ---------------------------------------------------------------


@dataclass(frozen=True)
class CursorDestination:
    """A destination fed by a cursor source, as the source needs it to find its state."""

    task_id: str
    module: str
    conn_id: str | None = None
    schema: str | None = None
    table: str | None = None

    def as_dict(self) -> dict[str, str]:
        item = {"task_id": self.task_id, "module": self.module}
        for name in ("conn_id", "schema", "table"):
            value = getattr(self, name)
            if value is not None:
                item[name] = value
        return item

    @classmethod
    def of(cls, item: Mapping[str, Any] | CursorDestination) -> CursorDestination:
        if isinstance(item, CursorDestination):
            return item

        def text(name: str) -> str | None:
            value = item.get(name)
            return value if isinstance(value, str) and value else None

        return cls(
            task_id=str(item["task_id"]),
            module=str(item.get("module") or DESTINATION_POSTGRES),
            conn_id=text("conn_id"),
            schema=text("schema") or text("schema_name"),
            table=text("table"),
        )

    def label(self) -> str:
        return self.task_id


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


def _remote_table_state(
    target: CursorDestination, dag_id: str, source: str, *, owner: str, log: TaskLog
) -> CursorState | None:
    """The state a PostgreSQL destination keeps in its database, read by the source (``None`` when
    there is none, or the database cannot be asked: the source then reads further back)."""
    assert target.conn_id is not None
    import psycopg

    from airflow_provider_logidata.engine.pg_connect import confine, connect, statement_timeout_seconds

    schema = target.schema or "public"
    try:
        with connect(target.conn_id, owner=owner, node_id=source) as con, con.transaction():
            confine(con, seconds=statement_timeout_seconds())
            return read_table_state(con, schema, dag_id, source, target.task_id)
    except (LogiDataTaskError, psycopg.Error) as error:
        log.warning(
            f"{owner}: cannot read the cursor of destination {target.task_id!r} from "
            f"{schema}.{STATE_TABLE} (connection {target.conn_id!r}): {_first_line(error)}; "
            "using its Airflow Variable if any, else reading as if it had none (nothing is lost: the "
            "destination drops what it already holds)"
        )
        return None


def read_destination_states(
    dag_id: str,
    source: str,
    destinations: Sequence[CursorDestination],
    *,
    owner: str,
    log: TaskLog,
    variables: VariableStore | None = None,
    table_state: Callable[[CursorDestination], CursorState | None] | None = None,
) -> dict[str, CursorState | None]:
    """Each destination's committed state as the source can see it: the newest of its table row and its
    Variable (a PostgreSQL destination whose role could not write the table saved a newer state there),
    else the legacy Variable. The destination decides the same way (``incremental_load``), but also
    resolves a file destination's ``pending`` entry, which may be newer: the source ignores it (checking
    would mean reading the file) and reads from the committed state, so it may read rows that destination
    already holds; the destination drops them.

    ``table_state`` (tests) replaces the look-up of a PostgreSQL destination's table.
    """
    store = variables or AirflowVariables()
    legacy: list[CursorState | None] = []

    def legacy_state() -> CursorState | None:
        if not legacy:
            legacy.append(CursorState.parse(store.get(cursor_key(dag_id, source)), "legacy Variable"))
        return legacy[0]

    states: dict[str, CursorState | None] = {}
    for target in destinations:
        state = None
        if target.module == DESTINATION_POSTGRES and _plain(target.conn_id, target.schema or "public"):
            state = (table_state or (lambda t: _remote_table_state(t, dag_id, source, owner=owner, log=log)))(
                target
            )
        state = newest(
            state, CursorState.parse(store.get(destination_key(dag_id, source, target.task_id)), "Variable")
        )
        if state is None:
            state = legacy_state()
        states[target.task_id] = state
    return states


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else repr(error)


def _plain(*values: str | None) -> bool:
    """Set and not a template (a templated connection or schema is only known to the destination)."""
    return all(value and "{{" not in value and "{%" not in value for value in values)


@dataclass
class CursorRead:
    """What a cursor source needs to decide where to read from: its destinations' states."""

    dag_id: str
    source: str
    states: dict[str, CursorState | None]

    def start(
        self,
        column: str,
        arrow_type: pa.DataType,
        initial_value: str | None,
        *,
        owner: str,
        log: TaskLog,
    ) -> tuple[str | None, str]:
        """Where the read starts (inclusive; ``None``: every row) and how each destination stands."""
        starts: list[tuple[str, str | None]] = []
        parts: list[str] = []
        for destination, state in self.states.items():
            if state is not None and not state.applies_to(column):
                log.warning(
                    f"{owner}: the cursor of destination {destination!r} is on column {state.column!r}, "
                    f"the node now uses {column!r}; that destination starts again from "
                    + ("every row" if initial_value is None else f"initial_value {initial_value!r}")
                )
                state = None
            if state is None or state.value is None:
                starts.append((destination, initial_value))
                parts.append(
                    f"{destination} has no cursor yet"
                    + ("" if initial_value is None else f": from initial_value {initial_value!r}")
                )
            else:
                starts.append((destination, state.value))
                parts.append(f"{destination} at {state.value!r}")
        if not starts:
            log.warning(
                f"{owner}: no destination keeps this cursor (no destination.postgres or destination.file "
                "reads from this source): reading "
                + ("every row" if initial_value is None else f"from initial_value {initial_value!r}")
            )
            return initial_value, "no destination"
        if any(value is None for _d, value in starts):
            return None, ", ".join(parts)
        smallest = min(
            (value for _d, value in starts if value is not None),
            key=lambda v: typed_value(v, arrow_type, what=owner),
        )
        return smallest, ", ".join(parts)


def cursor_meta(
    dag_id: str,
    source: str,
    column: str,
    *,
    initial_value: str | None,
    read_from: str | None,
    read_max: str | None,
) -> dict[str, Any]:
    """The ``meta["incremental"]`` entry of a cursor read: what a destination needs to filter and commit."""
    return {
        "kind": "cursor",
        "dag_id": dag_id,
        "source": source,
        "column": column,
        "initial_value": initial_value,
        "read_from": read_from,
        "read_max": read_max,
    }


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


# --- row hashes and the destination's filter --------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "hex:" + bytes(value).hex()
    if isinstance(value, dt.timedelta):
        return f"{value.days}d{value.seconds}s{value.microseconds}us"
    return str(value)


def row_hashes(rows: pa.Table | pa.RecordBatch) -> list[str]:
    """A stable hash of every row: sha256 of its canonical JSON ``{column: value}`` (names sorted),
    truncated to :data:`HASH_CHARS` hex characters. The same values give the same hash in every run and
    whatever the column order."""
    out = []
    for row in rows.to_pylist():
        payload = json.dumps(
            row, sort_keys=True, default=_json_default, separators=(",", ":"), ensure_ascii=False
        )
        out.append(hashlib.sha256(payload.encode("utf-8")).hexdigest()[:HASH_CHARS])
    return out


def boundary_size(boundary: Boundary) -> int:
    return sum(boundary.values()) if isinstance(boundary, dict) else 0


def too_many_at_value(count: int, value: str | None, column: str, owner: str) -> LogiDataTaskError:
    return LogiDataTaskError(
        f"{owner}: more than {BOUNDARY_CAP:,} rows share the cursor value {value!r} of {column!r}: the "
        "cursor column is not selective enough to tell the rows already loaded from new ones with the same "
        f"value ({count:,} seen). Use a finer column (a timestamp with microseconds, an increasing id), or "
        "merge on keys (mode 'merge' does not need to tell them apart). Nothing was written."
    )


@dataclass
class CursorFilter:
    """One destination's side of a cursor load: drop what it holds, count what it lands, new state.

    ``needs_boundary``: whether rows at the state's value must be told apart by their hash (append and
    files); a merge destination does not need it (loading a row again merges it again), so more than
    :data:`BOUNDARY_CAP` rows at one value are refused only where it is needed.
    """

    entry: Mapping[str, Any]
    destination: str
    owner: str
    state: CursorState | None
    needs_boundary: bool = True
    dropped_below: int = 0
    dropped_boundary: int = 0
    landed: int = 0
    landed_at_max: Counter[str] = field(default_factory=Counter)
    overflow: bool = False
    _remaining: Counter[str] = field(default_factory=Counter, init=False, repr=False)
    _type: Any = field(default=None, init=False, repr=False)
    _lower: Any = field(default=None, init=False, repr=False)
    _initial: Any = field(default=None, init=False, repr=False)
    _max: Any = field(default=None, init=False, repr=False)
    _prior_at_max: int = field(default=0, init=False, repr=False)

    @property
    def column(self) -> str:
        return str(self.entry["column"])

    @property
    def read_max(self) -> str | None:
        value = self.entry.get("read_max")
        return None if value is None else str(value)

    def check(self, arrow_type: pa.DataType) -> None:
        """Refuse a load that would miss rows: the source must have read from this destination's value."""
        self._type = arrow_type
        read_from = self.entry.get("read_from")
        if read_from is None:
            return
        own = self.state.value if self.state is not None else self.entry.get("initial_value")
        if own is None or typed_value(str(own), arrow_type, what=self.owner) < typed_value(
            str(read_from), arrow_type, what=self.owner
        ):
            where = "has no cursor yet" if own is None else f"is at {own!r}"
            raise LogiDataTaskError(
                f"{self.owner}: the source {self.entry.get('source')!r} read {self.column} >= "
                f"{read_from!r} but this destination's cursor {where}: the rows in between would never "
                "reach it. Its cursor changed after the source read (deleted or set by hand?); clear the "
                "source task to read again. Nothing was written."
            )

    def wrap(self, reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
        """The input without the rows this destination already holds (checked, counted as it streams)."""
        import pyarrow as pa

        schema = reader.schema
        if self.column not in schema.names:
            raise LogiDataTaskError(
                f"{self.owner}: the cursor column {self.column!r} of source {self.entry.get('source')!r} "
                f"does not reach this destination (its input has {', '.join(schema.names)}): without it the "
                "rows already loaded cannot be told from new ones. Keep the column, unchanged and under the "
                "same name, on the way here (select_columns). Nothing was written."
            )
        arrow_type = schema.field(self.column).type
        self.check(arrow_type)
        what = self.owner
        state = self.state
        self._lower = None
        self._initial = None
        if state is not None and state.value is not None:
            self._lower = typed_scalar(state.value, arrow_type, what=what)
            if isinstance(state.boundary, dict):
                self._remaining = Counter(state.boundary)
        elif self.entry.get("initial_value") is not None:
            self._initial = typed_scalar(str(self.entry["initial_value"]), arrow_type, what=what)
        self._max = None if self.read_max is None else typed_scalar(self.read_max, arrow_type, what=what)
        self._prior_at_max = 0
        if (
            state is not None
            and state.value is not None
            and self.read_max is not None
            and typed_value(state.value, arrow_type, what=what)
            == typed_value(self.read_max, arrow_type, what=what)
        ):
            self._prior_at_max = boundary_size(state.boundary)
        return pa.RecordBatchReader.from_batches(schema, self._batches(reader))

    def _batches(self, reader: pa.RecordBatchReader) -> Any:
        for batch in reader:
            yield self._filter(batch)

    def _filter(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        import pyarrow as pa
        import pyarrow.compute as pc

        column = batch.column(self.column)
        if self._lower is not None:
            keep = pc.fill_null(pc.greater(column, self._lower), False).to_numpy(zero_copy_only=False).copy()
            equal = pc.fill_null(pc.equal(column, self._lower), False).to_numpy(zero_copy_only=False)
            at_value = equal.nonzero()[0]
            below = len(batch) - int(keep.sum()) - len(at_value)
            self.dropped_below += below
            if len(at_value):
                boundary = self.state.boundary if self.state is not None else {}
                if boundary == "all":
                    self.dropped_boundary += len(at_value)
                elif boundary == "unknown":
                    keep[at_value] = True
                else:
                    hashes = row_hashes(batch.take(pa.array(at_value)))
                    for index, digest in zip(at_value, hashes, strict=True):
                        if self._remaining[digest] > 0:
                            self._remaining[digest] -= 1
                            self.dropped_boundary += 1
                        else:
                            keep[index] = True
            batch = batch.filter(pa.array(keep))
        elif self._initial is not None:
            keep_array = pc.fill_null(pc.greater_equal(column, self._initial), False)
            before = len(batch)
            batch = batch.filter(keep_array)
            self.dropped_below += before - len(batch)
        self.landed += len(batch)
        if self._max is not None and len(batch) and not self.overflow:
            at_max = pc.fill_null(pc.equal(batch.column(self.column), self._max), False)
            indices = at_max.to_numpy(zero_copy_only=False).nonzero()[0]
            if len(indices):
                total = self._prior_at_max + sum(self.landed_at_max.values()) + len(indices)
                if total > BOUNDARY_CAP:
                    if self.needs_boundary:
                        raise too_many_at_value(total, self.read_max, self.column, self.owner)
                    self.overflow = True
                    self.landed_at_max.clear()
                else:
                    self.landed_at_max.update(row_hashes(batch.take(pa.array(indices))))
        return batch

    def new_state(self) -> CursorState | None:
        """The state to commit once the rows landed; ``None`` when it does not change."""
        if self.read_max is None:
            return None
        arrow_type = self._type
        state = self.state
        new_max = typed_value(self.read_max, arrow_type, what=self.owner)
        boundary: Boundary
        if state is not None and state.value is not None and state.applies_to(self.column):
            old = typed_value(state.value, arrow_type, what=self.owner)
            if new_max < old:
                return None
            if new_max == old:
                if self.overflow or state.boundary == "unknown":
                    boundary = "unknown"
                elif state.boundary == "all":
                    boundary = "all"
                else:
                    merged = Counter(state.boundary)
                    merged.update(self.landed_at_max)
                    if sum(merged.values()) > BOUNDARY_CAP:
                        if self.needs_boundary:
                            raise too_many_at_value(
                                sum(merged.values()), self.read_max, self.column, self.owner
                            )
                        boundary = "unknown"
                    else:
                        boundary = dict(merged)
                return CursorState(self.column, self.read_max, boundary, committed_at=now_text())
        boundary = "unknown" if self.overflow else dict(self.landed_at_max)
        return CursorState(self.column, self.read_max, boundary, committed_at=now_text())

    def summary(self) -> str:
        parts = [f"{self.landed} new row(s) kept"]
        if self.dropped_below:
            parts.append(f"dropped {self.dropped_below} row(s) below its cursor (already loaded)")
        if self.dropped_boundary:
            parts.append(f"dropped {self.dropped_boundary} already-loaded boundary row(s)")
        where = (
            "no cursor yet"
            if self.state is None or self.state.value is None
            else f"cursor at {self.state.value!r} ({self.state.origin})"
        )
        return f"{self.destination}: {where}; " + ", ".join(parts)


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
