"""Partial pushdown end to end (issue 14): where the rows end up in a file, or the graph forks, the largest
part PostgreSQL can run still runs there, and only its result leaves the database (counted by the real
server's ``pg_stat_statements``); the files and tables written are those of the ETL engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.integration.test_elt_e2e import AGGREGATE, FLIGHTS

pytestmark = pytest.mark.integration

MANY = 20_000


def _graph(pid: str, conn_id: str, engine: str, out: Path, fmt: str) -> dict[str, Any]:
    """flights -> filter -> join airlines -> aggregate -> a file."""
    nodes: list[dict[str, Any]] = [
        {"id": "flights", "module": "source.postgres", "config": {"conn_id": conn_id, "table": "flights"}},
        {"id": "airlines", "module": "source.postgres", "config": {"conn_id": conn_id, "table": "airlines"}},
        {"id": "long", "module": "filter_rows", "config": {"condition": "distance > 720"}},
        {"id": "named", "module": "join", "config": {"how": "left", "on": ["carrier"]}},
        {"id": "per_airline", "module": AGGREGATE[0], "config": AGGREGATE[1]},
        {"id": "top", "module": "sort", "config": {"by": [{"column": "count", "descending": True}]}},
        {"id": "write", "module": "destination.file", "config": {"path": str(out), "format": fmt}},
    ]
    edges = [
        {"source": "flights", "target": "long"},
        {"source": "long", "target": "named", "target_port": "left"},
        {"source": "airlines", "target": "named", "target_port": "right"},
        {"source": "named", "target": "per_airline"},
        {"source": "per_airline", "target": "top"},
        {"source": "top", "target": "write"},
    ]
    return {"id": pid, "engine": engine, "nodes": nodes, "edges": edges}


def _ok(dag_run: Any) -> None:
    assert str(dag_run.state) == "success", {t.task_id: str(t.state) for t in dag_run.get_task_instances()}


def _reset(pg: Any) -> None:
    pg.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    pg.execute("SELECT pg_stat_statements_reset()")


def _returned(pg: Any) -> list[tuple[str, int]]:
    """(statement, rows it returned or copied out) on this database since the reset."""
    return [
        (str(query), int(rows))
        for query, rows in pg.execute(
            "SELECT query, rows FROM pg_stat_statements WHERE dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) AND query ILIKE '%flights%'"
        ).fetchall()
    ]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_graph_into_a_file_leaves_the_database_aggregated(
    run_pipeline: Any, pg: Any, pg_conn_id: str, postgres_server: Any, tmp_path: Path, fmt: str
) -> None:
    """PostgreSQL -> join -> aggregate -> sort -> file: one task runs the graph in the database and stages
    only the aggregated rows; the file has the ETL engine's rows, order and types."""
    assert postgres_server.pg_stat_statements, "pg_stat_statements.so is needed to count what left"
    pg.execute(FLIGHTS)
    pg.execute(
        "INSERT INTO flights SELECT 100 + g, (ARRAY['UA', 'AA', 'B6'])[1 + g % 3], 'EWR', g % 60, 900 + g % 7 "
        f"FROM generate_series(1, {MANY}) AS g"
    )
    outputs = {}
    for engine in ("etl", "auto"):
        pid = f"partial_{engine}_{fmt}"
        out = tmp_path / f"{engine}.{fmt}"
        _reset(pg)
        dag_run, dag = run_pipeline(_graph(pid, pg_conn_id, engine, out, fmt))
        _ok(dag_run)
        statements = _returned(pg)
        if engine == "auto":
            assert sorted(t.task_id for t in dag.tasks) == ["top", "write"]
            assert "ELT, then ETL" in (dag.doc_md or "")
            ti = next(t for t in dag_run.get_task_instances() if t.task_id == "top")
            handle = ti.xcom_pull(task_ids="top")
            assert handle["engine"] == "elt" and " JOIN " in handle["sql"] and handle["rows"] == 4
            nodes = ti.xcom_pull(task_ids="top", key="logidata_metrics")["nodes"]
            assert list(nodes) == ["flights", "airlines", "long", "named", "per_airline", "top"]
            assert nodes["top"]["rows_out"] == 4 and nodes["top"]["seconds"] is not None
            # What left the database: the 4 result rows of the one COPY; nothing read the 20,007 flights.
            copies = [(q, r) for q, r in statements if q.lstrip().upper().startswith("COPY")]
            assert [r for _q, r in copies] == [4], statements
            assert sum(r for _q, r in statements) < 50, statements
        else:
            assert sum(r for _q, r in statements) >= MANY  # the ETL engine reads every flight
        outputs[engine] = pq.read_table(out) if fmt == "parquet" else pacsv.read_csv(out)
    assert outputs["auto"].schema == outputs["etl"].schema
    assert outputs["auto"].to_pylist() == outputs["etl"].to_pylist()  # rows and their order


def test_a_fork_after_pushed_steps_stages_the_fork_once(
    run_pipeline: Any, pg: Any, pg_conn_id: str, tmp_path: Path
) -> None:
    """flights -> filter -> derive -> {a PostgreSQL table, a CSV file}: the filter and derive run in the
    database once, and both destinations get exactly the ETL engine's rows."""
    pg.execute(FLIGHTS)
    results = {}
    for engine in ("etl", "auto"):
        out = tmp_path / f"fork_{engine}.csv"
        nodes = [
            {
                "id": "flights",
                "module": "source.postgres",
                "config": {"conn_id": pg_conn_id, "table": "flights"},
            },
            {"id": "known", "module": "filter_rows", "config": {"condition": "carrier IS NOT NULL"}},
            {
                "id": "hours",
                "module": "derive_column",
                "config": {"columns": [{"name": "late", "expression": "dep_delay > 5"}]},
            },
            {
                "id": "table",
                "module": "destination.postgres",
                "config": {"conn_id": pg_conn_id, "table": f"fork_{engine}", "mode": "replace"},
            },
            {"id": "file", "module": "destination.file", "config": {"path": str(out), "format": "csv"}},
        ]
        edges = [
            {"source": "flights", "target": "known"},
            {"source": "known", "target": "hours"},
            {"source": "hours", "target": "table"},
            {"source": "hours", "target": "file"},
        ]
        dag_run, dag = run_pipeline(
            {"id": f"fork_{engine}", "engine": engine, "nodes": nodes, "edges": edges}
        )
        _ok(dag_run)
        if engine == "auto":
            assert sorted(t.task_id for t in dag.tasks) == ["file", "hours", "table"]
        types = pg.execute(
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position",
            (f"fork_{engine}",),
        ).fetchall()
        rows = pg.execute(f'SELECT * FROM "fork_{engine}" ORDER BY id').fetchall()
        results[engine] = (types, rows, out.read_text())
    assert results["auto"] == results["etl"]
    assert len(results["auto"][1]) == 6


def test_a_failing_pushed_step_fails_its_task_and_writes_nothing(
    run_pipeline: Any, pg: Any, pg_conn_id: str, tmp_path: Path
) -> None:
    """A cast that fails in the pushed-down part stops the run there, with the column and examples; the
    file is never written."""
    pg.execute("CREATE TABLE raw (id int, qty text); INSERT INTO raw VALUES (1, '3'), (2, 'three')")
    out = tmp_path / "never.csv"
    nodes = [
        {"id": "raw", "module": "source.postgres", "config": {"conn_id": pg_conn_id, "table": "raw"}},
        {
            "id": "typed",
            "module": "select_columns",
            "config": {"columns": [{"name": "id"}, {"name": "qty", "cast": "integer"}]},
        },
        {"id": "file", "module": "destination.file", "config": {"path": str(out), "format": "csv"}},
    ]
    edges = [{"source": "raw", "target": "typed"}, {"source": "typed", "target": "file"}]
    dag_run, dag = run_pipeline({"id": "partial_fails", "nodes": nodes, "edges": edges})
    states = {t.task_id: str(t.state) for t in dag_run.get_task_instances()}
    assert states["typed"] == "failed" and states["file"] in ("upstream_failed", "None"), states
    assert not out.exists()


def test_the_pushed_down_error_names_the_node_column_and_values(
    pg: Any, pg_conn_id: str, tmp_path: Path
) -> None:
    from airflow_provider_logidata.engine.elt import EltStep
    from airflow_provider_logidata.engine.elt_read import read_elt
    from airflow_provider_logidata.engine.errors import LogiDataTaskError
    from airflow_provider_logidata.modules.registry import registry

    pg.execute("CREATE TABLE raw (id int, qty text); INSERT INTO raw VALUES (1, '3'), (2, 'three')")
    reg = registry()
    source = reg["source.postgres"].config_model.model_validate({"conn_id": pg_conn_id, "table": "raw"})
    config = {"columns": [{"name": "id"}, {"name": "qty", "cast": "integer"}]}
    step = EltStep("typed", "select_columns", reg["select_columns"].config_model.model_validate(config))
    with pytest.raises(LogiDataTaskError) as caught:
        read_elt("raw", source, [step], str(tmp_path / "out.parquet"))
    message = str(caught.value)
    assert "'typed'" in message and "qty" in message and "three" in message, message
    assert not (tmp_path / "out.parquet").exists()


def test_a_data_interval_prefix_is_pushed_and_a_rerun_replaces_its_interval(
    run_pipeline: Any, pg: Any, pg_conn_id: str, postgres_server: Any, pg_database: str, monkeypatch: Any
) -> None:
    """events (by data interval) -> filter -> a table on another connection: the read and the filter run
    in PostgreSQL, the staged result carries the interval, and the appending destination replaces it, so
    a rerun of a day leaves that day's rows once."""
    import datetime as dt

    monkeypatch.setenv("AIRFLOW_CONN_LOGIDATA_PG_OTHER", postgres_server.airflow_conn(pg_database))
    pg.execute(
        "CREATE TABLE events (id int PRIMARY KEY, happened_at timestamptz NOT NULL, what text);"
        "INSERT INTO events SELECT g, timestamptz '2024-01-01 00:00:00+00' + (g - 1) * interval '4 hours', "
        "'e' || g FROM generate_series(1, 24) g"
    )
    source = {
        "conn_id": pg_conn_id,
        "table": "events",
        "incremental": {"column": "happened_at", "mode": "data_interval"},
    }
    nodes = [
        {"id": "events", "module": "source.postgres", "config": source},
        {"id": "keep", "module": "filter_rows", "config": {"condition": "what <> 'e3'"}},
        {
            "id": "load",
            "module": "destination.postgres",
            "config": {"conn_id": "logidata_pg_other", "table": "events_copy", "mode": "append"},
        },
    ]
    spec = {
        "id": "partial_interval",
        "schedule": "@daily",
        "start_date": "2024-01-01",
        "nodes": nodes,
        "edges": [{"source": "events", "target": "keep"}, {"source": "keep", "target": "load"}],
    }
    for day in (2, 3, 3, 2):  # each day twice
        dag_run, dag = run_pipeline(spec, logical_date=dt.datetime(2024, 1, day, tzinfo=dt.timezone.utc))
        _ok(dag_run)
        assert sorted(t.task_id for t in dag.tasks) == ["keep", "load"]
    ids = [r[0] for r in pg.execute("SELECT id FROM events_copy ORDER BY id").fetchall()]
    assert ids == [1, 2, *range(4, 13)]  # Jan 1 and Jan 2 once each, e3 filtered in the database
