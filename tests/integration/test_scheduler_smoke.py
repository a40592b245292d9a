"""Smoke test: a stored pipeline runs end to end under the real scheduler, dag-processor and api-server.

Self-contained on purpose (no shared fixtures): its own AIRFLOW_HOME with a SQLite DB, the shipped loader
``dags/logidata_pipelines.py``, one pipeline JSON written straight into the pipelines folder, and the
three Airflow processes on 127.0.0.1 with a free port (LocalExecutor task workers talk to the
api-server's execution API). The processes are always stopped (process groups) and their logs are
printed and copied to ``.test-artifacts/scheduler_smoke/`` when the test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stack import AirflowProcesses, airflow_bin, environment, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(480)]

REPO = Path(__file__).resolve().parents[2]
LOADER = REPO / "dags" / "logidata_pipelines.py"
ARTIFACTS = REPO / ".test-artifacts" / "scheduler_smoke"
DAG_ID = "smoke_filter_orders"
RUN_DEADLINE_S = 240
USER, PASSWORD = "admin", "admin"

CSV_TEXT = """order_id,customer,amount
1,alice,5
2,bob,10
3,carol,20
4,dan,
5,erin,42.5
"""
# filter_rows keeps amount >= 10 (a null amount is not kept).
EXPECTED = [(2, "bob"), (3, "carol"), (5, "erin")]


_free_port = free_port


@dataclass
class AirflowStack(AirflowProcesses):
    """The shared process handling (tests/stack.py) with this test's token, GET and log dump."""

    def token(self) -> str:
        body = json.dumps({"username": USER, "password": PASSWORD}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/auth/token",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.load(response)["access_token"])

    def get(self, path: str, token: str) -> Any:
        request = urllib.request.Request(
            f"{self.base_url}{path}", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def dump_logs(self) -> None:
        """Print every process log and task log (shown by pytest for the failed test) and keep copies."""
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        files = sorted(self.logs.glob("*.log")) + sorted((self.home / "logs").rglob("*.log"))
        report = self.home / "logidata" / "factory_report.json"
        if report.exists():
            files.append(report)
        for path in files:
            text = path.read_text(errors="replace")
            print(f"\n===== {path.relative_to(self.home.parent)} (last 200 lines) =====")
            print("\n".join(text.splitlines()[-200:]))
            target = ARTIFACTS / str(path.relative_to(self.home.parent)).replace(os.sep, "__")
            target.write_text(text)
        print(f"\n(logs copied to {ARTIFACTS})")


def _write_inputs(root: Path) -> tuple[Path, Path]:
    data = root / "data"
    out = root / "out"
    data.mkdir()
    out.mkdir()
    csv_path = data / "orders.csv"
    csv_path.write_text(CSV_TEXT)
    return csv_path, out / "big_orders.parquet"


def _pipeline(csv_path: Path, out_path: Path) -> dict[str, Any]:
    return {
        "spec_version": 1,
        "id": DAG_ID,
        "name": "Smoke: keep big orders",
        "schedule": "@once",
        "start_date": "2024-01-01",
        "status": "active",
        "nodes": [
            {
                "id": "read_orders",
                "module": "source.file",
                "config": {"path": str(csv_path), "format": "csv"},
            },
            {"id": "keep_big", "module": "filter_rows", "config": {"condition": "amount >= 10"}},
            {
                "id": "write_big",
                "module": "destination.file",
                "config": {"path": str(out_path), "format": "parquet"},
            },
        ],
        "edges": [
            {"source": "read_orders", "target": "keep_big"},
            {"source": "keep_big", "target": "write_big"},
        ],
    }


def _environment(home: Path, port: int) -> dict[str, str]:
    env = environment(home, port, {USER: "admin"})
    env.update(
        {
            "AIRFLOW__API__SECRET_KEY": "logidata-smoke-test-secret",
            "AIRFLOW__API_AUTH__JWT_SECRET": "logidata-smoke-test-jwt-secret",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            # The pipeline's CSV and output (_write_inputs), next to the home.
            "AIRFLOW__LOGIDATA__ALLOWED_PATHS": f"{home.parent / 'data'},{home.parent / 'out'}",
        }
    )
    return env


@pytest.fixture
def airflow_stack(tmp_path: Path) -> Any:
    home = tmp_path / "airflow"
    logs = tmp_path / "process-logs"
    for folder in (home / "dags", home / "logidata" / "pipelines", logs):
        folder.mkdir(parents=True)
    port = _free_port()
    env = _environment(home, port)
    (home / "simple_auth_manager_passwords.json").write_text(json.dumps({USER: PASSWORD}))
    shutil.copyfile(LOADER, home / "dags" / LOADER.name)

    stack = AirflowStack(home=home, port=port, env=env, logs=logs)
    migrate = subprocess.run(
        [airflow_bin(), "db", "migrate"],
        env=env,
        cwd=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    (logs / "db-migrate.log").write_text(migrate.stdout + migrate.stderr)
    if migrate.returncode != 0:
        stack.dump_logs()
        pytest.fail(f"airflow db migrate failed with code {migrate.returncode}")
    try:
        yield stack
    finally:
        stack.stop()


def _wait_for_success(stack: AirflowStack, deadline: float) -> dict[str, Any]:
    """Poll until the api-server answers, the DAG is parsed and its @once run finished; return the run."""
    token: str | None = None
    last = "api-server not up"
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            token = token or stack.token()
            runs = stack.get(f"/api/v2/dags/{DAG_ID}/dagRuns?limit=10", token)["dag_runs"]
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                token = None
            last = f"HTTP {exc.code} ({'DAG not parsed yet' if exc.code == 404 else exc.reason})"
            runs = None
        except (urllib.error.URLError, OSError) as exc:
            last = f"api-server not answering: {exc}"
            runs = None
        if runs:
            states = {run["state"] for run in runs}
            last = f"run states {sorted(states)}"
            if "failed" in states:
                raise AssertionError(f"the DAG run of {DAG_ID} failed: {runs}")
            done = [run for run in runs if run["state"] == "success"]
            if done:
                return dict(done[0])
        time.sleep(3)
    raise AssertionError(f"no successful run of {DAG_ID} within {RUN_DEADLINE_S} s; last seen: {last}")


def test_pipeline_runs_under_real_scheduler(airflow_stack: AirflowStack, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow.parquet")
    stack = airflow_stack
    csv_path, out_path = _write_inputs(tmp_path)
    pipelines = stack.home / "logidata" / "pipelines"
    (pipelines / f"{DAG_ID}.json").write_text(json.dumps(_pipeline(csv_path, out_path), indent=2))

    try:
        stack.start_all()
        run = _wait_for_success(stack, time.monotonic() + RUN_DEADLINE_S)

        assert run["dag_id"] == DAG_ID
        assert out_path.exists(), f"{out_path} was not written"
        table = pa.read_table(out_path)
        assert table.num_rows == len(EXPECTED)
        rows = sorted(
            (int(order_id), str(customer))
            for order_id, customer in zip(
                table.column("order_id").to_pylist(), table.column("customer").to_pylist(), strict=True
            )
        )
        assert rows == EXPECTED
    except BaseException:
        stack.dump_logs()
        raise
