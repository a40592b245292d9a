"""Incremental loads end to end (issue 11): stored JSON -> real DAG factory -> `dag.test()` against the
suite's real PostgreSQL, moto's S3 server and local files.

- item 2: one cursor source feeding two PostgreSQL destinations and a file folder; one destination fails
  on run 2 after 300 new rows, is fixed, and after run 3 every destination holds exactly the source rows;
- item 3: a cursor source into files, local and on S3: run 2 reads only the rows at or after the cursor and
  the outputs together hold exactly the source rows;
- item 4: a day loaded again (data_interval) with append, merge, a file per day and the ELT path holds the
  day's rows once; cursor + append over three runs with rows tied on the cursor value;
- item 5: cursor + engine elt is refused at validation where the source branches; a linear cursor path
  runs inside PostgreSQL with auto (issue 14; more in test_elt_cursor.py).
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import specs

pytestmark = pytest.mark.integration

UTC = dt.timezone.utc


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def result(dag_run: Any, task_id: str) -> Any:
    return dag_run.get_task_instance(task_id).xcom_pull(task_ids=task_id)


def variable(key: str) -> Any:
    import json

    from airflow.models import Variable

    value = Variable.get(key, default_var=None)
    return None if value is None else json.loads(value)


def forget_variables(prefix: str) -> None:
    """Variables persist across the session's tests: each test starts without its pipeline's."""
    from airflow.models import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Variable).filter(Variable.key.like(f"{prefix}%")).delete(synchronize_session=False)


def rows(pg: Any, sql: str) -> Counter[tuple[Any, ...]]:
    """A table's rows as a multiset: equal multisets mean no row lost, duplicated or changed."""
    return Counter(tuple(r) for r in pg.execute(sql).fetchall())


def cursor_state(pg: Any, dag_id: str, destination: str, schema: str = "public") -> dict[str, Any] | None:
    row = pg.execute(
        f"SELECT state FROM {schema}.logidata_cursor_state WHERE dag_id = %s AND destination_task = %s",
        (dag_id, destination),
    ).fetchone()
    return None if row is None else dict(row[0])


ORDERS = "CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, updated_at timestamp NOT NULL)"


def add_orders(pg: Any, first: int, last: int, minutes: str = "g / 7") -> None:
    """Orders ``first..last``; seven share each minute (ties on the cursor value)."""
    pg.execute(
        "INSERT INTO orders SELECT g, CASE WHEN g % 3 = 0 THEN ' paid' ELSE 'new ' END, "
        f"timestamp '2024-01-01' + ({minutes}) * interval '1 minute' FROM generate_series({first}, {last}) g"
    )


# --- item 2: two destinations, one failing --------------------------------------------------------------


def test_cursor_two_destinations_one_failing_loses_nothing(
    run_pipeline: Any, pg: Any, pg_conn_id: str, tmp_path: Path
) -> None:
    dag_id = "inc_two_destinations"
    forget_variables(f"logidata.cursor.{dag_id}.")
    pg.execute(ORDERS)
    add_orders(pg, 1, 1000)
    # b refuses ids above 1000 until it is fixed: run 2 fails there after 300 new rows.
    pg.execute("CREATE TABLE b_copy (id int CHECK (id <= 1000), status text, updated_at timestamp)")
    folder = tmp_path / "orders_files"
    spec = specs.graph(
        [
            specs.incremental_source(pg_conn_id, "orders", "updated_at"),
            {"id": "tidy", "module": "clean_text", "config": {"columns": ["status"], "case": "upper"}},
            specs.pg_destination(pg_conn_id, "a", table="a_copy"),
            specs.pg_destination(pg_conn_id, "b", table="b_copy"),
            specs.file_destination("files", f"{folder}/"),
        ],
        [("orders", "tidy"), ("tidy", "a"), ("tidy", "b"), ("orders", "files")],
        dag_id,
    )
    expected_clean = "SELECT id, upper(trim(status)), updated_at FROM orders"

    def run() -> Any:
        dag_run, _ = run_pipeline(spec, logical_date=None)
        return dag_run

    dag_run = run()
    assert str(dag_run.state) == "success", states(dag_run)
    assert result(dag_run, "orders")["rows"] == 1000
    max_run1 = pg.execute("SELECT max(updated_at) FROM orders").fetchone()[0]

    # 300 new orders, the first ones at the same minute as run 1's last (a tie on the cursor value).
    add_orders(pg, 1001, 1300, minutes="(g - 2) / 7")
    dag_run = run()
    assert str(dag_run.state) == "failed"
    assert states(dag_run) == {
        "orders": "success",
        "tidy": "success",
        "a": "success",
        "b": "failed",
        "files": "success",
    }
    assert rows(pg, "SELECT * FROM a_copy") == rows(pg, expected_clean)
    assert pg.execute("SELECT count(*) FROM b_copy").fetchone() == (1000,)
    assert cursor_state(pg, dag_id, "b")["value"] == max_run1.isoformat()  # b's cursor did not move

    pg.execute("ALTER TABLE b_copy DROP CONSTRAINT b_copy_id_check")
    dag_run = run()
    assert str(dag_run.state) == "success", states(dag_run)
    # The source read again from b's cursor (the older one): the boundary rows of run 1 and the 300.
    at_b = pg.execute("SELECT count(*) FROM orders WHERE updated_at >= %s", (max_run1,)).fetchone()[0]
    assert result(dag_run, "orders")["rows"] == at_b
    assert result(dag_run, "a")["rows"] == 0  # a already held all of them
    assert result(dag_run, "b")["rows"] == 300
    for table in ("a_copy", "b_copy"):
        assert rows(pg, f"SELECT * FROM {table}") == rows(pg, expected_clean), table
    import pyarrow.dataset as ds

    files = ds.dataset(str(folder), format="parquet").to_table()
    assert Counter(files.column("id").to_pylist()) == Counter(range(1, 1301))
    final = pg.execute("SELECT max(updated_at) FROM orders").fetchone()[0].isoformat()
    assert cursor_state(pg, dag_id, "a")["value"] == cursor_state(pg, dag_id, "b")["value"] == final
    assert variable(f"logidata.cursor.{dag_id}.orders.files")["value"] == final


# --- item 3: cursor into files, local and S3 ------------------------------------------------------------


def test_cursor_into_local_files_and_s3(
    run_pipeline: Any, pg: Any, pg_conn_id: str, tmp_path: Path, s3_server: str, s3_bucket: str
) -> None:
    import boto3
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    dag_id = "inc_cursor_files"
    forget_variables(f"logidata.cursor.{dag_id}.")
    pg.execute(ORDERS)
    add_orders(pg, 1, 500)
    local = tmp_path / "exports"
    spec = specs.fan_out(
        specs.incremental_source(pg_conn_id, "orders", "updated_at"),
        [
            # One CSV file per run (a new file every run: nothing rewritten).
            specs.file_destination("local_csv", f"{local}/orders_{{{{ ts_nodash }}}}.csv", format="csv"),
            # One S3 folder partitioned by status: each run adds its files.
            specs.file_destination(
                "s3_parts", f"s3://{s3_bucket}/orders/", conn_id="logidata_s3", partition_by=["status"]
            ),
            # One S3 Parquet file: each run rewrites it with its rows plus the new ones.
            specs.file_destination("s3_file", f"s3://{s3_bucket}/all_orders.parquet", conn_id="logidata_s3"),
        ],
        dag_id,
    )
    reads = []
    for day in (1, 2, 3):
        if day == 2:
            add_orders(pg, 501, 620, minutes="(g - 3) / 7")  # the first new orders tie with run 1's last
        dag_run, _ = run_pipeline(spec, logical_date=dt.datetime(2024, 2, day, tzinfo=UTC))
        assert str(dag_run.state) == "success", states(dag_run)
        reads.append(result(dag_run, "orders")["rows"])
        if day == 2:
            added = [result(dag_run, d)["rows"] for d in ("local_csv", "s3_parts", "s3_file")]
            assert added == [120, 120, 120]
    # Run 2 read only the rows at or after run 1's cursor (its boundary rows and the 120 new ones), run 3
    # only the boundary rows of run 2: never the whole table again.
    boundary_1 = pg.execute(
        "SELECT count(*) FROM orders WHERE id <= 500 AND updated_at = (SELECT max(updated_at) FROM orders "
        "WHERE id <= 500)"
    ).fetchone()[0]
    boundary_2 = pg.execute(
        "SELECT count(*) FROM orders WHERE updated_at = (SELECT max(updated_at) FROM orders)"
    ).fetchone()[0]
    assert reads == [500, boundary_1 + 120, boundary_2]

    files = sorted(local.glob("orders_*.csv"))
    assert len(files) == 3
    local_ids = [i for f in files for i in pacsv.read_csv(f).column("id").to_pylist()]
    assert Counter(local_ids) == Counter(range(1, 621))

    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix="orders/").get("Contents", [])]
    s3_ids = []
    for key in keys:
        body = s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
        s3_ids += pq.read_table(io.BytesIO(body)).column("id").to_pylist()
    assert Counter(s3_ids) == Counter(range(1, 621))
    body = s3.get_object(Bucket=s3_bucket, Key="all_orders.parquet")["Body"].read()
    assert Counter(pq.read_table(io.BytesIO(body)).column("id").to_pylist()) == Counter(range(1, 621))
    final = pg.execute("SELECT max(updated_at) FROM orders").fetchone()[0].isoformat()
    for destination in ("local_csv", "s3_parts", "s3_file"):
        assert variable(f"logidata.cursor.{dag_id}.orders.{destination}")["value"] == final


# --- item 4: reruns -------------------------------------------------------------------------------------

DAY_ROWS = 3311


def events_table(pg: Any) -> None:
    """3,311 events per day on Jan 1-3, the first of each day exactly at midnight."""
    pg.execute(
        "CREATE TABLE events (id int PRIMARY KEY, happened_at timestamptz NOT NULL, what text);"
        "INSERT INTO events SELECT g, timestamptz '2024-01-01 00:00+00' + ((g - 1) / 3311) * interval '1 day' "
        "+ ((g - 1) % 3311) * interval '26 seconds', 'e' || g FROM generate_series(1, 3 * 3311) g"
    )


def test_interval_rerun_replaces_the_day(run_pipeline: Any, pg: Any, pg_conn_id: str, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    events_table(pg)
    folder = tmp_path / "events"
    spec = specs.fan_out(
        specs.incremental_source(pg_conn_id, "events", "happened_at", "data_interval"),
        [
            specs.pg_destination(pg_conn_id, "append", table="ev_append"),
            specs.pg_destination(pg_conn_id, "merge", table="ev_merge", mode="merge", keys=["id"]),
            specs.file_destination("day_file", f"{folder}/day={{{{ ds }}}}/events.parquet"),
        ],
        "inc_interval_rerun",
        engine="etl",
        **specs.DAILY,
    )
    loaded: set[int] = set()
    # The run at Jan 2 00:00 reads Jan 1; run Jan 2, Jan 3, then Jan 2 and Jan 3 again (reruns), Jan 4.
    for day in (2, 3, 2, 3, 4):
        dag_run, _ = run_pipeline(spec, logical_date=dt.datetime(2024, 1, day, tzinfo=UTC))
        assert str(dag_run.state) == "success", states(dag_run)
        assert result(dag_run, "events")["rows"] == DAY_ROWS
        loaded.add(day - 1)
        expected = rows(pg, f"SELECT * FROM events WHERE happened_at < '2024-01-0{max(loaded) + 1}'")
        for table in ("ev_append", "ev_merge"):
            assert rows(pg, f"SELECT * FROM {table}") == expected, (day, table)
        assert pg.execute("SELECT count(*) FROM ev_append").fetchone() == (DAY_ROWS * len(loaded),)
    for day in (1, 2, 3):
        path = folder / f"day=2024-01-0{day + 1}" / "events.parquet"
        ids = pq.read_table(path).column("id").to_pylist()
        assert sorted(ids) == list(range((day - 1) * DAY_ROWS + 1, day * DAY_ROWS + 1)), day
    assert sorted(p.name for p in folder.iterdir()) == ["day=2024-01-02", "day=2024-01-03", "day=2024-01-04"]


def test_interval_rerun_through_elt(run_pipeline: Any, pg: Any, pg_conn_id: str) -> None:
    """The pushed-down path replaces the interval the same way, in its one transaction."""
    events_table(pg)
    spec = specs.linear(
        [
            specs.incremental_source(pg_conn_id, "events", "happened_at", "data_interval"),
            {"id": "keep", "module": "filter_rows", "config": {"condition": "id % 2 = 0"}},
            specs.pg_destination(pg_conn_id, "load", table="ev_elt"),
        ],
        "inc_interval_elt",
        engine="elt",
        **specs.DAILY,
    )
    for day in (2, 2, 3, 2):
        dag_run, _ = run_pipeline(spec, logical_date=dt.datetime(2024, 1, day, tzinfo=UTC))
        assert str(dag_run.state) == "success", states(dag_run)
        assert result(dag_run, "load")["engine"] == "elt"
    expected = rows(pg, "SELECT * FROM events WHERE happened_at < '2024-01-03' AND id % 2 = 0")
    assert rows(pg, "SELECT * FROM ev_elt") == expected


@pytest.mark.parametrize("engine", ["etl", "auto"])
def test_cursor_append_three_runs_with_ties(run_pipeline: Any, pg: Any, pg_conn_id: str, engine: str) -> None:
    """The same loads in the ETL engine and, with auto, inside PostgreSQL (issue 14: engine.elt_cursor)."""
    dag_id = f"inc_cursor_ties_{engine}"
    pg.execute(
        "CREATE TABLE feed (id int, v text, at timestamptz NOT NULL);"
        "INSERT INTO feed SELECT g, 'v' || (g % 5), timestamptz '2024-01-01 00:00+00' + (g / 10) * interval '1 s' "
        "FROM generate_series(1, 2000) g"
    )
    spec = specs.linear(
        [
            specs.incremental_source(pg_conn_id, "feed", "at"),
            {"id": "keep", "module": "filter_rows", "config": {"condition": "v <> 'v4'"}},
            specs.pg_destination(pg_conn_id, "load", table="feed_copy"),
        ],
        dag_id,
        engine=engine,
    )
    expected = "SELECT * FROM feed WHERE v <> 'v4'"

    def run() -> Any:
        dag_run, _ = run_pipeline(spec, logical_date=None)
        assert str(dag_run.state) == "success", states(dag_run)
        return dag_run

    run()
    assert rows(pg, "SELECT * FROM feed_copy") == rows(pg, expected)
    # Rows added later at the same timestamp as the previous maximum (and an identical twin of a row
    # already loaded), plus newer ones.
    pg.execute(
        "INSERT INTO feed SELECT g, 'v' || (g % 5), (SELECT max(at) FROM feed) FROM generate_series(2001, 2005) g;"
        "INSERT INTO feed SELECT id, v, at FROM feed WHERE id = 2000;"
        "INSERT INTO feed SELECT g, 'v1', timestamptz '2024-01-01 00:10+00' FROM generate_series(2006, 2010) g"
    )
    dag_run = run()
    # Read again from the cursor: the boundary row 2000 (dropped: already loaded) and 11 new rows, of which
    # 2004 is filtered out; its identical twin is a new row (the boundary is a multiset).
    if engine == "etl":
        assert result(dag_run, "feed")["rows"] == 12
    else:
        assert result(dag_run, "load")["engine"] == "elt" and dag_run.dag.task_ids == ["load"]
    assert result(dag_run, "load")["rows"] == 10
    assert rows(pg, "SELECT * FROM feed_copy") == rows(pg, expected)
    pg.execute(
        "INSERT INTO feed SELECT g, 'v2', timestamptz '2024-01-01 00:10+00' FROM generate_series(2011, 2013) g"
    )
    run()
    assert rows(pg, "SELECT * FROM feed_copy") == rows(pg, expected)
    run()  # nothing new: nothing loaded
    assert rows(pg, "SELECT * FROM feed_copy") == rows(pg, expected)
    state = cursor_state(pg, dag_id, "load")
    assert state["value"] == "2024-01-01T00:10:00+00:00"
    assert sum(state["boundary"].values()) == 8  # 2006..2013, all at 00:10


# --- item 5: cursor and ELT -----------------------------------------------------------------------------


def cursor_pipeline(dag_id: str, conn_id: str, engine: str) -> dict[str, Any]:
    return specs.linear(
        [
            specs.incremental_source(conn_id, "orders", "updated_at"),
            specs.pg_destination(conn_id, "load", table="orders_copy"),
        ],
        dag_id,
        engine=engine,
    )


def test_cursor_with_engine_auto_runs_in_postgresql(run_pipeline: Any, pg: Any, pg_conn_id: str) -> None:
    """Issue 14: a linear cursor path runs inside PostgreSQL with auto (it used to run as ETL)."""
    pg.execute(ORDERS)
    add_orders(pg, 1, 50)
    dag_run, dag = run_pipeline(cursor_pipeline("inc_cursor_auto", pg_conn_id, "auto"), logical_date=None)
    assert str(dag_run.state) == "success", states(dag_run)
    assert dag.task_ids == ["load"] and type(dag.get_task("load")).__name__ == "ELTOperator"
    assert result(dag_run, "load")["engine"] == "elt"
    assert "- ELT: `orders → load` runs as one SQL statement inside PostgreSQL" in dag.doc_md
    assert "reads by cursor" not in dag.doc_md
    add_orders(pg, 51, 60)
    dag_run, _ = run_pipeline(cursor_pipeline("inc_cursor_auto", pg_conn_id, "auto"), logical_date=None)
    assert result(dag_run, "load")["rows"] == 10
    assert rows(pg, "SELECT * FROM orders_copy") == rows(pg, "SELECT * FROM orders")


def test_cursor_with_engine_elt_is_refused_at_validation_where_it_branches(
    pg_conn_id: str, tmp_path: Path
) -> None:
    """A cursor source feeding a table and a file keeps a cursor per destination: with engine 'elt' it is
    refused at validation naming the source (a linear path is accepted: tests/integration/test_elt_cursor.py),
    never a DAG build error."""
    import json

    from airflow_provider_logidata.dag_factory import load_pipelines

    folder = tmp_path / "pipelines"
    folder.mkdir()
    spec = cursor_pipeline("inc_cursor_elt", pg_conn_id, "elt")
    spec["nodes"].append(specs.file_destination("files", f"{tmp_path}/out/"))
    spec["edges"].append({"source": "orders", "target": "files"})
    (folder / "inc_cursor_elt.json").write_text(json.dumps(spec))
    namespace: dict[str, Any] = {"__file__": str(tmp_path / "loader.py")}
    report = load_pipelines(namespace, pipelines_path=str(folder), report_path=str(tmp_path / "report.json"))
    [failed] = report.failed
    [issue] = failed.errors
    assert issue["path"] == "engine"
    assert "destination.postgres node 'load' cannot run inside PostgreSQL" in issue["message"], issue
    assert "node 'orders' feeds 2 nodes (a branch)" in issue["message"]
    assert "building the DAG failed" not in json.dumps(failed.errors)
    assert not [key for key in namespace if key.startswith("logidata_dag__")]
