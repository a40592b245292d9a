"""Hypothesis fuzz of the validator: whatever an editor (or a file on disk) hands it, ``load_json``,
``validate_pipeline`` and ``logidata validate`` answer with issues and never raise.

Deterministic (``derandomize=True``) and without a ``.hypothesis`` folder (``database=None``), so CI runs
the same 2,300 examples every time. The seeds are the bundled examples (rendered as ``logidata examples
install`` does, under the allowed data folder) and a pipeline using every module; mutations replace,
delete, add, retype and cross-wire keys and values anywhere in them.
"""

from __future__ import annotations

import copy
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_logidata import settings as logidata_settings
from airflow_provider_logidata.cli.main import main
from airflow_provider_logidata.examples import example_files, render_example
from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.spec import SpecIssue, ValidationResult, load_json, validate_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import specs

# Examples per property: 2,300 in total (at least 2,000 are required).
EXAMPLES = {"json": 500, "mutated": 1000, "text": 300, "bytes": 300, "cli": 200}


def fuzz(kind: str) -> settings:
    return settings(
        max_examples=EXAMPLES[kind],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )


def _seeds() -> list[dict[str, Any]]:
    data = Path(logidata_settings.data_path())
    seeds = [
        render_example(path, data / "examples" / "data", data / "examples" / "output")
        for path in example_files()
    ]
    every = specs.every_module_nodes(str(data))
    seeds.append(
        {
            "spec_version": 1,
            "id": "every_module",
            "name": "Every module",
            "schedule": "@daily",
            "params": {"region": "eu"},
            "nodes": [
                {"id": nid, "module": module, "config": config, "position": {"x": i * 10, "y": 0}}
                for i, (nid, module, config) in enumerate(every)
            ],
            "edges": [{"source": a[0], "target": b[0]} for a, b in itertools.pairwise(every)],
        }
    )
    return seeds


SEEDS = _seeds()
MODULES = registry().names()

# Values an editor may type that reach paths, SQL, templates and callables.
NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "../../etc/passwd",
        "/etc/passwd",
        "/proc/self/environ",
        "s3://bucket/key",
        "s3://conn@bucket/../x",
        "file:///etc/shadow",
        "{{ conn.pg.password }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ds }}",
        "{% for x in range(10**9) %}{% endfor %}",
        "{{",
        "${LOGIDATA_OUTPUT}",
        "__main__:run",
        "os:system",
        "builtins:eval",
        "json:dumps",
        ":",
        "select pg_read_file('/etc/passwd')",
        "SELECT lo_export(1, '/tmp/x')",
        "COPY t TO PROGRAM 'id'",
        "read_text('/etc/passwd')",
        "a; DROP TABLE t",
        "\x00",
        "\n\r\t",
        "é日本🎉",
        "a" * 5000,
        "[" * 100,
        "NaN",
        "-1",
        "1e400",
        "draft",
        "active",
        "paused",
        "source.file",
        "@daily",
        "0 6 * * *",
        "not a cron",
        "2024-13-45",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**39), max_value=10**39)
    | st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**39])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | NASTY_TEXT
    | st.sampled_from(MODULES)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=12) | NASTY_TEXT, children, max_size=5)
    ),
    max_leaves=25,
)


def _slots(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every (path to a container, key) in ``value``: the places a mutation may touch."""
    slots: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            slots.append((*path, key))
            slots.extend(_slots(child, (*path, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            slots.append((*path, index))
            slots.extend(_slots(child, (*path, index)))
    return slots


def _container(doc: Any, slot: tuple[Any, ...]) -> Any:
    for key in slot[:-1]:
        doc = doc[key]
    return doc


def _retyped(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return {"items": value}
    if isinstance(value, dict):
        return list(value.values())
    return 0


@st.composite
def mutated_pipelines(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        slots = _slots(doc)
        if not slots:
            break
        slot = draw(st.sampled_from(slots))
        parent, key = _container(doc, slot), slot[-1]
        operation = draw(
            st.sampled_from(
                ["replace", "retype", "delete", "add_key", "duplicate", "module", "nasty", "swap"]
            )
        )
        if operation == "replace":
            parent[key] = draw(JSON_VALUES)
        elif operation == "retype":
            parent[key] = _retyped(parent[key])
        elif operation == "delete":
            del parent[key]
        elif operation == "add_key" and isinstance(parent, dict):
            parent[draw(st.text(max_size=10) | NASTY_TEXT)] = draw(JSON_VALUES)
        elif operation == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif operation == "module" and isinstance(doc.get("nodes"), list) and doc["nodes"]:
            node = draw(st.sampled_from(doc["nodes"]))
            if isinstance(node, dict):
                node["module"] = draw(st.sampled_from(MODULES))  # a module fed another module's config
        elif operation == "nasty":
            parent[key] = draw(NASTY_TEXT)
        elif operation == "swap" and isinstance(doc.get("nodes"), list) and len(doc["nodes"]) > 1:
            first, second = doc["nodes"][0], doc["nodes"][-1]
            if isinstance(first, dict) and isinstance(second, dict):
                first["id"], second["id"] = second.get("id"), first.get("id")
    return doc


def check_result(result: Any) -> None:
    assert isinstance(result, ValidationResult)
    assert result.ok == (result.pipeline is not None and not result.issues)
    for issue in result.issues:
        assert isinstance(issue, SpecIssue)
        assert str(issue)
        json.dumps(issue.to_dict())


@fuzz("json")
@given(JSON_VALUES)
def test_arbitrary_json_values(value: Any) -> None:
    check_result(validate_pipeline(value))
    check_result(validate_pipeline({"id": "x", "nodes": value, "edges": value}))


@fuzz("mutated")
@given(mutated_pipelines())
def test_mutated_pipelines(doc: Any) -> None:
    check_result(validate_pipeline(doc))
    check_result(validate_pipeline(doc, expected_id="every_module"))
    # As the store and the factory see it: through JSON and the bounded decoder.
    data, issue = load_json(json.dumps(doc))
    assert issue is None
    check_result(validate_pipeline(data))


# Text made of what the decoder's fast scans look at, so limits and syntax errors both come up.
JSONISH = st.text(alphabet=st.sampled_from(list('[]{}",:0123456789.eE+-NaIfinty \\/ud8 \n')), max_size=200)


def check_load(text: str | bytes) -> None:
    data, issue = load_json(text)
    if issue is not None:
        assert data is None
        assert isinstance(issue, SpecIssue) and issue.message
        return
    check_result(validate_pipeline(data))
    if isinstance(text, str):
        assert data == json.loads(text)  # whatever is accepted decodes exactly as json does


@fuzz("text")
@given(JSONISH | st.text(max_size=300) | JSON_VALUES.map(json.dumps))
def test_random_text_through_load_json(text: str) -> None:
    check_load(text)


@fuzz("bytes")
@given(
    st.binary(max_size=400)
    | JSONISH.map(str.encode)
    | mutated_pipelines().map(lambda d: json.dumps(d).encode())
)
def test_random_bytes_through_load_json(data: bytes) -> None:
    check_load(data)


@fuzz("cli")
@given(
    st.binary(max_size=300)
    | mutated_pipelines().map(lambda d: json.dumps(d).encode())
    | JSONISH.map(str.encode)
)
def test_cli_validate(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "p.json"
    path.write_bytes(content)
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 1)
    assert "Traceback" not in out + err
    assert "validation failed:" not in err and " failed: " not in err  # the CLI's crash guards stayed unused
    assert out.startswith(f"OK {path}") or f"{path}: " in out + err
