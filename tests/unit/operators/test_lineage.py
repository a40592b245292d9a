"""Lineage: Assets declared by sources/destinations (inlets/outlets), DAGs scheduled on them, and the optional
OpenLineage facets (None without the provider, never raising)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, Asset
from openlineage_fakes import FakeDataset, FakeField, FakeLineage, FakeSchema, FakeTI

from airflow_provider_logidata.dag_factory import build_dag
from airflow_provider_logidata.operators.destinations import FileDestinationOperator
from airflow_provider_logidata.operators.lineage import asset_for, asset_uri, openlineage_name
from airflow_provider_logidata.operators.sources import FileSourceOperator
from airflow_provider_logidata.spec import validate_pipeline

REPO = Path(__file__).resolve().parents[3]
LOADER = REPO / "dags" / "logidata_pipelines.py"


def uris(items: list[Any]) -> list[str]:
    return [item.uri for item in items]


def test_asset_uri_normalisation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", "/home/ann")
    assert asset_uri("/data/in/orders.csv") == "file:///data/in/orders.csv"
    assert asset_uri("in/../orders.csv") == f"file://{tmp_path.as_posix()}/orders.csv"
    assert asset_uri("~/x.parquet") == "file:///home/ann/x.parquet"
    assert asset_uri("file:///data/x.csv") == "file:///data/x.csv"
    assert asset_uri("s3://logidata_s3@bucket/raw/x.csv") == "s3://bucket/raw/x.csv"
    assert asset_uri("S3://bucket/clean/orders/") == "s3://bucket/clean/orders"
    assert asset_uri("/data/out/") == "file:///data/out"
    assert asset_uri("/data/what?#.csv") == "file:///data/what%3F%23.csv"
    assert asset_uri("postgres://db.example:5432/shop.public.orders") == (
        "postgres://db.example:5432/shop.public.orders"
    )


def test_asset_for_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    asset = asset_for("s3://conn@bucket/key.csv")
    assert isinstance(asset, Asset) and asset.uri == "s3://bucket/key.csv" and asset.name == asset.uri
    assert asset_for(None) is None
    assert asset_for("/data/{{ ds }}.csv") is None
    with caplog.at_level(logging.WARNING):
        assert asset_for("airflow://reserved") is None
        assert asset_for("postgres://host/only_db") is None  # the provider's normaliser refuses it
    assert "no asset for 'airflow://reserved'" in caplog.text


def test_factory_dag_declares_inlets_and_outlets() -> None:
    spec = {
        "id": "lineage_shape",
        "nodes": [
            {"id": "local", "module": "source.file", "config": {"path": "/data/in/orders.csv"}},
            {"id": "on_s3", "module": "source.file", "config": {"path": "s3://aws_conn@bkt/raw/a.parquet"}},
            {
                "id": "conn_field",
                "module": "source.file",
                "config": {"path": "s3://bkt/raw/b.csv", "conn_id": "aws_conn"},
            },
            {"id": "globbed", "module": "source.file", "config": {"path": "/data/in/*.csv"}},
            {"id": "keep", "module": "filter_rows", "config": {"condition": "true"}},
            {"id": "out_file", "module": "destination.file", "config": {"path": "/data/out/orders.parquet"}},
            {
                "id": "out_parts",
                "module": "destination.file",
                "config": {"path": "s3://aws_conn@bkt/clean/orders/", "partition_by": ["country"]},
            },
            {
                "id": "out_templated",
                "module": "destination.file",
                "config": {"path": "/data/out/{{ ds_nodash }}.csv", "format": "csv"},
            },
            {"id": "out_plain", "module": "destination.file", "config": {"path": "/data/out/plain/"}},
        ],
        "edges": [
            {"source": "local", "target": "keep"},
            {"source": "keep", "target": "out_file"},
            {"source": "on_s3", "target": "out_parts"},
            {"source": "conn_field", "target": "out_templated"},
            {"source": "globbed", "target": "out_plain"},
        ],
    }
    result = validate_pipeline(spec)
    assert result.ok and result.pipeline is not None, result.issues
    dag = build_dag(result.pipeline, fileloc="/dags/loader.py")
    assert uris(dag.get_task("local").inlets) == ["file:///data/in/orders.csv"]
    assert uris(dag.get_task("on_s3").inlets) == ["s3://bkt/raw/a.parquet"]
    assert uris(dag.get_task("conn_field").inlets) == ["s3://bkt/raw/b.csv"]
    assert dag.get_task("globbed").inlets == []
    assert dag.get_task("keep").inlets == [] and dag.get_task("keep").outlets == []
    assert uris(dag.get_task("out_file").outlets) == ["file:///data/out/orders.parquet"]
    assert uris(dag.get_task("out_parts").outlets) == ["s3://bkt/clean/orders"]
    assert dag.get_task("out_templated").outlets == []
    assert uris(dag.get_task("out_plain").outlets) == ["file:///data/out/plain"]
    assert all(dag.get_task(t).outlets == [] for t in ("local", "on_s3", "conn_field"))


def test_templated_and_glob_paths_get_no_asset() -> None:
    assert FileSourceOperator(task_id="g", config={"path": "/data/in/*.csv"}).inlets == []
    assert FileSourceOperator(task_id="q", config={"path": "/data/in/part-?.csv"}).inlets == []
    assert FileSourceOperator(task_id="t", config={"path": "/data/{{ ds }}/x.csv"}).inlets == []
    assert FileDestinationOperator(task_id="d", config={"path": "/o/{{ ds_nodash }}.parquet"}).outlets == []


def test_hand_written_lineage_is_kept_and_not_duplicated() -> None:
    mine = Asset("file:///data/extra.csv")
    op = FileSourceOperator(
        task_id="read", config={"path": "/data/in.csv"}, inlets=[mine, Asset("file:///data/in.csv")]
    )
    assert uris(op.inlets) == ["file:///data/extra.csv", "file:///data/in.csv"]


def test_lineage_failure_never_breaks_the_operator(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(FileSourceOperator):
        def lineage_uri(self, config: Any) -> str | None:
            raise RuntimeError("lineage bug")

    with caplog.at_level(logging.WARNING):
        op = Broken(task_id="read", config={"path": "/data/in.csv"})
    assert op.inlets == []
    assert "lineage bug" in caplog.text


CONSUMER = '''"""A hand-written DAG scheduled on a LogiData destination's asset (safe-mode words: airflow, dag)."""
from airflow.sdk import DAG, Asset
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("orders_consumer", schedule=[Asset("{uri}")]):
    EmptyOperator(task_id="use_orders")
'''


def test_asset_scheduled_consumer_dag_next_to_the_loader(tmp_path: Path) -> None:
    """A fresh process, like the DAG processor: DagBag over the loader and a consumer DAG; both serialise and
    Airflow's dependency detector links producer -> asset -> consumer."""
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    out = tmp_path / "out" / "orders.parquet"
    spec = {
        "id": "orders_producer",
        "nodes": [
            {"id": "read", "module": "source.file", "config": {"path": str(tmp_path / "in.csv")}},
            {"id": "write", "module": "destination.file", "config": {"path": str(out)}},
        ],
        "edges": [{"source": "read", "target": "write"}],
    }
    (pipelines / "orders_producer.json").write_text(json.dumps(spec))
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / LOADER.name).write_text(LOADER.read_text())
    (dags / "orders_consumer.py").write_text(CONSUMER.format(uri=f"file://{out.as_posix()}"))
    script = f"""
import json
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization
bag = DagBag(dag_folder={str(dags)!r})
deps = []
for dag_id in sorted(bag.dag_ids):
    serialized = DagSerialization.to_dict(bag.dags[dag_id])
    deps += [[d["source"], d["target"], d["dependency_type"], json.loads(d["dependency_id"])["uri"]]
             for d in serialized["dag"].get("dag_dependencies", [])]
print(json.dumps({{"dags": sorted(bag.dag_ids), "errors": bag.import_errors, "deps": sorted(deps),
                  "outlets": [a.uri for a in bag.dags["orders_producer"].get_task("write").outlets]}}))
"""
    env = {
        **os.environ,
        "AIRFLOW__LOGIDATA__PIPELINES_PATH": str(pipelines),
        "AIRFLOW__LOGIDATA__REPORT_PATH": str(tmp_path / "r.json"),
    }
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    asset = f"file://{out.as_posix()}"
    assert result["errors"] == {}
    assert result["dags"] == ["orders_consumer", "orders_producer"]
    assert result["outlets"] == [asset]
    assert ["orders_producer", "asset", "asset", asset] in result["deps"]
    assert ["asset", "orders_consumer", "asset", asset] in result["deps"]


# --- OpenLineage ----------------------------------------------------------------------------------------


def test_openlineage_returns_none_without_the_provider() -> None:
    with pytest.raises(ImportError):
        import airflow.providers.openlineage  # noqa: F401  (the suite runs without it)
    source = FileSourceOperator(task_id="read", config={"path": "/data/in.csv"})
    dest = FileDestinationOperator(task_id="write", config={"path": "s3://bkt/out/"})
    assert source.get_openlineage_facets_on_start() is None
    assert source.get_openlineage_facets_on_complete(None) is None
    assert dest.get_openlineage_facets_on_start() is None
    assert dest.get_openlineage_facets_on_complete(object()) is None


def test_openlineage_datasets_with_schema_after_run(
    fake_openlineage: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__STAGING_PATH", str(tmp_path / "staging"))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("id,name\n1,ann\n")
    dag = DAG("ol", schedule=None)
    source = FileSourceOperator(task_id="read", config={"path": str(tmp_path / "in" / "*.csv")}, dag=dag)
    dest = FileDestinationOperator(
        task_id="write", config={"path": "s3://conn@bkt/out/orders/"}, inputs=["read"], dag=dag
    )
    start = source.get_openlineage_facets_on_start()
    assert start == FakeLineage(inputs=[FakeDataset("file://", (tmp_path / "in").as_posix())])
    assert dest.get_openlineage_facets_on_start() == FakeLineage(
        outputs=[FakeDataset("s3://bkt", "out/orders")]
    )

    handle = source.execute({"ti": FakeTI({}), "run_id": "r1"})  # type: ignore[arg-type]
    complete = source.get_openlineage_facets_on_complete(None)
    assert complete.inputs[0].facets["schema"] == FakeSchema(
        [FakeField("id", "int64"), FakeField("name", "string")]
    )
    assert handle["schema"] == [["id", "int64"], ["name", "string"]]

    local_dest = FileDestinationOperator(
        task_id="write_local", config={"path": str(tmp_path / "out.parquet")}, inputs=["read"], dag=dag
    )
    local_dest.execute({"ti": FakeTI({"read": handle}), "run_id": "r1"})  # type: ignore[arg-type]
    done = local_dest.get_openlineage_facets_on_complete(None)
    (output,) = done.outputs
    assert (output.namespace, output.name) == ("file://", (tmp_path / "out.parquet").as_posix())
    assert output.facets["schema"] == FakeSchema([FakeField("id", "int64"), FakeField("name", "string")])
    assert "columnLineage" in output.facets  # its content: test_lineage_columns.py


def test_openlineage_never_raises(fake_openlineage: Any, caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("client bug")

    fake_openlineage.facet.Dataset = broken
    op = FileSourceOperator(task_id="read", config={"path": "/data/in.csv"})
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_logidata"):
        assert op.get_openlineage_facets_on_start() is None
        assert op.get_openlineage_facets_on_complete(None) is None
    assert "OpenLineage facets of read failed" in caplog.text
    templated = FileSourceOperator(task_id="t", config={"path": "/data/{{ ds }}.csv"})
    assert templated.get_openlineage_facets_on_start() == FakeLineage()


def test_openlineage_names() -> None:
    assert openlineage_name("/data/in/*.csv") == ("file://", "/data/in")
    assert openlineage_name("s3://c@bkt/raw/**/*.csv") == ("s3://bkt", "raw")
    assert openlineage_name("s3://bkt") == ("s3://bkt", "/")
    assert openlineage_name("postgres://h:5432/db.public.t") == ("postgres://h:5432", "db.public.t")
