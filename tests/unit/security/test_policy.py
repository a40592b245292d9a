"""Every field of every module tries to escape, and the one policy (security.policy) refuses it.

Driven by the module registry and the fields' declared kinds (``x-logidata-widget``), so a new module or
a new field is covered as soon as it exists: a module missing from tests/specs.py's table fails here.
Each case goes through ``validate_pipeline`` (what the store, the CLI, the builder and the DAG factory
run); run-stage checks (connection types) go through ``check_config(stage="run")``, what a worker and a
preview run on the rendered config.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.modules.registry import builtin_registry, registry
from airflow_provider_logidata.security import connections
from airflow_provider_logidata.security.policy import _declared, _fields, check_config
from airflow_provider_logidata.spec import validate_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import specs

DATA = "/srv/logidata-policy-test/data"
NODES = specs.every_module_nodes(DATA)


@pytest.fixture(autouse=True)
def _roots(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__ALLOWED_PATHS", DATA)
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(tmp_path / "dags"))


def _doc(module: str, config: dict[str, Any]) -> dict[str, Any]:
    """The node alone, wired to what it needs (a source before it, a destination after)."""
    nodes = [{"id": "n", "module": module, "config": config}]
    definition = registry()[module]
    edges: list[dict[str, Any]] = []
    if definition.category != "source":
        for index, port in enumerate(definition.input_ports or ("",) * max(1, definition.min_inputs)):
            nodes.insert(
                0, {"id": f"in{index}", "module": "source.file", "config": {"path": f"{DATA}/a.csv"}}
            )
            edge: dict[str, Any] = {"source": f"in{index}", "target": "n"}
            if port:
                edge["target_port"] = port
            edges.append(edge)
    if definition.category != "destination":
        nodes.append({"id": "out", "module": "destination.file", "config": {"path": f"{DATA}/o.parquet"}})
        edges.append({"source": "n", "target": "out", "source_port": definition.outputs[0]})
    return {"spec_version": 1, "id": "policy_test", "nodes": nodes, "edges": edges}


def _string_fields(module: str, config: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(path in the config, declared kind) of every text of ``config`` once validated (defaults too)."""
    model = registry()[module].config_model.model_validate(config)
    kinds = {field.path: field.widget for field, _ in _fields(model, "", "x")}
    texts: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, str):
            texts.append(path)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")

    walk(model.model_dump(mode="json", by_alias=True), "")
    return [(path, kinds.get(path)) for path in texts]


def _set(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(config)
    parts = [p for p in re.split(r"\.|\[(\d+)\]", path) if p]
    target: Any = out
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    last = parts[-1]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return out


def _refused(doc: dict[str, Any]) -> str:
    result = validate_pipeline(doc)
    assert not result.ok, json.dumps(doc)[:300]
    return " | ".join(str(issue) for issue in result.issues)


def test_every_module_is_in_the_table() -> None:
    # The built-in modules: an installed pack's (the test environment's example pack) are not LogiData's.
    assert sorted(module for _, module, _ in NODES) == builtin_registry().names()


def test_the_table_is_valid() -> None:
    for _, module, config in NODES:
        result = validate_pipeline(_doc(module, config))
        assert result.ok, [str(issue) for issue in result.issues]


TEMPLATE_ESCAPES = [
    "{{ conn.logidata_secret.password }}",
    "{{ var.value.secret }}",
    "{{ ti.xcom_pull() }}",
    "{{ params.__class__.__mro__ }}",
    "{% for x in range(99999999) %}x{% endfor %}",
]


@pytest.mark.parametrize(("node_id", "module", "config"), NODES, ids=[module for _, module, _ in NODES])
def test_no_text_field_takes_a_template_escape(node_id: str, module: str, config: dict[str, Any]) -> None:
    fields = _string_fields(module, config)
    assert fields or module in ("union",), f"{module}: no text field found to test"
    for path, _kind in fields:
        for escape in TEMPLATE_ESCAPES:
            _refused(_doc(module, _set(config, path, escape)))


ESCAPES: dict[str, list[str]] = {
    "path": ["/etc/passwd", "/srv/logidata-policy-test/data/../../../etc/passwd", "s3://bucket/key.csv"],
    "sql": ["SELECT pg_read_file('/etc/passwd') AS x", "SELECT lo_export(1, '/tmp/x') AS x"],
    "sql-expression": ["pg_read_file('/etc/passwd')", "lo_from_bytea(0, 'x')", "dblink_exec('x', 'y')"],
    "python-callable": ["builtins:eval", "__main__:main", "sys:exit", "pkg:_private"],
}


@pytest.mark.parametrize(("node_id", "module", "config"), NODES, ids=[module for _, module, _ in NODES])
def test_declared_fields_refuse_their_escapes(node_id: str, module: str, config: dict[str, Any]) -> None:
    for path, kind in _string_fields(module, config):
        for escape in ESCAPES.get(kind or "", []):
            message = _refused(_doc(module, _set(config, path, escape)))
            assert "n" in message


def test_destination_paths_refuse_the_dags_folder(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    for target in (f"{dags}/evil.py", f"{dags}/", f"{DATA}/../../../{dags}/x.py"):
        message = _refused(_doc("destination.file", {"path": target, "format": "csv"}))
        assert "never allowed" in message


def test_connection_fields_refuse_another_type_when_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_POLICY_GENERIC", json.dumps({"conn_type": "generic", "host": "h"}))
    connections.clear_cache()
    checked = []
    for _, module, config in NODES:
        definition = registry()[module]
        for field in _declared(definition.config_model):
            if field.widget != "connection":
                continue
            bad = definition.config_model.model_validate(_set(config, field.key, "policy_generic"))
            violations = check_config(definition.category, bad, stage="run")
            assert [v.rule for v in violations] == ["connection-type"], (module, violations)
            checked.append(module)
    # postgres source and destination, the http source, file source and destination (for s3 paths)
    assert sorted(checked) == sorted(
        ["source.postgres", "destination.postgres", "source.http_api", "source.file", "destination.file"]
    )


def test_steps_of_fused_chains_and_elt_paths_are_checked() -> None:
    from airflow_provider_logidata.operators.chain import FusedChainConfig
    from airflow_provider_logidata.operators.elt import EltConfig

    chain = FusedChainConfig.model_validate(
        {
            "steps": [
                {"node_id": "f", "module": "filter_rows", "config": {"condition": "pg_read_file('x') > ''"}}
            ]
        }
    )
    assert [v.path for v in check_config("transform", chain, stage="run")] == ["steps[0].config.condition"]
    elt = EltConfig.model_validate(
        {
            "source": {"node_id": "s", "module": "source.postgres", "config": {"conn_id": "c", "table": "t"}},
            "steps": [
                {
                    "node_id": "d",
                    "module": "derive_column",
                    "config": {"columns": [{"name": "x", "expression": "lo_get(1)"}]},
                }
            ],
            "destination": {
                "node_id": "w",
                "module": "destination.postgres",
                "config": {"conn_id": "c", "table": "o"},
            },
        }
    )
    assert [v.path for v in check_config("transform", elt, stage="validate")] == [
        "steps[0].config.columns[0].expression"
    ]


def test_suggestion_proposals_pass_the_same_policy() -> None:
    from airflow_provider_logidata.suggest.effect import ProposalError, validate_node
    from airflow_provider_logidata.suggest.model import ProposedNode

    node = ProposedNode(
        module="derive_column",
        config={"columns": [{"name": "x", "expression": "'{{ conn.c.password }}'"}]},
        label="leak",
    )
    with pytest.raises(ProposalError, match="security policy"):
        validate_node(node)
