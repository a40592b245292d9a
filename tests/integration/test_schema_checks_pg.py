"""Design-time checks against the suite's real PostgreSQL: source columns from the catalog (a table and
a query, no row read), the source's own column fields, type mismatches over the server's types, a
destination table the load would refuse, and ``logidata validate --connect`` printing node and field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.schema.check import check_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import specs

pytestmark = pytest.mark.integration


@pytest.fixture
def flights(pg: Any) -> None:
    pg.execute(
        "CREATE TABLE flights (id bigint PRIMARY KEY, carrier text NOT NULL, dep_time integer, "
        "dep_delay numeric(6,1), sched timestamptz)"
    )
    pg.execute("CREATE TABLE loaded (id bigint PRIMARY KEY, carrier text NOT NULL, note text NOT NULL)")


def _pipeline(
    conn_id: str, *steps: dict[str, Any], source: dict[str, Any] | None = None, **dest: Any
) -> dict[str, Any]:
    read = source or specs.pg_source(conn_id, "read", table="flights")
    write = specs.pg_destination(conn_id, "write", table=dest.pop("table", "flights_out"), **dest)
    return specs.linear([read, *steps, write], "checks")


def _issues(pipeline: dict[str, Any], reach: str = "all") -> list[tuple[str | None, str | None, str]]:
    result = check_pipeline(pipeline, reach=reach)  # type: ignore[arg-type]
    return [(i.node_id, i.field, i.message) for i in result.errors]


def test_source_columns_come_from_the_catalog(pg_conn_id: str, flights: None) -> None:
    result = check_pipeline(_pipeline(pg_conn_id), reach="all")
    assert result.errors == []
    columns = [(c.name, c.type) for c in result.schemas["read"].ports["out"]]
    assert columns == [
        ("id", "BIGINT"),
        ("carrier", "VARCHAR"),
        ("dep_time", "INTEGER"),
        ("dep_delay", "DECIMAL(6,1)"),
        ("sched", "TIMESTAMP WITH TIME ZONE"),
    ]
    query = specs.pg_source(pg_conn_id, "read", query="SELECT id, dep_delay * 2 AS twice FROM flights")
    result = check_pipeline(_pipeline(pg_conn_id, source=query), reach="all")
    assert [c.name for c in result.schemas["read"].ports["out"]] == ["id", "twice"]


def test_unknown_columns_and_types_over_server_types(pg_conn_id: str, flights: None) -> None:
    step = {"id": "f", "module": "filter_rows", "config": {"condition": "dep_tme > 600"}}
    [(node, field, message)] = _issues(_pipeline(pg_conn_id, step))
    assert (node, field) == ("f", "condition") and "did you mean 'dep_time'" in message
    step["config"]["condition"] = "carrier - 1 > 0"
    [(node, field, message)] = _issues(_pipeline(pg_conn_id, step))
    assert (node, field) == ("f", "condition") and "carrier" in message
    source = specs.pg_source(pg_conn_id, "read", table="flights", columns=["id", "dep_tme"])
    [(node, field, message)] = _issues(_pipeline(pg_conn_id, source=source))
    assert (node, field) == ("read", "columns[1]") and "'dep_time'" in message
    source = specs.incremental_source(pg_conn_id, "flights", "sched_at")
    source["id"] = "read"
    [(node, field, message)] = _issues(_pipeline(pg_conn_id, source=source))
    assert (node, field) == ("read", "incremental.column") and "'sched'" in message


def test_destination_table_the_load_would_refuse(pg_conn_id: str, flights: None) -> None:
    keep = {
        "id": "pick",
        "module": "select_columns",
        "config": {"columns": [{"name": "id"}, {"name": "carrier"}]},
    }
    # NOT NULL "note" without a default is not in the input: any load fails.
    [(node, field, message)] = _issues(_pipeline(pg_conn_id, keep, table="loaded"))
    assert node == "write" and "'note'" in message and "NOT NULL" in message
    # on_schema_change fail and an input column the table lacks.
    pipeline = _pipeline(pg_conn_id, table="loaded", on_schema_change="fail")
    [(node, field, message)] = _issues(pipeline)
    assert node == "write" and field == "on_schema_change" and "dep_time" in message
    # create_table false and no table.
    [(node, field, message)] = _issues(_pipeline(pg_conn_id, table="nowhere", create_table=False))
    assert node == "write" and "does not exist" in message
    # A matching table: clean.
    add = {
        "id": "note",
        "module": "derive_column",
        "config": {"columns": [{"name": "note", "expression": "'x'"}]},
    }
    assert _issues(_pipeline(pg_conn_id, keep, add, table="loaded")) == []
    # Without --connect the destination is not looked at.
    assert _issues(_pipeline(pg_conn_id, keep, table="loaded"), reach="local") == []


def test_cli_validate_connect(pg_conn_id: str, flights: None, tmp_path: Path) -> None:
    step = {
        "id": "f",
        "module": "filter_rows",
        "label": "Late flights",
        "config": {"condition": "dep_tme > 600"},
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps(_pipeline(pg_conn_id, step)))
    cli = [sys.executable, "-m", "airflow_provider_logidata.cli.main"]
    offline = subprocess.run([*cli, "validate", str(path)], capture_output=True, text=True, check=False)
    assert offline.returncode == 0, offline.stdout + offline.stderr
    online = subprocess.run(
        [*cli, "validate", "--connect", str(path)], capture_output=True, text=True, check=False
    )
    assert online.returncode == 1
    assert "'Late flights' (filter_rows f) > Condition: " in online.stdout
    assert "did you mean 'dep_time'" in online.stdout and "at nodes[1].config.condition" in online.stdout
