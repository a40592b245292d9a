"""deduplicate: remove duplicate rows, comparing all columns or only key columns.

On key columns ``keep`` first/last is defined by input order: both builders number the rows and keep
the smallest or largest number per key (:func:`_keep_per_key`, the same SQL in both dialects but for
how the numbered rows are held). On all columns DuckDB runs a plain ``DISTINCT``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.sql import Columns
    from airflow_provider_logidata.engine.transforms import TransformContext
    from airflow_provider_logidata.modules.registry import RowOrder


class DeduplicateConfig(ModuleConfig):
    """Remove duplicate rows, comparing all columns or only key columns."""

    columns: list[ColumnName] | None = Field(
        None, description="Key columns that identify a row (default: all columns)."
    )
    keep: Literal["first", "last"] = Field("first", description="Which of the duplicates to keep.")


def _keys(ctx: TransformContext | EltContext, columns: Columns) -> list[str]:
    """The key columns as the input names them, each once; empty when the config lists none."""
    config = ctx.config
    assert isinstance(config, DeduplicateConfig)
    keys: list[str] = []
    for name in config.columns or []:
        resolved, _ = ctx.column(name, columns)
        if resolved not in keys:
            keys.append(resolved)
    return keys


def _keep_per_key(
    ctx: TransformContext | EltContext,
    source: str,
    columns: Columns,
    keys: list[str],
    *,
    numbered: str,
    outputs: Callable[[str], str],
) -> str:
    """Rows numbered in input order; the first or last number per key kept, back in input order.

    ``numbered`` says how the numbered rows are held (``[NOT] MATERIALIZED``); ``outputs(order)`` is the
    select list without the number column ``order``.
    """
    from airflow_provider_logidata.engine.sql import quote_ident, unique_name

    config = ctx.config
    assert isinstance(config, DeduplicateConfig)
    order = quote_ident(unique_name("__logidata_row", columns))
    pick = "min" if config.keep == "first" else "max"
    group = ", ".join(quote_ident(key) for key in keys)
    return (
        f"WITH numbered AS {numbered} (SELECT *, row_number() OVER () AS {order} FROM {source}) "
        f"SELECT {outputs(order)} FROM numbered "
        f"WHERE {order} IN (SELECT {pick}({order}) FROM numbered GROUP BY {group}) "
        f"ORDER BY {order}"
    )


def build_duckdb(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """Keep one row per key: every column by default, else the key columns.

    On every column, duplicates are identical rows, so which one is kept ("first" or "last") changes
    nothing in the data: the step is ``SELECT DISTINCT *``, DuckDB's parallel hash aggregate, and the
    output rows do not keep input order (as in SQL; add a sort step when order matters). Measured on 5 M
    rows it takes a third of the time of numbering the rows to keep them in input order.

    When the input is cheap to read again (a staged file, ``ctx.rescan_is_cheap``), duplicates are
    found by a 64-bit hash of the row first (see :func:`_distinct_by_hash`): the hash table then holds
    one number per row instead of the whole row, which spills far less under the memory limit.

    On key columns, ``keep`` decides which row survives, so rows are numbered in input order
    (``row_number() OVER ()``; DuckDB preserves insertion order); the smallest (first) or largest (last)
    number per key is kept through a semi-join on a hash aggregate, and the result is sorted back into
    input order. Nulls in key columns compare equal, as in ``DISTINCT``. Large inputs spill to disk.
    The numbering is recomputed rather than materialised (the CTE is ``NOT MATERIALIZED``): faster and
    within the memory limit, and the semi-join plus one sort is about three times as fast as ``QUALIFY
    row_number() OVER (PARTITION BY ...)``.
    """
    ctx.typed_config(DeduplicateConfig)
    keys = _keys(ctx, columns)
    if not keys or set(keys) == {name for name, _ in columns}:
        if ctx.rescan_is_cheap:
            return _distinct_by_hash(relation, columns)
        return f"SELECT DISTINCT * FROM {relation}"
    return _keep_per_key(
        ctx,
        relation,
        columns,
        keys,
        numbered="NOT MATERIALIZED",
        outputs=lambda order: f"* EXCLUDE ({order})",
    )


def _distinct_by_hash(relation: str, columns: Columns) -> str:
    """``SELECT DISTINCT *`` in two passes: rows whose hash no other row shares cannot have a duplicate
    and pass as they are (in input order); only rows sharing a hash go through an exact ``DISTINCT``
    (equal rows hash equally; two different rows sharing a hash stay apart there). ``hash()`` is the
    function DuckDB's own grouping uses, so it agrees with ``DISTINCT`` on nulls, NaN and -0.0.

    Reads the input three times (the hashes, the unique rows, the rest). Measured on 5 M rows of 10
    columns under a 512 MB limit: about 13 % less CPU than ``SELECT DISTINCT *`` with the same result.
    """
    from airflow_provider_logidata.engine.sql import quote_ident

    row_hash = f"hash({', '.join(quote_ident(name) for name, _ in columns)})"
    return (
        f"WITH __logidata_shared AS MATERIALIZED (SELECT __h FROM (SELECT {row_hash} AS __h FROM {relation}) "
        "GROUP BY __h HAVING count(*) > 1) "
        f"SELECT * FROM {relation} WHERE {row_hash} NOT IN (SELECT __h FROM __logidata_shared) "
        "UNION ALL "
        f"SELECT DISTINCT * FROM {relation} WHERE {row_hash} IN (SELECT __h FROM __logidata_shared)"
    )


def build_elt(ctx: EltContext, relation: str, columns: Columns) -> str:
    """Always by row numbers, on all columns too; the numbered rows are materialised so that both reads
    of them see the same numbers."""
    d = ctx.dialect
    keys = _keys(ctx, columns) or [name for name, _ in columns]
    outputs = ", ".join(d.ident(name) for name, _ in columns)
    return _keep_per_key(
        ctx, f"{relation} AS s", columns, keys, numbered=d.materialized, outputs=lambda _order: outputs
    )


def _deduplicate_order(config: Mapping[str, Any]) -> RowOrder:
    """On all columns duplicates are identical rows (a ``DISTINCT``): any input order gives the same
    rows. On key columns ``keep`` first/last is defined by input order."""
    return "needs" if config.get("columns") else "discards"


MODULE = ModuleDef(
    name="deduplicate",
    category="transform",
    label="Deduplicate",
    description="Remove duplicate rows on all or key columns.",
    config_model=DeduplicateConfig,
    icon="copy",
    fusable=True,
    row_order=_deduplicate_order,
    blocking=True,
    duckdb=build_duckdb,
    elt=build_elt,
    row_wise=True,
    subset_rows=True,
)
