"""mask_text: hide all but the last characters of text columns (card numbers, phone numbers, IBANs).

The whole module is this file, in the shape of LogiData's own modules: the config model (the builder's
form and the spec's JSON Schema come from it), the DuckDB builder and the ``MODULE`` declaration the
``logidata.modules`` entry point names. Airflow's DAG processor imports every module file on each
parse, so only pydantic and LogiData's light ``modules`` package are imported at the top; the engine
(DuckDB, Airflow) is imported inside the builder, which runs in a task or a preview.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from airflow_provider_logidata.engine.sql import Columns
    from airflow_provider_logidata.engine.transforms import TransformContext


class MaskTextConfig(ModuleConfig):
    """Replace every character but the last few with a mask character; nulls stay null."""

    columns: list[ColumnName] = Field(min_length=1, description="Text columns to mask.")
    keep_last: int = Field(
        4, ge=0, description="How many characters at the end stay readable (0 masks everything)."
    )
    mask: str = Field(
        "*", min_length=1, max_length=1, description="The one character that replaces the hidden ones."
    )


def build_duckdb(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """A value no longer than ``keep_last`` characters stays as it is: nothing of it is hidden."""
    from airflow_provider_logidata.engine.sql import is_text, quote_ident, quote_literal

    config = ctx.typed_config(MaskTextConfig)
    targets: list[str] = []
    for requested in config.columns:
        name, duck_type = ctx.column(requested, columns)
        if not is_text(duck_type):
            raise ctx.error(
                f"column {name!r} is {duck_type}, not text; remove it from columns or cast it to string "
                "first (select_columns)"
            )
        if name not in targets:
            targets.append(name)
    keep, mask = config.keep_last, quote_literal(config.mask)
    replaced = ", ".join(
        f"repeat({mask}, greatest(length({quote_ident(name)}) - {keep}, 0)) || "
        f"right({quote_ident(name)}, {keep}) AS {quote_ident(name)}"
        for name in targets
    )
    ctx.log.info(
        f"{ctx.owner}: masking {', '.join(map(repr, targets))} with {config.mask!r}, keeping the last "
        f"{keep} character(s)"
    )
    return f"SELECT * REPLACE ({replaced}) FROM {relation}"


MODULE = ModuleDef(
    name="mask_text",
    category="transform",
    label="Mask text",
    description="Hide all but the last characters of text columns.",
    config_model=MaskTextConfig,
    icon="eye-off",
    # One SQL step over one input: a chain of such steps may run inside one task.
    fusable=True,
    # Row by row: the output follows the input's order and has one row per input row.
    row_order="keeps",
    keeps_rows=True,
    duckdb=build_duckdb,
)
