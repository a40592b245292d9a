"""OpenLineage column lineage: a source marks its handle, a destination turns what reaches it into the
``columnLineage`` facet of its output dataset (stand-ins for the provider's classes; the real client's
serialisation when it is installed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG
from openlineage_fakes import (
    FakeColumnLineage,
    FakeField,
    FakeFields,
    FakeInputField,
    FakeSchema,
    FakeTI,
    FakeTransformation,
)

from airflow_provider_logidata.operators.destinations import FileDestinationOperator
from airflow_provider_logidata.operators.lineage import column_lineage_facet
from airflow_provider_logidata.operators.sources import FileSourceOperator
from airflow_provider_logidata.schema.lineage_graph import carry, dataset_lineage

# A handle's lineage after ``SELECT id AS order_id, price * qty AS total FROM orders WHERE qty > 0``.
LINEAGE: dict[str, Any] = {
    "datasets": [["file://", "/data/orders.csv"], ["s3://bkt", "raw/prices"]],
    "columns": {
        "order_id": [[0, "id", "direct", "IDENTITY"]],
        "Total": [[0, "qty", "direct", "TRANSFORMATION"], [1, "price", "direct", "TRANSFORMATION"]],
        "constant": [],
        "dropped": [[0, "x", "direct", "IDENTITY"]],
    },
    "dataset": [[0, "qty", "indirect", "FILTER"]],
}


def test_facet_from_known_lineage(fake_openlineage: Any) -> None:
    facet = column_lineage_facet(LINEAGE, ["order_id", "total"])
    assert isinstance(facet, FakeColumnLineage)
    assert list(facet.fields) == ["order_id", "total"]  # the dataset's spelling; unknown/absent left out
    assert facet.fields["order_id"] == FakeFields(
        [
            FakeInputField(
                "file://", "/data/orders.csv", "id", [FakeTransformation("DIRECT", "IDENTITY", None, False)]
            )
        ],
        "",
        "IDENTITY",
    )
    total = facet.fields["total"]
    assert total.transformationType == ""
    assert [(f.namespace, f.name, f.field) for f in total.inputFields] == [
        ("file://", "/data/orders.csv", "qty"),
        ("s3://bkt", "raw/prices", "price"),
    ]
    assert total.inputFields[1].transformations == [
        FakeTransformation("DIRECT", "TRANSFORMATION", None, False)
    ]
    assert facet.dataset == [
        FakeInputField(
            "file://", "/data/orders.csv", "qty", [FakeTransformation("INDIRECT", "FILTER", None, False)]
        )
    ]
    assert column_lineage_facet({"datasets": [], "columns": {"x": []}, "dataset": []}) is None


def test_facet_with_a_client_without_transformations(
    fake_openlineage: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(fake_openlineage.column_module, "Transformation")
    facet = column_lineage_facet(LINEAGE)
    assert facet.fields["Total"].inputFields[0] == FakeInputField("file://", "/data/orders.csv", "qty")
    assert "dropped" in facet.fields  # no schema given: every column with lineage


def run_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[DAG, dict[str, Any]]:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__STAGING_PATH", str(tmp_path / "staging"))
    (tmp_path / "orders.csv").write_text("id,Price,qty\n1,2.5,3\n2,1.0,0\n")
    dag = DAG("columns", schedule=None)
    source = FileSourceOperator(task_id="read", config={"path": str(tmp_path / "orders.csv")}, dag=dag)
    context: Any = {"ti": FakeTI({}), "run_id": "r1"}
    handle = source.execute(context)
    return dag, handle


def test_without_the_provider_handles_carry_no_lineage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dag, handle = run_source(tmp_path, monkeypatch)
    assert "lineage" not in handle


def test_source_to_destination_through_a_transform(
    fake_openlineage: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dag, handle = run_source(tmp_path, monkeypatch)
    orders = (tmp_path / "orders.csv").as_posix()
    assert handle["lineage"] == dataset_lineage("file://", orders, ["id", "Price", "qty"])
    json.dumps(handle)  # XCom-safe

    # what a transform task would carry on (engine/chain.py): total = Price * qty, rows with qty > 0
    output = ["id", "total"]
    carried = carry(
        "SELECT id, Price * qty AS total FROM input_0 WHERE qty > 0",
        {"input_0": (["id", "Price", "qty"], handle["lineage"])},
        output,
    )
    transformed = {**handle, "schema": [["id", "int64"], ["total", "double"]], "lineage": carried}

    dest = FileDestinationOperator(
        task_id="write", config={"path": str(tmp_path / "out.parquet")}, inputs=["read"], dag=dag
    )
    context: Any = {"ti": FakeTI({}), "run_id": "r1"}
    handles: list[Any] = [transformed]
    dest.run(dest.rendered_config(), handles, ["read"], context)
    done = dest.get_openlineage_facets_on_complete(None)
    (dataset,) = done.outputs
    assert dataset.facets["schema"] == FakeSchema([FakeField("id", "int64"), FakeField("total", "double")])
    facet = dataset.facets["columnLineage"]
    assert facet.fields["id"].inputFields == [
        FakeInputField("file://", orders, "id", [FakeTransformation("DIRECT", "IDENTITY", None, False)])
    ]
    assert [(f.field, f.transformations[0].subtype) for f in facet.fields["total"].inputFields] == [
        ("Price", "TRANSFORMATION"),
        ("qty", "TRANSFORMATION"),
    ]
    assert facet.dataset == [
        FakeInputField("file://", orders, "qty", [FakeTransformation("INDIRECT", "FILTER", None, False)])
    ]
    # on start nothing has run: the dataset without facets
    assert dest.get_openlineage_facets_on_start().outputs[0].facets == {}


def test_a_facet_that_fails_keeps_the_dataset(
    fake_openlineage: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dag, handle = run_source(tmp_path, monkeypatch)
    monkeypatch.delattr(fake_openlineage.facet, "ColumnLineageDatasetFacet")
    dest = FileDestinationOperator(
        task_id="write", config={"path": str(tmp_path / "out.parquet")}, inputs=["read"], dag=dag
    )
    context: Any = {"ti": FakeTI({}), "run_id": "r1"}
    handles: list[Any] = [handle]
    dest.run(dest.rendered_config(), handles, ["read"], context)
    (dataset,) = dest.get_openlineage_facets_on_complete(None).outputs
    assert list(dataset.facets) == ["schema"]


def test_the_real_client_serialises_the_facet() -> None:
    pytest.importorskip("openlineage.client.generated.column_lineage_dataset")
    from openlineage.client.serde import Serde

    facet = column_lineage_facet(LINEAGE, ["order_id", "Total"])
    data = json.loads(json.dumps(Serde.to_dict(facet)))
    assert data["_schemaURL"].endswith("ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet")
    assert data["fields"]["order_id"]["inputFields"] == [
        {
            "namespace": "file://",
            "name": "/data/orders.csv",
            "field": "id",
            "transformations": [{"type": "DIRECT", "subtype": "IDENTITY", "masking": False}],
        }
    ]
    assert data["fields"]["order_id"]["transformationType"] == "IDENTITY"
    assert [item["field"] for item in data["fields"]["Total"]["inputFields"]] == ["qty", "price"]
    assert data["dataset"] == [
        {
            "namespace": "file://",
            "name": "/data/orders.csv",
            "field": "qty",
            "transformations": [{"type": "INDIRECT", "subtype": "FILTER", "masking": False}],
        }
    ]
