"""A stored pipeline run by Airflow writes Hive-partitioned output to S3 through a plain s3:// URI + conn_id."""

from __future__ import annotations

import io
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def test_pipeline_writes_partitioned_output_to_s3(
    run_pipeline: Any, s3_server: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    import pyarrow.parquet as pq

    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    s3.put_object(
        Bucket=s3_bucket,
        Key="raw/orders.csv",
        Body=b"id,country,amount\n1,FR,10\n2,DE,20\n3,FR,30\n4,a/b c,40\n5,,50\n",
    )
    # An older run's partition that the new data does not contain: overwrite_partitions keeps it.
    s3.put_object(Bucket=s3_bucket, Key="clean/orders/country=US/part-0.parquet", Body=b"kept")
    s3.put_object(Bucket=s3_bucket, Key="clean/orders/country=FR/part-7.parquet", Body=b"replaced")
    monkeypatch.setenv("AIRFLOW__LOGIDATA__STAGING_PATH", f"s3://logidata_s3@{s3_bucket}/staging")
    spec = {
        "id": "partitioned_on_s3",
        "nodes": [
            {
                "id": "read",
                "module": "source.file",
                "config": {"path": f"s3://{s3_bucket}/raw/orders.csv", "conn_id": "logidata_s3"},
            },
            {
                "id": "write",
                "module": "destination.file",
                "config": {
                    "path": f"s3://{s3_bucket}/clean/orders/",
                    "conn_id": "logidata_s3",
                    "partition_by": ["country"],
                    "mode": "overwrite_partitions",
                },
            },
        ],
        "edges": [{"source": "read", "target": "write"}],
    }
    dag_run, dag = run_pipeline(spec)
    assert str(dag_run.state) == "success", {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert [a.uri for a in dag.get_task("write").outlets] == [f"s3://{s3_bucket}/clean/orders"]
    assert [a.uri for a in dag.get_task("read").inlets] == [f"s3://{s3_bucket}/raw/orders.csv"]

    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket).get("Contents", []))
    assert keys == [
        "clean/orders/country=DE/part-0.parquet",
        "clean/orders/country=FR/part-0.parquet",
        "clean/orders/country=US/part-0.parquet",
        "clean/orders/country=__HIVE_DEFAULT_PARTITION__/part-0.parquet",
        "clean/orders/country=a%2Fb%20c/part-0.parquet",
        "raw/orders.csv",
    ]

    def rows(key: str) -> list[dict[str, Any]]:
        body = s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
        return pq.read_table(io.BytesIO(body)).to_pylist()

    assert rows("clean/orders/country=FR/part-0.parquet") == [
        {"id": 1, "amount": 10},
        {"id": 3, "amount": 30},
    ]
    assert rows("clean/orders/country=a%2Fb%20c/part-0.parquet") == [{"id": 4, "amount": 40}]
    assert rows("clean/orders/country=__HIVE_DEFAULT_PARTITION__/part-0.parquet") == [{"id": 5, "amount": 50}]
    body = s3.get_object(Bucket=s3_bucket, Key="clean/orders/country=US/part-0.parquet")["Body"].read()
    assert body == b"kept"
    result = dag_run.get_task_instance("write").xcom_pull(task_ids="write")
    assert result == {
        "uri": f"s3://logidata_s3@{s3_bucket}/clean/orders/",
        "rows": 5,
        "format": "parquet",
        "files": 4,
        "partitions": 4,
    }
