"""Dismissed suggestions: a per-pipeline sidecar beside the pipeline, outside its versions and etag."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.dag_factory.loader import load_pipelines
from airflow_provider_logidata.store import PipelineNotFound, PipelineStore, StoreError
from airflow_provider_logidata.store.dismissed import DISMISSED_DIR, MAX_DISMISSED, MAX_SUGGESTION_ID_LENGTH

VALID: dict[str, Any] = {
    "id": "p1",
    "nodes": [
        {"id": "src", "module": "source.file", "config": {"path": "/tmp/in.csv"}},
        {"id": "dst", "module": "destination.file", "config": {"path": "/tmp/out.parquet"}},
    ],
    "edges": [{"source": "src", "target": "dst"}],
}


def pipeline(pipeline_id: str = "p1", **changes: Any) -> dict[str, Any]:
    return {**json.loads(json.dumps(VALID)), "id": pipeline_id, **changes}


def sidecar(root: Path, pipeline_id: str = "p1") -> Path:
    return root / DISMISSED_DIR / f"{pipeline_id}.json"


def pipeline_files(root: Path) -> dict[str, bytes]:
    """The pipeline's own files (current + history): what a dismissal must never change."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.parts[len(root.parts)] not in (DISMISSED_DIR, ".locks")
    }


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "pipelines"


@pytest.fixture
def store(root: Path) -> PipelineStore:
    return PipelineStore(root)


def test_dismiss_and_restore_without_touching_the_pipeline(store: PipelineStore, root: Path) -> None:
    saved = store.save(pipeline(), expected_etag=None)
    before = pipeline_files(root)
    assert store.dismissed("p1") == []

    assert store.dismiss("p1", "exact_duplicates") == ["exact_duplicates"]
    assert store.dismiss("p1", "padded_text:customer") == ["exact_duplicates", "padded_text:customer"]
    # Dismissing again makes it the newest (it is the last one forgotten past the cap).
    assert store.dismiss("p1", "exact_duplicates") == ["padded_text:customer", "exact_duplicates"]
    assert store.dismissed("p1") == ["padded_text:customer", "exact_duplicates"]
    assert json.loads(sidecar(root).read_text()) == {
        "pipeline_id": "p1",
        "ids": ["padded_text:customer", "exact_duplicates"],
    }

    # No version, same etag, same bytes: an editor holding the etag still saves without a conflict.
    assert pipeline_files(root) == before
    assert store.current_etag("p1") == saved.etag
    assert [v.version for v in store.history("p1")] == [1]
    assert store.get("p1").version == 1

    assert store.undismiss("p1", "padded_text:customer") == ["exact_duplicates"]
    written = sidecar(root).stat().st_mtime_ns
    os.utime(sidecar(root), ns=(written - 10**9, written - 10**9))
    assert store.undismiss("p1", "never_dismissed") == ["exact_duplicates"]
    assert sidecar(root).stat().st_mtime_ns == written - 10**9, "an unchanged list is not rewritten"
    assert store.save(pipeline(name="two"), expected_etag=saved.etag).version == 2
    assert store.dismissed("p1") == ["exact_duplicates"], "saving a version keeps the dismissals"


def test_sidecar_is_written_atomically(
    store: PipelineStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save(pipeline(), expected_etag=None)
    store.dismiss("p1", "a")
    seen: list[tuple[str, Any, Any]] = []
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        # At the rename the whole new list is in a temp file beside the target; the target is still old.
        seen.append(
            (
                Path(src).name,
                json.loads(Path(src).read_text())["ids"],
                json.loads(Path(dst).read_text())["ids"],
            )
        )
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    store.dismiss("p1", "b")
    assert len(seen) == 1
    name, new, old = seen[0]
    assert name.startswith(".p1.json.") and name.endswith(".tmp")
    assert (new, old) == (["a", "b"], ["a"])

    def fail(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(StoreError, match=r"cannot dismiss a suggestion of pipeline 'p1'.*No space left"):
        store.dismiss("p1", "c")
    assert store.dismissed("p1") == ["a", "b"]
    assert [p.name for p in (root / DISMISSED_DIR).iterdir()] == ["p1.json"], "no temp file left behind"


def test_keeps_the_newest_ids_only(store: PipelineStore, root: Path) -> None:
    store.save(pipeline(), expected_etag=None)
    sidecar(root).parent.mkdir()
    sidecar(root).write_text(
        json.dumps({"pipeline_id": "p1", "ids": [f"s{i}" for i in range(MAX_DISMISSED)]})
    )
    ids = store.dismiss("p1", "new")
    assert len(ids) == MAX_DISMISSED
    assert (ids[0], ids[-2], ids[-1]) == ("s1", f"s{MAX_DISMISSED - 1}", "new")
    assert json.loads(sidecar(root).read_text())["ids"] == ids

    # A hand-made file over the bound reads as its newest ids.
    sidecar(root).write_text(json.dumps({"ids": [f"x{i}" for i in range(MAX_DISMISSED + 200)]}))
    ids = store.dismissed("p1")
    assert len(ids) == MAX_DISMISSED and ids[0] == "x200"


def test_delete_removes_the_sidecar(store: PipelineStore, root: Path) -> None:
    saved = store.save(pipeline(), expected_etag=None)
    store.dismiss("p1", "a")
    store.delete("p1", expected_etag=saved.etag)
    assert not sidecar(root).exists()
    with pytest.raises(PipelineNotFound):
        store.dismissed("p1")
    restored = store.restore("p1", 1, expected_etag=None)
    assert restored.version == 2
    assert store.dismissed("p1") == []


def test_a_new_pipeline_does_not_inherit_stale_dismissals(store: PipelineStore, root: Path) -> None:
    store.save(pipeline(), expected_etag=None)
    store.dismiss("p1", "a")
    (root / "p1.json").unlink()  # removed by hand: the sidecar stays behind
    store.save(pipeline(), expected_etag=None)
    assert store.dismissed("p1") == []
    assert not sidecar(root).exists()


def test_unknown_pipeline(store: PipelineStore, root: Path) -> None:
    for call in (
        lambda: store.dismissed("ghost"),
        lambda: store.dismiss("ghost", "a"),
        lambda: store.undismiss("ghost", "a"),
    ):
        with pytest.raises(PipelineNotFound, match=r"pipeline 'ghost': not found in .*save it first"):
            call()
    assert not (root / DISMISSED_DIR).exists()


@pytest.mark.parametrize("bad", ["", 3, None, "x" * (MAX_SUGGESTION_ID_LENGTH + 1)])
def test_invalid_suggestion_ids(store: PipelineStore, bad: Any) -> None:
    store.save(pipeline(), expected_etag=None)
    with pytest.raises(ValueError, match="suggestion id"):
        store.dismiss("p1", bad)
    assert store.dismissed("p1") == []


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe", b'["a", "b"]', b'{"ids": "a"}', b"{}"],
    ids=["not-json", "not-utf8", "a-list", "ids-not-a-list", "no-ids"],
)
def test_corrupt_sidecar_reads_as_empty(
    store: PipelineStore, root: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    saved = store.save(pipeline(), expected_etag=None)
    sidecar(root).parent.mkdir()
    sidecar(root).write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="airflow_provider_logidata"):
        assert store.dismissed("p1") == []
    assert any(
        "ignoring the dismissed suggestions" in r.getMessage() and "p1.json" in r.getMessage()
        for r in caplog.records
    )
    # The pipeline itself reads, lists and saves as before.
    assert store.get("p1").etag == saved.etag
    assert [s.id for s in store.list()] == ["p1"]
    # The next dismissal replaces the damaged file.
    assert store.dismiss("p1", "a") == ["a"]
    assert json.loads(sidecar(root).read_text())["ids"] == ["a"]


def test_odd_entries_are_skipped(store: PipelineStore, root: Path) -> None:
    store.save(pipeline(), expected_etag=None)
    sidecar(root).parent.mkdir()
    sidecar(root).write_text(json.dumps({"ids": ["a", 1, None, "", "b", "a"]}))
    assert store.dismissed("p1") == ["a", "b"]


def test_unreadable_sidecar(store: PipelineStore, root: Path, caplog: pytest.LogCaptureFixture) -> None:
    store.save(pipeline(), expected_etag=None)
    sidecar(root).mkdir(parents=True)  # a folder where the file should be: reading it is an OSError
    with caplog.at_level(logging.WARNING, logger="airflow_provider_logidata"):
        assert store.dismissed("p1") == []
    assert any("cannot read the dismissed suggestions" in r.getMessage() for r in caplog.records)
    with pytest.raises(StoreError, match="cannot read the dismissed suggestions"):
        store.dismiss("p1", "a")  # rewriting would drop whatever could not be read
    assert store.get("p1").version == 1


def test_concurrent_dismissals_all_land(store: PipelineStore) -> None:
    store.save(pipeline(), expected_etag=None)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for i in range(5):
                store.dismiss("p1", f"w{n}-{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(store.dismissed("p1")) == sorted(f"w{n}-{i}" for n in range(8) for i in range(5))


def test_sidecars_are_never_pipelines(store: PipelineStore, root: Path, tmp_path: Path) -> None:
    """The listing and the DAG factory see exactly the pipelines, with dismissals stored for each."""
    store.save(pipeline("orders"), expected_etag=None)
    store.save(pipeline("customers"), expected_etag=None)
    store.save(pipeline("sketch", status="draft", nodes=[], edges=[]), expected_etag=None)
    for pipeline_id in ("orders", "customers", "sketch"):
        store.dismiss(pipeline_id, "exact_duplicates")
    # A damaged sidecar and a sidecar whose pipeline is gone change nothing either.
    sidecar(root, "ghost").write_text("{not json")
    sidecar(root, "customers").write_text("[]")

    assert [r.id for r in store.iter_raw()] == ["customers", "orders", "sketch"]
    assert [s.id for s in store.list()] == ["customers", "orders", "sketch"]
    namespace: dict[str, Any] = {}
    report = load_pipelines(namespace, pipelines_path=str(root), report_path=str(tmp_path / "report.json"))
    assert sorted(d.dag_id for d in namespace.values()) == ["customers", "orders"]
    assert {p.id: p.status for p in report.pipelines} == {
        "customers": "loaded",
        "orders": "loaded",
        "sketch": "draft",
    }


def test_object_storage_uri(tmp_path: Path) -> None:
    """The same sidecar through ObjectStoragePath (file:// here; S3 uses the same backend calls)."""
    root = tmp_path / "bucket" / "pipelines"
    store = PipelineStore(f"file://{root}")
    saved = store.save(pipeline(), expected_etag=None)
    assert store.dismiss("p1", "a") == ["a"]
    assert store.dismiss("p1", "b") == ["a", "b"]
    assert store.undismiss("p1", "a") == ["b"]
    assert json.loads(sidecar(root).read_text())["ids"] == ["b"]
    assert [r.id for r in store.iter_raw()] == ["p1"]
    assert store.current_etag("p1") == saved.etag
    assert PipelineStore(root).dismissed("p1") == ["b"], "both backends read the same layout"
    store.delete("p1", expected_etag=saved.etag)
    assert not sidecar(root).exists()


def test_s3(s3_bucket: str) -> None:
    """Through moto's S3 server: the sidecar prefix is not listed as a pipeline."""
    pytest.importorskip("s3fs")
    store = PipelineStore(f"s3://logidata_s3@{s3_bucket}/dismissed-test")
    saved = store.save(pipeline(), expected_etag=None)
    assert store.dismiss("p1", "padded_text:a/b") == ["padded_text:a/b"]
    assert store.dismissed("p1") == ["padded_text:a/b"]
    assert [r.id for r in store.iter_raw()] == ["p1"]
    assert store.current_etag("p1") == saved.etag
    store.delete("p1", expected_etag=saved.etag)
    store.save(pipeline(), expected_etag=None)
    assert store.dismissed("p1") == []
