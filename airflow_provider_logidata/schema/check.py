"""A pipeline checked as a data engineer means it: structure, then every node's columns and SQL.

``check_pipeline`` is what ``POST /validate`` (in a preview worker), save-as-active and ``logidata
validate`` call. Structural validation (``spec.validate``) comes first and is never skipped; schema
propagation then runs over every node that parsed, so a draft with one half-configured node still gets
its other columns. Not part of the DAG factory's parse: reading sources and binding SQL belong to design
time, and the parse of 1,000 pipelines stays what it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.schema.model import Column, NodeSchema
from airflow_provider_logidata.spec.errors import SpecIssue

if TYPE_CHECKING:
    from airflow_provider_logidata.modules.registry import ModuleRegistry
    from airflow_provider_logidata.schema.bind import Lazy
    from airflow_provider_logidata.schema.propagate import SourceColumns, TargetCheck
    from airflow_provider_logidata.schema.sources import Reach
    from airflow_provider_logidata.spec.models import Node

# key -> (columns, failure): what a cache already knows about a source.
Known = Mapping[str, tuple[tuple[Column, ...] | None, str | None]]


@dataclass
class CheckResult:
    issues: list[SpecIssue]
    schemas: dict[str, NodeSchema] = field(default_factory=dict)
    # Sources read by this check: key -> (columns, failure), for the caller's cache.
    read: dict[str, tuple[tuple[Column, ...] | None, str | None]] = field(default_factory=dict)
    # Where each node runs ("postgres" or "engine") and, where a pushdown stopped, why.
    engines: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    @property
    def errors(self) -> list[SpecIssue]:
        return [issue for issue in self.issues if issue.severity != "warning"]

    @property
    def warnings(self) -> list[SpecIssue]:
        return [issue for issue in self.issues if issue.severity == "warning"]


def check_pipeline(
    data: Any,
    *,
    reach: Reach = "none",
    known: Known | None = None,
    expected_id: str | None = None,
    lineage: bool = True,
) -> CheckResult:
    from airflow_provider_logidata.modules.registry import registry
    from airflow_provider_logidata.spec.validate import validate_pipeline

    modules = registry()
    result = validate_pipeline(data, registry=modules, expected_id=expected_id)
    issues = list(result.issues)
    if not isinstance(data, dict) or not result.nodes:
        return CheckResult(issues)
    broken = {issue.node_id for issue in issues if issue.node_id and issue.path.startswith("nodes[")}
    configs = {nid: cfg for nid, cfg in result.node_configs.items() if nid not in broken}
    positions = {node.id: index for index, node in enumerate(result.nodes)}
    read: dict[str, tuple[tuple[Column, ...] | None, str | None]] = {}

    from airflow_provider_logidata.schema.bind import Lazy, connect
    from airflow_provider_logidata.schema.propagate import propagate

    with Lazy(connect) as con:
        reader = _source_reader(data, result.nodes, modules, positions, reach, known or {}, read, con)
        checker = _target_checker(known or {}, read, con) if reach == "all" else None
        report = propagate(
            result.nodes, result.edges, configs, modules, reader, con, lineage=lineage, target_check=checker
        )
    for item in report.issues:
        index = positions.get(item.node_id)
        base = f"nodes[{index}]" if index is not None else ""
        path = f"{base}.config.{item.field}" if item.field else base
        issues.append(
            SpecIssue(
                path,
                item.message,
                found=item.found,
                allowed=item.allowed,
                node_id=item.node_id,
                field=item.field,
                severity="warning" if item.severity == "warning" else None,
            )
        )
    engines: dict[str, tuple[str, str | None]] = {}
    if result.pipeline is not None:
        from airflow_provider_logidata.dag_factory.elt_plan import where_nodes_run

        by_node = {node.id: modules[node.module] for node in result.pipeline.nodes}
        engines = where_nodes_run(result.pipeline, by_node, result.configs)
    return CheckResult(issues, report.schemas, read, engines)


def _source_reader(
    data: dict[str, Any],
    nodes: list[Node],
    modules: ModuleRegistry,
    positions: dict[str, int],
    reach: Reach,
    known: Known,
    read: dict[str, tuple[tuple[Column, ...] | None, str | None]],
    con: Lazy,
) -> SourceColumns:
    """The source callback of ``propagate``: render the config as a run would, then the cache, then
    (within ``reach``) the source itself; a failed read is remembered like a successful one."""
    from airflow_provider_logidata.preview.plan import render_node_config
    from airflow_provider_logidata.schema.sources import (
        SourceFailed,
        cache_key,
        column_fields_removed,
        read_columns,
    )

    modules_of = {node.id: node.module for node in nodes}

    def columns_of(node_id: str, config: dict[str, Any]) -> list[Column]:
        module = modules_of[node_id]
        definition = modules[module]
        problems: list[dict[str, Any]] = []
        validated = definition.config_model.model_validate(config)
        rendered = render_node_config(data, definition, validated, node_id, positions[node_id], problems)
        if rendered is None:
            raise SourceFailed("; ".join(p["message"] for p in problems) or "its templates do not render")
        whole = column_fields_removed(module, rendered)
        key = cache_key(module, whole)
        entry = known.get(key) or read.get(key)
        if entry is None:
            try:  # SourceUnread (outside the reach) propagates: nothing to remember
                entry = (tuple(read_columns(module, whole, node_id, con, reach)), None)
            except SourceFailed as error:
                entry = (None, str(error))
            read[key] = entry
        columns, failure = entry
        if columns is None:
            raise SourceFailed(failure or "unknown")
        return list(columns)

    return columns_of


def _target_checker(
    known: Known,
    read: dict[str, tuple[tuple[Column, ...] | None, str | None]],
    con: Lazy,
) -> TargetCheck:
    """Destination tables checked through their connection, the outcome remembered like a source's
    columns (keyed by the config and the columns reaching it). A server that cannot be reached is a
    warning: the table may be there at run time."""
    from airflow_provider_logidata.schema.sources import cache_key
    from airflow_provider_logidata.schema.targets import CHECKED, TargetMismatch, check_target

    def check(node_id: str, module: str, config: dict[str, Any], columns: list[Column]) -> None:
        if module not in CHECKED:
            return
        key = cache_key("target:" + module, {"config": config, "columns": [c.to_dict() for c in columns]})
        entry = known.get(key) or read.get(key)
        if entry is None:
            try:
                check_target(module, config, node_id, columns, con())
                entry = ((), None)
            except TargetMismatch as error:
                entry = (None, str(error))
            read[key] = entry
        if entry[1] is not None:
            raise TargetMismatch(entry[1])

    return check


def check_pipeline_job(data: Any, reach: Reach, known: Known, expected_id: str | None) -> CheckResult:
    """The preview worker's entry point (``schema.service``): the check, with the cache's entries."""
    return check_pipeline(data, reach=reach, known=known, expected_id=expected_id)
