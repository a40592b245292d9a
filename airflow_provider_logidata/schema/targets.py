"""A destination table checked against the columns that will reach it, with the load's own rules.

``destination.postgres`` matches input columns to an existing table under ``on_schema_change``
(``engine.pg_load_plan.plan_load``): a column added, missing or of another kind fails a ``fail`` load, a
NOT NULL column without a default that the input lacks fails any load, a merge key must be loaded. The
check runs that same function on the table's catalog entry (read-only, no row read) and the propagated
input columns, so design time refuses exactly what the load would. Values (a text too long, a number
out of range) are the run's to check: no data is read here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from airflow_provider_logidata.schema.model import Column

CHECKED = frozenset({"destination.postgres"})


class TargetMismatch(Exception):
    """The load would refuse these columns; the message is the load's, node prefix off. ``unreachable``:
    the table could not be looked at (server down, no such connection): a warning, not an error."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def check_target(
    module: str, config: dict[str, Any], node_id: str, columns: list[Column], con: duckdb.DuckDBPyConnection
) -> None:
    if module not in CHECKED:
        return
    from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
    from airflow_provider_logidata.engine.pg_connect import connect
    from airflow_provider_logidata.engine.pg_load_plan import find_target, plan_load
    from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig
    from airflow_provider_logidata.modules.registry import registry
    from airflow_provider_logidata.schema.bind import quote
    from airflow_provider_logidata.security.policy import check_config

    definition = registry()[module]
    validated = PostgresDestinationConfig.model_validate(config)
    violations = check_config(definition.category, validated, stage="run")
    if violations:
        details = "; ".join(f"{item.path}: {item.message}" for item in violations)
        raise TargetMismatch(f"refused by the security policy: {details}", unreachable=True)
    owner = node_label(module, node_id)
    schema_name = validated.schema_name or "public"
    target = f"{schema_name}.{validated.table}"
    cursor = con.cursor()
    try:  # the input's Arrow schema, exactly as staged rows would carry it
        body = ", ".join(f"CAST(NULL AS {c.type}) AS {quote(c.name)}" for c in columns)
        arrow_schema = cursor.sql(f"SELECT {body} LIMIT 0").to_arrow_table().schema
    finally:
        cursor.close()
    try:
        with connect(validated.conn_id, owner=owner, node_id=node_id) as pg:
            found = find_target(pg, schema_name, validated.table)
    except Exception as error:  # the run reports an unreachable server; here it only stops the check
        text = str(error).removeprefix(owner).removeprefix(":").strip()
        raise TargetMismatch(f"cannot look at table {target}: {text}", unreachable=True) from None
    try:
        if found is None:
            if not validated.create_table:
                raise TargetMismatch(
                    f"table {target} does not exist and create_table is false; create the table, fix "
                    "table/schema, or set create_table to true"
                )
            missing = [k for k in validated.keys or [] if k not in arrow_schema.names]
            if missing:
                raise TargetMismatch(f"merge key(s) {', '.join(map(repr, missing))} are not input columns")
            return
        _oid, relkind, existing = found
        if relkind not in ("r", "p"):
            raise TargetMismatch(f"{target} is not a table (a view or another relation); load into a table")
        plan_load(validated, arrow_schema, existing, owner=owner, target=target)
    except LogiDataTaskError as error:
        raise TargetMismatch(str(error).removeprefix(owner).removeprefix(":").strip()) from None
