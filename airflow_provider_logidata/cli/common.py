"""What every ``logidata`` command shares: output, the expected-failure exception, the store.

Only the standard library at module level, so building the parser (``logidata --help``) stays instant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from airflow_provider_logidata.store import PipelineStore

PROG = "logidata"


class CliError(Exception):
    """An expected failure: printed as one message on stderr, exit code 1."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _print(text: str, stream: Any) -> None:
    """Print even text the terminal's encoding cannot show (e.g. a lone surrogate from a JSON escape)."""
    try:
        print(text, file=stream)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "utf-8"
        print(text.encode(encoding, "backslashreplace").decode(encoding, "replace"), file=stream)


def out(text: str = "") -> None:
    _print(text, sys.stdout)


def err(text: str) -> None:
    _print(text, sys.stderr)


def warn(message: object) -> None:
    err(f"{PROG}: warning: {message}")


def warn_pack_errors() -> None:
    """Installed module packs that failed to load: their modules are missing from what follows."""
    from airflow_provider_logidata.modules.registry import registry

    for error in registry().pack_errors:
        warn(error)


def open_store(args: argparse.Namespace) -> PipelineStore:
    from airflow_provider_logidata.store import PipelineStore

    return PipelineStore(args.pipelines_path)


def author() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user name in this environment (e.g. a container without passwd entry)
        return None


def dump(data: Any) -> str:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only an escaped form is valid UTF-8
        text = json.dumps(data, indent=2, ensure_ascii=True) + "\n"
    return text


def write_output(text: str, output: str | None, what: str) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {what} to {output}: {exc.strerror or exc}") from exc
    err(f"wrote {what} to {output}")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [headers, *rows]:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)
