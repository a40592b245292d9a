"""Types are part of the contract on both load paths (issue 11), against the suite's real PostgreSQL.

A value the load would change (a fraction into an integer, an out-of-range number, a timestamp with a time
into a date, a longer text into varchar(n), a lost time zone) is a type change: ``fail`` refuses it naming
column, types and an example value; ``evolve`` widens the column where PostgreSQL can do so safely, or
refuses; ``discard`` never rounds. ETL and ELT must reach the same outcome for every pair.

- ``test_etl_and_elt_agree``: the table-driven part. Each case is a source column type with sample values
  (one that would change, and a null), a column type and an ``on_schema_change``; the ETL path
  (``read_postgres`` -> ``load_postgres``) and the ELT path (``run_elt``) load two identical tables that
  already hold a row. Both succeed with identical contents and column types, and no loaded value differs
  from its source value; or both refuse with a ``LogiDataTaskError`` naming the column, both types and
  the example value, and leave the table as it was. The engine functions run in-process (what the
  operators call), one schema per case in one database for the module, so the table stays fast.
- ``test_issue_repro_through_dag_test``: the issue's own report through the real DAG factory and
  ``dag.test()``: ``score integer``, source ``(id + 0.5)::float8`` and ``id + 0.25`` (numeric), engines
  auto, elt and etl, modes evolve, fail and discard; ``test_issue_repro_messages``: its refusals.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import specs

pytestmark = pytest.mark.integration

CONN_ID = "logidata_types"
LOAD, REFUSE, BEFORE_READING = "load", "refuse", "changed type"


def widen(type_sql: str) -> str:
    """The outcome of ``evolve`` widening the column to ``type_sql`` (as format_type writes it)."""
    return f"widen {type_sql}"


@dataclass(frozen=True)
class Case:
    """One (source type, column type) pair: sample values, and the outcome of each on_schema_change.

    Outcomes: ``LOAD`` (every value kept, the column unchanged), ``widen(t)`` (evolve makes the column
    ``t`` and keeps every value), ``REFUSE`` (refused naming ``example``), ``BEFORE_READING`` (fail
    refuses another kind of value as a changed type, before any row is read).
    """

    id: str
    source: str  # the source column's type
    values: tuple[str, ...]  # SQL literals of the source rows (ids 1, 2, ...)
    target: str  # the table column's type, as format_type writes it
    evolve: str
    fail: str
    discard: str
    example: str | None = None  # what a refusal names (a prefix of the value's text)
    compare: str | None = None  # type a loaded value is compared with its source value in (default source)
    # The input type a refusal of the ETL path names, when it is not the ELT path's: ETL describes its
    # input by the staged Arrow type (varchar(10) was read as a string: text).
    etl_input: str | None = None

    def outcome(self, mode: str) -> str:
        return str(getattr(self, mode))


def fits(case_id: str, source: str, values: tuple[str, ...], target: str, **kw: Any) -> Case:
    """A pair whose sample values all fit: every mode loads them unchanged."""
    return Case(case_id, source, values, target, LOAD, LOAD, LOAD, **kw)


def changes(
    case_id: str, source: str, values: tuple[str, ...], target: str, evolve: str, example: str, **kw: Any
) -> Case:
    """A pair with a value the load would change: fail and discard refuse; evolve widens or refuses."""
    return Case(case_id, source, values, target, evolve, REFUSE, REFUSE, example, **kw)


def other_kind(
    case_id: str, source: str, values: tuple[str, ...], target: str, evolve: str, **kw: Any
) -> Case:
    """Another kind of value: fail refuses before reading; evolve and discard convert or refuse alike."""
    discard = REFUSE if evolve.startswith("widen") else evolve
    return Case(case_id, source, values, target, evolve, BEFORE_READING, discard, **kw)


INT, BIGINT, SMALLINT, REAL, DOUBLE = "integer", "bigint", "smallint", "real", "double precision"
TS, TSTZ = "timestamp without time zone", "timestamp with time zone"

CASES = [
    # integers into smaller integers
    fits("int8->int4 in range", BIGINT, ("1", "-2147483648", "2147483647", "NULL"), INT),
    changes("int8->int4 out of range", BIGINT, ("1", "3000000000", "NULL"), INT, widen(BIGINT), "3000000000"),
    changes("int4->int2 out of range", INT, ("1", "40000", "NULL"), SMALLINT, widen(INT), "40000"),
    fits("int2->int8", SMALLINT, ("1", "-32768", "NULL"), BIGINT),
    # numeric and floats into integers: the issue (fractions), whole values, out of range
    changes("numeric->int fraction", "numeric", ("1001.25", "2", "NULL"), INT, widen("numeric"), "1001.25"),
    changes("float8->int fraction", DOUBLE, ("1001.5", "2", "NULL"), INT, widen(DOUBLE), "1001.5"),
    changes(
        "numeric(10,2)->int2 fraction", "numeric(10,2)", ("0.50", "NULL"), SMALLINT, widen("numeric"), "0.50"
    ),
    changes("float8->bigint fraction", DOUBLE, ("0.5", "NULL"), BIGINT, REFUSE, "0.5"),
    fits("float8->int whole", DOUBLE, ("1001", "-2", "NULL"), INT),
    fits("numeric(10,2)->int whole", "numeric(10,2)", ("1001.00", "-2.00", "NULL"), INT),
    changes(
        "numeric(12,0)->int out of range",
        "numeric(12,0)",
        ("3000000000", "NULL"),
        INT,
        widen("numeric"),
        "3000000000",
    ),
    # floats and numeric precision
    changes("float8->real", DOUBLE, ("0.5", "0.1", "NULL"), REAL, widen(DOUBLE), "0.1"),
    fits("float8->real exact", DOUBLE, ("0.5", "1.25", "NULL"), REAL),
    changes("int4->real", INT, ("1", "16777217", "NULL"), REAL, widen(DOUBLE), "16777217"),
    changes(
        "numeric(10,4)->numeric(6,2)",
        "numeric(10,4)",
        ("1.2345", "NULL"),
        "numeric(6,2)",
        widen("numeric"),
        "1.2345",
    ),
    fits("numeric(10,4)->numeric(6,2) fits", "numeric(10,4)", ("1.2500", "-3", "NULL"), "numeric(6,2)"),
    changes("int4->numeric(5,2)", INT, ("1", "1000", "NULL"), "numeric(5,2)", widen("numeric"), "1000"),
    fits("int4->numeric(5,2) fits", INT, ("999", "-12", "NULL"), "numeric(5,2)"),
    changes(
        "float8->numeric(6,2)", DOUBLE, ("1.5", "1.125", "NULL"), "numeric(6,2)", widen("numeric"), "1.125"
    ),
    # texts
    fits("text->varchar(5) fits", "text", ("'abc'", "''", "'abcde'", "NULL"), "character varying(5)"),
    changes(
        "text->varchar(5) too long",
        "text",
        ("'abc'", "'abcdefgh'", "NULL"),
        "character varying(5)",
        widen("text"),
        "abcdefgh",
    ),
    changes(
        "varchar(10)->varchar(5)",
        "character varying(10)",
        ("'abcdefg'", "NULL"),
        "character varying(5)",
        widen("text"),
        "abcdefg",
        etl_input="text",
    ),
    fits("varchar(5)->text", "character varying(5)", ("'abc'", "NULL"), "text"),
    fits("text->char(5) fits", "text", ("'ab'", "'abcde'", "NULL"), "character(5)"),
    changes(
        "text->char(5) too long",
        "text",
        ("'ab'", "'abcdef'", "NULL"),
        "character(5)",
        widen("text"),
        "abcdef",
    ),
    fits("char(5)->text", "character(5)", ("'ab'", "'abcde'", "NULL"), "text"),
    fits("char(5)->varchar(5)", "character(5)", ("'ab'", "NULL"), "character varying(5)"),
    changes(
        "json->varchar(5)",
        "json",
        ("'[1]'", "'{\"a\": 1}'", "NULL"),
        "character varying(5)",
        widen("text"),
        '{"a": 1}',
        compare="jsonb",
    ),
    fits("jsonb->varchar(10) fits", "jsonb", ("'[1, 2]'", "NULL"), "character varying(10)"),
    # dates and timestamps
    fits("timestamp->date midnight", TS, ("'2024-01-05 00:00'", "NULL"), "date"),
    changes(
        "timestamp->date with time",
        TS,
        ("'2024-01-05'", "'2024-01-05 10:30'", "NULL"),
        "date",
        widen(TS),
        "2024-01-05 10:30",
    ),
    changes(
        "timestamptz->date with time",
        TSTZ,
        ("'2024-01-05 10:30+00'", "NULL"),
        "date",
        widen(TSTZ),
        "2024-01-05 10:30",
    ),
    changes(
        "timestamptz->timestamp", TSTZ, ("'2024-01-05 10:30+02'", "NULL"), TS, widen(TSTZ), "2024-01-05 08:30"
    ),
    changes(
        "timestamp(6)->timestamp(0)",
        "timestamp(6) without time zone",
        ("'2024-01-05 10:30:00'", "'2024-01-05 10:30:00.5'", "NULL"),
        "timestamp(0) without time zone",
        widen(TS),
        "2024-01-05 10:30:00.5",
        etl_input=TS,
    ),
    fits(
        "timestamp(6)->timestamp(0) whole seconds",
        "timestamp(6) without time zone",
        ("'2024-01-05 10:30:01'", "NULL"),
        "timestamp(0) without time zone",
    ),
    fits("date->timestamp", "date", ("'2024-01-05'", "NULL"), TS),
    fits("date->timestamptz", "date", ("'2024-01-05'", "NULL"), TSTZ),
    fits("timestamp->timestamptz", TS, ("'2024-01-05 10:30'", "NULL"), TSTZ),
    # text into other kinds: read by the column type's input function (fail: a changed type)
    other_kind("text->int", "text", ("'12'", "'-3'", "NULL"), INT, LOAD),
    other_kind("text->int not a number", "text", ("'12'", "'five'", "NULL"), INT, REFUSE, example="five"),
    other_kind(
        "text->numeric(6,2) more digits",
        "text",
        ("'1.5'", "'1.125'", "NULL"),
        "numeric(6,2)",
        widen("numeric"),
        example="1.125",
        compare="numeric",
    ),
    other_kind("text->date", "text", ("'2024-01-05'", "NULL"), "date", LOAD),
    other_kind(
        "text->date with time",
        "text",
        ("'2024-01-05'", "'2024-01-05 10:30'", "NULL"),
        "date",
        widen(TS),
        example="2024-01-05 10:30",
        compare=TS,
    ),
    other_kind(
        "text->timestamp(0) fraction",
        "text",
        ("'2024-01-05 10:30:00.5'", "NULL"),
        "timestamp(0) without time zone",
        widen(TS),
        example="2024-01-05 10:30:00.5",
        compare=TS,
    ),
    # text no type reads: widening would not help, evolve refuses too
    other_kind(
        "text->date not a date",
        "text",
        ("'2024-01-05'", "'2024-02-30'", "NULL"),
        "date",
        REFUSE,
        example="2024-02-30",
    ),
    other_kind(
        "text->numeric(6,2) not a number",
        "text",
        ("'1.5'", "'1,5'", "NULL"),
        "numeric(6,2)",
        REFUSE,
        example="1,5",
    ),
    other_kind("text->bool", "text", ("'true'", "'false'", "NULL"), "boolean", LOAD),
    # numbers, dates and booleans into text and other kinds
    other_kind("int->text", INT, ("5", "-12", "NULL"), "text", LOAD),
    other_kind("float8->text", DOUBLE, ("0.1", "1001.5", "NULL"), "text", LOAD),
    other_kind(
        "numeric->varchar(5)",
        "numeric(10,2)",
        ("1.50", "12345.67", "NULL"),
        "character varying(5)",
        widen("text"),
        example="12345.67",
    ),
    other_kind("date->text", "date", ("'2024-01-05'", "NULL"), "text", LOAD),
    other_kind("int->bool", INT, ("1", "NULL"), "boolean", REFUSE, example="1"),
    other_kind("bool->int", "boolean", ("true", "NULL"), INT, REFUSE, example="true"),
    other_kind("int->date", INT, ("20240105", "NULL"), "date", REFUSE, example="20240105"),
    other_kind("bool->text", "boolean", ("true", "false", "NULL"), "text", LOAD),
    other_kind("bytea->text", "bytea", ("'\\x00ff'", "NULL"), "text", LOAD),
    # floats and numerics no column type holds together: evolve refuses too
    changes(
        "int8->float8 beyond 2**53",
        BIGINT,
        ("1", "9007199254740993", "NULL"),
        DOUBLE,
        REFUSE,
        "9007199254740993",
    ),
    changes(
        "numeric(20,0)->float8",
        "numeric(20,0)",
        ("1", "12345678901234567891", "NULL"),
        DOUBLE,
        REFUSE,
        "12345678901234567891",
    ),
    changes(
        "numeric(30,0)->real: widening changes it too",
        "numeric(30,0)",
        ("1", "123456789012345678901234567890", "NULL"),
        REAL,
        REFUSE,
        "123456789012345678901234567890",
    ),
    fits("float4->float8", REAL, ("0.1", "NULL"), DOUBLE),
    # times, intervals and types read as text by both paths (json, uuid, interval)
    changes(
        "time->time(0)",
        "time without time zone",
        ("'10:30:00'", "'10:30:00.5'", "NULL"),
        "time(0) without time zone",
        widen("time without time zone"),
        "10:30:00.5",
    ),
    fits("interval->interval", "interval", ("'1 day 02:00:00'", "NULL"), "interval"),
    changes(
        "interval->interval second(0)",
        "interval",
        ("'00:00:01'", "'00:00:01.5'", "NULL"),
        "interval second(0)",
        widen("interval"),
        "00:00:01.5",
        etl_input="text",
    ),
    changes(
        "interval->interval year",
        "interval",
        ("'1 year'", "'1 year 2 mons'", "NULL"),
        "interval year",
        widen("interval"),
        "1 year 2 mons",
        etl_input="text",
    ),
    fits("uuid->uuid", "uuid", ("'6f1c2d1e-8a51-4f6e-9b0e-2c1f0a7b9d10'", "NULL"), "uuid"),
    fits("uuid->text", "uuid", ("'6f1c2d1e-8a51-4f6e-9b0e-2c1f0a7b9d10'", "NULL"), "text"),
    fits("jsonb->jsonb", "jsonb", ("'{\"a\": [1, 2]}'", "NULL"), "jsonb"),
    fits("json->jsonb", "json", ("'{\"a\":   1}'", "NULL"), "jsonb", compare="jsonb"),
]

# A row already in the table (id 0), of the column's type: kept as it was (refused), or kept through a
# widening (evolve).
EXISTING = {
    "integer": "7",
    "smallint": "7",
    "bigint": "7",
    "real": "0.5",
    "numeric(5,2)": "7.25",
    "numeric(6,2)": "7.25",
    "text": "'old'",
    "character varying(5)": "'old'",
    "character varying(10)": "'old'",
    "character(5)": "'old'",
    "date": "'2024-01-01'",
    TS: "'2024-01-01 12:00'",
    TSTZ: "'2024-01-01 12:00+00'",
    "timestamp(0) without time zone": "'2024-01-01 12:00:01'",
    "boolean": "true",
    "double precision": "0.5",
    "time(0) without time zone": "'12:00:01'",
    "interval": "'1 day'",
    "interval second(0)": "'00:00:07'",
    "interval year": "'2 years'",
    "uuid": "'00000000-0000-0000-0000-000000000000'",
    "jsonb": "'[]'",
}
MODES = ("evolve", "fail", "discard")


@dataclass
class Outcome:
    """What one path did to its table: loaded (rows, column type) or refused (the message)."""

    refused: str | None
    rows: list[tuple[Any, ...]]
    column_type: str


@pytest.fixture(scope="module")
def types_db(postgres_server: Any) -> Iterator[Any]:
    """One database for the module (a schema per case), reached through the Airflow connection CONN_ID."""
    name = f"t_types_{uuid.uuid4().hex[:12]}"
    with postgres_server.connect(autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 STRATEGY file_copy')
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", postgres_server.airflow_conn(name))
        with postgres_server.connect(name, autocommit=True) as con:
            yield con
    with postgres_server.connect(autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def column_type(db: Any, schema: str, table: str) -> str:
    row = db.execute(
        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attname = 'v' "
        "AND a.attrelid = (quote_ident(%s) || '.' || quote_ident(%s))::regclass",
        (schema, table),
    ).fetchone()
    return str(row[0])


def snapshot(db: Any, schema: str, table: str, error: str | None) -> Outcome:
    rows = db.execute(f'SELECT id, v FROM "{schema}"."{table}" ORDER BY id').fetchall()
    return Outcome(error, [tuple(r) for r in rows], column_type(db, schema, table))


def destination(schema: str, table: str, mode: str) -> Any:
    from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig

    return PostgresDestinationConfig.model_validate(
        {"conn_id": CONN_ID, "schema": schema, "table": table, "on_schema_change": mode}
    )


def load_etl(db: Any, schema: str, mode: str, staged: Path) -> Outcome:
    """source.postgres -> destination.postgres through the engine: read, stage, then load."""
    from airflow_provider_logidata.engine.errors import LogiDataTaskError
    from airflow_provider_logidata.engine.pg_load import load_postgres
    from airflow_provider_logidata.engine.pg_read import read_postgres
    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

    source = PostgresSourceConfig.model_validate({"conn_id": CONN_ID, "schema": schema, "table": "src"})
    handle = read_postgres(source, "read", str(staged / "read" / "part-00000.parquet"))
    try:
        load_postgres(destination(schema, "etl", mode), "write", [handle])
    except LogiDataTaskError as error:
        return snapshot(db, schema, "etl", str(error))
    return snapshot(db, schema, "etl", None)


def load_elt(db: Any, schema: str, mode: str) -> Outcome:
    """The same path pushed down: one INSERT ... SELECT inside PostgreSQL."""
    from airflow_provider_logidata.engine.elt import run_elt
    from airflow_provider_logidata.engine.errors import LogiDataTaskError
    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

    source = PostgresSourceConfig.model_validate({"conn_id": CONN_ID, "schema": schema, "table": "src"})
    try:
        run_elt("read", source, [], "write", destination(schema, "elt", mode))
    except LogiDataTaskError as error:
        return snapshot(db, schema, "elt", str(error))
    return snapshot(db, schema, "elt", None)


# ETL's direct COPY stopped by a value the column type cannot read: PostgreSQL names column and row.
COPY_REFUSAL = re.compile(
    r"a value in column 'v' cannot be stored as (?P<table>.+?) in \S+ \(input row \d+\): (?P<cause>.*)"
)
REFUSAL = re.compile(r"column 'v' \(input (?P<input>.+?), table (?P<table>.+?)\): value (?P<value>.*)")


def check_refusal(message: str, case: Case, mode: str, path: str) -> str:
    """The refusal names column, both types and the value; returns the input type it named."""
    assert f"{path} is unchanged" in message, message
    if case.outcome(mode) == BEFORE_READING:
        found = re.search(r"changed type: v \(input (?P<input>.+?), table (?P<table>.+?)\)\. ", message)
        assert found is not None, message
        assert found.group("table") == case.target, message
        return found.group("input")
    copied = COPY_REFUSAL.search(message)
    if copied is not None:
        assert path.endswith(".etl") and copied.group("table") == case.target, message
        assert f'"{case.example}"' in copied.group("cause"), message
        return case.source  # ETL read the input as it is (the COPY names no input type)
    found = REFUSAL.search(message)
    assert found is not None, message
    assert found.group("table") == case.target, message
    assert case.example is not None
    assert found.group("value").startswith(case.example), message
    return found.group("input")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_etl_and_elt_agree(types_db: Any, tmp_path: Path, case: Case, mode: str) -> None:
    db = types_db
    schema = f"c_{uuid.uuid4().hex[:12]}"
    existing = EXISTING[case.target]
    rows = ", ".join(f"({i}, {value})" for i, value in enumerate(case.values, start=1))
    db.execute(
        f'CREATE SCHEMA "{schema}"; '
        f'CREATE TABLE "{schema}".src (id integer, v {case.source}); '
        f'INSERT INTO "{schema}".src VALUES {rows}; '
        f'CREATE TABLE "{schema}".etl (id integer, v {case.target}); '
        f'INSERT INTO "{schema}".etl VALUES (0, {existing}); '
        f'CREATE TABLE "{schema}".elt (id integer, v {case.target}); '
        f'INSERT INTO "{schema}".elt VALUES (0, {existing})'
    )
    assert column_type(db, schema, "etl") == case.target  # the case spells the type as PostgreSQL does
    before = snapshot(db, schema, "etl", None)

    etl = load_etl(db, schema, mode, tmp_path)
    elt = load_elt(db, schema, mode)

    # The same outcome on both paths: both refused, or identical tables and column types.
    assert (etl.refused is None) == (elt.refused is None), (etl.refused, elt.refused)
    assert etl.rows == elt.rows
    assert etl.column_type == elt.column_type
    expected = case.outcome(mode)
    if etl.refused is not None and elt.refused is not None:
        assert expected in (REFUSE, BEFORE_READING), etl.refused
        etl_input = check_refusal(etl.refused, case, mode, f"{schema}.etl")
        elt_input = check_refusal(elt.refused, case, mode, f"{schema}.elt")
        assert etl_input == (case.etl_input or elt_input), (etl_input, elt_input)
        assert etl.rows == before.rows and etl.column_type == case.target  # unchanged
        return
    assert expected == LOAD or expected.startswith("widen "), (expected, etl)
    assert etl.column_type == (case.target if expected == LOAD else expected.removeprefix("widen "))
    assert len(etl.rows) == 1 + len(case.values)
    for path in ("etl", "elt"):
        # The row already there is kept (through a widening too), and no loaded value changed.
        kept = db.execute(f'SELECT CAST(v AS {case.target}) FROM "{schema}".{path} WHERE id = 0').fetchone()
        assert kept == (before.rows[0][1],)
        compare = case.compare or case.source
        changed = db.execute(
            f'SELECT s.id, CAST(s.v AS text), CAST(t.v AS text) FROM "{schema}".src s '
            f'JOIN "{schema}".{path} t USING (id) '
            f"WHERE CAST(t.v AS {compare}) IS DISTINCT FROM CAST(s.v AS {compare})"
        ).fetchall()
        assert changed == [], (path, changed)


# --- the issue's report, through the real DAG factory and dag.test() --------------------------------


# The issue's sources, each loaded into a ``score integer`` table.
REPRO_QUERIES = {
    "float": "SELECT id, (id + 0.5)::float8 AS score FROM src",
    "numeric": "SELECT id, id + 0.25 AS score FROM src",
}


def repro_spec(pid: str, conn_id: str, engine: str, mode: str) -> dict[str, Any]:
    """Two paths into two ``score integer`` tables: ``(id + 0.5)::float8`` and ``id + 0.25`` (numeric)."""
    nodes: list[dict[str, Any]] = []
    edges = []
    for name, query in REPRO_QUERIES.items():
        nodes.append(specs.pg_source(conn_id, f"read_{name}", query=query))
        nodes.append(
            specs.pg_destination(conn_id, f"write_{name}", table=f"out_{name}", on_schema_change=mode)
        )
        edges.append((f"read_{name}", f"write_{name}"))
    return specs.graph(nodes, edges, pid, engine=engine)


@pytest.mark.parametrize("engine", ["auto", "elt", "etl"])
def test_issue_repro_through_dag_test(run_pipeline: Any, pg: Any, pg_conn_id: str, engine: str) -> None:
    pg.execute("CREATE TABLE src (id integer); INSERT INTO src VALUES (1001), (1002), (1003)")
    for mode in MODES:
        pg.execute(
            "DROP TABLE IF EXISTS out_float, out_numeric; "
            "CREATE TABLE out_float (id integer, score integer); INSERT INTO out_float VALUES (1, 1); "
            "CREATE TABLE out_numeric (id integer, score integer); INSERT INTO out_numeric VALUES (1, 1)"
        )
        dag_run, dag = run_pipeline(repro_spec(f"types_repro_{engine}_{mode}", pg_conn_id, engine, mode))
        states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
        if engine != "etl":  # same connection: auto pushes both paths down, as elt does
            assert sorted(t.task_id for t in dag.tasks) == ["write_float", "write_numeric"]
        # Each table's (rows, column type).
        tables = {
            name: (
                [tuple(r) for r in pg.execute(f"SELECT id, score FROM out_{name} ORDER BY id").fetchall()],
                pg.execute(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = %s::regclass AND attname = 'score'",
                    (f"out_{name}",),
                ).fetchone()[0],
            )
            for name in REPRO_QUERIES
        }
        if mode == "evolve":  # widened: every value kept, nothing rounded
            assert states["write_float"] == states["write_numeric"] == "success", states
            assert tables == {
                "float": ([(1, 1), (1001, 1001.5), (1002, 1002.5), (1003, 1003.5)], "double precision"),
                "numeric": ([(1, 1), (1001, 1001.25), (1002, 1002.25), (1003, 1003.25)], "numeric"),
            }
        else:  # fail and discard refuse: the tables hold what they held
            assert states["write_float"] == states["write_numeric"] == "failed", states
            assert tables == {name: ([(1, 1)], "integer") for name in REPRO_QUERIES}


def test_issue_repro_messages(pg: Any, pg_conn_id: str, tmp_path: Path) -> None:
    """The refusals of the repro from the engine (the code the tasks ran): ETL and ELT give the same
    message, naming column, types, the value and what it would become, and the fix."""
    from airflow_provider_logidata.engine.elt import run_elt
    from airflow_provider_logidata.engine.errors import LogiDataTaskError
    from airflow_provider_logidata.engine.pg_load import load_postgres
    from airflow_provider_logidata.engine.pg_read import read_postgres
    from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig
    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

    pg.execute("CREATE TABLE src (id integer); INSERT INTO src VALUES (1001), (1002), (1003)")
    pg.execute("CREATE TABLE out (id integer, score integer)")
    expected = [
        (
            "float",
            "fail",
            "column 'score' (input double precision, table integer): value 1001.5 would be stored as 1002; "
            "on_schema_change 'evolve' widens the column to double precision",
        ),
        (
            "float",
            "discard",
            "column 'score' (input double precision, table integer): value 1001.5 would be stored as 1002; "
            "on_schema_change 'evolve' widens the column to double precision",
        ),
        (
            "numeric",
            "fail",
            "column 'score' (input numeric(38,9), table integer): value 1001.250000000 would be stored as "
            "1001; on_schema_change 'evolve' widens the column to numeric",
        ),
    ]
    for name, mode, text in expected:
        source = PostgresSourceConfig.model_validate({"conn_id": pg_conn_id, "query": REPRO_QUERIES[name]})
        target = PostgresDestinationConfig.model_validate(
            {"conn_id": pg_conn_id, "table": "out", "on_schema_change": mode}
        )
        messages = []
        for engine in ("etl", "elt"):
            with pytest.raises(LogiDataTaskError) as raised:
                if engine == "elt":
                    run_elt("read", source, [], "write", target)
                else:
                    staged = tmp_path / f"{name}_{mode}" / "part-00000.parquet"
                    load_postgres(target, "write", [read_postgres(source, "read", str(staged))])
            messages.append(str(raised.value))
        assert messages[0] == messages[1]
        assert messages[0].startswith("destination.postgres node 'write': "), messages[0]
        assert text in messages[0], messages[0]
        assert messages[0].endswith("public.out is unchanged.")
    assert pg.execute("SELECT count(*) FROM out").fetchone() == (0,)
