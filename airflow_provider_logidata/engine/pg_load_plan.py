"""What a ``destination.postgres`` load writes where: the target table's columns as PostgreSQL has them,
the PostgreSQL type of each Arrow type, and the plan matching the input's columns to the table's under
``on_schema_change`` (with each column's type rule, ``engine.pg_types``). Shared by ETL and ELT; nothing is
written here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from airflow_provider_logidata.engine import pg_type_info, pg_types
from airflow_provider_logidata.engine.errors import LogiDataTaskError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import psycopg

    from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig

# Arrow type -> the PostgreSQL type holding its values exactly: the type of a new column, and how an ETL
# input is described to the type contract (engine.pg_types) against an existing column.


def pg_type_for(arrow_type: pa.DataType) -> str:
    t = arrow_type
    if pa.types.is_dictionary(t):
        return pg_type_for(t.value_type)
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "integer"
    if pa.types.is_int64(t) or pa.types.is_uint32(t):
        return "bigint"
    if pa.types.is_uint64(t):
        return "numeric(20,0)"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "real"
    if pa.types.is_float64(t):
        return "double precision"
    if pa.types.is_decimal(t):
        return f"numeric({t.precision},{max(t.scale, 0)})"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp with time zone" if t.tz else "timestamp without time zone"
    if pa.types.is_time(t):
        return "time without time zone"
    if pa.types.is_duration(t):
        return "interval"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "bytea"
    if is_nested(t):
        return "jsonb"
    return "text"


def is_nested(t: pa.DataType) -> bool:
    return pa.types.is_nested(t)


@dataclass(frozen=True)
class TargetColumn:
    name: str
    attnum: int
    type_sql: str  # format_type(): quoted and qualified where needed, usable in DDL
    category: str
    typname: str
    not_null: bool
    has_default: bool
    generated: bool
    base_sql: str = ""  # a domain's base type (format_type), else type_sql
    domain: bool = False

    def rule(self, incoming: str) -> pg_types.Rule:
        """How values of the PostgreSQL type ``incoming`` load into this column (``engine.pg_types``)."""
        target = pg_type_info.parse_type(self.base_sql or self.type_sql)
        rule = pg_types.classify(incoming, target, target_category=self.category, domain=self.domain)
        if self.domain:  # loaded as the domain itself: its checks apply (classify never widens a domain)
            convert = rule.convert.removesuffix(f"AS {target.sql})") + f"AS {self.type_sql})"
            return dataclasses.replace(rule, convert=convert)
        return rule


@dataclass
class LoadPlan:
    """What to load: input column -> table column, and what to change in the table first."""

    columns: list[tuple[str, str, str]]  # (input name, table column name, staging type sql)
    add: list[tuple[str, str]] = field(default_factory=list)  # new table columns (name, type sql)
    dropped: list[str] = field(default_factory=list)  # input columns not loaded (discard)
    # Existing table column -> its type rule (engine.pg_types); other columns load with a plain CAST.
    rules: dict[str, pg_types.Rule] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)  # columns whose values must be checked in SQL
    direct: bool = True  # ETL may COPY the Arrow values straight into the table (pg_contract.prepare)

    def convert_sql(self, input_name: str, column: str, type_sql: str, value: str) -> str:
        """SQL turning ``value`` (the input column, in its own type) into the table column's type."""
        rule = self.rules.get(column)
        return rule.convert_sql(value) if rule is not None else f"CAST({value} AS {type_sql})"


def find_target(
    con: psycopg.Connection[Any], schema: str, table: str
) -> tuple[int, str, list[TargetColumn]] | None:
    row = con.execute(
        "SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, table),
    ).fetchone()
    if row is None:
        return None
    oid, relkind = int(row[0]), str(row[1])
    columns = [
        TargetColumn(
            name=r[0],
            attnum=int(r[1]),
            type_sql=r[2],
            category=r[3],
            typname=r[4],
            not_null=bool(r[5]),
            has_default=bool(r[6]),
            generated=bool(r[7]),
            base_sql=r[8],
            domain=bool(r[9]),
        )
        for r in con.execute(
            "SELECT a.attname, a.attnum, format_type(a.atttypid, a.atttypmod), t.typcategory, "
            "COALESCE(bt.typname, t.typname), a.attnotnull, "
            "a.atthasdef OR a.attidentity <> '', a.attgenerated <> '', "
            "CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) "
            "ELSE format_type(a.atttypid, a.atttypmod) END, t.typtype = 'd' "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype "
            "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (oid,),
        )
    ]
    return oid, relkind, columns


def unique_key_index(
    con: psycopg.Connection[Any], oid: int, columns: list[TargetColumn], keys: list[str]
) -> bool:
    """Whether a unique, non-partial, immediate index covers exactly ``keys`` (ON CONFLICT can use it)."""
    names = {c.attnum: c.name for c in columns}
    for indkey, nkeys in con.execute(
        "SELECT i.indkey::int2[], i.indnkeyatts FROM pg_index i WHERE i.indrelid = %s AND i.indisunique "
        "AND i.indisvalid AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL",
        (oid,),
    ):
        attnums = list(indkey)[: int(nkeys)]
        if 0 not in attnums and {names.get(n) for n in attnums} == set(keys):
            return True
    return False


def _match(name: str, table_columns: dict[str, TargetColumn]) -> TargetColumn | None:
    if name in table_columns:
        return table_columns[name]
    folded = [c for n, c in table_columns.items() if n.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def plan_load(
    config: PostgresDestinationConfig,
    schema: pa.Schema,
    existing: list[TargetColumn] | None,
    *,
    owner: str,
    target: str,
    incoming: Mapping[str, str] | None = None,
) -> LoadPlan:
    """Match the input's columns to the table's and apply ``on_schema_change``.

    ``incoming``: each input column's PostgreSQL type (ELT: the pushed-down SELECT's); by default the type
    ``pg_type_for`` gives its Arrow type. Each matched column gets its type rule (``engine.pg_types``): a
    change of category (text into a number, ...) is a changed type for 'fail' here; values that could
    change are checked later, by ``pg_contract.enforce``.
    """
    if existing is None:  # a new table: every input column, typed from Arrow
        return LoadPlan(columns=[(f.name, f.name, pg_type_for(f.type)) for f in schema])
    by_name = {c.name: c for c in existing}
    plan = LoadPlan(columns=[])
    added: list[str] = []
    changed: list[str] = []
    matched: set[str] = set()
    for f in schema:
        column = _match(f.name, by_name)
        if column is None:
            added.append(f"{f.name} ({pg_type_for(f.type)})")
            if config.on_schema_change == "evolve":
                plan.add.append((f.name, pg_type_for(f.type)))
                plan.columns.append((f.name, f.name, pg_type_for(f.type)))
            elif config.on_schema_change == "discard":
                plan.dropped.append(f.name)
            continue
        matched.add(column.name)
        if column.generated:
            raise LogiDataTaskError(
                f"{owner}: column {column.name!r} of {target} is generated by PostgreSQL and cannot be "
                "written; drop it from the input (select_columns)"
            )
        rule = column.rule(incoming[f.name] if incoming is not None else pg_type_for(f.type))
        if rule.kind == "category":
            changed.append(f"{column.name} (input {f.type}, table {column.type_sql})")
        plan.rules[column.name] = rule
        plan.columns.append((f.name, column.name, column.type_sql))
    missing = [c for c in existing if c.name not in matched and not c.generated]
    if config.on_schema_change == "fail" and (added or changed or missing):
        parts = []
        if added:
            parts.append(f"added (in the input, not in the table): {', '.join(added)}")
        if missing:
            parts.append(
                "missing (in the table, not in the input): "
                + ", ".join(f"{c.name} ({c.type_sql})" for c in missing)
            )
        if changed:
            parts.append(f"changed type: {', '.join(changed)}")
        raise LogiDataTaskError(
            f"{owner}: the input's columns differ from {target} and on_schema_change is 'fail': "
            f"{'; '.join(parts)}. Change the pipeline or the table to match, or set on_schema_change to "
            f"'evolve' (add new columns) or 'discard' (load only the table's columns). {target} is unchanged."
        )
    required = [c.name for c in missing if c.not_null and not c.has_default]
    if required:
        raise LogiDataTaskError(
            f"{owner}: column(s) {', '.join(map(repr, required))} of {target} are NOT NULL without a default "
            f"but not in the input; add them to the input, or give them a default. {target} is unchanged."
        )
    if not plan.columns:
        raise LogiDataTaskError(
            f"{owner}: none of the input's columns ({', '.join(schema.names)}) is in {target}; check the "
            f"table name or set on_schema_change to 'evolve'. {target} is unchanged."
        )
    return plan
