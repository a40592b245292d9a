"""source.http_api against a real HTTP server on 127.0.0.1: pagination styles, retries, errors, auth, rows.

The server (tests/http_server.py) serves a known dataset of 1,234 records; every test reads it through the
real function layer (``runner.run_source``) or ``HttpApiReader`` with an Airflow connection set through
``AIRFLOW_CONN_<ID>``, exactly as a task would.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_logidata.engine import http_reader, http_records, runner, staging
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.modules.sources.http_api import HttpApiSourceConfig

_TESTS = str(Path(__file__).resolve().parents[2])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
from http_server import ApiServer, make_records  # noqa: E402

RECORDS = make_records(1234)
CONN = "logidata_test_api"
AUTH_CONN = "logidata_test_api_auth"


@pytest.fixture(scope="module")
def api() -> Any:
    with ApiServer() as server:
        yield server


@pytest.fixture
def server(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> ApiServer:
    api.reset()
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", api.connection_json())
    monkeypatch.setenv(f"AIRFLOW_CONN_{AUTH_CONN.upper()}", api.connection_json(auth=True))
    return api


@pytest.fixture
def read(tmp_path: Path, log: Any, server: ApiServer) -> Any:
    def _read(config: dict[str, Any], node_id: str = "api") -> tuple[dict[str, Any], pa.Table]:
        out = staging.task_output_uri("dag", "run", node_id, root=str(tmp_path / "staging"))
        handle = runner.run_source(
            {"conn_id": CONN, **config}, node_id, out, module="source.http_api", log=log
        )
        return dict(handle), pq.read_table(handle["uri"])

    return _read


def expected_row(record: dict[str, Any]) -> dict[str, Any]:
    """What one record of the dataset becomes: flattened, arrays as JSON text, types widened."""
    return {
        "id": record["id"],
        "name": record["name"],
        "price": float(record["price"]),
        "active": record["active"],
        "owner.name": record["owner"]["name"],
        "owner.address.city": record["owner"]["address"]["city"],
        "tags": json.dumps(record["tags"], separators=(",", ":")),
        "code": str(record["code"]),
        "note": record.get("note"),
        "late": record.get("late"),
    }


EXPECTED_SCHEMA = [
    ["id", "int64"],
    ["name", "string"],
    ["price", "double"],
    ["active", "bool"],
    ["owner.name", "string"],
    ["owner.address.city", "string"],
    ["tags", "string"],
    ["code", "string"],
    ["note", "string"],
    ["late", "bool"],
]


def assert_dataset(handle: dict[str, Any], table: pa.Table, records: list[dict[str, Any]] = RECORDS) -> None:
    assert handle["rows"] == table.num_rows == len(records)
    assert handle["schema"] == EXPECTED_SCHEMA
    ids = table.column("id").to_pylist()
    assert len(set(ids)) == len(ids), "duplicate records"
    assert table.to_pylist() == [expected_row(r) for r in records]


def queries(server: ApiServer, path: str, name: str) -> list[str]:
    return [r.query.get(name, [""])[-1] for r in server.requests_to(path)]


# --- pagination ---------------------------------------------------------------------------------------


def test_page_numbers_read_every_record_once(
    read: Any, server: ApiServer, log: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__BATCH_ROWS", "1024")
    handle, table = read(
        {
            "endpoint": "/page",
            "records_path": "data.items",
            "pagination": {
                "type": "page",
                "param": "page",
                "start": 1,
                "size_param": "per_page",
                "size": 100,
            },
        }
    )
    assert_dataset(handle, table)
    # 13 pages with records, then the empty page that ends the paging.
    assert queries(server, "/page", "page") == [str(n) for n in range(1, 15)]
    assert set(queries(server, "/page", "per_page")) == {"100"}
    # Streamed into staging in batch_rows groups, not as one table.
    assert pq.ParquetFile(handle["uri"]).metadata.num_row_groups == 2
    text = log.text()
    assert "api: page 1: 100 record(s) from http://127.0.0.1:" in text
    assert "api: fetched 1234 record(s) in 14 page(s) with 14 request(s), 0 retry(ies)" in text
    assert "; 10 column(s)" in text


def test_offset_advances_by_records_received(read: Any, server: ApiServer) -> None:
    # The server caps limit at 200: asking for 500 must still read everything, without gaps.
    handle, table = read(
        {
            "endpoint": "/offset",
            "records_path": "results",
            "pagination": {"type": "offset", "param": "offset", "limit_param": "limit", "limit": 500},
        }
    )
    assert_dataset(handle, table)
    assert queries(server, "/offset", "offset") == ["0", "200", "400", "600", "800", "1000", "1200", "1234"]
    assert set(queries(server, "/offset", "limit")) == {"500"}


def test_cursor_pages_until_no_cursor(read: Any, server: ApiServer) -> None:
    handle, table = read(
        {
            "endpoint": "/cursor",
            "records_path": "items",
            "pagination": {"type": "cursor", "cursor_path": "meta.next_cursor", "param": "cursor"},
        }
    )
    assert_dataset(handle, table)
    cursors = queries(server, "/cursor", "cursor")
    assert len(cursors) == 13 and cursors[0] == ""  # no request after the last cursor
    assert len(set(cursors)) == 13


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_link_header_pages(read: Any, server: ApiServer, relative: bool) -> None:
    params: dict[str, Any] = {"per_page": 100}
    if relative:
        params["relative"] = 1
    handle, table = read({"endpoint": "/link", "params": params, "pagination": {"type": "link_header"}})
    assert_dataset(handle, table)
    assert queries(server, "/link", "page") == ["", *[str(n) for n in range(2, 14)]]


def test_no_pagination_single_response(read: Any, server: ApiServer) -> None:
    handle, table = read({"endpoint": "single", "records_path": "records"})
    assert_dataset(handle, table)
    assert len(server.requests_to("/single")) == 1


def test_post_with_json_body_and_pages(read: Any, server: ApiServer) -> None:
    handle, table = read(
        {
            "endpoint": "/search",
            "method": "POST",
            "body": {"min_id": 1001},
            "records_path": "data.items",
            "pagination": {"type": "page"},
        }
    )
    assert table.column("id").to_pylist() == list(range(1001, 1235))
    seen = server.requests_to("/search")
    assert [r.method for r in seen] == ["POST"] * 4  # 3 pages with records, then an empty one
    assert all(json.loads(r.body) == {"min_id": 1001} for r in seen)
    assert seen[0].headers["Content-Type"] == "application/json"


def test_schema_is_unified_across_pages(read: Any, server: ApiServer) -> None:
    # Page 1 (ids 1-100) has only integer prices and codes, no "late" column: later pages widen them.
    handle, table = read(
        {"endpoint": "/page", "records_path": "data.items", "pagination": {"type": "page"}},
    )
    schema = dict((name, kind) for name, kind in handle["schema"])
    assert schema["price"] == "double" and schema["code"] == "string" and schema["late"] == "bool"
    rows = {r["id"]: r for r in table.to_pylist()}
    assert rows[7]["price"] == 7.0 and rows[151]["price"] == 151.25
    assert rows[7]["code"] == "7" and rows[1000]["code"] == "X1000"
    assert rows[1]["late"] is None and rows[1201]["late"] is True
    assert rows[1]["note"] is None and rows[5]["note"] == "note 5"
    assert rows[2]["tags"] == "[]" and rows[1]["tags"] == '["a","b"]'


# --- retries --------------------------------------------------------------------------------------------


PAGE_CONFIG: dict[str, Any] = {
    "endpoint": "/page",
    "records_path": "data.items",
    "pagination": {"type": "page", "size_param": "per_page", "size": 100},
}


def test_429_with_retry_after_then_success(read: Any, server: ApiServer, log: Any) -> None:
    server.fail_next("/page", [(429, {"Retry-After": "30"})])
    started = time.monotonic()
    handle, table = read({**PAGE_CONFIG, "retry": {"backoff_seconds": 0.01, "max_backoff_seconds": 0.2}})
    elapsed = time.monotonic() - started
    assert_dataset(handle, table)
    # The first page was asked twice (429, then success), every other page once.
    assert queries(server, "/page", "page") == ["1", *[str(n) for n in range(1, 15)]]
    warnings = log.text("warning")
    assert "HTTP 429" in warnings and "retry 1 of 4 in 0.20 s (Retry-After 30 s)" in warnings
    assert "1 retry(ies), 0.20 s waited" in log.text()
    assert 0.2 <= elapsed < 5, "Retry-After is honoured but capped by max_backoff_seconds"


def test_retry_after_is_honoured_below_the_cap(server: ApiServer, log: Any) -> None:
    server.fail_next("/page", [(429, {"Retry-After": "3"}), (503, {})])
    sleeps: list[float] = []
    config = HttpApiSourceConfig.model_validate({"conn_id": CONN, **PAGE_CONFIG})
    reader = http_reader.HttpApiReader(config, "api", log, sleep=sleeps.append)
    records = [r for page in reader.pages() for r in page.records]
    assert len(records) == 1234
    assert sleeps == [3.0, 2.0]  # Retry-After, then the default backoff of the second retry (1 s x 2)
    assert reader.stats.retries == 2 and reader.stats.requests == 16


def test_500_twice_then_success(read: Any, server: ApiServer, log: Any) -> None:
    server.fail_next("/page", [(500, {}), (500, {})])
    started = time.monotonic()
    handle, table = read({**PAGE_CONFIG, "retry": {"backoff_seconds": 0.02, "max_backoff_seconds": 1}})
    assert time.monotonic() - started < 5
    assert_dataset(handle, table)
    warnings = log.text("warning")
    assert "retry 1 of 4 in 0.02 s (backoff)" in warnings and "retry 2 of 4 in 0.04 s (backoff)" in warnings
    assert "2 retry(ies)" in log.text()
    assert len(server.requests_to("/page")) == 16


def test_exponential_backoff_capped(server: ApiServer, log: Any) -> None:
    server.fail_next("/page", [(502, {})] * 4)
    sleeps: list[float] = []
    config = HttpApiSourceConfig.model_validate(
        {"conn_id": CONN, **PAGE_CONFIG, "retry": {"backoff_seconds": 1, "max_backoff_seconds": 5}}
    )
    reader = http_reader.HttpApiReader(config, "api", log, sleep=sleeps.append)
    assert sum(len(p.records) for p in reader.pages()) == 1234
    assert sleeps == [1, 2, 4, 5]


def test_timeout_is_retried(read: Any, server: ApiServer, log: Any) -> None:
    config = {
        "endpoint": "/single",
        "records_path": "records",
        "timeout": 0.3,
        "retry": {"backoff_seconds": 0},
    }
    read(config)  # warm-up: the first connection lookup of a process takes a few seconds
    server.reset()
    server.delay_next("/single", [3.0])
    started = time.monotonic()
    handle, table = read(config)
    assert time.monotonic() - started < 2.5, "the slow answer was not waited for"
    assert_dataset(handle, table)
    assert "ReadTimeout" in log.text("warning") and "retry 1 of 4" in log.text("warning")
    assert len(server.requests_to("/single")) == 2


def test_retries_exhausted(read: Any, server: ApiServer) -> None:
    server.fail_next("/page", [(503, {})] * 3)
    with pytest.raises(LogiDataTaskError) as info:
        read({**PAGE_CONFIG, "retry": {"max_attempts": 3, "backoff_seconds": 0}})
    message = str(info.value)
    assert "source.http_api node 'api'" in message
    assert "still returned HTTP 503" in message and "after 3 attempt(s)" in message
    assert f"http://127.0.0.1:{server.port}/page?" in message
    assert "planned failure 503" in message  # the body excerpt
    assert len(server.requests_to("/page")) == 3


def test_connection_refused_is_retried_then_fails(
    tmp_path: Path, log: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_LOGIDATA_TEST_CLOSED",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http"}),
    )
    out = staging.task_output_uri("dag", "run", "api", root=str(tmp_path / "staging"))
    config = {
        "conn_id": "logidata_test_closed",
        "endpoint": "/x",
        "retry": {"max_attempts": 3, "backoff_seconds": 0},
    }
    with pytest.raises(LogiDataTaskError) as info:
        runner.run_source(config, "api", out, module="source.http_api", log=log)
    assert "failed after 3 attempt(s): ConnectionError" in str(info.value)
    assert f"http://127.0.0.1:{port}/x" in str(info.value)
    assert "Connection refused" in str(info.value)
    warnings = log.text("warning")
    assert "retry 1 of 2" in warnings and "retry 2 of 2" in warnings and "retry 3" not in warnings


# --- errors ---------------------------------------------------------------------------------------------


def test_404_fails_immediately_with_status_url_and_body(read: Any, server: ApiServer) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        read({"endpoint": "/nope", "params": {"q": "x", "api_key": "do-not-show"}})
    message = str(info.value)
    assert "returned HTTP 404 Not Found" in message
    assert f"GET http://127.0.0.1:{server.port}/nope?q=x&api_key=***" in message
    assert "no route GET /nope on this test server" in message
    assert "do-not-show" not in message
    assert "Check endpoint" in message
    assert len(server.requests_to("/nope")) == 1


def test_body_excerpt_is_limited(read: Any, server: ApiServer) -> None:
    server.fail_next("/page", [(400, {})])
    with pytest.raises(
        LogiDataTaskError, match=r"HTTP 400 Bad Request: \{\"error\": \"planned failure 400\"\}"
    ):
        read(PAGE_CONFIG)
    assert len(server.requests_to("/page")) == 1


def test_malformed_json(read: Any, server: ApiServer) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        read({"endpoint": "/malformed", "records_path": "items"})
    message = str(info.value)
    assert "body that is not valid JSON" in message and "HTTP 200 (text/plain)" in message
    assert f"http://127.0.0.1:{server.port}/malformed" in message
    assert '{"items": [{"id": 1}, {"id": 2,,}' in message


def test_records_path_not_found_lists_keys(read: Any) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        read({"endpoint": "/page", "records_path": "data.rows"})
    message = str(info.value)
    assert "records_path 'data.rows' is not in the response" in message
    assert "no key 'rows' under 'data'; keys there: items" in message
    assert "Top-level keys of the response: data, meta" in message


def test_records_path_missing_at_top_level(read: Any) -> None:
    with pytest.raises(LogiDataTaskError, match="no key 'results' at the top level; keys there: data, meta"):
        read({"endpoint": "/page", "records_path": "results"})


def test_response_object_without_records_path(read: Any) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        read({"endpoint": "/page"})
    assert "the response is an object, not a list" in str(info.value)
    assert "set records_path to the list of records (top-level keys: data, meta)" in str(info.value)


def test_server_ignoring_the_page_parameter_is_caught(read: Any, server: ApiServer) -> None:
    with pytest.raises(LogiDataTaskError, match="the API seems to ignore the query parameter 'page'"):
        read({"endpoint": "/ignores_page", "records_path": "items", "pagination": {"type": "page"}})
    assert len(server.requests_to("/ignores_page")) == 2


def test_repeated_cursor_is_caught(read: Any, server: ApiServer) -> None:
    with pytest.raises(LogiDataTaskError, match="returned a cursor it had already returned"):
        read({"endpoint": "/same_cursor", "records_path": "items", "pagination": {"type": "cursor"}})
    assert len(server.requests_to("/same_cursor")) == 2


def test_link_to_another_host_is_refused(read: Any) -> None:
    with pytest.raises(LogiDataTaskError, match="leaves the connection's host"):
        read({"endpoint": "/elsewhere", "pagination": {"type": "link_header"}})


@pytest.mark.parametrize(
    ("config", "requests_made"),
    [
        ({"endpoint": "/page", "records_path": "data.items", "pagination": {"type": "page"}}, 4),
        ({"endpoint": "/cursor", "records_path": "items", "pagination": {"type": "cursor"}}, 3),
        ({"endpoint": "/link", "pagination": {"type": "link_header"}}, 3),
    ],
    ids=["page", "cursor", "link_header"],
)
def test_max_pages_bound(read: Any, server: ApiServer, config: dict[str, Any], requests_made: int) -> None:
    with pytest.raises(LogiDataTaskError, match="read max_pages = 3 page"):
        read({**config, "max_pages": 3})
    assert len(server.seen) == requests_made


def test_max_pages_is_enough_when_exact(read: Any) -> None:
    handle, _ = read({**PAGE_CONFIG, "max_pages": 13})
    assert handle["rows"] == 1234


def test_no_records_fails_or_skips(read: Any) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(LogiDataTaskError, match="the API returned no records"):
        read({"endpoint": "/empty", "records_path": "items"})
    with pytest.raises(AirflowSkipException):
        read({"endpoint": "/empty", "records_path": "items", "on_empty": "skip"})


def test_unknown_connection(tmp_path: Path, log: Any) -> None:
    out = staging.task_output_uri("dag", "run", "api", root=str(tmp_path / "staging"))
    with pytest.raises(LogiDataTaskError, match="Airflow connection 'logidata_no_such_conn' does not exist"):
        runner.run_source({"conn_id": "logidata_no_such_conn"}, "api", out, module="source.http_api", log=log)


# --- authentication and secrets -----------------------------------------------------------------------


def test_basic_auth_from_the_connection(read: Any, server: ApiServer, log: Any) -> None:
    handle, table = read({**PAGE_CONFIG, "conn_id": AUTH_CONN, "endpoint": "/secure/page"})
    assert_dataset(handle, table)
    login, password = server.credentials
    expected = "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()
    assert {r.headers.get("Authorization") for r in server.requests_to("/secure/page")} == {expected}
    assert password not in log.text() and expected not in log.text()


def test_missing_credentials_fail_with_a_hint(read: Any, server: ApiServer) -> None:
    with pytest.raises(LogiDataTaskError) as info:
        read({**PAGE_CONFIG, "endpoint": "/secure/page"})
    assert "HTTP 401 Unauthorized" in str(info.value)
    assert f"Check the credentials (login/password or extra headers) of connection '{CONN}'" in str(
        info.value
    )
    assert len(server.requests_to("/secure/page")) == 1


def test_connection_extra_headers_are_sent_not_logged(
    read: Any, server: ApiServer, log: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", server.connection_json(**{"X-Api-Key": "k-987654321"}))
    read({"endpoint": "/single", "records_path": "records", "headers": {"X-Trace": "t1"}})
    (request,) = server.requests_to("/single")
    assert request.headers["X-Api-Key"] == "k-987654321"
    assert request.headers["X-Trace"] == "t1"
    assert request.headers["Accept"] == "application/json"
    assert "k-987654321" not in log.text()


# --- pure helpers ---------------------------------------------------------------------------------------


def test_redact_url() -> None:
    assert (
        http_reader.redact_url("https://user:pw@api.example.com:8443/v1/x?page=2&access_token=abc&API_KEY=k")
        == "https://api.example.com:8443/v1/x?page=2&access_token=***&API_KEY=***"
    )
    assert http_reader.redact_url("http://h/p") == "http://h/p"


def test_retry_after_seconds() -> None:
    now = dt.datetime(2024, 5, 6, 12, 0, 0, tzinfo=dt.timezone.utc)
    assert http_reader.retry_after_seconds("7", now=now) == 7.0
    assert http_reader.retry_after_seconds(" 0 ", now=now) == 0.0
    assert http_reader.retry_after_seconds("Mon, 06 May 2024 12:00:30 GMT", now=now) == 30.0
    assert http_reader.retry_after_seconds("Mon, 06 May 2024 11:00:00 GMT", now=now) == 0.0
    assert http_reader.retry_after_seconds("soon", now=now) is None
    assert http_reader.retry_after_seconds("-5", now=now) == 0.0
    assert http_reader.retry_after_seconds("inf", now=now) is None
    assert http_reader.retry_after_seconds(None) is None


def test_json_path_get() -> None:
    doc = {"data": {"items": [1, 2]}, "results": [{"rows": [3]}]}
    assert http_records.json_path_get(doc, "") is doc
    assert http_records.json_path_get(doc, "data.items") == [1, 2]
    assert http_records.json_path_get(doc, "results.0.rows") == [3]
    with pytest.raises(http_records.PathNotFound) as info:
        http_records.json_path_get(doc, "data.items.x")
    assert info.value.describe() == "under 'data.items' is a list of 2 item(s), which has no item 'x'"


def test_flatten_and_widen() -> None:
    row = http_records.flatten_record({"a": 1, "b": {"c": {"d": None}, "e": [1, {"f": 2}]}, "g": {}})
    assert row == {"a": 1, "b.c.d": None, "b.e": '[1,{"f":2}]'}
    assert http_records.flatten_record(5) == {"value": 5}
    widen = http_records.widen
    assert widen("int", "double") == "double" and widen("double", "int") == "double"
    assert widen("null", "bool") == "bool" and widen("bool", "null") == "bool"
    assert widen("bool", "int") == "string" and widen("int", "string") == "string"
    assert http_records.value_kind(2**63) == "string" and http_records.value_kind(True) == "bool"


def test_spool_converts_with_the_final_schema(tmp_path: Path) -> None:
    spool = http_records.RecordSpool(str(tmp_path))
    spool.add([{"n": 1, "x": True}, {"n": 2}])
    spool.add([{"n": 2.5, "x": 3, "only_null": None}, "scalar", {"n": 2**70}])
    batches = list(spool.batches(2))
    assert [b.num_rows for b in batches] == [2, 2, 1]
    table = pa.Table.from_batches(batches)
    assert table.schema == pa.schema(
        [("n", pa.string()), ("x", pa.string()), ("only_null", pa.string()), ("value", pa.string())]
    )
    assert table.column("n").to_pylist() == ["1", "2", "2.5", None, str(2**70)]
    assert table.column("x").to_pylist() == ["true", None, "3", None, None]
    assert table.column("value").to_pylist() == [None, None, None, "scalar", None]
