"""A refused pipeline shows in Airflow's own import errors; the good DAG of the same file stays active and
its task log says nothing about the refused one (issue 13).

A real Airflow on 127.0.0.1 (tests/stack.py: api-server, dag-processor, scheduler with LocalExecutor workers,
SQLite) parses the shipped loader over a store holding one good pipeline (``@once``, so the scheduler runs
it) and one refused pipeline (engine ``elt`` with a node PostgreSQL cannot run). Everything is read
through the core REST API. Process and task logs are copied to ``.test-artifacts/factory_errors/`` when
the test fails.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stack import AirflowStack, base_environment, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(480)]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".test-artifacts" / "factory_errors"
LOADER_KEY = "logidata_pipelines.py"
GOOD, REFUSED = "errors_good_orders", "errors_refused_elt"
PASSWORDS = {"admin": "admin-secret"}
ROLES = {"admin": "admin"}
REASON = "node 'custom' uses sql, which has no PostgreSQL builder"


def good_pipeline(pid: str, data: Path, schedule: str | None) -> dict[str, Any]:
    return {
        "id": pid,
        "schedule": schedule,
        "start_date": "2024-01-01",
        # One retry: on this 2-core machine a worker's start-up call to a busy api-server can time out.
        "retries": 1,
        "retry_delay": 2,
        "nodes": [
            {"id": "read", "module": "source.file", "config": {"path": str(data / "orders.csv")}},
            {"id": "keep_big", "module": "filter_rows", "config": {"condition": "amount >= 10"}},
            {"id": "write", "module": "destination.file", "config": {"path": str(data / f"{pid}.parquet")}},
        ],
        "edges": [{"source": "read", "target": "keep_big"}, {"source": "keep_big", "target": "write"}],
    }


def refused_pipeline(pid: str) -> dict[str, Any]:
    return {
        "id": pid,
        "engine": "elt",
        "nodes": [
            {"id": "src", "module": "source.postgres", "config": {"conn_id": "pg", "table": "t"}},
            {"id": "custom", "module": "sql", "config": {"query": "SELECT * FROM input_0"}},
            {"id": "dst", "module": "destination.postgres", "config": {"conn_id": "pg", "table": "o"}},
        ],
        "edges": [{"source": "src", "target": "custom"}, {"source": "custom", "target": "dst"}],
    }


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[AirflowStack]:
    home = tmp_path / "airflow"
    logs = tmp_path / "process-logs"
    logs.mkdir()
    port = free_port()
    env = base_environment(home, port, PASSWORDS, ROLES)
    data = home / "logidata" / "data"
    env.update(
        {
            "AIRFLOW__API__SECRET_KEY": "logidata-factory-errors-secret",
            "AIRFLOW__API_AUTH__JWT_SECRET": "logidata-factory-errors-jwt-secret-" + "0" * 32,
            "AIRFLOW__LOGIDATA__ALLOWED_PATHS": str(data),
        }
    )
    (data / "orders.csv").write_text("order_id,amount\n1,5\n2,10\n3,20\n")
    pipelines = home / "logidata" / "pipelines"
    (pipelines / f"{GOOD}.json").write_text(json.dumps(good_pipeline(GOOD, data, "@once")))
    (pipelines / f"{REFUSED}.json").write_text(json.dumps(refused_pipeline(REFUSED)))
    airflow = AirflowStack(home=home, port=port, env=env, logs=logs, passwords=PASSWORDS)
    try:
        airflow.migrate()
        airflow.start_all()
        yield airflow
    except BaseException:
        airflow.keep_logs(ARTIFACTS)
        raise
    finally:
        airflow.stop()


def get(stack: AirflowStack, path: str) -> Any:
    response = stack.request("GET", path, token=stack.token("admin"))
    assert response.status == 200, (path, response.status, response.text[:500])
    return response.body


def import_errors(stack: AirflowStack) -> dict[str, dict[str, Any]]:
    body = get(stack, "/api/v2/importErrors?limit=100")
    return {error["filename"]: error for error in body["import_errors"]}


def wait_until(stack: AirflowStack, what: str, check: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        result = check()
        if result:
            return result
        time.sleep(1)
    raise AssertionError(f"{what}: not within {timeout} s; see {stack.logs}")


def test_refused_pipeline_is_an_import_error_and_stays_out_of_the_good_dags_task_log(
    stack: AirflowStack,
) -> None:
    try:
        _check(stack)
    except BaseException:
        stack.keep_logs(ARTIFACTS)
        raise


def _check(stack: AirflowStack) -> None:
    key = f"{LOADER_KEY}/{REFUSED}"
    stack.wait_for_dag(GOOD)
    errors = wait_until(
        stack, f"import error {key}", lambda: (found := import_errors(stack)).get(key) and found
    )

    # The refused pipeline, with its id and the validator's reason naming the node, as Airflow shows it.
    error = errors[key]
    assert error["bundle_name"] == "dags-folder"
    assert f"LogiData pipeline '{REFUSED}' did not become a DAG" in error["stack_trace"]
    assert REASON in error["stack_trace"]
    assert LOADER_KEY not in errors  # the loader file itself has no error: its good DAGs are not hidden
    assert stack.request("GET", f"/api/v2/dags/{REFUSED}", token=stack.token("admin")).status == 404

    # The good DAG of the same file: active, no import error flag, and its @once run succeeds.
    runs = wait_until(
        stack, f"a run of {GOOD}", lambda: get(stack, f"/api/v2/dags/{GOOD}/dagRuns")["dag_runs"]
    )
    run_id = runs[0]["dag_run_id"]
    assert stack.wait_for_run(GOOD, run_id) == "success"
    dag = get(stack, f"/api/v2/dags/{GOOD}")
    assert dag["is_stale"] is False and dag["has_import_errors"] is False
    # Still listed after the parses meanwhile. Each bundle refresh (every 3 s here, 300 s by default) drops
    # the entry and the next parse of the file adds it again (dag_factory/airflow_errors.py), so wait.
    wait_until(stack, f"import error {key} listed again", lambda: key in import_errors(stack), timeout=30)

    # The worker parsed the same file for the good DAG only: nothing in its task logs about the other one.
    quoted = urllib.parse.quote(run_id, safe="")
    tasks = get(stack, f"/api/v2/dags/{GOOD}/dagRuns/{quoted}/taskInstances")["task_instances"]
    assert tasks
    for task in tasks:
        log = stack.task_log(GOOD, run_id, task["task_id"], task["try_number"])
        assert "Worker startup parse complete" in log, log[:2000]  # the log covers the DAG file's parse
        assert REFUSED not in log and "no PostgreSQL builder" not in log, log[:4000]

    # Fixed: its import error goes and its DAG comes. The manager drops a per-pipeline entry when it
    # refreshes the bundle (every 3 s in this stack; dag_factory/airflow_errors.py says why).
    data = stack.home / "logidata" / "data"
    fixed = good_pipeline(REFUSED, data, None)
    (stack.home / "logidata" / "pipelines" / f"{REFUSED}.json").write_text(json.dumps(fixed))
    stack.wait_for_dag(REFUSED, timeout=120)
    wait_until(stack, f"import error {key} cleared", lambda: key not in import_errors(stack))
    assert get(stack, f"/api/v2/dags/{GOOD}")["is_stale"] is False
