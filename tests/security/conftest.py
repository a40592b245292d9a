"""The session's security stack (see security_stack.py): a real Airflow, PostgreSQL and S3 on loopback."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from security_stack import (
    ARTIFACTS,
    JWT_SECRET,
    PASSWORDS,
    PG_DATABASE,
    ROLES,
    SECRET,
    Canary,
    SecurityStack,
)
from stack import AirflowStack, base_environment, free_port


@pytest.fixture(scope="session")
def security_stack(
    postgres_server: Any, s3_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecurityStack]:
    root = tmp_path_factory.mktemp("security-airflow")
    home = root / "airflow"
    logs = root / "process-logs"
    logs.mkdir(parents=True)
    port = free_port()
    env = base_environment(home, port, PASSWORDS, ROLES)
    canary = Canary()
    with postgres_server.connect(autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{PG_DATABASE}" TEMPLATE template0')
    # Real secrets where an editor must never reach them.
    (home / "airflow.cfg").write_text(
        f"[api_auth]\njwt_secret = {JWT_SECRET}\n\n[api]\nsecret_key = {JWT_SECRET}-flask\n"
    )
    env.update(
        {
            "AIRFLOW_CONN_LOGIDATA_PG": postgres_server.airflow_conn(PG_DATABASE),
            "AIRFLOW_CONN_LOGIDATA_SECRET": json.dumps(
                {"conn_type": "http", "host": "127.0.0.1", "login": "svc", "password": SECRET}
            ),
            "AIRFLOW_CONN_LOGIDATA_S3": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"endpoint_url": s3_server, "region_name": "us-east-1"},
                }
            ),
            # Ambient credentials and endpoints: a fallback to them would reach the canary, not AWS.
            "AWS_ACCESS_KEY_ID": "AKIAAMBIENTCANARY",
            "AWS_SECRET_ACCESS_KEY": "ambient-canary-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": canary.url,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": canary.url,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{canary.url}/creds",
            "AIRFLOW__LOGIDATA__PREVIEW_TIMEOUT": "4",
            "AIRFLOW__LOGIDATA__PREVIEW_WORKERS": "2",
            "AIRFLOW__LOGIDATA__MAX_VERSIONS": "5",
            "AIRFLOW__LOGIDATA__ALLOWED_PATHS": f"{home / 'logidata' / 'data'},s3://allowed-bucket/",
        }
    )
    data = home / "logidata" / "data"
    (data / "orders.csv").write_text("order_id,customer,amount\n1,alice,5\n2,bob,10\n3,carol,20\n")
    stack = AirflowStack(home=home, port=port, env=env, logs=logs, passwords=PASSWORDS)
    try:
        stack.migrate()
        stack.start_all()
        yield SecurityStack(
            airflow=stack, home=home, data=data, pg=postgres_server, canary=canary, s3_endpoint=s3_server
        )
    finally:
        stack.stop()
        stack.keep_logs(ARTIFACTS / "logs")
        canary.close()
