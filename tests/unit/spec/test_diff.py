"""The diff of two pipeline versions: meaningful changes only (what runs), never canvas moves."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airflow_provider_logidata.spec.diff import diff_documents, diff_text

BASE: dict[str, Any] = {
    "spec_version": 1,
    "id": "p1",
    "name": "Orders",
    "nodes": [
        {"id": "read", "module": "source.file", "config": {"path": "/d/in.csv", "format": "csv"}},
        {"id": "keep", "module": "filter_rows", "config": {"condition": "amount > 0"}, "position": {"x": 1}},
        {"id": "write", "module": "destination.file", "config": {"path": "/d/out.parquet"}},
    ],
    "edges": [{"source": "read", "target": "keep"}, {"source": "keep", "target": "write"}],
}


def edited(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def _move(data: dict[str, Any]) -> None:
    for i, node in enumerate(data["nodes"]):
        node["position"] = {"x": 100 * i, "y": 7}
    data["nodes"].reverse()
    data["edges"].reverse()


def _set(path: list[Any], value: Any) -> Any:
    def apply(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


CASES = [
    pytest.param(_move, [], id="moves and order are not changes"),
    pytest.param(
        _set(["nodes", 1, "config", "condition"], "amount > 1"),
        ['~ node keep: config.condition: "amount > 0" → "amount > 1"'],
        id="config field changed",
    ),
    pytest.param(
        _set(["nodes", 0, "config", "delimiter"], ";"),
        ['+ node read: config.delimiter = ";"'],
        id="config field added",
    ),
    pytest.param(
        lambda d: d["nodes"][0]["config"].pop("format"),
        ['- node read: config.format (was "csv")'],
        id="config field removed",
    ),
    pytest.param(
        _set(["nodes", 1, "config", "condition"], 1),
        ['~ node keep: config.condition: "amount > 0" → 1'],
        id="type change is a change",
    ),
    pytest.param(
        _set(["nodes", 1, "label"], "Keep paid"), ['+ node keep: label = "Keep paid"'], id="label added"
    ),
    pytest.param(
        _set(["nodes", 1, "module"], "deduplicate"),
        ['~ node keep: module: "filter_rows" → "deduplicate"'],
        id="module swapped",
    ),
    pytest.param(
        lambda d: d["nodes"].append({"id": "extra", "module": "sort", "config": {}}),
        ["+ node extra (sort)"],
        id="node added",
    ),
    pytest.param(
        lambda d: (d["nodes"].pop(1), d.__setitem__("edges", [{"source": "read", "target": "write"}])),
        ["- node keep (filter_rows)", "- edge read → keep", "- edge keep → write", "+ edge read → write"],
        id="node removed and rewired",
    ),
    pytest.param(
        _set(["edges", 1, "target_port"], "left"),
        ["- edge keep → write", "+ edge keep → write.left"],
        id="edge port changed",
    ),
    pytest.param(
        _set(["schedule"], "@daily"), ['~ pipeline schedule: null → "@daily"'], id="setting changed"
    ),
    pytest.param(_set(["retries"], 0), [], id="a default written out is no change"),
    pytest.param(_set(["status"], "draft"), ['~ pipeline status: "active" → "draft"'], id="status"),
]


@pytest.mark.parametrize(("change", "expected"), CASES)
def test_diff_lines(change: Any, expected: list[str]) -> None:
    diff = diff_documents(BASE, edited(change))
    assert [c.text() for c in diff.changes] == expected


def test_no_changes_text_says_positions_are_ignored() -> None:
    assert diff_text(diff_documents(BASE, edited(_move))).startswith("no changes")


def test_node_lists_for_the_canvas() -> None:
    def change(d: dict[str, Any]) -> None:
        d["nodes"][1]["config"]["condition"] = "x"
        d["nodes"][1]["label"] = "y"
        d["nodes"].pop(2)
        d["nodes"].append({"id": "new", "module": "sort"})

    diff = diff_documents(BASE, edited(change))
    assert (diff.nodes_added, diff.nodes_removed, diff.nodes_changed) == (["new"], ["write"], ["keep"])


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"nodes": "x", "edges": 3},
        {"nodes": [1, {"id": 2}, {"module": "m"}], "edges": [1, {"source": None}]},
    ],
)
def test_broken_documents_diff_without_crashing(broken: dict[str, Any]) -> None:
    """A version saved by hand may be anything: the diff still says what it can."""
    diff = diff_documents(broken, BASE)
    assert {c.node for c in diff.changes if c.kind == "node"} == {"read", "keep", "write"}
    diff_documents(BASE, broken)


def test_long_values_are_cut_in_text_but_kept_whole() -> None:
    long = "x" * 1000
    diff = diff_documents(BASE, edited(_set(["description"], long)))
    assert len(diff.changes[0].text()) < 300
    assert diff.changes[0].after == long
