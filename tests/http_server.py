"""A small real JSON REST API for tests: ``http.server`` on 127.0.0.1 (port 0) in a background thread.

Serves one known dataset through every pagination style ``source.http_api`` supports, plus error
behaviours. Test modules load it with ``load_http_server()`` below (the suite uses importlib import mode
and tests/ is no package)::

    sys.path.insert(0, str(Path(__file__).resolve().parents[N]))  # the tests/ folder
    from http_server import ApiServer, make_records

Routes (GET unless said otherwise; page sizes default to 100):

* ``/page?page=N&per_page=S`` -> ``{"data": {"items": [...]}, "meta": {"page": N}}``; pages start at 1.
* ``/offset?offset=O&limit=L`` -> ``{"results": [...], "total": T}``; the server caps ``limit`` at 200.
* ``/cursor?cursor=C`` -> ``{"items": [...], "meta": {"next_cursor": "..." | null}}``.
* ``/link?page=N`` -> a bare JSON list, with ``Link: <...>; rel="next"`` (absolute, or relative with
  ``relative=1``) while there are more pages.
* ``/single`` -> all records in one response, ``{"records": [...]}``.
* ``POST /search?page=N`` with ``{"min_id": K}`` -> records with ``id >= K``, paged like ``/page``.
* ``/ignores_page`` -> always the first page (a server ignoring the paging parameter).
* ``/same_cursor`` -> always the same cursor.
* ``/elsewhere`` -> a Link header pointing to another host.
* ``/malformed`` -> 200 with a body that is not JSON. ``/empty`` -> ``{"items": []}``.
* ``/secure/<route>`` -> ``<route>``, but only with the basic-auth header of ``ApiServer.credentials``.
* anything else -> 404 with a small text body.

``server.delay_next(path, [seconds, ...])`` delays the next answers to ``path`` (client timeouts).
``server.fail_next(path, [(status, headers), ...])`` makes the next requests to ``path`` fail with those
responses, in order, before it behaves normally again (429 with Retry-After, 500, ...).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

DEFAULT_PAGE_SIZE = 100
OFFSET_LIMIT_CAP = 200


def make_records(count: int = 1234) -> list[dict[str, Any]]:
    """The dataset: nested objects, arrays, missing keys and types that change between pages.

    * ``price``: integers for ids up to 150, then ``id + 0.25`` for odd ids -> widened to double.
    * ``code``: an integer below id 1000, a text from there on -> a text column (``"7"``, ``"X1000"``).
    * ``note``: only on every fifth record; ``late``: only on ids above 1200 (a column appearing late).
    * ``owner.address.city``: two levels of nesting; ``tags``: an array (kept as JSON text).
    """
    records = []
    for i in range(1, count + 1):
        record: dict[str, Any] = {
            "id": i,
            "name": f"item-{i:04d}",
            "price": i if i <= 150 or i % 2 == 0 else i + 0.25,
            "active": i % 3 != 0,
            "owner": {"name": f"owner-{i % 10}", "address": {"city": ["Paris", "Lyon", "Nice"][i % 3]}},
            "tags": ["a", "b"] if i % 2 else [],
            "code": i if i < 1000 else f"X{i}",
        }
        if i % 5 == 0:
            record["note"] = f"note {i}"
        if i > 1200:
            record["late"] = True
        records.append(record)
    return records


@dataclass
class SeenRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class ApiServer:
    records: list[dict[str, Any]] = field(default_factory=make_records)
    credentials: tuple[str, str] = ("reader", "s3cret-Passw0rd")
    seen: list[SeenRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, list[tuple[int, dict[str, str]]]] = defaultdict(list)
        self._delays: dict[str, list[float]] = defaultdict(list)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> ApiServer:
        handler = type("Handler", (_Handler,), {"api": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="test-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connection_json(self, *, auth: bool = False, **extra: Any) -> str:
        """The JSON form of an Airflow http connection to this server (for ``AIRFLOW_CONN_<ID>``)."""
        conn: dict[str, Any] = {"conn_type": "http", "host": "127.0.0.1", "port": self.port, "schema": "http"}
        if auth:
            conn["login"], conn["password"] = self.credentials
        if extra:
            conn["extra"] = extra
        return json.dumps(conn)

    # -- behaviour and inspection -----------------------------------------------------------------------

    def fail_next(self, path: str, responses: list[tuple[int, dict[str, str]]]) -> None:
        with self._lock:
            self._failures[path].extend(responses)

    def delay_next(self, path: str, seconds: list[float]) -> None:
        """Answer the next requests to ``path`` only after these delays (to trigger client timeouts)."""
        with self._lock:
            self._delays[path].extend(seconds)

    def _next_delay(self, path: str) -> float:
        with self._lock:
            queue = self._delays.get(path)
            return queue.pop(0) if queue else 0.0

    def _next_failure(self, path: str) -> tuple[int, dict[str, str]] | None:
        with self._lock:
            queue = self._failures.get(path)
            return queue.pop(0) if queue else None

    def record(self, request: SeenRequest) -> None:
        with self._lock:
            self.seen.append(request)

    def requests_to(self, path: str) -> list[SeenRequest]:
        with self._lock:
            return [r for r in self.seen if r.path == path]

    def reset(self) -> None:
        with self._lock:
            self.seen.clear()
            self._failures.clear()
            self._delays.clear()


def _one(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    return int(values[-1]) if values else default


class _Handler(BaseHTTPRequestHandler):
    api: ApiServer
    protocol_version = "HTTP/1.1"  # keep-alive, like real APIs
    disable_nagle_algorithm = True  # headers and body are written separately: no 40 ms delayed-ACK stalls

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    # -- responses ---------------------------------------------------------------------------------------

    def _send(
        self, status: int, body: Any, headers: dict[str, str] | None = None, *, raw: bool = False
    ) -> None:
        data = body if raw else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if raw else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = parts.path
        self.api.record(SeenRequest(method, path, query, dict(self.headers.items()), body))

        delay = self.api._next_delay(path)
        if delay:
            time.sleep(delay)
        failure = self.api._next_failure(path)
        if failure is not None:
            status, headers = failure
            self._send(status, {"error": f"planned failure {status}"}, headers)
            return

        if path.startswith("/secure/"):
            expected = "Basic " + base64.b64encode(":".join(self.api.credentials).encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._send(401, {"error": "authentication required"}, {"WWW-Authenticate": "Basic"})
                return
            path = path[len("/secure") :]

        route = getattr(self, f"_route_{path.strip('/')}", None) if path.strip("/").isidentifier() else None
        if route is None or (method == "POST") != (path == "/search"):
            self._send(404, f"no route {method} {path} on this test server".encode(), raw=True)
            return
        route(query, body)

    # -- routes ------------------------------------------------------------------------------------------

    def _records_page(self, records: list[dict[str, Any]], page: int, size: int) -> list[dict[str, Any]]:
        start = (page - 1) * size
        return records[start : start + size] if page >= 1 else []

    def _route_page(self, query: dict[str, list[str]], body: bytes) -> None:
        page, size = _one(query, "page", 1), _one(query, "per_page", DEFAULT_PAGE_SIZE)
        items = self._records_page(self.api.records, page, size)
        self._send(200, {"data": {"items": items}, "meta": {"page": page}})

    def _route_offset(self, query: dict[str, list[str]], body: bytes) -> None:
        offset = _one(query, "offset", 0)
        limit = min(_one(query, "limit", DEFAULT_PAGE_SIZE), OFFSET_LIMIT_CAP)
        items = self.api.records[offset : offset + limit]
        self._send(200, {"results": items, "total": len(self.api.records)})

    def _route_cursor(self, query: dict[str, list[str]], body: bytes) -> None:
        cursor = (query.get("cursor") or [""])[-1]
        start = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("at:")) if cursor else 0
        items = self.api.records[start : start + DEFAULT_PAGE_SIZE]
        after = start + len(items)
        next_cursor = (
            base64.urlsafe_b64encode(f"at:{after}".encode()).decode()
            if after < len(self.api.records)
            else None
        )
        self._send(200, {"items": items, "meta": {"next_cursor": next_cursor, "count": len(items)}})

    def _route_link(self, query: dict[str, list[str]], body: bytes) -> None:
        page, size = _one(query, "page", 1), _one(query, "per_page", DEFAULT_PAGE_SIZE)
        items = self._records_page(self.api.records, page, size)
        headers = {}
        if page * size < len(self.api.records):
            next_query = urlencode(
                {"page": page + 1, "per_page": size, **({"relative": 1} if "relative" in query else {})}
            )
            target = f"/link?{next_query}" if "relative" in query else f"{self.api.url}/link?{next_query}"
            last = f"{self.api.url}/link?page={-(-len(self.api.records) // size)}"
            headers["Link"] = f'<{target}>; rel="next", <{last}>; rel="last"'
        self._send(200, items, headers)

    def _route_single(self, query: dict[str, list[str]], body: bytes) -> None:
        self._send(200, {"records": self.api.records})

    def _route_search(self, query: dict[str, list[str]], body: bytes) -> None:
        request = json.loads(body or b"{}")
        matching = [r for r in self.api.records if r["id"] >= int(request.get("min_id", 0))]
        page = _one(query, "page", 1)
        self._send(200, {"data": {"items": self._records_page(matching, page, DEFAULT_PAGE_SIZE)}})

    def _route_ignores_page(self, query: dict[str, list[str]], body: bytes) -> None:
        self._send(200, {"items": self.api.records[:DEFAULT_PAGE_SIZE]})

    def _route_same_cursor(self, query: dict[str, list[str]], body: bytes) -> None:
        self._send(200, {"items": self.api.records[:10], "meta": {"next_cursor": "again"}})

    def _route_elsewhere(self, query: dict[str, list[str]], body: bytes) -> None:
        self._send(200, self.api.records[:10], {"Link": '<http://example.invalid/steal?page=2>; rel="next"'})

    def _route_malformed(self, query: dict[str, list[str]], body: bytes) -> None:
        self._send(200, b'{"items": [{"id": 1}, {"id": 2,,}', raw=True)

    def _route_empty(self, query: dict[str, list[str]], body: bytes) -> None:
        self._send(200, {"items": []})
