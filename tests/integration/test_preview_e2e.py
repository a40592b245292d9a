"""Data preview end to end: real PostgreSQL (limit pushed down, checked in pg_stat_statements), moto S3,
CSV files, the worker pool's time limit, and ``POST /logidata/api/preview`` inside Airflow's real app
with real SimpleAuthManager tokens.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.preview import service
from airflow_provider_logidata.preview.execute import run_plan
from airflow_provider_logidata.preview.plan import plan_preview

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import specs
from airflow_app import API, airflow_test_client, issue_tokens

pytestmark = pytest.mark.integration

BIG_ROWS = 200_000


def doc(nodes: list[dict[str, Any]], *, engine: str = "auto", pid: str = "preview_test") -> dict[str, Any]:
    return specs.linear(nodes, pid, name="Preview test", engine=engine)


pg_source = specs.pg_source


@pytest.fixture
def big_table(pg: Any, postgres_server: Any) -> str:
    assert postgres_server.pg_stat_statements, "pg_stat_statements.so is needed to check the pushdown"
    pg.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    pg.execute(
        "CREATE TABLE big AS SELECT g AS id, 'customer ' || (g % 977) AS name, (g % 100)::numeric(8,2) AS amount, "
        f"DATE '2024-01-01' + (g % 365) AS day FROM generate_series(1, {BIG_ROWS}) AS g"
    )
    pg.execute("ANALYZE big")
    pg.execute("SELECT pg_stat_statements_reset()")
    return "big"


def statements(pg: Any) -> list[tuple[str, int]]:
    """(statement, rows per call) of what ran on the test table since the reset."""
    return [
        (str(query), int(rows))
        for query, rows in pg.execute(
            "SELECT query, rows / greatest(calls, 1) FROM pg_stat_statements WHERE dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) AND query ILIKE '%big%'"
        ).fetchall()
    ]


# --------------------------------------------------------------------------------------------- PostgreSQL


def test_postgres_head_pushes_the_limit_down(pg: Any, pg_conn_id: str, big_table: str) -> None:
    answer = run_plan(plan_preview(doc([pg_source(pg_conn_id, table=big_table)]), "orders", limit=100))
    assert len(answer["rows"]) == 100 and answer["sample_rows"] == 100
    assert answer["rows"][0] == [1, "customer 1", "1.00", "2024-01-02"]
    assert [c["type"] for c in answer["columns"]] == ["INTEGER", "VARCHAR", "DECIMAL(8,2)", "DATE"]
    assert answer["row_count_estimate"] == BIG_ROWS
    assert "LIMIT 100" in answer["sql"]
    copies = [(q, r) for q, r in statements(pg) if q.lstrip().upper().startswith("COPY")]
    assert copies, statements(pg)
    for query, rows in copies:
        assert "LIMIT 100" in query and rows <= 100, (query, rows)
    assert all(rows <= 100 for _, rows in statements(pg)), statements(pg)


def test_postgres_random_uses_tablesample(pg: Any, pg_conn_id: str, big_table: str) -> None:
    plan = plan_preview(
        doc([pg_source(pg_conn_id, table=big_table)]), "orders", limit=50, sampling="random", seed=3
    )
    first, again = run_plan(plan), run_plan(plan)
    assert len(first["rows"]) == 50 and first["rows"] == again["rows"]
    assert "TABLESAMPLE SYSTEM" in first["sql"] and "REPEATABLE (3)" in first["sql"]
    ids = [row[0] for row in first["rows"]]
    assert ids != list(range(1, 51))
    assert all(rows <= 50 for _, rows in statements(pg)), statements(pg)


def test_postgres_query_source_is_wrapped_with_a_limit(pg: Any, pg_conn_id: str, big_table: str) -> None:
    query = "SELECT id, amount * 2 AS double_amount FROM big WHERE amount > 10"
    nodes = [
        pg_source(pg_conn_id, query=query),
        {"id": "keep", "module": "filter_rows", "config": {"condition": "double_amount > 100"}},
    ]
    answer = run_plan(plan_preview(doc(nodes, engine="etl"), "keep", limit=10))
    assert answer["rows"] and all(float(row[1]) > 100 for row in answer["rows"])
    assert all(rows <= 100 for _, rows in statements(pg)), statements(pg)


def test_elt_path_previews_inside_postgres(pg: Any, pg_conn_id: str, big_table: str) -> None:
    nodes = [
        pg_source(pg_conn_id, table=big_table),
        {"id": "keep", "module": "filter_rows", "config": {"condition": "amount >= 50"}},
        {"id": "upper", "module": "clean_text", "config": {"columns": ["name"], "case": "upper"}},
        {"id": "save", "module": "destination.postgres", "config": {"conn_id": pg_conn_id, "table": "out"}},
    ]
    answer = run_plan(plan_preview(doc(nodes, engine="elt"), "upper", limit=20))
    assert answer["engine"] == "elt"
    assert "LIMIT" in answer["sql"] and "upper" in answer["sql"].lower()
    assert len(answer["rows"]) == 20 and all(row[1].startswith("CUSTOMER") for row in answer["rows"])
    assert all(float(row[2]) >= 50 for row in answer["rows"])
    assert pg.execute("SELECT to_regclass('out')").fetchone()[0] is None  # nothing written
    assert all(rows <= 1000 for _, rows in statements(pg)), statements(pg)


# ----------------------------------------------------------------------------------------------- files, S3


def test_s3_csv_head(s3_server: str, s3_bucket: str) -> None:
    import boto3

    lines = ["id,city"] + [f"{i},City {i}" for i in range(5000)]
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").put_object(
        Bucket=s3_bucket, Key="in/orders.csv", Body="\n".join(lines).encode()
    )
    nodes = [
        {"id": "read", "module": "source.file", "config": {"path": f"s3://logidata_s3@{s3_bucket}/in/*.csv"}}
    ]
    answer = run_plan(plan_preview(doc(nodes), "read", limit=7))
    assert answer["rows"] == [[i, f"City {i}"] for i in range(7)]
    assert "LIMIT 7" in answer["sql"]
    assert answer["row_count_estimate"] == pytest.approx(5000, rel=0.05)  # through the glob's listing


@pytest.fixture
def s3_bytes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Bytes the preview fetches from S3: every ranged GET of s3fs's file object, counted in-process."""
    from s3fs.core import S3File

    fetched: list[int] = []
    real = S3File._fetch_range

    def counted(self: Any, start: int, end: int) -> Any:
        data = real(self, start, end)
        fetched.append(len(data))
        return data

    monkeypatch.setattr(S3File, "_fetch_range", counted)
    return fetched


def _put(s3_server: str, bucket: str, key: str, body: bytes) -> None:
    import boto3

    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").put_object(
        Bucket=bucket, Key=key, Body=body
    )


def test_s3_csv_head_does_not_download_the_object(
    s3_server: str, s3_bucket: str, s3_bytes: list[int]
) -> None:
    body = ("id,city\n" + "".join(f"{i},City {i % 1000}\n" for i in range(400_000))).encode()
    _put(s3_server, s3_bucket, "big/orders.csv", body)
    nodes = [
        {
            "id": "read",
            "module": "source.file",
            "config": {"path": f"s3://logidata_s3@{s3_bucket}/big/orders.csv"},
        }
    ]
    answer = run_plan(plan_preview(doc(nodes), "read", limit=100))
    assert [row[0] for row in answer["rows"]] == list(range(100))
    assert s3_bytes, "the counter saw no S3 read"
    assert sum(s3_bytes) < len(body) / 4, (sum(s3_bytes), len(body))
    # Size over the line length at the start and end of the object (two 32 KB ranged reads).
    assert answer["row_count_estimate"] == pytest.approx(400_000, rel=0.15)


def test_s3_parquet_head_fetches_only_the_first_row_groups(
    s3_server: str, s3_bucket: str, s3_bytes: list[int]
) -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 400_000
    table = pa.table(
        {"id": pa.array(range(rows), pa.int64()), "text": [f"row {i:08d} padding" for i in range(rows)]}
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=10_000, compression="none")
    body = buffer.getvalue()
    _put(s3_server, s3_bucket, "big/orders.parquet", body)
    path = f"s3://logidata_s3@{s3_bucket}/big/orders.parquet"
    answer = run_plan(
        plan_preview(
            doc([{"id": "read", "module": "source.file", "config": {"path": path}}]), "read", limit=100
        )
    )
    assert [row[0] for row in answer["rows"]] == list(range(100))
    assert answer["row_count_estimate"] == rows
    assert s3_bytes, "the counter saw no S3 read"
    assert sum(s3_bytes) < len(body) / 4, (sum(s3_bytes), len(body))


def test_http_api_reads_the_first_page_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    tests_dir = str(Path(__file__).resolve().parents[1])
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    from http_server import ApiServer, make_records

    with ApiServer(records=make_records(500)) as api:
        monkeypatch.setenv("AIRFLOW_CONN_PREVIEW_API", api.connection_json())
        config = {
            "conn_id": "preview_api",
            "endpoint": "/page",
            "records_path": "data.items",
            "pagination": {"type": "page", "size_param": "per_page", "size": 50},
        }
        nodes = [{"id": "fetch", "module": "source.http_api", "config": config}]
        answer = run_plan(plan_preview(doc(nodes), "fetch", limit=20))
        assert len(answer["rows"]) == 20 and answer["sample_rows"] == 20
        assert "first page" in answer["sql"]
        assert len(api.requests_to("/page")) == 1  # the other 9 pages were never asked for


# ---------------------------------------------------------------------------------------- the API route


@pytest.fixture(scope="module")
def airflow_client(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Airflow's full app with LogiData mounted; the preview workers start with the first preview."""
    with airflow_test_client(tmp_path_factory.mktemp("preview-api"), "preview-api") as client:
        yield client


@pytest.fixture(scope="module")
def tokens(airflow_client: Any) -> dict[str, str]:
    return issue_tokens(airflow_client)


def post(client: Any, token: str, body: dict[str, Any]) -> Any:
    client.cookies.clear()
    return client.post(f"{API}/preview", json=body, headers={"Authorization": f"Bearer {token}"})


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert isinstance(body["detail"], str) and body["detail"] and isinstance(body["errors"], list)
    assert "Traceback" not in response.text
    return body


@pytest.fixture
def csv_pipeline(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "orders.csv"
    path.write_text("id,name,amount\n" + "".join(f"{i}, n{i % 4} ,{i % 9}\n" for i in range(3000)))
    return doc(
        [
            {"id": "read", "module": "source.file", "config": {"path": str(path)}},
            {"id": "clean", "module": "clean_text", "config": {"columns": ["name"], "trim": True}},
            {"id": "keep", "module": "filter_rows", "config": {"condition": "amount > 4"}},
        ]
    )


def test_preview_route_answers_and_caches(
    airflow_client: Any, tokens: dict[str, str], csv_pipeline: Any
) -> None:
    service.get_cache().clear()
    body = {"pipeline": csv_pipeline, "node_id": "keep", "limit": 25}
    response = post(airflow_client, tokens["user"], body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["node_id"] == "keep" and answer["cached"] is False and answer["engine"] == "etl"
    assert len(answer["rows"]) == 25 and all(row[2] > 4 for row in answer["rows"])
    assert answer["rows"][0][1] == "n1"  # trimmed upstream
    assert {p["name"] for p in answer["profile"]} == {"id", "name", "amount"}
    assert answer["input"]["columns"] == answer["columns"] and len(answer["row_status"]) == 25
    again = post(airflow_client, tokens["user"], body).json()
    assert again["cached"] is True and again["rows"] == answer["rows"]
    moved = json.loads(json.dumps(csv_pipeline))
    moved["nodes"][0]["position"] = {"x": 300, "y": 10}
    assert post(airflow_client, tokens["user"], {**body, "pipeline": moved}).json()["cached"] is True
    moved["nodes"][2]["config"]["condition"] = "amount > 5"
    changed = post(airflow_client, tokens["user"], {**body, "pipeline": moved}).json()
    assert changed["cached"] is False and all(row[2] > 5 for row in changed["rows"])


def test_preview_route_bad_input(airflow_client: Any, tokens: dict[str, str], csv_pipeline: Any) -> None:
    user = tokens["user"]
    body = error_of(post(airflow_client, user, {"pipeline": csv_pipeline, "node_id": "ghost"}), 404)
    assert "'ghost'" in body["detail"]
    broken = json.loads(json.dumps(csv_pipeline))
    broken["nodes"][1]["config"] = {"columns": ["name"], "case": "sideways"}
    body = error_of(post(airflow_client, user, {"pipeline": broken, "node_id": "keep"}), 422)
    assert "'clean'" in body["detail"]
    assert {issue["node_id"] for issue in body["errors"]} == {"clean"}
    assert body["errors"][0]["path"].startswith("nodes[1].config")
    body = error_of(
        post(airflow_client, user, {"pipeline": csv_pipeline, "node_id": "keep", "limit": 0}), 422
    )
    assert body["errors"][0]["path"] == "limit"
    error_of(post(airflow_client, user, {"pipeline": csv_pipeline, "node_id": "keep", "rows": 5}), 422)
    missing = json.loads(json.dumps(csv_pipeline))
    missing["nodes"][0]["config"]["path"] = "/nowhere/at/all.csv"
    body = error_of(post(airflow_client, user, {"pipeline": missing, "node_id": "read"}), 422)
    assert "file not found" in body["detail"] and body["errors"][0]["node_id"] == "read"


def test_preview_needs_edit_access(airflow_client: Any, tokens: dict[str, str], csv_pipeline: Any) -> None:
    error_of(post(airflow_client, tokens["viewer"], {"pipeline": csv_pipeline, "node_id": "read"}), 403)
    airflow_client.cookies.clear()
    error_of(airflow_client.post(f"{API}/preview", json={"pipeline": csv_pipeline, "node_id": "read"}), 401)


def test_timeout_kills_the_preview_and_the_next_one_works(
    airflow_client: Any,
    tokens: dict[str, str],
    csv_pipeline: Any,
    pg_conn_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PREVIEW_TIMEOUT", "3")
    slow = doc([pg_source(pg_conn_id, query="SELECT x FROM pg_sleep(20), (VALUES (1)) AS v(x)")], pid="slow")
    started = time.monotonic()
    body = error_of(post(airflow_client, tokens["user"], {"pipeline": slow, "node_id": "orders"}), 504)
    assert time.monotonic() - started < 10
    assert body["detail"].startswith("preview of node 'orders' timed out after 3 s (source.postgres 'orders'")
    assert "preview_timeout" in body["detail"]
    response = post(airflow_client, tokens["user"], {"pipeline": csv_pipeline, "node_id": "read", "limit": 3})
    assert response.status_code == 200, response.text


def test_connection_from_the_metadata_db(
    airflow_client: Any, tokens: dict[str, str], postgres_server: Any, pg_database: str, pg: Any
) -> None:
    """Workers resolve connections stored in Airflow's DB (not only AIRFLOW_CONN_* variables)."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    pg.execute("CREATE TABLE t AS SELECT 1 AS a")
    conn_id = "preview_db_conn"
    with create_session() as session:
        session.query(Connection).filter(Connection.conn_id == conn_id).delete()
        session.add(
            Connection(
                conn_id=conn_id,
                conn_type="postgres",
                host=postgres_server.host,
                port=postgres_server.port,
                login=postgres_server.user,
                password=postgres_server.password,
                schema=pg_database,
            )
        )
    try:
        pipeline = doc([pg_source(conn_id, table="t")], pid="db_conn")
        response = post(airflow_client, tokens["user"], {"pipeline": pipeline, "node_id": "orders"})
        assert response.status_code == 200, response.text
        assert response.json()["rows"] == [[1]]
    finally:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id == conn_id).delete()


# ------------------------------------------------------------------ a hanging preview never takes the API down


def _hang_in_thread(client: Any, token: str, pipeline: dict[str, Any]) -> tuple[Any, list[Any]]:
    """Start a preview that hangs in ``pg_sleep`` on a thread; the answer lands in the returned list."""
    import threading

    answers: list[Any] = []

    def send() -> None:
        answers.append(
            client.post(
                f"{API}/preview",
                json={"pipeline": pipeline, "node_id": "orders"},
                headers={"Authorization": f"Bearer {token}"},
            )
        )

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread, answers


def _wait_until_sleeping(pg: Any, thread: Any) -> None:
    """Block until PostgreSQL shows the preview's ``pg_sleep`` running (the worker is busy)."""
    import threading

    tick = threading.Event()
    for _ in range(400):
        found = pg.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE '%pg_sleep(%' AND state = 'active' "
            "AND pid <> pg_backend_pid()"
        ).fetchone()[0]
        if found:
            return
        assert thread.is_alive(), "the hanging preview answered before it started sleeping"
        tick.wait(0.05)
    raise AssertionError("the preview never reached pg_sleep")


def test_api_answers_while_a_preview_hangs(
    airflow_client: Any, tokens: dict[str, str], pg: Any, pg_conn_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PREVIEW_TIMEOUT", "8")
    slow = doc([pg_source(pg_conn_id, query="SELECT x FROM pg_sleep(30), (VALUES (1)) AS v(x)")], pid="hang")
    thread, answers = _hang_in_thread(airflow_client, tokens["user"], slow)
    _wait_until_sleeping(pg, thread)
    headers = {"Authorization": f"Bearer {tokens['user']}"}
    health = airflow_client.get("/api/v2/monitor/health", headers=headers)
    assert health.status_code == 200, health.text
    modules = airflow_client.get(f"{API}/modules", headers=headers)
    assert modules.status_code == 200, modules.text
    assert thread.is_alive(), "the API answered only after the preview ended"
    thread.join(timeout=30)
    assert answers and answers[0].status_code == 504, answers and answers[0].text


def test_second_preview_is_refused_with_429_while_the_only_worker_hangs(
    airflow_client: Any,
    tokens: dict[str, str],
    csv_pipeline: Any,
    pg: Any,
    pg_conn_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One worker and no queue (read when the pool is created: a fresh pool for this test)."""
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PREVIEW_WORKERS", "1")
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PREVIEW_QUEUE", "0")
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PREVIEW_TIMEOUT", "8")
    previous = service._pool
    monkeypatch.setattr(service, "_pool", None)
    service.get_cache().clear()
    try:
        pool = service.get_pool()
        assert (pool.workers, pool.queue_size) == (1, 0)
        slow = doc(
            [pg_source(pg_conn_id, query="SELECT x FROM pg_sleep(30), (VALUES (1)) AS v(x)")], pid="busy"
        )
        thread, answers = _hang_in_thread(airflow_client, tokens["user"], slow)
        _wait_until_sleeping(pg, thread)
        body = error_of(
            post(airflow_client, tokens["user"], {"pipeline": csv_pipeline, "node_id": "read", "limit": 3}),
            429,
        )
        assert "try again" in body["detail"]
        thread.join(timeout=30)
        assert answers and answers[0].status_code == 504, answers and answers[0].text
        response = post(
            airflow_client, tokens["user"], {"pipeline": csv_pipeline, "node_id": "read", "limit": 3}
        )
        assert response.status_code == 200, response.text
    finally:
        if service._pool is not None:
            service._pool.close()
        monkeypatch.setattr(service, "_pool", previous)
