"""ELT pushdown: a ``source.postgres -> transforms -> destination.postgres`` path run inside PostgreSQL.

No row leaves the database. In ONE transaction on the destination's connection:

1. the source's SELECT (table or query, its ``columns`` and ``data_interval`` filter; types normalised as
   the ETL source does: unconstrained numeric -> numeric(38,9), types the ETL source reads as text -> text,
   character(n) -> its padded text);
2. each transform compiles to a SELECT over the previous step (nested subqueries) with its module's
   PostgreSQL builder, which mirrors its DuckDB builder (``modules/transforms/<name>.py``); column
   types come from ``SELECT * FROM (<sql>) q LIMIT 0``, and the builders' pre-checks (failing casts with
   counts and examples, unknown columns) run as queries;
3. the ETL destination's own steps (``engine.pg_target``: ``prepare_target``, ``open_destination``;
   ``engine.pg_finalize``: ``finalize``) with ``INSERT INTO <where the mode writes> SELECT ...`` in place of
   its COPY: append goes straight into the table, replace into a new table swapped in (or a temporary
   table), merge into a temporary table.

aggregate, derive_column and map_values are typed by the ETL engine's own DuckDB builder, run over an
empty input of the same types (see ``engine.elt_types.duck_types``), so both engines create the same
table.

Any error rolls everything back: the destination is untouched. Identifiers go through ``quote_ident``,
texts through ``quote_literal``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql as psql

from airflow_provider_logidata.engine import builders, pg_contract
from airflow_provider_logidata.engine import pg_read_plan as pgread
from airflow_provider_logidata.engine.cursor_read import smallest_start
from airflow_provider_logidata.engine.dialects import dialect
from airflow_provider_logidata.engine.dialects.postgres import is_text
from airflow_provider_logidata.engine.elt_context import (
    Described,
    EltContext,
    arrow_schema,
    describe,
)
from airflow_provider_logidata.engine.elt_cursor import EltCursor, cursor_column_type, largest_read
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.interval_replace import replace_interval_elt
from airflow_provider_logidata.engine.logs import TaskLog, get_log
from airflow_provider_logidata.engine.pg_connect import (
    confine,
    confinement_error,
    connect,
    statement_timeout_seconds,
    warn_about_role,
)
from airflow_provider_logidata.engine.pg_finalize import finalize
from airflow_provider_logidata.engine.pg_target import (
    DESTINATION,
    Target,
    check_input_names,
    load_error,
    prepare_target,
    write_converted,
)
from airflow_provider_logidata.engine.sql import quote_ident, quote_literal
from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig, check_select

if TYPE_CHECKING:
    import datetime as dt

    from airflow_provider_logidata.engine.cursor_state import VariableStore
    from airflow_provider_logidata.modules.base import ModuleConfig
    from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig

BPCHAR = 1042  # character(n)

# --- the source -------------------------------------------------------------------------------------


def source_select(
    con: psycopg.Connection[Any],
    config: PostgresSourceConfig,
    node_id: str,
    log: TaskLog,
    interval: tuple[dt.datetime, dt.datetime] | None,
    *,
    cursor_from: str | None = None,
) -> str:
    """The source's SELECT with the ETL source's columns, types and incremental filter: the data interval,
    or for a cursor read (``engine.elt_cursor``) the ETL source's condition from ``cursor_from``
    (inclusive; ``None``: every row)."""
    owner = node_label(pgread.SOURCE, node_id)
    if config.table is not None:
        base_sql, described = pgread.table_select(con, config, owner)
        base = base_sql.as_string(con)
    else:
        assert config.query is not None
        try:
            base = check_select(config.query, writable=True)  # it runs in the task's INSERT ... SELECT
        except ValueError as error:
            raise LogiDataTaskError(f"{owner}: {error}") from None
        described = "query"
    available = describe(con, base, owner=owner)
    names = [c.name for c in available]
    selected = [
        available[i] for i in pgread.pick_columns(names, config.columns, owner=owner, described=described)
    ]
    items = []
    for column in selected:
        ref = f"q.{quote_ident(column.name)}"
        if column.oid == pgread.NUMERIC:
            planned = pgread.plan_column(
                column.name, column.oid, column.type_sql, column.precision, column.scale
            )
            if planned.arrow_type == pgread.DEFAULT_DECIMAL:
                ref = f"{ref}::numeric(38,9)"
        elif column.oid == pgread.OID:
            ref = f"{ref}::bigint"
        elif column.oid == BPCHAR:
            # The ETL source reads char(n) as its text form, padded to n; a cast to text would drop the
            # padding (ETL loads 'ab   ' into a text column, ELT 'ab'). The output function keeps it.
            ref = f"textin(bpcharout({ref}))"
        elif column.oid not in pgread.FIXED_TYPES and not is_text(column.type_sql):
            ref = f"{ref}::text"  # the ETL source reads json, uuid, arrays, ... as their text
        items.append(f"{ref} AS {quote_ident(column.name)}")
    where = ""
    spec = config.incremental
    if spec is not None:
        found = next((c for c in selected if c.name == spec.column), None)
        if found is None:
            raise LogiDataTaskError(
                f"{owner}: incremental column {spec.column!r} is not among the columns read "
                f"({', '.join(c.name for c in selected) or 'none'}); add it to columns or the query, or fix "
                "incremental.column"
            )
        column = found
        if spec.mode == "cursor":
            conditions: list[Any] = []
            planned = pgread.plan_column(
                column.name, column.oid, column.type_sql, column.precision, column.scale
            )
            pgread.cursor_condition(
                planned,
                psql.SQL("q.{}").format(psql.Identifier(column.name)),
                spec,
                cursor_from,
                None,
                conditions,
                owner,
                node_id,
                log,
            )
            if conditions:
                where = " WHERE " + conditions[0].as_string(con)
            return f"SELECT {', '.join(items)} FROM (\n{base}\n) AS q{where}"
        if spec.mode != "data_interval":
            raise LogiDataTaskError(
                f"{owner}: incremental mode {spec.mode!r} is not pushed down; use engine etl"
            )
        if column.oid not in pgread.TEMPORAL_OIDS:
            raise LogiDataTaskError(
                f"{owner}: incremental column {column.name!r} is {column.type_sql}; mode 'data_interval' "
                "needs a date, timestamp or timestamptz column. Pick such a column or use mode 'cursor'."
            )
        if interval is None:
            raise LogiDataTaskError(f"{owner}: mode 'data_interval' needs the run's data interval")
        start, end = interval
        ref = f"q.{quote_ident(column.name)}"
        where = (
            f" WHERE {ref} >= CAST({quote_literal(start.isoformat())} AS timestamptz) "
            f"AND {ref} < CAST({quote_literal(end.isoformat())} AS timestamptz)"
        )
        log.info(f"{node_id}: reading {column.name} in [{start.isoformat()}, {end.isoformat()})")
    return f"SELECT {', '.join(items)} FROM (\n{base}\n) AS q{where}"


# --- the run ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EltStep:
    node_id: str
    module: str
    config: ModuleConfig
    # Where a graph's step reads from: ``(node id, target port)`` per input; empty: the step before it.
    inputs: tuple[tuple[str, str | None], ...] = ()
    # False when nothing downstream can observe this step's row order (``dag_factory.row_order``): a join
    # then skips numbering and sorting its rows into the ETL engine's order.
    keep_order: bool = True


@dataclass(frozen=True)
class EltSink:
    """One destination.postgres of a pushed-down graph loading several (a branch)."""

    node_id: str
    config: PostgresDestinationConfig
    reads: str  # the node whose rows it loads


def run_elt(
    source_id: str,
    source: PostgresSourceConfig,
    steps: list[EltStep],
    destination_id: str,
    destination: PostgresDestinationConfig,
    *,
    interval: tuple[dt.datetime, dt.datetime] | None = None,
    log: TaskLog | None = None,
    sources: dict[str, PostgresSourceConfig] | None = None,
    sinks: list[EltSink] | None = None,
    dag_id: str | None = None,
    variables: VariableStore | None = None,
) -> dict[str, Any]:
    """Run the whole path (or graph: ``sources`` are a join's other sources, each step's ``inputs`` say
    what it reads) in one transaction; returns ``{"uri", "rows", "mode", "engine", "sql"}`` of
    ``destination_id``. ``sinks``: a graph loading several destinations (``destination_id`` among them),
    each from the node it reads; their loads are reported under ``"destinations"``.

    A source reading by cursor (at most one, joined with sources read in full or not; ``dag_id`` names
    its state) reads from the smallest cursor of the destinations it reaches; each of them drops the rows
    it already holds and commits its new cursor with its rows (``engine.elt_cursor``), all in the one
    transaction; ``variables`` (tests) replaces Airflow's Variables."""
    logger = get_log(log)
    owner = node_label(DESTINATION, destination_id)
    every_sink = list(sinks) if sinks else [EltSink(destination_id, destination, "")]
    every_source = {source_id: source, **(sources or {})}
    cursor_id = cursor_source(every_source, owner)
    cursors: dict[str, EltCursor] = {}  # per destination the cursor source reaches
    if cursor_id is not None:
        if dag_id is None:
            raise LogiDataTaskError(
                f"{owner}: cursor source {cursor_id!r} is pushed down through the ELT operator only (each "
                "destination keeps its cursor under the DAG's id); set engine etl"
            )
        reached = _reached_by(cursor_id, source_id, steps)
        for sink in every_sink:
            if (sink.reads or (steps[-1].node_id if steps else source_id)) in reached:
                cursors[sink.node_id] = EltCursor(
                    dag_id,
                    cursor_id,
                    every_source[cursor_id],
                    sink.node_id,
                    sink.config,
                    owner=node_label(DESTINATION, sink.node_id),
                    log=logger,
                    variables=variables,
                )
    cursor = cursors.get(destination_id) or next(iter(cursors.values()), None)
    for config in every_source.values():
        if config.conn_id != destination.conn_id:
            raise LogiDataTaskError(
                f"{owner}: ELT needs sources and destination on one connection ({config.conn_id!r} vs "
                f"{destination.conn_id!r})"
            )
    targets = {sink.node_id: f"{sink.config.schema_name}.{sink.config.table}" for sink in every_sink}
    shared = _shared(source_id, steps, every_sink)
    if cursor_id is not None:
        shared.add(cursor_id)  # the rows read, once: the new cursor and the load come from the same rows
    started = time.monotonic()
    loads: dict[str, dict[str, Any]] = {}
    with connect(destination.conn_id, owner=owner, node_id=destination_id) as con:
        warn_about_role(con, destination.conn_id, owner, logger)
        loaded: list[tuple[str, str, str]] = []
        current = every_sink[0]
        try:
            with con.transaction():
                # Not read-only (it writes the destination); the source's query and every pushed-down
                # expression passed security.pg_sql, and each look at them runs in a read_only_step.
                confine(con, seconds=statement_timeout_seconds(), read_only=False)
                cursor_from = _read_start(con, every_source, cursor_id, cursors, logger)
                selects, helpers, last = compile_all(
                    con,
                    source_id,
                    every_source,
                    steps,
                    interval,
                    logger,
                    shared=shared,
                    cursor_from=cursor_from,
                )
                held: dict[str, str] = {}  # per destination with a cursor: its rows without those it holds
                # What the source read, asked once for every destination keeping its cursor.
                largest = (
                    largest_read(con, selects[cursor.source_id], cursor.column, owner=cursor.owner)
                    if cursor is not None
                    else None
                )
                for sink in every_sink:
                    sink_cursor = cursors.get(sink.node_id)
                    if sink_cursor is not None:
                        sink_cursor.read(con, selects[sink_cursor.source_id], largest)
                        held[sink.node_id] = sink_cursor.held_filter(con, selects[sink.reads or last])
                        helpers.update(sink_cursor.helpers)
                text = "\n".join(
                    [*helpers.values(), *(held.get(s.node_id, selects[s.reads or last]) for s in every_sink)]
                )
                logger.info(f"{destination_id}: engine elt: running in PostgreSQL:\n{text}")
                for current in every_sink:
                    sink_owner = node_label(DESTINATION, current.node_id)
                    select = held.get(current.node_id, selects[current.reads or last])
                    final = describe(con, select, owner=sink_owner)
                    if not sinks:
                        # append over a data interval replaces it (engine.interval_replace), as ETL does
                        replace_interval_elt(
                            con,
                            source,
                            source_id,
                            interval,
                            destination,
                            [c.name for c in final],
                            owner=owner,
                            node_id=destination_id,
                            log=logger,
                        )
                    loaded = []
                    sink_cursor = cursors.get(current.node_id)
                    if sink_cursor is not None:
                        sink_cursor.landed(con, select)
                    rows, how = _load(
                        con, current.config, final, select, sink_owner, current.node_id, logger, loaded
                    )
                    if sink_cursor is not None:
                        sink_cursor.commit(con, rows)
                    loads[current.node_id] = {
                        "uri": f"postgresql://{current.config.conn_id}/{targets[current.node_id]}",
                        "rows": rows,
                        "mode": current.config.mode,
                        "how": how,
                    }
        except psycopg.Error as error:
            sink_owner = node_label(DESTINATION, current.node_id)
            confined = confinement_error(error, sink_owner, "the pushed-down path")
            if confined is not None:
                raise LogiDataTaskError(
                    f"{confined}. Nothing was written: {_unchanged(targets)} unchanged."
                ) from None
            failed = load_error(error, owner=sink_owner, target=targets[current.node_id], loaded=loaded)
            raise _all_unchanged(failed, targets) from None
        except LogiDataTaskError as error:
            raise _all_unchanged(error, targets) from None
    for sink_cursor in cursors.values():
        sink_cursor.after_commit()
    seconds = time.monotonic() - started
    for node_id, load in loads.items():
        logger.info(
            f"{node_id}: engine elt: loaded {load['rows']} rows into {targets[node_id]} ({load['mode']}"
            f"{load['how']}) in {seconds:.2f} s, no rows left the database"
        )
    own = loads[destination_id]
    result = {
        "uri": own["uri"],
        "rows": own["rows"],
        "mode": own["mode"],
        "engine": "elt",
        "sql": text,
    }
    if cursor is not None:
        result["cursor"] = cursor.summary()
    if sinks:
        result["destinations"] = {
            node_id: {key: load[key] for key in ("uri", "rows", "mode")} for node_id, load in loads.items()
        }
        for node_id, sink_cursor in cursors.items():
            result["destinations"][node_id]["cursor"] = sink_cursor.summary()
    return result


def _reached_by(cursor_id: str, source_id: str, steps: list[EltStep]) -> set[str]:
    """The nodes whose rows come (in part) from ``cursor_id``: the destinations reading one of them keep
    its cursor, as the ETL destination does for every cursor source upstream."""
    reached = {cursor_id}
    previous = source_id
    for step in steps:
        if any(node_id in reached for node_id, _port in step.inputs or ((previous, None),)):
            reached.add(step.node_id)
        previous = step.node_id
    return reached


def _read_start(
    con: psycopg.Connection[Any],
    sources: dict[str, PostgresSourceConfig],
    cursor_id: str | None,
    cursors: dict[str, EltCursor],
    log: TaskLog,
) -> str | None:
    """Take each destination's lock and read its cursor (``EltCursor.begin``); the cursor source reads
    from the smallest of them (``None``: every row), as the ETL source does for the destinations it
    feeds, and each destination drops what it holds."""
    if cursor_id is None or not cursors:
        return None
    starts = [cursor.begin(con) for cursor in cursors.values()]
    column = next(iter(cursors.values())).column
    if len(starts) == 1 or None in starts:
        start = starts[0] if len(starts) == 1 else None
    else:
        owner = node_label(pgread.SOURCE, cursor_id)
        plain = source_select(con, sources[cursor_id], cursor_id, log, None, cursor_from=None)
        start = smallest_start(
            starts, cursor_column_type(con, plain, cursor_id, column, owner=owner), owner=owner
        )
    for cursor in cursors.values():
        cursor.entry["read_from"] = start  # what the source read: each destination checks it (CursorFilter)
    if len(cursors) > 1:
        log.info(
            f"{cursor_id}: cursor on {column}: reading from {start!r}, the smallest cursor of "
            f"{', '.join(map(repr, cursors))}"
        )
    return start


def cursor_source(sources: dict[str, PostgresSourceConfig], owner: str) -> str | None:
    """The one source reading by cursor, or ``None``. Several are refused as the ETL destination refuses
    them (it keeps the cursor of one source only), and a cursor beside a data interval source too: the
    interval's rows would go through the cursor's filter."""
    cursors = [n for n, c in sources.items() if c.incremental is not None and c.incremental.mode == "cursor"]
    if not cursors:
        return None
    if len(cursors) > 1:
        raise LogiDataTaskError(
            f"{owner}: fed by several cursor sources ({', '.join(map(repr, cursors))}); a destination keeps "
            "the cursor of one source only. Load each source into its own destination. Nothing was written."
        )
    others = [n for n, c in sources.items() if c.incremental is not None and n != cursors[0]]
    if others:
        raise LogiDataTaskError(
            f"{owner}: cursor source {cursors[0]!r} is joined with source {others[0]!r}, which reads by data "
            "interval: pushed down, a cursor source is joined only with sources read in full; set engine etl"
        )
    return cursors[0]


def _shared(source_id: str, steps: list[EltStep], sinks: list[EltSink]) -> set[str]:
    """Nodes read by more than one step or destination: computed once, into a temporary table."""
    reads: dict[str, int] = {}
    previous = source_id
    for step in steps:
        for node_id, _port in step.inputs or ((previous, None),):
            reads[node_id] = reads.get(node_id, 0) + 1
        previous = step.node_id
    for sink in sinks:
        if sink.reads:
            reads[sink.reads] = reads.get(sink.reads, 0) + 1
    return {node_id for node_id, count in reads.items() if count > 1}


def _unchanged(targets: dict[str, str]) -> str:
    names = list(targets.values())
    return f"{names[0]} is" if len(names) == 1 else f"{', '.join(names)} are"


def _all_unchanged(error: LogiDataTaskError, targets: dict[str, str]) -> LogiDataTaskError:
    """A failure while loading one of several destinations: one transaction, so none was written."""
    if len(targets) == 1:
        return error
    return LogiDataTaskError(
        f"{error} The task's {len(targets)} destinations load in one transaction: {_unchanged(targets)} "
        "unchanged."
    )


def compile_graph(
    con: psycopg.Connection[Any],
    source_id: str,
    sources: dict[str, PostgresSourceConfig],
    steps: list[EltStep],
    interval: tuple[dt.datetime, dt.datetime] | None,
    log: TaskLog,
) -> tuple[str, dict[str, str]]:
    """The last step's SELECT, every source and step nested as subqueries, and the ``pg_temp`` helper
    functions it calls (created on ``con``, by name: their CREATE statements, for the log)."""
    selects, helpers, last = compile_all(con, source_id, sources, steps, interval, log)
    return selects[last], helpers


def compile_all(
    con: psycopg.Connection[Any],
    source_id: str,
    sources: dict[str, PostgresSourceConfig],
    steps: list[EltStep],
    interval: tuple[dt.datetime, dt.datetime] | None,
    log: TaskLog,
    *,
    shared: set[str] | frozenset[str] = frozenset(),
    cursor_from: str | None = None,
) -> tuple[dict[str, str], dict[str, str], str]:
    """Every node's SELECT, the helpers (as :func:`compile_graph`) and the last node's id.

    A node in ``shared`` (read by several steps or destinations: a branch) is computed once, into a
    temporary table dropped at commit, and read from there: each destination's load is its own
    statement, so a CTE would compute it again for each.
    """
    selects = {
        node_id: source_select(con, config, node_id, log, interval, cursor_from=cursor_from)
        for node_id, config in sources.items()
    }
    previous = source_id
    helpers: dict[str, str] = {}

    def materialise(refs: list[str]) -> None:
        for ref in refs:
            if ref not in shared:
                continue
            name = f"logidata_shared_{len([h for h in helpers if h.startswith('shared ')])}"
            relation, helpers[f"shared {ref}"] = dialect("postgres").temp_table(con, name, selects[ref])
            selects[ref] = f"SELECT * FROM {relation}"

    for node_id in sources:
        materialise([node_id])
    for step in steps:
        wiring = step.inputs or ((previous, None),)
        plans = build_ports(con, step, [(n, p, selects[n]) for n, p in wiring], helpers, log)
        store_ports(selects, step.node_id, plans)
        previous = step.node_id
        materialise([step.node_id, *(f"{step.node_id}:{port}" for port in list(plans)[1:])])
    return selects, helpers, previous


def build_step(
    con: psycopg.Connection[Any],
    step: EltStep,
    inputs: list[tuple[str, str | None, str]],
    helpers: dict[str, str],
    log: TaskLog,
) -> str:
    """One step's SELECT over its inputs' SELECTs (subqueries), with its module's PostgreSQL builder (its
    first output's, for a module with several: :func:`build_ports`)."""
    return next(iter(build_ports(con, step, inputs, helpers, log).values()))


def build_ports(
    con: psycopg.Connection[Any],
    step: EltStep,
    inputs: list[tuple[str, str | None, str]],
    helpers: dict[str, str],
    log: TaskLog,
) -> dict[str, str]:
    """One step's SELECT per output port, first port first (``{"out": ...}`` for most modules)."""
    from airflow_provider_logidata.engine.multi import MultiInput
    from airflow_provider_logidata.modules.registry import registry

    owner = node_label(step.module, step.node_id)
    definition = registry().get(step.module)
    if definition is None or definition.elt is None:
        raise LogiDataTaskError(f"{owner}: no PostgreSQL builder; set engine etl")
    described = [describe(con, sql, owner=owner) for _node, _port, sql in inputs]
    ctx = EltContext(
        con, step.module, step.node_id, step.config, log, helpers, described[0], keep_order=step.keep_order
    )
    if not definition.multi:
        if len(inputs) != 1:
            raise LogiDataTaskError(f"{owner}: needs exactly 1 input, got {len(inputs)}")
        columns = [(c.name, c.type_sql) for c in described[0]]
        return {"out": str(definition.elt(ctx, f"(\n{inputs[0][2]}\n)", columns))}
    multi = [
        MultiInput(
            ref=node_id, relation=f"(\n{sql}\n)", columns=[(c.name, c.type_sql) for c in cols], port=port
        )
        for (node_id, port, sql), cols in zip(inputs, described, strict=True)
    ]
    plans = definition.elt(ctx, multi)
    if set(plans) != set(definition.outputs):
        raise LogiDataTaskError(f"{owner}: the PostgreSQL builder gave {sorted(plans)}, not its outputs")
    return {port: str(plans[port]) for port in definition.outputs}


def store_ports(selects: dict[str, str], node_id: str, plans: dict[str, str]) -> None:
    """Each port's SELECT under the name its readers use: the node for its first port, ``node:port``."""
    for index, (port, select) in enumerate(plans.items()):
        selects[f"{node_id}:{port}"] = select
        if index == 0:
            selects[node_id] = select


def elt_metrics(
    source_id: str | list[str], steps: list[EltStep], destination_id: str | None, rows: int, seconds: float
) -> dict[str, Any]:
    """The run-metrics XCom of an ELT task (``docs/builder-api.md``): one entry per pushed node.

    One statement runs the whole path, so only the last node's rows (the destination's, or for a partial
    pushdown, ``destination_id`` None, the rows that left the database) and the task's seconds are
    measured. Row counts are filled in backwards from there through row-preserving steps (a filter,
    deduplicate or aggregate cuts the chain: above it the counts are unknown, null); seconds are null for
    every node but the last.
    """
    nodes: dict[str, dict[str, Any]] = {}
    if destination_id is not None:
        nodes[destination_id] = {
            "module": DESTINATION,
            "rows_in": rows,
            "rows_out": rows,
            "seconds": round(seconds, 3),
        }
    source_ids = [source_id] if isinstance(source_id, str) else list(source_id)
    known: int | None = rows
    for index, step in enumerate(reversed(steps)):
        rows_out = known
        trait = builders.step(step.module)  # one row per input row: the loaded count carries through
        known = known if trait is not None and trait.keeps_rows and not step.inputs else None
        last = destination_id is None and index == 0
        nodes[step.node_id] = {
            "module": step.module,
            "rows_in": known,
            "rows_out": rows_out,
            "seconds": round(seconds, 3) if last else None,
        }
    for node_id in source_ids:
        rows_out = known if len(source_ids) == 1 else None
        nodes[node_id] = {"module": pgread.SOURCE, "rows_in": None, "rows_out": rows_out, "seconds": None}
    ordered = [*source_ids, *(step.node_id for step in steps)]
    if destination_id is not None:
        ordered.append(destination_id)
    return {"nodes": {node_id: nodes[node_id] for node_id in ordered}}


def branch_metrics(
    source_ids: list[str], steps: list[EltStep], loaded: dict[str, int], seconds: float
) -> dict[str, Any]:
    """The run-metrics XCom of a pushed-down graph loading several destinations: each destination's rows
    (and the task's seconds); the rows of the nodes before them are not counted (null)."""
    nodes: dict[str, dict[str, Any]] = {}
    for node_id in source_ids:
        nodes[node_id] = {"module": pgread.SOURCE, "rows_in": None, "rows_out": None, "seconds": None}
    for step in steps:
        nodes[step.node_id] = {"module": step.module, "rows_in": None, "rows_out": None, "seconds": None}
    for node_id, rows in loaded.items():
        nodes[node_id] = {
            "module": DESTINATION,
            "rows_in": rows,
            "rows_out": rows,
            "seconds": round(seconds, 3),
        }
    return {"nodes": nodes}


def _load(
    con: psycopg.Connection[Any],
    config: PostgresDestinationConfig,
    final: list[Described],
    select: str,
    owner: str,
    node_id: str,
    log: TaskLog,
    loaded: list[tuple[str, str, str]],
) -> tuple[int, str]:
    """The ETL destination's steps (``engine.pg_target``, ``engine.pg_finalize``) with an ``INSERT ...
    SELECT`` in place of COPY.

    The SELECT's own PostgreSQL types (with their modifiers) meet the table's through the same type
    contract as ETL's (``engine.pg_types``): each column is converted by its pair's rule, and a value that
    would change stops the insert (``write_converted``): refused, or its column widened under evolve.
    """
    check_input_names([c.name for c in final], owner)
    incoming = pg_contract.QueryRows(_incoming_types(con, final), select)
    prepared = prepare_target(
        con, config, arrow_schema(final), Target.of(config), owner, node_id, log, loaded, incoming
    )
    relation = incoming.relation([c.name for c in final])
    into, rows = write_converted(con, config, prepared, relation, owner, node_id, log, loaded)
    how = finalize(con, config, prepared, into, rows, owner, node_id, log)
    return rows, how


def _incoming_types(con: psycopg.Connection[Any], final: list[Described]) -> dict[str, str]:
    """Each output column's PostgreSQL type with its modifier (numeric(10,2), varchar(5), timestamp(3))."""
    types = {}
    for column in final:
        type_sql = column.type_sql
        if type_sql.isdigit():  # a type psycopg does not know (an extension's): PostgreSQL names it
            row = con.execute("SELECT format_type(%s, NULL)", (column.oid,)).fetchone()
            type_sql = str(row[0]) if row else "text"
        types[column.name] = type_sql
    return types
