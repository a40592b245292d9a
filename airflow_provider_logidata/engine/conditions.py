"""Validation of user-written SQL conditions (``filter_rows``) before anything runs.

A condition is parsed with sqlglot (DuckDB dialect) and accepted only if it is exactly one scalar
expression: no statements, no ``;``, no subqueries or ``SELECT``, no table functions, no parameters, and
every column it mentions exists in the input. The SQL that runs is regenerated from the checked syntax
tree, so what was validated is exactly what DuckDB executes. (DuckDB additionally runs transforms with
external access disabled, so even a missed file function could not touch the disk.)
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.sql import Columns, column_names

DIALECT = "duckdb"


def _classes(*names: str) -> tuple[type[exp.Expression], ...]:
    """sqlglot expression classes by name, skipping any this sqlglot version does not have."""
    found = (getattr(exp, name, None) for name in names)
    return tuple(cls for cls in found if isinstance(cls, type) and issubclass(cls, exp.Expression))


# Nodes that make an expression more than a row-level condition.
_FORBIDDEN = _classes(
    "Query",
    "Subquery",
    "Exists",
    "DDL",
    "DML",
    "Command",
    "Drop",
    "Alter",
    "Pragma",
    "Set",
    "Use",
    "Attach",
    "Detach",
    "Export",
    "Transaction",
    "Commit",
    "Rollback",
    "Describe",
    "Summarize",
    "Install",
    "Placeholder",
    "Parameter",
    "SessionParameter",
    "Star",
    "Table",
    "ReadCSV",
    "ReadParquet",
)
# Functions that read tables or files, expand column sets, or reveal the environment.
_FORBIDDEN_FUNCTIONS = frozenset(
    {
        "read_csv",
        "read_csv_auto",
        "read_parquet",
        "parquet_scan",
        "read_json",
        "read_json_auto",
        "read_ndjson",
        "read_ndjson_auto",
        "read_json_objects",
        "read_text",
        "read_blob",
        "glob",
        "query",
        "query_table",
        "sniff_csv",
        "columns",
        "unpack",
        "getenv",
        "current_setting",
    }
)


def _describe(node: exp.Expr) -> str:
    text = node.sql(dialect=DIALECT)
    return text if len(text) <= 80 else text[:77] + "..."


def _function_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return ""


def _compared_with_column(column: exp.Column, known: set[str]) -> bool:
    """``status = shipped``: an unknown bare word compared with a known column is probably a text value."""
    parent = column.parent
    if isinstance(parent, exp.Binary) and not column.this.args.get("quoted"):
        other = parent.expression if parent.this is column else parent.this
        return isinstance(other, exp.Column) and str(other.name).lower() in known
    return False


def validate_condition(condition: str, columns: Columns, *, owner: str) -> str:
    """Check a boolean SQL expression against the input columns; return the SQL to run.

    ``owner`` names the node in messages, e.g. ``filter_rows node 'drop_tests'``.
    """
    fix = "write one boolean expression over the input columns, e.g. amount > 0 AND status <> 'test'"
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(condition)
    except SqlglotError as error:
        raise LogiDataTaskError(f"{owner}: cannot read the condition: {error}; {fix}") from None
    if any(token.token_type == TokenType.SEMICOLON for token in tokens):
        raise LogiDataTaskError(
            f"{owner}: the condition contains ';' (two statements?); it must be a single expression: {fix}"
        )
    try:
        parsed = [node for node in sqlglot.parse(condition, read=DIALECT) if node is not None]
    except SqlglotError as error:
        message = str(error).splitlines()[0]
        raise LogiDataTaskError(f"{owner}: cannot parse the condition: {message}; {fix}") from None
    if len(parsed) != 1:
        raise LogiDataTaskError(
            f"{owner}: the condition must be exactly one expression, found {len(parsed)}; {fix}"
        )
    tree = parsed[0]
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN):
            if isinstance(node, exp.Query | exp.Subquery | exp.Exists):
                what = "subqueries and SELECT are not allowed"
            elif isinstance(node, exp.Star):
                what = "'*' is not allowed"
            elif isinstance(node, exp.Placeholder | exp.Parameter | exp.SessionParameter):
                what = "parameters are not allowed"
            else:
                what = "statements and table references are not allowed"
            raise LogiDataTaskError(f"{owner}: {what} in the condition ({_describe(node)}); {fix}")
        name = _function_name(node)
        if name in _FORBIDDEN_FUNCTIONS:
            raise LogiDataTaskError(f"{owner}: function {name}() is not allowed in a condition; {fix}")
    if not isinstance(tree, exp.Condition):
        raise LogiDataTaskError(f"{owner}: the condition is not an expression ({_describe(tree)}); {fix}")

    lambda_params = {
        str(param.name).lower() for lam in tree.find_all(exp.Lambda) for param in lam.expressions
    }
    known = {name.lower() for name, _ in columns}
    for column in tree.find_all(exp.Column):
        parts = [str(part.name) for part in column.parts]
        # ``s.field`` is struct access when ``s`` is an input column; anything else is a table reference.
        head = parts[0]
        if len(parts) == 1 and head.lower() in lambda_params:
            continue
        if head.lower() not in known:
            hint = ""
            if len(parts) == 1 and _compared_with_column(column, known):
                hint = f" (a text value needs single quotes: '{head}')"
            raise LogiDataTaskError(
                f"{owner}: unknown column {head!r} in condition; input columns: {column_names(columns)}{hint}"
            )
    return tree.sql(dialect=DIALECT)
