"""Store limits: versions pruned at ``max_versions``, documents over ``max_pipeline_bytes`` refused, and one
broken stored file (of any kind) failing only its own pipeline in the list, the getters and the factory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata import settings
from airflow_provider_logidata.store import PipelineStore, UnreadablePipeline, VersionNotFound
from airflow_provider_logidata.store.errors import PipelineTooLarge, UnstorablePipeline


def pipeline(pid: str = "p1", **changes: Any) -> dict[str, Any]:
    """A valid pipeline reading and writing under the default allowed data folder."""
    data = settings.data_path()
    doc: dict[str, Any] = {
        "id": pid,
        "name": f"Pipeline {pid}",
        "nodes": [
            {"id": "src", "module": "source.file", "config": {"path": f"{data}/in.csv"}},
            {"id": "dst", "module": "destination.file", "config": {"path": f"{data}/out.parquet"}},
        ],
        "edges": [{"source": "src", "target": "dst"}],
    }
    doc.update(changes)
    return doc


def save_versions(store: PipelineStore, count: int, pid: str = "p1") -> list[str]:
    """Save ``count`` more versions of one pipeline, described "save <version>"; returns their etags."""
    etags: list[str] = []
    etag = store.current_etag(pid)
    first = store.get(pid).version + 1 if etag else 1
    for number in range(first, first + count):
        stored = store.save(pipeline(pid, description=f"save {number}"), expected_etag=etag)
        etag = stored.etag
        etags.append(stored.etag)
    return etags


# ------------------------------------------------------------------------------------------ versions


def check_pruned(store: PipelineStore, *, saved: int, kept: int) -> None:
    history = store.history("p1")
    assert [h.version for h in history] == list(range(saved, saved - kept, -1))
    assert store.get("p1").version == saved
    assert store.get_version("p1", saved)["description"] == f"save {saved}"
    assert store.get_version("p1", saved - kept + 1)["description"] == f"save {saved - kept + 1}"
    with pytest.raises(VersionNotFound, match=r"has no version 1 .*versions: "):
        store.get_version("p1", 1)
    names = sorted(store.backend.list_files(".history/p1"))
    assert names == ["index.json", *(f"v{v:06d}.json" for v in range(saved - kept + 1, saved + 1))]
    index = json.loads(store.backend.read(".history/p1/index.json"))
    assert sorted(int(v) for v in index["versions"]) == list(range(saved - kept + 1, saved + 1))


def test_versions_pruned_at_the_limit_local(tmp_path: Path) -> None:
    store = PipelineStore(tmp_path / "pipelines", max_versions=3)
    save_versions(store, 2)
    assert [h.version for h in store.history("p1")] == [2, 1]  # under the limit: nothing pruned
    save_versions(store, 8)  # versions 3..10
    check_pruned(store, saved=10, kept=3)
    # The newest (current) version survives even the smallest limit.
    one = PipelineStore(tmp_path / "pipelines", max_versions=1)
    one.save(pipeline(description="save 11"), expected_etag=one.current_etag("p1"))
    assert [h.version for h in one.history("p1")] == [11]
    assert one.get("p1").data["description"] == "save 11"


def test_versions_pruned_on_a_file_uri(tmp_path: Path) -> None:
    store = PipelineStore(f"file://{tmp_path / 'bucket'}", max_versions=2)
    save_versions(store, 5)
    check_pruned(store, saved=5, kept=2)


def test_versions_pruned_on_s3(s3_bucket: str) -> None:
    """Through moto's S3 server: pruning deletes the objects and keeps index.json consistent."""
    pytest.importorskip("s3fs")
    store = PipelineStore(f"s3://logidata_s3@{s3_bucket}/team/pipelines", max_versions=2)
    save_versions(store, 4)
    check_pruned(store, saved=4, kept=2)


def test_max_versions_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__MAX_VERSIONS", "2")
    store = PipelineStore(tmp_path / "pipelines")
    assert store.max_versions == 2
    save_versions(store, 4)
    assert [h.version for h in store.history("p1")] == [4, 3]


def test_hand_edit_counts_as_a_version(tmp_path: Path) -> None:
    root = tmp_path / "pipelines"
    store = PipelineStore(root, max_versions=2)
    save_versions(store, 2)
    (root / "p1.json").write_text(json.dumps(pipeline(description="by hand"), indent=2))
    store.save(pipeline(description="after"), expected_etag=store.current_etag("p1"))
    # v3 is the hand edit, v4 the save: v1 and v2 are pruned.
    assert [h.version for h in store.history("p1")] == [4, 3]
    assert store.get_version("p1", 3)["description"] == "by hand"


def test_delete_and_restore_cycles_stay_bounded(tmp_path: Path) -> None:
    root = tmp_path / "pipelines"
    store = PipelineStore(root, max_versions=2)
    save_versions(store, 1)
    for _ in range(4):
        store.delete("p1", expected_etag=None)
        newest = store.history("p1")[0].version
        store.restore("p1", newest, expected_etag=None)
    assert len(store.history("p1")) == 2
    store.delete("p1", expected_etag=None)
    assert len(store.trash("p1")) == 2  # the newest deleted copies only


# ------------------------------------------------------------------------------------------ size


def test_save_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "pipelines"
    store = PipelineStore(root, max_pipeline_bytes=4096)
    with pytest.raises(PipelineTooLarge) as info:
        store.save(pipeline(description="x" * 5000), expected_etag=None)
    message = str(info.value)
    assert "'p1'" in message and "4,096 bytes" in message and "[logidata] max_pipeline_bytes" in message
    assert (info.value.limit, info.value.size > 4096) == (4096, True)
    assert not (root / "p1.json").exists() and not (root / ".history").exists()

    v1 = store.save(pipeline(), expected_etag=None)
    with pytest.raises(PipelineTooLarge):
        store.save(pipeline(description="x" * 5000), expected_etag=v1.etag)
    assert store.get("p1").etag == v1.etag
    assert [h.version for h in store.history("p1")] == [1]


def test_size_setting_and_restore_after_lowering_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "pipelines"
    big = PipelineStore(root)
    v1 = big.save(pipeline(description="x" * 3000), expected_etag=None)
    big.save(pipeline(), expected_etag=v1.etag)
    monkeypatch.setenv("AIRFLOW__LOGIDATA__MAX_PIPELINE_BYTES", "2048")
    small = PipelineStore(root)
    assert small.max_pipeline_bytes == 2048
    with pytest.raises(PipelineTooLarge, match="2,048 bytes"):
        small.restore("p1", 1, expected_etag=small.current_etag("p1"))
    assert small.get("p1").version == 2


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"status": "draft", "params": {"x": float("nan")}}, "Out of range float"),
        ({"status": "draft", "params": {"x": float("inf")}}, "Out of range float"),
        ({"status": "draft", "params": {"x": 10**45}}, "46 digits"),
        ({"status": "draft", "params": {"x": {"__set__": {1, 2}}}}, "not JSON serializable"),
    ],
)
def test_documents_the_store_could_not_read_back_are_refused(
    tmp_path: Path, changes: dict[str, Any], words: str
) -> None:
    root = tmp_path / "pipelines"
    store = PipelineStore(root)
    with pytest.raises(UnstorablePipeline, match=words):
        store.save(pipeline(**changes), expected_etag=None)
    assert not (root / "p1.json").exists()


def test_deeply_nested_document_is_refused(tmp_path: Path) -> None:
    deep: Any = 1
    for _ in range(100):
        deep = [deep]
    store = PipelineStore(tmp_path / "pipelines")
    with pytest.raises(UnstorablePipeline, match="deeper than 64"):
        store.save(pipeline(status="draft", params={"x": deep}), expected_etag=None)


# ------------------------------------------------------------------------------------------ broken files

LIMIT = 256 * 1024  # above the 100,000-deep file (200 KB), below the huge one
# One stored file of each broken kind: (id, bytes, words of the error shown for it).
BROKEN: dict[str, tuple[bytes, str]] = {
    "bad_utf8": (b'{"id": "bad_utf8", "name": "\xff\xfe"}', "not UTF-8"),
    "bad_json": (b'{"id": "bad_json", ', "invalid JSON"),
    "huge_int": (b'{"id": "huge_int", "retries": ' + b"9" * 4300 + b"}", "4300 digits"),
    "deep": (b'{"id": "deep", "params": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "deeper than 64"),
    "nan": (b'{"id": "nan", "params": {"x": NaN}}', "NaN"),
    "array": (b'[{"id": "array"}]', "JSON object"),
    "empty": (b"", "invalid JSON"),
    "binary": (bytes(range(256)) * 4, "save it as UTF-8"),  # starts like UTF-16: json would guess that
    "surrogate": (b'{"id": "surrogate", "name": "\\ud800"}', "surrogate"),
    "huge_file": (
        b'{"id": "huge_file", "description": "' + b"x" * (LIMIT + 10) + b'"}',
        "max_pipeline_bytes",
    ),
}


def fill_with_broken_files(store: PipelineStore, root_files: Any) -> None:
    store.save(pipeline("good_a"), expected_etag=None)
    store.save(pipeline("good_z"), expected_etag=None)
    for pid, (content, _words) in BROKEN.items():
        root_files(f"{pid}.json", content)


def check_isolation(store: PipelineStore) -> None:
    summaries = {s.id: s for s in store.list()}
    assert sorted(summaries) == sorted(["good_a", "good_z", *BROKEN])
    for good in ("good_a", "good_z"):
        assert (summaries[good].valid, summaries[good].status, summaries[good].error_count) == (
            True,
            "active",
            0,
        )
    for pid, (_content, words) in BROKEN.items():
        summary = summaries[pid]
        assert summary.valid is False, pid
        assert words in (summary.first_error or ""), (pid, summary.first_error)
        assert summary.to_dict()["first_error"]
        with pytest.raises(UnreadablePipeline) as info:
            store.get(pid)
        assert pid in str(info.value)
        etag = store.current_etag(pid)
        assert etag
        history = store.history(pid)
        assert history[0].etag == etag
        # Saving a good version over the broken file repairs it.
        repaired = store.save(pipeline(pid), expected_etag=etag)
        assert store.get(pid).etag == repaired.etag
    assert all(s.valid for s in store.list())


def test_each_broken_file_fails_only_itself_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "pipelines"
    store = PipelineStore(root, max_pipeline_bytes=LIMIT)
    fill_with_broken_files(store, lambda name, content: (root / name).write_bytes(content))

    real_read = store.backend.read

    def read(rel: str) -> bytes:
        assert (root / rel).stat().st_size <= LIMIT, (
            f"{rel} is over the size limit: it must not be read whole"
        )
        return real_read(rel)

    monkeypatch.setattr(store.backend, "read", read)
    raws = {r.id: r for r in store.iter_raw()}
    assert raws["huge_file"].content is None
    assert "max_pipeline_bytes" in (raws["huge_file"].error or "")
    check_isolation(store)
    # The oversize file was moved to the trash by the repairing save, not read into a version.
    trash = store.trash("huge_file")
    assert len(trash) == 1 and Path(trash[0]).stat().st_size > LIMIT


def test_each_broken_file_fails_only_itself_s3(s3_bucket: str, s3_server: str) -> None:
    pytest.importorskip("s3fs")
    import boto3

    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    store = PipelineStore(f"s3://logidata_s3@{s3_bucket}/pipelines", max_pipeline_bytes=LIMIT)

    def put(name: str, content: bytes) -> None:
        client.put_object(Bucket=s3_bucket, Key=f"pipelines/{name}", Body=content)

    fill_with_broken_files(store, put)
    check_isolation(store)


def test_dismissed_sidecar_out_of_limits_reads_as_empty(tmp_path: Path) -> None:
    root = tmp_path / "pipelines"
    store = PipelineStore(root)
    store.save(pipeline(), expected_etag=None)
    (root / ".dismissed").mkdir()
    (root / ".dismissed" / "p1.json").write_bytes(b'{"ids": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert store.dismissed("p1") == []


def test_index_out_of_limits_is_rebuilt_from_the_files(tmp_path: Path) -> None:
    root = tmp_path / "pipelines"
    store = PipelineStore(root)
    save_versions(store, 2)
    (root / ".history" / "p1" / "index.json").write_bytes(b"[" * 100_000)
    assert [h.version for h in store.history("p1")] == [2, 1]


def test_factory_skips_each_broken_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_logidata.dag_factory import load_pipelines

    root = tmp_path / "pipelines"
    monkeypatch.setenv("AIRFLOW__LOGIDATA__MAX_PIPELINE_BYTES", str(LIMIT))
    store = PipelineStore(root)
    fill_with_broken_files(store, lambda name, content: (root / name).write_bytes(content))
    namespace: dict[str, Any] = {"__file__": "/dags/loader.py"}
    with pytest.warns(UserWarning):
        report = load_pipelines(
            namespace, pipelines_path=str(root), report_path=str(tmp_path / "report.json")
        )
    assert sorted(report.loaded) == ["good_a", "good_z"]
    entries = {p.id: p for p in report.pipelines}
    for pid, (_content, words) in BROKEN.items():
        assert entries[pid].status == "error", pid
        message = entries[pid].errors[0]["message"]
        assert words in message, (pid, message)
        assert "building the DAG failed" not in message  # refused by the decoder, not by a crash


def test_a_crash_while_summarising_fails_only_that_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_logidata.store import reading as store_module

    store = PipelineStore(tmp_path / "pipelines")
    store.save(pipeline("good"), expected_etag=None)
    store.save(pipeline("odd"), expected_etag=None)
    real = store_module.validate_pipeline

    def validate(data: Any, **kwargs: Any) -> Any:
        if data.get("id") == "odd":
            raise RuntimeError("validator bug")
        return real(data, **kwargs)

    monkeypatch.setattr(store_module, "validate_pipeline", validate)
    summaries = {s.id: s for s in store.list()}
    assert summaries["good"].valid is True
    assert summaries["odd"].valid is False
    assert "RuntimeError: validator bug" in (summaries["odd"].first_error or "")


def test_absurd_version_numbers_are_not_found(tmp_path: Path) -> None:
    store = PipelineStore(tmp_path / "pipelines")
    store.save(pipeline(), expected_etag=None)
    for version in (0, -1, 10**16, 10**300):
        with pytest.raises(VersionNotFound):
            store.get_version("p1", version)


def test_oversize_file_deleted_without_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "pipelines"
    store = PipelineStore(root, max_pipeline_bytes=4096)
    v1 = store.save(pipeline(), expected_etag=None)
    big = json.dumps(pipeline(description="x" * 10_000)).encode()
    (root / "p1.json").write_bytes(big)
    real_read = store.backend.read

    def read(rel: str) -> bytes:
        assert rel != "p1.json", "the oversize current file must not be read whole"
        return real_read(rel)

    monkeypatch.setattr(store.backend, "read", read)
    etag = store.current_etag("p1")
    assert etag and etag != v1.etag  # hashed in chunks, never read whole
    history = store.history("p1")
    assert (history[0].version, history[0].etag, history[0].status) == (2, etag, "invalid")
    with pytest.raises(UnreadablePipeline, match="10,"):
        store.get_version("p1", 2)
    from airflow_provider_logidata.store import ConflictError

    with pytest.raises(ConflictError):
        store.delete("p1", expected_etag=v1.etag)
    store.delete("p1", expected_etag=etag)
    assert not (root / "p1.json").exists()
    assert Path(store.trash("p1")[-1]).read_bytes() == big
