"""Module packs end to end: the example pack (installed into the test environment by tests/conftest.py)
in the CLI, the API, a real ``dag.test()`` and a preview; a broken pack installed into a temporary folder
and reported by every process that loads it, without hiding a built-in module or the example pack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import specs
from airflow_app import API, airflow_test_client, issue_tokens
from packs_install import EXAMPLE_DISTRIBUTION, PACKS, install

pytestmark = pytest.mark.integration

LOGIDATA = Path(sys.executable).parent / "logidata"
BROKEN_DISTRIBUTION = "logidata-broken-pack"
BROKEN_POINTS = ("explodes", "filter_rows", "not_a_config")
# Text, not numbers, for the CSV reader's type inference: mask_text refuses non-text columns.
CARDS = ["4111 1111 1111 1111", "5500 0000 0000 0004", "3782 822463 10005", "12"]


def cards_pipeline(tmp_path: Path, pid: str = "mask_cards", **mask: Any) -> dict[str, Any]:
    source = tmp_path / "cards.csv"
    source.write_text("id,holder,card\n" + "".join(f"{i},holder {i},{c}\n" for i, c in enumerate(CARDS)))
    return specs.linear(
        [
            {"id": "read", "module": "source.file", "config": {"path": str(source), "format": "csv"}},
            {"id": "mask", "module": "mask_text", "config": {"columns": ["card"], **mask}},
            specs.file_destination("write", str(tmp_path / "out" / "cards.parquet")),
        ],
        pid,
    )


def run(
    *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


# -------------------------------------------------------------------------------------- the example pack


def test_schema_cli_includes_the_installed_pack() -> None:
    """``logidata schema`` describes the running installation; the committed schema the built-ins only."""
    from airflow_provider_logidata.spec.schema import SCHEMA_PATH, schema_text

    done = run(str(LOGIDATA), "schema")
    schema = json.loads(done.stdout)
    assert "mask_text" in schema["$defs"]["Node"]["properties"]["module"]["enum"]
    described = schema["$defs"]["MaskTextConfig"]
    assert described["x-logidata-module"]["label"] == "Mask text"
    assert described["properties"]["keep_last"]["minimum"] == 0
    assert "warning" not in done.stderr  # the example pack loads cleanly

    committed = SCHEMA_PATH.read_text(encoding="utf-8")
    assert committed == schema_text() and "mask_text" not in committed and "MaskText" not in committed


@pytest.fixture(scope="module")
def airflow_client(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with airflow_test_client(tmp_path_factory.mktemp("packs-api"), "packs-api") as client:
        yield client


@pytest.fixture(scope="module")
def tokens(airflow_client: Any) -> dict[str, str]:
    return issue_tokens(airflow_client)


def call(client: Any, token: str, method: str, path: str, body: Any = None) -> Any:
    client.cookies.clear()
    response = client.request(method, f"{API}{path}", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def test_api_lists_validates_and_previews_the_pack_module(
    airflow_client: Any, tokens: dict[str, str], tmp_path: Path
) -> None:
    listed = call(airflow_client, tokens["viewer"], "GET", "/modules")
    modules = {m["name"]: m for m in listed["modules"]}
    mask = modules["mask_text"]
    assert mask["pack"] == EXAMPLE_DISTRIBUTION and mask["category"] == "transform"
    assert mask["config_schema"]["properties"]["columns"]["x-logidata-widget"] == "columns"
    assert modules["filter_rows"]["pack"] == ""
    assert listed["pack_errors"] == []

    pipeline = cards_pipeline(tmp_path)
    seen = call(airflow_client, tokens["viewer"], "POST", "/validate", {"pipeline": pipeline})
    assert (seen["valid"], seen["errors"]) == (True, [])
    # An editor's validation reads the source and binds the pack's module like a built-in one.
    checked = call(airflow_client, tokens["user"], "POST", "/validate", {"pipeline": pipeline})
    assert (checked["valid"], checked["errors"]) == (True, [])
    mask_schema = checked["schemas"]["mask"]
    assert mask_schema["status"] == "known"
    assert [c["name"] for c in mask_schema["ports"]["out"]] == ["id", "holder", "card"]
    bad_column = cards_pipeline(tmp_path, columns=["crad"])
    [error] = call(airflow_client, tokens["user"], "POST", "/validate", {"pipeline": bad_column})["errors"]
    assert (error["node_id"], error["field"]) == ("mask", "columns[0]") and "'card'" in error["message"]
    bad = cards_pipeline(tmp_path, keep_last=-1, mask="##")
    answer = call(airflow_client, tokens["viewer"], "POST", "/validate", {"pipeline": bad})
    assert answer["valid"] is False
    assert {e["path"] for e in answer["errors"]} == {"nodes[1].config.keep_last", "nodes[1].config.mask"}
    assert {e["node_id"] for e in answer["errors"]} == {"mask"}

    preview = call(
        airflow_client,
        tokens["user"],
        "POST",
        "/preview",
        {"pipeline": pipeline, "node_id": "mask", "limit": 10},
    )
    names = [c["name"] for c in preview["columns"]]
    assert names == ["id", "holder", "card"]
    assert [row[names.index("card")] for row in preview["rows"]] == [
        "*" * 15 + "1111",
        "*" * 15 + "0004",
        "*" * 13 + "0005",
        "12",
    ]


def test_pipeline_with_the_pack_module_runs_in_airflow(run_pipeline: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    spec = cards_pipeline(tmp_path, "mask_cards_run", keep_last=2, mask="#")
    dag_run, dag = run_pipeline(spec)
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert str(dag_run.state) == "success", states
    assert set(states.values()) == {"success"}
    table = pq.read_table(tmp_path / "out" / "cards.parquet")
    assert table.to_pydict() == {
        "id": [0, 1, 2, 3],
        "holder": [f"holder {i}" for i in range(4)],
        "card": ["#" * 17 + "11", "#" * 17 + "04", "#" * 15 + "05", "12"],
    }


# -------------------------------------------------------------------------------------- a broken pack


@pytest.fixture(scope="module")
def broken_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """This process's environment (the example pack on PYTHONPATH) plus the broken pack, installed by
    pip into a temporary folder: the shared test environment never sees it."""
    folder = install(PACKS / "logidata_broken_pack", tmp_path_factory.mktemp("broken-pack") / "site")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}


def assert_reported(text: str) -> None:
    for point in BROKEN_POINTS:
        assert f"module pack {BROKEN_DISTRIBUTION!r} (entry point {point!r}): " in text, (point, text)


def test_a_broken_pack_is_reported_and_nothing_else_is_lost(broken_env: dict[str, str]) -> None:
    from airflow_provider_logidata.modules.registry import builtin_registry

    code = (
        "import json\n"
        "from dataclasses import asdict\n"
        "from airflow_provider_logidata.modules.registry import registry\n"
        "reg = registry()\n"
        "print(json.dumps({'modules': {m.name: m.pack for m in reg},"
        " 'errors': [asdict(e) for e in reg.pack_errors]}))\n"
    )
    loaded = json.loads(run(sys.executable, "-c", code, env=broken_env).stdout)
    modules, errors = loaded["modules"], loaded["errors"]
    assert set(builtin_registry().names()) <= set(modules)
    assert modules["mask_text"] == EXAMPLE_DISTRIBUTION
    assert modules["filter_rows"] == ""  # still the built-in one
    assert "loose_transform" not in modules
    by_point = {e["entry_point"]: e for e in errors}
    assert sorted(by_point) == sorted(BROKEN_POINTS)
    assert {e["distribution"] for e in errors} == {BROKEN_DISTRIBUTION}
    assert by_point["explodes"]["message"] == (
        "cannot be loaded: ModuleNotFoundError: No module named 'logidata_broken_pack_missing_dependency'"
    )
    assert by_point["not_a_config"]["message"] == (
        "module 'loose_transform': config_model must be a subclass of "
        "airflow_provider_logidata.modules.base.ModuleConfig"
    )
    assert by_point["filter_rows"]["message"] == (
        "module 'filter_rows': the name is already taken by a built-in module; rename it"
    )


def test_the_cli_and_the_factory_report_a_broken_pack(broken_env: dict[str, str], tmp_path: Path) -> None:
    schema = run(str(LOGIDATA), "schema", env=broken_env)
    assert "mask_text" in json.loads(schema.stdout)["$defs"]["Node"]["properties"]["module"]["enum"]
    assert_reported(schema.stderr)
    assert schema.stderr.count("logidata: warning: module pack") == len(BROKEN_POINTS)

    pipeline = cards_pipeline(tmp_path, "broken_env_cards")
    file = tmp_path / "cards.json"
    file.write_text(json.dumps(pipeline))
    validated = run(str(LOGIDATA), "validate", str(file), env=broken_env)
    assert f"OK {file}" in validated.stdout
    assert_reported(validated.stderr)

    # The DAG processor's view: the factory writes the report, `logidata report` shows it.
    pipelines, report = tmp_path / "pipelines", tmp_path / "report.json"
    pipelines.mkdir()
    (pipelines / "broken_env_cards.json").write_text(json.dumps(pipeline))
    factory = (
        "from airflow_provider_logidata.dag_factory import load_pipelines\n"
        f"print(load_pipelines({{}}, pipelines_path={str(pipelines)!r}, report_path={str(report)!r}).loaded)\n"
    )
    assert "broken_env_cards" in run(sys.executable, "-c", factory, env=broken_env).stdout
    written = json.loads(report.read_text())
    assert sorted(e["entry_point"] for e in written["pack_errors"]) == sorted(BROKEN_POINTS)
    assert {e["distribution"] for e in written["pack_errors"]} == {BROKEN_DISTRIBUTION}

    shown = run(str(LOGIDATA), "report", "--path", str(report), env=broken_env)
    assert "1 pipeline(s): 1 loaded" in shown.stdout
    assert f"{len(BROKEN_POINTS)} module pack error(s) (their modules are missing):" in shown.stdout
    assert_reported(shown.stdout)
    assert "module pack error(s) in the DAG processor" in shown.stderr
