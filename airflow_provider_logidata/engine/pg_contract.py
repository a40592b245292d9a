"""The type contract (``engine.pg_types``) applied to a real load: value checks in SQL, widening, proofs.

Shared by both load paths of ``destination.postgres``: ETL checks a temporary table holding the staged rows
with their own types (copied there only when a check is needed), ELT checks the pushed-down SELECT itself.
Both run the same SQL over values of the same PostgreSQL types, so they reach the same outcome.

Why a guarded single pass first: the common load changes no value, so the checks ride along in the
load's own ``INSERT ... SELECT`` (``CASE WHEN <changed> THEN <guard raises> ELSE <converted> END``, no extra
read of the input). Only when the guard (or a cast that cannot be made) stops it does the load roll back to
a savepoint and look for the value (:func:`enforce`): every column's check is one aggregate of a single
scan (``min(v::text) FILTER (WHERE <changed>)``: the smallest value that would change); a cast that cannot
be made at all (3000000000 into an integer, NaN into numeric(10,2), a domain's CHECK) aborts that scan,
and only then does a per-row PL/pgSQL helper with an exception block (a subtransaction per row, much
slower) find the first such value, to name it. Then the column is widened (evolve) and the load runs
again, or the load is refused.

ETL's direct COPY stays when the only checks are ranges of integers or lengths of texts that the staged
Parquet file proves (row-group statistics, or a scan of those columns): no value can change then, and the
COPY stores exactly what the checked cast would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from airflow_provider_logidata.engine import pg_types
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.sql import quote_ident

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from airflow_provider_logidata.engine import staging
    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.engine.pg_load_plan import LoadPlan

# Errors that mean "this value cannot be stored as that type": data exceptions (22...), a domain's or a
# column's check (23514), no such cast (42846).
_VALUE_ERRORS = ("22", "23", "42846")


@dataclass(frozen=True)
class Change:
    """A value the load would change: its text, and what the column would hold (or why it cannot)."""

    example: str
    stored: str | None
    error: str | None


class IncomingRows:
    """The input's rows with their own PostgreSQL types: the input side of the contract."""

    def __init__(self, types: Mapping[str, str]) -> None:
        self.types = dict(types)  # input column -> PostgreSQL type

    def proven(self, bounds: Mapping[str, pg_types.Bound]) -> set[str]:
        """The columns whose every value lies inside its bound, known without SQL (ETL: from Arrow)."""
        return set()

    def relation(self, names: Sequence[str]) -> sql.Composable:
        """A FROM item holding the rows (at least the columns ``names``) with the types of ``types``."""
        raise NotImplementedError


class QueryRows(IncomingRows):
    """ELT: the pushed-down SELECT, described with ``LIMIT 0``."""

    def __init__(self, types: Mapping[str, str], select: str) -> None:
        super().__init__(types)
        self.select = select

    def relation(self, names: Sequence[str]) -> sql.Composable:
        return sql.SQL("(\n{}\n)").format(sql.SQL(self.select))  # type: ignore[arg-type]


def _first_line(error: psycopg.Error) -> str:
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return (primary or str(error).strip() or type(error).__name__).splitlines()[0].strip()


def _is_value_error(error: psycopg.Error) -> bool:
    return (error.sqlstate or "").startswith(_VALUE_ERRORS)


@contextlib.contextmanager
def _look(con: psycopg.Connection[Any]) -> Iterator[None]:
    """A read-only savepoint, always rolled back: a check writes nothing, and a failing one is undone."""
    with con.transaction(force_rollback=True):
        con.execute("SET LOCAL transaction_read_only = on")
        yield


def _execute(con: psycopg.Connection[Any], query: str, params: Sequence[Any] | None = None) -> Any:
    return con.execute(sql.SQL(query), params)  # type: ignore[arg-type]


def find_changes(
    con: psycopg.Connection[Any], relation: sql.Composable, items: Sequence[tuple[str, pg_types.Rule]]
) -> dict[str, Change]:
    """For each (input column, rule) with a check: the smallest value (as text) the load would change."""
    checked = [(name, rule) for name, rule in items if rule.changed is not None]
    if not checked:
        return {}
    aggregates = []
    for name, rule in checked:
        ref = f"q.{quote_ident(name)}"
        aggregates.append(f"min(CAST({ref} AS text)) FILTER (WHERE {rule.changed_sql(ref)})")
    query = sql.SQL("SELECT {} FROM {} AS q").format(
        sql.SQL(", ".join(aggregates)),  # type: ignore[arg-type]
        relation,
    )
    try:
        with _look(con):
            row = con.execute(query).fetchone()
    except psycopg.Error as error:
        if not _is_value_error(error):
            raise
        if len(checked) > 1:  # which column? one scan each
            found: dict[str, Change] = {}
            for item in checked:
                found.update(find_changes(con, relation, [item]))
            return found
        name, rule = checked[0]
        return {name: first_failure(con, relation, name, rule, _first_line(error))}
    assert row is not None
    return {
        name: stored_as(con, rule, example)
        for (name, rule), example in zip(checked, row, strict=True)
        if example is not None
    }


def stored_as(con: psycopg.Connection[Any], rule: pg_types.Rule, example: str) -> Change:
    """What the column would hold for ``example`` (the input value's text), or why it cannot hold it."""
    value = f"CAST(CAST(%s AS text) AS {rule.incoming.sql})"
    try:
        with _look(con):
            row = _execute(con, f"SELECT CAST({rule.convert_sql(value)} AS text)", (example,)).fetchone()
    except psycopg.Error as error:
        if not _is_value_error(error):
            raise
        return Change(example, None, _first_line(error))
    return Change(example, None if row is None else row[0], None)


def first_failure(
    con: psycopg.Connection[Any], relation: sql.Composable, name: str, rule: pg_types.Rule, error: str
) -> Change:
    """The first value of ``name`` whose check fails or finds a change, through a per-row helper."""
    assert rule.changed is not None
    digest = hashlib.sha1(f"{rule.incoming.sql}|{rule.target.sql}|{rule.changed}".encode()).hexdigest()[:12]
    function = f"pg_temp.logidata_change_{digest}"
    check = rule.changed_sql("logidata_v")
    # Created in a savepoint kept by the load's transaction (a read-only step cannot create it).
    with con.transaction():
        _execute(
            con,
            f"CREATE OR REPLACE FUNCTION {function}(logidata_v {rule.incoming.sql}) RETURNS text "
            f"LANGUAGE plpgsql AS $logidata$ BEGIN IF {check} THEN RETURN ''; END IF; RETURN NULL; "
            "EXCEPTION WHEN others THEN RETURN SQLERRM; END $logidata$",
        )
    ref = f"q.{quote_ident(name)}"
    query = sql.SQL(
        "SELECT v, r FROM (SELECT CAST({ref} AS text) AS v, {function}({ref}) AS r FROM {relation} AS q "
        "OFFSET 0) AS s WHERE r IS NOT NULL LIMIT 1"
    ).format(
        ref=sql.SQL(ref),  # type: ignore[arg-type]
        function=sql.SQL(function),  # type: ignore[arg-type]
        relation=relation,
    )
    with _look(con):
        row = con.execute(query).fetchone()
    if row is None:  # the whole scan failed, yet no single value does: report PostgreSQL's error
        return Change("(unknown)", None, error)
    example, reason = str(row[0]), str(row[1])
    if reason == "":
        return stored_as(con, rule, example)
    return Change(example, None, reason)


def prepare(plan: LoadPlan, rows: IncomingRows) -> None:
    """Which columns need a value check (``plan.pending``) and whether ETL may COPY straight in.

    A check whose bound the input proves without SQL (ETL: Arrow) is dropped: no value can change.
    """
    checked = [
        (name, column)
        for name, column, _type in plan.columns
        if (rule := plan.rules.get(column)) is not None and rule.changed is not None
    ]
    bounds: dict[str, pg_types.Bound] = {}
    for name, column in checked:
        rule = plan.rules[column]
        if rule.direct and rule.bound is not None:
            bounds[name] = rule.bound
    proven = rows.proven(bounds) if bounds else set()
    plan.pending = [column for name, column in checked if name not in proven]
    plan.direct = not plan.pending and all(rule.direct for rule in plan.rules.values())


# The guard of a single-pass load: raised (SQLSTATE GUARD_STATE) by the first row whose value would change.
GUARD_STATE = "LD001"
GUARD_FUNCTION = "pg_temp.logidata_value_would_change"


def create_guard(con: psycopg.Connection[Any]) -> None:
    _execute(
        con,
        f"CREATE OR REPLACE FUNCTION {GUARD_FUNCTION}(logidata_column text) RETURNS text LANGUAGE plpgsql "
        "AS $logidata$ BEGIN RAISE EXCEPTION 'logidata: a value of column % would change', logidata_column "
        f"USING ERRCODE = '{GUARD_STATE}'; END $logidata$",
    )


def guarded_sql(rule: pg_types.Rule, column: str, value: str) -> str:
    """``convert(value)``, unless the value would change: then the guard stops the statement."""
    changed = rule.changed_sql(value)
    converted = rule.convert_sql(value)
    if changed is None:
        return converted
    name = "'" + column.replace("'", "''") + "'"
    return (
        f"CASE WHEN {changed} THEN CAST({GUARD_FUNCTION}({name}) AS {rule.target.sql}) ELSE {converted} END"
    )


def stopped_by_check(error: psycopg.Error) -> bool:
    """Whether a guarded load stopped on a value (the guard, or a cast that cannot be made)."""
    state = error.sqlstate or ""
    return state == GUARD_STATE or state.startswith("22") or state == "42846"


def enforce(
    con: psycopg.Connection[Any],
    *,
    mode: str,
    plan: LoadPlan,
    relation: sql.Composable,
    target_sql: sql.Composable,
    target_text: str,
    owner: str,
    node_id: str,
    log: TaskLog,
) -> None:
    """Find the values of ``plan.pending`` columns the load would change; widen (evolve) or refuse.

    Widened columns get their new type in ``plan.columns`` and ``plan.rules``; ``plan.pending`` is empty
    afterwards. Raises ``LogiDataTaskError`` (the caller's transaction rolls back: the table is unchanged)
    for a value the load would change.
    """
    inputs = {column: (index, name) for index, (name, column, _type) in enumerate(plan.columns)}
    pending = [(inputs[column][0], inputs[column][1], column, plan.rules[column]) for column in plan.pending]
    changes = find_changes(con, relation, [(name, rule) for _i, name, _c, rule in pending])
    for index, name, column, rule in pending:
        change = changes.get(name)
        if change is None:
            continue
        wider = None if rule.widen is None else pg_types.classify(rule.incoming, rule.widen)
        # The widened column must hold every value: none changed by the wider pair's rule, and each one
        # convertible ('2024-02-30' fits no date and no timestamp: widening would not help).
        widen_ok = wider is not None and not find_changes(con, relation, [(name, convertible(wider))])
        described = pg_types.change_text(rule, column, change.example, change.stored, change.error)
        if mode == "evolve" and widen_ok:
            assert wider is not None
            try:
                con.execute(
                    sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {}").format(
                        target_sql,
                        sql.Identifier(column),
                        sql.SQL(wider.target.sql),  # type: ignore[arg-type]
                    )
                )
            except psycopg.Error as error:
                raise LogiDataTaskError(
                    f"{owner}: {described}; on_schema_change 'evolve' widens the column to "
                    f"{wider.target.sql}, but PostgreSQL refuses: {_first_line(error)}. Widen it yourself "
                    "(after dropping what depends on it) or cast upstream (select_columns). "
                    f"{target_text} is unchanged."
                ) from None
            plan.columns[index] = (name, column, wider.target.sql)
            plan.rules[column] = wider
            log.info(
                f"{node_id}: widened column {column!r} of {target_text} from {rule.target.sql} to "
                f"{wider.target.sql} (on_schema_change evolve): otherwise {described.split(': ', 1)[1]}"
            )
            continue
        raise LogiDataTaskError(
            f"{owner}: {described}; "
            f"{pg_types.refusal_advice(mode, rule, widen_ok, unreadable=change.error is not None)}. "
            f"{target_text} is unchanged."
        )
    plan.pending = []


def convertible(rule: pg_types.Rule) -> pg_types.Rule:
    """``rule`` with a check that fails on a value its conversion cannot make, when it has no check.

    The check evaluates the conversion (an error is a value that cannot be stored); a conversion giving
    null for a value that is not null counts as a change too.
    """
    if rule.changed is not None:
        return rule
    return dataclasses.replace(rule, changed=f"({rule.convert}) IS NULL AND {{v}} IS NOT NULL")


def refuse_unstorable(
    con: psycopg.Connection[Any],
    *,
    plan: LoadPlan,
    relation: sql.Composable,
    target_text: str,
    owner: str,
) -> None:
    """After an ``INSERT ... SELECT`` stopped on a value no check looked at: name its column and value.

    Why: a pair without a value check (text read by an integer column, a domain's base type, ...) fails
    inside PostgreSQL's cast, whose error names neither the column nor, for ELT, the input type. The
    statement was rolled back to its savepoint; this scans the columns converted without a check (one
    aggregate, then per column) and raises a ``LogiDataTaskError`` like a refused type change. Returns
    when no column explains the error (the caller re-raises PostgreSQL's).
    """
    inputs = {column: name for name, column, _type in plan.columns}
    items = [
        (inputs[column], column, rule)
        for column, rule in plan.rules.items()
        if column in inputs and rule.changed is None
    ]
    checks = [(name, convertible(rule)) for name, _column, rule in items]
    changes = find_changes(con, relation, checks)
    for name, column, rule in items:
        change = changes.get(name)
        if change is None:
            continue
        described = pg_types.change_text(rule, column, change.example, change.stored, change.error)
        raise LogiDataTaskError(
            f"{owner}: {described}; fix or filter the value upstream (select_columns cast, filter_rows), "
            f"or change the column's type. {target_text} is unchanged."
        )


def arrow_proof(handle: staging.StagingHandle, bounds: Mapping[str, pg_types.Bound]) -> set[str]:
    """The columns of the staged file whose every value lies inside its bound (integer range, text length).

    Integer ranges come from the Parquet row-group statistics when every row group has them; the rest is
    one scan of just those columns.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from airflow_provider_logidata.engine import staging

    path = staging.staged_path(handle)
    proven: set[str] = set()
    with path.fs.open(path.path, "rb") as source:
        parquet = pq.ParquetFile(source)
        metadata = parquet.metadata
        leaves = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
        names = set(parquet.schema_arrow.names)
        to_scan: dict[str, pg_types.Bound] = {}
        for name, bound in bounds.items():
            if name not in names:
                continue
            kind, low, high = bound
            index = leaves.get(name)
            if kind == "range" and index is not None:
                verdict = _range_from_statistics(metadata, index, low, high)
                if verdict is True:
                    proven.add(name)
                    continue
                if verdict is False:
                    continue
            to_scan[name] = bound
        if not to_scan:
            return proven
        inside = dict.fromkeys(to_scan, True)
        for batch in parquet.iter_batches(columns=list(to_scan)):
            for name, (kind, low, high) in to_scan.items():
                if not inside[name]:
                    continue
                array = batch.column(name)
                if pa.types.is_dictionary(array.type):
                    array = array.dictionary_decode()
                if array.null_count == len(array):
                    continue
                if kind == "range":
                    if not pa.types.is_integer(array.type):
                        inside[name] = False
                        continue
                    extremes = pc.min_max(array).as_py()
                    inside[name] = low <= extremes["min"] and extremes["max"] <= high
                else:
                    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
                        inside[name] = False
                        continue
                    # Bytes bound characters from above and need only the offsets; count characters
                    # only when some value has more bytes than the column has characters.
                    longest = pc.max(pc.binary_length(array)).as_py()
                    if longest is not None and longest > high:
                        longest = pc.max(pc.utf8_length(array)).as_py()
                    inside[name] = longest is None or longest <= high
            if not any(inside.values()):
                break
        proven.update(name for name, ok in inside.items() if ok)
    return proven


def _range_from_statistics(metadata: Any, index: int, low: int, high: int) -> bool | None:
    """True: every row group's min/max lies inside; False: one lies outside; None: unknown (no stats)."""
    for group in range(metadata.num_row_groups):
        chunk = metadata.row_group(group).column(index)
        stats = chunk.statistics
        if stats is None:
            return None
        if stats.null_count == chunk.num_values and stats.null_count is not None:
            continue
        if not stats.has_min_max or not isinstance(stats.min, int) or not isinstance(stats.max, int):
            return None
        if stats.min < low or stats.max > high:
            return False
    return True
