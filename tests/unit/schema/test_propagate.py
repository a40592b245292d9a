"""Schema propagation's rules: unknown stays unknown (one warning at its origin), one mistake gives one
error, drafts keep the columns of their complete nodes, and the pieces around it (field walker, labels,
the source cache, the pool fallback)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.schema.cache import SourceCache
from airflow_provider_logidata.schema.check import check_pipeline
from airflow_provider_logidata.schema.fields import closest, column_fields, find_column
from airflow_provider_logidata.schema.messages import describe, field_text
from airflow_provider_logidata.schema.model import Column

CSV = "id,name,amount\n1,a,2.5\n"


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    path = tmp_path / "in.csv"
    path.write_text(CSV)
    return path


def _chain(csv: Path, *steps: tuple[str, str, dict[str, Any]], status: str = "active") -> dict[str, Any]:
    nodes = [{"id": "read", "module": "source.file", "config": {"path": str(csv)}}]
    nodes += [{"id": i, "module": m, "config": c} for i, m, c in steps]
    nodes.append(
        {"id": "write", "module": "destination.file", "config": {"path": str(csv.parent / "o.parquet")}}
    )
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"spec_version": 1, "id": "p", "status": status, "nodes": nodes, "edges": edges}


def test_every_node_gets_columns_and_types(csv: Path) -> None:
    derive = ("twice", "derive_column", {"columns": [{"name": "double", "expression": "amount * 2"}]})
    agg = (
        "sum",
        "aggregate",
        {"group_by": ["name"], "aggregations": [{"column": "double", "function": "sum"}]},
    )
    result = check_pipeline(_chain(csv, derive, agg), reach="local")
    assert result.issues == []
    assert [(c.name, c.type) for c in result.schemas["twice"].ports["out"]][-1] == ("double", "DOUBLE")
    assert [c.name for c in result.schemas["sum"].ports["out"]] == ["name", "double_sum"]
    # lineage through two nodes: double_sum <- double (aggregation) <- amount
    [origin] = result.schemas["sum"].lineage["out"]["double_sum"]
    assert (origin.node_id, origin.column, origin.kind) == ("twice", "double", "direct")
    [origin] = result.schemas["twice"].lineage["out"]["double"]
    assert (origin.node_id, origin.column) == ("read", "amount")


def test_sources_are_not_read_without_reach(csv: Path) -> None:
    result = check_pipeline(_chain(csv, ("f", "filter_rows", {"condition": "nope > 1"})), reach="none")
    assert result.issues == []  # nothing can be told: no error, no warning
    assert {s.status for s in result.schemas.values()} == {"unknown"}


def test_a_missing_file_is_a_warning_and_downstream_is_unknown(tmp_path: Path) -> None:
    result = check_pipeline(
        _chain(tmp_path / "missing.csv", ("f", "filter_rows", {"condition": "x"})), reach="local"
    )
    assert result.errors == []
    [warning] = result.warnings
    assert warning.node_id == "read" and "file not found" in warning.message
    assert result.schemas["f"].status == "unknown"


def test_python_node_makes_downstream_unknown_with_one_warning(csv: Path) -> None:
    steps = [
        ("py", "python", {"callable": "json:dumps"}),
        ("f", "filter_rows", {"condition": "whatever > 1"}),
    ]
    result = check_pipeline(_chain(csv, *steps), reach="local")
    assert result.errors == []
    assert [(w.node_id, "only known when it runs" in w.message) for w in result.warnings] == [("py", True)]
    assert result.schemas["f"].status == "unknown"


def test_one_mistake_gives_one_error_not_a_cascade(csv: Path) -> None:
    steps = [
        ("a", "filter_rows", {"condition": "amout > 1"}),
        ("b", "filter_rows", {"condition": "amount > 2"}),
        ("c", "deduplicate", {"columns": ["id"]}),
    ]
    result = check_pipeline(_chain(csv, *steps), reach="local")
    assert [(e.node_id, e.field) for e in result.errors] == [("a", "condition")]
    assert [result.schemas[n].status for n in ("a", "b", "c")] == ["error", "unknown", "unknown"]


def test_a_draft_keeps_the_columns_of_its_complete_nodes(csv: Path) -> None:
    steps = [
        ("a", "filter_rows", {"condition": "amount > 1"}),
        ("half", "deduplicate", {"colums": ["id"]}),  # a typo: a structural error
    ]
    result = check_pipeline(_chain(csv, *steps, status="draft"), reach="local")
    assert [(e.node_id, e.field) for e in result.errors] == [("half", "colums")]
    assert result.schemas["a"].status == "known"
    assert [c.name for c in result.schemas["a"].ports["out"]] == ["id", "name", "amount"]


def test_union_warns_about_a_column_filled_with_nulls(csv: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("id,name\n2,b\n")
    data = _chain(csv)
    data["nodes"].insert(1, {"id": "other", "module": "source.file", "config": {"path": str(other)}})
    data["nodes"].insert(2, {"id": "u", "module": "union", "config": {}})
    data["edges"] = [
        {"source": "read", "target": "u"},
        {"source": "other", "target": "u"},
        {"source": "u", "target": "write"},
    ]
    result = check_pipeline(data, reach="local")
    assert result.errors == []
    assert [(w.node_id, "'amount' is missing in other" in w.message) for w in result.warnings] == [
        ("u", True)
    ]


def test_column_fields_follow_ports_and_tagged_unions() -> None:
    join = registry()["join"].config_model.model_json_schema(by_alias=True)
    found = list(column_fields(join, {"left_on": ["a"], "right_on": ["b"], "how": "inner"}))
    assert [(f.path, f.value, f.port) for f in found] == [
        (("left_on", 0), "a", "left"),
        (("right_on", 0), "b", "right"),
    ]
    checks = registry()["quality_check"].config_model.model_json_schema(by_alias=True)
    data = {
        "checks": [{"type": "row_count_between", "min": 1}, {"type": "unique", "column": "id"}],
        "keys": ["k"],
    }
    assert [(f.path, f.value) for f in column_fields(checks, data)] == [
        (("checks", 1, "column"), "id"),
        (("keys", 0), "k"),
    ]
    # output names are not input columns
    derive = registry()["derive_column"].config_model.model_json_schema(by_alias=True)
    assert list(column_fields(derive, {"columns": [{"name": "new", "expression": "1"}]})) == []


def test_names_match_like_duckdb_and_suggestions_ignore_case() -> None:
    assert find_column("AMOUNT", ["amount", "id"]) == "amount"
    assert find_column("x", ["X", "x"]) == "x"
    assert closest("Dep_Tme", ["dep_time", "arr_time", "carrier"]) == ["dep_time"]


def test_messages_name_node_label_and_field_label() -> None:
    from airflow_provider_logidata.spec.errors import SpecIssue

    assert field_text("quality_check", "checks[1].column") == "Checks #2 > Column"
    assert field_text("fill_nulls", "fills[0].value") == "Fills #1 > Value"
    data = {"nodes": [{"id": "f", "module": "filter_rows", "label": "Late flights"}]}
    issue = SpecIssue(
        "nodes[0].config.condition", "column 'x' does not exist", node_id="f", field="condition"
    )
    assert describe(issue, data) == (
        "'Late flights' (filter_rows f) > Condition: column 'x' does not exist\n    at nodes[0].config.condition"
    )


def test_source_cache_expires_and_bounds() -> None:
    cache = SourceCache(entries=2, ttl=60, failure_ttl=0.05)
    cache.put("a", [Column("x", "INTEGER")])
    cache.put("b", None, "file not found")
    assert cache.get("a") is not None and cache.get("b") is not None
    time.sleep(0.06)
    assert cache.get("b") is None  # failures are retried soon
    cache.put("c", [])
    cache.put("d", [])
    assert cache.get("a") is None and set(cache.snapshot()) == {"c", "d"}


def test_a_check_that_cannot_finish_falls_back_to_the_structure(
    monkeypatch: pytest.MonkeyPatch, csv: Path
) -> None:
    from airflow_provider_logidata.preview import service as preview
    from airflow_provider_logidata.preview.pool import PoolBusy
    from airflow_provider_logidata.schema import service

    class Busy:
        def run(self, *args: Any, **kwargs: Any) -> Any:
            raise PoolBusy("2 previews running")

    monkeypatch.setattr(preview, "get_pool", lambda: Busy())
    result = service.check(_chain(csv, ("f", "filter_rows", {"condition": "amout > 1"})))
    assert result.errors == []
    [warning] = result.warnings
    assert "did not finish" in warning.message and "only the structure" in warning.message


def test_validation_says_where_each_node_runs() -> None:
    """The canvas shows which nodes run inside PostgreSQL and why a pushdown stopped (structure only)."""
    nodes = [
        {"id": "a", "module": "source.postgres", "config": {"conn_id": "pg", "table": "flights"}},
        {"id": "b", "module": "source.postgres", "config": {"conn_id": "pg", "table": "airlines"}},
        {"id": "j", "module": "join", "config": {"on": ["carrier"]}},
        {"id": "d", "module": "destination.postgres", "config": {"conn_id": "pg", "table": "out"}},
        {"id": "p", "module": "sql", "config": {"query": "SELECT * FROM input_0"}},
        {"id": "e", "module": "destination.postgres", "config": {"conn_id": "pg", "table": "days"}},
        {"id": "c", "module": "source.postgres", "config": {"conn_id": "pg", "table": "calendar"}},
    ]
    edges = [
        {"source": "a", "target": "j", "target_port": "left"},
        {"source": "b", "target": "j", "target_port": "right"},
        {"source": "j", "target": "d"},
        {"source": "c", "target": "p"},
        {"source": "p", "target": "e"},
    ]
    result = check_pipeline({"spec_version": 1, "id": "w", "nodes": nodes, "edges": edges}, reach="none")
    assert result.errors == []
    assert {n for n, (engine, _why) in result.engines.items() if engine == "postgres"} == {"a", "b", "j", "d"}
    assert result.engines["p"][0] == "engine" and "uses sql" in (result.engines["p"][1] or "")
    assert result.engines["e"][0] == "engine" and "no PostgreSQL builder" in (result.engines["e"][1] or "")
