"""Partial pushdown through a node with several outputs: a ``route`` or a ``quality_check`` whose outputs
leave the database (files, or one into a table on the same connection) is the exit of the pushed-down
sub-graph. ``flights -> filter -> route/quality_check`` runs in PostgreSQL in one snapshot, each port's
rows are staged on their own, where the ETL engine stages them, and only those rows leave the database
(counted by the real server's ``pg_stat_statements``). Table-driven parity with ``engine: etl``: the same
files (schema, rows, order, NULLs) and tables (types, rows), the same check verdicts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.integration.test_elt_branches import _table
from tests.integration.test_elt_e2e import FLIGHTS

pytestmark = pytest.mark.integration

MANY = 20_000  # rows the filter drops inside the database: they must never leave it

ROUTE = ("route", {"condition": "dep_delay > 5"})  # the NULL delay (flight 3) goes to unmatched
CHECKS = [
    {"type": "not_null", "column": "carrier"},  # flight 7
    {"type": "range", "column": "dep_delay", "max": 40},  # flight 4; the NULL delay (3) passes
    {"type": "accepted_values", "column": "origin", "values": ["EWR", "JFK"]},
    {"type": "row_count_between", "min": 1},
]

# exit node (module, config), then per output port: where it goes ("file": Parquet, "table": a
# destination.postgres on the sources' connection, None: not connected) and the rows it holds.
CASES: dict[str, dict[str, Any]] = {
    "route-two-files": {
        "exit": ROUTE,
        "ports": {"matched": ("file", 2), "unmatched": ("file", 3)},
        "once": "logidata_route_",
    },
    "route-table-and-file": {
        "exit": ROUTE,
        "ports": {"matched": ("table", 2), "unmatched": ("file", 3)},
        "once": "logidata_route_",
    },
    "route-one-port-connected": {
        "exit": ROUTE,
        "ports": {"matched": (None, 2), "unmatched": ("file", 3)},
        "once": "logidata_route_",
    },
    "quality-check-quarantine": {
        "exit": ("quality_check", {"checks": CHECKS, "action": "quarantine", "keys": ["id"]}),
        "ports": {"out": ("file", 3), "rejected": ("file", 2)},
        "once": "logidata_check_",
    },
    "quality-check-quarantine-table": {
        "exit": ("quality_check", {"checks": CHECKS, "action": "quarantine"}),
        "ports": {"out": ("file", 3), "rejected": ("table", 2)},
        "once": "logidata_check_",
    },
    "quality-check-warn": {
        "exit": ("quality_check", {"checks": CHECKS, "action": "warn"}),
        "ports": {"out": ("file", 5), "rejected": ("file", 0)},
        "once": None,  # nothing set aside: out reads the input, rejected is empty
    },
}


def _spec(pid: str, conn_id: str, engine: str, case: dict[str, Any], out: Path) -> dict[str, Any]:
    """flights -> filter (distance > 1000) -> the exit -> a destination per connected port."""
    module, config = case["exit"]
    nodes: list[dict[str, Any]] = [
        {"id": "flights", "module": "source.postgres", "config": {"conn_id": conn_id, "table": "flights"}},
        {"id": "far", "module": "filter_rows", "config": {"condition": "distance > 1000"}},
        {"id": "split", "module": module, "config": copy.deepcopy(config)},
    ]
    edges = [{"source": "flights", "target": "far"}, {"source": "far", "target": "split"}]
    for port, (kind, _rows) in case["ports"].items():
        if kind is None:
            continue
        target = f"write_{port}"
        if kind == "file":
            config = {"path": str(out / f"{engine}_{port}.parquet"), "format": "parquet"}
            nodes.append({"id": target, "module": "destination.file", "config": config})
        else:
            config = {"conn_id": conn_id, "table": f"{pid}_{port}", "mode": "replace"}
            nodes.append({"id": target, "module": "destination.postgres", "config": config})
        edges.append({"source": "split", "source_port": port, "target": target})
    return {"id": pid, "engine": engine, "nodes": nodes, "edges": edges}


def _ok(dag_run: Any) -> None:
    assert str(dag_run.state) == "success", {t.task_id: str(t.state) for t in dag_run.get_task_instances()}


def _statements(pg: Any) -> list[tuple[str, int, int]]:
    """(statement, calls, rows returned, copied or inserted) on this database since the reset."""
    return [
        (str(query), int(calls), int(rows))
        for query, calls, rows in pg.execute(
            "SELECT query, calls, rows FROM pg_stat_statements WHERE dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchall()
    ]


def _left(statements: list[tuple[str, int, int]]) -> tuple[int, int]:
    """Rows copied out of the database (``COPY ... TO STDOUT``) and rows of SELECTs reading flights."""
    copied = sum(
        rows
        for query, _calls, rows in statements
        if query.lstrip().upper().startswith("COPY") and "TO STDOUT" in query.upper()
    )
    selected = sum(
        rows
        for query, _calls, rows in statements
        if query.lstrip().upper().startswith("SELECT") and "flights" in query.lower()
    )
    return copied, selected


@pytest.mark.parametrize("name", list(CASES))
def test_a_multi_output_exit_stages_each_port_like_etl(
    run_pipeline: Any, pg: Any, pg_conn_id: str, postgres_server: Any, tmp_path: Path, name: str
) -> None:
    assert postgres_server.pg_stat_statements, "pg_stat_statements.so is needed to count what left"
    case = CASES[name]
    pg.execute(FLIGHTS)
    pg.execute(  # all of them shorter than 1000: the filter drops them inside the database
        "INSERT INTO flights SELECT 100 + g, (ARRAY['UA', 'AA', 'B6'])[1 + g % 3], 'EWR', g % 60, 900 + g % 7 "
        f"FROM generate_series(1, {MANY}) AS g"
    )
    pg.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    results: dict[str, dict[str, Any]] = {}
    for engine in ("etl", "auto"):
        pid = f"ports_{engine}_{name}".replace("-", "_")
        pg.execute("SELECT pg_stat_statements_reset()")
        dag_run, dag = run_pipeline(_spec(pid, pg_conn_id, engine, case, tmp_path))
        _ok(dag_run)
        statements = _statements(pg)
        copied, selected = _left(statements)
        ti = next(t for t in dag_run.get_task_instances() if t.task_id == "split")
        port_rows = {
            port: ti.xcom_pull(task_ids="split", key=f"output__{port}")["rows"] for port in case["ports"]
        }
        assert port_rows == {port: rows for port, (_kind, rows) in case["ports"].items()}
        ports = list(case["ports"])
        if engine == "auto":
            connected = [f"write_{p}" for p, (kind, _rows) in case["ports"].items() if kind is not None]
            # the source and the filter run inside the exit's task; each connected port its own task
            assert sorted(t.task_id for t in dag.tasks) == sorted(["split", *connected])
            assert "only the rows of its outputs" in (dag.doc_md or "")
            handle = ti.xcom_pull(task_ids="split")
            assert handle["engine"] == "elt" and handle["rows"] == port_rows[ports[0]]
            assert handle["uri"] == ti.xcom_pull(task_ids="split", key=f"output__{ports[0]}")["uri"]
            assert handle["uri"].endswith(f"/split/{ports[0]}/part-00000.parquet")  # where ETL stages it
            metrics = ti.xcom_pull(task_ids="split", key="logidata_metrics")["nodes"]
            assert list(metrics) == ["flights", "far", "split"]
            assert metrics["split"]["rows_out"] == sum(port_rows.values())
            # Only the ports' rows left the database, each once; none of the 20,007 flights was read out.
            assert copied == sum(port_rows.values()), statements
            assert selected < 50, statements
            if case["once"]:
                # the exit's input was computed once, into a temporary table every port reads
                created = [
                    (q, calls)
                    for q, calls, _rows in statements
                    if q.lstrip().upper().startswith("CREATE TEMP")
                ]
                assert [calls for q, calls in created if case["once"] in q] == [1], statements
                assert case["once"] in handle["sql"]
                copies = [
                    q
                    for q, _c, _r in statements
                    if q.lstrip().upper().startswith("COPY") and "TO STDOUT" in q.upper()
                ]
                assert len(copies) == len(ports) and all("flights" not in q for q in copies), copies
        else:
            assert selected + copied >= MANY  # the ETL engine reads every flight
        outputs: dict[str, Any] = {}
        for port, (kind, _rows) in case["ports"].items():
            if kind == "file":
                table = pq.read_table(tmp_path / f"{engine}_{port}.parquet")
                outputs[port] = (table.schema, table.to_pylist())
            elif kind == "table":
                outputs[port] = _table(pg, f"{pid}_{port}")
        results[engine] = outputs
    assert results["auto"] == results["etl"]  # schema, rows, their order, NULLs; tables' types and rows
    if name == "route-two-files":
        unmatched = results["auto"]["unmatched"][1]
        assert [row["id"] for row in unmatched] == [2, 3, 7] and unmatched[1]["dep_delay"] is None
    if name == "quality-check-quarantine":
        rejected = results["auto"]["rejected"][1]
        assert [(row["id"], row["_rejected_reason"]) for row in rejected] == [
            (4, "range(dep_delay)"),
            (7, "not_null(carrier)"),
        ]


def test_a_failing_check_at_the_exit_fails_like_etl_and_stages_nothing(
    run_pipeline: Any, pg: Any, pg_conn_id: str, tmp_path: Path
) -> None:
    """action fail: the exit's task fails in both engines and nothing after it runs; pushed down, with the
    ETL engine's message (the ETL builder over the same staged input), before any port is staged."""
    from airflow_provider_logidata.engine.elt import EltStep
    from airflow_provider_logidata.engine.elt_read import read_elt, read_elt_ports
    from airflow_provider_logidata.engine.errors import LogiDataTaskError
    from airflow_provider_logidata.engine.multi import run_multi
    from airflow_provider_logidata.modules.registry import registry
    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

    pg.execute(FLIGHTS)
    config = {"checks": CHECKS, "action": "fail", "keys": ["id"]}
    case = {"exit": ("quality_check", config), "ports": {"out": ("file", 0), "rejected": ("file", 0)}}
    for engine in ("etl", "auto"):
        dag_run, dag = run_pipeline(_spec(f"ports_fail_{engine}", pg_conn_id, engine, case, tmp_path))
        states = {t.task_id: str(t.state) for t in dag_run.get_task_instances()}
        assert str(dag_run.state) == "failed" and states["split"] == "failed", states
        assert not (tmp_path / f"{engine}_out.parquet").exists()
        if engine == "auto":
            assert sorted(t.task_id for t in dag.tasks) == ["split", "write_out", "write_rejected"]

    reg = registry()
    source = PostgresSourceConfig.model_validate({"conn_id": pg_conn_id, "table": "flights"})
    far = EltStep(
        "far", "filter_rows", reg["filter_rows"].config_model.model_validate({"condition": "distance > 1000"})
    )
    check = EltStep("split", "quality_check", reg["quality_check"].config_model.model_validate(config))
    staged = read_elt("flights", source, [far], str(tmp_path / "far.parquet"))
    with pytest.raises(LogiDataTaskError) as etl:
        run_multi(
            config,
            "split",
            [staged],
            ["far"],
            lambda port: str(tmp_path / "etl" / port / "part-00000.parquet"),
            module="quality_check",
        )
    uris = {port: str(tmp_path / "elt" / port / "part-00000.parquet") for port in ("out", "rejected")}
    with pytest.raises(LogiDataTaskError) as elt:
        read_elt_ports("flights", source, [far, check], uris)
    assert str(elt.value) == str(etl.value)
    assert "2 of 4 check(s) failed on 5 row(s)" in str(elt.value), str(elt.value)
    assert not (tmp_path / "elt").exists()


def test_a_single_output_exit_is_unchanged(pg: Any, pg_conn_id: str, tmp_path: Path) -> None:
    """read_elt still stages one result at the given URI (no port directory, no port XComs)."""
    from airflow_provider_logidata.engine.elt import EltStep
    from airflow_provider_logidata.engine.elt_read import read_elt
    from airflow_provider_logidata.modules.registry import registry
    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

    pg.execute(FLIGHTS)
    reg = registry()
    source = PostgresSourceConfig.model_validate({"conn_id": pg_conn_id, "table": "flights"})
    far = EltStep(
        "far", "filter_rows", reg["filter_rows"].config_model.model_validate({"condition": "distance > 1000"})
    )
    handle: dict[str, Any] = dict(read_elt("flights", source, [far], str(tmp_path / "far.parquet")))
    assert handle["engine"] == "elt" and handle["rows"] == 5 and "sql" in handle
    assert pq.read_table(tmp_path / "far.parquet").num_rows == 5


def test_a_cursor_source_through_a_route_exit_keeps_each_files_cursor_like_etl(
    run_pipeline: Any, pg: Any, pg_conn_id: str, tmp_path: Path
) -> None:
    """facts (by cursor) -> route -> two Parquet files: every port's staged rows say what the source read,
    so each file drops what it holds and keeps its own cursor, as after the ETL route; over reruns the
    files and cursors equal the ETL pipeline's."""
    from tests.integration.test_elt_cursor_graph import add, forget_variables, run, setup, variable

    setup(pg)

    def spec(engine: str) -> dict[str, Any]:
        nodes: list[dict[str, Any]] = [
            {
                "id": "facts",
                "module": "source.postgres",
                "config": {
                    "conn_id": pg_conn_id,
                    "table": "facts",
                    "incremental": {"column": "at", "mode": "cursor"},
                },
            },
            {"id": "split", "module": "route", "config": {"condition": "note IS NULL"}},
        ]
        edges = [{"source": "facts", "target": "split"}]
        for port in ("matched", "unmatched"):
            path = str(tmp_path / f"cursor_{engine}_{port}.parquet")
            nodes.append(
                {
                    "id": f"write_{port}",
                    "module": "destination.file",
                    "config": {"path": path, "format": "parquet"},
                }
            )
            edges.append({"source": "split", "source_port": port, "target": f"write_{port}"})
        return {"id": f"ports_cursor_{engine}", "engine": engine, "nodes": nodes, "edges": edges}

    by_engine = {engine: spec(engine) for engine in ("etl", "auto")}
    for item in by_engine.values():
        forget_variables(f"logidata.cursor.{item['id']}.")

    def both() -> dict[str, int]:
        staged: dict[str, int] = {}
        for engine, item in by_engine.items():
            dag_run, dag = run(run_pipeline, item)
            if engine == "auto":
                assert sorted(dag.task_ids) == ["split", "write_matched", "write_unmatched"]
                assert type(dag.get_task("split")).__name__ == "ELTReadOperator"
                ti = dag_run.get_task_instance("split")
                for port in ("matched", "unmatched"):
                    handle = ti.xcom_pull(task_ids="split", key=f"output__{port}")
                    [entry] = handle["meta"]["incremental"]
                    assert entry["kind"] == "cursor" and entry["source"] == "facts"
                    staged[port] = handle["rows"]
        for port in ("matched", "unmatched"):
            etl = pq.read_table(tmp_path / f"cursor_etl_{port}.parquet")
            elt = pq.read_table(tmp_path / f"cursor_auto_{port}.parquet")
            assert elt.schema == etl.schema
            assert elt.sort_by("id").to_pylist() == etl.sort_by("id").to_pylist()
            key = "logidata.cursor.ports_cursor_{}.facts.write_" + port
            assert variable(key.format("auto")) == variable(key.format("etl")) is not None
        return staged

    assert both() == {"matched": 9, "unmatched": 36}  # 45 rows, every 5th without a note
    add(pg, 46, 50, "2024-01-01 00:05+00")  # tied on the cursor value
    add(pg, 51, 60, "2024-01-01 00:09+00")
    both()  # from the cursor: the rows at it (each file drops those it holds) and the new ones
    assert pq.read_table(tmp_path / "cursor_auto_matched.parquet").num_rows == 12
    assert pq.read_table(tmp_path / "cursor_auto_unmatched.parquet").num_rows == 48
