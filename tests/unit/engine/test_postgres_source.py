"""source.postgres against the suite's real PostgreSQL: values and types, queries, streaming, incremental
filters, quoting of odd identifiers, and every error a user can cause."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_logidata.engine import runner
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.pg_read import read_postgres
from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

UTC = dt.timezone.utc


def read(
    conn_id: str, tmp_path: Path, log: Any, node_id: str = "src", **config: Any
) -> tuple[dict, pa.Table]:
    cfg = PostgresSourceConfig.model_validate({"conn_id": conn_id, **config})
    handle = read_postgres(cfg, node_id, str(tmp_path / node_id / "part-00000.parquet"), log=log)
    table = pq.read_table(handle["uri"])
    assert handle["rows"] == table.num_rows
    return dict(handle), table


def read_with(
    conn_id: str, tmp_path: Path, log: Any, config: dict[str, Any], **kwargs: Any
) -> tuple[dict, pa.Table]:
    cfg = PostgresSourceConfig.model_validate({"conn_id": conn_id, **config})
    handle = read_postgres(cfg, "src", str(tmp_path / "src" / "part-00000.parquet"), log=log, **kwargs)
    return dict(handle), pq.read_table(handle["uri"])


ALL_TYPES = """
CREATE TABLE all_types (
    i2 smallint, i4 integer, i8 bigint, n numeric(12, 3), nu numeric, f4 real, f8 double precision,
    b boolean, d date, ts timestamp, tz timestamptz, tm time, s text, vc varchar(5), ch char(3),
    j json, jb jsonb, by bytea, u uuid, iv interval, arr int[]
);
INSERT INTO all_types VALUES
 (-2, 40000, 9000000000, 123456789.125, 1.123456789012, 1.5, 0.1, true, '2024-02-29',
  '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.5+02', '23:59:59.999999', 'a,"b"' || chr(10) || 'c', 'xy',
  'ab', '{"k": [1, 2]}', '{"k": 1}', '\\x00ff10', '6f1c1e9c-8d0a-4a59-a1a5-1f0b7a0b5a01', '1 day 02:00:00',
  '{1,2,3}'),
 (NULL, NULL, NULL, NULL, NULL, 'NaN', '-Infinity', false, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL, NULL,
  '\\x', NULL, NULL, '{}');
"""


def test_table_read_exact_values_and_types(pg: Any, pg_conn_id: str, tmp_path: Path, log: Any) -> None:
    pg.execute(ALL_TYPES)
    handle, table = read(pg_conn_id, tmp_path, log, table="all_types")
    assert table.schema == pa.schema(
        [
            ("i2", pa.int16()),
            ("i4", pa.int32()),
            ("i8", pa.int64()),
            ("n", pa.decimal128(12, 3)),
            ("nu", pa.decimal128(38, 9)),
            ("f4", pa.float32()),
            ("f8", pa.float64()),
            ("b", pa.bool_()),
            ("d", pa.date32()),
            ("ts", pa.timestamp("us")),
            ("tz", pa.timestamp("us", tz="UTC")),
            ("tm", pa.time64("us")),
            ("s", pa.string()),
            ("vc", pa.string()),
            ("ch", pa.string()),
            ("j", pa.string()),
            ("jb", pa.string()),
            ("by", pa.binary()),
            ("u", pa.string()),
            ("iv", pa.string()),
            ("arr", pa.string()),
        ]
    )
    first, second = table.to_pylist()
    assert first == {
        "i2": -2,
        "i4": 40000,
        "i8": 9000000000,
        "n": Decimal("123456789.125"),
        "nu": Decimal("1.123456789"),  # unconstrained numeric: DECIMAL(38, 9)
        "f4": 1.5,
        "f8": 0.1,
        "b": True,
        "d": dt.date(2024, 2, 29),
        "ts": dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
        "tz": dt.datetime(2024, 1, 2, 1, 4, 5, 500000, tzinfo=first["tz"].tzinfo),
        "tm": dt.time(23, 59, 59, 999999),
        "s": 'a,"b"\nc',
        "vc": "xy",
        "ch": "ab ",
        "j": '{"k": [1, 2]}',
        "jb": '{"k": 1}',
        "by": b"\x00\xff\x10",
        "u": "6f1c1e9c-8d0a-4a59-a1a5-1f0b7a0b5a01",
        "iv": "1 day 02:00:00",
        "arr": "{1,2,3}",
    }
    assert first["tz"].utcoffset() == dt.timedelta(0)
    assert second["s"] == ""  # an empty text stays empty, a NULL stays null
    assert second["f4"] != second["f4"]  # NaN
    assert second["f8"] == float("-inf")
    assert second["by"] == b""
    assert second["arr"] == "{}"
    assert [k for k, v in second.items() if v is None] == [
        "i2", "i4", "i8", "n", "nu", "d", "ts", "tz", "tm", "vc", "ch", "j", "jb", "u", "iv"
    ]  # fmt: skip
    assert handle["schema"][0] == ["i2", "int16"]
    assert "meta" not in handle
    text = log.text()
    assert "src: reading public.all_types (21 column(s): i2 int2, i4 int4" in text
    assert "src: read 2 rows from public.all_types in 1 batch(es)" in text


def test_columns_schema_and_case_sensitive_names(pg: Any, pg_conn_id: str, tmp_path: Path, log: Any) -> None:
    pg.execute(
        'CREATE SCHEMA "Sales"; CREATE TABLE "Sales"."Orders" (id int, "Amount" numeric(8,2), note text);'
        'INSERT INTO "Sales"."Orders" VALUES (1, 9.99, \'x\'), (2, 0.01, NULL);'
        "CREATE TABLE orders (id int);"  # same name, other case and schema: never picked
    )
    _, table = read(pg_conn_id, tmp_path, log, table="Orders", schema="Sales", columns=["Amount", "id"])
    assert table.column_names == ["Amount", "id"]
    assert table.to_pylist() == [{"Amount": Decimal("9.99"), "id": 1}, {"Amount": Decimal("0.01"), "id": 2}]


def test_query_read_with_cte_join_and_aggregates(pg: Any, pg_conn_id: str, tmp_path: Path, log: Any) -> None:
    pg.execute(
        "CREATE TABLE c (id int, name text); CREATE TABLE o (cid int, amount numeric(10,2), at timestamptz);"
        "INSERT INTO c VALUES (1, 'ann'), (2, 'bo'), (3, 'cy');"
        "INSERT INTO o VALUES (1, 10, '2024-01-01 10:00+00'), (1, 5.5, '2024-01-02 10:00+00'), (2, 1, NULL)"
    )
    query = """
        -- customers and their totals
        WITH totals AS (SELECT cid, sum(amount) AS total, count(*) AS n, max(at) AS last_at FROM o GROUP BY cid)
        SELECT c.id, c.name, t.total, t.n, t.last_at, c.id % 2 = 1 AS odd, 'x''y' AS quoted
        FROM c LEFT JOIN totals t ON t.cid = c.id
        ORDER BY c.id; -- trailing comment
    """
    _, table = read(pg_conn_id, tmp_path, log, query=query)
    assert table.schema.types == [
        pa.int32(),
        pa.string(),
        pa.decimal128(38, 9),  # sum(numeric) is unconstrained numeric
        pa.int64(),
        pa.timestamp("us", tz="UTC"),
        pa.bool_(),
        pa.string(),
    ]
    rows = [tuple(r.values()) for r in table.to_pylist()]
    last = dt.datetime(2024, 1, 2, 10, tzinfo=rows[0][4].tzinfo)
    assert rows == [
        (1, "ann", Decimal("15.500000000"), 2, last, True, "x'y"),
        (2, "bo", Decimal("1.000000000"), 1, None, False, "x'y"),
        (3, "cy", None, None, None, True, "x'y"),
    ]
    assert "src: read 3 rows from query" in log.text()


def test_query_runs_read_only(pg: Any, pg_conn_id: str, tmp_path: Path, log: Any) -> None:
    pg.execute("CREATE SEQUENCE s; CREATE TABLE keep (id int); INSERT INTO keep VALUES (1)")
    with pytest.raises(LogiDataTaskError, match=r"source.postgres node 'src': .*read-only transaction"):
        read(pg_conn_id, tmp_path, log, query="SELECT nextval('s') AS n")
    assert pg.execute("SELECT last_value, is_called FROM s").fetchone() == (1, False)


def test_streams_in_batches(pg: Any, pg_conn_id: str, tmp_path: Path, log: Any) -> None:
    pg.execute(
        "CREATE TABLE nums AS SELECT g AS id, repeat('x', g % 50) AS pad FROM generate_series(1, 10000) g"
    )
    _, table = read(pg_conn_id, tmp_path, log, table="nums", batch_rows=1500)
    assert table.column("id").to_pylist() == list(range(1, 10001))
    assert "src: read 10000 rows from public.nums in 7 batch(es)" in log.text()


MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import pyarrow as pa
    from airflow_provider_logidata.engine.pg_read import read_postgres
    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

    config = PostgresSourceConfig.model_validate(json.loads(sys.argv[1]))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    handle = read_postgres(config, "src", sys.argv[2])
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": handle["rows"], "arrow_peak": pa.default_memory_pool().max_memory(),
                      "rss_growth_kb": after - before}))
    """
)


def test_streaming_memory_stays_bounded(pg: Any, pg_conn_id: str, tmp_path: Path) -> None:
    """~100 MB of rows read with 2,000-row batches: Arrow never holds more than a few batches."""
    rows, width = 200_000, 500
    pg.execute(
        f"CREATE TABLE wide AS SELECT g AS id, repeat(md5(g::text), {width // 32}) AS pad FROM generate_series(1, {rows}) g"
    )
    data_bytes = pg.execute("SELECT sum(octet_length(pad) + 4) FROM wide").fetchone()[0]
    assert data_bytes > 95_000_000
    env = {
        **os.environ,
        "AIRFLOW__LOGIDATA__BATCH_ROWS": "2048",  # the staging writer's row groups
    }
    out = tmp_path / "mem" / "part-00000.parquet"
    config = json.dumps({"conn_id": pg_conn_id, "table": "wide", "batch_rows": 2000})
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, config, str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    assert stats["rows"] == rows
    # One batch is ~1 MB of text; allow a handful in flight (parse buffer, Arrow batch, row group).
    assert stats["arrow_peak"] < 16_000_000, stats
    assert stats["rss_growth_kb"] * 1024 < 80_000_000, stats
    assert pq.ParquetFile(out).metadata.num_rows == rows


def test_injection_looking_identifiers(pg: Any, pg_conn_id: str, tmp_path: Path, log: Any) -> None:
    evil_table = 'x"; drop table victim; --'
    evil_column = 'c"; drop table victim; --'
    evil_schema = "s'; drop table victim; --"
    pg.execute("CREATE TABLE victim (id int); INSERT INTO victim VALUES (1)")
    pg.execute(
        f'CREATE SCHEMA "{evil_schema}"; '
        f'CREATE TABLE "{evil_schema}"."{evil_table.replace(chr(34), chr(34) * 2)}" '
        f'(id int, "{evil_column.replace(chr(34), chr(34) * 2)}" timestamp, "a b" text);'
        f'INSERT INTO "{evil_schema}"."{evil_table.replace(chr(34), chr(34) * 2)}" VALUES '
        "(1, '2024-01-01', 'p'), (2, '2024-01-02', 'q')"
    )
    handle, table = read_with(
        pg_conn_id,
        tmp_path,
        log,
        {
            "table": evil_table,
            "schema": evil_schema,
            "columns": [evil_column, "a b"],
            "incremental": {"column": evil_column, "mode": "cursor", "initial_value": "2024-01-02"},
        },
        cursor_key="logidata.cursor.d.src",
    )
    assert table.column_names == [evil_column, "a b"]
    assert table.to_pylist() == [{evil_column: dt.datetime(2024, 1, 2), "a b": "q"}]
    assert handle["meta"]["cursors"][0]["value"] == {"column": evil_column, "value": "2024-01-02T00:00:00"}
    assert pg.execute("SELECT count(*) FROM victim").fetchone() == (1,)


# --- incremental filters (the Airflow side is covered end to end in tests/integration) ---------------


def test_data_interval_filter_is_half_open(pg: Any, pg_conn_id: str, tmp_path: Path, log: Any) -> None:
    pg.execute(
        "CREATE TABLE ev (id int, at timestamptz, day date, local_at timestamp);"
        "INSERT INTO ev SELECT g, timestamptz '2024-01-01 00:00+00' + g * interval '6 hours', "
        "date '2024-01-01' + g / 4, timestamp '2024-01-01' + g * interval '6 hours' FROM generate_series(0, 11) g"
    )
    interval = (dt.datetime(2024, 1, 2, tzinfo=UTC), dt.datetime(2024, 1, 3, tzinfo=UTC))
    for column in ("at", "day", "local_at"):
        _, table = read_with(
            pg_conn_id,
            tmp_path,
            log,
            {"table": "ev", "incremental": {"column": column, "mode": "data_interval"}},
            interval=interval,
        )
        assert table.column("id").to_pylist() == [4, 5, 6, 7], column
    assert "src: reading at in [2024-01-02T00:00:00+00:00, 2024-01-03T00:00:00+00:00)" in log.text()


def test_cursor_filter_and_new_value(pg: Any, pg_conn_id: str, tmp_path: Path, log: Any) -> None:
    pg.execute(
        "CREATE TABLE t (id bigint, v numeric(10,2), at timestamptz, name text);"
        "INSERT INTO t VALUES (1, 1.00, '2024-01-01 00:00+00', 'a'), (2, 2.50, '2024-01-02 00:00+00', 'b'),"
        " (3, 2.50, '2024-01-03 00:00+00', 'c')"
    )
    key = "logidata.cursor.dag.src"

    def cursor(column: str, state: Any, initial: Any = None) -> tuple[list[int], Any]:
        spec: dict[str, Any] = {"column": column, "mode": "cursor"}
        if initial is not None:
            spec["initial_value"] = initial
        handle, table = read_with(
            pg_conn_id, tmp_path, log, {"table": "t", "incremental": spec}, cursor_key=key, cursor_state=state
        )
        meta = handle.get("meta", {}).get("cursors", [{}])[0]
        return table.column("id").to_pylist(), meta.get("value")

    assert cursor("id", None) == ([1, 2, 3], {"column": "id", "value": "3"})
    assert cursor("id", None, initial=2) == ([2, 3], {"column": "id", "value": "3"})
    assert cursor("id", {"column": "id", "value": "3"}) == ([3], {"column": "id", "value": "3"})
    assert cursor("v", {"column": "v", "value": "2.50"}) == ([2, 3], {"column": "v", "value": "2.50"})
    assert cursor("at", {"column": "at", "value": "2024-01-02T00:00:00+00:00"}) == (
        [2, 3],
        {"column": "at", "value": "2024-01-03T00:00:00+00:00"},
    )
    assert cursor("name", "b") == ([2, 3], {"column": "name", "value": "c"})  # a value set by hand
    # A cursor committed for another column is ignored (with a warning): start from initial_value.
    assert cursor("id", {"column": "other", "value": "99"}, initial=3) == (
        [3],
        {"column": "id", "value": "3"},
    )
    assert "the committed cursor is on column 'other'" in log.text("warning")
    # Nothing new: no cursor in the handle, so nothing to commit.
    assert cursor("id", {"column": "id", "value": "4"}) == ([], None)


# --- the generic runner interface --------------------------------------------------------------------


def test_run_source_reads_non_incremental(pg: Any, pg_conn_id: str, tmp_path: Path, log: Any) -> None:
    pg.execute("CREATE TABLE t AS SELECT 1 AS a")
    out = str(tmp_path / "o" / "part-00000.parquet")
    handle = runner.run_source(
        {"conn_id": pg_conn_id, "table": "t"}, "src", out, module="source.postgres", log=log
    )
    assert pq.read_table(handle["uri"]).to_pylist() == [{"a": 1}]
    with pytest.raises(LogiDataTaskError, match="incremental reads need the Airflow run"):
        runner.run_source(
            {"conn_id": pg_conn_id, "table": "t", "incremental": {"column": "a", "mode": "cursor"}},
            "src",
            out,
            module="source.postgres",
            log=log,
        )


# --- errors ------------------------------------------------------------------------------------------


def expect_error(conn_id: str, tmp_path: Path, log: Any, pattern: str, **config: Any) -> str:
    with pytest.raises(LogiDataTaskError, match=pattern) as info:
        read_with(conn_id, tmp_path, log, config, cursor_key="k")
    message = str(info.value)
    assert message.startswith("source.postgres node 'src': "), message
    assert not (tmp_path / "src" / "part-00000.parquet").exists()
    return message


def test_unknown_connection(tmp_path: Path, log: Any) -> None:
    message = expect_error(
        "no_such_conn", tmp_path, log, "connection 'no_such_conn' does not exist", table="t"
    )
    assert "AIRFLOW_CONN_NO_SUCH_CONN" in message


def test_wrong_password(
    postgres_server: Any, pg_database: str, tmp_path: Path, log: Any, monkeypatch: Any
) -> None:
    conn = json.loads(postgres_server.airflow_conn(pg_database))
    monkeypatch.setenv("AIRFLOW_CONN_PG_BAD_PASSWORD", json.dumps({**conn, "password": "wrong"}))
    message = expect_error("pg_bad_password", tmp_path, log, "cannot connect to PostgreSQL", table="t")
    assert "password authentication failed" in message
    assert "check the login and password of the connection" in message
    assert "wrong" not in message


def test_unreachable_server(tmp_path: Path, log: Any, monkeypatch: Any) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_PG_NOWHERE",
        json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": port, "login": "u", "schema": "d"}),
    )
    message = expect_error("pg_nowhere", tmp_path, log, "cannot connect to PostgreSQL", table="t")
    assert f"127.0.0.1:{port}/d as u" in message


def test_missing_table_lists_existing_ones(pg: Any, pg_conn_id: str, tmp_path: Path, log: Any) -> None:
    pg.execute("CREATE TABLE orders (id int); CREATE TABLE customers (id int); CREATE VIEW v AS SELECT 1")
    message = expect_error(
        pg_conn_id, tmp_path, log, "table 'Orders' does not exist in schema 'public'", table="Orders"
    )
    assert "tables there: customers, orders, v" in message
    assert "case-sensitive" in message
    message = expect_error(
        pg_conn_id, tmp_path, log, "schema 'nope' does not exist", table="orders", schema="nope"
    )
    assert "existing schemas: public" in message


def test_missing_column(pg: Any, pg_conn_id: str, tmp_path: Path, log: Any) -> None:
    pg.execute("CREATE TABLE t (id int, name text)")
    message = expect_error(
        pg_conn_id, tmp_path, log, r"column\(s\) 'Name' not in public.t", table="t", columns=["Name"]
    )
    assert "available columns: id, name" in message


def test_query_errors(pg: Any, pg_conn_id: str, tmp_path: Path, log: Any) -> None:
    pg.execute("CREATE TABLE t (id int)")
    expect_error(
        pg_conn_id, tmp_path, log, 'relation "missing" does not exist', query="SELECT * FROM missing"
    )
    expect_error(pg_conn_id, tmp_path, log, "several columns named 'id'", query="SELECT id, id FROM t")
    expect_error(
        pg_conn_id,
        tmp_path,
        log,
        "division by zero",
        query="SELECT 1 / (id - id) AS x FROM (VALUES (1)) v(id)",
    )
    # A template renders into a query that is checked at run time.
    with pytest.raises(LogiDataTaskError, match="query must be a SELECT, not DELETE"):
        runner.run_source(
            {"conn_id": pg_conn_id, "query": "DELETE FROM t"},
            "src",
            str(tmp_path / "x.parquet"),
            module="source.postgres",
        )


def test_incremental_column_errors(pg: Any, pg_conn_id: str, tmp_path: Path, log: Any) -> None:
    pg.execute("CREATE TABLE t (id int, name text, at timestamp)")
    expect_error(
        pg_conn_id,
        tmp_path,
        log,
        "incremental column 'name' is text; mode 'data_interval' needs a date, timestamp",
        table="t",
        incremental={"column": "name", "mode": "data_interval"},
    )
    expect_error(
        pg_conn_id,
        tmp_path,
        log,
        "incremental column 'at' is not among the columns read",
        table="t",
        columns=["id"],
        incremental={"column": "at", "mode": "cursor"},
    )
