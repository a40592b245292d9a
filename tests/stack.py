"""A real Airflow on 127.0.0.1 for tests: api-server, dag-processor and scheduler (LocalExecutor workers).

Each process runs in its own process group and is always stopped. ``AirflowStack.api`` talks HTTP to the
api-server with a real token of one of the SimpleAuthManager users, like the builder or ``curl`` would.
Test modules load it with ``sys.path.insert(0, <tests folder>)`` then ``from stack import ...`` (the suite
uses importlib import mode: test folders are not packages).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LOADER = REPO / "dags" / "logidata_pipelines.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def airflow_bin() -> str:
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else (shutil.which("airflow") or "airflow")


@dataclass
class Response:
    status: int
    body: Any
    text: str


@dataclass
class AirflowProcesses:
    """The processes of one Airflow on 127.0.0.1: start, watch, stop; logs in ``logs``."""

    home: Path
    port: int
    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, name: str, *args: str) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [airflow_bin(), *args],
            env=self.env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stopping it also stops its workers
        )
        log.close()

    def migrate(self) -> None:
        result = subprocess.run(
            [airflow_bin(), "db", "migrate"],
            env=self.env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        (self.logs / "db-migrate.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise AssertionError(f"airflow db migrate failed ({result.returncode}); see {self.logs}")

    def start_all(self) -> None:
        """The api-server first: task processes report to its execution API, and a task started before it
        answers fails (a read timeout on a loaded machine, "connection refused" on a quiet one)."""
        self.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.port))
        self.wait_until_up()
        self.start("dag-processor", "dag-processor")
        self.start("scheduler", "scheduler", "--skip-serve-logs")
        # Ready, not just started: a test (or a benchmark's timing) must not share the CPU with their start-up.
        self.wait_until_healthy(("scheduler", "dag_processor"))

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise AssertionError(f"airflow {name} exited with code {proc.returncode}; see {self.logs}")

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.wait(timeout=10)

    def wait_until_up(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                urllib.request.urlopen(f"{self.base_url}/api/v2/monitor/health", timeout=5).close()
                return
            except (urllib.error.URLError, OSError):
                time.sleep(1)
        raise AssertionError(f"the api-server did not answer within {timeout} s; see {self.logs}")

    def wait_until_healthy(self, components: tuple[str, ...], timeout: float = 240) -> None:
        """Until Airflow's health endpoint reports each component healthy (its job heartbeats)."""
        deadline = time.monotonic() + timeout
        health: dict[str, Any] = {}
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with urllib.request.urlopen(f"{self.base_url}/api/v2/monitor/health", timeout=5) as response:
                    health = json.load(response)
            except (urllib.error.URLError, OSError, ValueError):
                health = {}
            if all((health.get(name) or {}).get("status") == "healthy" for name in components):
                return
            time.sleep(1)
        raise AssertionError(
            f"{', '.join(components)} not healthy within {timeout} s ({health}); see {self.logs}"
        )

    def keep_logs(self, target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        files = sorted(self.logs.glob("*.log")) + sorted((self.home / "logs").rglob("*.log"))
        for path in files:
            rel = str(path.relative_to(self.home.parent)).replace(os.sep, "__")
            shutil.copyfile(path, target / rel)


def bearer_token(base_url: str, username: str, password: str, timeout: float = 60) -> str:
    """A token from Airflow's own ``POST /auth/token`` (a SimpleAuthManager user)."""
    request = urllib.request.Request(
        f"{base_url}/auth/token",
        data=json.dumps({"username": username, "password": password}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return str(json.load(response)["access_token"])


@dataclass
class AirflowStack(AirflowProcesses):
    """:class:`AirflowProcesses` with an HTTP client acting as one of the SimpleAuthManager users."""

    passwords: dict[str, str] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, user: str) -> str:
        if user not in self._tokens:
            response = self.request(
                "POST", "/auth/token", body={"username": user, "password": self.passwords[user]}, token=None
            )
            assert response.status == 201, response.text
            self._tokens[user] = str(response.body["access_token"])
        return self._tokens[user]

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        token: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Response:
        """One HTTP request; never raises for an HTTP error status (the test asserts it)."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                status, content = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, content = error.code, error.read()
        text = content.decode(errors="replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return Response(status, parsed, text)

    def api(self, method: str, path: str, user: str | None = "user", **kwargs: Any) -> Response:
        """A request to the builder API (``/logidata/api``) as ``user`` (``None``: no token)."""
        token = self.token(user) if user else None
        return self.request(method, f"/logidata/api{path}", token=token, **kwargs)

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Until the DAG processor has parsed ``dag_id`` (the core API knows it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.request("GET", f"/api/v2/dags/{dag_id}", token=self.token("admin")).status == 200:
                return
            time.sleep(1)
        raise AssertionError(f"DAG {dag_id} was not parsed within {timeout} s; see {self.logs}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 240) -> str:
        """The final state of a DAG run."""
        deadline = time.monotonic() + timeout
        quoted = urllib.request.quote(run_id, safe="")
        while time.monotonic() < deadline:
            self.check_alive()
            response = self.request(
                "GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}", token=self.token("admin")
            )
            state = (response.body or {}).get("state")
            if state in ("success", "failed"):
                return str(state)
            time.sleep(1)
        raise AssertionError(f"run {run_id} of {dag_id} did not finish within {timeout} s; see {self.logs}")

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """One task try's log through the core API, as its raw JSON text (events and error details)."""
        quoted = urllib.request.quote(run_id, safe="")
        response = self.request(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances/{task_id}/logs/{try_number}",
            token=self.token("admin"),
            headers={"Accept": "application/json"},
        )
        return response.text


def environment(home: Path, port: int, roles: dict[str, str]) -> dict[str, str]:
    """The environment of every process of a stack: loopback only, SQLite, LocalExecutor, low parallelism.

    Nothing of the calling session's Airflow or AWS settings leaks in (unit-test mode, other homes).
    ``roles`` maps SimpleAuthManager users to roles; the password file is ``home``'s (``prepare_home``).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW", "AWS_"))}
    base_url = f"http://127.0.0.1:{port}"
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
            # A task's calls to the execution API wait 5 s by default, 5 tries: on a loaded 2-core CI machine
            # the api-server can take longer, and the task dies before it runs. Bounds, not expectations.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
            "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "10",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in roles.items()),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(PASSWORDS_FILE.format(home=home)),
            "AIRFLOW__API__BASE_URL": base_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "3",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGIDATA__PIPELINES_PATH": str(home / "logidata" / "pipelines"),
            "AIRFLOW__LOGIDATA__STAGING_PATH": str(home / "logidata" / "staging"),
            "AIRFLOW__LOGIDATA__REPORT_PATH": str(home / "logidata" / "factory_report.json"),
            # Preview workers start on the first preview, not with the api-server: less CPU at start-up.
            "AIRFLOW__LOGIDATA__PREVIEW_PRESTART": "False",
            "DO_NOT_TRACK": "1",
            "SCARF_ANALYTICS": "false",
            "SCARF_NO_ANALYTICS": "true",
        }
    )
    return env


PASSWORDS_FILE = "{home}/simple_auth_manager_passwords.json"


def prepare_home(home: Path, passwords: dict[str, str]) -> None:
    """The folders, the users' passwords and the shipped loader in the DAGs folder."""
    for folder in (home / "dags", home / "logidata" / "pipelines", home / "logidata" / "data"):
        folder.mkdir(parents=True, exist_ok=True)
    Path(PASSWORDS_FILE.format(home=home)).write_text(json.dumps(passwords))
    shutil.copyfile(LOADER, home / "dags" / LOADER.name)


def base_environment(
    home: Path, port: int, passwords: dict[str, str], roles: dict[str, str]
) -> dict[str, str]:
    """:func:`environment`, with the home prepared (:func:`prepare_home`)."""
    prepare_home(home, passwords)
    return environment(home, port, roles)
