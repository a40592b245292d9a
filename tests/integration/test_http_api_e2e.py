"""source.http_api end to end: stored JSON -> real factory -> `dag.test()` against a real HTTP server.

The pipeline reads a paged API through an Airflow connection given as ``AIRFLOW_CONN_<ID>`` (JSON form),
deduplicates and writes Parquet.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
from http_server import ApiServer, make_records  # noqa: E402

pytestmark = pytest.mark.integration

CONN = "logidata_e2e_api"
UNIQUE = make_records(300)
# The API repeats 50 records on its last pages, as an API paging over changing data can.
SERVED = UNIQUE + UNIQUE[:50]


@pytest.fixture(scope="module")
def api() -> Any:
    with ApiServer(records=SERVED) as server:
        yield server


@pytest.fixture
def server(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> ApiServer:
    api.reset()
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", api.connection_json(auth=True))
    return api


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def pipeline(pipeline_id: str, api_config: dict[str, Any], out: Path) -> dict[str, Any]:
    return {
        "id": pipeline_id,
        "nodes": [
            {"id": "fetch", "module": "source.http_api", "config": {"conn_id": CONN, **api_config}},
            {"id": "dedupe", "module": "deduplicate", "config": {"columns": ["id"]}},
            {"id": "write", "module": "destination.file", "config": {"path": str(out)}},
        ],
        "edges": [{"source": "fetch", "target": "dedupe"}, {"source": "dedupe", "target": "write"}],
    }


def test_paged_api_to_parquet(run_pipeline: Any, server: ApiServer, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "items.parquet"
    spec = pipeline(
        "http_api_items",
        {
            "endpoint": "/secure/page",
            "params": {"as_of": "{{ ds }}"},
            "records_path": "data.items",
            "pagination": {"type": "page", "size_param": "per_page", "size": 40},
            "retry": {"backoff_seconds": 0.01, "max_backoff_seconds": 0.05},
        },
        out,
    )
    server.fail_next("/secure/page", [(503, {"Retry-After": "1"})])
    dag_run, _ = run_pipeline(spec, logical_date=dt.datetime(2024, 5, 6, tzinfo=dt.timezone.utc))
    assert str(dag_run.state) == "success", task_states(dag_run)
    assert set(task_states(dag_run).values()) == {"success"}

    table = pq.read_table(out)
    assert table.num_rows == 300
    assert table.column("id").to_pylist() == list(range(1, 301))
    rows = {r["id"]: r for r in table.to_pylist()}
    assert rows[1]["owner.address.city"] == "Lyon" and rows[5]["note"] == "note 5"
    assert rows[151]["price"] == 151.25 and rows[2]["price"] == 2.0
    assert rows[1]["tags"] == '["a","b"]'

    # 9 pages of 40 (350 records) then an empty one, plus the retried 503; every request authenticated
    # and with the templated parameter rendered.
    seen = server.requests_to("/secure/page")
    assert [r.query["page"][0] for r in seen] == ["1", *[str(n) for n in range(1, 11)]]
    assert {r.query["as_of"][0] for r in seen} == {"2024-05-06"}
    assert all(r.headers.get("Authorization", "").startswith("Basic ") for r in seen)


def test_http_error_fails_the_task(run_pipeline: Any, server: ApiServer, tmp_path: Path) -> None:
    out = tmp_path / "never.parquet"
    dag_run, _ = run_pipeline(pipeline("http_api_404", {"endpoint": "/no/such/route"}, out))
    states = task_states(dag_run)
    assert str(dag_run.state) == "failed"
    assert states["fetch"] == "failed"
    assert states["write"] in ("upstream_failed", "None", "none")
    assert len(server.requests_to("/no/such/route")) == 1  # a 404 is not retried
    assert not out.exists()


def test_no_records_can_skip(run_pipeline: Any, server: ApiServer, tmp_path: Path) -> None:
    out = tmp_path / "never.parquet"
    spec = pipeline(
        "http_api_empty", {"endpoint": "/empty", "records_path": "items", "on_empty": "skip"}, out
    )
    dag_run, _ = run_pipeline(spec)
    states = task_states(dag_run)
    assert states["fetch"] == "skipped"
    assert states["dedupe"] == "skipped" and states["write"] == "skipped"
    assert not out.exists()


def test_design_time_columns_come_from_the_first_page(server: ApiServer, tmp_path: Path) -> None:
    """Validation with sources reached reads the first page only and knows every node's columns."""
    from airflow_provider_logidata.schema.check import check_pipeline

    config = {
        "endpoint": "/secure/page",
        "records_path": "data.items",
        "pagination": {"type": "page", "size_param": "per_page", "size": 40},
    }
    spec = pipeline("http_api_columns", config, tmp_path / "items.parquet")
    result = check_pipeline(spec, reach="all")
    assert result.errors == [], [str(e) for e in result.errors]
    names = [c.name for c in result.schemas["dedupe"].ports["out"]]
    assert "id" in names and names == [c.name for c in result.schemas["fetch"].ports["out"]]
    assert len(server.requests_to("/secure/page")) == 1  # the first page only
    spec["nodes"][1]["config"]["columns"] = ["idd"]
    [error] = check_pipeline(spec, reach="all").errors
    assert (error.node_id, error.field) == ("dedupe", "columns[0]") and "did you mean 'id'" in error.message
    # Without --connect an API is not called.
    assert check_pipeline(spec, reach="local").errors == []
