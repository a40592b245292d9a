"""The commands that describe rather than change: the pipeline JSON Schema and the DAG factory report.

Nothing heavy at module level (the parser imports this file for ``logidata --help``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.cli.common import (
    CliError,
    dump,
    err,
    out,
    table,
    warn,
    warn_pack_errors,
    write_output,
)

if TYPE_CHECKING:
    import argparse


def cmd_schema(args: argparse.Namespace) -> int:
    try:
        from airflow_provider_logidata.spec.schema import pipeline_json_schema
    except ImportError as exc:
        raise CliError(f"the pipeline JSON Schema is not available in this installation: {exc}") from exc
    warn_pack_errors()
    write_output(dump(pipeline_json_schema()), args.output, "the pipeline JSON Schema")
    return 0


def _issue_text(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    from airflow_provider_logidata.spec import SpecIssue

    def text(key: str) -> str | None:
        value = error.get(key)
        return None if value is None else str(value)

    return str(SpecIssue(text("path") or "", text("message") or "?", text("found"), text("allowed")))


def cmd_report(args: argparse.Namespace) -> int:
    from airflow_provider_logidata import settings

    path = Path(args.path or settings.report_path())
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise CliError(
            f"no DAG factory report at {path} yet: it is written when Airflow's DAG processor first parses "
            "the LogiData DAG file (check that the provider's DAG file is in the dags folder)"
        ) from None
    except OSError as exc:
        raise CliError(f"cannot read the DAG factory report {path}: {exc.strerror or exc}") from exc
    from airflow_provider_logidata.security import jsonsafe

    try:
        report = jsonsafe.loads(content)
    except ValueError as exc:
        raise CliError(f"the DAG factory report {path} is not valid JSON: {exc}") from exc
    pipelines = report.get("pipelines") if isinstance(report, dict) else None
    if not isinstance(pipelines, list):
        raise CliError(f"the DAG factory report {path} has no 'pipelines' list")

    out(f"DAG factory report generated at {report.get('generated_at', '?')} ({path})")
    counts: dict[str, int] = {}
    rows = []
    details: dict[int, list[str]] = {}
    for entry in pipelines:
        if not isinstance(entry, dict):
            continue
        status = str(entry.get("status", "?"))
        counts[status] = counts.get(status, 0) + 1
        rows.append([status, str(entry.get("id", "?")), str(entry.get("location", ""))])
        errors = entry.get("errors") or []
        if isinstance(errors, list) and errors:
            details[len(rows) - 1] = [_issue_text(error) for error in errors]
    if rows:
        lines = table(["STATUS", "ID", "LOCATION"], rows).splitlines()
        out(lines[0])
        for i, line in enumerate(lines[1:]):
            out(line)
            for detail in details.get(i, []):
                out(f"    - {detail}")
    errors_count = counts.get("error", 0)
    out(
        f"{len(rows)} pipeline(s): {counts.get('loaded', 0)} loaded, {counts.get('draft', 0)} draft(s), "
        f"{errors_count} with errors"
    )
    pack_errors = [e for e in report.get("pack_errors") or [] if isinstance(e, dict)]
    if pack_errors:
        from airflow_provider_logidata.modules.registry import PackError

        out(f"{len(pack_errors)} module pack error(s) (their modules are missing):")
        for e in pack_errors:
            fields = (str(e.get(key, "?")) for key in ("distribution", "entry_point", "message"))
            out(f"    - {PackError(*fields)}")
        warn(f"{len(pack_errors)} module pack error(s) in the DAG processor")
    if errors_count:
        err(f"{errors_count} pipeline(s) failed to load")
        return 1
    return 0
