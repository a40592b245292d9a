"""Bytes of a remote store's pipeline files, kept on local disk by their ETag.

The DAG processor parses the loader every few seconds, in a fresh process each time. With the store on
object storage, reading every pipeline file on every parse costs one GET per pipeline (10,000 pipelines:
10,000 requests every 30 s per DAG processor). The listing already carries each object's ETag, which
changes whenever its content does; a file whose ETag and size match what was kept is taken from here, so a
parse of an unchanged store costs its listing alone (one request per 1,000 pipelines).

Never stale for more than one parse: an object rewritten between the listing and the read is kept under
the older ETag, which the next listing no longer shows, so it is read again. Entries are files named by a
hash (an object's name never becomes a local path), written atomically, and pruned to what the listing
shows.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import suppress
from pathlib import Path


class ReadCache:
    def __init__(self, folder: str | os.PathLike[str], root: str) -> None:
        # One folder per store root: two stores never share entries.
        self.folder = Path(folder) / hashlib.sha256(root.encode()).hexdigest()[:24]

    def _paths(self, name: str) -> tuple[Path, Path]:
        key = hashlib.sha256(name.encode()).hexdigest()
        return self.folder / f"{key}.bytes", self.folder / f"{key}.tag"

    def get(self, name: str, tag: str, size: int | None) -> bytes | None:
        content_path, tag_path = self._paths(name)
        try:
            if tag_path.read_text(encoding="utf-8") != tag:
                return None
            content = content_path.read_bytes()
        except (OSError, UnicodeDecodeError):
            return None
        if size is not None and len(content) != size:
            return None
        return content

    def put(self, name: str, tag: str, content: bytes) -> None:
        """Keep ``content`` under ``tag``; a failure only means the next parse reads the file again."""
        content_path, tag_path = self._paths(name)
        with suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            with suppress(OSError):
                tag_path.unlink()  # never a new tag beside old bytes, even if we die between the writes
            _write_atomic(content_path, content)
            _write_atomic(tag_path, tag.encode("utf-8"))

    def prune(self, names: set[str]) -> None:
        """Drop the entries of files the listing no longer shows (deleted pipelines)."""
        keep = {path.name for name in names for path in self._paths(name)}
        with suppress(OSError):
            for entry in self.folder.iterdir():
                if entry.name not in keep:
                    with suppress(OSError):
                        entry.unlink()


def _write_atomic(target: Path, data: bytes) -> None:
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise
