"""Small builders of pipeline documents shared by the tests (load with ``sys.path.insert(0, <tests>)``)."""

from __future__ import annotations

import itertools
from typing import Any


def linear(nodes: list[dict[str, Any]], pid: str, **fields: Any) -> dict[str, Any]:
    """A pipeline whose ``nodes`` are chained in list order (one edge per neighbouring pair)."""
    return {
        "spec_version": 1,
        "id": pid,
        "name": pid,
        **fields,
        "nodes": nodes,
        "edges": [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)],
    }


def pg_source(conn_id: str, node_id: str = "orders", **config: Any) -> dict[str, Any]:
    """A ``source.postgres`` node reading through ``conn_id``."""
    return {"id": node_id, "module": "source.postgres", "config": {"conn_id": conn_id, **config}}


def every_module_nodes(data: str) -> list[tuple[str, str, dict[str, Any]]]:
    """``(node id, module, minimal valid config)`` of every built-in module, files under ``data``.

    tests/unit/security/test_policy.py fails when a registered module is missing here, so each new module
    gets the escape tests of its fields.
    """
    return [
        ("src", "source.file", {"path": f"{data}/in.csv", "format": "csv"}),
        ("pg", "source.postgres", {"conn_id": "pg", "table": "orders", "schema": "public"}),
        ("api", "source.http_api", {"conn_id": "api", "endpoint": "/items", "records_path": "data"}),
        ("agg", "aggregate", {"group_by": ["c"], "aggregations": [{"function": "count", "as": "n"}]}),
        ("clean", "clean_text", {"columns": ["c"], "trim": True, "case": "lower"}),
        ("dedupe", "deduplicate", {"columns": ["id"], "keep": "first"}),
        ("derive", "derive_column", {"columns": [{"name": "d", "expression": "a + 1"}]}),
        ("fill", "fill_nulls", {"fills": [{"column": "c", "value": "x"}]}),
        ("filter", "filter_rows", {"condition": "a > 0"}),
        ("join", "join", {"on": ["id"], "how": "left"}),
        ("map", "map_values", {"column": "c", "mapping": {"a": "b"}}),
        ("dates", "parse_dates", {"columns": ["d"], "formats": ["%Y-%m-%d"]}),
        ("py", "python", {"callable": "json:dumps"}),
        ("qc", "quality_check", {"checks": [{"type": "not_null", "column": "id"}], "action": "warn"}),
        ("route", "route", {"condition": "a > 1"}),
        ("select", "select_columns", {"columns": [{"name": "a", "cast": "string"}]}),
        ("sort", "sort", {"by": [{"column": "a"}]}),
        ("sql", "sql", {"query": "SELECT * FROM input"}),
        ("union", "union", {"distinct": True}),
        ("dst", "destination.file", {"path": f"{data}/out/{{{{ ds }}}}.parquet"}),
        ("dst_pg", "destination.postgres", {"conn_id": "pg", "table": "t", "mode": "append"}),
    ]
