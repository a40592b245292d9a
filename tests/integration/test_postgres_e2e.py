"""PostgreSQL end to end: stored JSON -> real factory -> `dag.test()` against the suite's real PostgreSQL.

Covers a full postgres -> clean_text -> deduplicate -> postgres pipeline, incremental reads by data
interval (three consecutive days and a rerun) and by cursor (three runs with rows inserted in between,
boundary values included), with the destination's cursor committed in the load's transaction (issue 11:
one cursor per destination, in ``logidata_cursor_state``; it used to be one Airflow Variable per source).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import specs

pytestmark = pytest.mark.integration

UTC = dt.timezone.utc


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_postgres_clean_dedupe_postgres(run_pipeline: Any, pg: Any, pg_conn_id: str) -> None:
    pg.execute(
        "CREATE TABLE customers (id int, name text, email text, signed_up date, score numeric(6,2));"
        "INSERT INTO customers VALUES"
        " (1, '  alice   martin ', 'A@X.COM', '2024-01-01', 10.50),"
        " (2, 'bob smith', 'b@x.com', '2024-01-02', 7.25),"
        " (1, 'alice martin', 'a@x.com', '2024-01-01', 10.50),"  # same as row 1 once cleaned
        " (3, NULL, 'c@x.com', NULL, NULL),"
        " (2, ' bob  smith', 'B@x.com ', '2024-01-02', 7.25)"
    )
    spec = {
        "id": "pg_clean_dedupe",
        "engine": "etl",  # this file tests the ETL path (rows through staging); ELT has its own tests
        "nodes": [
            {
                "id": "read",
                "module": "source.postgres",
                "config": {"conn_id": pg_conn_id, "table": "customers"},
            },
            {
                "id": "clean",
                "module": "clean_text",
                "config": {
                    "columns": ["name", "email"],
                    "trim": True,
                    "collapse_spaces": True,
                    "case": "lower",
                },
            },
            {"id": "dedupe", "module": "deduplicate", "config": {}},
            {
                "id": "write",
                "module": "destination.postgres",
                "config": {
                    "conn_id": pg_conn_id,
                    "schema": "mart",
                    "table": "Clean Customers",
                    "mode": "merge",
                    "keys": ["id"],
                },
            },
        ],
        "edges": [
            {"source": "read", "target": "clean"},
            {"source": "clean", "target": "dedupe"},
            {"source": "dedupe", "target": "write"},
        ],
    }
    dag_run, _ = run_pipeline(spec)
    assert str(dag_run.state) == "success", task_states(dag_run)
    rows = pg.execute(
        'SELECT id, name, email, signed_up, score FROM mart."Clean Customers" ORDER BY id'
    ).fetchall()
    from decimal import Decimal

    assert rows == [
        (1, "alice martin", "a@x.com", dt.date(2024, 1, 1), Decimal("10.50")),
        (2, "bob smith", "b@x.com", dt.date(2024, 1, 2), Decimal("7.25")),
        (3, None, "c@x.com", None, None),
    ]
    types = dict(
        pg.execute(
            "SELECT column_name, format_type(atttypid, atttypmod) FROM information_schema.columns c "
            'JOIN pg_attribute a ON a.attrelid = \'"mart"."Clean Customers"\'::regclass AND a.attname = c.column_name '
            "WHERE c.table_schema = 'mart'"
        ).fetchall()
    )
    assert types == {
        "id": "integer",
        "name": "text",
        "email": "text",
        "signed_up": "date",
        "score": "numeric(6,2)",
    }
    # The result of the destination task.
    ti = next(t for t in dag_run.get_task_instances() if t.task_id == "write")
    assert ti.xcom_pull(task_ids="write") == {
        "uri": f"postgresql://{pg_conn_id}/mart.Clean Customers",
        "rows": 3,
        "mode": "merge",
    }


def interval_spec(conn_id: str) -> dict[str, Any]:
    return specs.linear(
        [
            specs.incremental_source(conn_id, "events", "happened_at", "data_interval"),
            specs.pg_destination(conn_id, "load", table="events_copy", mode="merge", keys=["id"]),
        ],
        "pg_daily_events",
        engine="etl",
        **specs.DAILY,
    )


def test_data_interval_three_days_and_rerun(run_pipeline: Any, pg: Any, pg_conn_id: str) -> None:
    # 6 events per day on Jan 1-4, one exactly at each midnight (the interval start is inclusive).
    pg.execute(
        "CREATE TABLE events (id int PRIMARY KEY, happened_at timestamptz NOT NULL, what text);"
        "INSERT INTO events SELECT g, timestamptz '2024-01-01 00:00:00+00' + (g - 1) * interval '4 hours', "
        "'e' || g FROM generate_series(1, 24) g"
    )
    spec = interval_spec(pg_conn_id)

    def copied() -> list[int]:
        return [r[0] for r in pg.execute("SELECT id FROM events_copy ORDER BY id").fetchall()]

    # Airflow 3's cron timetable gives dag.test a zero-length interval at the logical date; the source
    # reads [previous scheduled time, logical date): the run at Jan 2 00:00 reads Jan 1.
    for day, expected_last in ((2, 6), (3, 12), (4, 18)):
        dag_run, _ = run_pipeline(spec, logical_date=dt.datetime(2024, 1, day, tzinfo=UTC))
        assert str(dag_run.state) == "success", task_states(dag_run)
        assert copied() == list(range(1, expected_last + 1))
        ti = next(t for t in dag_run.get_task_instances() if t.task_id == "events")
        assert ti.xcom_pull(task_ids="events")["rows"] == 6

    # Rerunning a day reads the same 6 rows; the merge leaves the table as it was.
    dag_run, _ = run_pipeline(spec, logical_date=dt.datetime(2024, 1, 3, tzinfo=UTC))
    assert str(dag_run.state) == "success", task_states(dag_run)
    assert copied() == list(range(1, 19))
    assert pg.execute("SELECT count(*), count(DISTINCT id) FROM events_copy").fetchone() == (18, 18)
    assert pg.execute("SELECT what FROM events_copy WHERE id = 7").fetchone() == ("e7",)


def cursor_spec(conn_id: str) -> dict[str, Any]:
    return {
        "id": "pg_cursor_orders",
        "engine": "etl",
        "nodes": [
            {
                "id": "orders",
                "module": "source.postgres",
                "config": {
                    "conn_id": conn_id,
                    "query": "SELECT id, status, updated_at FROM orders WHERE status <> 'draft';",
                    "incremental": {"column": "updated_at", "mode": "cursor"},
                },
            },
            {
                "id": "tidy",
                "module": "clean_text",
                "config": {"columns": ["status"], "trim": True, "case": "upper"},
            },
            {
                "id": "load",
                "module": "destination.postgres",
                "config": {"conn_id": conn_id, "table": "orders_copy", "mode": "merge", "keys": ["id"]},
            },
        ],
        "edges": [{"source": "orders", "target": "tidy"}, {"source": "tidy", "target": "load"}],
    }


def cursor_state(pg: Any) -> dict[str, Any] | None:
    """The destination's cursor, committed with its rows (before issue 11: the Variable
    logidata.cursor.pg_cursor_orders.orders, shared by every destination)."""
    if pg.execute("SELECT to_regclass('public.logidata_cursor_state')").fetchone() == (None,):
        return None
    row = pg.execute(
        "SELECT state FROM logidata_cursor_state WHERE dag_id = 'pg_cursor_orders' AND source_task = 'orders' "
        "AND destination_task = 'load'"
    ).fetchone()
    return None if row is None else dict(row[0])


def test_cursor_three_runs_with_boundary_rows(run_pipeline: Any, pg: Any, pg_conn_id: str) -> None:
    pg.execute(
        "CREATE TABLE orders (id int PRIMARY KEY, status text, updated_at timestamp NOT NULL);"
        "INSERT INTO orders VALUES (1, 'new', '2024-01-01 10:00'), (2, 'new', '2024-01-01 11:00'),"
        " (3, 'draft', '2024-01-01 11:30'), (4, ' paid', '2024-01-01 12:00')"
    )
    spec = cursor_spec(pg_conn_id)

    def run() -> Any:
        dag_run, _ = run_pipeline(spec, logical_date=None)
        assert str(dag_run.state) == "success", task_states(dag_run)
        return next(t for t in dag_run.get_task_instances() if t.task_id == "orders").xcom_pull(
            task_ids="orders"
        )

    def copied() -> list[tuple[Any, ...]]:
        return pg.execute("SELECT id, status, updated_at FROM orders_copy ORDER BY id").fetchall()

    first = run()
    assert first["rows"] == 3
    state = cursor_state(pg)
    assert state is not None and (state["column"], state["value"]) == ("updated_at", "2024-01-01T12:00:00")
    assert first["meta"]["incremental"][0]["read_max"] == "2024-01-01T12:00:00"

    # New rows, one exactly at the boundary; an update of an old row (its timestamp moves forward).
    pg.execute(
        "INSERT INTO orders VALUES (5, 'new', '2024-01-01 12:00'), (6, 'new', '2024-01-02 09:00');"
        "UPDATE orders SET status = 'shipped', updated_at = '2024-01-02 08:00' WHERE id = 1"
    )
    second = run()
    assert second["rows"] == 4  # 4 (boundary, read again), 5 (boundary), 1 (updated), 6
    assert cursor_state(pg)["value"] == "2024-01-02T09:00:00"

    # Nothing new at the boundary but one more row with the same timestamp as the cursor.
    pg.execute("INSERT INTO orders VALUES (7, 'new', '2024-01-02 09:00'), (8, 'draft', '2024-01-03 00:00')")
    third = run()
    assert third["rows"] == 2  # 6 and 7; 8 is a draft
    assert cursor_state(pg)["value"] == "2024-01-02T09:00:00"

    at = dt.datetime
    assert copied() == [
        (1, "SHIPPED", at(2024, 1, 2, 8)),
        (2, "NEW", at(2024, 1, 1, 11)),
        (4, "PAID", at(2024, 1, 1, 12)),
        (5, "NEW", at(2024, 1, 1, 12)),
        (6, "NEW", at(2024, 1, 2, 9)),
        (7, "NEW", at(2024, 1, 2, 9)),
    ]

    # A run whose load fails leaves the cursor where it was: those rows are read again next time.
    pg.execute("INSERT INTO orders VALUES (9, 'new', '2024-01-04 00:00')")
    pg.execute("ALTER TABLE orders_copy ADD CONSTRAINT no_nine CHECK (id <> 9)")
    dag_run, _ = run_pipeline(spec, logical_date=None)
    assert str(dag_run.state) == "failed"
    assert task_states(dag_run)["load"] == "failed"
    assert cursor_state(pg)["value"] == "2024-01-02T09:00:00"
    pg.execute("ALTER TABLE orders_copy DROP CONSTRAINT no_nine")
    assert run()["rows"] == 3  # 6, 7 and 9
    assert cursor_state(pg)["value"] == "2024-01-04T00:00:00"
    assert [r[0] for r in copied()] == [1, 2, 4, 5, 6, 7, 9]
