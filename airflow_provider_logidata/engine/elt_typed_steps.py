"""The PostgreSQL (ELT) builders typed by the ETL engine: aggregate, derive_column and map_values.

These produce types by DuckDB's rules (a sum of DECIMAL(6,2) is DECIMAL(38,2), a mapping's result type
comes from its targets). Rather than re-deriving those rules, the step's DuckDB builder is run over an empty
input of the same Arrow types (no rows, so only its checks and binding run; ``duck_types``) and the
PostgreSQL SELECT is cast to the types it reports (``cast_to``): the table ETL would create, and DuckDB's
own messages for a config it rejects. Importing this module registers them
(``engine.elt_context.register_step``).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_logidata.engine.elt_context import (
    Columns,
    EltContext,
    arrow_schema,
    base_type,
    case_collation,
    check_pushed,
    collated,
    describe,
    is_text,
    register_step,
)
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.pg_load_plan import pg_type_for
from airflow_provider_logidata.engine.sql import quote_ident, quote_literal
from airflow_provider_logidata.modules.catalog import (
    AggregateConfig,
    DeriveColumnConfig,
    MapValuesConfig,
)


def duck_types(ctx: EltContext) -> Columns:
    """Output (name, PostgreSQL type) of the step as the ETL engine's DuckDB builder types it."""
    import airflow_provider_logidata.engine.catalog  # noqa: F401  (registers the catalog builders)
    from airflow_provider_logidata.engine import duck
    from airflow_provider_logidata.engine.transforms import TRANSFORMS, TransformContext

    schema = arrow_schema(ctx.inputs)
    with duck.connect() as con:
        con.register("logidata_empty_input", schema.empty_table())
        con.execute("CREATE VIEW input_0 AS SELECT * FROM logidata_empty_input")
        duck_ctx = TransformContext(
            con=con, module=ctx.module, node_id=ctx.node_id, config=ctx.config, log=_Quiet()
        )
        select = TRANSFORMS[ctx.module](duck_ctx, "input_0", duck.describe(con, "input_0"))
        result = con.execute(f"SELECT * FROM ({select}) AS q LIMIT 0")
        table = result.to_arrow_table() if result is not None else None
        assert table is not None
        output = table.schema
    return [(f.name, pg_type_for(f.type)) for f in output]


class _Quiet:
    """Drops the DuckDB builder's messages: the PostgreSQL builder logs its own."""

    def info(self, msg: str, /) -> None:
        return None

    def warning(self, msg: str, /) -> None:
        return None


def cast_to(ctx: EltContext, select: str, types: Columns) -> str:
    """``select`` with every output column cast to ``types`` (same names, same order)."""
    produced = [c.name for c in describe(ctx.con, select, owner=ctx.owner)]
    if produced != [name for name, _ in types]:
        raise ctx.error(
            f"the PostgreSQL step gives columns {produced}, the ETL engine {[n for n, _ in types]}; set the "
            "pipeline's engine to 'etl' and report this"
        )
    items = ", ".join(f"CAST(q.{quote_ident(n)} AS {t}) AS {quote_ident(n)}" for n, t in types)
    return f"SELECT {items} FROM ({select}) AS q"


@register_step("aggregate")
def build_aggregate(ctx: EltContext, relation: str, columns: Columns) -> str:
    """GROUP BY the keys, sorted by them (text by code point, nulls last), as the DuckDB builder."""
    config = ctx.config
    assert isinstance(config, AggregateConfig)
    types = duck_types(ctx)
    keys = [ctx.column(name, columns)[0] for name in config.group_by]
    items = [quote_ident(key) for key in keys]
    for aggregation in config.aggregations:
        if aggregation.column is None:
            expression = "count(*)"
        else:
            name, pg_type = ctx.column(aggregation.column, columns)
            column = quote_ident(name)
            function = aggregation.function
            boolean = base_type(pg_type) == "boolean"
            if boolean and function in ("sum", "avg"):
                column = f"CAST({column} AS integer)"
            if function == "count":
                expression = f"count({column})"
            elif function == "count_distinct":
                expression = f"count(DISTINCT {column})"
            elif function in ("min", "max") and boolean:
                expression = f"{'bool_and' if function == 'min' else 'bool_or'}({column})"
            elif function in ("min", "max"):
                expression = f"{function}({collated(column, pg_type)})"
            else:
                expression = f"{function}({column})"
        items.append(f"{expression} AS {quote_ident(aggregation.output)}")
    select = f"SELECT {', '.join(items)} FROM {relation} AS s"
    if keys:
        group = ", ".join(quote_ident(key) for key in keys)
        order = ", ".join(f"{collated(quote_ident(key), dict(columns)[key])} ASC NULLS LAST" for key in keys)
        select += f" GROUP BY {group} ORDER BY {order}"
    return cast_to(ctx, select, types)


def _to_postgres(ctx: EltContext, expression: str, what: str) -> str:
    """DuckDB SQL as PostgreSQL SQL; lower/upper get the ICU collation (Unicode case, as DuckDB)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(expression, read="duckdb")
        collation = case_collation(ctx.con)
        if collation:
            icu = exp.Identifier(this="und-x-icu", quoted=True)
            for node in list(tree.find_all(exp.Lower, exp.Upper)):
                node.set("this", exp.Collate(this=node.this, expression=icu.copy()))
        return tree.sql(dialect="postgres")
    except SqlglotError as error:
        raise ctx.error(
            f"cannot translate {what} to PostgreSQL: {error}; set the pipeline's engine to 'etl'"
        ) from None


@register_step("derive_column")
def build_derive_column(ctx: EltContext, relation: str, columns: Columns) -> str:
    """Each expression (checked as the ETL engine checks it) translated to PostgreSQL by sqlglot."""
    from airflow_provider_logidata.engine.catalog import find_column
    from airflow_provider_logidata.engine.conditions import validate_expression

    config = ctx.config
    assert isinstance(config, DeriveColumnConfig)
    types = duck_types(ctx)
    current, current_columns = relation, list(columns)
    select = f"SELECT * FROM {relation} AS s"
    for derived in config.columns:
        checked = validate_expression(
            derived.expression,
            current_columns,
            owner=f"{ctx.owner}, column {derived.name!r}",
            fix="write one SQL expression over the input columns, e.g. price * quantity",
            aggregates=False,
        )
        what = f"the expression of column {derived.name!r} ({derived.expression!r})"
        expression = _to_postgres(ctx, checked, what)
        check_pushed(ctx, expression, what)
        existing = find_column(derived.name, current_columns, owner=ctx.owner)
        if existing is None:
            items = f"s.*, ({expression}) AS {quote_ident(derived.name)}"
        else:
            items = ", ".join(
                f"({expression}) AS {quote_ident(derived.name)}" if name == existing[0] else quote_ident(name)
                for name, _ in current_columns
            )
        select = f"SELECT {items} FROM {current} AS s"
        try:
            current_columns = [(c.name, c.type_sql) for c in describe(ctx.con, select, owner=ctx.owner)]
        except LogiDataTaskError as error:
            raise ctx.error(
                f"PostgreSQL rejects {what} (as {expression!r}): {str(error).split(': ', 2)[-1]}; fix the "
                "expression, or set the pipeline's engine to 'etl'"
            ) from None
        current = f"({select})"
    return cast_to(ctx, select, types)


# Up to this many entries a mapping is a CASE; larger ones are one jsonb lookup per row (a CASE is
# evaluated entry by entry, a jsonb object is searched by key).
CASE_MAPPING_LIMIT = 64


def _json_lookup(
    ctx: EltContext,
    keys: list[str],
    targets: list[Any],
    column: str,
    pg_type: str,
    result: str,
    otherwise: str,
) -> str:
    """The mapping as a jsonb object keyed by each typed key's text (``'01'`` of a number is ``1``).

    Keys equal once typed keep their first entry, as in a CASE; the column's value is looked up by its
    text, which PostgreSQL writes the same way for equal values of one type.
    """
    import json

    from airflow_provider_logidata.engine.catalog import value_text

    texts = [str(text) for (text,) in ctx.rows(f"SELECT CAST(unnest(ARRAY[{', '.join(keys)}]) AS text)")]
    mapping: dict[str, str | None] = {}
    for text, target in zip(texts, targets, strict=True):
        mapping.setdefault(text, None if target is None else value_text(target))
    found = f"CAST({quote_literal(json.dumps(mapping, ensure_ascii=False))} AS jsonb)"
    key = f"CAST({column} AS text)"
    return f"CASE WHEN {found} ? {key} THEN CAST({found} ->> {key} AS {result}) ELSE {otherwise} END"


@register_step("map_values")
def build_map_values(ctx: EltContext, relation: str, columns: Columns) -> str:
    """A CASE over the mapping, keys read in the column's type, results in the ETL engine's type."""
    from airflow_provider_logidata.engine.catalog import find_column, value_text

    config = ctx.config
    assert isinstance(config, MapValuesConfig)
    types = duck_types(ctx)  # also DuckDB's checks of the keys and targets, with its messages
    name, pg_type = ctx.column(config.column, columns)
    column = quote_ident(name)
    output = config.target_column or name
    result = next(t for n, t in types if n.lower() == output.lower())
    texts = [value_text(key) for key in config.mapping]
    if is_text(pg_type):
        keys = [quote_literal(text) for text in texts]
    else:
        keys = [f"CAST({quote_literal(text)} AS {pg_type})" for text in texts]

    def literal(value: Any) -> str:
        if value is None:
            return f"CAST(NULL AS {result})"
        return f"CAST({quote_literal(value_text(value))} AS {result})"

    if config.default == "keep":
        otherwise = f"CAST({column} AS {result})"
    elif config.default == "null":
        otherwise = f"CAST(NULL AS {result})"
    else:
        otherwise = literal(config.default_value)
    if len(keys) <= CASE_MAPPING_LIMIT:
        whens = " ".join(
            f"WHEN {key} THEN {literal(target)}"
            for key, target in zip(keys, config.mapping.values(), strict=True)
        )
        expression = f"CASE {column} {whens} ELSE {otherwise} END"
    else:
        targets = list(config.mapping.values())
        expression = _json_lookup(ctx, keys, targets, column, pg_type, result, otherwise)
    target = (
        find_column(config.target_column, columns, owner=ctx.owner)
        if config.target_column
        else (name, pg_type)
    )
    if target is None:
        select = f"SELECT s.*, {expression} AS {quote_ident(output)} FROM {relation} AS s"
    else:
        items = ", ".join(
            f"{expression} AS {quote_ident(n)}" if n == target[0] else quote_ident(n) for n, _ in columns
        )
        select = f"SELECT {items} FROM {relation} AS s"
    return cast_to(ctx, select, types)
