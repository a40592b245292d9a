"""Scheduler runs for the benchmarks: DAG runs as a user starts them, trigger to success under the real
scheduler.

One loopback Airflow per section, started by the test suite's stack (``tests/stack.py``: api-server on
127.0.0.1, dag-processor, scheduler ``--skip-serve-logs`` with LocalExecutor workers, SQLite metadata DB,
``[core] parallelism`` 2, other settings Airflow's defaults), over one DAGs folder that the caller fills.
For each DAG: wait until the dag-processor has parsed it and it is unpaused, then per run trigger it
through the REST API (``POST /api/v2/dags/{dag_id}/dagRuns`` with a JWT from ``POST /auth/token``), poll
the run every ``POLL_S`` until a terminal state or a hard timeout (then the run is marked failed so it
stops loading the machine), and read its task instances back from the API.

Figures per run:

- ``wall_s``: trigger to success, from just before the REST call to the poll that sees ``success`` (what
  a user waits for; includes up to ``POLL_S`` of polling granularity);
- ``tasks_s``: the task instances' ``duration`` summed (a worker's task process start to its end state);
- ``first_start_s``: the REST call to the first task's ``start_date`` (scheduling and queueing);
- ``tasks``: per task ``task_id``, ``state``, ``seconds`` (duration), ``queued_s`` (queued to started).

    with SchedulerRuns(root / "scheduler", env_overrides, dags_folder) as runs:
        runs.wait_for_dags(["my_dag"])
        run = runs.run("my_dag", timeout_s=600)
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for ``tests.stack``
from tests import stack as test_stack

POLL_S = 0.2
PARALLELISM = 2
USER, PASSWORD = "admin", "admin"


class RunFailed(RuntimeError):
    pass


def _when(value: Any) -> float | None:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()


class SchedulerRuns:
    """A loopback Airflow (``tests/stack.py``) whose DAGs folder is ``dags_folder``; ``env`` goes on top of
    the stack's environment (connections, LogiData paths, a bytecode cache...)."""

    def __init__(
        self,
        root: Path,
        env: dict[str, str],
        dags_folder: Path,
        *,
        unset: tuple[str, ...] = (),
        parallelism: int = PARALLELISM,
    ):
        self.root = root
        home, logs = root / "airflow", root / "process-logs"
        logs.mkdir(parents=True, exist_ok=True)
        port = test_stack.free_port()
        base = test_stack.base_environment(home, port, {USER: PASSWORD}, {USER: "admin"})
        forced = {k: base[k] for k in base if k.startswith(("AIRFLOW__API", "AIRFLOW__CORE__EXECUTION_API"))}
        forced.update(
            {
                "AIRFLOW_HOME": base["AIRFLOW_HOME"],
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": base["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
                "AIRFLOW__CORE__PARALLELISM": str(parallelism),
                "AIRFLOW__API__SECRET_KEY": "logidata-bench-secret",
                "AIRFLOW__API_AUTH__JWT_SECRET": "logidata-bench-jwt-secret-" + "0" * 32,
            }
        )
        base.update(env)  # the caller's settings (connections, LogiData paths, bytecode cache...)
        base.update(forced)  # but the stack stays loopback-only and self-contained
        for name in unset:
            base.pop(name, None)
        self.stack = test_stack.AirflowStack(
            home=home, port=port, env=base, logs=logs, passwords={USER: PASSWORD}
        )
        self.started_s: float | None = None

    # --- life cycle ---

    def __enter__(self) -> SchedulerRuns:
        begun = time.perf_counter()
        try:
            self.stack.migrate()
            self.stack.start_all()
        except BaseException:
            self.stack.stop()
            raise
        self.started_s = time.perf_counter() - begun
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.stop()

    @property
    def logs(self) -> Path:
        return self.stack.logs

    def _token(self) -> str:
        return self.stack.token(USER)

    def _call(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        response = self.stack.request(method, path, body=body, token=self._token(), timeout=timeout)
        if response.status == 401:  # the token expired in a long section: one new one
            self.stack._tokens.pop(USER, None)
            response = self.stack.request(method, path, body=body, token=self._token(), timeout=timeout)
        return response

    # --- DAGs ---

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 300) -> float:
        """Until every DAG is parsed and unpaused (unpausing it if needed); the seconds it took."""
        begun = time.monotonic()
        deadline = begun + timeout
        waiting = list(dag_ids)
        while waiting:
            self.stack.check_alive()
            for dag_id in list(waiting):
                response = self._call("GET", f"/api/v2/dags/{dag_id}")
                if response.status != 200:
                    continue
                if response.body.get("is_paused"):
                    self._call("PATCH", f"/api/v2/dags/{dag_id}", body={"is_paused": False})
                    continue
                waiting.remove(dag_id)
            if waiting:
                if time.monotonic() > deadline:
                    raise RunFailed(f"DAGs not parsed within {timeout:.0f} s: {waiting}; see {self.logs}")
                time.sleep(1)
        return time.monotonic() - begun

    def run(self, dag_id: str, timeout_s: float = 1800) -> dict[str, Any]:
        """Trigger ``dag_id`` and wait for its end; raises :class:`RunFailed` unless it succeeds."""
        self.stack.check_alive()
        self._token()  # not timed
        clock = time.time()
        started = time.perf_counter()
        response = self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", body={"logical_date": None})
        if response.status not in (200, 201):
            raise RunFailed(f"trigger of {dag_id} answered {response.status}: {response.text[:500]}")
        trigger_s = time.perf_counter() - started
        run_id = str(response.body["dag_run_id"])
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
        state = None
        while True:
            state = (self._call("GET", path).body or {}).get("state")
            wall = time.perf_counter() - started
            if state in ("success", "failed"):
                break
            if wall > timeout_s:
                self._call("PATCH", path, body={"state": "failed"})  # stop it: it would load the next runs
                raise RunFailed(f"run {run_id} of {dag_id} not finished within {timeout_s:.0f} s ({state})")
            self.stack.check_alive()
            time.sleep(POLL_S)
        listed = self._call("GET", f"{path}/taskInstances?limit=100").body or {}
        tasks = []
        for ti in sorted(listed.get("task_instances", []), key=lambda t: t.get("start_date") or ""):
            start, queued = _when(ti.get("start_date")), _when(ti.get("queued_when"))
            tasks.append(
                {
                    "task_id": ti["task_id"],
                    "state": ti.get("state"),
                    "seconds": ti.get("duration"),
                    "queued_s": (start - queued) if start and queued else None,
                    "start": start,
                }
            )
        if state != "success":
            failed = [t["task_id"] for t in tasks if t["state"] != "success"]
            raise RunFailed(f"run {run_id} of {dag_id} ended {state}; tasks not successful: {failed}")
        starts = [t["start"] for t in tasks if t["start"]]
        durations = [t["seconds"] for t in tasks]
        return {
            "run_id": run_id,
            "wall_s": wall,
            "trigger_call_s": trigger_s,
            "tasks_s": sum(d for d in durations if d is not None) if tasks else None,
            "first_start_s": (min(starts) - clock) if starts else None,
            "tasks": tasks,
        }


def warm_up(
    runs: SchedulerRuns,
    dag_ids: dict[str, str],
    log: Any,
    *,
    timeout_s: float,
    before: Any = None,
) -> dict[str, float]:
    """One run of each contender's small DAG (``{key: dag_id}``), excluded from the figures: bytecode
    cache, the DAG's first serialisation, disk cache. ``before(key)`` runs first (a table reset...).
    Returns the seconds per key that succeeded; a failure is logged and the bench goes on."""
    seconds: dict[str, float] = {}
    for key, dag_id in dag_ids.items():
        if before is not None:
            before(key)
        try:
            seconds[key] = runs.run(dag_id, timeout_s=timeout_s)["wall_s"]
            log(f"scheduler warm-up of {key}: {seconds[key]:.1f} s")
        except RunFailed as error:
            log(f"scheduler warm-up of {key} FAILED: {error}")
    return seconds


def judge_outputs(
    results: dict[str, Any], reference: Any, against: str, *, what: str = "scheduler runs: "
) -> None:
    """Each contender's ``check``: ``same`` when every run's output fingerprint is ``reference``, else
    ``DIFFERS`` (with a note starting with ``what``), ``?`` without a reference."""
    for item in results.values():
        if not item.runs:
            continue
        printed = {tuple(r["fingerprint"]) for r in item.runs}
        if reference is None:
            item.check = "?"
        elif printed == {tuple(reference)}:
            item.check = "same"
        else:
            item.check = "DIFFERS"
            item.note = f"{what}fingerprints {sorted(printed)} vs {against} {reference}"


def median(values: list[float | None]) -> float | None:
    """The median of the known values (``None`` when there is none)."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def per_task(runs: list[dict[str, Any]]) -> list[tuple[str, float | None, float | None]]:
    """Per task of the first run, over every run: its id, median duration and median queued time."""
    found = []
    for task in runs[0]["tasks"] if runs else []:
        same = [t for r in runs for t in r["tasks"] if t["task_id"] == task["task_id"]]
        found.append(
            (task["task_id"], median([t["seconds"] for t in same]), median([t["queued_s"] for t in same]))
        )
    return found


def environment_note(runs: SchedulerRuns | None = None) -> str:
    """One line saying what stack the scheduler runs used."""
    started = f", started in {runs.started_s:.0f} s (excluded)" if runs and runs.started_s else ""
    return (
        "loopback Airflow started once for the section by the test suite's stack (`tests/stack.py`): "
        "api-server on 127.0.0.1 (1 worker), dag-processor, scheduler `--skip-serve-logs`, LocalExecutor with "
        f"`[core] parallelism` {PARALLELISM}, SQLite metadata DB, scheduler settings Airflow's defaults{started}; "
        "each run triggered with `POST /api/v2/dags/{dag_id}/dagRuns` and polled every "
        f"{POLL_S} s until a terminal state"
        + ("" if os.cpu_count() is None else f" ({os.cpu_count()} CPUs shared with the PostgreSQL server)")
    )
