"""``fuse: paths`` end to end: stored JSON -> real factory -> ``dag.test()``, against the suite's real
PostgreSQL. A CSV -> transforms -> destination path runs as one task and leaves exactly what the
unfused pipeline leaves (tables, types, files); a bad value leaves the old table; a rerun of a merge
duplicates nothing; the rendered path still goes through the path policy; the canvas gets every node's
rows from the one task's metrics.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import specs

pytestmark = pytest.mark.integration

ROWS = 30_000


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def write_csv(path: Path, rows: int = ROWS, bad_at: int | None = None) -> Path:
    lines = ["id,customer,city,amount,day"]
    for i in range(rows):
        amount = "" if i % 11 == 0 else f"{i * 0.25:.2f}"
        lines.append(
            f"{i},  cust   {i % 97} ,{'' if i % 13 == 0 else 'City ' + str(i % 7)},{amount},2024-02-{1 + i % 28:02d}"
        )
        if bad_at is not None and i == bad_at:
            lines.append(f"{i + 1_000_000},x,y,not a number,2024-02-01")
    path.write_text("\n".join(lines) + "\n")
    return path


def pipeline(pid: str, csv: Path, destination: dict[str, Any], fuse: str) -> dict[str, Any]:
    return specs.linear(
        [
            {"id": "read", "module": "source.file", "config": {"path": str(csv), "format": "csv"}},
            {
                "id": "tidy",
                "module": "clean_text",
                "config": {
                    "columns": ["customer", "city"],
                    "trim": True,
                    "collapse_spaces": True,
                    "case": "upper",
                },
            },
            {"id": "keep", "module": "filter_rows", "config": {"condition": "id % 5 <> 0"}},
            destination,
        ],
        pid,
        fuse=fuse,
        engine="etl",
    )


def table(pg: Any, name: str) -> tuple[list[tuple[Any, ...]], dict[str, str]]:
    rows = pg.execute(f'SELECT * FROM "{name}" ORDER BY id').fetchall()
    types = dict(
        pg.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            f"WHERE attrelid = '\"{name}\"'::regclass AND attnum > 0 AND NOT attisdropped"
        ).fetchall()
    )
    return rows, types


def test_csv_to_postgres_fused_equals_unfused(
    run_pipeline: Any, pg: Any, pg_conn_id: str, tmp_path: Path
) -> None:
    csv = write_csv(tmp_path / "orders.csv")
    for fuse in ("none", "paths"):
        destination = specs.pg_destination(pg_conn_id, "load", table=f"orders_{fuse}", mode="replace")
        dag_run, dag = run_pipeline(pipeline(f"fused_pg_{fuse}", csv, destination, fuse))
        assert str(dag_run.state) == "success", task_states(dag_run)
    assert dag.task_ids == ["load"]  # the fused DAG: one task, named after the destination
    unfused_rows, unfused_types = table(pg, "orders_none")
    fused_rows, fused_types = table(pg, "orders_paths")
    assert len(fused_rows) == ROWS - ROWS // 5
    assert fused_rows == unfused_rows
    assert fused_types == unfused_types
    ti = next(t for t in dag_run.get_task_instances() if t.task_id == "load")
    assert ti.xcom_pull(task_ids="load") == {
        "uri": f"postgresql://{pg_conn_id}/public.orders_paths",
        "rows": ROWS - ROWS // 5,
        "mode": "replace",
    }
    # per-node rows for the canvas, from the one task's metrics
    metrics = ti.xcom_pull(task_ids="load", key="logidata_metrics")["nodes"]
    assert {n: (m["rows_in"], m["rows_out"]) for n, m in metrics.items()} == {
        "read": (None, ROWS),
        "tidy": (ROWS, ROWS),
        "keep": (ROWS, ROWS - ROWS // 5),
        "load": (ROWS - ROWS // 5, ROWS - ROWS // 5),
    }
    from airflow_provider_logidata.api.runs import TaskResult, node_runs, plan_node_tasks

    spec = pipeline(
        "fused_pg_paths", csv, specs.pg_destination(pg_conn_id, "load", table="orders_paths"), "paths"
    )
    mapping = plan_node_tasks(spec)
    runs = node_runs(
        spec, mapping, {"load": TaskResult(state="success", xcoms={"logidata_metrics": {"nodes": metrics}})}
    )
    assert {n: (r.task_id, r.rows_out) for n, r in runs.items()} == {
        "read": ("load", ROWS),
        "tidy": ("load", ROWS),
        "keep": ("load", ROWS - ROWS // 5),
        "load": ("load", ROWS - ROWS // 5),
    }


def test_csv_to_parquet_fused_equals_unfused(run_pipeline: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    csv = write_csv(tmp_path / "orders.csv")
    for fuse in ("none", "paths"):
        destination = specs.file_destination("write", str(tmp_path / f"out_{fuse}.parquet"), format="parquet")
        dag_run, dag = run_pipeline(pipeline(f"fused_file_{fuse}", csv, destination, fuse))
        assert str(dag_run.state) == "success", task_states(dag_run)
    assert dag.task_ids == ["write"]
    fused = pq.read_table(tmp_path / "out_paths.parquet")
    assert fused.num_rows == ROWS - ROWS // 5
    assert fused.equals(pq.read_table(tmp_path / "out_none.parquet"))


def test_bad_value_mid_file_leaves_the_table(
    run_pipeline: Any, pg: Any, pg_conn_id: str, tmp_path: Path
) -> None:
    """The value breaks the column type DuckDB sniffed (after 20,000 rows): the COPY is under way when
    it fails, and the replace's transaction rolls back."""
    pg.execute("CREATE TABLE kept (id bigint, note text); INSERT INTO kept VALUES (1, 'old'), (2, 'rows')")
    csv = write_csv(tmp_path / "orders.csv", bad_at=25_000)
    destination = specs.pg_destination(pg_conn_id, "load", table="kept", mode="replace")
    dag_run, _ = run_pipeline(pipeline("fused_pg_bad", csv, destination, "paths"))
    assert str(dag_run.state) == "failed"
    assert pg.execute("SELECT * FROM kept ORDER BY id").fetchall() == [(1, "old"), (2, "rows")]
    assert pg.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'kept%'").fetchone() == (1,)


def test_merge_rerun_loads_no_row_twice(run_pipeline: Any, pg: Any, pg_conn_id: str, tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "orders.csv", rows=2000)
    destination = specs.pg_destination(pg_conn_id, "load", table="merged", mode="merge", keys=["id"])
    spec = pipeline("fused_pg_merge", csv, destination, "paths")
    for _ in range(2):
        dag_run, _ = run_pipeline(spec)
        assert str(dag_run.state) == "success", task_states(dag_run)
        assert pg.execute("SELECT count(*), count(DISTINCT id) FROM merged").fetchone() == (1600, 1600)


def test_rendered_path_goes_through_the_policy(run_pipeline: Any, tmp_path: Path) -> None:
    """A templated path validation cannot see is checked once rendered, in the fused task too."""
    spec = pipeline(
        "fused_policy",
        Path("{{ params.src }}"),
        specs.file_destination("write", str(tmp_path / "out.parquet")),
        "paths",
    )
    spec["params"] = {"src": "/etc/passwd"}
    dag_run, dag = run_pipeline(spec)
    assert dag.task_ids == ["write"]
    assert str(dag_run.state) == "failed"
    assert not (tmp_path / "out.parquet").exists()


def test_object_storage_source_and_destination(run_pipeline: Any, s3_server: str, s3_bucket: str) -> None:
    """Files on S3 (a glob through an Airflow connection) in, Parquet on S3 out: one task, same rows."""
    import io

    import boto3
    import pyarrow.parquet as pq

    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    s3.put_object(Bucket=s3_bucket, Key="raw/part-1.csv", Body=b"id,name\n1, ann \n2,bob\n2,bob\n")
    s3.put_object(Bucket=s3_bucket, Key="raw/part-2.csv", Body=b"id,name\n3,CAT\n")
    spec = specs.linear(
        [
            {
                "id": "read",
                "module": "source.file",
                "config": {"path": f"s3://logidata_s3@{s3_bucket}/raw/*.csv", "format": "csv"},
            },
            {"id": "dedupe", "module": "deduplicate", "config": {}},
            {"id": "tidy", "module": "clean_text", "config": {"case": "lower"}},
            specs.file_destination("write", f"s3://logidata_s3@{s3_bucket}/clean/names.parquet"),
        ],
        "fused_s3",
        fuse="paths",
    )
    dag_run, dag = run_pipeline(spec)
    assert str(dag_run.state) == "success", task_states(dag_run)
    assert dag.task_ids == ["write"]
    body = s3.get_object(Bucket=s3_bucket, Key="clean/names.parquet")["Body"].read()
    rows = sorted(pq.read_table(io.BytesIO(body)).to_pylist(), key=lambda r: r["id"])
    assert rows == [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}, {"id": 3, "name": "cat"}]
