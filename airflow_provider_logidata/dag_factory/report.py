"""The factory report: which pipelines became DAGs, which are drafts and why others failed.

Airflow lists each refused pipeline as an import error of its own (``dag_factory.airflow_errors``); the
report is the complete picture, drafts included, kept on disk for `logidata report` and the builder. It
also lists the installed module packs that failed to load in the DAG processor: a pipeline using one of
their modules fails as "unknown module", and this says why the module is missing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from airflow_provider_logidata.spec.errors import SpecIssue

Status = Literal["loaded", "draft", "error"]


@dataclass
class PipelineReport:
    id: str
    location: str
    status: Status
    errors: list[dict[str, Any]] = field(default_factory=list)

    def reasons(self) -> list[str]:
        """Each problem as one plain line (JSON path, message, what was found and allowed), the same
        text in the DAG processor's log, in Airflow's import errors and in `logidata report`."""
        return [
            ("(warning) " if error.get("severity") == "warning" else "") + str(SpecIssue(**error))
            for error in self.errors
        ]


def _pack_errors() -> list[dict[str, str]]:
    from airflow_provider_logidata.modules.registry import registry

    return [asdict(error) for error in registry().pack_errors]


@dataclass
class FactoryReport:
    pipelines_path: str
    pipelines: list[PipelineReport] = field(default_factory=list)
    generated_at: str = ""
    # ``{distribution, entry_point, message}`` of each module pack (or module of one) not loaded.
    pack_errors: list[dict[str, str]] = field(default_factory=_pack_errors)

    @property
    def loaded(self) -> list[str]:
        return [p.id for p in self.pipelines if p.status == "loaded"]

    @property
    def failed(self) -> list[PipelineReport]:
        return [p for p in self.pipelines if p.status == "error"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at,
            "pipelines_path": self.pipelines_path,
            "counts": {
                status: sum(1 for p in self.pipelines if p.status == status)
                for status in ("loaded", "draft", "error")
            },
            "pipelines": [asdict(p) for p in self.pipelines],
            "pack_errors": list(self.pack_errors),
        }


def write_report(report: FactoryReport, path: str | os.PathLike[str]) -> bool:
    """Write atomically, and only when something other than the timestamp changed.

    The DAG processor parses the loader every 30 s; rewriting an identical report would only churn
    the disk. Returns whether the file was written.
    """
    target = Path(path)
    body = report.to_dict()
    try:
        previous = json.loads(target.read_text(encoding="utf-8"))
        previous.pop("generated_at", None)
        if previous == {k: v for k, v in body.items() if k != "generated_at"}:
            return False
    except (OSError, ValueError):
        pass
    report.generated_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    body["generated_at"] = report.generated_at
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report-", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def read_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return result
