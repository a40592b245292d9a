"""Staging layout, handles, round trips, atomic writes and run cleanup (with its DAG callbacks)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_logidata.engine import staging
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.sql import quote_ident, quote_literal


def test_quote_helpers() -> None:
    assert quote_ident('x"; drop table t; --') == '"x""; drop table t; --"'
    assert quote_ident("plain") == '"plain"'
    assert quote_literal("it's") == "'it''s'"
    assert quote_literal("back\\slash") == "'back\\slash'"
    with pytest.raises(ValueError):
        quote_ident("nul\x00")


def test_sanitize_segment_is_safe_and_unique() -> None:
    assert staging.sanitize_segment("manual__2024-01-01") == "manual__2024-01-01"
    a = staging.sanitize_segment("manual__2024-01-01T00:00:00+00:00")
    b = staging.sanitize_segment("manual__2024-01-01T00_00_00_00_00")
    assert a != b
    assert a.startswith("manual__2024-01-01T00_00_00_00_00-")
    for value in ("..", ".", "a/../../b", "x" * 300, "é"):
        clean = staging.sanitize_segment(value)
        assert clean not in (".", "..") and "/" not in clean and len(clean) <= 211
        assert all(c.isalnum() or c in "_.-" for c in clean) and clean.isascii()


def test_task_output_uri_layout(tmp_path: Path) -> None:
    uri = staging.task_output_uri(
        "my_dag", "scheduled__2024-01-01T00:00:00+00:00", "read", root=str(tmp_path)
    )
    run = staging.sanitize_segment("scheduled__2024-01-01T00:00:00+00:00")
    assert uri == f"{tmp_path.as_posix()}/my_dag/{run}/read/part-00000.parquet"
    mapped = staging.task_output_uri("my_dag", "r", "read", map_index=3, root="s3://conn@bucket/prefix/")
    assert mapped == "s3://conn@bucket/prefix/my_dag/r/read__3/part-00000.parquet"


def test_default_root_comes_from_settings(_staging_root: Path) -> None:
    assert staging.task_output_uri("d", "r", "t").startswith(_staging_root.as_posix() + "/d/r/t/")


def test_round_trip_keeps_types_rows_and_order(tmp_path: Path, log: Any) -> None:
    table = pa.table(
        {
            "i": pa.array(range(10_000), pa.int64()),
            "s": pa.array([f"v{i}" if i % 3 else None for i in range(10_000)]),
            "d": pa.array([dt.date(2024, 1, 1)] * 10_000, pa.date32()),
            "dec": pa.array([None] * 10_000, pa.decimal128(38, 9)),
        }
    )
    uri = staging.task_output_uri("d", "r", "t", root=str(tmp_path))
    handle = staging.write_staging(
        iter(table.to_batches(max_chunksize=700)), uri, label="t", schema=table.schema, log=log
    )
    assert handle == {
        "uri": uri,
        "format": "parquet",
        "rows": 10_000,
        "schema": [["i", "int64"], ["s", "string"], ["d", "date32[day]"], ["dec", "decimal128(38, 9)"]],
    }
    assert "t: wrote 10000 rows in 15 batch(es) to " in log.text()
    back = pa.Table.from_batches(list(staging.iter_batches(handle, batch_rows=1024)))
    assert back.equals(table)
    assert staging.open_dataset(uri).count_rows() == 10_000
    # Only the final file is left: the temporary sibling was moved into place.
    assert [p.name for p in Path(uri).parent.iterdir()] == ["part-00000.parquet"]


def test_empty_result_still_has_a_schema(tmp_path: Path) -> None:
    schema = pa.schema([("a", pa.int64())])
    uri = str(tmp_path / "e" / "part-00000.parquet")
    handle = staging.write_staging(iter([]), uri, label="t", schema=schema)
    assert handle["rows"] == 0 and handle["schema"] == [["a", "int64"]]
    assert staging.open_dataset(handle).schema == schema


def test_check_handle_explains_bad_xcom() -> None:
    good = {"uri": "/x", "format": "parquet", "rows": 1, "schema": [("a", "int64")]}
    assert staging.check_handle(good, owner="o", input_id="up")["schema"] == [["a", "int64"]]
    with pytest.raises(
        LogiDataTaskError, match=r"o: input 'up' returned no LogiData staging handle \(got None\)"
    ):
        staging.check_handle(None, owner="o", input_id="up")


def test_missing_staged_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(
        LogiDataTaskError, match=r"the staged output of 'up' is missing: .*clear the upstream"
    ):
        staging.open_dataset(str(tmp_path / "gone.parquet"), owner="filter_rows node 'f'", input_id="up")


def _write_run(root: Path, dag_id: str, run_id: str) -> Path:
    uri = staging.task_output_uri(dag_id, run_id, "t", root=str(root))
    staging.write_staging(iter([]), uri, label="t", schema=pa.schema([("a", pa.int64())]))
    return Path(uri)


def test_cleanup_run_staging_removes_only_that_run(tmp_path: Path) -> None:
    one = _write_run(tmp_path, "d", "run:1")
    two = _write_run(tmp_path, "d", "run:2")
    assert staging.cleanup_run_staging("d", "run:1", root=str(tmp_path)) is True
    assert not one.exists() and two.exists()
    assert staging.cleanup_run_staging("d", "run:1", root=str(tmp_path)) is False


@pytest.mark.parametrize(
    ("keep", "after_success", "after_failure"),
    [("on_failure", False, True), ("always", True, True), ("never", False, False)],
)
def test_dag_callbacks_follow_keep_staging(
    _staging_root: Path, monkeypatch: pytest.MonkeyPatch, keep: str, after_success: bool, after_failure: bool
) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__KEEP_STAGING", keep)
    dag = SimpleNamespace(dag_id="cb_dag")
    ok = _write_run(_staging_root, "cb_dag", "ok_run")
    staging.cleanup_staging_on_success({"dag": dag, "run_id": "ok_run"})
    assert ok.exists() is after_success
    bad = _write_run(_staging_root, "cb_dag", "bad_run")
    # The failure callback may get the run from dag_run only.
    staging.cleanup_staging_on_failure({"dag_run": SimpleNamespace(dag_id="cb_dag", run_id="bad_run")})
    assert bad.exists() is after_failure


def test_callbacks_never_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__KEEP_STAGING", "sometimes")
    staging.cleanup_staging_on_success({"dag": SimpleNamespace(dag_id="d"), "run_id": "r"})
    monkeypatch.setenv("AIRFLOW__LOGIDATA__KEEP_STAGING", "never")
    staging.cleanup_staging_on_failure({})
