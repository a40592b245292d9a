"""The local copy of a remote store's files, by ETag: used only while tag and size still match."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_logidata.store.read_cache import ReadCache


def test_bytes_come_back_only_for_the_same_tag_and_size(tmp_path: Path) -> None:
    cache = ReadCache(tmp_path, "s3://c@bucket/pipelines")
    cache.put("p1.json", '"etag-1"', b"{}\n")
    assert cache.get("p1.json", '"etag-1"', 3) == b"{}\n"
    assert cache.get("p1.json", '"etag-1"', None) == b"{}\n"
    assert cache.get("p1.json", '"etag-2"', 3) is None  # rewritten since
    assert cache.get("p1.json", '"etag-1"', 4) is None  # not what the listing says
    assert cache.get("p2.json", '"etag-1"', 3) is None


def test_stores_never_share_entries_and_names_never_become_paths(tmp_path: Path) -> None:
    a = ReadCache(tmp_path, "s3://c@bucket/a")
    b = ReadCache(tmp_path, "s3://c@bucket/b")
    a.put("../../escape.json", "t", b"x")
    assert b.get("../../escape.json", "t", 1) is None
    assert a.get("../../escape.json", "t", 1) == b"x"
    assert not (tmp_path.parent / "escape.json").exists()
    assert all(p.parent == a.folder for p in a.folder.iterdir())


def test_prune_keeps_what_the_listing_shows(tmp_path: Path) -> None:
    cache = ReadCache(tmp_path, "s3://c@bucket/p")
    cache.put("keep.json", "t1", b"k")
    cache.put("gone.json", "t2", b"g")
    cache.prune({"keep.json"})
    assert cache.get("keep.json", "t1", 1) == b"k"
    assert cache.get("gone.json", "t2", 1) is None
    assert len(list(cache.folder.iterdir())) == 2  # bytes and tag of the one kept


def test_a_damaged_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ReadCache(tmp_path, "s3://c@bucket/p")
    cache.put("p.json", "t", b"abc")
    bytes_path, tag_path = cache._paths("p.json")
    bytes_path.write_bytes(b"ab")  # cut short
    assert cache.get("p.json", "t", 3) is None
    tag_path.write_bytes(b"\xff\xfe")
    assert cache.get("p.json", "t", None) is None


def test_an_unwritable_folder_only_means_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = ReadCache(blocker, "s3://c@bucket/p")
    cache.put("p.json", "t", b"x")  # no error
    assert cache.get("p.json", "t", 1) is None
    cache.prune(set())
