"""Object storage only through an explicit aws connection with keys of its own (item 11).

Never contacts a non-loopback address: the refusals happen before any S3 client, botocore session or
s3fs filesystem is built, which the tests prove by making every such constructor fail loudly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.files import to_path
from airflow_provider_logidata.engine.sources import expand_path
from airflow_provider_logidata.security import connections
from airflow_provider_logidata.security.errors import PolicyError

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from policy_home import refuse_s3_clients


@pytest.fixture
def no_clients(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way to build an S3 client records the attempt and fails (a unit-test guard around our code)."""
    built = refuse_s3_clients(monkeypatch)
    # Ambient credentials that would be used if anything fell back to them.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAAMBIENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ambient-secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv(
        "AIRFLOW_CONN_LOGIDATA_NOKEYS",
        json.dumps({"conn_type": "aws", "extra": {"region_name": "us-east-1"}}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_LOGIDATA_ROLEONLY",
        json.dumps({"conn_type": "aws", "extra": {"role_arn": "arn:aws:iam::1:role/x"}}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_LOGIDATA_PGTYPE", json.dumps({"conn_type": "postgres", "host": "127.0.0.1"})
    )
    monkeypatch.delenv("AIRFLOW_CONN_AWS_DEFAULT", raising=False)
    monkeypatch.delenv("AIRFLOW__LOGIDATA__ALLOW_AMBIENT_CLOUD_CREDENTIALS", raising=False)
    connections.clear_cache()
    yield built
    connections.clear_cache()


@pytest.mark.parametrize(
    ("uri", "rule"),
    [
        ("s3://bucket/orders.csv", "storage-connection"),
        ("s3://aws_default@bucket/orders.csv", "connection-missing"),
        ("s3://logidata_no_such_conn@bucket/orders.csv", "connection-missing"),
        ("s3://logidata_nokeys@bucket/orders.csv", "storage-ambient-credentials"),
        ("s3://logidata_roleonly@bucket/orders.csv", "storage-ambient-credentials"),
        ("s3://logidata_pgtype@bucket/orders.csv", "connection-type"),
    ],
)
def test_refused_before_any_client_exists(no_clients: list[str], uri: str, rule: str) -> None:
    with pytest.raises(PolicyError) as refused:
        to_path(uri)
    assert refused.value.rule == rule, str(refused.value)
    with pytest.raises(LogiDataTaskError) as through_engine:  # what a run and a preview see
        expand_path(uri, owner="source.file node 'read'")
    assert "source.file node 'read'" in str(through_engine.value)
    assert no_clients == []


def test_the_message_says_what_to_do(no_clients: list[str]) -> None:
    with pytest.raises(PolicyError) as refused:
        to_path("s3://logidata_nokeys@bucket/orders.csv")
    message = str(refused.value)
    assert "server's own cloud identity" in message
    assert "allow_ambient_cloud_credentials" in message
    assert refused.value.setting == "allow_ambient_cloud_credentials"


def test_an_admin_may_allow_ambient_credentials(
    no_clients: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__ALLOW_AMBIENT_CLOUD_CREDENTIALS", "True")
    connections.check_storage("logidata_nokeys", "s3://logidata_nokeys@bucket/orders.csv")  # allowed now
    with pytest.raises(PolicyError):  # a missing connection stays refused: it names no one's decision
        to_path("s3://aws_default@bucket/orders.csv")


def test_a_connection_with_keys_reaches_the_loopback_server(s3_bucket: str, s3_server: str) -> None:
    """The positive case against the real S3 API server on 127.0.0.1 (the session's moto connection)."""
    import boto3

    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").put_object(
        Bucket=s3_bucket, Key="in/orders.csv", Body=b"id\n1\n"
    )
    connections.clear_cache()
    fs, files, local = expand_path(f"s3://logidata_s3@{s3_bucket}/in/orders.csv", owner="n")
    assert files == [f"{s3_bucket}/in/orders.csv"] and not local
