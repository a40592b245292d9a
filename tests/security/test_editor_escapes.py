"""Issue 10, item by item: what a pipeline editor (Airflow's User role) tried, refused on a real Airflow.

Each test acts through the builder API as ``user`` against a real api-server, dag-processor, scheduler
with LocalExecutor workers and PostgreSQL (tests/security/conftest.py), and proves both the refusal and
that nothing was read, written or executed: the secret markers never appear in an answer, an output or a
log, the DAGs folder and the database server are unchanged, and the canary standing in for AWS was never
called. Refusals at save time come from validation; refusals in runs come from the worker re-checking
the rendered config (templated values reach it through ``params``, which validation cannot see).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import specs
from security_stack import JWT_SECRET, SECRET, SecurityStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _id(prefix: str) -> str:
    return f"sec_{prefix}_{uuid.uuid4().hex[:6]}"


def pipeline(
    pid: str, nodes: list[dict[str, Any]], *, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A linear pipeline of ``nodes`` (edges in list order), manual runs only."""
    return specs.linear(
        nodes, pid, status="active", schedule=None, start_date="2024-01-01", params=params or {}
    )


def csv_source(path: str, node_id: str = "read") -> dict[str, Any]:
    return {"id": node_id, "module": "source.file", "config": {"path": path, "format": "csv"}}


def file_sink(path: str, node_id: str = "write", **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "module": "destination.file", "config": {"path": path, **extra}}


def errors_text(response: Any) -> str:
    return json.dumps(response.body) if response.body is not None else response.text


def assert_refused(response: Any, *fragments: str) -> None:
    assert response.status == 422, (response.status, response.text)
    text = errors_text(response)
    for fragment in fragments:
        assert fragment in text, text
    for secret in (SECRET, JWT_SECRET):
        assert secret not in response.text


def run_to_end(stack: SecurityStack, pid: str, conf: dict[str, Any]) -> tuple[str, str]:
    """Trigger a run of a saved pipeline as the editor; its run id and final state."""
    stack.airflow.wait_for_dag(pid)
    created = stack.airflow.api("POST", f"/pipelines/{pid}/runs", body={"conf": conf})
    assert created.status == 201, created.text
    run_id = created.body["run_id"]
    return run_id, stack.airflow.wait_for_run(pid, run_id)


def preview(stack: SecurityStack, doc: dict[str, Any], node_id: str, timeout: float = 120) -> Any:
    return stack.airflow.api("POST", "/preview", body={"pipeline": doc, "node_id": node_id}, timeout=timeout)


def everything_written(stack: SecurityStack) -> str:
    """Every output file and task log of the stack as one text (to search for leaked secrets)."""
    chunks = []
    for folder in (stack.data, stack.home / "logs", stack.home / "logidata" / "staging"):
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():  # the tests' own links point at the secrets
                chunks.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(chunks)


# --- 1. reading server files -----------------------------------------------------------------------


def test_1_editor_cannot_read_server_files(security_stack: SecurityStack) -> None:
    stack = security_stack
    home = stack.home
    link = stack.data / "innocent.csv"
    link.symlink_to(home / "airflow.cfg")
    targets = [
        (str(home / "airflow.cfg"), "never allowed"),
        (str(home / "simple_auth_manager_passwords.json"), "never allowed"),
        ("/etc/passwd", "never allowed"),
        (str(stack.data / ".." / ".." / "airflow.cfg"), "never allowed"),
        (str(link), "never allowed"),
        (str(home.parent / "process-logs" / "api-server.log"), "outside the allowed"),
    ]
    for path, rule in targets:
        doc = pipeline(_id("read"), [csv_source(path), file_sink(str(stack.data / "out" / "x.parquet"))])
        assert_refused(preview(stack, doc, "read"), rule)
        assert_refused(stack.save(doc), rule)
    # At run time: a templated path validation cannot see, filled in by the run's params.
    pid = _id("readrun")
    out = stack.data / "out" / f"{pid}.csv"
    doc = pipeline(
        pid,
        [csv_source("{{ params.src }}"), file_sink(str(out), format="csv")],
        params={"src": str(stack.data / "orders.csv")},
    )
    assert stack.save(doc).status in (200, 201)
    run_id, state = run_to_end(stack, pid, {"src": str(home / "airflow.cfg")})
    assert state == "failed"
    assert "never allowed" in stack.airflow.task_log(pid, run_id, "read")
    assert not out.exists()
    assert JWT_SECRET not in everything_written(stack)
    # The same pipeline with an allowed file runs: the refusal is the policy, not a broken pipeline.
    _run_id, state = run_to_end(stack, pid, {"src": str(stack.data / "orders.csv")})
    assert state == "success" and out.exists()


# --- 2. running code -------------------------------------------------------------------------------


def test_2_editor_cannot_write_code_into_the_dags_folder(security_stack: SecurityStack) -> None:
    stack = security_stack
    before = sorted(path.name for path in stack.dags.iterdir())
    marker = stack.home / "pwned.marker"
    code_column = f"__import__('pathlib').Path({str(marker)!r}).write_text('x')"
    sql = {"id": "code", "module": "sql", "config": {"query": f'SELECT 1 AS "{code_column}"'}}
    for target in (
        str(stack.dags / "evil.py"),
        str(stack.dags) + "/",
        str(stack.data / ".." / ".." / "dags" / "e.py"),
    ):
        doc = pipeline(
            _id("code"), [csv_source(str(stack.data / "orders.csv")), sql, file_sink(target, format="csv")]
        )
        assert_refused(stack.save(doc), "never allowed")
    pid = _id("coderun")
    doc = pipeline(
        pid,
        [csv_source(str(stack.data / "orders.csv")), sql, file_sink("{{ params.dst }}", format="csv")],
        params={"dst": str(stack.data / "out" / "code.csv")},
    )
    assert stack.save(doc).status in (200, 201)
    run_id, state = run_to_end(stack, pid, {"dst": str(stack.dags / "evil.py")})
    assert state == "failed"
    assert "never allowed" in stack.airflow.task_log(pid, run_id, "write")
    time.sleep(5)  # more than one dag-processor refresh: nothing new to execute, nothing executed
    assert sorted(path.name for path in stack.dags.iterdir()) == before
    assert not marker.exists()
    # Where it may write, the header of that CSV is quoted text, never a line of Python.
    _run_id, state = run_to_end(stack, pid, {"dst": str(stack.data / "out" / "code.csv")})
    assert state == "success"
    header = (stack.data / "out" / "code.csv").read_text().splitlines()[0]
    assert header.startswith('"__import__(')


# --- 3. secrets through templates ----------------------------------------------------------------------


def test_3_templates_cannot_reach_secrets(security_stack: SecurityStack) -> None:
    stack = security_stack
    expressions = [
        "'{{ conn.logidata_secret.password }}'",
        "'{{ var.value.anything }}'",
        "'{{ ti.xcom_pull(task_ids=\"read\") }}'",
        "'{{ dag_run.conf }}'",
        "'{{ params.__class__.__mro__ }}'",
        "'{{ macros.os }}'",
    ]
    for expression in expressions:
        derive = {
            "id": "leak",
            "module": "derive_column",
            "config": {"columns": [{"name": "x", "expression": expression}]},
        }
        doc = pipeline(_id("tpl"), [csv_source(str(stack.data / "orders.csv")), derive])
        assert_refused(stack.save(doc), "leak")
        assert_refused(preview(stack, doc, "leak"))
    # A template stored in a value is not rendered twice: the run sees the text, never the secret.
    pid = _id("tplrun")
    out = stack.data / "out" / f"{pid}.csv"
    derive = {
        "id": "leak",
        "module": "derive_column",
        "config": {"columns": [{"name": "x", "expression": "'{{ params.x }}'"}]},
    }
    doc = pipeline(
        pid,
        [csv_source(str(stack.data / "orders.csv")), derive, file_sink(str(out), format="csv")],
        params={"x": "a"},
    )
    assert stack.save(doc).status in (200, 201)
    _run_id, state = run_to_end(stack, pid, {"x": "{{ conn.logidata_secret.password }}"})
    assert state == "success"
    assert "{{ conn.logidata_secret.password }}" in out.read_text()
    # A stored file that never went through the API (an old version, a copied file) is refused by the
    # DAG factory, so the dag-processor never builds it.
    pid = _id("tplfile")
    derive["config"] = {"columns": [{"name": "x", "expression": "'{{ conn.logidata_secret.password }}'"}]}
    raw = pipeline(
        pid, [csv_source(str(stack.data / "orders.csv")), derive, file_sink(str(out), format="csv")]
    )
    (stack.home / "logidata" / "pipelines" / f"{pid}.json").write_text(json.dumps(raw))
    report = stack.home / "logidata" / "factory_report.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and pid not in (report.read_text() if report.exists() else ""):
        time.sleep(1)
    assert pid in report.read_text()
    assert (
        stack.airflow.request("GET", f"/api/v2/dags/{pid}", token=stack.airflow.token("admin")).status == 404
    )
    assert SECRET not in everything_written(stack)


# --- 4 and 5. the database server ----------------------------------------------------------------------


def _large_objects(stack: SecurityStack) -> int:
    with stack.pg_connect() as con:
        return int(con.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()[0])


def test_4_postgres_queries_cannot_touch_the_server(security_stack: SecurityStack, tmp_path: Path) -> None:
    stack = security_stack
    exported = f"/tmp/logidata-lo-export-{uuid.uuid4().hex}"
    queries = [
        "SELECT lo_from_bytea(0, 'x'::bytea) AS oid",
        f"SELECT lo_export(lo_from_bytea(0, 'x'::bytea), '{exported}') AS n",
        "SELECT pg_read_file('/etc/passwd') AS t",
        "SELECT * FROM pg_ls_dir('.') AS d",
        "SELECT query_to_xml('select pg_read_file(''/etc/passwd'')', true, true, '') AS x",
    ]
    before = _large_objects(stack)
    for query in queries:
        source = {
            "id": "read",
            "module": "source.postgres",
            "config": {"conn_id": "logidata_pg", "query": query},
        }
        doc = pipeline(_id("pg"), [source, file_sink(str(stack.data / "out" / "pg.parquet"))])
        assert_refused(stack.save(doc), "read")
        assert_refused(preview(stack, doc, "read"))
    pid = _id("pgrun")
    source = {
        "id": "read",
        "module": "source.postgres",
        "config": {"conn_id": "logidata_pg", "query": "{{ params.q }}"},
    }
    doc = pipeline(
        pid, [source, file_sink(str(stack.data / "out" / f"{pid}.parquet"))], params={"q": "SELECT 1 AS a"}
    )
    assert stack.save(doc).status in (200, 201)
    for query in queries[:2]:
        run_id, state = run_to_end(stack, pid, {"q": query})
        assert state == "failed"
    assert _large_objects(stack) == before
    assert not Path(exported).exists()
    _run_id, state = run_to_end(stack, pid, {"q": "SELECT 1 AS a"})
    assert state == "success"


def test_5_timed_out_previews_leave_no_query_running(security_stack: SecurityStack) -> None:
    stack = security_stack
    source = {
        "id": "slow",
        "module": "source.postgres",
        "config": {"conn_id": "logidata_pg", "query": "SELECT pg_sleep(90) AS s"},
    }
    doc = pipeline(_id("sleep"), [source, file_sink(str(stack.data / "out" / "s.parquet"))])
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        # Queued previews wait for a worker (and killed workers restart): a generous client timeout.
        answers = list(pool.map(lambda _i: preview(stack, doc, "slow", timeout=400), range(8)))
    assert {answer.status for answer in answers} <= {504, 429}, [a.status for a in answers]
    deadline = time.monotonic() + 45
    busy = -1
    while time.monotonic() < deadline:
        with stack.pg_connect() as con:
            busy = int(
                con.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(90)%' "
                    "AND pid <> pg_backend_pid()"
                ).fetchone()[0]
            )
        if busy == 0:
            break
        time.sleep(1)
    assert busy == 0


# --- 6. escaping a destination folder -------------------------------------------------------------------


def test_6_partitions_stay_inside_the_target(security_stack: SecurityStack) -> None:
    stack = security_stack
    hostile = stack.data / "hostile.csv"
    hostile.write_text("part,amount\n../../../dags,1\n..,2\n/abs/x,3\nok,4\n")
    target = stack.data / "parted"
    doc = pipeline(
        _id("partcol"),
        [csv_source(str(hostile)), file_sink(str(target) + "/", partition_by=["../../dags"])],
    )
    assert_refused(stack.save(doc), "cannot name a folder")
    pid = _id("part")
    doc = pipeline(pid, [csv_source(str(hostile)), file_sink(str(target) + "/", partition_by=["part"])])
    assert stack.save(doc).status in (200, 201)
    dags_before = sorted(path.name for path in stack.dags.iterdir())
    _run_id, state = run_to_end(stack, pid, {})
    assert state == "success"
    folders = sorted(path.name for path in target.iterdir())
    assert len(folders) == 4 and all(name.startswith("part=") for name in folders)
    assert sorted(path.name for path in stack.dags.iterdir()) == dags_before
    assert not (stack.home / "abs").exists()


# --- 7. python nodes ------------------------------------------------------------------------------------


def test_7_python_nodes_call_only_deployed_code(security_stack: SecurityStack) -> None:
    stack = security_stack
    for path, rule in (
        ("__main__:main", "never allowed"),
        ("builtins:eval", "never allowed"),
        ("os:system", ""),
        ("logidata_pipelines:load_pipelines.__globals__", "private"),
    ):
        node = {"id": "py", "module": "python", "config": {"callable": path}}
        doc = pipeline(_id("py"), [csv_source(str(stack.data / "orders.csv")), node])
        response = stack.save(doc)
        if rule:
            assert_refused(response, rule)
        else:  # not deployed: refused where it would be imported (previews and runs alike)
            answer = preview(stack, doc, "py")
            assert answer.status == 422 and "not allowed" in answer.text, answer.text


# --- 8. connections -------------------------------------------------------------------------------------


def test_8_connections_are_listed_only_to_who_may_read_them(security_stack: SecurityStack) -> None:
    stack = security_stack
    for user in ("viewer", "user", "admin"):
        ours = stack.airflow.api("GET", "/connections", user=user)
        core = stack.airflow.request("GET", "/api/v2/connections", token=stack.airflow.token(user))
        assert (ours.status == 200) == (core.status == 200), (user, ours.status, core.status)
        if ours.status != 200:
            assert ours.status == 403
            assert "logidata_secret" not in ours.text
    assert stack.airflow.api("GET", "/connections", user="admin").status == 200


# --- 9 and 10. the store ----------------------------------------------------------------------------------


def test_9_history_is_bounded(security_stack: SecurityStack) -> None:
    stack = security_stack
    pid = _id("hist")
    doc = pipeline(
        pid, [csv_source(str(stack.data / "orders.csv")), file_sink(str(stack.data / "out" / "h.parquet"))]
    )
    for number in range(8):
        doc["description"] = f"save {number}"
        assert stack.save(doc).status in (200, 201)
    history = stack.airflow.api("GET", f"/pipelines/{pid}/history")
    assert history.status == 200
    versions = history.body["versions"]
    assert len(versions) == 5  # [logidata] max_versions = 5 in this stack
    assert max(item["version"] for item in versions) == 8


def test_10_one_broken_file_never_breaks_the_list(security_stack: SecurityStack, tmp_path: Path) -> None:
    stack = security_stack
    store = stack.home / "logidata" / "pipelines"
    good = _id("good")
    assert stack.save(
        pipeline(
            good,
            [csv_source(str(stack.data / "orders.csv")), file_sink(str(stack.data / "out" / "g.parquet"))],
        )
    ).status in (200, 201)
    broken = {
        _id("bigint"): b'{"id": 1' + b"9" * 4400 + b"}",
        _id("deep"): b"[" * 100_000 + b"]" * 100_000,
        _id("nan"): b'{"spec_version": 1, "id": "x", "retries": NaN}',
        _id("utf8"): b'{"id": "\xff\xfe"}',
    }
    for pid, content in broken.items():
        (store / f"{pid}.json").write_bytes(content)
    listed = stack.airflow.api("GET", "/pipelines")
    assert listed.status == 200, listed.text
    ids = {item["id"] for item in listed.body["pipelines"]}
    assert good in ids
    for pid in broken:
        # Opened as a broken draft that says why (and is fixed by saving a new version), never a 500.
        opened = stack.airflow.api("GET", f"/pipelines/{pid}")
        assert opened.status in (200, 404, 409, 422), opened.text
        if opened.status == 200:
            assert opened.body["errors"], opened.text
        file = tmp_path / f"{pid}.json"
        file.write_bytes(broken[pid])
        cli = subprocess.run(
            [str(Path(sys.executable).with_name("logidata")), "validate", str(file)],
            capture_output=True,
            text=True,
            env=stack.airflow.env,
            timeout=120,
        )
        assert cli.returncode == 1 and "Traceback" not in cli.stderr + cli.stdout, cli.stderr
    nan_draft = '{"pipeline": {"spec_version": 1, "id": "sec_nan_draft", "status": "draft", "retries": NaN}}'
    answer = stack.airflow.api("POST", "/pipelines", raw=nan_draft.encode())
    assert answer.status == 422, answer.text
    for pid in broken:
        (store / f"{pid}.json").unlink()


# --- 11. the server's own cloud identity ------------------------------------------------------------


def test_11_object_storage_needs_an_explicit_connection(security_stack: SecurityStack) -> None:
    stack = security_stack
    before = len(stack.canary.requests)
    for path, fragment in (
        ("s3://allowed-bucket/orders.csv", "names no Airflow connection"),
        ("s3://aws_default@allowed-bucket/orders.csv", "does not exist"),
        ("s3://logidata_secret@allowed-bucket/orders.csv", "not 'aws'"),
    ):
        doc = pipeline(_id("s3"), [csv_source(path), file_sink(str(stack.data / "out" / "s.parquet"))])
        answer = preview(stack, doc, "read")
        assert answer.status == 422 and fragment in answer.text, answer.text
    assert stack.canary.requests[before:] == []


# --- 12. design-time checks (issue 13) --------------------------------------------------------------


def test_12_validation_reads_only_what_a_preview_may(security_stack: SecurityStack) -> None:
    """``POST /validate`` reads sources (and looks at destination tables) for an editor: every path,
    template and query goes through the same policy as a preview or a run, and nothing it refuses is
    read. The answer carries no column of a refused source and no secret."""
    stack = security_stack
    home = stack.home

    def validate(doc: dict[str, Any]) -> Any:
        answer = stack.airflow.api("POST", "/validate", body={"pipeline": doc}, timeout=120)
        assert answer.status == 200, answer.text
        for secret in (SECRET, JWT_SECRET):
            assert secret not in answer.text
        return answer.body

    for path in (str(home / "airflow.cfg"), "/etc/passwd", str(stack.data / ".." / ".." / "airflow.cfg")):
        doc = pipeline(_id("val"), [csv_source(path), file_sink(str(stack.data / "out" / "v.parquet"))])
        body = validate(doc)
        assert body["valid"] is False and "never allowed" in json.dumps(body["errors"])
        assert body["schemas"]["read"]["ports"] == {}
    # A template validation renders (the pipeline's params) is checked after rendering, as in a run.
    doc = pipeline(
        _id("valtpl"),
        [csv_source("{{ params.src }}"), file_sink(str(stack.data / "out" / "v.parquet"))],
        params={"src": str(home / "airflow.cfg")},
    )
    body = validate(doc)
    assert body["schemas"]["read"]["status"] != "known" and body["schemas"]["read"]["ports"] == {}
    assert "never allowed" in json.dumps(body["warnings"] + body["errors"])
    # Queries that would touch the server are refused before any is described.
    before = _large_objects(stack)
    exported = f"/tmp/logidata-lo-validate-{uuid.uuid4().hex}"
    for query in (
        f"SELECT lo_export(lo_from_bytea(0, 'x'::bytea), '{exported}') AS n",
        "SELECT pg_read_file('/etc/passwd') AS t",
    ):
        source = {
            "id": "read",
            "module": "source.postgres",
            "config": {"conn_id": "logidata_pg", "query": query},
        }
        body = validate(pipeline(_id("valpg"), [source, file_sink(str(stack.data / "out" / "pg.parquet"))]))
        assert body["valid"] is False and body["schemas"]["read"]["ports"] == {}
    assert _large_objects(stack) == before
    assert not Path(exported).exists()
    # An allowed file is read: the refusals above are the policy, not a broken check.
    body = validate(
        pipeline(
            _id("valok"),
            [csv_source(str(stack.data / "orders.csv")), file_sink(str(stack.data / "out" / "v.parquet"))],
        )
    )
    assert body["valid"] is True and body["schemas"]["read"]["status"] == "known"


# --- 13. the path picker ----------------------------------------------------------------------------------


def test_13_the_path_picker_shows_only_what_the_policy_allows(security_stack: SecurityStack) -> None:
    """``GET /locations`` and ``/locations/browse`` (the builder's Browse… button) as an editor: no root,
    folder or entry the policy would refuse to read is ever listed, and no secret is in any answer."""
    from urllib.parse import quote

    stack = security_stack
    home = stack.home
    (stack.data / "peek_cfg.csv").symlink_to(home / "airflow.cfg")

    def browse(uri: str) -> Any:
        return stack.airflow.api("GET", f"/locations/browse?uri={quote(uri, safe='')}")

    roots = stack.airflow.api("GET", "/locations")
    assert roots.status == 200, roots.text
    listed = [root["uri"] for root in roots.body["locations"]]
    assert listed and not any(uri in (str(home), str(home / "dags"), "/", "/etc") for uri in listed)
    for uri in (str(home), str(home / "dags"), "/etc", str(stack.data / ".." / ".."), "file:///etc"):
        answer = browse(uri)
        assert answer.status == 400, (uri, answer.status, answer.text)
    data = browse(str(stack.data))
    assert data.status == 200, data.text
    names = {entry["name"] for entry in data.body["entries"]}
    assert "orders.csv" in names and "peek_cfg.csv" not in names  # a link out is not offered
    assert stack.airflow.api("GET", "/locations", user="viewer").status == 403
    for answer in (roots, data):
        for secret in (SECRET, JWT_SECRET):
            assert secret not in answer.text
