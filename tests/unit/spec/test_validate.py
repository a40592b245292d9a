"""Table-driven validation tests: every bad spec must name the path, the problem and what is allowed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airflow_provider_logidata.spec import validate_pipeline
from airflow_provider_logidata.spec.validate import load_json


def good() -> dict[str, Any]:
    return {
        "spec_version": 1,
        "id": "orders_daily",
        "name": "Orders",
        "schedule": "0 6 * * *",
        "start_date": "2024-01-01",
        "nodes": [
            {"id": "src", "module": "source.file", "config": {"path": "/data/in.csv"}},
            {"id": "dedupe", "module": "deduplicate", "config": {"columns": ["id"]}},
            {"id": "dst", "module": "destination.file", "config": {"path": "/data/out.parquet"}},
        ],
        "edges": [{"source": "src", "target": "dedupe"}, {"source": "dedupe", "target": "dst"}],
    }


def test_good_pipeline_is_valid() -> None:
    result = validate_pipeline(good())
    assert result.ok, result.issues
    assert set(result.configs) == {"src", "dedupe", "dst"}


def _set(path: str, value: Any) -> Any:
    """Return a mutation that sets a dotted path (list indexes as numbers) in the good spec."""

    def mutate(spec: dict[str, Any]) -> None:
        parts = path.split(".")
        target: Any = spec
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        last = parts[-1]
        if value is _DELETE:
            del target[int(last) if last.isdigit() else last]
        elif last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


_DELETE = object()


def _add_node(node: dict[str, Any], *edges: dict[str, Any]) -> Any:
    def mutate(spec: dict[str, Any]) -> None:
        spec["nodes"].append(node)
        spec["edges"].extend(edges)

    return mutate


def _add_edges(*edges: dict[str, Any]) -> Any:
    def mutate(spec: dict[str, Any]) -> None:
        spec["edges"].extend(edges)

    return mutate


# (case id, mutation, expected path, expected words in message, expected words in allowed or None)
CASES: list[tuple[str, Any, str, str, str | None]] = [
    ("unknown top-level key", _set("schedul", "@daily"), "schedul", "unknown field 'schedul'", "schedule"),
    ("missing id", _set("id", _DELETE), "id", "required field is missing", None),
    ("id with space", _set("id", "orders daily"), "id", "characters that are not allowed", "letters"),
    ("id path traversal", _set("id", "../etc"), "id", "characters that are not allowed", None),
    ("id too long", _set("id", "x" * 201), "id", "at most 200", None),
    ("spec_version 2", _set("spec_version", 2), "spec_version", "not one of the allowed", "1"),
    ("bad cron", _set("schedule", "0 6 * *"), "schedule", "invalid cron expression '0 6 * *'", None),
    ("cron out of range", _set("schedule", "61 6 * * *"), "schedule", "invalid cron", None),
    ("unknown preset", _set("schedule", "@fortnightly"), "schedule", "unknown schedule preset", "@daily"),
    ("bad start_date", _set("start_date", "yesterday"), "start_date", "datetime", None),
    ("negative retries", _set("retries", -1), "retries", "greater than or equal to 0", None),
    ("negative retry_delay", _set("retry_delay", -5), "retry_delay", "must not be negative", None),
    ("bad status", _set("status", "paused"), "status", "not one of the allowed", "'active' or 'draft'"),
    ("tags not a list", _set("tags", "etl"), "tags", "valid list", None),
    ("catchup not bool", _set("catchup", "sometimes"), "catchup", "valid boolean", None),
    ("nodes not a list", _set("nodes", {}), "nodes", "valid list", None),
    ("node missing module", _set("nodes.1.module", _DELETE), "nodes[1].module", "required field", None),
    ("node unknown key", _set("nodes.1.kind", "x"), "nodes[1].kind", "unknown field 'kind'", "module"),
    ("node id with dot", _set("nodes.1.id", "a.b"), "nodes[1].id", "characters that are not allowed", None),
    ("unknown module", _set("nodes.1.module", "dedup"), "nodes[1].module", "unknown module", "deduplicate"),
    (
        "config unknown key",
        _set("nodes.1.config.keys", ["id"]),
        "nodes[1].config.keys",
        "unknown field 'keys'",
        "columns, keep",
    ),
    (
        "config bad enum",
        _set("nodes.1.config.keep", "middle"),
        "nodes[1].config.keep",
        "not one of the allowed",
        "'first' or 'last'",
    ),
    (
        "config empty column name",
        _set("nodes.1.config.columns", [""]),
        "nodes[1].config.columns[0]",
        "at least 1 character",
        None,
    ),
    (
        "source config missing path",
        _set("nodes.0.config", {}),
        "nodes[0].config.path",
        "required field",
        None,
    ),
    (
        "source bad format",
        _set("nodes.0.config.format", "xlsx"),
        "nodes[0].config.format",
        "not one of the allowed",
        "'csv'",
    ),
    (
        "nested csv option",
        _set("nodes.0.config.csv", {"delimiter": ";;"}),
        "nodes[0].config.csv.delimiter",
        "at most 1 character",
        None,
    ),
    (
        "nested unknown csv option",
        _set("nodes.0.config.csv", {"sep": ";"}),
        "nodes[0].config.csv.sep",
        "unknown field 'sep'",
        "delimiter",
    ),
    ("duplicate node id", _set("nodes.1.id", "src"), "nodes[1].id", "duplicate node id", None),
    (
        "dangling edge target",
        _add_edges({"source": "dedupe", "target": "ghost"}),
        "edges[2].target",
        "does not exist",
        "src, dedupe, dst",
    ),
    (
        "dangling edge source",
        _add_edges({"source": "ghost", "target": "dst"}),
        "edges[2].source",
        "does not exist",
        None,
    ),
    ("duplicate edge", _add_edges({"source": "src", "target": "dedupe"}), "edges[2]", "duplicate edge", None),
    ("self loop", _add_edges({"source": "dedupe", "target": "dedupe"}), "edges[2]", "to itself", None),
    (
        "edge from destination",
        _add_node(
            {"id": "more", "module": "filter_rows", "config": {"condition": "true"}},
            {"source": "dst", "target": "more"},
        ),
        "edges[2].source_port",
        "has no output 'out'",
        "no outputs",
    ),
    ("edge unknown key", _set("edges.0.from", "src"), "edges[0].from", "unknown field 'from'", "source"),
    (
        "transform two inputs",
        _add_node(
            {"id": "src2", "module": "source.file", "config": {"path": "/b.csv"}},
            {"source": "src2", "target": "dedupe"},
        ),
        "nodes[1]",
        "takes exactly 1 input",
        "exactly 1",
    ),
    (
        "destination without input",
        _set("edges", [{"source": "src", "target": "dedupe"}]),
        "nodes[2]",
        "takes exactly 1 input",
        None,
    ),
    (
        "source with input",
        _add_node(
            {"id": "src2", "module": "source.file", "config": {"path": "/b.csv"}},
            {"source": "src", "target": "src2"},
        ),
        "nodes[3]",
        "takes exactly 0 input",
        None,
    ),
    (
        "source without consumer",
        _add_node(
            {"id": "lonely", "module": "source.file", "config": {"path": "/b.csv"}},
        ),
        "nodes[3]",
        "source has no consumer",
        None,
    ),
    (
        "cycle",
        lambda s: (
            s["nodes"].insert(2, {"id": "f", "module": "filter_rows", "config": {"condition": "x > 1"}}),
            s["edges"].__setitem__(1, {"source": "dedupe", "target": "f"}),
            s["edges"].append({"source": "f", "target": "dedupe"}),
            s["edges"].append({"source": "f", "target": "dst"}),
        ),
        "edges",
        "cycle: dedupe -> f -> dedupe",
        "without cycles",
    ),
    (
        "select columns duplicate output",
        _set(
            "nodes.1",
            {
                "id": "dedupe",
                "module": "select_columns",
                "config": {"columns": [{"name": "a"}, {"name": "b", "rename": "a"}]},
            },
        ),
        "nodes[1].config",
        "output column 'a' appears twice",
        None,
    ),
    (
        "select columns bad cast",
        _set(
            "nodes.1",
            {
                "id": "dedupe",
                "module": "select_columns",
                "config": {"columns": [{"name": "a", "cast": "int"}]},
            },
        ),
        "nodes[1].config.columns[0].cast",
        "not one of the allowed",
        "'integer'",
    ),
    (
        "fill constant without value",
        _set(
            "nodes.1",
            {
                "id": "dedupe",
                "module": "fill_nulls",
                "config": {"fills": [{"column": "a"}]},
            },
        ),
        "nodes[1].config.fills[0]",
        "strategy 'constant' needs a value",
        None,
    ),
    (
        "fill median with value",
        _set(
            "nodes.1",
            {
                "id": "dedupe",
                "module": "fill_nulls",
                "config": {"fills": [{"column": "a", "strategy": "median", "value": 3}]},
            },
        ),
        "nodes[1].config.fills[0]",
        "computes the value",
        None,
    ),
    (
        "parse dates without formats",
        _set(
            "nodes.1",
            {
                "id": "dedupe",
                "module": "parse_dates",
                "config": {"columns": ["d"], "formats": []},
            },
        ),
        "nodes[1].config.formats",
        "at least 1 item",
        None,
    ),
    (
        "filter without condition",
        _set(
            "nodes.1",
            {
                "id": "dedupe",
                "module": "filter_rows",
                "config": {},
            },
        ),
        "nodes[1].config.condition",
        "required field",
        None,
    ),
]


@pytest.mark.parametrize(
    ("mutation", "path", "message", "allowed"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_invalid_spec(mutation: Any, path: str, message: str, allowed: str | None) -> None:
    spec = copy.deepcopy(good())
    mutation(spec)
    result = validate_pipeline(spec)
    assert not result.ok
    assert result.pipeline is None
    matching = [i for i in result.issues if i.path == path]
    assert matching, f"no issue at {path!r}; got: {[str(i) for i in result.issues]}"
    assert any(message in i.message for i in matching), [str(i) for i in matching]
    if allowed is not None:
        assert any(allowed in (i.allowed or "") for i in matching), [str(i) for i in matching]


def test_case_table_is_large_enough() -> None:
    assert len(CASES) >= 30


def test_every_problem_is_collected_at_once() -> None:
    spec = good()
    spec["schedule"] = "every day"
    spec["nodes"][0]["config"]["format"] = "xls"
    spec["nodes"][1]["module"] = "nope"
    spec["edges"].append({"source": "dst", "target": "ghost"})
    paths = {i.path for i in validate_pipeline(spec).issues}
    assert {"schedule", "nodes[0].config.format", "nodes[1].module", "edges[2].target"} <= paths


def test_issue_names_node_id() -> None:
    spec = good()
    spec["nodes"][1]["config"]["keep"] = "middle"
    (issue,) = validate_pipeline(spec).issues
    assert issue.node_id == "dedupe"
    assert str(issue) == (
        "nodes[1].config.keep: value is not one of the allowed values (found 'middle'); "
        "allowed: 'first' or 'last'"
    )


def test_not_an_object() -> None:
    (issue,) = validate_pipeline([1, 2]).issues
    assert issue.path == ""
    assert "JSON object" in issue.message


def test_expected_id_must_match_file_name() -> None:
    issues = validate_pipeline(good(), expected_id="other").issues
    assert [(i.path, i.allowed) for i in issues] == [("id", "'other'")]


@pytest.mark.parametrize(
    ("schedule", "stored"),
    [
        (None, None),
        ("none", None),
        ("@daily", "@daily"),
        ("*/15 * * * *", "*/15 * * * *"),
        ("0 6 * * 1-5", "0 6 * * 1-5"),
    ],
)
def test_valid_schedules(schedule: str | None, stored: str | None) -> None:
    spec = good()
    spec["schedule"] = schedule
    result = validate_pipeline(spec)
    assert result.ok and result.pipeline is not None
    assert result.pipeline.schedule == stored


def test_invalid_json_names_line_and_column() -> None:
    data, issue = load_json('{"id": "x",\n "nodes": [}')
    assert data is None and issue is not None
    assert "line 2 column" in issue.message


def test_large_cycle_does_not_recurse() -> None:
    n = 3000
    spec = good()
    spec["nodes"] = [{"id": "src", "module": "source.file", "config": {"path": "/a.csv"}}]
    spec["nodes"] += [
        {"id": f"f{i}", "module": "filter_rows", "config": {"condition": "true"}} for i in range(n)
    ]
    spec["edges"] = [{"source": "src", "target": "f0"}]
    spec["edges"] += [{"source": f"f{i}", "target": f"f{i + 1}"} for i in range(n - 1)]
    spec["edges"].append({"source": f"f{n - 1}", "target": "f1"})
    issues = validate_pipeline(spec).issues
    assert any("cycle" in i.message for i in issues)
