"""Every node's output columns, computed upstream first without reading data, and what is wrong.

Pure orchestration over three small steps: a source's columns (``sources``, through a callback so the
API can cache them and the CLI can choose its reach), the column fields of each config checked against
the input columns (``fields``, with the closest names), and the node's own SQL bound on empty inputs
(``bind``). A node whose columns cannot be known (a python node, a source not read) marks everything
downstream unknown with one warning at its origin; a node in error stops checks downstream, so one
mistake gives one error, not a cascade.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.schema.fields import (
    SQL,
    column_fields,
    config_schema,
    find_column,
    unknown_column_message,
    widget_fields,
)
from airflow_provider_logidata.schema.model import (
    Column,
    ColumnOrigin,
    NodeSchema,
    SchemaIssue,
    Severity,
    fields_path,
)

if TYPE_CHECKING:
    import duckdb
    from pydantic import BaseModel

    from airflow_provider_logidata.modules.registry import ModuleDef, ModuleRegistry
    from airflow_provider_logidata.spec.models import Edge, Node

log = logging.getLogger("airflow_provider_logidata.schema")

# (node id, validated config as JSON by alias) -> the source's columns before any column selection,
# raising SourceUnread (not read: a warning-free "unknown") or SourceFailed (a warning with the reason).
SourceColumns = Callable[[str, dict[str, Any]], list[Column]]
# (node id, module, config as JSON, input columns) -> None, raising TargetMismatch: the load's refusal.
TargetCheck = Callable[[str, str, dict[str, Any], list[Column]], None]


@dataclass
class SchemaReport:
    schemas: dict[str, NodeSchema] = field(default_factory=dict)
    issues: list[SchemaIssue] = field(default_factory=list)

    @property
    def errors(self) -> list[SchemaIssue]:
        return [i for i in self.issues if i.severity == "error"]


def propagate(
    nodes: Sequence[Node],
    edges: Sequence[Edge],
    configs: dict[str, BaseModel],
    registry: ModuleRegistry,
    source_columns: SourceColumns,
    con: Callable[[], duckdb.DuckDBPyConnection],
    *,
    lineage: bool = True,
    target_check: TargetCheck | None = None,
) -> SchemaReport:
    from airflow_provider_logidata.schema.sources import SourceFailed, SourceUnread

    report = SchemaReport()
    incoming: dict[str, list[Any]] = {node.id: [] for node in nodes}
    for edge in edges:
        incoming.setdefault(edge.target, []).append(edge)
    for node in _topological(nodes, edges):
        definition = registry.get(node.module)
        config = configs.get(node.id)
        if definition is None or config is None:
            report.schemas[node.id] = NodeSchema(node.id, "error", reason="the node's config is not valid")
            continue
        data = config.model_dump(mode="json", by_alias=True)
        if definition.category == "source":
            try:
                raw = source_columns(node.id, data)
            except SourceUnread as why:
                report.schemas[node.id] = NodeSchema(node.id, "unknown", reason=str(why))
                continue
            except SourceFailed as why:
                reason = f"cannot read the source's columns: {why}"
                report.schemas[node.id] = NodeSchema(node.id, "unknown", reason=reason)
                report.issues.append(
                    SchemaIssue(node.id, reason + "; nodes after it are not checked", severity="warning")
                )
                continue
            _source_node(report, node.id, definition, data, raw)
            continue
        inputs = []
        for edge in incoming.get(node.id, []):
            upstream = report.schemas.get(edge.source)
            columns = upstream.columns(edge.source_port) if upstream else None
            if columns is None:
                break
            inputs.append((edge.source, edge.source_port, edge.target_port, columns))
        else:
            if definition.category == "destination":
                _destination_node(report, node.id, definition, data, inputs, target_check)
            else:
                _transform_node(report, node.id, definition, config, data, inputs, con, lineage)
            continue
        report.schemas[node.id] = NodeSchema(
            node.id, "unknown", reason="the columns of an input are not known"
        )
    return report


def _topological(nodes: Sequence[Node], edges: Sequence[Edge]) -> list[Node]:
    """Upstream first; nodes on a cycle (already an error) are left out."""
    order: list[Node] = []
    by_id = {node.id: node for node in nodes}
    pending = dict.fromkeys(by_id, 0)
    children: dict[str, list[str]] = {node_id: [] for node_id in by_id}
    for edge in edges:
        if edge.source in pending and edge.target in pending:
            pending[edge.target] += 1
            children[edge.source].append(edge.target)
    ready = [node_id for node_id in by_id if pending[node_id] == 0]
    while ready:
        current = ready.pop(0)
        order.append(by_id[current])
        for child in children[current]:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    return order


def _check_fields(
    report: SchemaReport,
    node_id: str,
    definition: ModuleDef,
    data: dict[str, Any],
    by_port: dict[str | None, list[str]],
    where: str = "the input",
) -> bool:
    """Column fields against the input columns; ``False`` when one names a column that is not there."""
    schema = config_schema(definition)
    everything = [name for names in by_port.values() for name in names]
    ok = True
    for ref in column_fields(schema, data):
        if ref.port is not None and ref.port in by_port:
            available, place = by_port[ref.port], f"the {ref.port} input"
            if find_column(ref.value, available) is None:
                ok = False
                report.issues.append(_unknown(node_id, ref.path, ref.value, available, place))
            continue
        missing_on = [port for port, names in by_port.items() if find_column(ref.value, names) is None]
        if not missing_on:
            continue
        ok = False
        if len(by_port) > 1 and len(missing_on) < len(by_port):
            port = missing_on[0]
            report.issues.append(
                _unknown(node_id, ref.path, ref.value, by_port[port], f"the {port or 'other'} input")
            )
        else:
            report.issues.append(_unknown(node_id, ref.path, ref.value, everything, where))
    return ok


def _unknown(
    node_id: str, path: tuple[str | int, ...], name: str, available: list[str], where: str
) -> SchemaIssue:
    return SchemaIssue(
        node_id,
        unknown_column_message(name, available, where),
        field=fields_path(path),
        found=repr(name),
        allowed=", ".join(available[:50]),
    )


def _source_node(
    report: SchemaReport, node_id: str, definition: ModuleDef, data: dict[str, Any], raw: list[Column]
) -> None:
    names = [c.name for c in raw]
    if not _check_fields(report, node_id, definition, data, {None: names}, "the source"):
        # Every column the source has, so the picker of the field at fault can offer the right one.
        reason = "a field names a column the source lacks"
        report.schemas[node_id] = NodeSchema(node_id, "error", ports={"out": raw}, reason=reason)
        return
    selected = data.get("columns")
    columns = raw
    if isinstance(selected, list) and selected:
        by_name = {c.name.lower(): c for c in raw}
        columns = [by_name[name.lower()] for name in selected if name.lower() in by_name]
    report.schemas[node_id] = NodeSchema(node_id, "known", ports={"out": columns})


def _destination_node(
    report: SchemaReport,
    node_id: str,
    definition: ModuleDef,
    data: dict[str, Any],
    inputs: list[Any],
    target_check: TargetCheck | None,
) -> None:
    from airflow_provider_logidata.schema.targets import TargetMismatch

    columns = inputs[0][3] if inputs else []
    if not _check_fields(report, node_id, definition, data, {None: [c.name for c in columns]}):
        report.schemas[node_id] = NodeSchema(
            node_id, "error", reason="a field names a column the input lacks"
        )
        return
    if target_check is not None:
        try:
            target_check(node_id, definition.name, data, columns)
        except TargetMismatch as error:
            severity: Severity = "warning" if error.unreachable else "error"
            report.issues.append(
                SchemaIssue(node_id, str(error), field=_target_field(str(error)), severity=severity)
            )
            if not error.unreachable:
                report.schemas[node_id] = NodeSchema(node_id, "error", reason=str(error))
                return
    report.schemas[node_id] = NodeSchema(node_id, "known", ports={"out": columns})


def _target_field(message: str) -> str | None:
    """The field a load's refusal is about, so the form can show it there."""
    if "merge key" in message:
        return "keys"
    if "create_table" in message:
        return "table"
    if "on_schema_change" in message:
        return "on_schema_change"
    return None


def _transform_node(
    report: SchemaReport,
    node_id: str,
    definition: ModuleDef,
    config: BaseModel,
    data: dict[str, Any],
    inputs: list[Any],
    con: Callable[[], duckdb.DuckDBPyConnection],
    lineage: bool,
) -> None:
    if definition.self_materialised or definition.duckdb is None:
        reason = (
            f"the output columns of a {definition.name} node are only known when it runs; "
            "the nodes after it are checked at run time"
        )
        report.schemas[node_id] = NodeSchema(node_id, "unknown", reason=reason)
        report.issues.append(SchemaIssue(node_id, reason, severity="warning"))
        return
    by_port: dict[str | None, list[str]] = {}
    for _src, _port, target, columns in inputs:
        by_port.setdefault(target, []).extend(c.name for c in columns)
    if not _check_fields(report, node_id, definition, data, by_port):
        report.schemas[node_id] = NodeSchema(
            node_id, "error", reason="a field names a column that does not exist"
        )
        return
    key = _bind_key(definition.name, node_id, data, inputs, lineage)
    cached = _BOUND.get(key)
    if cached is None:
        cached = _bind(node_id, definition, config, data, inputs, con, lineage)
        _BOUND[key] = cached
        while len(_BOUND) > _BOUND_ENTRIES:
            _BOUND.pop(next(iter(_BOUND)))
    schema, issues = cached
    report.schemas[node_id] = copy.deepcopy(schema)
    report.issues.extend(issues)


# A node binds the same way for the same config and input columns: the builder validates on every edit,
# and an edit changes one node, so only it and the nodes after it bind again (per process, bounded).
_BOUND: dict[str, tuple[NodeSchema, list[SchemaIssue]]] = {}
_BOUND_ENTRIES = 4096


def _bind_key(module: str, node_id: str, data: dict[str, Any], inputs: list[Any], lineage: bool) -> str:
    import hashlib
    import json

    shape = [(src, port, target, [(c.name, c.type) for c in cols]) for src, port, target, cols in inputs]
    text = json.dumps([module, node_id, data, shape, lineage], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _bind(
    node_id: str,
    definition: ModuleDef,
    config: BaseModel,
    data: dict[str, Any],
    inputs: list[Any],
    con: Callable[[], duckdb.DuckDBPyConnection],
    lineage: bool,
) -> tuple[NodeSchema, list[SchemaIssue]]:
    from airflow_provider_logidata.schema.bind import BindError, Notes, bind_transform, strip_owner

    try:
        notes = Notes()
        bound = bind_transform(con(), definition, node_id, config, inputs, notes)
    except BindError as error:
        field = _error_field(definition, data, str(error))
        return NodeSchema(node_id, "error", reason=str(error)), [
            SchemaIssue(node_id, str(error), field=field)
        ]
    issues = [
        SchemaIssue(node_id, strip_owner(note, f"{definition.name} node {node_id!r}"), severity="warning")
        for note in notes.warnings
    ]
    schema = NodeSchema(node_id, "known")
    for port, (sql, columns, relations) in bound.items():
        schema.ports[port] = columns
        schema.sql[port] = sql
        if lineage:
            schema.lineage[port] = _lineage(sql, relations, columns, inputs, notes.created)
    return schema, issues


def _lineage(
    sql: str, relations: dict[str, list[Column]], columns: list[Column], inputs: list[Any], created: list[str]
) -> dict[str, list[ColumnOrigin]]:
    """Each output column's upstream columns (``schema.lineage`` on the node's own SQL), named by the
    upstream node and port instead of the binder's relation names."""
    from airflow_provider_logidata.schema.lineage import column_lineage, temp_views

    upstream = {f"input_{index}": (src, port) for index, (src, port, _t, _c) in enumerate(inputs)}
    named = {name: [c.name for c in cols] for name, cols in relations.items()}
    try:
        found = column_lineage(sql, named, [c.name for c in columns], views=temp_views(created))
    except Exception:  # lineage is a help, never a validation failure
        log.debug("lineage failed for %s", sql, exc_info=True)
        return {}
    out: dict[str, list[ColumnOrigin]] = {}
    for name, origins in found.columns.items():
        out[name] = [
            ColumnOrigin(*upstream[origin.relation], origin.column, origin.kind)
            for origin in origins
            if origin.relation in upstream
        ]
    return out


def _error_field(definition: ModuleDef, data: dict[str, Any], message: str) -> str | None:
    """The config field an engine error is about: the only SQL field set, else the SQL text it quotes,
    else the one column field whose column it quotes (``cannot sum 'customer' (VARCHAR)``)."""
    schema = config_schema(definition)
    fields = list(widget_fields(schema, data, SQL))
    if len(fields) == 1:
        return fields_path(fields[0].path)
    for item in fields:
        if item.value and item.value in message:
            return fields_path(item.path)
    quoted = [item for item in column_fields(schema, data) if repr(item.value) in message]
    if len({item.path for item in quoted}) == 1:
        return fields_path(quoted[0].path)
    return None
