"""quality_check: test the data against rules; fail, warn, or set failing rows aside (port ``rejected``).

Every row check is a flag column computed in one pass over the input; the flags are materialised once
when quarantining, so ``out`` and ``rejected`` read the same evaluation.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator

from airflow_provider_logidata.modules.base import ColumnName, ModuleConfig, Value
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from airflow_provider_logidata.engine.dialects.base import SqlDialect
    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.multi import MultiInput
    from airflow_provider_logidata.engine.sql import Columns
    from airflow_provider_logidata.engine.transforms import TransformContext

REJECTED_REASON = "_rejected_reason"


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


@dataclasses.dataclass(frozen=True)
class _RowCheck:
    label: str
    flag: str  # helper column, true where the row fails
    bad_when: str  # SQL, true (or null) where the row fails
    column: str
    kind: str


def _range_bound(ctx: TransformContext, value: Any, column: str, duck_type: str, what: str) -> str:
    from airflow_provider_logidata.engine.binding import typed_literals
    from airflow_provider_logidata.engine.sql import is_numeric

    if is_numeric(duck_type):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ctx.error(f"{what} {value!r} of a range on numeric column {column!r} must be a number")
        return repr(value) if isinstance(value, float) else str(value)
    if not isinstance(value, str):
        raise ctx.error(
            f"{what} {value!r} of a range on column {column!r} ({duck_type}) must be written as text, e.g. "
            "'2024-01-01'"
        )
    return typed_literals(ctx, [value], column, duck_type, what=f"range {what}")[0]


def _row_check(
    ctx: TransformContext, check: QualityCheck, index: int, columns: Columns, taken: Columns
) -> _RowCheck:
    import duckdb

    from airflow_provider_logidata.engine.binding import typed_literals
    from airflow_provider_logidata.engine.files import describe_error
    from airflow_provider_logidata.engine.sql import is_text, quote_ident, quote_literal, unique_name

    assert not isinstance(check, RowCountBetweenCheck)
    name, duck_type = ctx.column(check.column, columns)
    column = quote_ident(name)
    if isinstance(check, NotNullCheck):
        bad = f"{column} IS NULL"
    elif isinstance(check, UniqueCheck):
        bad = f"{column} IS NOT NULL AND count(*) OVER (PARTITION BY {column}) > 1"
    elif isinstance(check, AcceptedValuesCheck):
        values = typed_literals(ctx, check.values, name, duck_type, what="accepted value(s)")
        bad = f"{column} NOT IN ({', '.join(values)})"
    elif isinstance(check, RangeCheck):
        parts = []
        if check.min is not None:
            parts.append(f"{column} < {_range_bound(ctx, check.min, name, duck_type, 'min')}")
        if check.max is not None:
            parts.append(f"{column} > {_range_bound(ctx, check.max, name, duck_type, 'max')}")
        bad = " OR ".join(parts)
    elif isinstance(check, RegexCheck):
        pattern = quote_literal(check.pattern)
        try:
            ctx.rows(f"SELECT regexp_full_match('', {pattern})")
        except duckdb.Error as error:
            raise ctx.error(
                f"check {check_label(check)!r}: invalid regular expression {check.pattern!r}: "
                f"{describe_error(error)}; use RE2 syntax, e.g. [A-Z]{{2}}-[0-9]+"
            ) from None
        text = column if is_text(duck_type) else f"CAST({column} AS VARCHAR)"
        bad = f"NOT regexp_full_match({text}, {pattern})"
    else:  # pragma: no cover - the discriminated union has no other member
        raise TypeError(type(check).__name__)
    flag = unique_name(f"__logidata_check_{index}", taken)
    return _RowCheck(check_label(check), flag, bad, name, check.type)


def _examples(
    ctx: TransformContext | EltContext,
    relation: str,
    check: _RowCheck,
    row: str,
    keys: Sequence[tuple[str, str]],
) -> str:
    """Up to five examples of failing rows in input order.

    With ``keys`` (the columns identifying a row, as (name, type)) a failing row is named by its key
    values, which still point at the row after a rerun or in the source system; without, by its position
    in the input. Values are shown for checks on values (counts for duplicates).
    """
    from airflow_provider_logidata.engine.sql import quote_ident
    from airflow_provider_logidata.engine.transforms import EXAMPLES

    flag, column = quote_ident(check.flag), quote_ident(check.column)
    key_sql = ", ".join(f"CAST({quote_ident(name)} AS VARCHAR)" for name, _ in keys)

    def named(values: Sequence[Any]) -> str:
        return ", ".join(f"{name}={value!r}" for (name, _), value in zip(keys, values, strict=True))

    if check.kind == "not_null":
        if keys:
            rows = ctx.rows(f"SELECT {key_sql} FROM {relation} WHERE {flag} ORDER BY {row} LIMIT {EXAMPLES}")
            return "; ".join(named(r) for r in rows)
        rows = ctx.rows(f"SELECT {row} FROM {relation} WHERE {flag} ORDER BY {row} LIMIT {EXAMPLES}")
        return ("rows " if len(rows) > 1 else "row ") + ", ".join(str(r[0]) for r in rows)
    if check.kind == "unique":
        rows = ctx.rows(
            f"SELECT CAST({column} AS VARCHAR), count(*) FROM {relation} WHERE {flag} GROUP BY {column} "
            f"ORDER BY min({row}) LIMIT {EXAMPLES}"
        )
        return ", ".join(f"{value!r} ({count} rows)" for value, count in rows)
    keyed = f", {key_sql}" if keys else ""
    rows = ctx.rows(
        f"SELECT CAST({column} AS VARCHAR){keyed} FROM {relation} WHERE {flag} ORDER BY {row} LIMIT 100"
    )
    examples: list[str] = []
    seen: set[Any] = set()
    for value, *key_values in rows:
        if value in seen:
            continue
        seen.add(value)
        examples.append(f"{value!r} ({named(key_values)})" if keys else repr(value))
        if len(examples) == EXAMPLES:
            break
    return ", ".join(examples)


def _judge(
    ctx: TransformContext | EltContext,
    config: QualityCheckConfig,
    row_checks: list[_RowCheck],
    flagged: str,
    row: str,
    keys: Sequence[tuple[str, str]],
) -> None:
    """Count each check's failures over ``flagged`` (the input with a flag per row check), then fail,
    warn or log: the same verdict and messages in the ETL engine and inside PostgreSQL."""
    from airflow_provider_logidata.engine.sql import quote_ident

    counts = ctx.rows(
        "SELECT count(*)"
        + "".join(f", count(*) FILTER (WHERE {quote_ident(c.flag)})" for c in row_checks)
        + f" FROM {flagged}"
    )[0]
    total = int(counts[0])
    failed_rows = {c.label: int(n) for c, n in zip(row_checks, counts[1:], strict=True) if n}
    report: list[str] = []
    count_failures: list[str] = []
    for check in config.checks:
        if isinstance(check, RowCountBetweenCheck):
            low = check.min if check.min is not None else 0
            if total < low or (check.max is not None and total > check.max):
                bounds = f"between {low} and {check.max}" if check.max is not None else f"at least {low}"
                text = f"{check_label(check)}: {total} row(s), expected {bounds}"
                report.append(text)
                if config.action == "fail" or (
                    config.action == "quarantine" and check.on_quarantine == "fail"
                ):
                    count_failures.append(text)
            continue
        row_check = next(c for c in row_checks if c.label == check_label(check))
        if row_check.label in failed_rows:
            examples = _examples(ctx, flagged, row_check, row, keys)
            report.append(f"{row_check.label}: {failed_rows[row_check.label]} row(s) fail, e.g. {examples}")
    summary = f"{len(report)} of {len(config.checks)} check(s) failed on {total} row(s): " + "; ".join(report)
    fix = "Fix the data upstream, change the checks, or set action to 'warn' or 'quarantine'"
    if report and (config.action == "fail" or count_failures):
        raise ctx.error(f"{summary}. {fix}")
    if report and config.action == "warn":
        ctx.log.warning(f"{ctx.owner}: {summary} (action warn: every row passes)")
    elif report:
        ctx.log.warning(f"{ctx.owner}: {summary} (action quarantine: failing rows go to 'rejected')")
    else:
        ctx.log.info(f"{ctx.owner}: all {len(config.checks)} check(s) passed on {total} row(s)")


def build_duckdb(ctx: TransformContext, inputs: Sequence[MultiInput]) -> dict[str, str]:
    """Evaluate every check in one pass, then fail, warn or quarantine.

    Nulls pass every check but not_null; ``unique`` fails every row whose value appears more than once.
    Failures are reported per check with the number of failing rows and up to five examples. With
    ``quarantine`` the failing rows go to ``rejected`` (input order) with ``_rejected_reason`` listing the
    checks they fail, separated by '; '; a failed row count fails the task or warns (``on_quarantine``).
    ``rejected`` always exists, empty unless quarantining, with the input's columns plus the reason.
    """
    from airflow_provider_logidata.engine.binding import ROW_NUMBER, find_column, numbered
    from airflow_provider_logidata.engine.sql import quote_ident, quote_literal, unique_name

    config = ctx.typed_config(QualityCheckConfig)
    (source,) = inputs
    relation, columns = source.relation, source.columns
    row_name = unique_name(ROW_NUMBER, columns)
    row = quote_ident(row_name)
    taken = [*columns, (row_name, "BIGINT")]
    example_keys = [find_column(name, columns, owner=ctx.owner) for name in config.example_keys()]
    missing_keys = [
        name for name, found in zip(config.example_keys(), example_keys, strict=True) if not found
    ]
    if missing_keys:
        raise ctx.error(
            f"key column(s) {', '.join(map(repr, missing_keys))} are not in the input; available columns: "
            f"{', '.join(name for name, _ in columns)}. Fix 'keys' in the node's config"
        )
    keys = [found for found in example_keys if found]
    row_checks: list[_RowCheck] = []
    for index, check in enumerate(config.checks):
        if not isinstance(check, RowCountBetweenCheck):
            row_checks.append(_row_check(ctx, check, index, columns, taken))
            taken.append((row_checks[-1].flag, "BOOLEAN"))
    flags = "".join(f", coalesce({c.bad_when}, false) AS {quote_ident(c.flag)}" for c in row_checks)
    flagged = "__logidata_checked"
    kind = "TABLE" if config.action == "quarantine" and row_checks else "VIEW"
    ctx.rows(f"CREATE TEMP {kind} {flagged} AS SELECT *{flags} FROM {numbered(relation, row_name)}")
    _judge(ctx, config, row_checks, flagged, row, keys)

    # A ``_rejected_reason`` already in the input (rows rejected before) is replaced by this node's.
    reason = quote_ident(REJECTED_REASON)
    existing_reason = find_column(REJECTED_REASON, columns, owner=ctx.owner)
    drop_reason = [quote_ident(existing_reason[0])] if existing_reason else []
    if config.action != "quarantine" or not row_checks:
        kept = f"* EXCLUDE ({drop_reason[0]})" if drop_reason else "*"
        return {
            "out": f"SELECT * FROM {relation}",
            "rejected": f"SELECT {kept}, CAST(NULL AS VARCHAR) AS {reason} FROM {relation} WHERE false",
        }
    helpers = ", ".join([row, *(quote_ident(c.flag) for c in row_checks)])
    rejected_helpers = ", ".join([helpers, *drop_reason])
    any_failed = " OR ".join(quote_ident(c.flag) for c in row_checks)
    reasons = ", ".join(
        f"CASE WHEN {quote_ident(c.flag)} THEN {quote_literal(c.label)} END" for c in row_checks
    )
    return {
        "out": f"SELECT * EXCLUDE ({helpers}) FROM {flagged} WHERE NOT ({any_failed}) ORDER BY {row}",
        "rejected": (
            f"SELECT * EXCLUDE ({rejected_helpers}), concat_ws('; ', {reasons}) AS {reason} "
            f"FROM {flagged} WHERE {any_failed} ORDER BY {row}"
        ),
    }


# --- PostgreSQL -----------------------------------------------------------------------------------------


def elt_refusal(config: Any, dialect: SqlDialect) -> str | None:
    """Why this config stays in the ETL engine (the module's ``elt_refusal``), or None.

    A regex check is written in RE2 syntax (DuckDB's); a database whose regular expressions are not
    RE2's (PostgreSQL's read some patterns differently: classes, escapes, greediness of alternations)
    would judge rows differently.
    """
    checks = config.get("checks") if isinstance(config, dict) else getattr(config, "checks", None)
    for check in checks or []:
        kind = check.get("type") if isinstance(check, dict) else getattr(check, "type", None)
        if kind == "regex" and not dialect.re2:
            return (
                f"a regex check uses RE2 syntax, which {dialect.label}'s regular expressions read differently"
            )
    return None


@contextlib.contextmanager
def _duck_checks(ctx: EltContext) -> Iterator[tuple[TransformContext, Columns]]:
    """A DuckDB context over an empty input of the step's types: the ETL builder's own checks of the
    config (values that do not fit the column, bounds of the wrong kind) run there, with its messages."""
    from airflow_provider_logidata.engine import duck
    from airflow_provider_logidata.engine.elt_context import empty_table
    from airflow_provider_logidata.engine.transforms import TransformContext

    with duck.connect(external_access=False) as con:
        con.register("logidata_empty_input", empty_table(ctx.inputs))
        duck_ctx = TransformContext(
            con=con, module=ctx.module, node_id=ctx.node_id, config=ctx.config, log=ctx.log
        )
        yield duck_ctx, duck.describe(con, "logidata_empty_input")


def _elt_literals(
    d: SqlDialect, duck_ctx: TransformContext, texts: list[str], duck_type: str, type_sql: str
) -> list[str]:
    """The database's literals of the values DuckDB reads ``texts`` as (its text of each typed value,
    cast to the column's type): both engines compare with the same values ('1.5' for a BIGINT is 2)."""
    from airflow_provider_logidata.engine.sql import is_text

    if is_text(duck_type):
        return [d.literal(text) for text in texts]
    row = duck_ctx.con.execute(
        f"SELECT list_transform(CAST(? AS VARCHAR[]), lambda x: CAST(CAST(x AS {duck_type}) AS VARCHAR))",
        [texts],
    ).fetchone()
    assert row is not None
    return [d.cast(d.literal(text), type_sql) for text in row[0]]


def _elt_row_check(
    ctx: EltContext,
    duck_ctx: TransformContext,
    check: QualityCheck,
    flag: str,
    columns: Columns,
    duck_columns: Columns,
) -> _RowCheck:
    from airflow_provider_logidata.engine.binding import value_text
    from airflow_provider_logidata.engine.sql import is_numeric

    assert not isinstance(check, RowCountBetweenCheck | RegexCheck)
    d = ctx.dialect
    name, type_sql = ctx.column(check.column, columns)
    duck_type = dict(duck_columns)[name]
    column = d.ident(name)
    compared = d.ordered(column, type_sql)  # text compares by code point, as in DuckDB
    if isinstance(check, NotNullCheck):
        bad = f"{column} IS NULL"
    elif isinstance(check, UniqueCheck):
        bad = f"{column} IS NOT NULL AND count(*) OVER (PARTITION BY {column}) > 1"
    elif isinstance(check, AcceptedValuesCheck):
        values = _elt_literals(d, duck_ctx, [value_text(v) for v in check.values], duck_type, type_sql)
        bad = f"{compared} NOT IN ({', '.join(values)})"
    else:
        parts = []
        for bound, operator in ((check.min, "<"), (check.max, ">")):
            if bound is None:
                continue
            if is_numeric(duck_type):
                literal = repr(bound) if isinstance(bound, float) else str(bound)
            else:
                (literal,) = _elt_literals(d, duck_ctx, [str(bound)], duck_type, type_sql)
            parts.append(f"{compared} {operator} {literal}")
        bad = " OR ".join(parts)
    return _RowCheck(check_label(check), flag, bad, name, check.type)


def build_elt(ctx: EltContext, inputs: Sequence[MultiInput]) -> dict[str, str]:
    """The same checks, verdict and ports inside the database.

    The config is checked by the ETL builder's own code over an empty input of the same types (same
    messages), the flags are computed in the database over the input numbered in its order, and the
    verdict (:func:`_judge`) is the ETL engine's. Quarantining materialises the flagged input once in a
    temporary table dropped at commit: ``out`` and ``rejected`` are statements over the same evaluation.
    """
    import hashlib

    from airflow_provider_logidata.engine.binding import ROW_NUMBER, find_column
    from airflow_provider_logidata.engine.sql import unique_name

    config = ctx.typed_config(QualityCheckConfig)
    d = ctx.dialect
    quote_ident = d.ident
    refusal = elt_refusal(config, d)
    if refusal:
        raise ctx.error(f"{refusal}; set the pipeline's engine to 'etl'")
    (source,) = inputs
    relation, columns = source.relation, source.columns
    row_name = unique_name(ROW_NUMBER, columns)
    row = quote_ident(row_name)
    taken = [*columns, (row_name, "bigint")]
    with _duck_checks(ctx) as (duck_ctx, duck_columns):
        example_keys = [find_column(name, columns, owner=ctx.owner) for name in config.example_keys()]
        missing = [name for name, found in zip(config.example_keys(), example_keys, strict=True) if not found]
        if missing:
            raise ctx.error(
                f"key column(s) {', '.join(map(repr, missing))} are not in the input; available columns: "
                f"{', '.join(name for name, _ in columns)}. Fix 'keys' in the node's config"
            )
        keys = [found for found in example_keys if found]
        row_checks: list[_RowCheck] = []
        for index, check in enumerate(config.checks):
            if isinstance(check, RowCountBetweenCheck):
                continue
            _row_check(duck_ctx, check, index, duck_columns, [*duck_columns, (row_name, "BIGINT")])
            flag = unique_name(f"__logidata_check_{index}", taken)
            row_checks.append(_elt_row_check(ctx, duck_ctx, check, flag, columns, duck_columns))
            taken.append((flag, "boolean"))
    flags = "".join(f", coalesce({c.bad_when}, false) AS {quote_ident(c.flag)}" for c in row_checks)
    numbered = f"(SELECT s.*, row_number() OVER () AS {row} FROM {relation} AS s)"
    flagged_select = f"SELECT n.*{flags} FROM {numbered} AS n"
    quarantine = config.action == "quarantine" and bool(row_checks)
    if quarantine:
        table = "logidata_check_" + hashlib.sha1(ctx.node_id.encode()).hexdigest()[:12]
        flagged = ctx.temp_table(table, flagged_select)
    else:
        flagged = f"({flagged_select}) AS f"
    _judge(ctx, config, row_checks, flagged, row, keys)

    reason = quote_ident(REJECTED_REASON)
    existing = find_column(REJECTED_REASON, columns, owner=ctx.owner)
    kept = ", ".join(quote_ident(name) for name, _ in columns)
    kept_rejected = ", ".join(quote_ident(name) for name, _ in columns if not existing or name != existing[0])
    rejected_columns = f"{kept_rejected}, " if kept_rejected else ""
    if not quarantine:
        return {
            "out": f"SELECT {kept} FROM {relation} AS s",
            "rejected": (
                f"SELECT {rejected_columns}{d.cast('NULL', d.text)} AS {reason} "
                f"FROM {relation} AS s WHERE false"
            ),
        }
    any_failed = " OR ".join(quote_ident(c.flag) for c in row_checks)
    reasons = ", ".join(f"CASE WHEN {quote_ident(c.flag)} THEN {d.literal(c.label)} END" for c in row_checks)
    order = f" ORDER BY {row}" if ctx.keep_order else ""
    return {
        "out": f"SELECT {kept} FROM {flagged} WHERE NOT ({any_failed}){order}",
        "rejected": (
            f"SELECT {rejected_columns}concat_ws('; ', {reasons}) AS {reason} FROM {flagged} "
            f"WHERE {any_failed} ORDER BY {row}"
        ),
    }


MODULE = ModuleDef(
    name="quality_check",
    category="transform",
    label="Quality check",
    description="Check rules (not null, unique, accepted values, range, regex, row count); fail, warn "
    "or quarantine failing rows.",
    config_model=QualityCheckConfig,
    multi=True,
    outputs=("out", "rejected"),
    icon="shield-check",
    duckdb=build_duckdb,
    elt=build_elt,
    elt_refusal=elt_refusal,
    row_wise=True,
    subset_rows=True,
)
