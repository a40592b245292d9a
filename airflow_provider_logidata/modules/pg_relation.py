"""The rule on a table a ``source.postgres`` or ``destination.postgres`` node names directly.

Shared by both modules' configs (not a module file: discovery only scans ``modules/<kind>/``).
"""

from __future__ import annotations

# Schemas of the server's own catalogs: never a pipeline's destination.
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


def check_relation(table: str | None, schema: str | None, *, write: bool) -> None:
    """A table a node names directly: not a catalog holding credentials, and no write into a system
    schema (``security.pg_sql``: a superuser connection could otherwise read password hashes or rewrite
    the catalogs)."""
    from airflow_provider_logidata.security.errors import PolicyError
    from airflow_provider_logidata.security.pg_functions import DENIED_RELATIONS

    if table is not None and table.lower() in DENIED_RELATIONS:
        raise PolicyError(
            f"table {table!r} {DENIED_RELATIONS[table.lower()]}; read and write your own tables",
            rule="pg-relation",
        )
    if (
        write
        and schema is not None
        and (schema.lower() in SYSTEM_SCHEMAS or schema.lower().startswith("pg_"))
    ):
        raise PolicyError(
            f"schema {schema!r} holds the database's own catalogs; write to a schema of your own",
            rule="pg-relation",
        )
