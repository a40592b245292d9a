"""A small OpenAI-compatible chat server for tests: ``POST /v1/chat/completions`` on 127.0.0.1 (port 0).

Answers each request with the next scripted reply (the assistant message content), checks the bearer
key when one is set, and records the requests. Loaded with ``sys.path`` like ``http_server.py``::

    with LlmServer(replies=['{"nodes": [...]}'], api_key="k") as server: ...
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class LlmServer:
    replies: list[str] = field(default_factory=list)
    api_key: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> LlmServer:
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="test-llm", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> LlmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def connection_json(self, model: str = "test-model") -> str:
        conn: dict[str, Any] = {
            "conn_type": "logidata_llm",
            "extra": {"base_url": self.base_url, "model": model},
        }
        if self.api_key:
            conn["password"] = self.api_key
        return json.dumps(conn)

    def next_reply(self) -> str:
        with self._lock:
            return (
                self.replies.pop(0) if self.replies else '{"nodes": [], "explanation": "no reply scripted"}'
            )


class _Handler(BaseHTTPRequestHandler):
    server_state: LlmServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        state = self.server_state
        with state._lock:
            state.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
        if self.path != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        if state.api_key and self.headers.get("Authorization") != f"Bearer {state.api_key}":
            self._send(401, {"error": {"message": "invalid api key"}})
            return
        content = state.next_reply()
        self._send(
            200,
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
            },
        )
