"""A cursor source's side: how far back to read, from the states of the destinations it feeds.

Each destination keeps its own state (``engine.cursor_state``); the source reads from the smallest value
of all (:class:`CursorRead`), or every row while one has none, and says in its handle's ``meta`` what it
read (:func:`cursor_meta`) so that each destination can drop what it already holds.

Light at import time: pyarrow and psycopg are imported where they are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.engine.cursor_state import (
    DESTINATION_POSTGRES,
    STATE_TABLE,
    AirflowVariables,
    CursorState,
    VariableStore,
    cursor_key,
    destination_key,
    newest,
    read_table_state,
    typed_value,
)
from airflow_provider_logidata.engine.errors import LogiDataTaskError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    import pyarrow as pa

    from airflow_provider_logidata.engine.logs import TaskLog

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
        return smallest_start([value for _d, value in starts], arrow_type, owner=owner), ", ".join(parts)


def smallest_start(starts: list[str | None], arrow_type: pa.DataType, *, owner: str) -> str | None:
    """Where a cursor source read by several destinations starts: the smallest of their starts, compared
    as values of the column's type; ``None`` (every row) when any of them starts from nothing."""
    if any(value is None for value in starts):
        return None
    return min(
        (value for value in starts if value is not None), key=lambda v: typed_value(v, arrow_type, what=owner)
    )


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
