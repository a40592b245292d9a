"""Validation of incremental loads (spec.incremental): what a cursor or interval source may feed, refused
before the pipeline runs, naming the node, the reason and the fix (issue 11)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from airflow_provider_logidata.spec import validate_pipeline

CURSOR = {"column": "updated_at", "mode": "cursor"}
INTERVAL = {"column": "day", "mode": "data_interval"}


def source(incremental: dict[str, Any], node_id: str = "src") -> dict[str, Any]:
    return {
        "id": node_id,
        "module": "source.postgres",
        "config": {"conn_id": "pg", "table": "t", "incremental": incremental},
    }


def pg_dest(node_id: str = "dst", **config: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "module": "destination.postgres",
        "config": {"conn_id": "pg", "table": "o", **config},
    }


def file_dest(path: str, node_id: str = "dst", **config: Any) -> dict[str, Any]:
    return {"id": node_id, "module": "destination.file", "config": {"path": path, **config}}


def chain(*nodes: dict[str, Any], engine: str = "auto") -> dict[str, Any]:
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"id": "p", "engine": engine, "nodes": list(nodes), "edges": edges}


def messages(spec: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(issue.node_id, issue.message) for issue in validate_pipeline(spec).issues]


def node(node_id: str, module: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "module": module, "config": config}


KEEP = node("pick", "select_columns", columns=[{"name": "id"}, {"name": "updated_at"}])


@pytest.mark.parametrize(
    "middle",
    [
        [],
        [KEEP],
        [node("pick", "select_columns", columns=[{"name": "id", "rename": "key"}], keep_other_columns=True)],
        [node("keep", "filter_rows", condition="id > 0")],
        [node("fill", "fill_nulls", fills=[{"column": "name", "value": "?"}])],
        [node("derive", "derive_column", columns=[{"name": "total", "expression": "a + b"}])],
        [node("dedupe", "deduplicate", columns=["id"])],
    ],
)
def test_row_by_row_paths_are_accepted(middle: list[dict[str, Any]]) -> None:
    for destination in (pg_dest(), pg_dest(mode="merge", keys=["id"]), file_dest("/out/")):
        assert messages(chain(source(CURSOR), *middle, destination)) == []


@pytest.mark.parametrize(
    ("middle", "blocker", "text"),
    [
        (
            [node("agg", "aggregate", group_by=["updated_at"], aggregations=[{"function": "count"}])],
            "agg",
            "its groups would be partial",
        ),
        ([node("pick", "select_columns", columns=[{"name": "id"}])], "pick", "drops the cursor column"),
        (
            [node("pick", "select_columns", columns=[{"name": "updated_at", "rename": "at"}])],
            "pick",
            "renames the cursor column",
        ),
        (
            [node("pick", "select_columns", columns=[{"name": "updated_at", "cast": "string"}])],
            "pick",
            "casts the cursor column",
        ),
        (
            [node("derive", "derive_column", columns=[{"name": "updated_at", "expression": "now()"}])],
            "derive",
            "replaces the cursor column",
        ),
        ([node("q", "sql", query="SELECT * FROM input_0")], "q", "sql may make a row depend on other rows"),
        (
            [node("fill", "fill_nulls", fills=[{"column": "score", "strategy": "mean"}])],
            "fill",
            "a fill by statistic (score) depends on the other rows read",
        ),
    ],
)
def test_paths_that_change_rows_are_refused_naming_the_node(
    middle: list[dict[str, Any]], blocker: str, text: str
) -> None:
    found = messages(chain(source(CURSOR), *middle, pg_dest()))
    assert [node_id for node_id, _ in found] == [blocker], found
    assert text in found[0][1]
    assert "is between cursor source 'src' and destination.postgres 'dst'" in found[0][1]


def test_merge_tolerates_sql_and_joins_but_not_aggregates_or_unions() -> None:
    merge = pg_dest(mode="merge", keys=["id"])
    assert messages(chain(source(CURSOR), node("q", "sql", query="SELECT * FROM input_0"), merge)) == []
    lookup = {"id": "dim", "module": "source.postgres", "config": {"conn_id": "pg", "table": "dim"}}
    join = node("j", "join", on=["id"], how="left")
    spec = {
        "id": "p",
        "nodes": [source(CURSOR), lookup, join, merge],
        "edges": [
            {"source": "src", "target": "j", "target_port": "left"},
            {"source": "dim", "target": "j", "target_port": "right"},
            {"source": "j", "target": "dst"},
        ],
    }
    assert messages(spec) == []
    spec["nodes"][2]["config"]["how"] = "full"
    [(blocker, text)] = messages(spec)
    assert blocker == "j" and "a full join adds rows without 'updated_at'" in text
    spec["nodes"][2]["config"]["how"] = "left"
    spec["nodes"][3] = pg_dest()  # append
    [(blocker, text)] = messages(spec)
    assert blocker == "j" and "mode 'merge' with keys" in text
    union = {
        "id": "p",
        "nodes": [source(CURSOR), lookup, node("u", "union"), merge],
        "edges": [
            {"source": "src", "target": "u"},
            {"source": "dim", "target": "u"},
            {"source": "u", "target": "dst"},
        ],
    }
    [(blocker, text)] = messages(union)
    assert blocker == "u" and "go through 'src''s cursor filter" in text


def test_cursor_into_replace_and_two_cursor_sources_are_refused() -> None:
    [(blocker, text)] = messages(chain(source(CURSOR), pg_dest(mode="replace")))
    assert blocker == "dst" and "mode 'replace': each run would empty the table" in text
    spec = {
        "id": "p",
        "nodes": [
            source(CURSOR, "a"),
            source(CURSOR, "b"),
            node("j", "join", on=["id"]),
            pg_dest(mode="merge", keys=["id"]),
        ],
        "edges": [
            {"source": "a", "target": "j", "target_port": "left"},
            {"source": "b", "target": "j", "target_port": "right"},
            {"source": "j", "target": "dst"},
        ],
    }
    [(blocker, text)] = messages(spec)
    assert blocker == "dst" and "fed by several cursor sources ('a', 'b')" in text


def test_cursor_with_engine_elt_is_accepted_into_tables_and_refused_where_rows_leave() -> None:
    """Issue 14: a cursor source into one table or a branch into several tables on its connection is
    pushed down (each destination keeps its cursor: engine.elt.run_elt); a branch into a file too is
    refused at validation by the planner, naming the node that branches, never a DAG build error (item 5
    of issue 11)."""
    assert validate_pipeline(chain(source(CURSOR), KEEP, pg_dest(), engine="elt")).ok
    assert validate_pipeline(chain(source(CURSOR), KEEP, pg_dest(), engine="auto")).ok
    spec = chain(source(CURSOR), KEEP, pg_dest(), engine="elt")
    spec["nodes"].append(pg_dest("side", table="s"))
    spec["edges"].append({"source": "src", "target": "side"})
    assert validate_pipeline(spec).ok
    spec["nodes"].append(node("files", "destination.file", path="/tmp/out/", format="csv"))
    spec["edges"].append({"source": "src", "target": "files"})
    result = validate_pipeline(spec)
    assert {issue.path for issue in result.issues} == {"engine"}, result.issues
    issue = result.issues[0]
    assert issue.node_id == "src"
    assert "node 'src' feeds 3 nodes (a branch)" in issue.message, issue.message
    spec["engine"] = "auto"
    assert validate_pipeline(spec).ok


def test_engine_elt_plan_problems_are_reported_at_validation() -> None:
    """Any path engine 'elt' cannot push down is a validation issue on the node that prevents pushdown
    (where the builder shows it), its message naming the destination too."""
    dates = node("dates", "sql", query="SELECT * FROM input_0")
    plain = {"id": "src", "module": "source.postgres", "config": {"conn_id": "pg", "table": "t"}}
    result = validate_pipeline(chain(plain, dates, pg_dest(), engine="elt"))
    [issue] = result.issues
    assert issue.path == "engine" and issue.node_id == "dates" and "node 'dst'" in issue.message
    assert "'dates' uses sql" in issue.message
    assert validate_pipeline(chain(plain, pg_dest(), engine="elt")).ok


@pytest.mark.parametrize(
    ("destination", "ok"),
    [
        (file_dest("/out/events.parquet"), False),
        (file_dest("/out/"), False),
        (file_dest("/out/parts/", partition_by=["day"]), False),  # replace: the whole folder every run
        (file_dest("/out/events_{{ ds_nodash }}.parquet"), True),
        (file_dest("/out/day={{ ds }}/"), True),
        (file_dest("/out/{{ data_interval_start.strftime('%Y%m%d') }}.csv", format="csv"), True),
        (file_dest("/out/{{ run_id }}.parquet"), False),  # a new run of the same day: a second file
        (file_dest("/out/parts/", partition_by=["day"], mode="overwrite_partitions"), True),
        (file_dest("/out/parts/", partition_by=["kind"], mode="overwrite_partitions"), False),
    ],
)
def test_interval_into_files_needs_one_file_per_interval(destination: dict[str, Any], ok: bool) -> None:
    found = messages(chain(source(INTERVAL), destination))
    if ok:
        assert found == []
    else:
        [(blocker, text)] = found
        assert blocker == "dst" and "each run would replace the previous intervals' rows" in text
        assert "{{ ds }}" in text and "overwrite_partitions" in text


def test_interval_append_needs_its_column() -> None:
    drop = node("pick", "select_columns", columns=[{"name": "id"}])
    [(blocker, text)] = messages(chain(source(INTERVAL), drop, pg_dest()))
    assert blocker == "pick" and "drops the interval column 'day'" in text
    assert messages(chain(source(INTERVAL), drop, pg_dest(mode="merge", keys=["id"]))) == []
    assert messages(chain(source(INTERVAL), drop, pg_dest(mode="replace"))) == []
    keep = node("pick", "select_columns", columns=[{"name": "id"}, {"name": "day"}])
    assert messages(chain(source(INTERVAL), keep, node("q", "sql", query="SELECT 1"), pg_dest())) == []
