"""Staged data that runs left behind: listed and removed by age (``logidata staging gc``).

A successful run drops its staging in its DAG callback; a failed one keeps it for debugging and retries
(``[logidata] keep_staging``), and a run killed with its worker never reaches a callback at all. On
object storage nothing else ever removes those folders, so this collects them: every run folder
(``<staging>/<dag_id>/<run_id>/``) whose newest file is older than the given age. A run still writing
has fresh files and is never taken; an empty run folder is judged by its own time where the filesystem
has one (local folders), else taken (object storage has no empty folders to judge).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata import settings
from airflow_provider_logidata.engine.files import normalize_uri, to_path

if TYPE_CHECKING:
    from collections.abc import Callable

_AGE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str) -> dt.timedelta:
    """``7d``, ``12h``, ``30m``, ``90s``, ``2w``: the age a run folder must exceed to be collected."""
    match = _AGE.match(text or "")
    if not match:
        raise ValueError(f"invalid age {text!r}: write a number and a unit, e.g. 7d, 12h, 30m, 90s or 2w")
    age = dt.timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})
    if age <= dt.timedelta(0):
        raise ValueError(f"invalid age {text!r}: it must be more than zero (a running task writes there)")
    return age


@dataclass(frozen=True)
class StagedRun:
    dag_id: str
    run: str
    uri: str
    files: int
    bytes: int
    newest: dt.datetime | None  # the newest file's time (an empty folder's own); None when unknown

    def to_dict(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "run": self.run,
            "uri": self.uri,
            "files": self.files,
            "bytes": self.bytes,
            "newest": self.newest.isoformat() if self.newest else None,
        }


def _time(info: dict[str, Any]) -> dt.datetime | None:
    """A file's time as the filesystem details it: ``mtime`` (local, epoch) or ``LastModified`` (S3)."""
    value = info.get("mtime", info.get("LastModified", info.get("last_modified")))
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
    return None


def _children(fs: Any, path: str, kind: str) -> list[str]:
    try:
        entries = fs.ls(path, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [str(e["name"]).rstrip("/") for e in entries if e.get("type") == kind]


def staged_runs(root: str | None = None) -> list[StagedRun]:
    """Every run folder under the staging root, with its size and newest file time."""
    base = normalize_uri(root or settings.staging_path()).rstrip("/")
    top = to_path(base)
    fs = top.fs
    fs.invalidate_cache(top.path)
    runs = []
    for dag_folder in _children(fs, top.path, "directory"):
        for run_folder in _children(fs, dag_folder, "directory"):
            found = fs.find(run_folder, detail=True)
            infos = [info for info in found.values() if info.get("type") == "file"]
            times = [t for t in (_time(info) for info in infos) if t is not None]
            if not infos:  # a task about to write has made its folder: judged by the folder's own time
                with contextlib.suppress(OSError):
                    folder_time = _time(fs.info(run_folder))
                    times = [folder_time] if folder_time else []
            dag_id, run = dag_folder.rsplit("/", 1)[-1], run_folder.rsplit("/", 1)[-1]
            runs.append(
                StagedRun(
                    dag_id=dag_id,
                    run=run,
                    uri=f"{base}/{dag_id}/{run}",
                    files=len(infos),
                    bytes=sum(int(info.get("size") or 0) for info in infos),
                    newest=max(times) if times else None,
                )
            )
    return sorted(runs, key=lambda r: (r.dag_id, r.run))


def collect(
    older_than: dt.timedelta,
    *,
    root: str | None = None,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    say: Callable[[str], None] | None = None,
) -> list[StagedRun]:
    """Remove (with ``dry_run``: only list) the run folders whose newest file is older than the age."""
    cutoff = (now or dt.datetime.now(dt.timezone.utc)) - older_than
    taken = [run for run in staged_runs(root) if run.newest is None or run.newest < cutoff]
    for run in taken:
        if not dry_run:
            path = to_path(run.uri)
            path.fs.rm(path.path, recursive=True)
        if say:
            verb = "would remove" if dry_run else "removed"
            say(f"{verb} {run.uri} ({run.files} files, {run.bytes:,} bytes)")
    return taken
