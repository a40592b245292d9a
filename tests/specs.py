"""Small builders of pipeline documents shared by the tests (load with ``sys.path.insert(0, <tests>)``)."""

from __future__ import annotations

import itertools
from typing import Any

# Scheduling fields of a daily pipeline whose first day is 2024-01-01 (for data_interval sources).
DAILY = {"schedule": "@daily", "start_date": "2024-01-01T00:00:00Z"}


def graph(
    nodes: list[dict[str, Any]], edges: list[tuple[str, str]], pid: str, **fields: Any
) -> dict[str, Any]:
    """A pipeline of ``nodes`` joined by ``edges``, each a ``(source id, target id)`` pair."""
    return {
        "spec_version": 1,
        "id": pid,
        "name": pid,
        **fields,
        "nodes": nodes,
        "edges": [{"source": a, "target": b} for a, b in edges],
    }


def linear(nodes: list[dict[str, Any]], pid: str, **fields: Any) -> dict[str, Any]:
    """A pipeline whose ``nodes`` are chained in list order (one edge per neighbouring pair)."""
    return graph(nodes, [(a["id"], b["id"]) for a, b in itertools.pairwise(nodes)], pid, **fields)


def fan_out(source: dict[str, Any], targets: list[dict[str, Any]], pid: str, **fields: Any) -> dict[str, Any]:
    """A pipeline whose ``source`` node feeds each of ``targets`` (one edge each, in list order)."""
    return graph([source, *targets], [(source["id"], t["id"]) for t in targets], pid, **fields)


def pg_source(conn_id: str, node_id: str = "orders", **config: Any) -> dict[str, Any]:
    """A ``source.postgres`` node reading through ``conn_id``."""
    return {"id": node_id, "module": "source.postgres", "config": {"conn_id": conn_id, **config}}


def incremental_source(
    conn_id: str, table: str, column: str, mode: str = "cursor", **config: Any
) -> dict[str, Any]:
    """A ``source.postgres`` node named after ``table`` that reads it incrementally (``mode``: ``cursor``
    or ``data_interval``) on ``column``."""
    return pg_source(conn_id, table, table=table, incremental={"column": column, "mode": mode}, **config)


def pg_destination(conn_id: str, node_id: str, **config: Any) -> dict[str, Any]:
    """A ``destination.postgres`` node writing through ``conn_id``."""
    return {"id": node_id, "module": "destination.postgres", "config": {"conn_id": conn_id, **config}}


def file_destination(node_id: str, path: str, **config: Any) -> dict[str, Any]:
    """A ``destination.file`` node writing ``path``."""
    return {"id": node_id, "module": "destination.file", "config": {"path": path, **config}}


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
