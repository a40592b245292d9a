"""OpenLineage of a fused path (``fuse: paths``): the one task reports what the unfused source and
destination tasks report for the same pipeline (datasets, schema facets, column lineage), so turning
fusion on or off changes nothing OpenLineage sees; ``None`` without the provider, never raising.
Stand-ins for the provider's classes, as in ``test_lineage_columns.py``."""

from __future__ import annotations

import itertools
import logging
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from openlineage_fakes import (
    FakeDataset,
    FakeField,
    FakeFields,
    FakeInputField,
    FakeLineage,
    FakeSchema,
    FakeTI,
    FakeTransformation,
)

from airflow_provider_logidata.dag_factory import build_dag
from airflow_provider_logidata.operators import path as path_module
from airflow_provider_logidata.operators.path import FusedPathOperator
from airflow_provider_logidata.spec import validate_pipeline


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__STAGING_PATH", str(tmp_path / "staging"))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "orders.csv").write_text(
        "id,Price,qty,name,day\n1,2.5,3,  ann ,2024-01-02\n2,1.0,0,bob,2024-01-03\n3,4.0,2, cy,2024-01-04\n"
    )
    return tmp_path


STEPS: list[dict[str, Any]] = [
    {"id": "tidy", "module": "clean_text", "config": {"columns": ["name"], "trim": True, "case": "upper"}},
    {"id": "keep", "module": "filter_rows", "config": {"condition": "qty > 0"}},
    {
        "id": "derive",
        "module": "derive_column",
        "config": {"columns": [{"name": "total", "expression": "Price * qty"}]},
    },
    {
        "id": "pick",
        "module": "select_columns",
        "config": {"columns": [{"name": "id", "rename": "order_id"}, {"name": "total"}, {"name": "name"}]},
    },
]


def pipeline(
    source: dict[str, Any], steps: list[dict[str, Any]], destination: dict[str, Any], fuse: str
) -> Any:
    nodes = [{"id": "read", "module": "source.file", "config": source}, *steps, destination]
    spec = {
        "id": "path_lineage",
        "fuse": fuse,
        "engine": "etl",
        "nodes": nodes,
        "edges": [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)],
    }
    result = validate_pipeline(spec)
    assert result.ok and result.pipeline is not None, [str(issue) for issue in result.issues]
    return result.pipeline


def run(dag: Any, run_id: str, only: set[str] | None = None) -> dict[str, Any]:
    """Execute the DAG's tasks in order as the worker would (XComs through a fake task instance)."""
    ti = FakeTI({})
    for task in dag.topological_sort():
        if only is None or task.task_id in only:
            ti.xcoms[task.task_id] = task.execute({"ti": ti, "run_id": run_id})
    return ti.xcoms


def fused_task(dag: Any, task_id: str) -> FusedPathOperator:
    task = dag.get_task(task_id)
    assert isinstance(task, FusedPathOperator)
    return task


def unfused_lineage(dag: Any, source: str, destination: str, *, complete: bool) -> FakeLineage:
    """What OpenLineage gets from the unfused source and destination tasks together."""
    lineages = []
    for task_id in (source, destination):
        task = dag.get_task(task_id)
        if not hasattr(task, "get_openlineage_facets_on_start"):  # an operator without lineage
            lineages.append(FakeLineage())
            continue
        got = (
            task.get_openlineage_facets_on_complete(None)
            if complete
            else task.get_openlineage_facets_on_start()
        )
        lineages.append(got)
    return FakeLineage(inputs=lineages[0].inputs, outputs=lineages[1].outputs)


@pytest.mark.parametrize(
    ("source", "steps", "destination"),
    [
        pytest.param(
            {"path": "in/orders.csv"}, STEPS, {"path": "out/orders.parquet"}, id="csv-steps-parquet"
        ),
        pytest.param(
            {"path": "in/*.csv"}, STEPS[:2], {"path": "out/orders.csv", "format": "csv"}, id="glob-csv-out"
        ),
        pytest.param(
            {"path": "in/orders.csv", "columns": ["id", "qty"]}, [], {"path": "out/"}, id="no-steps"
        ),
    ],
)
def test_fused_path_reports_what_the_unfused_tasks_report(
    fake_openlineage: Any,
    data: Path,
    source: dict[str, Any],
    steps: list[dict[str, Any]],
    destination: dict[str, Any],
) -> None:
    source = {**source, "path": str(data / source["path"])}
    target = {
        "id": "write",
        "module": "destination.file",
        "config": {**destination, "path": str(data / destination["path"])},
    }
    fused = build_dag(pipeline(source, steps, target, "paths"))
    assert fused.task_ids == ["write"]
    task = fused_task(fused, "write")
    started = task.get_openlineage_facets_on_start()
    run(fused, "fused")
    complete = task.get_openlineage_facets_on_complete(None)

    for fuse in ("none", "chains"):
        dag = build_dag(pipeline(source, steps, target, fuse))
        assert "read" in dag.task_ids and "write" in dag.task_ids
        assert started == unfused_lineage(dag, "read", "write", complete=False)
        run(dag, f"unfused_{fuse}")
        assert complete == unfused_lineage(dag, "read", "write", complete=True), fuse

    # not vacuous: both datasets, their schemas and the column lineage are there
    (read,) = complete.inputs
    (written,) = complete.outputs
    assert read.namespace == written.namespace == "file://"
    assert started.inputs == [FakeDataset(read.namespace, read.name)]
    assert started.outputs == [FakeDataset(written.namespace, written.name)]
    assert read.facets["schema"].fields and written.facets["schema"].fields
    lineage = written.facets["columnLineage"]
    assert set(lineage.fields) == {f.name for f in written.facets["schema"].fields}
    assert all(
        f.namespace == "file://" and f.name == read.name
        for c in lineage.fields.values()
        for f in c.inputFields
    )


def test_fused_path_facets_in_detail(fake_openlineage: Any, data: Path) -> None:
    orders = (data / "in" / "orders.csv").as_posix()
    target = {"id": "write", "module": "destination.file", "config": {"path": str(data / "out.parquet")}}
    dag = build_dag(pipeline({"path": orders}, STEPS, target, "paths"))
    task = fused_task(dag, "write")
    run(dag, "detail")
    done = task.get_openlineage_facets_on_complete(None)
    assert done.inputs == [
        FakeDataset(
            "file://",
            orders,
            {
                "schema": FakeSchema(
                    [
                        FakeField("id", "int64"),
                        FakeField("Price", "double"),
                        FakeField("qty", "int64"),
                        FakeField("name", "string"),
                        FakeField("day", "date32[day]"),
                    ]
                )
            },
        )
    ]
    (written,) = done.outputs
    assert (written.namespace, written.name) == ("file://", (data / "out.parquet").as_posix())
    assert written.facets["schema"] == FakeSchema(
        [FakeField("order_id", "int64"), FakeField("total", "double"), FakeField("name", "string")]
    )
    facet = written.facets["columnLineage"]
    identity = FakeTransformation("DIRECT", "IDENTITY", None, False)
    assert facet.fields["order_id"] == FakeFields(
        [FakeInputField("file://", orders, "id", [identity])], "", "IDENTITY"
    )
    assert [(f.field, f.transformations[0].subtype) for f in facet.fields["total"].inputFields] == [
        ("Price", "TRANSFORMATION"),
        ("qty", "TRANSFORMATION"),
    ]
    assert facet.fields["name"].inputFields[0].field == "name"
    assert FakeInputField(
        "file://", orders, "qty", [FakeTransformation("INDIRECT", "FILTER", None, False)]
    ) in (facet.dataset)


def fake_postgres_load(config: Any, node_id: str, reader: pa.RecordBatchReader, log: Any) -> dict[str, Any]:
    """``load_postgres_stream`` without a server: drains the stream as the COPY would."""
    rows = sum(batch.num_rows for batch in reader)
    return {"uri": f"postgresql://{config.conn_id}/{config.schema_name}.{config.table}", "rows": rows}


def test_file_to_postgres_reports_the_source_only_as_unfused(
    fake_openlineage: Any, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PostgreSQL destination operator declares no lineage (no OpenLineage URI of its own): its
    unfused task reports no output dataset, so the fused path reports none either."""
    monkeypatch.setattr("airflow_provider_logidata.engine.pg_load.load_postgres_stream", fake_postgres_load)
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", "postgresql://ann:secret@db.example:5432/shop")
    source = {"path": str(data / "in" / "orders.csv")}
    target = {
        "id": "load",
        "module": "destination.postgres",
        "config": {"conn_id": "warehouse", "table": "orders"},
    }
    fused = build_dag(pipeline(source, STEPS[:2], target, "paths"))
    task = fused_task(fused, "load")
    started = task.get_openlineage_facets_on_start()
    assert run(fused, "pg")["load"]["rows"] == 2
    complete = task.get_openlineage_facets_on_complete(None)

    unfused = build_dag(pipeline(source, STEPS[:2], target, "none"))
    assert not hasattr(unfused.get_task("load"), "get_openlineage_facets_on_complete")
    assert started == unfused_lineage(unfused, "read", "load", complete=False)
    run(unfused, "pg_unfused", only={"read"})  # the load itself needs a server
    assert complete == unfused_lineage(unfused, "read", "load", complete=True)
    assert complete.outputs == [] and complete.inputs[0].facets["schema"].fields


def test_templated_source_has_no_input_before_rendering(fake_openlineage: Any, data: Path) -> None:
    task = FusedPathOperator(
        task_id="write",
        config={
            "source": {"node_id": "read", "module": "source.file", "config": {"path": "{{ params.src }}"}},
            "destination": {
                "node_id": "write",
                "module": "destination.file",
                "config": {"path": "s3://conn@bkt/out/orders/"},
            },
        },
    )
    assert task.get_openlineage_facets_on_start() == FakeLineage(
        inputs=[], outputs=[FakeDataset("s3://bkt", "out/orders")]
    )
    assert task.get_openlineage_facets_on_complete(None) == task.get_openlineage_facets_on_start()


def test_without_the_provider_none_and_nothing_computed(data: Path) -> None:
    with pytest.raises(ImportError):
        import airflow.providers.openlineage  # noqa: F401  (the suite runs without it)
    target = {"id": "write", "module": "destination.file", "config": {"path": str(data / "out.parquet")}}
    dag = build_dag(pipeline({"path": str(data / "in" / "orders.csv")}, STEPS, target, "paths"))
    task = fused_task(dag, "write")
    assert task.get_openlineage_facets_on_start() is None
    run(dag, "plain")
    assert task.get_openlineage_facets_on_complete(object()) is None
    assert (task._source_schema, task._output_schema, task._column_lineage) == (None, None, None)


def test_openlineage_never_raises(
    fake_openlineage: Any, data: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    target = {"id": "write", "module": "destination.file", "config": {"path": str(data / "out.parquet")}}
    dag = build_dag(pipeline({"path": str(data / "in" / "orders.csv")}, STEPS, target, "paths"))
    task = fused_task(dag, "write")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("lineage bug")

    # the lineage pass failing never fails the run: the datasets still go out, without facets
    monkeypatch.setattr(path_module, "path_lineage", broken)
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_logidata"):
        assert run(dag, "broken")["write"]["rows"] == 2
    assert "no schema or column lineage for write" in caplog.text
    done = task.get_openlineage_facets_on_complete(None)
    assert [d.facets for d in (*done.inputs, *done.outputs)] == [{}, {}]

    # a side that cannot be built is left out; the client failing altogether gives empty sides
    monkeypatch.setattr(fake_openlineage.facet, "Dataset", broken)
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_logidata"):
        assert task.get_openlineage_facets_on_start() == FakeLineage()
        assert task.get_openlineage_facets_on_complete(None) == FakeLineage()
    assert "OpenLineage source of write failed" in caplog.text
    task.config = {"source": None}  # a config nothing can read lineage from
    assert task.get_openlineage_facets_on_start() == FakeLineage()
    # anything else failing: None, as LineageMixin answers
    monkeypatch.setattr(sys.modules["airflow.providers.openlineage.extractors"], "OperatorLineage", broken)
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_logidata"):
        assert task.get_openlineage_facets_on_complete(None) is None
    assert "OpenLineage facets of write failed" in caplog.text


def test_lineage_comes_from_the_runs_own_binding(
    fake_openlineage: Any, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schemas and column lineage are read from the path the run bound (``run_path``'s ``bound``):
    the source is opened once, and no step is built a second time (a blocking step would compute its
    whole result again)."""
    from airflow_provider_logidata.engine import chain, path

    opened: list[str] = []
    built: list[str] = []
    open_files, stack_steps = path.open_files, chain.stack_steps

    def counting_open(*args: Any, **kwargs: Any) -> Any:
        opened.append(str(args[1]))
        return open_files(*args, **kwargs)

    def counting_stack(*args: Any, **kwargs: Any) -> Any:
        built.append("stack")
        return stack_steps(*args, **kwargs)

    monkeypatch.setattr(path, "open_files", counting_open)
    monkeypatch.setattr(path, "stack_steps", counting_stack)
    target = {"id": "write", "module": "destination.file", "config": {"path": str(data / "out.parquet")}}
    dag = build_dag(pipeline({"path": str(data / "in" / "orders.csv")}, STEPS, target, "paths"))
    assert run(dag, "once")["write"]["rows"] == 2
    assert (len(opened), len(built)) == (1, 1)
    done = fused_task(dag, "write").get_openlineage_facets_on_complete(None)
    assert done.inputs[0].facets["schema"] and done.outputs[0].facets["schema"]
    assert "columnLineage" in done.outputs[0].facets
