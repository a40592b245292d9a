"""Stand-ins for the OpenLineage provider's and client's classes (the suite runs without them), registered
where LogiData's operators import them: ``fake_openlineage`` (a fixture; import it into a test module to
use it) and the classes it installs, for comparing the facets the operators build; ``FakeTI``, the task
instance those tests execute operators with (XComs by task id, pushes kept as ``pushed:<key>``)."""

from __future__ import annotations

import dataclasses
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class FakeLineage:
    inputs: list[Any] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)


@dataclass
class FakeDataset:
    namespace: str
    name: str
    facets: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeSchema:
    fields: list[Any]


@dataclass
class FakeField:
    name: str
    type: str


@dataclass
class FakeColumnLineage:
    fields: dict[str, Any]
    dataset: list[Any] = field(default_factory=list)


@dataclass
class FakeFields:
    inputFields: list[Any]
    transformationDescription: str | None = None
    transformationType: str | None = None


@dataclass
class FakeInputField:
    namespace: str
    name: str
    field: str
    transformations: list[Any] = dataclasses.field(default_factory=list)


@dataclass
class FakeTransformation:
    type: str
    subtype: str | None = None
    description: str | None = None
    masking: bool | None = None


@pytest.fixture
def fake_openlineage(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """The provider's and client's classes, registered where the operators import them."""
    extractors = types.ModuleType("airflow.providers.openlineage.extractors")
    extractors.OperatorLineage = FakeLineage  # type: ignore[attr-defined]
    facet = types.ModuleType("airflow.providers.common.compat.openlineage.facet")
    for name, value in {
        "Dataset": FakeDataset,
        "SchemaDatasetFacet": FakeSchema,
        "SchemaDatasetFacetFields": FakeField,
        "ColumnLineageDatasetFacet": FakeColumnLineage,
        "Fields": FakeFields,
        "InputField": FakeInputField,
    }.items():
        setattr(facet, name, value)
    generated = types.ModuleType("openlineage.client.generated")
    column_module = types.ModuleType("openlineage.client.generated.column_lineage_dataset")
    column_module.Transformation = FakeTransformation  # type: ignore[attr-defined]
    generated.column_lineage_dataset = column_module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage", types.ModuleType("x"))
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", extractors)
    monkeypatch.setitem(sys.modules, "airflow.providers.common.compat.openlineage.facet", facet)
    monkeypatch.setitem(sys.modules, "openlineage", types.ModuleType("openlineage"))
    monkeypatch.setitem(sys.modules, "openlineage.client", types.ModuleType("openlineage.client"))
    monkeypatch.setitem(sys.modules, "openlineage.client.generated", generated)
    monkeypatch.setitem(sys.modules, "openlineage.client.generated.column_lineage_dataset", column_module)
    return types.SimpleNamespace(
        extractors=extractors, facet=facet, generated=generated, column_module=column_module
    )


class FakeTI:
    map_index = -1

    def __init__(self, xcoms: dict[str, Any]) -> None:
        self.xcoms = xcoms

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.xcoms.get(task_ids)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[f"pushed:{key}"] = value
