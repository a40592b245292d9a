"""ELT pushdown end to end: the same pipeline run with engine etl and engine elt gives identical tables."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROWS = (
    "INSERT INTO raw VALUES"
    " (1, '  Alice   MARTIN ', 'A@X.COM', '10', 10.50, 'fr'),"
    " (2, 'bob smith', 'b@x.com', '7', 7.25, NULL),"
    " (1, 'alice martin', 'a@x.com', '10', 10.50, 'fr'),"
    " (3, NULL, 'c@x.com', NULL, NULL, 'de'),"
    " (4, ' Zoë\u00a0 ÉLAN ', '', ' 12 ', 3.00, 'de'),"
    " (5, 'test row', 'x@y', '1', 1, 'fr'),"
    " (6, 'eve', 'e@x.com', '2.5', 2.50, NULL)"
)

CONFIGS = [
    pytest.param(
        {"condition": "name IS NULL OR name NOT LIKE 'test%'"},
        {"columns": ["name", "email"], "case": "lower"},
        {},
        [{"column": "score", "strategy": "mean"}, {"column": "country", "strategy": "mode"}],
        [
            {"name": "id"},
            {"name": "qty", "cast": "integer"},
            {"name": "score"},
            {"name": "country"},
            {"name": "name"},
        ],
        id="lower-mean-mode",
    ),
    pytest.param(
        {"condition": "id <> 5"},
        {"case": "title", "empty_as_null": True},
        {"columns": ["id"], "keep": "last"},
        [
            {"column": "name", "value": "n/a"},
            {"column": "score", "strategy": "median"},
            {"column": "qty", "strategy": "max"},
        ],
        [
            {"name": "id"},
            {"name": "name", "rename": "full_name"},
            {"name": "email"},
            {"name": "qty", "cast": "decimal"},
            {"name": "score", "cast": "float"},
        ],
        id="title-last-median",
    ),
    pytest.param(
        {"condition": "score > 1 OR score IS NULL"},
        {"case": "upper"},
        {"columns": ["email"]},
        [{"column": "score", "strategy": "min"}, {"column": "qty", "value": "0"}],
        [{"name": "id", "cast": "string"}, {"name": "qty", "cast": "integer"}],
        id="upper-min-string",
    ),
    pytest.param(
        {"condition": "true"},
        {"case": "keep", "collapse_spaces": False},
        {"columns": ["country"], "keep": "first"},
        [{"column": "country", "value": "zz"}],
        [{"name": "country"}, {"name": "id"}, {"name": "score", "cast": "string"}],
        id="sorted-keep-first",
    ),
]


def spec(
    pid: str, conn_id: str, engine: str, table: str, steps: list[tuple[str, dict[str, Any]]]
) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"id": "read", "module": "source.postgres", "config": {"conn_id": conn_id, "table": "raw"}}
    ]
    seen: dict[str, int] = {}
    for module, config in steps:
        seen[module] = seen.get(module, 0) + 1
        node_id = module if seen[module] == 1 else f"{module}_{seen[module]}"
        nodes.append({"id": node_id, "module": module, "config": config})
    nodes.append(
        {
            "id": "write",
            "module": "destination.postgres",
            "config": {"conn_id": conn_id, "table": table, "mode": "replace"},
        }
    )
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"id": pid, "engine": engine, "nodes": nodes, "edges": edges}


def staged_files(dag_id: str) -> list[Path]:
    root = Path(os.environ["AIRFLOW__LOGIDATA__STAGING_PATH"])
    return [p for p in root.rglob("*") if p.is_file() and dag_id in str(p)]


@pytest.mark.parametrize(("keep", "clean", "dedupe", "fills", "pick"), CONFIGS)
def test_etl_and_elt_agree(
    run_pipeline: Any, pg: Any, pg_conn_id: str, keep: Any, clean: Any, dedupe: Any, fills: Any, pick: Any
) -> None:
    pg.execute("CREATE TABLE raw (id int, name text, email text, qty text, score numeric(6,2), country text)")
    pg.execute(ROWS)
    steps = [
        ("filter_rows", keep),
        ("clean_text", clean),
        *(
            [("sort", {"by": [{"column": "score", "descending": True, "nulls": "first"}]})]
            if keep == {"condition": "true"}
            else []
        ),
        ("deduplicate", dedupe),
        ("fill_nulls", {"fills": fills}),
        ("select_columns", {"columns": pick}),
    ]
    results = {}
    for engine in ("etl", "elt"):
        pid = f"elt_vs_etl_{engine}"
        dag_run, dag = run_pipeline(spec(pid, pg_conn_id, engine, f"out_{engine}", steps))
        assert str(dag_run.state) == "success", {
            t.task_id: str(t.state) for t in dag_run.get_task_instances()
        }
        ti = next(t for t in dag_run.get_task_instances() if t.task_id == "write")
        result = ti.xcom_pull(task_ids="write")
        if engine == "elt":
            assert [t.task_id for t in dag.tasks] == ["write"]
            assert result["engine"] == "elt" and "SELECT" in result["sql"]
            assert staged_files(pid) == []
            assert "ELT" in (dag.doc_md or "")
        else:
            assert len(dag.tasks) == len(steps) + 2
        key = pick[0].get("rename") or pick[0]["name"]
        results[engine] = pg.execute(f'SELECT * FROM "out_{engine}" ORDER BY "{key}"').fetchall()
        types = pg.execute(
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position",
            (f"out_{engine}",),
        ).fetchall()
        results[engine + "_types"] = types
    assert results["elt"] == results["etl"]
    assert results["elt_types"] == results["etl_types"]


def test_failing_cast_leaves_destination_unchanged(run_pipeline: Any, pg: Any, pg_conn_id: str) -> None:
    pg.execute("CREATE TABLE raw (id int, name text, email text, qty text, score numeric(6,2), country text)")
    pg.execute(ROWS)
    pg.execute("UPDATE raw SET qty = 'lots' WHERE id = 2")
    pg.execute("CREATE TABLE out_bad (id int, qty bigint); INSERT INTO out_bad VALUES (42, 42)")
    steps = [("select_columns", {"columns": [{"name": "id"}, {"name": "qty", "cast": "integer"}]})]
    from airflow_provider_logidata.dag_factory import load_pipelines  # noqa: F401

    dag_run, dag = run_pipeline(spec("elt_bad_cast", pg_conn_id, "elt", "out_bad", steps))
    assert str(dag_run.state) == "failed"
    assert pg.execute("SELECT * FROM out_bad").fetchall() == [(42, 42)]
    # The message names the node and the column (from the engine directly: the same code the task ran).
    from airflow_provider_logidata.engine.elt import EltStep, run_elt
    from airflow_provider_logidata.engine.errors import LogiDataTaskError
    from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig
    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig
    from airflow_provider_logidata.modules.transforms.select_columns import SelectColumnsConfig

    with pytest.raises(LogiDataTaskError) as raised:
        run_elt(
            "read",
            PostgresSourceConfig.model_validate({"conn_id": pg_conn_id, "table": "raw"}),
            [EltStep("select_columns", "select_columns", SelectColumnsConfig.model_validate(steps[0][1]))],
            "write",
            PostgresDestinationConfig.model_validate(
                {"conn_id": pg_conn_id, "table": "out_bad", "mode": "replace"}
            ),
        )
    message = str(raised.value)
    assert "select_columns node 'select_columns'" in message
    assert "column 'qty': 1 value(s) cannot be cast to integer" in message and "'lots'" in message
    assert pg.execute("SELECT * FROM out_bad").fetchall() == [(42, 42)]


# derive_column, map_values and aggregate: output types come from the ETL engine's DuckDB builder.
CHAINS = [
    pytest.param(
        [
            (
                "derive_column",
                {
                    "columns": [
                        {"name": "label", "expression": "upper(country) || '-' || CAST(id AS VARCHAR)"},
                        {"name": "double_score", "expression": "score * 2"},
                        {"name": "quarter", "expression": "id / 4"},
                        {"name": "name", "expression": "coalesce(lower(trim(name)), 'none')"},
                        {"name": "big", "expression": "CASE WHEN double_score > 10 THEN 'yes' ELSE 'no' END"},
                    ]
                },
            ),
            (
                "map_values",
                {
                    "column": "country",
                    "mapping": {"fr": "France", "de": "Germany"},
                    "default": "value",
                    "default_value": "unknown",
                },
            ),
        ],
        id="derive-map-text",
    ),
    pytest.param(
        [
            ("map_values", {"column": "id", "mapping": {"1": "one", "2": "two"}}),
            (
                "map_values",
                {
                    "column": "qty",
                    "mapping": {"10": 100, "7": 70},
                    "default": "null",
                    "target_column": "qty_n",
                },
            ),
            ("map_values", {"column": "score", "mapping": {"10.5": 1, "3": 2.5}}),
        ],
        id="map-keep-null-numbers",
    ),
    pytest.param(
        [
            (
                "map_values",
                {"column": "id", "mapping": {"01": "first", **{str(i): f"n{i}" for i in range(100)}}},
            ),
            (
                "map_values",
                {
                    "column": "country",
                    "mapping": {"fr": None, **{f"c{i}": i for i in range(100)}},
                    "default": "value",
                    "default_value": -1,
                },
            ),
        ],
        id="map-large-lookup",
    ),
    pytest.param(
        [
            ("derive_column", {"columns": [{"name": "n", "expression": "id * 3"}]}),
            (
                "aggregate",
                {
                    "group_by": ["country"],
                    "aggregations": [
                        {"function": "count"},
                        {"column": "name", "function": "count"},
                        {"column": "email", "function": "count_distinct"},
                        {"column": "score", "function": "sum"},
                        {"column": "score", "function": "avg"},
                        {"column": "n", "function": "sum"},
                        {"column": "n", "function": "avg"},
                        {"column": "name", "function": "min"},
                        {"column": "email", "function": "max", "as": "last_email"},
                    ],
                },
            ),
        ],
        id="derive-aggregate-by-country",
    ),
    pytest.param(
        [
            ("filter_rows", {"condition": "id <> 5"}),
            ("derive_column", {"columns": [{"name": "rich", "expression": "score >= 7"}]}),
            (
                "aggregate",
                {
                    "aggregations": [
                        {"function": "count", "as": "rows"},
                        {"column": "score", "function": "max"},
                        {"column": "rich", "function": "sum"},
                        {"column": "rich", "function": "min"},
                        {"column": "country", "function": "max"},
                    ]
                },
            ),
        ],
        id="aggregate-whole-input",
    ),
]


@pytest.mark.parametrize("steps", CHAINS)
def test_etl_and_elt_agree_on_derive_map_aggregate(
    run_pipeline: Any, pg: Any, pg_conn_id: str, steps: list[tuple[str, dict[str, Any]]]
) -> None:
    pg.execute("CREATE TABLE raw (id int, name text, email text, qty text, score numeric(6,2), country text)")
    pg.execute(ROWS)
    results = {}
    for engine in ("etl", "elt"):
        pid = f"elt_vs_etl_typed_{engine}"
        dag_run, dag = run_pipeline(spec(pid, pg_conn_id, engine, f"out_{engine}", steps))
        assert str(dag_run.state) == "success", {
            t.task_id: str(t.state) for t in dag_run.get_task_instances()
        }
        if engine == "elt":
            assert [t.task_id for t in dag.tasks] == ["write"]
            ti = next(t for t in dag_run.get_task_instances() if t.task_id == "write")
            nodes = ti.xcom_pull(task_ids="write", key="logidata_metrics")["nodes"]
            assert list(nodes) == [n["id"] for n in spec(pid, pg_conn_id, engine, "x", steps)["nodes"]]
            loaded = pg.execute(f'SELECT count(*) FROM "out_{engine}"').fetchone()[0]
            assert nodes["write"]["rows_in"] == nodes["write"]["rows_out"] == loaded
            assert nodes["write"]["module"] == "destination.postgres" and nodes["write"]["seconds"] > 0
            preserving = all(module in ("derive_column", "map_values") for module, _ in steps)
            assert nodes["read"]["rows_out"] == (7 if preserving else None)
        types = pg.execute(
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position",
            (f"out_{engine}",),
        ).fetchall()
        order = ", ".join(str(i + 1) for i in range(len(types)))
        results[engine] = pg.execute(f'SELECT * FROM "out_{engine}" ORDER BY {order}').fetchall()
        results[engine + "_types"] = types
    assert results["elt_types"] == results["etl_types"]
    assert results["elt"] == results["etl"]


FLIGHTS = (
    "CREATE TABLE flights (id int, carrier text, origin text, dep_delay numeric(6,1), distance int);"
    "INSERT INTO flights VALUES (1, 'UA', 'EWR', 12.0, 1400), (2, 'AA', 'JFK', -3.0, 1089),"
    " (3, 'UA', 'EWR', NULL, 1400), (4, 'B6', 'JFK', 45.5, 1576), (5, 'XX', 'LGA', 1.0, 700),"
    " (6, 'AA', 'LGA', 7.5, 733), (7, NULL, 'EWR', 2.0, 1065);"
    "CREATE TABLE airlines (carrier text, name text);"
    "INSERT INTO airlines VALUES ('UA', 'United'), ('AA', 'American'), ('B6', 'JetBlue'), ('DL', 'Delta')"
)


def join_graph(pid: str, conn_id: str, engine: str, table: str, how: str, tail: list[Any]) -> dict[str, Any]:
    """flights -> filter -> join airlines (two sources) -> tail steps -> destination: one sub-graph."""
    nodes: list[dict[str, Any]] = [
        {"id": "flights", "module": "source.postgres", "config": {"conn_id": conn_id, "table": "flights"}},
        {"id": "airlines", "module": "source.postgres", "config": {"conn_id": conn_id, "table": "airlines"}},
        {"id": "long", "module": "filter_rows", "config": {"condition": "distance > 720"}},
        {"id": "named", "module": "join", "config": {"how": how, "on": ["carrier"]}},
        *({"id": f"t{i}", "module": m, "config": c} for i, (m, c) in enumerate(tail)),
        {
            "id": "write",
            "module": "destination.postgres",
            "config": {"conn_id": conn_id, "table": table, "mode": "replace"},
        },
    ]
    chain = ["named", *(f"t{i}" for i in range(len(tail))), "write"]
    edges = [
        {"source": "flights", "target": "long"},
        {"source": "long", "target": "named", "target_port": "left"},
        {"source": "airlines", "target": "named", "target_port": "right"},
        *({"source": a, "target": b} for a, b in itertools.pairwise(chain)),
    ]
    return {"id": pid, "engine": engine, "nodes": nodes, "edges": edges}


AGGREGATE = (
    "aggregate",
    {
        "group_by": ["name"],
        "aggregations": [{"column": "dep_delay", "function": "avg"}, {"function": "count"}],
    },
)


@pytest.mark.parametrize(
    ("how", "tail"),
    [
        pytest.param("inner", [AGGREGATE], id="inner-aggregate"),
        pytest.param("left", [("fill_nulls", {"fills": [{"column": "name", "value": "?"}]})], id="left-fill"),
        pytest.param(
            "full", [("select_columns", {"columns": [{"name": "carrier"}, {"name": "name"}]})], id="full"
        ),
    ],
)
def test_a_join_graph_runs_inside_postgres_like_etl(
    run_pipeline: Any, pg: Any, pg_conn_id: str, how: str, tail: list[Any]
) -> None:
    """Two sources joined, then more steps: one ELT task, one statement, the same table as ETL, and only
    the destination's rows written (nothing read out of the database)."""
    pg.execute(FLIGHTS)
    results = {}
    for engine in ("etl", "elt"):
        pid = f"join_graph_{engine}_{how}"
        dag_run, dag = run_pipeline(join_graph(pid, pg_conn_id, engine, f"out_{engine}", how, tail))
        assert str(dag_run.state) == "success", {
            t.task_id: str(t.state) for t in dag_run.get_task_instances()
        }
        if engine == "elt":
            assert [t.task_id for t in dag.tasks] == ["write"]
            ti = next(t for t in dag_run.get_task_instances() if t.task_id == "write")
            result = ti.xcom_pull(task_ids="write")
            assert result["engine"] == "elt" and " JOIN " in result["sql"]
            assert staged_files(pid) == []
            nodes = ti.xcom_pull(task_ids="write", key="logidata_metrics")["nodes"]
            assert set(nodes) == {
                "flights",
                "airlines",
                "long",
                "named",
                *(f"t{i}" for i in range(len(tail))),
                "write",
            }
        types = pg.execute(
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position",
            (f"out_{engine}",),
        ).fetchall()
        order = ", ".join(f"{i + 1} NULLS FIRST" for i in range(len(types)))
        results[engine] = pg.execute(f'SELECT * FROM "out_{engine}" ORDER BY {order}').fetchall()
        results[engine + "_types"] = types
    assert results["elt_types"] == results["etl_types"]
    assert results["elt"] == results["etl"]
    assert results["elt"], "the graph loads rows"


def test_a_pushed_down_graph_moves_no_row_out(
    pg: Any, pg_conn_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every statement the ELT run sends, counted at the driver: 20,000 flights are joined and aggregated
    by the server, and what comes back to the task is a few catalog rows, never the source rows."""
    import psycopg

    from airflow_provider_logidata.engine.elt import EltStep, run_elt
    from airflow_provider_logidata.modules.registry import registry

    pg.execute(FLIGHTS)
    pg.execute(
        "INSERT INTO flights SELECT 100 + g, (ARRAY['UA', 'AA', 'B6'])[1 + g % 3], 'EWR', g % 60, 900 "
        "FROM generate_series(1, 20000) AS g"
    )
    reg = registry()

    def step(node_id: str, module: str, config: dict[str, Any], inputs: Any = ()) -> EltStep:
        return EltStep(node_id, module, reg[module].config_model.model_validate(config), tuple(inputs))

    source = reg["source.postgres"].config_model.model_validate({"conn_id": pg_conn_id, "table": "flights"})
    other = reg["source.postgres"].config_model.model_validate({"conn_id": pg_conn_id, "table": "airlines"})
    destination = reg["destination.postgres"].config_model.model_validate(
        {"conn_id": pg_conn_id, "table": "per_airline", "mode": "replace"}
    )
    steps = [
        step("named", "join", {"on": ["carrier"]}, [("flights", "left"), ("airlines", "right")]),
        step("agg", *AGGREGATE, [("named", None)]),
    ]
    returned: list[tuple[str, int]] = []
    execute = psycopg.Cursor.execute

    def counting(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        out = execute(self, query, *args, **kwargs)
        if self.pgresult is not None and self.pgresult.ntuples:
            returned.append((str(query)[:80], self.pgresult.ntuples))
        return out

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    result = run_elt("flights", source, steps, "write", destination, sources={"airlines": other})
    monkeypatch.undo()
    assert result["rows"] == 3
    assert pg.execute('SELECT sum("count") FROM "per_airline"').fetchone()[0] == 20005
    assert sum(rows for _query, rows in returned) < 100, returned


@pytest.mark.parametrize("distinct", [False, True], ids=["all", "distinct"])
def test_a_union_runs_inside_postgres_like_etl(
    run_pipeline: Any, pg: Any, pg_conn_id: str, distinct: bool
) -> None:
    """Two tables stacked by name: a column missing on one side is null, an integer stacked on text
    becomes text as in the ETL engine (PostgreSQL alone would refuse), distinct drops repeated rows."""
    pg.execute(
        "CREATE TABLE orders_2023 (id int, amount numeric(8,2), code int, note text);"
        "INSERT INTO orders_2023 VALUES (1, 10.50, 7, 'a'), (2, NULL, 8, NULL), (3, 1.00, 7, 'a');"
        "CREATE TABLE orders_2024 (ID int, amount numeric(10,3), code text);"
        "INSERT INTO orders_2024 VALUES (3, 1.000, '7'), (4, 2.125, 'x9'), (3, 1.000, '7')"
    )
    results = {}
    for engine in ("etl", "elt"):
        pid = f"union_{engine}_{distinct}"
        nodes = [
            {
                "id": "a",
                "module": "source.postgres",
                "config": {"conn_id": pg_conn_id, "table": "orders_2023"},
            },
            {
                "id": "b",
                "module": "source.postgres",
                "config": {"conn_id": pg_conn_id, "table": "orders_2024"},
            },
            {"id": "both", "module": "union", "config": {"distinct": distinct}},
            {
                "id": "write",
                "module": "destination.postgres",
                "config": {"conn_id": pg_conn_id, "table": f"out_{engine}", "mode": "replace"},
            },
        ]
        edges = [
            {"source": "a", "target": "both"},
            {"source": "b", "target": "both"},
            {"source": "both", "target": "write"},
        ]
        dag_run, dag = run_pipeline({"id": pid, "engine": engine, "nodes": nodes, "edges": edges})
        assert str(dag_run.state) == "success", {
            t.task_id: str(t.state) for t in dag_run.get_task_instances()
        }
        if engine == "elt":
            assert [t.task_id for t in dag.tasks] == ["write"]
        types = pg.execute(
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position",
            (f"out_{engine}",),
        ).fetchall()
        order = ", ".join(f"{i + 1} NULLS FIRST" for i in range(len(types)))
        results[engine] = pg.execute(f'SELECT * FROM "out_{engine}" ORDER BY {order}').fetchall()
        results[engine + "_types"] = types
    assert results["elt_types"] == results["etl_types"]
    assert results["elt"] == results["etl"]
    assert len(results["elt"]) == (5 if distinct else 6)


def test_a_pushed_down_graphs_nodes_preview_inside_postgres(pg: Any, pg_conn_id: str) -> None:
    """A preview of a join (and of the step after it) in a pushed-down graph runs in PostgreSQL, over
    each source's sample, and shows what the ETL engine's preview shows."""
    from airflow_provider_logidata.preview.execute import run_plan
    from airflow_provider_logidata.preview.plan import plan_preview

    pg.execute(FLIGHTS)
    for node_id in ("named", "t0"):
        answers = {}
        for engine in ("auto", "etl"):
            data = join_graph(f"preview_{engine}", pg_conn_id, engine, "out", "left", [AGGREGATE])
            answers[engine] = run_plan(plan_preview(data, node_id, limit=100))
        assert answers["auto"]["engine"] == "elt" and " JOIN " in answers["auto"]["sql"]
        assert answers["etl"]["engine"] == "etl"
        assert [c["name"] for c in answers["auto"]["columns"]] == [
            c["name"] for c in answers["etl"]["columns"]
        ]
        assert sorted(map(str, answers["auto"]["rows"])) == sorted(map(str, answers["etl"]["rows"]))
