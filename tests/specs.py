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
