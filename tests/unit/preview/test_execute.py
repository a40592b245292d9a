"""Running a preview plan in-process over real files: sampling pushdown, transforms, before/after."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.preview.execute import match_rows, run_plan, source_rows
from airflow_provider_logidata.preview.plan import plan_preview


def write_csv(path: Path, rows: int) -> Path:
    lines = ["id,name,amount"]
    for i in range(rows):
        amount = "" if i % 10 == 3 else str(i % 7 - 2)
        lines.append(f"{i},  Name {i % 5}  ,{amount}")
    lines.append(lines[1])  # an exact duplicate of the first data row, at the end
    path.write_text("\n".join(lines) + "\n")
    return path


def doc(nodes: list[dict[str, Any]], edges: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    if edges is None:
        edges = [(a["id"], b["id"]) for a, b in itertools.pairwise(nodes)]
    return {
        "spec_version": 1,
        "id": "p",
        "name": "p",
        "nodes": nodes,
        "edges": [{"source": s, "target": t} for s, t in edges],
    }


def csv_source(path: Path) -> dict[str, Any]:
    return {"id": "read", "module": "source.file", "config": {"path": str(path)}}


def test_csv_head_reads_only_the_limit(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", 5000)
    answer = run_plan(plan_preview(doc([csv_source(path)]), "read", limit=20))
    json.dumps(answer, allow_nan=False)
    assert answer["sample_rows"] == 20 and len(answer["rows"]) == 20
    assert answer["rows"][0] == [0, "  Name 0  ", -2]
    assert [c["name"] for c in answer["columns"]] == ["id", "name", "amount"]
    assert answer["sql"].endswith("LIMIT 20") and "read_csv" in answer["sql"]
    assert answer["engine"] == "etl" and answer["input"] is None and answer["row_status"] is None
    assert [p["name"] for p in answer["profile"]] == ["id", "name", "amount"]


def test_parquet_head_and_row_estimate_from_footer(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"x": list(range(10_000))}), path, row_group_size=1000)
    answer = run_plan(plan_preview(doc([csv_source(path)]), "read", limit=5))
    assert answer["rows"] == [[0], [1], [2], [3], [4]]
    assert answer["row_count_estimate"] == 10_000


def test_random_sample_is_repeatable_with_a_seed(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", 2000)
    first = run_plan(plan_preview(doc([csv_source(path)]), "read", limit=30, sampling="random", seed=7))
    again = run_plan(plan_preview(doc([csv_source(path)]), "read", limit=30, sampling="random", seed=7))
    assert first["rows"] == again["rows"] and len(first["rows"]) == 30
    assert "USING SAMPLE reservoir(30 ROWS) REPEATABLE (7)" in first["sql"]
    assert [row[0] for row in first["rows"]] != list(range(30))


def test_chain_runs_the_module_builders_with_before_after(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", 50)
    nodes = [
        csv_source(path),
        {
            "id": "clean",
            "module": "clean_text",
            "config": {"columns": ["name"], "trim": True, "case": "lower"},
        },
        {"id": "keep", "module": "filter_rows", "config": {"condition": "amount > 0"}},
    ]
    plan = plan_preview(doc(nodes), "clean", limit=10)
    assert source_rows(plan) == 10  # clean_text keeps every row: no over-read
    answer = run_plan(plan)
    assert answer["rows"][0] == [0, "name 0", -2]
    assert answer["input"]["rows"][0] == [0, "  Name 0  ", -2]
    assert answer["row_status"] == ["changed"] * 10

    plan = plan_preview(doc(nodes), "keep", limit=10)
    assert source_rows(plan) == 100  # a filter may drop rows: the sources read more
    answer = run_plan(plan)
    assert all(row[2] > 0 for row in answer["rows"])
    status = answer["row_status"]
    kept = [row for row, state in zip(answer["input"]["rows"], status, strict=True) if state == "kept"]
    assert kept == answer["rows"][: len(kept)]
    assert "removed" in status


def test_deduplicate_marks_the_copy_removed(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", 5)
    nodes = [csv_source(path), {"id": "dedupe", "module": "deduplicate", "config": {}}]
    answer = run_plan(plan_preview(doc(nodes), "dedupe", limit=100))
    assert answer["sample_rows"] == 5
    assert answer["row_status"] == ["kept"] * 5 + ["removed"]


def test_join_and_multi_output(tmp_path: Path) -> None:
    left = write_csv(tmp_path / "left.csv", 20)
    right = tmp_path / "right.csv"
    right.write_text("id,tier\n1,gold\n2,silver\n")
    nodes = [
        csv_source(left),
        {"id": "tiers", "module": "source.file", "config": {"path": str(right)}},
        {"id": "join", "module": "join", "config": {"on": ["id"], "how": "inner"}},
        {"id": "route", "module": "route", "config": {"condition": "tier = 'gold'"}},
    ]
    data = doc(nodes, [("join", "route")])
    data["edges"] += [
        {"source": "read", "target": "join", "target_port": "left"},
        {"source": "tiers", "target": "join", "target_port": "right"},
    ]
    joined = run_plan(plan_preview(data, "join"))
    assert sorted(row[0] for row in joined["rows"]) == [1, 2]
    assert [c["name"] for c in joined["columns"]] == ["id", "name", "amount", "tier"]
    routed = run_plan(plan_preview(data, "route"))
    assert [row[-1] for row in routed["rows"]] == ["gold"]  # the first output, "matched"


def test_destination_previews_what_it_would_write(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", 10)
    nodes = [
        csv_source(path),
        {"id": "write", "module": "destination.file", "config": {"path": str(tmp_path / "o.parquet")}},
    ]
    answer = run_plan(plan_preview(doc(nodes), "write", limit=3))
    assert len(answer["rows"]) == 3 and not (tmp_path / "o.parquet").exists()


def test_errors_name_the_node(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", 10)
    nodes = [csv_source(path), {"id": "keep", "module": "filter_rows", "config": {"condition": "nope > 1"}}]
    with pytest.raises(LogiDataTaskError, match="filter_rows node 'keep'"):
        run_plan(plan_preview(doc(nodes), "keep"))
    missing = [{"id": "read", "module": "source.file", "config": {"path": str(tmp_path / "missing.csv")}}]
    with pytest.raises(LogiDataTaskError, match="file not found"):
        run_plan(plan_preview(doc(missing), "read"))


def test_conditions_cannot_read_files(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", 10)
    condition = f"id IN (SELECT 1 FROM read_csv('{path}'))"
    nodes = [csv_source(path), {"id": "keep", "module": "filter_rows", "config": {"condition": condition}}]
    with pytest.raises(LogiDataTaskError):
        run_plan(plan_preview(doc(nodes), "keep"))


def test_match_rows() -> None:
    before = pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    assert match_rows("select_columns", before, pa.table({"a": [1, 2, 3]})) == ["kept"] * 3
    assert match_rows("fill_nulls", before, pa.table({"a": [1, 5, 3], "b": ["x", "y", "z"]})) == [
        "kept",
        "changed",
        "kept",
    ]
    assert match_rows("filter_rows", before, before.slice(1, 1)) == ["removed", "kept", "removed"]
    assert match_rows("filter_rows", before, pa.table({"a": [9], "b": ["q"]})) is None
    assert match_rows("aggregate", before, before) is None
