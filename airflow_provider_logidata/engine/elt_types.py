"""What the ELT builders typed by the ETL engine share (aggregate, derive_column, map_values, union).

These produce types by DuckDB's rules (a sum of DECIMAL(6,2) is DECIMAL(38,2), a mapping's result type
comes from its targets). Rather than re-deriving those rules, the step's DuckDB builder is run over an empty
input of the same Arrow types (no rows, so only its checks and binding run; ``duck_types``) and the
database's SELECT is cast to the types it reports (``cast_to``): the table ETL would create, and DuckDB's
own messages for a config it rejects. The builders live in their modules' files (``modules/transforms/``).
"""

from __future__ import annotations

from airflow_provider_logidata.engine.elt_context import Columns, Described, EltContext, empty_table


def duck_types(ctx: EltContext) -> Columns:
    """Output (name, the database's type) of the step as the ETL engine's DuckDB builder types it."""
    from airflow_provider_logidata.engine import builders, duck
    from airflow_provider_logidata.engine.transforms import TransformContext

    step = builders.step(ctx.module)
    assert step is not None  # only one-in-one-out transforms with a DuckDB builder are typed this way
    with duck.connect() as con:
        con.register("logidata_empty_input", empty_table(ctx.inputs))
        con.execute("CREATE VIEW input_0 AS SELECT * FROM logidata_empty_input")
        duck_ctx = TransformContext(
            con=con, module=ctx.module, node_id=ctx.node_id, config=ctx.config, log=_Quiet()
        )
        select = step.build(duck_ctx, "input_0", duck.describe(con, "input_0"))
        output = con.sql(f"SELECT * FROM ({select}) AS q LIMIT 0").to_arrow_table().schema
    return [(f.name, ctx.dialect.type_for(f.type)) for f in output]


def duck_multi_types(ctx: EltContext, inputs: list[tuple[str, str | None, list[Described]]]) -> Columns:
    """Output (name, the database's type) of a multi-input step (``(ref, port, columns)`` per input) as the
    ETL engine's DuckDB builder types it, over empty inputs of the same Arrow types."""
    from airflow_provider_logidata.engine import builders, duck
    from airflow_provider_logidata.engine.multi import MultiInput
    from airflow_provider_logidata.engine.transforms import TransformContext

    build = builders.multi(ctx.module)
    assert build is not None  # only multi-input transforms with a DuckDB builder are typed this way
    with duck.connect() as con:
        items = []
        for index, (ref, port, columns) in enumerate(inputs):
            con.register(f"logidata_empty_{index}", empty_table(columns))
            con.execute(f"CREATE VIEW input_{index} AS SELECT * FROM logidata_empty_{index}")
            items.append(MultiInput(ref, f"input_{index}", duck.describe(con, f"input_{index}"), port))
        duck_ctx = TransformContext(
            con=con, module=ctx.module, node_id=ctx.node_id, config=ctx.config, log=_Quiet()
        )
        select = build(duck_ctx, items)["out"]
        output = con.sql(f"SELECT * FROM ({select}) AS q LIMIT 0").to_arrow_table().schema
    return [(f.name, ctx.dialect.type_for(f.type)) for f in output]


class _Quiet:
    """Drops the DuckDB builder's messages: the ELT builder logs its own."""

    def info(self, msg: str, /) -> None:
        return None

    def warning(self, msg: str, /) -> None:
        return None


def cast_to(ctx: EltContext, select: str, types: Columns) -> str:
    """``select`` with every output column cast to ``types`` (same names, same order)."""
    produced = [c.name for c in ctx.describe(select)]
    if produced != [name for name, _ in types]:
        raise ctx.error(
            f"the {ctx.dialect.label} step gives columns {produced}, the ETL engine "
            f"{[n for n, _ in types]}; set the pipeline's engine to 'etl' and report this"
        )
    d = ctx.dialect
    items = ", ".join(f"{d.cast('q.' + d.ident(n), t)} AS {d.ident(n)}" for n, t in types)
    return f"SELECT {items} FROM ({select}) AS q"
