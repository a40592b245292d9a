"""Validation of user-written SQL before anything runs: conditions (``filter_rows``, ``route``),
expressions (``derive_column``) and whole queries (the ``sql`` module, :func:`validate_query`).

A condition is parsed with sqlglot (DuckDB dialect) and accepted only if it is exactly one scalar
expression: no statements, no ``;``, no subqueries or ``SELECT``, no table functions, no parameters, and
every column it mentions exists in the input. The SQL that runs is regenerated from the checked syntax
tree, so what was validated is exactly what DuckDB executes. (DuckDB additionally runs transforms with
external access disabled, so even a missed file function could not touch the disk.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.sql import Columns, column_names

if TYPE_CHECKING:
    from collections.abc import Sequence

DIALECT = "duckdb"


def parse_message(error: SqlglotError) -> str:
    """Where the text stops making sense, in a user's words: sqlglot's own description names parser
    classes (``Required keyword: 'expression' missing for <class ...BitwiseRightShift>``)."""
    details = getattr(error, "errors", None) or []
    if not details:
        text = str(error).splitlines()[0]
        return text if "<class" not in text else "the text is not valid SQL"
    first = details[0]
    near = (str(first.get("highlight") or "") + str(first.get("end_context") or "")).strip()
    description = str(first.get("description") or "")
    if "<class" in description or not description:
        description = "the expression is incomplete or has an operator without an operand"
    where = f"line {first.get('line')}, column {first.get('col')}"
    return f"{description} near {near!r} ({where})" if near else f"{description} ({where})"


def _classes(*names: str) -> tuple[type[exp.Expr], ...]:
    """sqlglot expression classes by name, skipping any this sqlglot version does not have.

    ``exp.Expr`` is the root of every node; mixins such as ``DDL`` and ``DML`` derive from it, not
    from ``exp.Expression``.
    """
    found = (getattr(exp, name, None) for name in names)
    return tuple(cls for cls in found if isinstance(cls, type) and issubclass(cls, exp.Expr))


# Statement nodes no expression or query over the inputs may contain.
_STATEMENT_NODES = (
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
)
# Nodes that make an expression more than a row-level condition.
_FORBIDDEN = _classes(
    "Query",
    "Subquery",
    "Exists",
    "Star",
    "Table",
    "ReadCSV",
    "ReadParquet",
    *_STATEMENT_NODES,
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


def _in_window(node: exp.Expr) -> bool:
    """``sum(x) OVER (...)``, possibly through ``FILTER (WHERE ...)`` or ``IGNORE NULLS``."""
    parent = node.parent
    while isinstance(parent, _classes("Filter", "IgnoreNulls", "RespectNulls")):
        parent = parent.parent
    return isinstance(parent, exp.Window)


def validate_condition(condition: str, columns: Columns, *, owner: str) -> str:
    """Check a boolean SQL expression against the input columns; return the SQL to run.

    ``owner`` names the node in messages, e.g. ``filter_rows node 'drop_tests'``.
    """
    return validate_expression(
        condition,
        columns,
        owner=owner,
        noun="condition",
        fix="write one boolean expression over the input columns, e.g. amount > 0 AND status <> 'test'",
    )


def validate_expression(
    text: str,
    columns: Columns,
    *,
    owner: str,
    noun: str = "expression",
    fix: str = "write one SQL expression over the input columns, e.g. price * quantity",
    aggregates: bool = True,
) -> str:
    """Check one scalar SQL expression (a filter condition, a derived column) and return the SQL to run.

    ``noun`` is how messages call the text (``condition``, ``expression``); ``fix`` ends every message.
    With ``aggregates=False`` an aggregate function outside a window (``sum(x)`` but not
    ``sum(x) OVER ()``) is refused: a per-row expression cannot summarise rows.
    """
    article = "an" if noun[:1] in "aeiou" else "a"
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    except SqlglotError as error:
        raise LogiDataTaskError(f"{owner}: cannot read the {noun}: {error}; {fix}") from None
    if any(token.token_type == TokenType.SEMICOLON for token in tokens):
        raise LogiDataTaskError(
            f"{owner}: the {noun} contains ';' (two statements?); it must be a single expression: {fix}"
        )
    try:
        parsed = [node for node in sqlglot.parse(text, read=DIALECT) if node is not None]
    except SqlglotError as error:
        raise LogiDataTaskError(f"{owner}: cannot parse the {noun}: {parse_message(error)}; {fix}") from None
    if len(parsed) != 1:
        raise LogiDataTaskError(
            f"{owner}: the {noun} must be exactly one expression, found {len(parsed)}; {fix}"
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
            raise LogiDataTaskError(f"{owner}: {what} in the {noun} ({_describe(node)}); {fix}")
        name = _function_name(node)
        if name in _FORBIDDEN_FUNCTIONS:
            raise LogiDataTaskError(f"{owner}: function {name}() is not allowed in {article} {noun}; {fix}")
        if not aggregates and isinstance(node, exp.AggFunc) and not _in_window(node):
            raise LogiDataTaskError(
                f"{owner}: aggregate function {name or _describe(node)}() is not allowed in {article} {noun} "
                "(it computes one value per row); add a window such as OVER () or use the aggregate module"
            )
    if not isinstance(tree, exp.Condition):
        raise LogiDataTaskError(f"{owner}: the {noun} is not an expression ({_describe(tree)}); {fix}")

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
            else:
                from airflow_provider_logidata.schema.fields import closest

                near = closest(head, [name for name, _ in columns])
                hint = f"; did you mean {' or '.join(map(repr, near))}?" if near else ""
            raise LogiDataTaskError(
                f"{owner}: unknown column {head!r} in {noun}; input columns: {column_names(columns)}{hint}"
            )
    return tree.sql(dialect=DIALECT)


# --- whole queries (the ``sql`` module) ------------------------------------------------------------------

# Table functions a query may use in FROM: they generate rows and touch nothing outside the query.
_ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
# Function name prefixes that read files, databases or DuckDB's own state (``parquet_metadata``,
# ``duckdb_settings``, ``pragma_version``, ``sqlite_scan``, ...): refused anywhere in a query.
_FORBIDDEN_PREFIXES = (
    "read_",
    "parquet_",
    "duckdb_",
    "pragma_",
    "sqlite_",
    "postgres_",
    "mysql_",
    "iceberg_",
    "delta_",
    "sniff_",
    "which_secret",
    "load_",
)
# Nodes that make a query more than a read of the inputs.
_FORBIDDEN_IN_QUERY = _classes(
    "Copy",
    "Into",
    *_STATEMENT_NODES,
)


def _statement_kind(tree: exp.Expr) -> str:
    if isinstance(tree, exp.Command):
        return str(tree.this).upper()
    return tree.key.upper()


def validate_query(query: str, tables: Sequence[str], *, owner: str) -> str:
    """Check a whole SELECT written by a user (the ``sql`` module); return the SQL to run.

    Accepted: exactly one statement that is a ``SELECT`` (with ``WITH`` or not) or a set operation
    (``UNION [ALL] [BY NAME]``, ``INTERSECT``, ``EXCEPT``), reading only ``tables`` (the node's inputs)
    and its own CTEs. Refused: any other statement (COPY, ATTACH, PRAGMA, INSTALL/LOAD, SET, DML, DDL),
    table functions other than ``range``/``generate_series``/``unnest``, functions that read files or
    the environment, schema-qualified tables, parameters. The SQL that runs is regenerated from the
    checked syntax tree; DuckDB also runs it with external access disabled.
    """
    shown_tables = ", ".join(tables) or "(none)"
    fix = f"write one SELECT over the inputs ({shown_tables})"
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(query)
    except SqlglotError as error:
        raise LogiDataTaskError(f"{owner}: cannot read the SQL: {error}; {fix}") from None
    try:
        parsed = [node for node in sqlglot.parse(query, read=DIALECT) if node is not None]
    except SqlglotError as error:
        raise LogiDataTaskError(f"{owner}: cannot parse the SQL: {parse_message(error)}; {fix}") from None
    if not tokens or not parsed:
        raise LogiDataTaskError(f"{owner}: the SQL is empty; {fix}")
    if len(parsed) != 1:
        raise LogiDataTaskError(
            f"{owner}: the SQL must be exactly one statement, found {len(parsed)}; remove the extra "
            f"statements and {fix}"
        )
    tree = parsed[0]
    query_tree = tree.unnest() if isinstance(tree, exp.Subquery) else tree
    if not isinstance(query_tree, exp.Select | exp.SetOperation):
        raise LogiDataTaskError(
            f"{owner}: only a SELECT query is allowed, not {_statement_kind(query_tree)} "
            f"({_describe(tree)}); {fix}"
        )
    known = {name.lower() for name in tables}
    known.update(str(cte.alias).lower() for cte in tree.find_all(exp.CTE))
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_IN_QUERY):
            if isinstance(node, exp.Placeholder | exp.Parameter | exp.SessionParameter):
                what = "parameters are not allowed"
            else:
                what = f"{_statement_kind(node)} is not allowed inside a query"
            raise LogiDataTaskError(f"{owner}: {what} ({_describe(node)}); {fix}")
        if isinstance(node, exp.Table):
            _check_table(node, known, owner=owner, fix=fix, shown_tables=shown_tables)
            continue
        name = _function_name(node)
        if name and (name in _FORBIDDEN_FUNCTIONS or name.startswith(_FORBIDDEN_PREFIXES)):
            raise LogiDataTaskError(
                f"{owner}: function {name}() is not allowed: the SQL may read only its inputs; {fix}"
            )
    return tree.sql(dialect=DIALECT)


def _check_table(node: exp.Table, known: set[str], *, owner: str, fix: str, shown_tables: str) -> None:
    target = node.this
    if not isinstance(target, exp.Identifier):
        name = _function_name(target) or _describe(target)
        if name in _ALLOWED_TABLE_FUNCTIONS or isinstance(target, exp.GenerateSeries | exp.Unnest):
            return
        raise LogiDataTaskError(
            f"{owner}: table function {name}() is not allowed: the SQL may read only its inputs "
            "(no files, databases or settings); "
            f"{fix}"
        )
    if node.args.get("db") or node.args.get("catalog"):
        raise LogiDataTaskError(
            f"{owner}: table {_describe(node)!r} names a schema or database; refer to the inputs by their "
            f"plain names; {fix}"
        )
    if str(node.name).lower() not in known:
        raise LogiDataTaskError(
            f"{owner}: unknown table {node.name!r}; the SQL may read only its inputs: {shown_tables} "
            "(and its own WITH names)"
        )
