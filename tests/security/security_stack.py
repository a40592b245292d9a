"""What the security tests share: the stack they run against (started by conftest.py), its users, secrets and
a canary server. Loaded with ``sys.path.insert(0, <this folder>)``; test folders are not packages.

One real Airflow for the security tests: api-server, dag-processor, scheduler with LocalExecutor workers,
a real PostgreSQL server, the moto S3 server, all on 127.0.0.1.

The pipeline editor is the SimpleAuthManager role ``user`` (may edit and trigger DAGs; may not read
connections, config or secrets); ``viewer`` reads only; ``admin`` is the admin. The home holds real
secrets (an ``airflow.cfg`` with the JWT secret every process uses, the password file) and a secret
connection whose password is a marker no output, log or answer may ever contain. Ambient AWS credentials
are set and point at a loopback canary server: anything that fell back to them would show up there.
"""

from __future__ import annotations

import secrets
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stack import REPO, AirflowStack

ARTIFACTS = REPO / ".test-artifacts" / "security"
PASSWORDS = {"admin": "admin-pw", "user": "user-pw", "viewer": "viewer-pw"}
ROLES = {"admin": "admin", "user": "user", "viewer": "viewer"}
SECRET = f"TOPSECRET-{secrets.token_hex(8)}"
JWT_SECRET = f"jwt-{secrets.token_hex(16)}"
PG_DATABASE = "security"


class Canary:
    """A loopback HTTP server that records every request (stands in for AWS and its metadata service)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                canary.requests.append(f"{self.command} {self.path}")
                self.send_response(403)
                self.end_headers()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _record

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@dataclass
class SecurityStack:
    airflow: AirflowStack
    home: Path
    data: Path
    pg: Any  # tests/pg.py PostgresServer
    canary: Canary
    s3_endpoint: str
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def dags(self) -> Path:
        return self.home / "dags"

    def pg_connect(self) -> Any:
        return self.pg.connect(PG_DATABASE, autocommit=True)

    def save(self, pipeline: dict[str, Any], *, user: str = "user") -> Any:
        """Create (or overwrite) a pipeline through the builder API as ``user``."""
        existing = self.airflow.api("GET", f"/pipelines/{pipeline['id']}", user="admin")
        if existing.status == 200:
            etag = existing.body["etag"]
            return self.airflow.api(
                "PUT",
                f"/pipelines/{pipeline['id']}",
                user=user,
                body={"pipeline": pipeline, "expected_etag": etag},
            )
        return self.airflow.api("POST", "/pipelines", user=user, body={"pipeline": pipeline})
