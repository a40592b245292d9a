"""destination.file folder outputs: Hive partitions, replace vs overwrite_partitions, atomic commit, and
``conn_id`` for plain s3:// URIs; the same tests on a local disk and on S3 (moto server)."""

from __future__ import annotations

import csv
import io
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_logidata.engine import runner
from airflow_provider_logidata.engine.destinations import write_file, write_folder
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.file_commit import TEMP_FOLDER_SUFFIX
from airflow_provider_logidata.engine.files import with_conn_id
from airflow_provider_logidata.modules.destinations.file import FileDestinationConfig

SALES = pa.table(
    {
        "country": ["FR", "DE", "FR", "US", "FR"],
        "day": ["d1", "d1", "d2", "d2", "d2"],
        "amount": [1, 2, 3, 4, 5],
    }
)


@dataclass
class Store:
    """A place to write to (local folder or S3 bucket) and how to look at it without our code."""

    kind: str
    base: str  # URI of the folder tests write under, no trailing slash
    files: Callable[[], list[str]]  # every file under base, relative, sorted
    read: Callable[[str], bytes]
    put: Callable[[str, bytes], None]

    def uri(self, relative: str) -> str:
        return f"{self.base}/{relative}"


def local_store(root: Path) -> Store:
    root.mkdir(parents=True, exist_ok=True)

    def files() -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def put(relative: str, data: bytes) -> None:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)

    return Store("local", root.as_posix(), files, lambda rel: (root / rel).read_bytes(), put)


def s3_store(endpoint: str, bucket: str, *, uri_base: str | None = None) -> Store:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")

    def files() -> list[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="out/")
        return sorted(o["Key"][len("out/") :] for page in pages for o in page.get("Contents", []))

    def read(relative: str) -> bytes:
        body: bytes = s3.get_object(Bucket=bucket, Key=f"out/{relative}")["Body"].read()
        return body

    def put(relative: str, data: bytes) -> None:
        s3.put_object(Bucket=bucket, Key=f"out/{relative}", Body=data)

    return Store("s3", uri_base or f"s3://logidata_s3@{bucket}/out", files, read, put)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        return local_store(tmp_path / "out")
    endpoint = request.getfixturevalue("s3_server")
    return s3_store(endpoint, request.getfixturevalue("s3_bucket"))


def rows_of(store: Store, relative: str) -> list[dict[str, Any]]:
    data = store.read(relative)
    if relative.endswith(".csv"):
        return list(csv.DictReader(io.StringIO(data.decode())))
    return pq.read_table(io.BytesIO(data)).to_pylist()


def write(store: Store, target: str, data: pa.Table, log: Any, **config: Any) -> dict[str, Any]:
    model = FileDestinationConfig(path=store.uri(target), **config)
    return write_file(model, "write", data.schema, iter(data.to_batches(max_chunksize=2)), log)


def failing(data: pa.Table, after: int) -> Iterator[pa.RecordBatch]:
    """The input stream dies after ``after`` batches: a source or upstream failure mid-write."""
    for index, batch in enumerate(data.to_batches(max_chunksize=1)):
        if index == after:
            raise RuntimeError("input died mid-write")
        yield batch


def test_partitioned_parquet_exact_files_and_rows(store: Store, log: Any) -> None:
    result = write(store, "sales", SALES, log, partition_by=["country"])
    assert result == {
        "uri": store.uri("sales/"),
        "rows": 5,
        "format": "parquet",
        "files": 3,
        "partitions": 3,
    }
    assert store.files() == [
        "sales/country=DE/part-0.parquet",
        "sales/country=FR/part-0.parquet",
        "sales/country=US/part-0.parquet",
    ]
    # Hive style: the partition column lives in the folder name, not in the files; input order is kept.
    assert rows_of(store, "sales/country=FR/part-0.parquet") == [
        {"day": "d1", "amount": 1},
        {"day": "d2", "amount": 3},
        {"day": "d2", "amount": 5},
    ]
    assert rows_of(store, "sales/country=DE/part-0.parquet") == [{"day": "d1", "amount": 2}]
    assert rows_of(store, "sales/country=US/part-0.parquet") == [{"day": "d2", "amount": 4}]
    assert re.search(r"write: wrote 5 rows in 3 file\(s\) across 3 partition\(s\) to .*sales/", log.text())


def test_partitioned_csv_nested_partitions(store: Store, log: Any) -> None:
    result = write(store, "sales", SALES, log, partition_by=["day", "country"], format="csv", delimiter=";")
    assert (result["files"], result["partitions"]) == (4, 4)
    assert store.files() == [
        "sales/day=d1/country=DE/part-0.csv",
        "sales/day=d1/country=FR/part-0.csv",
        "sales/day=d2/country=FR/part-0.csv",
        "sales/day=d2/country=US/part-0.csv",
    ]
    assert store.read("sales/day=d2/country=FR/part-0.csv").decode().splitlines() == ["amount", "3", "5"]
    assert store.read("sales/day=d1/country=DE/part-0.csv").decode().splitlines() == ["amount", "2"]


def test_partition_values_are_escaped_for_paths(store: Store, log: Any) -> None:
    values = ["a/b", "x y", "p=q", "é日", None, "..", "50%"]
    data = pa.table({"k": values, "v": list(range(len(values)))})
    write(store, "odd", data, log, partition_by=["k"])
    assert store.files() == sorted(
        f"odd/k={folder}/part-0.parquet"
        for folder in [
            "a%2Fb",
            "x%20y",
            "p%3Dq",
            "%C3%A9%E6%97%A5",
            "__HIVE_DEFAULT_PARTITION__",
            "..",
            "50%25",
        ]
    )
    assert rows_of(store, "odd/k=a%2Fb/part-0.parquet") == [{"v": 0}]
    assert rows_of(store, "odd/k=__HIVE_DEFAULT_PARTITION__/part-0.parquet") == [{"v": 4}]
    if store.kind == "local":  # other readers decode the folder names back to the exact values
        import pyarrow.dataset as ds

        back = ds.dataset(store.uri("odd"), format="parquet", partitioning="hive").to_table()
        assert sorted(back.to_pylist(), key=lambda r: r["v"]) == [
            {"v": index, "k": value} for index, value in enumerate(values)
        ]
        duck = duckdb.sql(
            f"SELECT k, v FROM read_parquet('{store.uri('odd')}/**/*.parquet', hive_partitioning=true) "
            "ORDER BY v"
        ).fetchall()
        assert duck == [(value, index) for index, value in enumerate(values)]


def test_typed_partition_values(store: Store, log: Any) -> None:
    import datetime as dt

    data = pa.table({"day": [dt.date(2024, 1, 2), None], "n": [1, 2], "v": ["a", "b"]})
    write(store, "typed", data, log, partition_by=["day", "n"])
    assert store.files() == [
        "typed/day=2024-01-02/n=1/part-0.parquet",
        "typed/day=__HIVE_DEFAULT_PARTITION__/n=2/part-0.parquet",
    ]


def test_several_files_per_partition(store: Store, log: Any) -> None:
    model = FileDestinationConfig(path=store.uri("sales"), partition_by=["country"])
    result = write_folder(model, "write", SALES.schema, iter(SALES.to_batches()), log, max_rows_per_file=2)
    assert result["files"] == 4
    assert store.files() == [
        "sales/country=DE/part-0.parquet",
        "sales/country=FR/part-0.parquet",
        "sales/country=FR/part-1.parquet",
        "sales/country=US/part-0.parquet",
    ]
    assert [r["amount"] for r in rows_of(store, "sales/country=FR/part-0.parquet")] == [1, 3]
    assert [r["amount"] for r in rows_of(store, "sales/country=FR/part-1.parquet")] == [5]


def test_replace_drops_partitions_missing_from_new_data(store: Store, log: Any) -> None:
    model = FileDestinationConfig(path=store.uri("sales"), partition_by=["country"])
    write_folder(model, "write", SALES.schema, iter(SALES.to_batches()), log, max_rows_per_file=2)
    store.put("sales/notes.txt", b"not ours")
    new = pa.table({"country": ["FR", "JP"], "day": ["d9", "d9"], "amount": [90, 91]})
    write(store, "sales", new, log, partition_by=["country"])
    assert store.files() == ["sales/country=FR/part-0.parquet", "sales/country=JP/part-0.parquet"]
    assert rows_of(store, "sales/country=FR/part-0.parquet") == [{"day": "d9", "amount": 90}]


def test_overwrite_partitions_keeps_the_others(store: Store, log: Any) -> None:
    model = FileDestinationConfig(path=store.uri("sales"), partition_by=["country"])
    write_folder(model, "write", SALES.schema, iter(SALES.to_batches()), log, max_rows_per_file=2)
    old_de = store.read("sales/country=DE/part-0.parquet")
    new = pa.table({"country": ["FR", "JP"], "day": ["d9", "d9"], "amount": [90, 91]})
    result = write(store, "sales", new, log, partition_by=["country"], mode="overwrite_partitions")
    assert (result["rows"], result["files"], result["partitions"]) == (2, 2, 2)
    # FR had two files: both replaced by the one new file; DE and US untouched; JP added.
    assert store.files() == [
        "sales/country=DE/part-0.parquet",
        "sales/country=FR/part-0.parquet",
        "sales/country=JP/part-0.parquet",
        "sales/country=US/part-0.parquet",
    ]
    assert rows_of(store, "sales/country=FR/part-0.parquet") == [{"day": "d9", "amount": 90}]
    assert store.read("sales/country=DE/part-0.parquet") == old_de


def test_overwrite_partitions_nested_replaces_only_leaf_partitions(store: Store, log: Any) -> None:
    write(store, "sales", SALES, log, partition_by=["day", "country"])
    new = pa.table({"day": ["d1"], "country": ["FR"], "amount": [10]})
    write(store, "sales", new, log, partition_by=["day", "country"], mode="overwrite_partitions")
    assert store.files() == [
        "sales/day=d1/country=DE/part-0.parquet",
        "sales/day=d1/country=FR/part-0.parquet",
        "sales/day=d2/country=FR/part-0.parquet",
        "sales/day=d2/country=US/part-0.parquet",
    ]
    assert rows_of(store, "sales/day=d1/country=FR/part-0.parquet") == [{"amount": 10}]


@pytest.mark.parametrize("mode", ["replace", "overwrite_partitions"])
@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_failure_mid_write_keeps_old_output_and_no_temp(
    store: Store, log: Any, mode: str, file_format: str
) -> None:
    write(store, "sales", SALES, log, partition_by=["country"], format=file_format)
    before = {name: store.read(name) for name in store.files()}
    model = FileDestinationConfig(
        path=store.uri("sales"),
        partition_by=["country"],
        format=file_format,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
    )
    with pytest.raises(RuntimeError, match="input died mid-write"):
        write_folder(model, "write", SALES.schema, failing(SALES, after=3), log, max_open_files=1)
    assert {name: store.read(name) for name in store.files()} == before  # no temp folder either
    if store.kind == "local":
        assert sorted(os.listdir(store.base)) == ["sales"]


def test_folder_path_without_partitions(store: Store, log: Any) -> None:
    store.put("daily/old-part.parquet", b"old")
    result = write(store, "daily/", SALES, log)
    assert (result["uri"], result["files"], result["partitions"]) == (store.uri("daily/"), 1, 0)
    assert store.files() == ["daily/part-0.parquet"]
    assert rows_of(store, "daily/part-0.parquet") == SALES.to_pylist()


def test_empty_input_folder_keeps_the_columns(store: Store, log: Any) -> None:
    write(store, "daily/", SALES.slice(0, 0), log, format="csv")
    assert store.files() == ["daily/part-0.csv"]
    assert store.read("daily/part-0.csv").decode() == "country,day,amount\n"
    result = write(store, "sales", SALES.slice(0, 0), log, partition_by=["country"])
    assert (result["rows"], result["files"]) == (0, 0)


def test_conn_id_with_plain_s3_uris(s3_server: str, s3_bucket: str, log: Any, tmp_path: Path) -> None:
    store = s3_store(s3_server, s3_bucket, uri_base=f"s3://{s3_bucket}/out")
    result = write(store, "one.parquet", SALES, log, conn_id="logidata_s3")
    assert result["uri"] == f"s3://logidata_s3@{s3_bucket}/out/one.parquet"
    write(store, "sales", SALES, log, conn_id="logidata_s3", partition_by=["country"], format="csv")
    assert store.files() == [
        "one.parquet",
        "sales/country=DE/part-0.csv",
        "sales/country=FR/part-0.csv",
        "sales/country=US/part-0.csv",
    ]
    # A source reads plain s3:// paths through the same connection; the temp folders are never read.
    staged = runner.run_source(
        {"path": f"s3://{s3_bucket}/out/sales/*/*.csv", "conn_id": "logidata_s3"},
        "read",
        str(tmp_path / "staged" / "part-00000.parquet"),
        module="source.file",
        log=log,
    )
    assert staged["rows"] == 5
    with pytest.raises(LogiDataTaskError, match="names connection 'other' but conn_id is 'logidata_s3'"):
        write(
            s3_store(s3_server, s3_bucket, uri_base=f"s3://other@{s3_bucket}/out"),
            "x.parquet",
            SALES,
            log,
            conn_id="logidata_s3",
        )


def test_with_conn_id() -> None:
    assert with_conn_id("s3://b/k.csv", "aws") == "s3://aws@b/k.csv"
    assert with_conn_id("s3://aws@b/k.csv", "aws") == "s3://aws@b/k.csv"
    assert with_conn_id("s3://b/k.csv", None) == "s3://b/k.csv"
    assert with_conn_id("/data/k.csv", "aws") == "/data/k.csv"
    assert with_conn_id("file:///data/k.csv", "aws") == "file:///data/k.csv"


def test_source_glob_skips_hidden_folders_below_the_pattern(tmp_path: Path, log: Any) -> None:
    (tmp_path / ".hidden-root" / "out" / "k=1").mkdir(parents=True)
    (tmp_path / ".hidden-root" / "out" / ".out.__logidata_tmp" / "1-a" / "k=1").mkdir(parents=True)
    root = tmp_path / ".hidden-root"  # hidden folders in the fixed part of the pattern are fine
    (root / "out" / "k=1" / "a.csv").write_text("v\n1\n")
    (root / "out" / ".out.__logidata_tmp" / "1-a" / "k=1" / "a.csv").write_text("v\n2\n")
    staged = runner.run_source(
        {"path": f"{root}/**/*.csv"}, "read", str(tmp_path / "s" / "p.parquet"), module="source.file", log=log
    )
    assert staged["rows"] == 1


def test_partition_errors_name_the_problem(tmp_path: Path, log: Any) -> None:
    def attempt(**config: Any) -> None:
        write_file(
            FileDestinationConfig(path=str(tmp_path / "out"), **config),
            "write",
            SALES.schema,
            iter(SALES.to_batches()),
            log,
        )

    with pytest.raises(LogiDataTaskError, match=r"partition column\(s\) 'region' not in the data"):
        attempt(partition_by=["region"])
    with pytest.raises(LogiDataTaskError, match="every column is a partition column"):
        attempt(partition_by=["country", "day", "amount"])
    (tmp_path / "file.parquet").write_bytes(b"x")
    with pytest.raises(LogiDataTaskError, match=r"file.parquet is a file; a folder output cannot replace it"):
        write_file(
            FileDestinationConfig(path=str(tmp_path / "file.parquet"), partition_by=["country"]),
            "write",
            SALES.schema,
            iter(SALES.to_batches()),
            log,
        )
    with pytest.raises(ValueError, match="overwrite_partitions' needs partition_by"):
        FileDestinationConfig(path="x/", mode="overwrite_partitions")
    with pytest.raises(ValueError, match="repeated: country"):
        FileDestinationConfig(path="x/", partition_by=["country", "country"])


def test_stale_temp_folders_of_killed_attempts_are_removed(tmp_path: Path, log: Any) -> None:
    temp_root = tmp_path / f".sales{TEMP_FOLDER_SUFFIX}"
    stale = temp_root / f"{int(time.time()) - 2 * 24 * 3600}-deadbeef" / "country=FR"
    fresh = temp_root / f"{int(time.time())}-inprogress"
    stale.mkdir(parents=True)
    fresh.mkdir(parents=True)
    (stale / "part-0.parquet").write_bytes(b"half")
    write_file(
        FileDestinationConfig(path=str(tmp_path / "sales"), partition_by=["country"]),
        "write",
        SALES.schema,
        iter(SALES.to_batches()),
        log,
    )
    assert [p.name for p in temp_root.iterdir()] == [fresh.name]  # another writer's may be in progress
    assert "removing a stale temporary folder" in log.text()


def test_local_replace_swaps_the_folder(tmp_path: Path, log: Any) -> None:
    """Locally the old folder is renamed aside and the new one renamed in: no moment with a mix."""
    target = tmp_path / "sales"
    write_file(
        FileDestinationConfig(path=str(target), partition_by=["country"]),
        "write",
        SALES.schema,
        iter(SALES.to_batches()),
        log,
    )
    inode = os.stat(target / "country=FR").st_ino
    write_file(
        FileDestinationConfig(path=str(target), partition_by=["country"]),
        "write",
        SALES.schema,
        iter(SALES.to_batches()),
        log,
    )
    assert os.stat(target / "country=FR").st_ino != inode
    assert sorted(os.listdir(tmp_path)) == ["sales"]


def test_run_destination_partitioned_through_runner(stage: Any, tmp_path: Path, log: Any) -> None:
    handle = stage(SALES, batch_rows=2)
    result = runner.run_destination(
        {"path": str(tmp_path / "out"), "partition_by": ["country"], "format": "csv"},
        "write",
        [handle],
        module="destination.file",
        log=log,
    )
    assert result["rows"] == 5 and result["partitions"] == 3


def test_interrupted_s3_commit_is_completed_by_a_retry(
    s3_server: str, s3_bucket: str, log: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 has no rename: a crash between copying the new files and deleting the old ones leaves a mix of
    complete files (never a half-written one); running the task again ends in the clean state."""
    from airflow_provider_logidata.engine import file_commit

    store = s3_store(s3_server, s3_bucket)
    model = FileDestinationConfig(path=store.uri("sales"), partition_by=["country"])
    write_folder(model, "write", SALES.schema, iter(SALES.to_batches()), log, max_rows_per_file=2)
    new = pa.table({"country": ["FR"], "day": ["d9"], "amount": [90]})
    real_commit = file_commit._commit_remote
    crashes = []

    def crash_after_copy(fs: Any, temp: str, target: str, leaves: Any, new_files: Any) -> None:
        real_rm = fs.rm

        def rm(path: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(path, list) and not crashes:  # the stale-file deletion of the commit
                crashes.append(path)
                raise OSError("connection reset mid-commit")
            return real_rm(path, *args, **kwargs)

        monkeypatch.setattr(fs, "rm", rm)
        try:
            real_commit(fs, temp, target, leaves, new_files)
        finally:
            monkeypatch.setattr(fs, "rm", real_rm)

    monkeypatch.setattr(file_commit, "_commit_remote", crash_after_copy)
    with pytest.raises(LogiDataTaskError, match="connection reset mid-commit"):
        write(store, "sales", new, log, partition_by=["country"])
    mixed = store.files()
    assert "sales/country=FR/part-1.parquet" in mixed  # an old file the commit had yet to delete
    assert rows_of(store, "sales/country=FR/part-0.parquet") == [{"day": "d9", "amount": 90}]
    assert not [name for name in mixed if TEMP_FOLDER_SUFFIX in name]

    write(store, "sales", new, log, partition_by=["country"])  # the retry
    assert store.files() == ["sales/country=FR/part-0.parquet"]


def test_folder_output_needs_a_folder_below_the_root(log: Any) -> None:
    # Replacing "/" would delete Airflow's own folders: the path policy refuses it first.
    with pytest.raises(LogiDataTaskError, match="path '/' is never allowed"):
        write_file(
            FileDestinationConfig(path="/", partition_by=["country"]),
            "write",
            SALES.schema,
            iter(SALES.to_batches()),
            log,
        )
