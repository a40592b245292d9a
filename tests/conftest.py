"""Test-wide Airflow home.

Airflow reads its configuration when it is first imported, so the environment is set here, at import of
this conftest, before any test module imports Airflow. One migrated SQLite metadata DB is shared by the
session: `airflow db migrate` takes ~8 s and the first `dag.test()` ~7 s, later ones ~0.25 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
LOADER = REPO / "dags" / "logidata_pipelines.py"

_HOME = Path(tempfile.mkdtemp(prefix="logidata-tests-"))
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(_HOME / "airflow"),
    "AIRFLOW__CORE__DAGS_FOLDER": str(_HOME / "dags"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow' / 'airflow.db'}",
    "AIRFLOW__LOGIDATA__PIPELINES_PATH": str(_HOME / "pipelines"),
    "AIRFLOW__LOGIDATA__STAGING_PATH": str(_HOME / "staging"),
    "AIRFLOW__LOGIDATA__REPORT_PATH": str(_HOME / "factory_report.json"),
    # Apps built by the API tests start preview workers only when a test previews (saves CPU in CI).
    "AIRFLOW__LOGIDATA__PREVIEW_PRESTART": "False",
    # Tests read and write data anywhere (temporary folders, made-up paths in specs) and in any moto
    # bucket (through an explicit connection); the never-allowed locations still apply. The policy's own
    # tests (tests/unit/security, tests/security) set the roots they prove.
    "AIRFLOW__LOGIDATA__ALLOWED_PATHS": "/,s3://*/",
}
os.environ.update(AIRFLOW_ENV)
# Hypothesis (the validator fuzz, schemathesis) keeps its example database outside the checkout.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(_HOME / "hypothesis"))
for _folder in ("airflow", "dags", "pipelines", "staging"):
    (_HOME / _folder).mkdir(parents=True, exist_ok=True)

# The example module pack (tests/packs/) is installed, the real way, before anything builds the registry;
# its folder goes on PYTHONPATH so every Airflow or CLI process the suite starts sees it too.
sys.path.insert(0, str(REPO / "tests"))
from packs_install import install_example_pack  # noqa: E402

install_example_pack()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated metadata DB, created once per session with the real `airflow db migrate`."""
    db = _HOME / "airflow" / "airflow.db"
    if not db.exists():
        airflow = Path(sys.executable).parent / "airflow"
        subprocess.run(
            [str(airflow), "db", "migrate"],
            check=True,
            env={**os.environ, **AIRFLOW_ENV},
            stdout=subprocess.DEVNULL,
        )
    return db


@pytest.fixture(scope="session")
def dags_folder(airflow_db: Path) -> Path:
    folder = _HOME / "dags"
    shutil.copyfile(LOADER, folder / LOADER.name)
    return folder


@pytest.fixture
def pipelines_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "pipelines"
    folder.mkdir()
    return folder


@pytest.fixture
def run_pipeline(dags_folder: Path, tmp_path: Path) -> Any:
    """Store a pipeline, build it through the real factory and run it with `dag.test()`.

    Returns (dag_run, dag). The pipeline goes into the session's configured pipelines folder so a
    worker re-parsing the loader finds the same DAG.
    """
    pipelines = Path(AIRFLOW_ENV["AIRFLOW__LOGIDATA__PIPELINES_PATH"])
    written: list[Path] = []

    def _run(spec: dict[str, Any], **test_kwargs: Any) -> tuple[Any, Any]:
        from airflow_provider_logidata.dag_factory import load_pipelines

        path = pipelines / f"{spec['id']}.json"
        path.write_text(json.dumps(spec), encoding="utf-8")
        written.append(path)
        namespace: dict[str, Any] = {"__file__": str(dags_folder / LOADER.name)}
        report = load_pipelines(namespace)
        failed = {p.id: p.errors for p in report.failed}
        assert spec["id"] not in failed, failed[spec["id"]]
        dag = namespace[f"logidata_dag__{spec['id']}"]
        dag_run = dag.test(**test_kwargs)
        return dag_run, dag

    yield _run
    for path in written:
        path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def s3_server() -> Any:
    """A real S3 HTTP API (moto's server mode) on 127.0.0.1, reached through boto3/s3fs like AWS."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # An Airflow connection of type aws pointing at the server; ObjectStoragePath("s3://logidata_s3@...")
    # and S3Hook both resolve it.
    os.environ["AIRFLOW_CONN_LOGIDATA_S3"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
    )
    yield endpoint
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: str) -> str:
    import uuid

    import boto3

    name = f"logidata-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def pytest_configure(config: pytest.Config) -> None:
    """Register the PostgreSQL fixtures (tests/pg.py) as a plugin; `tests` is no package: load by path."""
    import importlib.util

    name = "logidata_tests_pg"
    if config.pluginmanager.has_plugin(name):
        return
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("pg.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    config.pluginmanager.register(module, name)
