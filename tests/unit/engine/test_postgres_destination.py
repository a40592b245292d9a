"""destination.postgres against the suite's real PostgreSQL: every mode, table creation and schema change,
merges with and without a unique index, atomicity (a load killed with SIGKILL mid-COPY leaves the table as
it was), cursor commits, and every error a user can cause."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_logidata.engine import runner, staging
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.pg_load import load_postgres
from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig

UTC = dt.timezone.utc


def load(conn_id: str, handle: Any, log: Any, node_id: str = "load", **config: Any) -> dict[str, Any]:
    return runner.run_destination(
        {"conn_id": conn_id, **config}, node_id, [handle], module="destination.postgres", log=log
    )


def rows(pg: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in pg.execute(sql).fetchall()]


def column_types(pg: Any, table: str, schema: str = "public") -> dict[str, str]:
    return dict(
        pg.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = (quote_ident(%s) || '.' || quote_ident(%s))::regclass AND a.attnum > 0 "
            "AND NOT a.attisdropped ORDER BY a.attnum",
            (schema, table),
        ).fetchall()
    )


TYPED = pa.table(
    {
        "id": pa.array([1, 2, 3], pa.int64()),
        "small": pa.array([1, None, -3], pa.int16()),
        "name": ["a", "", None],
        "price": pa.array([Decimal("1.50"), None, Decimal("-0.01")], pa.decimal128(10, 2)),
        "ratio": [0.1, float("nan"), float("inf")],
        "ok": [True, False, None],
        "day": pa.array([dt.date(2024, 2, 29), None, dt.date(1999, 12, 31)], pa.date32()),
        "at": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 123456), None, None], pa.timestamp("us")),
        "at_utc": pa.array(
            [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None, None], pa.timestamp("us", "UTC")
        ),
        "blob": pa.array([b"\x00\xff", b"", None], pa.binary()),
        "tags": pa.array([["x", "y"], [], None], pa.list_(pa.string())),
        "text": ['he said "hi",\nthen \\. left', "\\.", "tab\there"],
    }
)


def test_create_from_schema_and_append(pg: Any, pg_conn_id: str, stage: Any, log: Any) -> None:
    handle = stage(TYPED, batch_rows=2)
    result = load(pg_conn_id, handle, log, table="typed")
    assert result == {"uri": f"postgresql://{pg_conn_id}/public.typed", "rows": 3, "mode": "append"}
    assert column_types(pg, "typed") == {
        "id": "bigint",
        "small": "smallint",
        "name": "text",
        "price": "numeric(10,2)",
        "ratio": "double precision",
        "ok": "boolean",
        "day": "date",
        "at": "timestamp without time zone",
        "at_utc": "timestamp with time zone",
        "blob": "bytea",
        "tags": "jsonb",
        "text": "text",
    }
    got = rows(pg, "SELECT * FROM typed ORDER BY id")
    assert got[0] == (
        1,
        1,
        "a",
        Decimal("1.50"),
        0.1,
        True,
        dt.date(2024, 2, 29),
        dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=got[0][8].tzinfo),
        b"\x00\xff",
        ["x", "y"],
        'he said "hi",\nthen \\. left',
    )
    assert got[0][8].utcoffset() == dt.timedelta(0)
    assert got[1][2] == "" and got[1][4] != got[1][4]  # empty text stays empty; NaN
    assert got[1][9] == b"" and got[1][10] == []
    assert got[2][2] is None and got[2][4] == float("inf") and got[2][9] is None and got[2][10] is None
    assert got[1][11] == "\\." and got[2][11] == "tab\there"

    load(pg_conn_id, handle, log, table="typed")  # append again
    assert rows(pg, "SELECT count(*), count(DISTINCT id) FROM typed") == [(6, 3)]
    text = log.text()
    assert "load: created table public.typed (12 columns)" in text
    assert "load: loaded 3 rows into public.typed (append) in " in text and " rows/s)" in text


def test_append_matches_columns_by_name(pg: Any, pg_conn_id: str, stage: Any, log: Any) -> None:
    pg.execute(
        "CREATE TABLE t (id int PRIMARY KEY, label varchar(10), amount numeric(8,2), loaded_at timestamptz "
        "DEFAULT '2000-01-01 00:00+00', note text)"
    )
    pg.execute("INSERT INTO t (id, label) VALUES (1, 'old')")
    # Other column order, a case-insensitive match, and int/float input into integer/numeric columns.
    handle = stage({"Amount": [2.5, 3.0], "id": [2, 3], "label": ["b", "c"]})
    load(pg_conn_id, handle, log, table="t")
    assert rows(pg, "SELECT id, label, amount, loaded_at, note FROM t ORDER BY id") == [
        (1, "old", None, dt.datetime(2000, 1, 1, tzinfo=UTC), None),
        (2, "b", Decimal("2.50"), dt.datetime(2000, 1, 1, tzinfo=UTC), None),
        (3, "c", Decimal("3.00"), dt.datetime(2000, 1, 1, tzinfo=UTC), None),
    ]


def test_replace(pg: Any, pg_conn_id: str, stage: Any, log: Any) -> None:
    pg.execute("CREATE TABLE t (id int, name text); INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    pg.execute("CREATE VIEW t_view AS SELECT * FROM t")  # dependent objects survive a replace
    result = load(pg_conn_id, stage({"id": [7, 8], "name": ["x", "y"]}), log, table="t", mode="replace")
    assert result["mode"] == "replace" and result["rows"] == 2
    assert rows(pg, "SELECT * FROM t_view ORDER BY id") == [(7, "x"), (8, "y")]
    # A new table, then an empty input: replace leaves the table empty.
    load(pg_conn_id, stage({"id": [1]}), log, table="fresh", mode="replace")
    assert rows(pg, "SELECT * FROM fresh") == [(1,)]
    empty = stage(pa.table({"id": pa.array([], pa.int64())}))
    load(pg_conn_id, empty, log, table="fresh", mode="replace")
    assert rows(pg, "SELECT count(*) FROM fresh") == [(0,)]
    assert "the input has no rows: public.fresh is now empty" in log.text("warning")


MERGE_INPUT = {
    "id": [2, 3, 4, 3, 5],
    "region": ["eu", "eu", "us", "eu", "us"],
    "name": ["B", "C-first", "D", "C-last", "E"],
}


@pytest.mark.parametrize("index", ["primary key", "unique index", "none"])
def test_merge(pg: Any, pg_conn_id: str, stage: Any, log: Any, index: str) -> None:
    pg.execute("CREATE TABLE t (id int, region text, name text, extra text DEFAULT 'keep')")
    if index == "primary key":
        pg.execute("ALTER TABLE t ADD PRIMARY KEY (region, id)")
    elif index == "unique index":
        pg.execute("CREATE UNIQUE INDEX t_keys ON t (id, region)")
    pg.execute("INSERT INTO t VALUES (1, 'eu', 'a', 'x'), (2, 'eu', 'b', 'y'), (3, 'us', 'c', 'z')")
    result = load(
        pg_conn_id, stage(MERGE_INPUT, batch_rows=2), log, table="t", mode="merge", keys=["id", "region"]
    )
    assert result == {"uri": f"postgresql://{pg_conn_id}/public.t", "rows": 5, "mode": "merge"}
    assert rows(pg, "SELECT id, region, name, extra FROM t ORDER BY id, region") == [
        (1, "eu", "a", "x"),
        (2, "eu", "B", "y"),  # updated; columns not in the input keep their value
        (3, "eu", "C-last", "keep"),  # inserted once: the last incoming duplicate wins
        (3, "us", "c", "z"),
        (4, "us", "D", "keep"),
        (5, "us", "E", "keep"),
    ]
    how = "update + insert" if index == "none" else "on conflict update"
    assert f"(merge, {how})" in log.text()
    # Merging the same input again changes nothing.
    load(pg_conn_id, stage(MERGE_INPUT), log, table="t", mode="merge", keys=["id", "region"])
    assert rows(pg, "SELECT count(*) FROM t") == [(6,)]


def test_merge_creates_table_with_primary_key(pg: Any, pg_conn_id: str, stage: Any, log: Any) -> None:
    load(
        pg_conn_id,
        stage(MERGE_INPUT),
        log,
        table="m",
        schema="new_schema",
        mode="merge",
        keys=["id", "region"],
    )
    assert rows(pg, "SELECT id, region, name FROM new_schema.m ORDER BY id, region") == [
        (2, "eu", "B"),
        (3, "eu", "C-last"),
        (4, "us", "D"),
        (5, "us", "E"),
    ]
    pk = pg.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'new_schema.m'::regclass "
        "AND contype = 'p'"
    ).fetchone()
    assert pk == ("PRIMARY KEY (id, region)",)
    # Only key columns: insert the new keys, nothing to update.
    load(
        pg_conn_id,
        stage({"id": [2, 9], "region": ["eu", "eu"]}),
        log,
        table="m",
        schema="new_schema",
        mode="merge",
        keys=["id", "region"],
    )
    assert rows(pg, "SELECT count(*) FROM new_schema.m") == [(5,)]


def test_on_schema_change_evolve(pg: Any, pg_conn_id: str, stage: Any, log: Any) -> None:
    pg.execute("CREATE TABLE t (id int, name text); INSERT INTO t VALUES (1, 'a')")
    handle = stage({"id": [2], "name": ["b"], "score": [Decimal("1.5")], "seen": [dt.date(2024, 1, 1)]})
    load(pg_conn_id, handle, log, table="t")  # evolve is the default
    assert column_types(pg, "t") == {"id": "integer", "name": "text", "score": "numeric(2,1)", "seen": "date"}
    assert rows(pg, "SELECT * FROM t ORDER BY id") == [
        (1, "a", None, None),
        (2, "b", Decimal("1.5"), dt.date(2024, 1, 1)),
    ]
    assert "added column(s) to public.t: score numeric(2,1), seen date" in log.text()


def test_on_schema_change_fail_reports_the_diff(pg: Any, pg_conn_id: str, stage: Any, log: Any) -> None:
    pg.execute("CREATE TABLE t (id int, name text, amount integer); INSERT INTO t VALUES (1, 'a', 1)")
    handle = stage({"id": [2], "amount": ["lots"], "new_col": [1.5]})
    with pytest.raises(LogiDataTaskError) as info:
        load(pg_conn_id, handle, log, table="t", on_schema_change="fail")
    message = str(info.value)
    assert message.startswith("destination.postgres node 'load': the input's columns differ from public.t")
    assert "added (in the input, not in the table): new_col (double precision)" in message
    assert "missing (in the table, not in the input): name (text)" in message
    assert "changed type: amount (input string, table integer)" in message
    assert "set on_schema_change to 'evolve'" in message
    assert rows(pg, "SELECT * FROM t") == [(1, "a", 1)]
    assert column_types(pg, "t") == {"id": "integer", "name": "text", "amount": "integer"}
    # The same columns pass.
    load(
        pg_conn_id, stage({"id": [2], "name": ["b"], "amount": [2]}), log, table="t", on_schema_change="fail"
    )
    assert rows(pg, "SELECT count(*) FROM t") == [(2,)]


def test_on_schema_change_discard(pg: Any, pg_conn_id: str, stage: Any, log: Any) -> None:
    pg.execute("CREATE TABLE t (id int, name text DEFAULT 'n/a')")
    load(pg_conn_id, stage({"id": [1], "junk": ["x"]}), log, table="t", on_schema_change="discard")
    assert rows(pg, "SELECT * FROM t") == [(1, "n/a")]
    assert column_types(pg, "t") == {"id": "integer", "name": "text"}
    assert "not loaded (discard): junk" in log.text("warning")


def test_injection_looking_names(pg: Any, pg_conn_id: str, stage: Any, log: Any) -> None:
    pg.execute("CREATE TABLE victim (id int); INSERT INTO victim VALUES (1)")
    evil = 'x"; drop table victim; --'
    handle = stage({evil: [1, 2], "a'b": ["p", "q"]})
    load(pg_conn_id, handle, log, table=evil, schema="s'; --", mode="merge", keys=[evil])
    load(pg_conn_id, handle, log, table=evil, schema="s'; --", mode="merge", keys=[evil])
    quoted = '"s\'; --"."x""; drop table victim; --"'
    assert rows(pg, f'SELECT "x""; drop table victim; --", "a\'b" FROM {quoted} ORDER BY 1') == [
        (1, "p"),
        (2, "q"),
    ]
    assert rows(pg, "SELECT count(*) FROM victim") == [(1,)]


def test_commits_cursors_only_after_the_load(pg: Any, pg_conn_id: str, stage: Any, log: Any) -> None:
    pg.execute("CREATE TABLE t (id int PRIMARY KEY)")
    handle = dict(stage({"id": [1, 2]}))
    handle["meta"] = {"cursors": [{"key": "logidata.cursor.d.src", "value": {"column": "id", "value": "2"}}]}
    stored: list[tuple[str, Any]] = []
    config = PostgresDestinationConfig.model_validate({"conn_id": pg_conn_id, "table": "t"})
    load_postgres(config, "load", [handle], log, cursor_store=lambda k, v: stored.append((k, v)))
    assert stored == [("logidata.cursor.d.src", {"column": "id", "value": "2"})]
    with pytest.raises(LogiDataTaskError, match="duplicate a unique key"):
        load_postgres(config, "load", [handle], log, cursor_store=lambda k, v: stored.append((k, v)))
    assert len(stored) == 1  # the failed load stored nothing

    def broken(key: str, value: Any) -> None:
        raise RuntimeError("variable store down")

    merge = PostgresDestinationConfig.model_validate(
        {"conn_id": pg_conn_id, "table": "t", "mode": "merge", "keys": ["id"]}
    )
    with pytest.raises(LogiDataTaskError, match="the data was committed but the incremental cursor"):
        load_postgres(merge, "load", [handle], log, cursor_store=broken)


# --- errors: the table is untouched ------------------------------------------------------------------


def expect_error(pg: Any, conn_id: str, handle: Any, log: Any, pattern: str, **config: Any) -> str:
    before = (
        rows(pg, "SELECT * FROM t ORDER BY 1")
        if pg.execute("SELECT to_regclass('t')").fetchone()[0]
        else None
    )
    with pytest.raises(LogiDataTaskError, match=pattern) as info:
        load(conn_id, handle, log, **config)
    message = str(info.value)
    assert message.startswith("destination.postgres node 'load': "), message
    if before is not None:
        assert rows(pg, "SELECT * FROM t ORDER BY 1") == before
    return message


def test_unknown_connection(stage: Any, log: Any) -> None:
    with pytest.raises(LogiDataTaskError, match="connection 'nope' does not exist"):
        load("nope", stage({"a": [1]}), log, table="t")


def test_missing_table_without_create(pg: Any, pg_conn_id: str, stage: Any, log: Any) -> None:
    message = expect_error(
        pg,
        pg_conn_id,
        stage({"a": [1]}),
        log,
        "table public.t does not exist and create_table is false",
        table="t",
        create_table=False,
    )
    assert "set create_table to true" in message
    assert pg.execute("SELECT to_regclass('t')").fetchone() == (None,)


def test_value_that_cannot_be_cast_names_the_column(pg: Any, pg_conn_id: str, stage: Any, log: Any) -> None:
    pg.execute("CREATE TABLE t (id int, qty integer, day date); INSERT INTO t VALUES (1, 1, '2024-01-01')")
    # COPYed straight into the table: PostgreSQL names the column and the input row.
    message = expect_error(
        pg,
        pg_conn_id,
        stage({"id": [2, 3, 4], "qty": ["5", "five", "6"]}),
        log,
        "a value in column 'qty' cannot be stored as integer",
        table="t",
    )
    assert "(input row 2)" in message
    assert 'invalid input syntax for type integer: "five"' in message
    assert "public.t is unchanged" in message
    # Text into a date is checked in SQL (a time of day would be dropped), so the rows go through
    # PostgreSQL's casts: the refusal names column, types and value, as on the ELT path.
    handle = stage(
        {"id": [2, 3, 4], "qty": ["5", "five", "6"], "day": ["2024-01-02", "2024-01-03", "2024-01-04"]}
    )
    message = expect_error(
        pg,
        pg_conn_id,
        handle,
        log,
        r"column 'qty' \(input text, table integer\): value five cannot be stored as integer",
        table="t",
    )
    assert 'invalid input syntax for type integer: "five"' in message
    assert "public.t is unchanged" in message
    message = expect_error(
        pg,
        pg_conn_id,
        stage({"id": [5], "day": ["2024-02-30"]}),
        log,
        r"column 'day' \(input text, table date\): value 2024-02-30 cannot be stored as date",
        table="t",
    )
    # Widening to timestamp would not help: evolve refuses without touching the column.
    assert "cannot be stored as timestamp without time zone either" in message
    assert column_types(pg, "t")["day"] == "date"
    # Too large for the column: refused under 'fail' (naming column, types and value), widened to bigint
    # under 'evolve' (the default), which keeps every value.
    message = expect_error(
        pg,
        pg_conn_id,
        stage({"id": [2**40], "qty": [1], "day": [dt.date(2024, 1, 5)]}),
        log,
        r"column 'id' \(input bigint, table integer\): value 1099511627776 cannot be stored as integer",
        table="t",
        on_schema_change="fail",
    )
    assert "public.t is unchanged" in message
    load(pg_conn_id, stage({"id": [2**40], "qty": [1], "day": [dt.date(2024, 1, 5)]}), log, table="t")
    assert column_types(pg, "t")["id"] == "bigint"
    assert rows(pg, "SELECT id FROM t ORDER BY id") == [(1,), (2**40,)]


def test_constraint_errors(pg: Any, pg_conn_id: str, stage: Any, log: Any) -> None:
    pg.execute("CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL); INSERT INTO t VALUES (1, 'a')")
    message = expect_error(
        pg,
        pg_conn_id,
        stage({"id": [2, 3], "name": ["b", None]}),
        log,
        "column 'name' of public.t does not accept nulls",
        table="t",
    )
    assert "fill_nulls" in message
    expect_error(
        pg, pg_conn_id, stage({"id": [1], "name": ["dup"]}), log, "would duplicate a unique key", table="t"
    )
    expect_error(
        pg,
        pg_conn_id,
        stage({"id": [5]}),
        log,
        r"column\(s\) 'name' of public.t are NOT NULL without a default",
        table="t",
    )
    message = expect_error(
        pg,
        pg_conn_id,
        stage({"id": [None, 2, None], "name": ["x", "y", "z"]}),
        log,
        r"2 input row\(s\) have a null merge key \(id\)",
        table="t",
        mode="merge",
        keys=["id"],
    )
    expect_error(
        pg,
        pg_conn_id,
        stage({"id": [2], "name": ["y"]}),
        log,
        "merge key 'code' is not among the columns loaded",
        table="t",
        mode="merge",
        keys=["code"],
    )


# --- atomicity ---------------------------------------------------------------------------------------

KILL_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from airflow_provider_logidata.engine.pg_load import load_postgres
    from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig

    config = PostgresDestinationConfig.model_validate(json.loads(sys.argv[1]))
    handle = json.loads(sys.argv[2])
    progress = Path(sys.argv[3])

    def on_batch(rows):  # report, and slow down so that the kill lands while COPY streams
        progress.write_text(str(rows))
        time.sleep(0.05)

    load_postgres(config, "killme", [handle], on_batch=on_batch)
    progress.write_text("done")
    """
)


@pytest.mark.parametrize(
    ("mode", "view"),
    [
        ("append", False),  # straight into the table
        ("replace", False),  # into a new table swapped in
        ("replace", True),  # a view on the table: through a temporary table, then TRUNCATE + INSERT
    ],
)
def test_sigkill_mid_copy_leaves_table_unchanged_and_retry_loads(
    pg: Any, pg_conn_id: str, tmp_path: Path, log: Any, mode: str, view: bool
) -> None:
    n = 200_000
    table = pa.table(
        {
            "id": pa.array(range(1, n + 1), pa.int64()),
            "name": pa.array([f"name {i}" for i in range(n)]),
            "amount": pa.array([i * 0.5 for i in range(n)]),
        }
    )
    handle = staging.write_staging(
        iter(table.to_batches(max_chunksize=10_000)),
        str(tmp_path / "big" / staging.PART_NAME),
        label="big",
        schema=table.schema,
    )
    pg.execute("CREATE TABLE target (id bigint, name text, amount double precision)")
    pg.execute("INSERT INTO target VALUES (-1, 'before', 0), (-2, 'before', 0)")
    if view:
        pg.execute("CREATE VIEW target_view AS SELECT * FROM target")
    config = {"conn_id": pg_conn_id, "table": "target", "mode": mode}
    progress = tmp_path / "progress"
    env = {**os.environ, "AIRFLOW__LOGIDATA__BATCH_ROWS": "10000"}
    process = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, json.dumps(config), json.dumps(handle), str(progress)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        copied = 0
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode()[-2000:] if process.stderr else ""
            # The server is receiving the rows of the killme session (COPY in progress).
            found = pg.execute(
                "SELECT p.tuples_processed FROM pg_stat_progress_copy p JOIN pg_stat_activity a ON a.pid = p.pid "
                "WHERE a.application_name = 'logidata:killme'"
            ).fetchone()
            copied = found[0] if found else 0
            if copied >= 30_000 and progress.exists() and progress.read_text() not in ("", "done"):
                break
            time.sleep(0.02)
        assert copied >= 30_000, "the load never started streaming"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        if process.stderr:
            process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    assert int(progress.read_text()) < n  # killed mid-load
    # PostgreSQL ends the orphaned session and rolls its transaction back.
    deadline = time.monotonic() + 30
    while pg.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'logidata:killme'"
    ).fetchone()[0]:
        assert time.monotonic() < deadline, "the killed session is still there"
        time.sleep(0.05)
    assert rows(pg, "SELECT * FROM target ORDER BY id") == [(-2, "before", 0.0), (-1, "before", 0.0)]
    assert rows(pg, "SELECT count(*) FROM pg_class WHERE relname LIKE 'target\\_\\_logidata\\_%'") == [(0,)]

    # A retry loads exactly the input once.
    result = load(pg_conn_id, handle, log, table="target", mode=mode)
    assert result["rows"] == n
    assert rows(
        pg, "SELECT count(*), count(DISTINCT id), min(id), max(id), sum(amount) FROM target WHERE id > 0"
    ) == [(n, n, 1, n, sum(i * 0.5 for i in range(n)))]
    assert rows(pg, "SELECT count(*) FROM target WHERE id < 0") == [(2 if mode == "append" else 0,)]
    if mode == "replace":
        assert ("truncate + insert" if view else "table swap") in log.text()
