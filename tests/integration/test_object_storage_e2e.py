"""The engine assumes no local files: S3 source, S3 staging and S3 destination through a real S3 API."""

from __future__ import annotations

import io
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def test_pipeline_entirely_on_s3(
    run_pipeline: Any, s3_server: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    import pyarrow.parquet as pq

    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    s3.put_object(Bucket=s3_bucket, Key="raw/2024/part-1.csv", Body=b"id,name\n1, ann \n2,bob\n2,bob\n")
    s3.put_object(Bucket=s3_bucket, Key="raw/2024/part-2.csv", Body=b"id,name\n3,CAT\n")
    monkeypatch.setenv("AIRFLOW__LOGIDATA__STAGING_PATH", f"s3://logidata_s3@{s3_bucket}/staging")
    spec = {
        "id": "all_on_s3",
        "nodes": [
            {
                "id": "read",
                "module": "source.file",
                "config": {"path": f"s3://logidata_s3@{s3_bucket}/raw/2024/*.csv", "format": "csv"},
            },
            {"id": "dedupe", "module": "deduplicate", "config": {}},
            {"id": "tidy", "module": "clean_text", "config": {"case": "lower"}},
            {
                "id": "write",
                "module": "destination.file",
                "config": {"path": f"s3://logidata_s3@{s3_bucket}/clean/names.parquet"},
            },
        ],
        "edges": [
            {"source": "read", "target": "dedupe"},
            {"source": "dedupe", "target": "tidy"},
            {"source": "tidy", "target": "write"},
        ],
    }
    dag_run, _ = run_pipeline(spec)
    assert str(dag_run.state) == "success", {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    body = s3.get_object(Bucket=s3_bucket, Key="clean/names.parquet")["Body"].read()
    rows = sorted(pq.read_table(io.BytesIO(body)).to_pylist(), key=lambda r: r["id"])
    assert rows == [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}, {"id": 3, "name": "cat"}]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket).get("Contents", [])]
    # Staging lived on S3 and was removed after the successful run; no temp objects are left behind.
    assert sorted(keys) == ["clean/names.parquet", "raw/2024/part-1.csv", "raw/2024/part-2.csv"]
