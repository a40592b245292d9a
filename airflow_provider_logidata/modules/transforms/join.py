"""join: combine the rows of two inputs (ports ``left`` and ``right``) on key columns.

Rows keep the left input's order (a right join the right's), so a rerun gives the same file; null keys
never match, as in SQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow_provider_logidata.engine.dialects.base import SqlDialect
    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.multi import MultiInput
    from airflow_provider_logidata.engine.transforms import TransformContext


class JoinSuffixes(ModuleConfig):
    left: str = Field("", max_length=64, description="Added to a left column whose name the right also has.")
    right: str = Field(
        "_right", max_length=64, description="Added to a right column whose name the left also has."
    )

    @model_validator(mode="after")
    def _different(self) -> JoinSuffixes:
        if self.left.lower() == self.right.lower():
            raise ValueError("the left and right suffixes must differ, or clashing names stay equal")
        return self


class JoinConfig(ModuleConfig):
    """Combine the rows of two inputs (ports ``left`` and ``right``) on key columns."""

    how: Literal["inner", "left", "right", "full"] = Field(
        "inner",
        description="inner: matching rows only; left/right: every row of that side, with nulls where the "
        "other side has no match; full: every row of both sides.",
    )
    on: list[ColumnName] | None = Field(
        None,
        min_length=1,
        description="Key columns with the same name on both sides; each appears once in the output.",
    )
    left_on: list[ColumnName] | None = Field(
        None,
        min_length=1,
        description="Key columns of the left input (with right_on, when names differ).",
        json_schema_extra={"x-logidata-port": "left"},
    )
    right_on: list[ColumnName] | None = Field(
        None,
        min_length=1,
        description="Key columns of the right input, paired in order with left_on.",
        json_schema_extra={"x-logidata-port": "right"},
    )
    suffixes: JoinSuffixes = Field(
        default_factory=JoinSuffixes,
        description="How non-key columns present on both sides are told apart.",
    )

    @model_validator(mode="after")
    def _keys(self) -> JoinConfig:
        pairs = self.left_on is not None or self.right_on is not None
        if self.on is not None and pairs:
            raise ValueError("set either 'on' or 'left_on' and 'right_on', not both")
        if self.on is None and not pairs:
            raise ValueError("set the key columns: 'on' (same names) or 'left_on' and 'right_on'")
        if pairs:
            if self.left_on is None or self.right_on is None:
                raise ValueError("'left_on' and 'right_on' go together; set both")
            if len(self.left_on) != len(self.right_on):
                raise ValueError(
                    f"'left_on' has {len(self.left_on)} column(s) and 'right_on' {len(self.right_on)}; "
                    "they are paired in order, so give the same number"
                )
        return self


_JOIN_SQL = {"inner": "INNER JOIN", "left": "LEFT JOIN", "right": "RIGHT JOIN", "full": "FULL OUTER JOIN"}


def _join_key(ctx: TransformContext | EltContext, name: str, side: MultiInput) -> tuple[str, str]:
    from airflow_provider_logidata.engine.binding import find_column
    from airflow_provider_logidata.engine.sql import column_names

    found = find_column(name, side.columns, owner=ctx.owner)
    if found is None:
        raise ctx.error(
            f"key column {name!r} is missing on the {side.label}; {side.port or 'its'} columns: "
            f"{column_names(side.columns)}. Fix the key in the node's config or the data upstream"
        )
    return found


def _plan(
    ctx: TransformContext | EltContext, inputs: Sequence[MultiInput], family: Callable[[str], str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The key pairs and the output columns ``(expression, name)`` over ``__logidata_left``/``_right``,
    the same for both engines: keys checked on each side and by type family, ``on`` keys once, clashing
    names suffixed."""
    from airflow_provider_logidata.engine.sql import quote_ident

    config = ctx.typed_config(JoinConfig)
    left, right = inputs
    if config.on is not None:
        pairs = [(key, key) for key in config.on]
    else:
        assert config.left_on is not None and config.right_on is not None  # the model checks this
        pairs = list(zip(config.left_on, config.right_on, strict=True))
    keys: list[tuple[str, str]] = []
    for left_name, right_name in pairs:
        left_key, left_type = _join_key(ctx, left_name, left)
        right_key, right_type = _join_key(ctx, right_name, right)
        if family(left_type) != family(right_type):
            raise ctx.error(
                f"key {left_key!r} is {left_type} on the left and {right_key!r} is {right_type} on the "
                "right; they cannot be compared. Cast one side (select_columns) so both keys have the same "
                "type"
            )
        keys.append((left_key, right_key))

    lt, rt = quote_ident("__logidata_left"), quote_ident("__logidata_right")
    shared = config.on is not None
    shared_left = {lk for lk, _ in keys} if shared else set()
    right_for = {lk: rk for lk, rk in keys}
    right_keys = {rk for _, rk in keys} if shared else set()
    right_out = [name for name, _ in right.columns if name not in right_keys]
    left_names = {name.lower() for name, _ in left.columns}
    clashing = left_names & {name.lower() for name in right_out}
    items: list[tuple[str, str]] = []
    for name, _ in left.columns:
        column = f"{lt}.{quote_ident(name)}"
        if name in shared_left:
            other = f"{rt}.{quote_ident(right_for[name])}"
            expression = {"right": other, "full": f"coalesce({column}, {other})"}.get(config.how, column)
            items.append((expression, name))
        else:
            items.append((column, name + config.suffixes.left if name.lower() in clashing else name))
    for name in right_out:
        output = name + config.suffixes.right if name.lower() in clashing else name
        items.append((f"{rt}.{quote_ident(name)}", output))
    seen: dict[str, str] = {}
    for _, output in items:
        if output.lower() in seen:
            raise ctx.error(
                f"output column {output!r} would appear twice after adding the suffixes "
                f"({seen[output.lower()]!r} and {output!r}); choose other suffixes or rename a column "
                "upstream"
            )
        seen[output.lower()] = output
    return keys, items


def _select(items: list[tuple[str, str]], keys: list[tuple[str, str]]) -> tuple[str, str]:
    from airflow_provider_logidata.engine.sql import quote_ident

    lt, rt = quote_ident("__logidata_left"), quote_ident("__logidata_right")
    select = ", ".join(f"{expression} AS {quote_ident(output)}" for expression, output in items)
    condition = " AND ".join(f"{lt}.{quote_ident(lk)} = {rt}.{quote_ident(rk)}" for lk, rk in keys)
    return select, condition


def build_duckdb(ctx: TransformContext, inputs: Sequence[MultiInput]) -> dict[str, str]:
    """Join ``left`` and ``right`` on equal keys (null keys never match, as in SQL).

    With ``on`` each key appears once (from the left, from the right for a right join, the non-null one
    for a full join); with ``left_on``/``right_on`` both sides' keys are kept. Other columns present on
    both sides (ignoring case) get the suffixes. Output: the left columns, then the right ones; rows in
    left input order (for each left row, its matches in right order), unmatched right rows last; a right
    join follows the right input's order instead.
    """
    from airflow_provider_logidata.engine.binding import ROW_NUMBER, _type_family, bind, numbered
    from airflow_provider_logidata.engine.sql import quote_ident, unique_name

    config = ctx.typed_config(JoinConfig)
    left, right = inputs
    keys, items = _plan(ctx, inputs, _type_family)
    lt, rt = quote_ident("__logidata_left"), quote_ident("__logidata_right")
    row_name = unique_name(ROW_NUMBER, left.columns + right.columns)
    row = quote_ident(row_name)
    select, condition = _select(items, keys)
    order = f"{rt}.{row}, {lt}.{row}" if config.how == "right" else f"{lt}.{row} NULLS LAST, {rt}.{row}"
    sql = (
        f"SELECT {select} FROM {numbered(left.relation, row_name)} AS {lt} "
        f"{_JOIN_SQL[config.how]} {numbered(right.relation, row_name)} AS {rt} "
        f"ON {condition} ORDER BY {order}"
    )
    bind(ctx, sql, what="the join", fix="check that the key columns of both sides have the same type")
    return {"out": sql}


def _family(d: SqlDialect, type_sql: str) -> str:
    if d.is_numeric(type_sql):
        return "number"
    if d.is_text(type_sql):
        return "text"
    if d.is_temporal(type_sql):
        return "date/time"
    return d.base_type(type_sql)


def build_elt(ctx: EltContext, inputs: Sequence[MultiInput]) -> dict[str, str]:
    """The same join inside the database: the same keys, columns, names and suffixes. Bound before it
    runs, so a key type the database cannot compare names the node up front.

    Rows come in the ETL engine's order (each side numbered, as ``build_duckdb`` does) when something
    after the join observes it (``ctx.keep_order``: a deduplicate keeping the first row per key, a file);
    when nothing can (an aggregate, a union distinct), the database joins as it likes, without the sort.
    """
    from airflow_provider_logidata.engine.binding import ROW_NUMBER
    from airflow_provider_logidata.engine.sql import unique_name

    config = ctx.typed_config(JoinConfig)
    d = ctx.dialect
    left, right = inputs
    keys, items = _plan(ctx, inputs, lambda type_sql: _family(d, type_sql))
    select, condition = _select(items, keys)
    lt, rt = d.ident("__logidata_left"), d.ident("__logidata_right")
    joined = f"{_JOIN_SQL[config.how]} "
    if ctx.keep_order:
        row_name = unique_name(ROW_NUMBER, left.columns + right.columns)
        row = d.ident(row_name)
        order = f"{rt}.{row}, {lt}.{row}" if config.how == "right" else f"{lt}.{row} NULLS LAST, {rt}.{row}"

        def numbered(relation: str) -> str:
            return f"(SELECT *, row_number() OVER () AS {row} FROM {relation} AS s)"

        sql = (
            f"SELECT {select} FROM {numbered(left.relation)} AS {lt} "
            f"{joined}{numbered(right.relation)} AS {rt} ON {condition} ORDER BY {order}"
        )
    else:
        sql = f"SELECT {select} FROM {left.relation} AS {lt} {joined}{right.relation} AS {rt} ON {condition}"
    ctx.probe(sql, "the join", "check the key columns' types")
    return {"out": sql}


MODULE = ModuleDef(
    name="join",
    category="transform",
    label="Join",
    description="Combine two inputs on key columns (inner, left, right or full).",
    config_model=JoinConfig,
    multi=True,
    min_inputs=2,
    max_inputs=2,
    input_ports=("left", "right"),
    icon="merge",
    duckdb=build_duckdb,
    elt=build_elt,
)
