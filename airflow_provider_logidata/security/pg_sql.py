"""PostgreSQL SQL written in a pipeline: one SELECT, and no function that reaches beyond the query.

A pipeline editor writes SQL that runs inside PostgreSQL through a connection they may not even be able to
see: a ``source.postgres`` query, and every expression the ELT planner pushes down (``filter_rows``
conditions, ``derive_column`` expressions, ...). PostgreSQL's privileges decide which *tables* that SQL may
read; but a connection that logs in as a superuser (or a member of ``pg_read_server_files``,
``pg_write_server_files``, ``pg_execute_server_program``) may also call functions that read and write the
server's files (``pg_read_file``, ``lo_export``, ``pg_ls_dir``), connect to other servers (``dblink``),
signal other sessions (``pg_terminate_backend``), change the configuration (``set_config``,
``pg_reload_conf``), or run a query given as text that no check here could see (``query_to_xml``,
``ts_stat``). :func:`check_pg_sql` refuses those functions, by name, wherever they appear:

* called (``lo_export(...)``), schema-qualified (``pg_catalog.lo_export(...)``), quoted
  (``"LO_EXPORT"(...)``, ``U&"lo\\005fexport"(...)``), in FROM (``FROM pg_ls_dir('/')``, ``ROWS FROM``),
  nested in CTEs, subqueries, CASE, casts...: every identifier token followed by ``(`` is a call;
* in PostgreSQL's *attribute notation*, which calls a one-argument function without parentheses:
  ``('/etc/passwd'::text).pg_read_file`` is ``pg_read_file('/etc/passwd')``: an identifier after ``.``
  naming a denied function is refused too (families such as ``lo_*`` only by exact name there, so that a
  column ``t.lo_limit`` stays usable).

The check works on sqlglot's tokens (PostgreSQL's lexical rules: E'' strings, dollar quoting, nested
comments, quoted identifiers), so a function name inside a string literal or a comment is not a call, and
on its syntax tree for statements (``kind="query"``: exactly one SELECT; COPY ... PROGRAM, DO, CALL, SET,
ALTER SYSTEM, DML, DDL, SELECT ... INTO and data-modifying CTEs are refused). A query sqlglot cannot parse
is refused: it cannot be checked.

This is one layer of several: source queries and previews also run in a READ ONLY transaction that is
rolled back, under ``statement_timeout`` (see ``engine.pg_connect.confine``), and the README advises
connecting with a least-privilege role. ``pg_sleep`` stays allowed: ``statement_timeout`` bounds it.
Functions a DBA created that wrap a denied one cannot be seen from the query's text: only privileges help
there.

The deny lists (functions, families, relations, and why each is refused) are in ``security.pg_functions``.

Light at import time (sqlglot is imported on first use): the DAG processor imports the validators.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from airflow_provider_logidata.security.errors import PolicyError
from airflow_provider_logidata.security.pg_functions import DENIED_RELATIONS, denied, may_name_a_denied

if TYPE_CHECKING:
    from sqlglot import exp
    from sqlglot.tokens import Token

RULE = "pg-function"

_WORD = re.compile(r"^[^\W\d][\w$]*$")
_TEMPLATE = re.compile(r"\{\{|\{%|\{#")


def check_pg_sql(
    text: str,
    *,
    kind: Literal["query", "expression"],
    dialect: str = "postgres",
    writable: bool | None = None,
) -> None:
    """Refuse PostgreSQL SQL that calls a function reaching the server's files, processes, configuration
    or other servers (:class:`PolicyError`, rule ``pg-function``); ``kind="query"`` also refuses anything
    but one SELECT.

    ``dialect`` is the sqlglot dialect the text is written in (an expression written for DuckDB and pushed
    down after translation is checked in ``duckdb`` at validation and again, translated, in ``postgres``
    when it runs). A query holding Jinja templates (``{{ ds }}``) is checked for functions now and checked
    whole, statement included, once rendered (``engine.pg_read`` checks the rendered query before it
    runs). ``writable``: the SQL may run in a read-write transaction, where ``nextval``/``setval`` are
    refused too (default: expressions yes, queries no, since source queries run read-only; the ELT
    executor passes ``True`` for the source query it pushes into its ``INSERT ... SELECT``).
    """
    if writable is None:
        writable = kind == "expression"
    if kind == "expression" and not may_name_a_denied(text):
        return  # the DAG processor checks every expression at every parse: most name nothing denied
    templated = _TEMPLATE.search(text) is not None
    tokens = _tokens(text, kind=kind, dialect=dialect, strict=not templated)
    if tokens is not None:
        _check_tokens(tokens, kind=kind, writable=writable)
    if kind == "query" and not templated:
        _check_statement(text, dialect=dialect, writable=writable)
    elif kind == "expression" and tokens is not None:
        _check_tree(text, kind=kind, dialect=dialect, writable=writable)


def check_pg_select(query: str, *, writable: bool = False) -> str:
    """``query`` without its trailing ``;`` if it is exactly one SELECT calling no denied function.

    The check of a ``source.postgres`` query (``modules.sources.postgres.check_select``), at validation and
    at run time on the rendered query. Raises :class:`PolicyError` (a ``ValueError``).
    """
    check_pg_sql(query, kind="query", writable=writable)
    return _strip_semicolons(query).rstrip()


# --- tokens -----------------------------------------------------------------------------------------


def _literal_types() -> frozenset[object]:
    from sqlglot.tokens import TokenType

    names = (
        "STRING",
        "BIT_STRING",
        "HEX_STRING",
        "BYTE_STRING",
        "NATIONAL_STRING",
        "NATIONAL_RAW_STRING",
        "RAW_STRING",
        "HEREDOC_STRING",
        "UNICODE_STRING",
        "NUMBER",
    )
    return frozenset(getattr(TokenType, n) for n in names if hasattr(TokenType, n))


def _tokens(text: str, *, kind: str, dialect: str, strict: bool) -> list[Token] | None:
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        return list(sqlglot.tokenize(text, read=dialect))
    except SqlglotError as error:
        if not strict:
            return None  # a template: checked once rendered
        noun = "query" if kind == "query" else "expression"
        raise PolicyError(
            f"the {noun} cannot be read as {dialect} SQL ({_first_line(error)}), so it cannot be checked; "
            f"fix the {noun}",
            rule="pg-syntax",
        ) from None


def _check_tokens(tokens: list[Token], *, kind: str, writable: bool) -> None:
    from sqlglot.tokens import TokenType

    literals = _literal_types()
    for index, token in enumerate(tokens):
        if token.token_type in literals:
            continue
        quoted = token.token_type == TokenType.IDENTIFIER
        if not quoted and not _WORD.match(token.text or ""):
            continue
        # PostgreSQL folds unquoted names to lower case: that is the function called, and named.
        names = [token.text if quoted else token.text.lower()]
        if quoted:
            decoded = _unicode_identifier(tokens, index)
            if decoded is not None:
                names.append(decoded)
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if (
            following is not None
            and following.token_type == TokenType.VAR
            and following.text.upper() == "UESCAPE"
        ):
            following = tokens[index + 3] if index + 3 < len(tokens) else None
        called = following is not None and following.token_type == TokenType.L_PAREN
        after_dot = index > 0 and tokens[index - 1].token_type == TokenType.DOT
        for name in names:
            why = DENIED_RELATIONS.get(name)
            if why is not None and not called:
                raise PolicyError(
                    f"the {'query' if kind == 'query' else 'expression'} reads {name}, which {why}; read "
                    "your own tables (a pipeline's connection should use a role that cannot see it)",
                    rule="pg-relation",
                )
        if not called and not after_dot:
            continue
        for name in names:
            why = denied(name, called=called, writable=writable)
            if why is not None:
                if called:
                    raise _refusal(_qualified(tokens, index, name), why, kind)
                raise _refusal(name, why, kind, f" (written x.{name}, which calls {name}(x))")


def _qualified(tokens: list[Token], index: int, name: str) -> str:
    """``schema.name`` when the call is schema-qualified, for the message."""
    from sqlglot.tokens import TokenType

    if index >= 2 and tokens[index - 1].token_type == TokenType.DOT:
        schema = tokens[index - 2]
        if schema.token_type == TokenType.IDENTIFIER:
            return f'"{schema.text}".{name}'
        if schema.token_type == TokenType.VAR and _WORD.match(schema.text or ""):
            return f"{schema.text.lower()}.{name}"
    return name


def _unicode_identifier(tokens: list[Token], index: int) -> str | None:
    """The name of ``U&"..."`` (PostgreSQL's Unicode escapes, optional ``UESCAPE 'c'``), else ``None``."""
    from sqlglot.tokens import TokenType

    if index < 2:
        return None
    amp, prefix = tokens[index - 1], tokens[index - 2]
    if amp.token_type != TokenType.AMP or (prefix.text or "").upper() != "U":
        return None
    escape = "\\"
    if index + 2 < len(tokens) and (tokens[index + 1].text or "").upper() == "UESCAPE":
        escape = tokens[index + 2].text or "\\"
    return _unescape(tokens[index].text, escape[:1] or "\\")


def _unescape(text: str, escape: str) -> str:
    """PostgreSQL's Unicode escapes: ``<e>XXXX``, ``<e>+XXXXXX``, ``<e><e>`` (``<e>``: the escape)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == escape:
            if text[i + 1 : i + 2] == escape:
                out.append(escape)
                i += 2
                continue
            start, width = (i + 2, 6) if text[i + 1 : i + 2] == "+" else (i + 1, 4)
            digits = text[start : start + width]
            if len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                out.append(chr(min(int(digits, 16), 0x10FFFF)))
                i = start + width
                continue
        out.append(char)
        i += 1
    return "".join(out)


# --- syntax tree ------------------------------------------------------------------------------------


def _check_tree(text: str, *, kind: str, dialect: str, writable: bool) -> None:
    """Function nodes of the parsed text (sqlglot may name a call differently from its token)."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        trees = [tree for tree in sqlglot.parse(text, read=dialect) if tree is not None]
    except SqlglotError:
        return  # an expression sqlglot cannot parse: its tokens were checked; other checks report syntax
    for tree in trees:
        _check_functions(tree, kind=kind, writable=writable)


def _check_functions(tree: exp.Expr, *, kind: str, writable: bool) -> None:
    from sqlglot import exp

    for node in tree.walk():
        if isinstance(node, exp.Anonymous):
            name = str(node.name)
        elif isinstance(node, exp.Func):
            name = node.sql_name()
        else:
            continue
        why = denied(name, writable=writable)
        if why is not None:
            raise _refusal(name.lower(), why, kind)


def _strip_semicolons(query: str) -> str:
    import sqlglot
    from sqlglot.errors import SqlglotError
    from sqlglot.tokens import TokenType

    try:
        tokens = sqlglot.tokenize(query, read="postgres")
    except SqlglotError:
        return query
    while tokens and tokens[-1].token_type == TokenType.SEMICOLON:  # trailing ``;`` are fine
        query = query[: tokens.pop().start]
    return query


def _check_statement(query: str, *, dialect: str, writable: bool) -> None:
    """Exactly one SELECT (VALUES, set operations, WITH ... SELECT): no other statement, no INTO, no DML."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    body = _strip_semicolons(query)
    try:
        statements = [s for s in sqlglot.parse(body, dialect=dialect) if s is not None]
    except SqlglotError as error:
        raise PolicyError(
            f"query is not valid PostgreSQL SQL: {_parse_error(error)}; fix the query", rule="pg-syntax"
        ) from None
    if len(statements) != 1:
        raise PolicyError(
            f"query must be exactly one SELECT statement, found {len(statements)} statements; "
            "keep a single SELECT",
            rule="pg-statement",
        )
    statement = statements[0]
    if not isinstance(statement, (exp.Query, exp.Values)):
        if isinstance(statement, exp.Command):
            shown = str(statement.this).upper()
            if shown == "ALTER" and str(statement.expression or "").strip().upper().startswith("SYSTEM"):
                shown = "ALTER SYSTEM"
        else:
            shown = type(statement).__name__.upper()
        raise PolicyError(
            f"query must be a SELECT, not {shown}; sources only read (write with a destination)",
            rule="pg-statement",
        )
    if statement.args.get("into") is not None:
        raise PolicyError(
            "query must not use SELECT ... INTO (it creates a table); remove INTO", rule="pg-statement"
        )
    writes = tuple(
        cls
        for cls in (getattr(exp, n, None) for n in ("Insert", "Update", "Delete", "Merge", "Copy"))
        if isinstance(cls, type)
    )
    if writes and any(True for _ in statement.find_all(*writes)):
        raise PolicyError(
            "query must only read: remove INSERT/UPDATE/DELETE from its WITH clauses", rule="pg-statement"
        )
    _check_functions(statement, kind="query", writable=writable)


# --- messages ---------------------------------------------------------------------------------------


def _refusal(name: str, why: str, kind: str, how: str = "") -> PolicyError:
    noun = "query" if kind == "query" else "expression"
    return PolicyError(
        f"function {name}(){how} is not allowed in a pipeline's PostgreSQL SQL: it {why}. Remove it from the "
        f"{noun}; a pipeline may only read and transform data (read files with a file source, and connect "
        "with a least-privilege role, not a superuser)",
        rule=RULE,
    )


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


def _parse_error(error: Exception) -> str:
    """sqlglot's first error as ``line L, column C: description`` (its own text embeds token dumps)."""
    details = getattr(error, "errors", None)
    if details:
        first = details[0]
        description = str(first.get("description") or "syntax error").split(" but got <Token")[0]
        return f"line {first.get('line')}, column {first.get('col')}: {description}"
    return _first_line(error)
