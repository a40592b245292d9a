"""Branches inside a pushed-down graph (issue 14): a node feeding several PostgreSQL tables on the
destinations' connection runs once inside the database (a temporary table) and every table loads in one
transaction, in one task, with the ETL engine's rows and types; a failure leaves every table unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_elt_e2e import FLIGHTS

pytestmark = pytest.mark.integration


def _ok(dag_run: Any) -> None:
    assert str(dag_run.state) == "success", {t.task_id: str(t.state) for t in dag_run.get_task_instances()}


def _table(pg: Any, name: str) -> tuple[list[Any], list[Any]]:
    types = pg.execute(
        "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
        "WHERE table_name = %s ORDER BY ordinal_position",
        (name,),
    ).fetchall()
    order = ", ".join(f"{i + 1} NULLS FIRST" for i in range(len(types)))
    return types, pg.execute(f'SELECT * FROM "{name}" ORDER BY {order}').fetchall()


def _branch(pid: str, conn_id: str, engine: str, suffix: str) -> dict[str, Any]:
    """flights -> filter -> join airlines -> {per-airline counts, the joined rows, the long flights}."""
    nodes: list[dict[str, Any]] = [
        {"id": "flights", "module": "source.postgres", "config": {"conn_id": conn_id, "table": "flights"}},
        {"id": "airlines", "module": "source.postgres", "config": {"conn_id": conn_id, "table": "airlines"}},
        {"id": "known", "module": "filter_rows", "config": {"condition": "carrier IS NOT NULL"}},
        {"id": "named", "module": "join", "config": {"how": "left", "on": ["carrier"]}},
        {
            "id": "per_airline",
            "module": "aggregate",
            "config": {"group_by": ["name"], "aggregations": [{"function": "count"}]},
        },
        {"id": "long", "module": "filter_rows", "config": {"condition": "distance > 1000"}},
    ]
    for table in ("counts", "joined", "long_flights"):
        nodes.append(
            {
                "id": f"write_{table}",
                "module": "destination.postgres",
                "config": {"conn_id": conn_id, "table": f"{table}_{suffix}", "mode": "replace"},
            }
        )
    edges = [
        {"source": "flights", "target": "known"},
        {"source": "known", "target": "named", "target_port": "left"},
        {"source": "airlines", "target": "named", "target_port": "right"},
        {"source": "named", "target": "per_airline"},
        {"source": "named", "target": "write_joined"},
        {"source": "named", "target": "long"},
        {"source": "per_airline", "target": "write_counts"},
        {"source": "long", "target": "write_long_flights"},
    ]
    return {"id": pid, "engine": engine, "nodes": nodes, "edges": edges}


@pytest.mark.parametrize("engine", ["auto", "elt"])
def test_a_join_feeding_three_tables_runs_once_inside_postgres(
    run_pipeline: Any, pg: Any, pg_conn_id: str, postgres_server: Any, engine: str
) -> None:
    pg.execute(FLIGHTS)
    dag_run, _dag = run_pipeline(_branch(f"branch_etl_{engine}", pg_conn_id, "etl", "etl"))
    _ok(dag_run)
    assert postgres_server.pg_stat_statements
    pg.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    pg.execute("SELECT pg_stat_statements_reset()")
    dag_run, dag = run_pipeline(_branch(f"branch_{engine}", pg_conn_id, engine, "elt"))
    _ok(dag_run)
    assert [t.task_id for t in dag.tasks] == ["write_long_flights"]  # one task, named after the last
    assert "in one transaction" in (dag.doc_md or "")
    ti = next(t for t in dag_run.get_task_instances() if t.task_id == "write_long_flights")
    result = ti.xcom_pull(task_ids="write_long_flights")
    assert result["engine"] == "elt"
    assert {k: v["rows"] for k, v in result["destinations"].items()} == {
        "write_counts": 4,  # United, American, JetBlue and no name (XX)
        "write_joined": 6,
        "write_long_flights": 4,
    }
    assert result["sql"].count("CREATE TEMPORARY TABLE") == 1  # the join, shared by three consumers
    metrics = ti.xcom_pull(task_ids="write_long_flights", key="logidata_metrics")["nodes"]
    assert metrics["write_joined"]["rows_out"] == 6 and metrics["named"]["rows_out"] is None
    returned = pg.execute(
        "SELECT coalesce(sum(rows), 0) FROM pg_stat_statements WHERE query ILIKE 'SELECT%%' "
        "AND query ILIKE '%%flights%%' AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    ).fetchone()[0]
    assert returned == 0  # only the catalog was read back: every row stayed in the database
    for table in ("counts", "joined", "long_flights"):
        assert _table(pg, f"{table}_elt") == _table(pg, f"{table}_etl"), table


def test_a_failing_table_leaves_every_table_of_the_graph_unchanged(
    run_pipeline: Any, pg: Any, pg_conn_id: str
) -> None:
    pg.execute(FLIGHTS)
    pg.execute("CREATE TABLE counts_x (name text, count bigint)")
    pg.execute("INSERT INTO counts_x VALUES ('before', 1)")
    pg.execute("CREATE TABLE joined_x (id int, carrier text NOT NULL)")  # flight 7 has no carrier...
    pg.execute("CREATE TABLE long_flights_x (id int)")
    pg.execute("INSERT INTO long_flights_x VALUES (42)")
    spec = _branch("branch_fails", pg_conn_id, "auto", "x")
    spec["nodes"][2]["config"]["condition"] = "true"  # ... and is kept
    for node in spec["nodes"]:
        if node["id"].startswith("write_"):
            node["config"]["mode"] = "append"
    dag_run, dag = run_pipeline(spec)
    assert [t.task_id for t in dag.tasks] == ["write_long_flights"]
    assert str(dag_run.state) == "failed"
    assert pg.execute("SELECT * FROM counts_x").fetchall() == [("before", 1)]
    assert pg.execute("SELECT count(*) FROM joined_x").fetchone()[0] == 0
    assert pg.execute("SELECT * FROM long_flights_x").fetchall() == [(42,)]


def test_the_error_names_the_table_and_says_all_are_unchanged(pg: Any, pg_conn_id: str) -> None:
    from airflow_provider_logidata.engine.elt import EltSink, EltStep, run_elt
    from airflow_provider_logidata.engine.errors import LogiDataTaskError
    from airflow_provider_logidata.modules.registry import registry

    pg.execute(FLIGHTS)
    pg.execute("CREATE TABLE strict_x (id int, carrier text NOT NULL)")
    reg = registry()
    source = reg["source.postgres"].config_model.model_validate({"conn_id": pg_conn_id, "table": "flights"})

    def destination(table: str) -> Any:
        config = {"conn_id": pg_conn_id, "table": table, "mode": "append"}
        return reg["destination.postgres"].config_model.model_validate(config)

    step = EltStep(
        "all", "filter_rows", reg["filter_rows"].config_model.model_validate({"condition": "true"})
    )
    sinks = [EltSink("a", destination("copy_x"), "all"), EltSink("b", destination("strict_x"), "all")]
    with pytest.raises(LogiDataTaskError) as caught:
        run_elt("flights", source, [step], "b", sinks[1].config, sinks=sinks)
    message = str(caught.value)
    assert "'b'" in message and "carrier" in message and "one transaction" in message, message
    assert "public.copy_x" in message and "public.strict_x" in message, message
    assert pg.execute("SELECT to_regclass('public.copy_x')").fetchone()[0] is None


def _route(pid: str, conn_id: str, engine: str, suffix: str, condition: str) -> dict[str, Any]:
    """flights -> route -> {matched: a table, unmatched: filter -> another table}."""
    nodes: list[dict[str, Any]] = [
        {"id": "flights", "module": "source.postgres", "config": {"conn_id": conn_id, "table": "flights"}},
        {"id": "split", "module": "route", "config": {"condition": condition}},
        {"id": "far", "module": "filter_rows", "config": {"condition": "distance > 700"}},
        {
            "id": "write_matched",
            "module": "destination.postgres",
            "config": {"conn_id": conn_id, "table": f"matched_{suffix}", "mode": "replace"},
        },
        {
            "id": "write_other",
            "module": "destination.postgres",
            "config": {"conn_id": conn_id, "table": f"other_{suffix}", "mode": "replace"},
        },
    ]
    edges = [
        {"source": "flights", "target": "split"},
        {"source": "split", "source_port": "matched", "target": "write_matched"},
        {"source": "split", "source_port": "unmatched", "target": "far"},
        {"source": "far", "target": "write_other"},
    ]
    return {"id": pid, "engine": engine, "nodes": nodes, "edges": edges}


def test_a_route_runs_inside_postgres_like_etl(run_pipeline: Any, pg: Any, pg_conn_id: str) -> None:
    """Each row to exactly one output, the null condition (no delay) to unmatched, as in ETL."""
    pg.execute(FLIGHTS)
    condition = "dep_delay > 5 AND origin <> 'LGA'"
    dag_run, _dag = run_pipeline(_route("route_etl", pg_conn_id, "etl", "etl", condition))
    _ok(dag_run)
    dag_run, dag = run_pipeline(_route("route_elt", pg_conn_id, "elt", "elt", condition))
    _ok(dag_run)
    assert [t.task_id for t in dag.tasks] == ["write_other"]
    result = next(t for t in dag_run.get_task_instances() if t.task_id == "write_other").xcom_pull(
        task_ids="write_other"
    )
    assert "logidata_route_" in result["sql"]  # the flagged input, computed once for both outputs
    for table in ("matched", "other"):
        assert _table(pg, f"{table}_elt") == _table(pg, f"{table}_etl"), table
    assert len(_table(pg, "matched_elt")[1]) == 2


def test_a_volatile_route_sends_each_row_to_exactly_one_table(
    run_pipeline: Any, pg: Any, pg_conn_id: str
) -> None:
    pg.execute(FLIGHTS)
    spec = _route("route_random", pg_conn_id, "auto", "r", "random() < 0.5")
    spec["nodes"][2]["config"]["condition"] = "true"
    dag_run, dag = run_pipeline(spec)
    _ok(dag_run)
    assert [t.task_id for t in dag.tasks] == ["write_other"]
    ids = [r[0] for r in pg.execute("SELECT id FROM matched_r UNION ALL SELECT id FROM other_r").fetchall()]
    assert sorted(ids) == list(range(1, 8))


def test_a_routes_outputs_preview_inside_postgres_like_etl(pg: Any, pg_conn_id: str) -> None:
    """Previewing after a pushed-down route reads the right output (unmatched before 'far')."""
    from airflow_provider_logidata.preview.execute import run_plan
    from airflow_provider_logidata.preview.plan import plan_preview

    pg.execute(FLIGHTS)
    answers = {}
    for engine in ("auto", "etl"):
        data = _route(f"route_preview_{engine}", pg_conn_id, engine, engine, "dep_delay > 5")
        answers[engine] = run_plan(plan_preview(data, "far", limit=100))
    assert answers["auto"]["engine"] == "elt" and answers["etl"]["engine"] == "etl"
    assert sorted(map(str, answers["auto"]["rows"])) == sorted(map(str, answers["etl"]["rows"]))
    assert answers["auto"]["rows"]
