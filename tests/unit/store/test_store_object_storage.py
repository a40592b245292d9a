"""The object-storage backend, through Airflow's ObjectStoragePath on a file:// URI (and S3 via moto)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.store import ConflictError, PipelineNotFound, PipelineStore
from airflow_provider_logidata.store.backends import LocalBackend, ObjectStorageBackend

VALID: dict[str, Any] = {
    "id": "p1",
    "nodes": [
        {"id": "src", "module": "source.file", "config": {"path": "/tmp/in.csv"}},
        {"id": "dst", "module": "destination.file", "config": {"path": "/tmp/out.parquet"}},
    ],
    "edges": [{"source": "src", "target": "dst"}],
}


def round_trip(store: PipelineStore) -> None:
    """The same scenario for every backend: create, update, conflict, history, delete, restore."""
    v1 = store.save(dict(VALID), expected_etag=None, author="alice")
    assert v1.version == 1
    got = store.get("p1")
    assert (got.version, got.etag, got.data) == (1, v1.etag, VALID)

    v2 = store.save({**VALID, "name": "two"}, expected_etag=v1.etag, author="bob")
    assert v2.version == 2
    with pytest.raises(ConflictError):
        store.save({**VALID, "name": "stale"}, expected_etag=v1.etag)
    assert store.get("p1").etag == v2.etag

    store.save({**VALID, "id": "a_draft", "status": "draft", "nodes": []}, expected_etag=None)
    raws = list(store.iter_raw())
    assert [r.id for r in raws] == ["a_draft", "p1"]
    assert raws[1].location == f"{store.root}/p1.json"
    assert json.loads(raws[1].content or b"") == {**VALID, "name": "two"}

    summaries = {s.id: s for s in store.list()}
    assert (summaries["p1"].version, summaries["p1"].valid, summaries["p1"].name) == (2, True, "two")
    assert summaries["p1"].updated_at is not None

    history = store.history("p1")
    assert [(h.version, h.author) for h in history] == [(2, "bob"), (1, "alice")]
    assert store.get_version("p1", 1) == VALID

    store.delete("p1", expected_etag=v2.etag)
    with pytest.raises(PipelineNotFound):
        store.get("p1")
    assert [r.id for r in store.iter_raw()] == ["a_draft"]
    assert len(store.trash("p1")) == 1
    deleted = store.deleted()  # folders listed through the backend: prefixes on object storage
    assert [(d.id, d.name, d.last_version, d.author) for d in deleted] == [("p1", "two", 2, "bob")]
    assert deleted[0].deleted_at is not None

    v3 = store.restore("p1", 1, expected_etag=None, message="back")
    assert (v3.version, v3.data) == (3, VALID)
    assert [h.version for h in store.history("p1")] == [3, 2, 1]
    assert store.history("p1")[0].message == "restored version 1: back"
    assert store.deleted() == []


def test_file_uri_round_trip(tmp_path: Path) -> None:
    root = tmp_path / "bucket" / "pipelines"
    store = PipelineStore(f"file://{root}/")
    assert isinstance(store.backend, ObjectStorageBackend)
    assert store.root == f"file://{root}"
    assert list(store.iter_raw()) == []  # a prefix that does not exist yet is simply empty

    round_trip(store)

    # The layout on disk is the same as with the local backend, so both can read each other's files.
    assert (root / "p1.json").read_bytes() == (json.dumps(VALID, indent=2) + "\n").encode()
    assert sorted(p.name for p in (root / ".history" / "p1").iterdir()) == [
        "index.json",
        "v000001.json",
        "v000002.json",
        "v000003.json",
    ]
    local = PipelineStore(root)
    assert isinstance(local.backend, LocalBackend)
    assert local.get("p1").etag == store.get("p1").etag
    assert [h.version for h in local.history("p1")] == [3, 2, 1]


def test_file_uri_hand_dropped_file_and_hidden_entries(tmp_path: Path) -> None:
    root = tmp_path / "store"
    (root / ".history").mkdir(parents=True)
    (root / "dropped.json").write_text(json.dumps({**VALID, "id": "dropped"}))
    (root / ".dropped.json.0123456789ab.tmp").write_text("{}")
    (root / "notes.txt").write_text("x")
    store = PipelineStore(f"file://{root}")
    assert [r.id for r in store.iter_raw()] == ["dropped"]
    assert store.get("dropped").version == 1


def test_local_backend_used_for_plain_paths(tmp_path: Path) -> None:
    assert isinstance(PipelineStore(tmp_path).backend, LocalBackend)
    assert isinstance(PipelineStore(str(tmp_path)).backend, LocalBackend)


def test_s3_round_trip(s3_bucket: str) -> None:
    """Through moto's S3 server and an Airflow connection (AIRFLOW_CONN_LOGIDATA_S3)."""
    pytest.importorskip("s3fs")
    store = PipelineStore(f"s3://logidata_s3@{s3_bucket}/team/pipelines")
    round_trip(store)
