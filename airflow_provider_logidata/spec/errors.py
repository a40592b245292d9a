"""Validation problems: each names where (JSON path), what was found and what is allowed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

_MAX_REPR = 80


def format_path(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """Turn ('nodes', 3, 'config', 'columns', 0) into 'nodes[3].config.columns[0]'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


@dataclass(frozen=True)
class SpecIssue:
    path: str
    message: str
    found: str | None = None
    allowed: str | None = None
    node_id: str | None = None
    field: str | None = None  # the node's config field at fault (``condition``, ``checks[0].column``)
    severity: str | None = None  # None: an error; "warning": does not block activation

    def __str__(self) -> str:
        text = f"{self.path or '(root)'}: {self.message}"
        if self.found is not None:
            text += f" (found {self.found})"
        if self.allowed is not None:
            text += f"; allowed: {self.allowed}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class SpecValidationError(ValueError):
    """Raised where one exception has to carry every problem of a pipeline."""

    def __init__(self, pipeline_id: str | None, issues: list[SpecIssue]) -> None:
        self.pipeline_id = pipeline_id
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"pipeline {pipeline_id or '?'} is invalid ({len(issues)} problem(s)):\n{lines}")
