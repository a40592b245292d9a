"""Folder outputs replaced only once complete: written under a hidden temporary sibling, then committed.

A folder (a partitioned Parquet output, a cursor load adding files) cannot be written atomically by one
rename the way a file is (``files.atomic_output``): this module writes it whole aside, then swaps it in
(renames on a local disk, copies then deletes on object storage), and removes what killed attempts left.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_provider_logidata.engine.files import describe_error, is_local, normalize_uri, to_path
from airflow_provider_logidata.engine.logs import TaskLog, get_log

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from fsspec import AbstractFileSystem

    from airflow_provider_logidata.engine.files import StoragePath

# Folder writes: ``<parent>/.<name>.__logidata_tmp/<unix time>-<random>/`` (hidden, next to the target).
TEMP_FOLDER_SUFFIX = ".__logidata_tmp"
# Temporary folders left by killed tasks are removed by the next successful write after this long.
STALE_TEMP_SECONDS = 24 * 3600


@dataclass
class FolderWrite:
    """A folder write in progress: write every file under ``path`` (a fsspec path on ``fs``).

    ``relative_files`` (the new files, relative to the target) is filled in by the commit.
    """

    fs: AbstractFileSystem
    path: str
    target: str
    local: bool
    relative_files: list[str] = field(default_factory=list)


def _join(*parts: str) -> str:
    return "/".join(
        part.strip("/") if index else part.rstrip("/") for index, part in enumerate(parts) if part
    )


def relative_files(fs: AbstractFileSystem, root: str) -> list[str]:
    """Files under ``root``, as sorted paths relative to it (fresh listing, no cached directory info)."""
    with contextlib.suppress(Exception):
        fs.invalidate_cache(root)
    if not fs.exists(root):
        return []
    prefix = root.rstrip("/") + "/"
    return sorted(
        name[len(prefix) :] for name in fs.find(root, withdirs=False, detail=False) if name.startswith(prefix)
    )


def file_sizes(fs: AbstractFileSystem, root: str) -> dict[str, int]:
    """Files under ``root`` with their sizes in bytes, by path relative to it (one fresh listing)."""
    with contextlib.suppress(Exception):
        fs.invalidate_cache(root)
    if not fs.exists(root):
        return {}
    prefix = root.rstrip("/") + "/"
    found = fs.find(root, withdirs=False, detail=True)
    return {name[len(prefix) :]: int(info["size"]) for name, info in found.items() if name.startswith(prefix)}


@dataclass(frozen=True)
class FolderTarget:
    """A folder output: where it is, and the hidden sibling under which its new files are written."""

    storage: StoragePath
    path: str  # without a trailing slash
    temp_root: str  # ``<parent>/.<name>.__logidata_tmp``

    @property
    def fs(self) -> AbstractFileSystem:
        return self.storage.fs

    def new_temp(self) -> str:
        """A fresh temporary folder of one attempt: ``<temp_root>/<time>-<random>``."""
        return f"{self.temp_root}/{int(time.time())}-{uuid.uuid4().hex[:12]}"


def folder_target(uri: str) -> FolderTarget | None:
    """The folder ``uri`` names; ``None`` for a bucket or root itself (nothing to hold a sibling)."""
    target = to_path(normalize_uri(uri))
    path = target.path.rstrip("/")
    parent, name = posixpath.split(path)
    if not parent or not name:
        return None
    return FolderTarget(target, path, f"{parent}/.{name}{TEMP_FOLDER_SUFFIX}")


@contextlib.contextmanager
def atomic_folder(
    uri: str, *, partitions_only: bool = False, log: TaskLog | None = None
) -> Iterator[FolderWrite]:
    """Write a folder of files that replaces ``uri`` only once the ``with`` block completes.

    The caller writes everything under ``FolderWrite.path``, a hidden temporary sibling of the target
    (``<parent>/.<name>.__logidata_tmp/<time>-<random>/``). On an error inside the block the temporary
    folder is removed and the target is untouched. On success the new files are committed:

    - what is replaced: the whole target, or with ``partitions_only`` only the folders that hold new
      files (a Hive partition ``a=1/b=2``), everything under them included; other folders are kept.
    - local disk: each replaced folder is moved aside by a rename, the new one renamed into place, then
      the old one deleted. A reader sees the old or the new folder, never a mix (a rename is atomic).
    - object storage (S3): renames do not exist. The new files are copied to their final keys (each
      object appears complete), then the old files not overwritten are deleted. A reader listing during
      this short step may see old and new files together, never a half-written file. Every step is
      idempotent: a retry after a crash mid-commit writes everything again and ends in the same state.

    Temporary folders of killed attempts older than ``STALE_TEMP_SECONDS`` are removed after a commit.
    """
    logger = get_log(log)
    target = folder_target(uri)
    if target is None:
        raise ValueError(
            f"{uri}: a folder output needs a folder below the bucket or root, not {uri!r} itself"
        )
    fs, target_path, temp_root = target.fs, target.path, target.temp_root
    temp = target.new_temp()
    local = is_local(target.storage)
    if fs.isfile(target_path):
        raise FileExistsError(
            f"{uri} is a file; a folder output cannot replace it (remove it or pick a folder)"
        )
    if local:
        fs.makedirs(temp, exist_ok=True)
    folder = FolderWrite(fs=fs, path=temp, target=target_path, local=local)
    try:
        yield folder
        folder.relative_files = relative_files(fs, temp)
        if partitions_only:
            leaves = sorted({posixpath.dirname(name) for name in folder.relative_files})
        else:
            leaves = [""]
        if local:
            _commit_local(temp, target_path, leaves)
        else:
            _commit_remote(fs, temp, target_path, leaves, folder.relative_files)
    finally:
        with contextlib.suppress(Exception):
            fs.invalidate_cache(temp)  # s3fs may still remember the folder as missing
            if fs.exists(temp):
                fs.rm(temp, recursive=True)
        _remove_stale_temp(fs, temp_root, local=local, log=logger)


def _commit_local(temp: str, target: str, leaves: Sequence[str]) -> None:
    """Rename each leaf folder of ``temp`` over the same folder of ``target`` (the old one moved aside)."""
    aside_root = f"{temp}.old"
    for leaf in leaves:
        source, destination, aside = _join(temp, leaf), _join(target, leaf), _join(aside_root, leaf)
        os.makedirs(os.path.dirname(destination) or "/", exist_ok=True)
        if not os.path.lexists(destination):
            os.rename(source, destination)
            continue
        os.makedirs(os.path.dirname(aside), exist_ok=True)
        os.rename(destination, aside)
        try:
            os.rename(source, destination)
        except BaseException:
            os.rename(aside, destination)  # put the old folder back: never leave the target missing
            raise
    shutil.rmtree(aside_root, ignore_errors=True)


def _commit_remote(
    fs: AbstractFileSystem, temp: str, target: str, leaves: Sequence[str], new_files: Sequence[str]
) -> None:
    """Copy the new files into place, then delete the old files of the replaced folders."""
    existing = relative_files(fs, target)
    if leaves == [""]:
        in_scope = existing
    else:
        prefixes = tuple(f"{leaf}/" if leaf else "" for leaf in leaves)
        in_scope = [name for name in existing if name.startswith(prefixes)]
    new = set(new_files)
    stale = [name for name in in_scope if name not in new]
    if new_files:
        fs.copy([_join(temp, name) for name in new_files], [_join(target, name) for name in new_files])
    if stale:
        fs.rm([_join(target, name) for name in stale])
    with contextlib.suppress(Exception):
        fs.invalidate_cache(target)


def _remove_stale_temp(fs: AbstractFileSystem, temp_root: str, *, local: bool, log: TaskLog) -> None:
    """Best effort: drop temporary folders of killed attempts, then the empty temporary root."""
    try:
        with contextlib.suppress(Exception):
            fs.invalidate_cache(temp_root)
        if not fs.exists(temp_root):
            return
        now = time.time()
        for entry in fs.ls(temp_root, detail=False):
            stamp = posixpath.basename(entry.rstrip("/")).partition("-")[0]
            if stamp.isdigit() and now - int(stamp) > STALE_TEMP_SECONDS:
                log.info(f"removing a stale temporary folder of an interrupted write: {entry}")
                fs.rm(entry, recursive=True)
        if local:
            with contextlib.suppress(OSError):
                os.rmdir(temp_root)
    except Exception as error:  # cleanup must never fail a write that succeeded
        log.warning(f"could not clean up temporary folders under {temp_root}: {describe_error(error)}")
