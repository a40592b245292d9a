"""PipelineStore on a local folder: versions, etags, conflicts, history, trash, ids and validation."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.spec import SpecValidationError
from airflow_provider_logidata.store import (
    ConflictError,
    InvalidPipelineId,
    PipelineNotFound,
    PipelineStore,
    StoreError,
    UnreadablePipeline,
    VersionNotFound,
)

VALID: dict[str, Any] = {
    "id": "p1",
    "nodes": [
        {"id": "src", "module": "source.file", "config": {"path": "/tmp/in.csv"}},
        {"id": "dst", "module": "destination.file", "config": {"path": "/tmp/out.parquet"}},
    ],
    "edges": [{"source": "src", "target": "dst"}],
}


def pipeline(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    data.update(changes)
    return data


def etag_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:16]


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root (lock files excluded) with its bytes: to prove that nothing was written."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".locks" not in p.parts
    }


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "pipelines"


@pytest.fixture
def store(root: Path) -> PipelineStore:
    return PipelineStore(root)


# ------------------------------------------------------------------------------------------ basics


def test_root_is_created_and_exposed(root: Path) -> None:
    store = PipelineStore(root)
    assert root.is_dir()
    assert store.root == str(root)


def test_default_root_comes_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PIPELINES_PATH", str(tmp_path / "from-settings"))
    store = PipelineStore()
    assert store.root == str(tmp_path / "from-settings")
    assert (tmp_path / "from-settings").is_dir()


def test_root_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="file"):
        PipelineStore(tmp_path / "file")


def test_create_then_get(store: PipelineStore, root: Path) -> None:
    saved = store.save(pipeline(), expected_etag=None, author="alice")
    content = (root / "p1.json").read_bytes()

    assert content == (json.dumps(VALID, indent=2) + "\n").encode()
    assert saved.id == "p1"
    assert saved.version == 1
    assert saved.etag == etag_of(content)
    assert saved.data == VALID
    assert (root / ".history" / "p1" / "v000001.json").read_bytes() == content

    got = store.get("p1")
    assert (got.id, got.version, got.etag, got.data) == ("p1", 1, saved.etag, VALID)
    assert got.updated_at.tzinfo is not None


def test_update_history_and_get_version(store: PipelineStore) -> None:
    v1 = store.save(pipeline(), expected_etag=None, author="alice")
    v2 = store.save(pipeline(name="Second"), expected_etag=v1.etag, author="bob")
    v3 = store.save(pipeline(name="Third", status="draft"), expected_etag=v2.etag)

    assert [v1.version, v2.version, v3.version] == [1, 2, 3]
    assert store.get("p1").data["name"] == "Third"

    history = store.history("p1")
    assert [(h.version, h.etag, h.author, h.status) for h in history] == [
        (3, v3.etag, None, "draft"),
        (2, v2.etag, "bob", "active"),
        (1, v1.etag, "alice", "active"),
    ]
    assert all(h.saved_at is not None for h in history)
    assert history[0].saved_at >= history[2].saved_at  # type: ignore[operator]

    assert store.get_version("p1", 1) == VALID
    assert store.get_version("p1", 2)["name"] == "Second"


def test_saving_identical_content_adds_no_version(store: PipelineStore) -> None:
    v1 = store.save(pipeline(), expected_etag=None)
    again = store.save(pipeline(), expected_etag=v1.etag)
    assert (again.version, again.etag) == (1, v1.etag)
    assert [h.version for h in store.history("p1")] == [1]


def test_get_unknown_pipeline(store: PipelineStore) -> None:
    with pytest.raises(PipelineNotFound, match=r"'nope' not found in .*pipelines"):
        store.get("nope")
    with pytest.raises(PipelineNotFound):
        store.history("nope")
    with pytest.raises(PipelineNotFound):
        store.get_version("nope", 1)


def test_unknown_version(store: PipelineStore) -> None:
    store.save(pipeline(), expected_etag=None)
    with pytest.raises(VersionNotFound, match=r"no version 7 .*versions: 1"):
        store.get_version("p1", 7)
    with pytest.raises(VersionNotFound):
        store.get_version("p1", 0)


# ------------------------------------------------------------------------------------------ conflicts


def test_stale_etag_is_a_conflict_and_writes_nothing(store: PipelineStore, root: Path) -> None:
    v1 = store.save(pipeline(), expected_etag=None)
    v2 = store.save(pipeline(name="theirs"), expected_etag=v1.etag)
    before = tree(root)

    mine = pipeline(name="mine")
    with pytest.raises(ConflictError) as info:
        store.save(mine, expected_etag=v1.etag)

    assert tree(root) == before  # byte for byte, history and index included
    exc = info.value
    assert exc.current is not None
    assert (exc.current.version, exc.current.etag, exc.current.data["name"]) == (2, v2.etag, "theirs")
    assert exc.attempted == mine
    assert exc.expected_etag == v1.etag
    assert v1.etag in str(exc) and v2.etag in str(exc) and "p1" in str(exc)


def test_create_over_existing_is_a_conflict(store: PipelineStore, root: Path) -> None:
    v1 = store.save(pipeline(), expected_etag=None)
    before = tree(root)
    with pytest.raises(ConflictError, match="already exists") as info:
        store.save(pipeline(name="again"), expected_etag=None)
    assert tree(root) == before
    assert info.value.current is not None and info.value.current.etag == v1.etag


def test_update_of_deleted_pipeline_is_a_conflict(store: PipelineStore, root: Path) -> None:
    v1 = store.save(pipeline(), expected_etag=None)
    store.delete("p1", expected_etag=v1.etag)
    before = tree(root)
    with pytest.raises(ConflictError, match="deleted") as info:
        store.save(pipeline(name="late edit"), expected_etag=v1.etag)
    assert info.value.current is None
    assert tree(root) == before


def test_concurrent_saves_with_same_etag_only_one_wins(store: PipelineStore) -> None:
    v1 = store.save(pipeline(), expected_etag=None)
    results: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        try:
            PipelineStore(store.root).save(pipeline(name=f"writer {n}"), expected_etag=v1.etag)
            outcome = "saved"
        except ConflictError:
            outcome = "conflict"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == ["conflict"] * 7 + ["saved"]
    assert store.get("p1").version == 2
    assert [h.version for h in store.history("p1")] == [2, 1]


# ------------------------------------------------------------------------------------------ hand edits


def test_hand_dropped_file_is_version_one(store: PipelineStore, root: Path) -> None:
    content = json.dumps(pipeline(id="dropped")).encode()  # compact JSON, not the store's format
    (root / "dropped.json").write_bytes(content)

    got = store.get("dropped")
    assert (got.version, got.etag) == (1, etag_of(content))
    history = store.history("dropped")
    assert [(h.version, h.etag, h.author) for h in history] == [(1, etag_of(content), None)]
    assert store.get_version("dropped", 1)["id"] == "dropped"

    saved = store.save(pipeline(id="dropped", name="edited"), expected_etag=got.etag)
    assert saved.version == 2
    assert (root / ".history" / "dropped" / "v000001.json").read_bytes() == content
    assert [h.version for h in store.history("dropped")] == [2, 1]


def test_hand_edited_file_is_archived_on_next_save(store: PipelineStore, root: Path) -> None:
    v1 = store.save(pipeline(), expected_etag=None)
    edited = json.dumps(pipeline(name="edited by hand"), indent=4).encode()
    (root / "p1.json").write_bytes(edited)

    got = store.get("p1")
    assert (got.version, got.etag, got.data["name"]) == (2, etag_of(edited), "edited by hand")
    assert got.etag != v1.etag

    with pytest.raises(ConflictError):  # the etag read before the hand edit is stale
        store.save(pipeline(name="from builder"), expected_etag=v1.etag)

    v3 = store.save(pipeline(name="from builder"), expected_etag=got.etag)
    assert v3.version == 3
    history = store.history("p1")
    assert [h.version for h in history] == [3, 2, 1]
    assert (root / ".history" / "p1" / "v000002.json").read_bytes() == edited
    assert store.get_version("p1", 2)["name"] == "edited by hand"


def test_current_file_with_broken_json(store: PipelineStore, root: Path) -> None:
    v1 = store.save(pipeline(), expected_etag=None)
    (root / "p1.json").write_text('{"id": "p1", ', encoding="utf-8")

    with pytest.raises(UnreadablePipeline, match=r"p1.*invalid JSON.*line 1"):
        store.get("p1")
    etag = store.current_etag("p1")
    assert etag is not None and etag != v1.etag

    # Restoring a good version repairs it; the broken bytes are kept as a version of their own.
    restored = store.restore("p1", 1, expected_etag=etag)
    assert restored.version == 3
    assert store.get("p1").data == VALID
    assert (root / ".history" / "p1" / "v000002.json").read_text() == '{"id": "p1", '


# ------------------------------------------------------------------------------------------ ids

BAD_IDS: list[Any] = [
    "",
    "../x",
    "..",
    "a/b",
    "a\\b",
    ".hidden",
    "-dash-first",
    "has space",
    "tab\there",
    "p1\n",
    "unicodé",
    "x" * 201,
    "/abs",
    "a:b",
    None,
    5,
    ["p1"],
]


@pytest.mark.parametrize("bad_id", BAD_IDS, ids=[repr(b)[:30] for b in BAD_IDS])
def test_invalid_ids_are_refused_everywhere(store: PipelineStore, root: Path, bad_id: Any) -> None:
    with pytest.raises(InvalidPipelineId):
        store.save(pipeline(id=bad_id, status="draft"), expected_etag=None)
    assert tree(root) == {}
    assert not any(root.parent.glob("x*"))  # nothing escaped the root
    if isinstance(bad_id, str):
        for call in (
            lambda: store.get(bad_id),
            lambda: store.history(bad_id),
            lambda: store.get_version(bad_id, 1),
            lambda: store.delete(bad_id, expected_etag=None),
            lambda: store.restore(bad_id, 1, expected_etag=None),
        ):
            with pytest.raises(InvalidPipelineId):
                call()


@pytest.mark.parametrize("good_id", ["p", "P_1", "a.b-c", "_x", "9lives", "x" * 200])
def test_valid_ids(store: PipelineStore, good_id: str) -> None:
    saved = store.save(pipeline(id=good_id), expected_etag=None)
    assert store.get(good_id).etag == saved.etag


def test_missing_id_and_non_object(store: PipelineStore) -> None:
    data = pipeline()
    del data["id"]
    with pytest.raises(InvalidPipelineId, match="must be text"):
        store.save(data, expected_etag=None)
    with pytest.raises(InvalidPipelineId, match="JSON object"):
        store.save(["not", "a", "dict"], expected_etag=None)  # type: ignore[arg-type]


def test_unserializable_data_is_a_store_error(store: PipelineStore, root: Path) -> None:
    with pytest.raises(StoreError, match=r"'p1' cannot be stored as JSON"):
        store.save(pipeline(status="draft", params={"x": object()}), expected_etag=None)
    with pytest.raises(StoreError, match="cannot be stored as JSON"):
        store.save(pipeline(status="draft", params={"x": float("nan")}), expected_etag=None)
    assert tree(root) == {}


# ------------------------------------------------------------------------------------------ validation


def _invalid(status: str | None) -> dict[str, Any]:
    data = pipeline(schedule="every day")
    data["nodes"][0]["module"] = "source.nope"
    if status is not None:
        data["status"] = status
    return data


@pytest.mark.parametrize("status", [None, "active"])
def test_active_invalid_pipeline_is_refused(store: PipelineStore, root: Path, status: str | None) -> None:
    with pytest.raises(SpecValidationError) as info:
        store.save(_invalid(status), expected_etag=None)
    assert info.value.pipeline_id == "p1"
    paths = {issue.path for issue in info.value.issues}
    assert {"schedule", "nodes[0].module"} <= paths
    assert tree(root) == {}


def test_same_pipeline_as_draft_is_accepted(store: PipelineStore) -> None:
    saved = store.save(_invalid("draft"), expected_etag=None)
    assert saved.version == 1
    summary = store.list()[0]
    assert (summary.id, summary.status, summary.valid) == ("p1", "draft", False)
    assert summary.error_count >= 2

    # Activating it without fixing it is refused, and the draft stays as it was.
    with pytest.raises(SpecValidationError):
        store.save(_invalid("active"), expected_etag=saved.etag)
    assert store.get("p1").etag == saved.etag


def test_invalid_status_value_is_refused(store: PipelineStore) -> None:
    with pytest.raises(SpecValidationError, match="status"):
        store.save(pipeline(status="paused"), expected_etag=None)


# ------------------------------------------------------------------------------------------ restore / delete


def test_restore_saves_old_content_as_new_version(store: PipelineStore) -> None:
    v1 = store.save(pipeline(), expected_etag=None)
    v2 = store.save(pipeline(name="two"), expected_etag=v1.etag)

    with pytest.raises(ConflictError):
        store.restore("p1", 1, expected_etag=v1.etag)
    assert store.get("p1").etag == v2.etag

    v3 = store.restore("p1", 1, expected_etag=v2.etag)
    assert (v3.version, v3.etag, v3.data) == (3, v1.etag, VALID)
    assert [h.version for h in store.history("p1")] == [3, 2, 1]

    with pytest.raises(VersionNotFound):
        store.restore("p1", 9, expected_etag=v3.etag)


def test_restore_refuses_version_that_is_no_longer_valid(store: PipelineStore, root: Path) -> None:
    v1 = store.save(_invalid("draft"), expected_etag=None)
    v2 = store.save(pipeline(), expected_etag=v1.etag)
    # v1 is a draft: restoring it is fine. An invalid *active* version dropped into history is not.
    (root / ".history" / "p1" / "v000001.json").write_text(json.dumps(_invalid("active")))
    with pytest.raises(SpecValidationError):
        store.restore("p1", 1, expected_etag=v2.etag)
    assert store.get("p1").etag == v2.etag


def test_delete_moves_to_trash_and_keeps_history(store: PipelineStore, root: Path) -> None:
    v1 = store.save(pipeline(), expected_etag=None)
    v2 = store.save(pipeline(name="two"), expected_etag=v1.etag)
    content = (root / "p1.json").read_bytes()

    with pytest.raises(ConflictError):
        store.delete("p1", expected_etag=v1.etag)
    assert (root / "p1.json").read_bytes() == content

    store.delete("p1", expected_etag=v2.etag)
    assert not (root / "p1.json").exists()
    with pytest.raises(PipelineNotFound):
        store.get("p1")
    assert store.list() == []
    assert [r.id for r in store.iter_raw()] == []

    trash = list((root / ".trash" / "p1").glob("*.json"))
    assert len(trash) == 1 and trash[0].read_bytes() == content
    assert store.trash("p1") == [str(trash[0])]
    assert [h.version for h in store.history("p1")] == [2, 1]

    with pytest.raises(PipelineNotFound):
        store.delete("p1", expected_etag=None)

    # Recreating from history: expected_etag=None means "must not exist now".
    back = store.restore("p1", 2, expected_etag=None)
    assert (back.version, back.data["name"]) == (3, "two")
    with pytest.raises(ConflictError):
        store.restore("p1", 1, expected_etag=None)


def test_delete_archives_a_hand_edited_file_first(store: PipelineStore, root: Path) -> None:
    store.save(pipeline(), expected_etag=None)
    (root / "p1.json").write_text(json.dumps(pipeline(name="hand")), encoding="utf-8")
    store.delete("p1", expected_etag=None)
    assert [h.version for h in store.history("p1")] == [2, 1]
    assert store.get_version("p1", 2)["name"] == "hand"


def test_save_after_delete_continues_numbering(store: PipelineStore) -> None:
    v1 = store.save(pipeline(), expected_etag=None)
    store.delete("p1", expected_etag=v1.etag)
    again = store.save(pipeline(name="new life"), expected_etag=None)
    assert again.version == 2
    store.delete("p1", expected_etag=again.etag)
    assert len(store.trash("p1")) == 2


# ------------------------------------------------------------------------------------------ history index


@pytest.mark.parametrize("damage", ["missing", "garbage", "wrong shape", "partial"])
def test_history_survives_a_damaged_index(store: PipelineStore, root: Path, damage: str) -> None:
    v1 = store.save(pipeline(), expected_etag=None, author="alice")
    v2 = store.save(pipeline(name="two", status="draft"), expected_etag=v1.etag, author="bob")
    index = root / ".history" / "p1" / "index.json"
    if damage == "missing":
        index.unlink()
    elif damage == "garbage":
        index.write_bytes(b"\x00{not json")
    elif damage == "wrong shape":
        index.write_text('["versions"]')
    else:
        index.write_text(
            json.dumps({"versions": {"2": {"etag": v2.etag, "status": "draft", "author": "bob"}}})
        )

    history = store.history("p1")
    assert [(h.version, h.etag, h.status) for h in history] == [(2, v2.etag, "draft"), (1, v1.etag, "active")]
    assert all(h.saved_at is not None for h in history)

    # Saving still works and rebuilds the index for the new version.
    v3 = store.save(pipeline(name="three"), expected_etag=v2.etag, author="carol")
    assert v3.version == 3
    assert store.history("p1")[0].author == "carol"


def test_history_ignores_foreign_files(store: PipelineStore, root: Path) -> None:
    store.save(pipeline(), expected_etag=None)
    folder = root / ".history" / "p1"
    (folder / "notes.txt").write_text("x")
    (folder / "v1.json").write_text("{}")
    (folder / ".v000009.json.abcdef012345.tmp").write_text("{}")
    assert [h.version for h in store.history("p1")] == [1]


# ------------------------------------------------------------------------------------------ iter_raw / list


def test_iter_raw_lists_only_pipeline_files(store: PipelineStore, root: Path) -> None:
    store.save(pipeline(id="b"), expected_etag=None)
    store.save(pipeline(id="a", status="draft"), expected_etag=None)
    (root / "broken.json").write_bytes(b"{oops")
    (root / "README.md").write_text("not a pipeline")
    (root / ".hidden.json").write_text("{}")
    (root / ".b.json.0123456789ab.tmp").write_text("{}")  # a writer's temp file
    (root / "folder.json").mkdir()
    (root / "sub").mkdir()
    (root / "sub" / "nested.json").write_text("{}")

    raws = list(store.iter_raw())
    assert [r.id for r in raws] == ["a", "b", "broken"]
    assert all(r.error is None for r in raws)
    assert raws[1].content == (root / "b.json").read_bytes()
    assert raws[1].location == str(root / "b.json")
    assert raws[2].content == b"{oops"


def test_iter_raw_reports_unreadable_files(
    store: PipelineStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save(pipeline(id="good"), expected_etag=None)
    (root / "locked.json").write_text("{}")
    real_read = store.backend.read

    def read(rel: str) -> bytes:
        if rel == "locked.json":
            raise PermissionError(13, "Permission denied", str(root / rel))
        return real_read(rel)

    monkeypatch.setattr(store.backend, "read", read)
    raws = {r.id: r for r in store.iter_raw()}
    assert raws["good"].content is not None and raws["good"].error is None
    assert raws["locked"].content is None
    assert raws["locked"].error is not None
    assert "Permission denied" in raws["locked"].error and "locked.json" in raws["locked"].error

    summary = {s.id: s for s in store.list()}["locked"]
    assert (summary.valid, summary.status, summary.error_count) == (False, "unknown", 1)


def test_iter_raw_unreadable_for_real(store: PipelineStore, root: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads files regardless of permissions")
    path = root / "secret.json"
    path.write_text("{}")
    path.chmod(0)
    try:
        raws = list(store.iter_raw())
    finally:
        path.chmod(0o644)
    assert raws[0].content is None and raws[0].error is not None


def test_list_summaries(store: PipelineStore, root: Path) -> None:
    store.save(pipeline(id="ok", name="Nice name"), expected_etag=None)
    d = store.save(_invalid("draft") | {"id": "draft1"}, expected_etag=None)
    (root / "broken.json").write_bytes(b'{"id": "broken",')
    (root / "array.json").write_bytes(b"[1, 2]")
    (root / "renamed.json").write_text(json.dumps(pipeline(id="other")))

    summaries = {s.id: s for s in store.list()}
    assert list(summaries) == ["array", "broken", "draft1", "ok", "renamed"]

    ok = summaries["ok"]
    assert (ok.name, ok.status, ok.version, ok.valid, ok.error_count) == ("Nice name", "active", 1, True, 0)
    assert ok.etag == etag_of((root / "ok.json").read_bytes())
    assert ok.updated_at is not None
    assert ok.to_dict()["updated_at"]

    draft = summaries["draft1"]
    assert (draft.status, draft.valid, draft.etag) == ("draft", False, d.etag)
    assert draft.first_error

    broken = summaries["broken"]
    assert (broken.valid, broken.error_count, broken.version) == (False, 1, 1)
    assert "line 1" in (broken.first_error or "")

    assert summaries["array"].valid is False
    # A file whose id does not match its name is reported as invalid (the DAG factory would refuse it).
    assert summaries["renamed"].valid is False
    assert "file name" in (summaries["renamed"].first_error or "")


def test_stale_temp_files_are_cleaned_by_next_save(store: PipelineStore, root: Path) -> None:
    v1 = store.save(pipeline(), expected_etag=None)
    stale = root / ".p1.json.0123456789ab.tmp"
    other = root / ".p1.json.x.json.0123456789ab.tmp"  # belongs to pipeline "p1.json.x"
    stale.write_text("half")
    other.write_text("half")
    store.save(pipeline(name="two"), expected_etag=v1.etag)
    assert not stale.exists()
    assert other.exists()
