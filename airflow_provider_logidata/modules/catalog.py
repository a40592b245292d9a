"""The transform catalog: joins, aggregates, sorts, unions, derived columns, value maps, free SQL, Python
callables, routing and data-quality checks.

Config models only (plus their ``ModuleDef`` entries): importing this module costs pydantic, never DuckDB,
pandas or pyarrow, because the DAG processor loads every pack on each parse. The SQL builders live in
``engine.catalog``; multi-input and multi-output execution in ``engine.multi``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from pydantic.json_schema import JsonDict

# A value written in a config (a mapping target, an accepted value, a range bound): text, number or
# boolean. The JSON Schema lists the types so forms can offer the right input.
Value = str | int | float | bool
_NULLABLE_VALUE_SCHEMA: JsonDict = {"type": ["string", "number", "integer", "boolean", "null"]}


def _unique_names(names: list[str], what: str) -> None:
    """Output column names must differ even when case is ignored (DuckDB matches names that way)."""
    seen: dict[str, str] = {}
    for name in names:
        key = name.lower()
        if key in seen:
            shown = repr(name) if seen[key] == name else f"{seen[key]!r} and {name!r}"
            raise ValueError(f"{what} {shown} appears twice (names are compared ignoring case); rename one")
        seen[key] = name


# --- join -----------------------------------------------------------------------------------------------


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
        None, min_length=1, description="Key columns of the left input (with right_on, when names differ)."
    )
    right_on: list[ColumnName] | None = Field(
        None, min_length=1, description="Key columns of the right input, paired in order with left_on."
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


# --- aggregate ------------------------------------------------------------------------------------------

AggregateFunction = Literal["count", "count_distinct", "sum", "avg", "min", "max"]


class Aggregation(ModuleConfig):
    # ``as`` is a Python keyword: the field is ``as_`` in Python and ``as`` in JSON, both ways.
    model_config = ConfigDict(serialize_by_alias=True)

    column: ColumnName | None = Field(
        None, description="Input column; leave empty with count to count rows (count(*))."
    )
    function: AggregateFunction = Field(
        description="count: non-null values (rows without a column); count_distinct: distinct non-null "
        "values; sum, avg: numbers; min, max: any comparable type. Nulls are ignored."
    )
    as_: ColumnName | None = Field(
        None,
        alias="as",
        description="Output column name (default: <column>_<function>, or count for a row count).",
    )

    @model_validator(mode="after")
    def _column_needed(self) -> Aggregation:
        if self.column is None and self.function != "count":
            raise ValueError(f"function {self.function!r} needs a column")
        return self

    @property
    def output(self) -> str:
        if self.as_:
            return self.as_
        return "count" if self.column is None else f"{self.column}_{self.function}"


class AggregateConfig(ModuleConfig):
    """One output row per group of equal key values, with counts, sums, averages, minima and maxima."""

    group_by: list[ColumnName] = Field(
        default_factory=list,
        description="Key columns; rows with equal keys form one group (nulls form a group of their own). "
        "Empty: one row for the whole input. Output is sorted by these columns.",
    )
    aggregations: list[Aggregation] = Field(
        default_factory=list, description="Values computed per group, in output order after the keys."
    )

    @model_validator(mode="after")
    def _outputs(self) -> AggregateConfig:
        if not self.group_by and not self.aggregations:
            raise ValueError("set group_by, aggregations or both")
        _unique_names(list(self.group_by), "group_by column")
        _unique_names([*self.group_by, *(a.output for a in self.aggregations)], "output column")
        return self


# --- sort -----------------------------------------------------------------------------------------------


class SortKey(ModuleConfig):
    column: ColumnName = Field(description="Column to sort by.")
    descending: bool = Field(False, description="Largest first.")
    nulls: Literal["first", "last"] = Field("last", description="Where rows with a null value go.")


class SortConfig(ModuleConfig):
    """Order rows by one or more columns; rows with equal keys keep their input order (stable)."""

    by: list[SortKey] = Field(min_length=1, description="Sort keys, most significant first.")


# --- union ----------------------------------------------------------------------------------------------


class UnionConfig(ModuleConfig):
    """Stack the rows of two or more inputs, matching columns by name."""

    distinct: bool = Field(
        False, description="Drop duplicate rows (the first occurrence is kept), like SQL UNION."
    )


# --- derive_column --------------------------------------------------------------------------------------


class DerivedColumn(ModuleConfig):
    name: ColumnName = Field(description="Output column; an existing column of that name is replaced.")
    expression: str = Field(
        min_length=1,
        max_length=10_000,
        description="SQL expression over the input columns (and columns derived earlier in the list), "
        "e.g. price * quantity or upper(country).",
        json_schema_extra={"x-logidata-widget": "sql-expression"},
    )


class DeriveColumnConfig(ModuleConfig):
    """Add or replace columns computed with SQL expressions."""

    columns: list[DerivedColumn] = Field(
        min_length=1,
        description="Computed in order: an expression may use the columns derived before it.",
    )

    @model_validator(mode="after")
    def _unique(self) -> DeriveColumnConfig:
        _unique_names([c.name for c in self.columns], "derived column")
        return self


# --- map_values -----------------------------------------------------------------------------------------


class MapValuesConfig(ModuleConfig):
    """Replace values through a lookup table typed in the config (codes to labels, synonyms, ...)."""

    column: ColumnName = Field(description="Column whose values are looked up.")
    mapping: dict[str, Value | None] = Field(
        min_length=1,
        max_length=10_000,
        description="From -> to. Keys are written as text and compared with the column's values in the "
        "column's type ('1' matches the number 1); targets are text, numbers, booleans or null.",
        json_schema_extra={"additionalProperties": _NULLABLE_VALUE_SCHEMA},
    )
    default: Literal["keep", "null", "value"] = Field(
        "keep",
        description="For values not in the mapping (nulls included): keep them, make them null, or use "
        "default_value.",
    )
    default_value: Value | None = Field(
        None,
        description="The value for unmapped values, with default = value.",
        json_schema_extra=_NULLABLE_VALUE_SCHEMA,
    )
    target_column: ColumnName | None = Field(
        None, description="Write the result to this column (default: overwrite the looked-up column)."
    )

    @model_validator(mode="after")
    def _default_value(self) -> MapValuesConfig:
        if self.default == "value" and self.default_value is None:
            raise ValueError("default 'value' needs a default_value")
        if self.default != "value" and self.default_value is not None:
            raise ValueError(f"default_value is used only with default 'value' (default is {self.default!r})")
        return self


# --- sql ------------------------------------------------------------------------------------------------


class SqlConfig(ModuleConfig):
    """A SELECT query over the inputs, for what no other module does."""

    query: str = Field(
        min_length=1,
        max_length=100_000,
        description="One SELECT (WITH and UNION allowed). Each input is a table named after its upstream "
        "node (upstream__port for a named output) and also input_0, input_1, ... in input order. "
        "Files, databases, settings and other statements are refused.",
        json_schema_extra={"x-logidata-widget": "sql"},
    )


# --- python ---------------------------------------------------------------------------------------------

_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
CALLABLE_PATTERN = re.compile(rf"^{_DOTTED}(?::{_DOTTED})?$")


class PythonConfig(ModuleConfig):
    """Call a Python function deployed with the DAGs on the data, as pandas DataFrames."""

    callable: str = Field(
        min_length=3,
        max_length=500,
        description="Where the function lives: package.module:function (or package.module.function), in "
        "code deployed with the DAGs (DAGs folder or an installed package). Only the path is stored: "
        "code is never typed into the pipeline.",
        json_schema_extra={"x-logidata-widget": "python-callable"},
    )
    mode: Literal["batch", "whole"] = Field(
        "batch",
        description="batch: the function is called once per batch of rows (memory stays at one batch; "
        "it must treat rows independently); whole: called once with the whole input, which must fit in "
        "the worker's memory as a pandas DataFrame (several times its Parquet size).",
    )
    batch_rows: int | None = Field(
        None,
        ge=1,
        le=10_000_000,
        description="Rows per call in batch mode (default: the [logidata] batch_rows setting).",
    )
    kwargs: dict[str, Value | None] = Field(
        default_factory=dict,
        description="Keyword arguments passed to the function after the DataFrame.",
        json_schema_extra={"additionalProperties": _NULLABLE_VALUE_SCHEMA},
    )

    @field_validator("callable")
    @classmethod
    def _dotted_path(cls, value: str) -> str:
        value = value.strip()
        if not CALLABLE_PATTERN.match(value) or ("." not in value and ":" not in value):
            raise ValueError(
                "callable must be a dotted path such as my_package.transforms:clean_orders (a module and "
                "a function name, no code)"
            )
        return value

    @field_validator("kwargs")
    @classmethod
    def _identifiers(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not key.isidentifier():
                raise ValueError(f"argument name {key!r} is not a Python identifier")
        return value


# --- route ----------------------------------------------------------------------------------------------


class RouteConfig(ModuleConfig):
    """Send each row to ``matched`` or ``unmatched`` by a SQL condition."""

    condition: str = Field(
        min_length=1,
        max_length=10_000,
        description="SQL boolean expression over the input columns. Rows where it is true go to matched; "
        "false or null (unknown) go to unmatched.",
        json_schema_extra={"x-logidata-widget": "sql-expression"},
    )


# --- quality_check --------------------------------------------------------------------------------------


class _Check(ModuleConfig):
    name: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Label used in messages and in _rejected_reason (default: type(column)).",
    )


class NotNullCheck(_Check):
    type: Literal["not_null"] = Field(description="Every value of the column is set.")
    column: ColumnName = Field(description="Column to check.")


class UniqueCheck(_Check):
    type: Literal["unique"] = Field(
        description="No value appears twice (nulls are ignored); every row sharing a value fails."
    )
    column: ColumnName = Field(description="Column to check.")


class AcceptedValuesCheck(_Check):
    type: Literal["accepted_values"] = Field(description="Every non-null value is one of a list.")
    column: ColumnName = Field(description="Column to check.")
    values: list[Value] = Field(
        min_length=1, max_length=10_000, description="The allowed values, in the column's type."
    )


class RangeCheck(_Check):
    type: Literal["range"] = Field(description="Every non-null value lies between min and max (inclusive).")
    column: ColumnName = Field(description="Column to check (numbers, dates, timestamps or text).")
    min: int | float | str | None = Field(None, description="Smallest allowed value (default: no minimum).")
    max: int | float | str | None = Field(None, description="Largest allowed value (default: no maximum).")

    @model_validator(mode="after")
    def _bounds(self) -> RangeCheck:
        if self.min is None and self.max is None:
            raise ValueError("a range check needs min, max or both")
        numbers = isinstance(self.min, int | float) and isinstance(self.max, int | float)
        if numbers and self.min > self.max:  # type: ignore[operator]
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class RegexCheck(_Check):
    type: Literal["regex"] = Field(
        description="Every non-null value, as text, matches a regular expression entirely (RE2 syntax)."
    )
    column: ColumnName = Field(description="Column to check.")
    pattern: str = Field(
        min_length=1, max_length=1000, description="The whole value must match, e.g. [A-Z]{2}-[0-9]+."
    )


class RowCountBetweenCheck(_Check):
    type: Literal["row_count_between"] = Field(
        description="The number of rows lies between min and max (inclusive)."
    )
    min: int | None = Field(None, ge=0, description="Fewest rows allowed (default: no minimum).")
    max: int | None = Field(None, ge=0, description="Most rows allowed (default: no maximum).")
    on_quarantine: Literal["fail", "warn"] = Field(
        "fail",
        description="With action quarantine there are no rows to set aside for a row count: fail the "
        "task or only warn.",
    )

    @model_validator(mode="after")
    def _bounds(self) -> RowCountBetweenCheck:
        if self.min is None and self.max is None:
            raise ValueError("a row_count_between check needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


QualityCheck = Annotated[
    NotNullCheck | UniqueCheck | AcceptedValuesCheck | RangeCheck | RegexCheck | RowCountBetweenCheck,
    Field(discriminator="type"),
]


def check_label(check: QualityCheck) -> str:
    """How a check is named in messages and ``_rejected_reason``: its name, or ``type(column)``."""
    if check.name:
        return check.name
    column = getattr(check, "column", None)
    return f"{check.type}({column})" if column is not None else check.type


class QualityCheckConfig(ModuleConfig):
    """Test the data against rules; fail, warn, or set failing rows aside (port ``rejected``)."""

    checks: list[QualityCheck] = Field(min_length=1, description="The rules, checked in one pass.")
    action: Literal["fail", "warn", "quarantine"] = Field(
        "fail",
        description="fail: the task fails listing every failed check; warn: log them and pass all rows; "
        "quarantine: passing rows go to out, failing rows to rejected with a _rejected_reason column.",
    )
    keys: list[ColumnName] | None = Field(
        None,
        description="Columns identifying a row (order_id): failure examples name the failing rows by these "
        "values, which still point at the row after a rerun or in the source system. Without keys, the "
        "pipeline's keys when they reach the check unchanged (those of a destination.postgres merge it "
        "feeds, else the columns of a deduplicate feeding it); otherwise rows are named by their position "
        "in the input.",
    )

    @model_validator(mode="after")
    def _labels(self) -> QualityCheckConfig:
        labels = [check_label(check) for check in self.checks]
        for label in labels:
            if labels.count(label) > 1:
                raise ValueError(f"two checks are named {label!r}; give one of them a different name")
        if self.keys is not None:
            if not self.keys:
                raise ValueError("keys must not be empty; leave it out to use the default")
            repeated = sorted({name for name in self.keys if self.keys.count(name) > 1})
            if repeated:
                raise ValueError(f"keys lists {', '.join(map(repr, repeated))} more than once")
        return self

    def example_keys(self) -> list[str]:
        """The columns naming a failing row in messages (none: rows are named by input position)."""
        return list(self.keys or [])


# --- registration ---------------------------------------------------------------------------------------

_OPS = "airflow_provider_logidata.operators.catalog"

MODULES: tuple[ModuleDef, ...] = (
    ModuleDef(
        name="join",
        category="transform",
        label="Join",
        description="Combine two inputs on key columns (inner, left, right or full).",
        config_model=JoinConfig,
        operator=f"{_OPS}.JoinOperator",
        min_inputs=2,
        max_inputs=2,
        input_ports=("left", "right"),
        icon="merge",
    ),
    ModuleDef(
        name="aggregate",
        fusable=True,
        row_order="discards",  # groups come out in no particular order; the aggregates ignore order
        category="transform",
        label="Aggregate",
        description="Group rows and compute counts, sums, averages, minima and maxima.",
        config_model=AggregateConfig,
        operator=f"{_OPS}.AggregateOperator",
        icon="sigma",
    ),
    ModuleDef(
        name="sort",
        fusable=True,
        category="transform",
        label="Sort",
        description="Order rows by one or more columns.",
        config_model=SortConfig,
        operator=f"{_OPS}.SortOperator",
        icon="arrow-down-up",
    ),
    ModuleDef(
        name="union",
        category="transform",
        label="Union",
        description="Stack the rows of several inputs, matching columns by name.",
        config_model=UnionConfig,
        operator=f"{_OPS}.UnionOperator",
        min_inputs=2,
        max_inputs=None,
        icon="layers",
    ),
    ModuleDef(
        name="derive_column",
        fusable=True,
        category="transform",
        label="Derive column",
        description="Add or replace columns computed with SQL expressions.",
        config_model=DeriveColumnConfig,
        operator=f"{_OPS}.DeriveColumnOperator",
        icon="function-square",
    ),
    ModuleDef(
        name="map_values",
        fusable=True,
        category="transform",
        label="Map values",
        description="Replace values through a lookup table (codes to labels).",
        config_model=MapValuesConfig,
        operator=f"{_OPS}.MapValuesOperator",
        icon="replace",
    ),
    ModuleDef(
        name="sql",
        category="transform",
        label="SQL",
        description="Run a SELECT query over the inputs.",
        config_model=SqlConfig,
        operator=f"{_OPS}.SqlOperator",
        min_inputs=1,
        max_inputs=None,
        icon="database",
    ),
    ModuleDef(
        name="python",
        fusable=True,
        category="transform",
        label="Python",
        description="Call a Python function deployed with the DAGs on pandas DataFrames.",
        config_model=PythonConfig,
        operator=f"{_OPS}.PythonTransformOperator",
        icon="code",
    ),
    ModuleDef(
        name="route",
        category="transform",
        label="Route",
        description="Split rows into matched and unmatched by a condition.",
        config_model=RouteConfig,
        operator=f"{_OPS}.RouteOperator",
        outputs=("matched", "unmatched"),
        icon="split",
    ),
    ModuleDef(
        name="quality_check",
        category="transform",
        label="Quality check",
        description="Check rules (not null, unique, accepted values, range, regex, row count); fail, warn "
        "or quarantine failing rows.",
        config_model=QualityCheckConfig,
        operator=f"{_OPS}.QualityCheckOperator",
        outputs=("out", "rejected"),
        icon="shield-check",
    ),
)
