"""Where the store's bytes live: a local folder or an object-storage URI.

Both backends address files by a POSIX path relative to the root (``p1.json``,
``.history/p1/v000001.json``) and expose the same few operations, so the store's logic is written once.
"""

from __future__ import annotations

import abc
import datetime as dt
import fcntl
import os
import re
import secrets
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_logidata.store.errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from contextlib import AbstractContextManager

LOCK_DIR = ".locks"
DEFAULT_LOCK_TIMEOUT = 60.0


def is_uri(root: str) -> bool:
    return "://" in root


class Backend(abc.ABC):
    """The few file operations the store needs. ``rel`` is always a POSIX path relative to the root."""

    root: str

    @abc.abstractmethod
    def location(self, rel: str) -> str:
        """Path or URI of ``rel``, for messages."""

    @abc.abstractmethod
    def list_files(self, rel_dir: str = "") -> list[str]:
        """Names of the regular files directly inside ``rel_dir``; empty when the folder does not exist."""

    def list_sizes(self, rel_dir: str = "") -> dict[str, int | None]:
        """Like ``list_files``, with each file's size in bytes (None when the listing does not say)."""
        return dict.fromkeys(self.list_files(rel_dir))

    def list_tags(self, rel_dir: str = "") -> dict[str, tuple[int | None, str | None]]:
        """Like ``list_sizes``, with a tag that changes whenever a file's content does (object storage's
        ETag), or None where the listing has none: a reader may then keep bytes it read before."""
        return {name: (size, None) for name, size in self.list_sizes(rel_dir).items()}

    @abc.abstractmethod
    def list_dirs(self, rel_dir: str = "") -> list[str]:
        """Names of the folders (prefixes) directly inside ``rel_dir``; empty when it does not exist."""

    @abc.abstractmethod
    def size(self, rel: str) -> int | None:
        """Size of ``rel`` in bytes, None when it does not exist; checked before reading a file whole."""

    @abc.abstractmethod
    def read(self, rel: str) -> bytes:
        """Bytes of ``rel``; raises FileNotFoundError when it does not exist."""

    @abc.abstractmethod
    def open_read(self, rel: str) -> IO[bytes]:
        """``rel`` opened for reading in chunks (a file too large to read whole)."""

    @abc.abstractmethod
    def move(self, rel: str, target_rel: str) -> None:
        """Move ``rel`` to ``target_rel`` without reading it into memory."""

    @abc.abstractmethod
    def write(self, rel: str, data: bytes) -> None:
        """Replace ``rel`` with ``data`` all at once (readers see the old or the new bytes, never a mix)."""

    @abc.abstractmethod
    def remove(self, rel: str) -> None:
        """Delete ``rel``; no error when it is already gone."""

    @abc.abstractmethod
    def mtime(self, rel: str) -> dt.datetime | None:
        """Last modification time (UTC) or None when unknown."""

    @abc.abstractmethod
    def lock(self, pipeline_id: str) -> AbstractContextManager[None]:
        """Hold an exclusive lock on one pipeline while checking its etag and writing."""

    def read_optional(self, rel: str) -> bytes | None:
        try:
            return self.read(rel)
        except FileNotFoundError:
            return None


def _utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc)


class LocalBackend(Backend):
    """A folder on a local (or network-mounted POSIX) filesystem.

    Writes go to a dot-prefixed temp file in the target's folder (``.<name>.<hex>.tmp``), are flushed and
    fsynced, then renamed over the target with ``os.replace``, which is atomic on POSIX. A killed writer
    leaves at worst a stray temp file, which nothing lists and the next write of that file removes.
    """

    def __init__(self, root: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        path = Path(root).expanduser().absolute()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the pipelines folder {path}: {exc}") from exc
        if not path.is_dir():
            raise StoreError(f"the pipelines path {path} is not a folder")
        self._root = path
        self.root = str(path)
        self.lock_timeout = lock_timeout

    def _path(self, rel: str) -> Path:
        return self._root / rel if rel else self._root

    def location(self, rel: str) -> str:
        return str(self._path(rel))

    def list_files(self, rel_dir: str = "") -> list[str]:
        try:
            with os.scandir(self._path(rel_dir)) as entries:
                return [entry.name for entry in entries if entry.is_file()]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def list_dirs(self, rel_dir: str = "") -> list[str]:
        try:
            with os.scandir(self._path(rel_dir)) as entries:
                return [entry.name for entry in entries if entry.is_dir(follow_symlinks=False)]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def list_sizes(self, rel_dir: str = "") -> dict[str, int | None]:
        sizes: dict[str, int | None] = {}
        try:
            with os.scandir(self._path(rel_dir)) as entries:
                for entry in entries:
                    try:
                        if entry.is_file():
                            sizes[entry.name] = entry.stat().st_size
                    except OSError:  # vanished or unreadable metadata: reading it reports the problem
                        sizes[entry.name] = None
        except (FileNotFoundError, NotADirectoryError):
            return {}
        return sizes

    def size(self, rel: str) -> int | None:
        try:
            return self._path(rel).stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            return None

    def read(self, rel: str) -> bytes:
        return self._path(rel).read_bytes()

    def open_read(self, rel: str) -> IO[bytes]:
        return self._path(rel).open("rb")

    def move(self, rel: str, target_rel: str) -> None:
        target = self._path(target_rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._path(rel), target)
        self._fsync_dir(target.parent)

    def write(self, rel: str, data: bytes) -> None:
        target = self._path(rel)
        folder = target.parent
        folder.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temp_files(target)
        tmp = folder / f".{target.name}.{secrets.token_hex(6)}.tmp"
        # os.open with mode 0o666 lets the umask decide the permissions, as for any other new file.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise
        self._fsync_dir(folder)

    @staticmethod
    def _remove_stale_temp_files(target: Path) -> None:
        """Remove temp files of ``target`` left by a killed writer (callers hold the pipeline's lock)."""
        pattern = re.compile(rf"^\.{re.escape(target.name)}\.[0-9a-f]{{12}}\.tmp$")
        try:
            with os.scandir(target.parent) as entries:
                stale = [entry.path for entry in entries if pattern.match(entry.name)]
        except OSError:
            return
        for path in stale:
            with suppress(OSError):
                os.unlink(path)

    @staticmethod
    def _fsync_dir(folder: Path) -> None:
        try:
            fd = os.open(folder, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def remove(self, rel: str) -> None:
        self._path(rel).unlink(missing_ok=True)

    def mtime(self, rel: str) -> dt.datetime | None:
        try:
            return _utc(self._path(rel).stat().st_mtime)
        except OSError:
            return None

    @contextmanager
    def lock(self, pipeline_id: str) -> Iterator[None]:
        lock_dir = self._root / LOCK_DIR
        lock_dir.mkdir(exist_ok=True)
        lock_file = lock_dir / f"{pipeline_id}.lock"
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreError(
                            f"pipeline {pipeline_id!r} is locked by another writer ({lock_file}); "
                            f"gave up after {self.lock_timeout:g} s"
                        ) from None
                    time.sleep(0.02)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock


class ObjectStorageBackend(Backend):
    """An object-storage prefix reached through Airflow's ``ObjectStoragePath`` (s3://conn_id@bucket/...).

    A single PUT replaces an object atomically, so readers never see half a file. There is no
    cross-process lock on object storage: the etag check and the write are serialised within one
    process only, which covers the API server; two processes saving the same pipeline within
    milliseconds of each other would end with the last write winning.
    """

    _locks_guard = threading.Lock()
    _locks: dict[str, threading.Lock] = {}

    def __init__(self, uri: str) -> None:
        from airflow.sdk import ObjectStoragePath  # lazy: the CLI and local stores never import the SDK

        from airflow_provider_logidata.security import connections, paths

        while uri.endswith("/") and not uri.endswith("://"):
            uri = uri[:-1]
        self.root = uri
        # Like every object-storage path: an explicit aws connection with keys, never the host's identity.
        parts = paths.split_uri(uri)
        if parts is not None:  # file:// stays local
            connections.check_storage(parts.conn_id, uri)
        self._root_path: Any = ObjectStoragePath(uri)

    def _opath(self, rel: str) -> Any:
        return self._root_path / rel if rel else self._root_path

    @property
    def _fs(self) -> Any:
        return self._root_path.fs

    def location(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def list_files(self, rel_dir: str = "") -> list[str]:
        return list(self.list_sizes(rel_dir))

    def _ls(self, rel_dir: str) -> list[dict[str, Any]]:
        """The entries directly inside ``rel_dir`` as the filesystem details them; none when it is missing."""
        path = self._opath(rel_dir).path
        fs = self._fs
        # Listings are cached by some filesystems (s3fs): a long-lived process must see new files.
        fs.invalidate_cache(path)
        try:
            return list(fs.ls(path, detail=True))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def list_dirs(self, rel_dir: str = "") -> list[str]:
        folders = (entry for entry in self._ls(rel_dir) if entry.get("type") == "directory")
        names = (str(entry.get("name", "")).rstrip("/").rsplit("/", 1)[-1] for entry in folders)
        return [name for name in names if name]

    def list_sizes(self, rel_dir: str = "") -> dict[str, int | None]:
        return {name: size for name, (size, _tag) in self.list_tags(rel_dir).items()}

    def list_tags(self, rel_dir: str = "") -> dict[str, tuple[int | None, str | None]]:
        tags: dict[str, tuple[int | None, str | None]] = {}
        for entry in self._ls(rel_dir):
            if entry.get("type") != "file":
                continue
            name = str(entry.get("name", "")).rstrip("/").rsplit("/", 1)[-1]
            if name:
                size = entry.get("size")
                # S3's ETag (s3fs: "ETag"; other filesystems: "etag"/"md5"): changes with the content.
                tag = entry.get("ETag") or entry.get("etag") or entry.get("md5")
                tags[name] = (
                    int(size) if isinstance(size, (int, float)) else None,
                    str(tag) if tag else None,
                )
        return tags

    def size(self, rel: str) -> int | None:
        path = self._opath(rel).path
        fs = self._fs
        fs.invalidate_cache(path)
        try:
            info = fs.info(path)
        except FileNotFoundError:
            return None
        if info.get("type") not in (None, "file"):
            return None
        size = info.get("size")
        return int(size) if isinstance(size, (int, float)) else None

    def read(self, rel: str) -> bytes:
        data = self._fs.cat_file(self._opath(rel).path)
        return bytes(data)

    def open_read(self, rel: str) -> IO[bytes]:
        handle: IO[bytes] = self._fs.open(self._opath(rel).path, "rb")
        return handle

    def move(self, rel: str, target_rel: str) -> None:
        source, target = self._opath(rel), self._opath(target_rel)
        fs = self._fs
        if self._root_path.protocol in ("file", "local"):
            fs.makedirs(target.parent.path, exist_ok=True)
        fs.mv(source.path, target.path)
        fs.invalidate_cache(source.parent.path)
        fs.invalidate_cache(target.parent.path)

    def write(self, rel: str, data: bytes) -> None:
        path = self._opath(rel)
        fs = self._fs
        parent = path.parent.path
        if self._root_path.protocol in ("file", "local"):
            # Object stores have no folders; a local filesystem needs them before a file can be written.
            fs.makedirs(parent, exist_ok=True)
        fs.pipe_file(path.path, data)
        fs.invalidate_cache(parent)

    def remove(self, rel: str) -> None:
        path = self._opath(rel).path
        fs = self._fs
        with suppress(FileNotFoundError):
            fs.rm_file(path)
        fs.invalidate_cache(path)

    def mtime(self, rel: str) -> dt.datetime | None:
        try:
            stamp = self._opath(rel).stat().st_mtime
        except (OSError, ValueError):
            return None
        return _utc(float(stamp)) if stamp else None

    @contextmanager
    def lock(self, pipeline_id: str) -> Iterator[None]:
        key = f"{self.root}\0{pipeline_id}"
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield


def make_backend(root: str | os.PathLike[str]) -> Backend:
    text = os.fspath(root)
    if is_uri(text):
        return ObjectStorageBackend(text)
    return LocalBackend(text)
