"""A cursor source pushed down (ELT): the ETL cursor load's rules, run inside PostgreSQL.

The ETL load (``engine.incremental``, ``engine.incremental_load``) reads ``column >= <the destination's
cursor>``, drops at the destination what it already holds (rows below its value; at its value, the rows
whose hash is in its ``boundary`` multiset), loads the rest and commits its new state (the largest value
the source read, the hashes of the rows landed at that value) in the load's transaction. On a pushed-down
path ``source.postgres -> transforms -> destination.postgres`` (linear, or joined with sources read in
full: the hashes are of the rows as they reach the destination, as in ETL) the source and the
destination share one connection, so everything happens in the ELT task's one transaction
(:class:`EltCursor`, driven by ``engine.elt.run_elt``):

1. the advisory lock and the destination's state, read as ETL reads it (its row of the state table,
   ``FOR UPDATE``, or its Airflow Variable when newer, else the legacy Variable);
2. the source's rows from that value on (the ETL source's condition, ``pg_read_plan.cursor_condition``)
   into a temporary table dropped at commit: every later statement reads those rows, so the new cursor
   (their largest value), the rows loaded and their hashes all come from one set of rows, whatever commits
   meanwhile (a row committed later is read by the next run: its value is at or above the new cursor, or
   it would have been missed by ETL too);
3. the rows the destination already holds dropped in SQL (:func:`held_filter`), counted per hash as ETL
   does (two identical rows landed once each are dropped twice, a third is new);
4. the destination's own load (append or merge, the type contract), then the new state written to the
   state table in the same transaction (``DestinationIncremental.commit_postgres``); a role that may not
   write it saves the Variable right after the commit, as ETL does.

The boundary hashes are ``cursor_filter.row_hashes`` computed in SQL (:func:`row_hash_sql`): sha256 of the
row's canonical JSON, each value written as Python's ``json.dumps`` writes the value Arrow gives for the
column's type, so a state committed by either engine is read the same by the other. No row leaves the
database: only the new cursor value, counts and the hashes of the rows at that value are fetched.

A partial pushdown (``engine.elt_read``) commits no cursor: like the ETL source, it reads from the smallest
state of the destinations it feeds (:func:`read_start`) and says what it read (:func:`largest_read`); each
destination after it drops what it holds and commits its own.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.engine import cursor_filter
from airflow_provider_logidata.engine import pg_read_plan as pgread
from airflow_provider_logidata.engine.cursor_filter import BOUNDARY_CAP, CursorFilter, too_many_at_value
from airflow_provider_logidata.engine.cursor_read import cursor_meta
from airflow_provider_logidata.engine.cursor_state import (
    DESTINATION_POSTGRES,
    CursorState,
    VariableStore,
    typed_value,
)
from airflow_provider_logidata.engine.dialects.postgres import is_text
from airflow_provider_logidata.engine.elt_context import Described, arrow_schema, describe
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.incremental_load import DestinationIncremental
from airflow_provider_logidata.engine.sql import quote_ident, quote_literal

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

    from airflow_provider_logidata.engine.cursor_read import CursorRead
    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig
    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

# Python's repr of a float (what json.dumps writes), in PostgreSQL. PostgreSQL's text of a double
# (extra_float_digits 1) has the digits that read back exactly, but not always the fewest: where a shorter
# decimal lies exactly halfway to the next double, Python takes it (it reads back by round-half-even) and
# PostgreSQL writes one digit more; so one digit fewer is tried (rounded down and up) while it reads back.
# The digits are then written as Python does: fixed for 1e-4 <= |x| < 1e16 (".0" when integral), else
# d.ddde+XX.
PYFLOAT = "logidata_pyfloat"
PYFLOAT_CREATE = (
    f"CREATE OR REPLACE FUNCTION pg_temp.{PYFLOAT}(x double precision) RETURNS text LANGUAGE plpgsql "
    "IMMUTABLE SET extra_float_digits = 1 AS $logidata$\n"
    "DECLARE t text := x::text; m text[]; sign text; digits text; decpt int; shorter text; up text;\n"
    "  e int; done boolean := false;\n"
    "BEGIN\n"
    "  IF t IN ('NaN', 'Infinity', '-Infinity') THEN RETURN t; END IF;\n"
    "  IF x = 0 THEN RETURN CASE WHEN t LIKE '-%' THEN '-0.0' ELSE '0.0' END; END IF;\n"
    "  m := regexp_match(t, '^(-?)([0-9]+)(?:\\.([0-9]+))?(?:e([-+][0-9]+))?$');\n"
    "  sign := m[1];\n"
    "  digits := m[2] || coalesce(m[3], '');\n"
    "  decpt := length(m[2]) + coalesce(m[4]::int, 0);\n"
    "  WHILE left(digits, 1) = '0' LOOP digits := substr(digits, 2); decpt := decpt - 1; END LOOP;\n"
    "  digits := rtrim(digits, '0');\n"
    "  WHILE NOT done AND length(digits) > 1 LOOP\n"
    "    done := true;\n"
    "    shorter := left(digits, length(digits) - 1);\n"
    "    up := (shorter::numeric + 1)::text;\n"
    "    BEGIN\n"
    "      IF (sign || '0.' || shorter || 'e' || decpt)::double precision = x THEN\n"
    "        digits := rtrim(shorter, '0'); done := false;\n"
    "      ELSIF (sign || '0.' || up || 'e' || (decpt + length(up) - length(shorter)))::double precision\n"
    "          = x THEN\n"
    "        decpt := decpt + length(up) - length(shorter); digits := rtrim(up, '0'); done := false;\n"
    "      END IF;\n"
    "    EXCEPTION WHEN numeric_value_out_of_range THEN done := true;\n"
    "    END;\n"
    "  END LOOP;\n"
    "  IF decpt > -4 AND decpt <= 16 THEN\n"
    "    IF decpt <= 0 THEN RETURN sign || '0.' || repeat('0', -decpt) || digits; END IF;\n"
    "    IF length(digits) <= decpt THEN RETURN sign || rpad(digits, decpt, '0') || '.0'; END IF;\n"
    "    RETURN sign || left(digits, decpt) || '.' || substr(digits, decpt + 1);\n"
    "  END IF;\n"
    "  e := decpt - 1;\n"
    "  RETURN sign || left(digits, 1) || CASE WHEN length(digits) > 1 THEN '.' || substr(digits, 2) ELSE '' "
    "END || 'e' || CASE WHEN e < 0 THEN '-' ELSE '+' END\n"
    "    || CASE WHEN abs(e) < 10 THEN '0' ELSE '' END || abs(e);\n"
    "END $logidata$"
)


def _json_text(expression: str) -> str:
    return f"to_json(({expression})::text)::text"


def _value_json(ref: str, arrow_type: pa.DataType) -> str:
    """SQL writing the column's value as ``json.dumps`` writes what Arrow gives for it (not null)."""
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return f"CASE WHEN {ref} THEN 'true' WHEN NOT {ref} THEN 'false' END"
    if pa.types.is_integer(arrow_type):
        return f"({ref})::text"
    if pa.types.is_floating(arrow_type):
        return f"pg_temp.{PYFLOAT}(({ref})::double precision)"
    if pa.types.is_decimal(arrow_type):
        # format(Decimal, "f") with the Arrow type's scale
        return _json_text(f"CAST({ref} AS numeric({arrow_type.precision},{arrow_type.scale}))")
    if pa.types.is_date(arrow_type):
        return _json_text(f"to_char({ref}, 'YYYY-MM-DD')")
    if pa.types.is_timestamp(arrow_type):
        moment = f"(({ref}) AT TIME ZONE 'UTC')" if arrow_type.tz else f"({ref})"
        zone = " || '+00:00'" if arrow_type.tz else ""
        return _json_text(_iso(moment) + zone)
    if pa.types.is_time(arrow_type):
        return _json_text(_iso(f"(date '2000-01-01' + {ref})", date=False))
    if pa.types.is_binary(arrow_type):
        return _json_text(f"'hex:' || encode({ref}, 'hex')")
    return _json_text(ref)


def _iso(moment: str, *, date: bool = True) -> str:
    """datetime.isoformat(): microseconds only when there are some."""
    head = 'YYYY-MM-DD"T"HH24:MI:SS' if date else "HH24:MI:SS"
    return (
        f"to_char({moment}, '{head}') || CASE WHEN to_char({moment}, 'US') = '000000' THEN '' "
        f"ELSE '.' || to_char({moment}, 'US') END"
    )


def row_hash_sql(alias: str, columns: list[Described]) -> str:
    """SQL of ``cursor_filter.row_hashes`` for the row ``alias`` (columns as described)."""
    payload = row_json_sql(alias, columns)
    return f"left(encode(sha256(convert_to({payload}, 'UTF8')), 'hex'), {cursor_filter.HASH_CHARS})"


def row_json_sql(alias: str, columns: list[Described]) -> str:
    """SQL of the canonical JSON ``cursor_filter.row_hashes`` hashes."""
    schema = arrow_schema(columns)
    parts = []
    for index, name in enumerate(sorted(c.name for c in columns)):  # json.dumps(sort_keys=True)
        ref = f"{alias}.{quote_ident(name)}"
        key = json.dumps(name, ensure_ascii=False) + ":"
        value = _value_json(ref, schema.field(name).type)
        separator = "," if index else "{"
        parts.append(f"{quote_literal(separator + key)} || coalesce({value}, 'null')")
    return " || ".join([*parts, "'}'"]) if parts else "'{}'"


def _compared(ref: str, column: Described) -> str:
    return f'{ref} COLLATE "C"' if is_text(column.type_sql) else ref


def largest_read(
    con: psycopg.Connection[Any], source_select: str, column: str, *, owner: str
) -> tuple[str | None, int, pa.DataType]:
    """The largest value of ``column`` among the rows ``source_select`` reads (as ETL's source writes it,
    ``pg_read_plan.cursor_text``; ``None`` when it read none), how many rows it read and the column's Arrow
    type. One query, so the value and the count come from the same rows."""
    import pyarrow as pa

    described = describe(con, source_select, owner=owner)
    found = next(c for c in described if c.name == column)
    arrow_type = arrow_schema([found]).field(0).type
    ref = _compared(f"q.{quote_ident(column)}", found)
    row = con.execute(f"SELECT max({ref}), count(*) FROM (\n{source_select}\n) AS q".encode()).fetchone()
    largest = None if row is None else row[0]
    rows = 0 if row is None else int(row[1])
    read_max = None if largest is None else pgread.cursor_text(pa.scalar(largest, type=arrow_type).as_py())
    return read_max, rows, arrow_type


def cursor_column_type(
    con: psycopg.Connection[Any], source_select: str, source_id: str, column: str, *, owner: str
) -> pa.DataType:
    """The Arrow type of a cursor source's column (``source_select``: its SELECT without the cursor
    condition), or an error saying the column is not read."""
    found = next((c for c in describe(con, source_select, owner=owner) if c.name == column), None)
    if found is None:
        raise LogiDataTaskError(
            f"{owner}: incremental column {column!r} of source {source_id!r} is not among the columns "
            "read; add it to columns or the query, or fix incremental.column"
        )
    return arrow_schema([found]).field(0).type


def read_start(
    con: psycopg.Connection[Any],
    source_select: str,
    source_id: str,
    source: PostgresSourceConfig,
    cursor_read: CursorRead,
    *,
    owner: str,
    log: TaskLog,
) -> str | None:
    """Where a cursor source read by a partial pushdown starts (inclusive; ``None``: every row): the
    smallest state of the destinations it feeds, as the ETL source decides (``CursorRead.start``), so
    that each of them, loaded by the engine after the exit, finds every row it lacks and drops the rest.
    ``source_select``: the source's SELECT without its cursor condition (to type the column)."""
    spec = source.incremental
    assert spec is not None and spec.mode == "cursor"
    arrow_type = cursor_column_type(con, source_select, source_id, spec.column, owner=owner)
    initial = None if spec.initial_value is None else str(spec.initial_value)
    start, standing = cursor_read.start(spec.column, arrow_type, initial, owner=owner, log=log)
    log.info(f"{source_id}: cursor on {spec.column}: {standing}")
    return start


class EltCursor:
    """One pushed-down cursor load (see the module doc): :meth:`begin` before the source is compiled,
    :meth:`read` once it is materialised, :meth:`held_filter` around the last step, :meth:`landed` before
    the load, :meth:`commit` after it (same transaction) and :meth:`after_commit` once committed."""

    def __init__(
        self,
        dag_id: str,
        source_id: str,
        source: PostgresSourceConfig,
        destination_id: str,
        destination: PostgresDestinationConfig,
        *,
        owner: str,
        log: TaskLog,
        variables: VariableStore | None = None,
    ) -> None:
        spec = source.incremental
        assert spec is not None and spec.mode == "cursor"
        self.column = spec.column
        self.initial = None if spec.initial_value is None else str(spec.initial_value)
        self.source_id = source_id
        self.destination = destination
        self.owner = owner
        self.log = log
        self.entry: dict[str, Any] = cursor_meta(
            dag_id, source_id, spec.column, initial_value=self.initial, read_from=None, read_max=None
        )
        self.incremental = DestinationIncremental(
            [{"meta": {"incremental": [self.entry]}}],
            destination=destination_id,
            module=DESTINATION_POSTGRES,
            owner=owner,
            log=log,
            variables=variables,
        )
        self.state: CursorState | None = None
        self.filter: CursorFilter | None = None
        self.arrow_type: pa.DataType | None = None
        self.columns: list[Described] = []  # the rows reaching the destination
        self.column_described: Described | None = None
        self.helpers: dict[str, str] = {}  # pg_temp functions created (name: CREATE), for the log
        self.rows_read = 0
        self.unfiltered: str | None = None  # the rows reaching the destination, before held_filter
        self.held_dropped: int | None = None

    def summary(self) -> dict[str, Any]:
        """What the source read, for the task's result and metrics (``held_dropped``: the rows the
        destination already held, dropped, when there were any to look for)."""
        found = {
            "column": self.column,
            "read_from": self.entry["read_from"],
            "read_max": self.entry["read_max"],
            "rows_read": self.rows_read,
        }
        if self.held_dropped is not None:
            found["held_dropped"] = self.held_dropped
        return found

    def _hash(self, con: psycopg.Connection[Any], alias: str) -> str:
        if PYFLOAT not in self.helpers:
            con.execute(PYFLOAT_CREATE.encode())
            self.helpers[PYFLOAT] = PYFLOAT_CREATE
        return row_hash_sql(alias, self.columns)

    # --- before the source is compiled --------------------------------------------------------------

    def begin(self, con: psycopg.Connection[Any]) -> str | None:
        """Take the destination's lock and read its state as ETL does; returns where the source reads
        from (inclusive; ``None``: every row)."""
        inc = self.incremental
        if self.destination.mode == "replace":
            raise LogiDataTaskError(
                f"{self.owner}: mode 'replace' empties the table on every run, but cursor source "
                f"{self.source_id!r} only reads the rows that are new since the last run: the table would "
                "hold only those. Use mode 'append' or 'merge'. Nothing was written."
            )
        state = inc.locked_state(con, self.destination.schema_name)
        if state is not None and not state.applies_to(self.column):
            self.log.warning(
                f"{self.owner}: its cursor is on column {state.column!r}, the source now uses "
                f"{self.column!r}: starting again as if it had none"
            )
            state = None
        self.state = state
        read_from = state.value if state is not None and state.value is not None else self.initial
        self.entry["read_from"] = read_from
        self.log.info(
            f"{inc.destination}: cursor of source {self.source_id!r} on {self.column}: "
            + ("none yet" if state is None or state.value is None else f"{state.value!r} ({state.origin})")
        )
        return read_from

    # --- once the source's rows are in their temporary table ----------------------------------------

    def read(
        self,
        con: psycopg.Connection[Any],
        source_select: str,
        largest: tuple[str | None, int, pa.DataType] | None = None,
    ) -> None:
        """The largest cursor value the source read (``read_max``, as ETL's ``cursor_text`` writes it).
        ``largest``: :func:`largest_read` of those rows when already asked (several destinations share one
        read)."""
        read_max, self.rows_read, self.arrow_type = largest or largest_read(
            con, source_select, self.column, owner=self.owner
        )
        self.entry["read_max"] = read_max
        inc = self.incremental
        inc.cursor = self.entry
        self.filter = CursorFilter(
            self.entry,
            inc.destination,
            self.owner,
            self.state,
            needs_boundary=self.destination.mode != "merge",
        )
        self.filter.check(self.arrow_type)
        inc.filter = self.filter
        self.log.info(
            f"{inc.destination}: the source read {self.rows_read} row(s) from {self.entry['read_from']!r} "
            f"up to {read_max!r}"
        )

    def held_filter(self, con: psycopg.Connection[Any], select: str) -> str:
        """``select`` (the rows reaching the destination) without the rows the destination holds."""
        columns = describe(con, select, owner=self.owner)
        found = next((c for c in columns if c.name == self.column), None)
        if found is None:
            raise LogiDataTaskError(
                f"{self.owner}: the cursor column {self.column!r} of source {self.source_id!r} does not "
                f"reach this destination (its input has {', '.join(c.name for c in columns)}): without it "
                "the rows already loaded cannot be told from new ones. Keep the column, unchanged and under "
                "the same name, on the way here (select_columns). Nothing was written."
            )
        self.columns = columns
        self.column_described = found
        self.unfiltered = select
        ref = _compared(f"q.{quote_ident(self.column)}", found)
        names = ", ".join(f"q.{quote_ident(c.name)}" for c in columns)
        state = self.state
        if state is not None and state.value is not None:
            value = quote_literal(state.value)
            boundary = state.boundary
            if boundary == "all":
                where = f"{ref} > {value}"
            elif boundary == "unknown" or not boundary:
                where = f"{ref} >= {value}"
            else:
                held = quote_literal(json.dumps(dict(sorted(boundary.items()))))
                hashed = self._hash(con, "q")
                return (
                    f"SELECT {', '.join(quote_ident(c.name) for c in columns)} FROM (\n"
                    f"SELECT {names}, CASE WHEN {ref} = {value} THEN row_number() OVER (PARTITION BY "
                    f"CASE WHEN {ref} = {value} THEN {hashed} END) END AS logidata_nth, "
                    f"CASE WHEN {ref} = {value} THEN {hashed} END AS logidata_hash "
                    f"FROM (\n{select}\n) AS q\n) AS q WHERE {ref} > {value} OR ({ref} = {value} AND "
                    f"q.logidata_nth > coalesce(({held}::jsonb ->> q.logidata_hash)::bigint, 0))"
                )
        elif self.initial is not None:
            where = f"{ref} >= {quote_literal(self.initial)}"
        else:
            self.unfiltered = None  # nothing to drop: every row read is loaded
            return select
        return f"SELECT {names} FROM (\n{select}\n) AS q WHERE {where}"

    def landed(self, con: psycopg.Connection[Any], select: str) -> None:
        """The hashes of the rows about to be loaded at the new cursor value (``select``: what is loaded),
        refusing as ETL does more than ``BOUNDARY_CAP`` of them where the boundary is needed."""
        f = self.filter
        assert f is not None and self.arrow_type is not None
        read_max = f.read_max
        if read_max is None:
            return
        assert self.column_described is not None
        ref = _compared(f"q.{quote_ident(self.column)}", self.column_described)
        at_max = f"FROM (\n{select}\n) AS q WHERE {ref} = {quote_literal(read_max)}"
        row = con.execute(f"SELECT count(*) {at_max}".encode()).fetchone()
        count = int(row[0]) if row else 0
        prior = 0
        state = self.state
        if (
            state is not None
            and state.value is not None
            and typed_value(state.value, self.arrow_type, what=self.owner)
            == typed_value(read_max, self.arrow_type, what=self.owner)
        ):
            prior = cursor_filter.boundary_size(state.boundary)
        if count and prior + count > BOUNDARY_CAP:
            if f.needs_boundary:
                raise too_many_at_value(prior + count, read_max, self.column, self.owner)
            f.overflow = True
            return
        if count:
            hashed = self._hash(con, "q")
            for digest, n in con.execute(
                f"SELECT {hashed} AS h, count(*) {at_max} GROUP BY 1".encode()
            ).fetchall():
                f.landed_at_max[str(digest)] = int(n)

    # --- after the load -------------------------------------------------------------------------------

    def commit(self, con: psycopg.Connection[Any], rows: int) -> None:
        """Still inside the load's transaction: the new state next to the rows."""
        assert self.filter is not None
        self.filter.landed = rows
        if self.unfiltered is not None:
            # As ETL's destination logs what its filter dropped: one count over the rows read (held in a
            # temporary table since the source was read), in the same transaction.
            row = con.execute(f"SELECT count(*) FROM (\n{self.unfiltered}\n) AS q".encode()).fetchone()
            self.held_dropped = max(0, (int(row[0]) if row else 0) - rows)
            if self.held_dropped:
                self.log.info(
                    f"{self.incremental.destination}: dropped {self.held_dropped} row(s) it already held "
                    f"(at or below its cursor, loaded by an earlier run)"
                )
        self.incremental.commit_postgres(con, self.destination.schema_name)

    def after_commit(self) -> None:
        self.incremental.after_commit()
