"""Transforms compile to SQL: one builder per module, ``build(ctx, input_relation, columns) -> SELECT``.

A builder returns a single SELECT over ``input_relation`` (a registered input or the view of the previous
step), so a chain of transforms becomes stacked views that DuckDB optimises and streams as one query, and
the same SQL can later be pushed down to a database (ELT). Builders may run cheap pre-queries through
``ctx`` (a failing-value count for casts and date parsing, a format check); they never materialise data.

Every identifier goes through ``quote_ident`` and every text through ``quote_literal``. The builders
live in their module's file (``modules/transforms/<name>.py``); this module holds what they share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_logidata.engine import duck
from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.sql import Columns, quote_ident, resolve_column
from airflow_provider_logidata.modules.base import ModuleConfig

if TYPE_CHECKING:
    import duckdb

    from airflow_provider_logidata.engine.logs import TaskLog

C = TypeVar("C", bound=ModuleConfig)

EXAMPLES = 5


@dataclass
class TransformContext:
    """What a builder may use: the node, its validated config and the connection for pre-queries."""

    con: duckdb.DuckDBPyConnection
    module: str
    node_id: str
    config: ModuleConfig
    log: TaskLog
    # Set by a chain: failing-value checks under ``on_error = fail`` are not run up front (a full scan
    # of the input) but collected here; the step's SQL fails on the first bad value by itself, and only
    # then does the chain run them, for the message with counts and examples.
    deferred: list[Callable[[], None]] | None = None
    # Whether reading the input relation again only scans stored data (a staged file or a temporary
    # table), not computing earlier steps once more: builders may then read it several times.
    rescan_is_cheap: bool = False
    # When set, the CREATE statements builders run (temporary views and tables their SELECT reads), so
    # column lineage can follow them (``schema.lineage.temp_views``).
    created: list[str] | None = None

    @property
    def owner(self) -> str:
        return node_label(self.module, self.node_id)

    def typed_config(self, model: type[C]) -> C:
        if not isinstance(self.config, model):
            raise TypeError(f"{self.owner}: expected a {model.__name__}, got {type(self.config).__name__}")
        return self.config

    def error(self, message: str) -> LogiDataTaskError:
        return LogiDataTaskError(f"{self.owner}: {message}")

    def column(self, name: str, columns: Columns) -> tuple[str, str]:
        return resolve_column(name, columns, owner=self.owner)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.created is not None and sql.lstrip()[:6].upper() == "CREATE":
            self.created.append(sql)
        return duck.fetch_all(self.con, sql)

    def value(self, sql: str) -> Any:
        return duck.fetch_value(self.con, sql)


TransformBuilder = Callable[[TransformContext, str, Columns], str]

# --- failing-value checks shared by casts and date parsing ------------------------------------------


@dataclass(frozen=True)
class BadValueCheck:
    """Values of ``column`` for which ``bad_when`` (SQL) is true cannot be converted; ``problem`` says why."""

    column: str
    bad_when: str
    problem: str


def check_bad_values(
    ctx: TransformContext, relation: str, checks: Sequence[BadValueCheck], *, on_error: str, fix: str
) -> None:
    """Count unconvertible values per column in one scan; fail with examples, or log what becomes null.

    Inside a chain (``ctx.deferred`` set) a ``fail`` check is only recorded: the step's SQL must then
    fail by itself on a bad value (a ``CAST``, or an ``error()`` guard), and the chain runs the check
    after such a failure to name the column, the count and examples. No scan happens otherwise.
    """
    if not checks:
        return
    if on_error == "fail" and ctx.deferred is not None:
        deferred, now = ctx.deferred, replace(ctx, deferred=None)
        deferred.append(lambda: check_bad_values(now, relation, checks, on_error=on_error, fix=fix))
        return
    counts = ctx.rows(
        "SELECT " + ", ".join(f"count(*) FILTER (WHERE {c.bad_when})" for c in checks) + f" FROM {relation}"
    )[0]
    failures = []
    for check, count in zip(checks, counts, strict=True):
        if not count:
            continue
        if on_error == "null":
            ctx.log.warning(
                f"{ctx.owner}: {count} value(s) in column {check.column!r} {check.problem}; "
                "they become null (on_error = null)"
            )
            continue
        examples = _examples(ctx, relation, check)
        failures.append(
            f"column {check.column!r}: {count} value(s) {check.problem}, e.g. "
            + ", ".join(repr(example) for example in examples)
        )
    if failures:
        raise ctx.error("; ".join(failures) + f". {fix}")


def _examples(ctx: TransformContext, relation: str, check: BadValueCheck) -> list[str]:
    """Up to five distinct failing values, in input order."""
    value = f"CAST({quote_ident(check.column)} AS VARCHAR)"
    rows = ctx.rows(f"SELECT {value} FROM {relation} WHERE {check.bad_when} LIMIT 100")
    examples: list[str] = []
    for (value,) in rows:
        if value not in examples:
            examples.append(value)
        if len(examples) == EXAMPLES:
            break
    return examples


__all__ = [
    "BadValueCheck",
    "TransformBuilder",
    "TransformContext",
    "check_bad_values",
]
