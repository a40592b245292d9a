"""Entry point of the DAG file: load every stored pipeline, publish the good DAGs, report the rest.

Isolation rule (verified on Airflow 3.3): an exception escaping the DAG file turns the whole file into
one import error and every DAG in it goes stale. So each pipeline is built inside its own try/except and
only finished DAGs reach the module's globals.

Where a refused pipeline is reported: in the factory report (``logidata report``), in the DAG
processor's log, and in Airflow's own import errors, one per pipeline (``airflow_errors``), which the
UI and ``GET /api/v2/importErrors`` show without touching the file's good DAGs.

A task starting parses the DAG file too, for its one DAG (Airflow's parsing context names it). Then
only that pipeline is built: no lines about other pipelines in the task's log, no partial report
written over the full one, and the task starts without building every other DAG.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata import settings
from airflow_provider_logidata.dag_factory.airflow_errors import parse_target, report_refused
from airflow_provider_logidata.dag_factory.builder import airflow_dag_defaults, build_dag
from airflow_provider_logidata.dag_factory.report import FactoryReport, PipelineReport, write_report
from airflow_provider_logidata.spec.errors import SpecIssue
from airflow_provider_logidata.spec.validate import load_json, validate_pipeline

if TYPE_CHECKING:
    from collections.abc import MutableMapping

log = logging.getLogger(__name__)


class PipelineSkippedWarning(UserWarning):
    """Emitted once per skipped pipeline so it shows among the DAG file's parse warnings."""


def _load_one(raw: Any, fileloc: str | None, shared: dict[str, Any]) -> tuple[PipelineReport, Any]:
    if raw.error is not None or raw.content is None:
        issue = SpecIssue("", f"cannot read the file: {raw.error}")
        return PipelineReport(raw.id, raw.location, "error", [issue.to_dict()]), None
    data, json_issue = load_json(raw.content)
    if json_issue is not None:
        return PipelineReport(raw.id, raw.location, "error", [json_issue.to_dict()]), None
    if isinstance(data, dict) and data.get("status") == "draft":
        return PipelineReport(raw.id, raw.location, "draft"), None
    result = validate_pipeline(data, expected_id=raw.id)
    if not result.ok or result.pipeline is None:
        return PipelineReport(raw.id, raw.location, "error", [i.to_dict() for i in result.issues]), None
    dag = build_dag(result.pipeline, fileloc=fileloc, configs=result.configs, **shared)
    return PipelineReport(raw.id, raw.location, "loaded"), dag


def _read_cache(root: str) -> Any:
    """On object storage, pipeline files already read are kept by ETag (``store.read_cache``): a parse
    of an unchanged store then costs its listing alone. A local store is read directly."""
    from airflow_provider_logidata.store.backends import is_uri
    from airflow_provider_logidata.store.read_cache import ReadCache

    if not is_uri(root):
        return None

    return ReadCache(settings.airflow_home() / "logidata" / "cache" / "store", root)


def load_pipelines(
    namespace: MutableMapping[str, Any],
    *,
    pipelines_path: str | None = None,
    report_path: str | None = None,
) -> FactoryReport:
    """Turn every active pipeline into a DAG published in ``namespace`` (the loader's ``globals()``).

    A store that cannot be listed at all raises: Airflow then shows an import error for the loader,
    which is the right signal when no pipeline can be read. When Airflow parses the file for one DAG
    (a task starting: ``airflow_errors.parse_target``), only that pipeline is built and the report on
    disk is left alone.
    """
    from airflow_provider_logidata.store import PipelineStore

    store = PipelineStore(pipelines_path)
    report = FactoryReport(pipelines_path=str(store.root))
    fileloc = namespace.get("__file__")
    only = parse_target()
    shared = {"builder_url": settings.builder_url_template(), "dag_defaults": airflow_dag_defaults()}
    for raw in store.iter_raw(cache=_read_cache(store.root)):
        if only is not None and raw.id != only:
            continue
        try:
            entry, dag = _load_one(raw, fileloc, shared)
        except Exception as exc:  # isolation: a bug or odd input in one pipeline never hides the others
            log.exception("logidata: building pipeline %s (%s) failed", raw.id, raw.location)
            issue = SpecIssue("", f"building the DAG failed: {type(exc).__name__}: {exc}")
            entry, dag = PipelineReport(raw.id, raw.location, "error", [issue.to_dict()]), None
        report.pipelines.append(entry)
        if dag is not None:
            namespace[f"logidata_dag__{raw.id}"] = dag
        elif entry.status == "error":
            message = f"logidata: pipeline {raw.id} ({raw.location}) skipped: {'; '.join(entry.reasons())}"
            log.error(message)
            warnings.warn(message, PipelineSkippedWarning, stacklevel=2)
    report_refused(fileloc, report.failed, only=only)
    if only is not None:
        return report  # a partial report: the DAG processor's full one stays on disk
    try:
        write_report(report, report_path or settings.report_path())
    except OSError as exc:
        log.warning("logidata: cannot write the factory report: %s", exc)
    return report
