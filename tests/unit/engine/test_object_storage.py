"""The same engine code path on object storage: S3 through a real S3 API (moto server) and Airflow's
ObjectStoragePath with a connection id in the URI."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_logidata.engine import runner, staging
from airflow_provider_logidata.engine.destinations import write_file
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.modules.destinations.file import FileDestinationConfig


@pytest.fixture
def s3(s3_server: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")


def keys(s3: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_source_transform_destination_and_cleanup_on_s3(s3: Any, s3_bucket: str, log: Any) -> None:
    base = f"s3://logidata_s3@{s3_bucket}"
    s3.put_object(Bucket=s3_bucket, Key="raw/a/1.csv", Body=b"id,name\n1, ann \n")
    s3.put_object(Bucket=s3_bucket, Key="raw/b/2.csv", Body=b"id,name\n2,BOB\n")
    root = f"{base}/staging"

    read_uri = staging.task_output_uri("dag", "run:1", "read", root=root)
    handle = runner.run_source(
        {"path": f"{base}/raw/**/*.csv"}, "read", read_uri, module="source.file", log=log
    )
    assert handle["uri"] == read_uri and handle["rows"] == 2

    tidy_uri = staging.task_output_uri("dag", "run:1", "tidy", root=root)
    tidy = runner.run_transform({"case": "lower"}, "tidy", [handle], tidy_uri, module="clean_text")
    result = runner.run_destination(
        {"path": f"{base}/out/names.parquet"}, "write", [tidy], module="destination.file"
    )
    assert result["rows"] == 2
    body = s3.get_object(Bucket=s3_bucket, Key="out/names.parquet")["Body"].read()
    assert pq.read_table(io.BytesIO(body)).to_pylist() == [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}]

    assert staging.cleanup_run_staging("dag", "run:1", root=root)
    assert keys(s3, s3_bucket) == ["out/names.parquet", "raw/a/1.csv", "raw/b/2.csv"]


def test_no_match_on_s3_names_the_pattern(s3_bucket: str, s3: Any) -> None:
    pattern = f"s3://logidata_s3@{s3_bucket}/none/*.csv"
    with pytest.raises(LogiDataTaskError, match=re.escape(f"no file matches '{pattern}'")):
        runner.run_source(
            {"path": pattern}, "read", f"s3://logidata_s3@{s3_bucket}/x.parquet", module="source.file"
        )


def test_failed_write_on_s3_keeps_old_object_and_leaves_no_temp(s3: Any, s3_bucket: str, log: Any) -> None:
    s3.put_object(Bucket=s3_bucket, Key="out/report.parquet", Body=b"old")
    table = pa.table({"a": [1, 2]})

    def failing() -> Iterator[pa.RecordBatch]:
        yield table.to_batches()[0]
        raise RuntimeError("boom")

    config = FileDestinationConfig(path=f"s3://logidata_s3@{s3_bucket}/out/report.parquet")
    with pytest.raises(RuntimeError, match="boom"):
        write_file(config, "write", table.schema, failing(), log)
    assert s3.get_object(Bucket=s3_bucket, Key="out/report.parquet")["Body"].read() == b"old"
    assert keys(s3, s3_bucket) == ["out/report.parquet"]
