"""destination.postgres: load into a PostgreSQL table through an Airflow ``postgres`` connection.

The connection holds host, port, database (its ``schema`` field), login and password; the node's config
holds only where and how to write. One transaction prepares the table, streams the staged batches into
``COPY ... FROM STDIN`` and applies them (append, replace by table swap, or merge): ``engine.pg_load_plan``,
``engine.pg_target``, ``engine.pg_finalize`` and ``engine.pg_load`` (``pg_target`` and ``pg_finalize`` are
shared with ELT, ``engine.elt``); ``engine.pg_types`` and ``engine.pg_contract`` hold the type contract
between an input and an existing table, ``engine.pg_checks`` the connection role's checks. The engine is
imported when a task writes, never when the DAG processor reads this file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig, PostgresConnId
from airflow_provider_logidata.modules.pg_relation import check_relation
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.engine.staging import StagingHandle


class PostgresDestinationConfig(ModuleConfig):
    """Load into a PostgreSQL table in one transaction: append, replace or merge on keys."""

    model_config = ConfigDict(serialize_by_alias=True)

    conn_id: PostgresConnId
    table: str = Field(min_length=1, max_length=63, description="Target table (exact name, case-sensitive).")
    schema_name: str = Field(
        "public", alias="schema", min_length=1, max_length=63, description="Schema of the target table."
    )
    mode: Literal["append", "replace", "merge"] = Field(
        "append",
        description="append: add the rows. replace: the table holds exactly the new rows. merge: update rows "
        "whose keys exist, insert the others (incoming duplicates on keys: the last one wins).",
    )
    keys: list[ColumnName] | None = Field(
        None, description="merge: the columns identifying a row (a unique index on them makes merge fast)."
    )
    on_schema_change: Literal["evolve", "fail", "discard"] = Field(
        "evolve",
        description="When the input's columns differ from the table's. evolve: add new columns to the "
        "table. fail: stop with the differences. discard: load only the table's columns. Table columns "
        "missing from the input get their default (null) in every mode but fail.",
    )
    create_table: bool = Field(
        True,
        description="Create the table (and schema) from the input's columns when it does not exist; with "
        "merge it gets a primary key on keys.",
    )

    @model_validator(mode="after")
    def _keys_for_merge(self) -> PostgresDestinationConfig:
        check_relation(self.table, self.schema_name, write=True)
        if self.mode == "merge":
            if not self.keys:
                raise ValueError("mode 'merge' needs keys: the columns identifying a row, e.g. ['id']")
            duplicates = sorted({name for name in self.keys if self.keys.count(name) > 1})
            if duplicates:
                raise ValueError(f"keys lists {', '.join(map(repr, duplicates))} more than once")
        elif self.keys is not None:
            raise ValueError(
                f"keys apply to mode 'merge' only; remove them or set mode to 'merge' (not {self.mode!r})"
            )
        return self


def write(
    config: ModuleConfig, node_id: str, handles: Sequence[StagingHandle], log: TaskLog
) -> dict[str, Any]:
    from airflow_provider_logidata.engine.pg_load import run_postgres_destination

    return run_postgres_destination(config, node_id, handles, log)


MODULE = ModuleDef(
    name="destination.postgres",
    category="destination",
    label="PostgreSQL",
    description="Load into a PostgreSQL table in one transaction: append, replace or merge on keys.",
    config_model=PostgresDestinationConfig,
    operator="airflow_provider_logidata.operators.postgres.PostgresDestinationOperator",
    min_inputs=1,
    max_inputs=1,
    outputs=(),
    icon="database",
    duckdb=write,
)
