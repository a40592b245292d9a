"""PostgreSQL as an ELT dialect (``engine.dialects.base.SqlDialect``): where its SQL and DuckDB's differ.

Every difference the ELT parity suite (``tests/integration/test_elt_parity.py``) found between the two
engines is settled here, not in the modules' builders:

- text is ordered and compared by code point (``COLLATE "C"``), as DuckDB does;
- ``upper``/``lower`` map one code point to one, as DuckDB's do (PostgreSQL's ICU collations use full case
  mapping, ``'ß'`` to ``'SS'``): :func:`case_function`;
- ``TRY_CAST`` from text, DuckDB's DOUBLE-to-DECIMAL cast (PostgreSQL rounds through 15 digits first) and
  ``strptime`` (``postgres_strptime``) are ``pg_temp`` functions created on first use in the load's session;
- the user's DuckDB expressions are translated by sqlglot (:func:`to_postgres`).

Identifiers go through ``quote_ident``, texts through ``quote_literal``. psycopg and sqlglot are imported
when a statement is compiled, not when the DAG processor asks for a refusal.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.engine.dialects.base import SqlDialect
from airflow_provider_logidata.engine.sql import quote_ident, quote_literal

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_logidata.engine.elt_context import Described, EltContext

_INTEGER_TYPES = ("smallint", "integer", "bigint")
_FLOAT_TYPES = ("real", "double precision")
_TEXT_TYPES = ("text", "character varying", "character", "varchar", "bpchar")


def base_type(type_sql: str) -> str:
    return type_sql.split("(")[0].strip().lower()


def is_text(type_sql: str) -> bool:
    return base_type(type_sql) in _TEXT_TYPES


def is_integer(type_sql: str) -> bool:
    return base_type(type_sql) in _INTEGER_TYPES


def is_numeric(type_sql: str) -> bool:
    base = base_type(type_sql)
    return base in _INTEGER_TYPES or base in _FLOAT_TYPES or base in ("numeric", "decimal")


def is_temporal(type_sql: str) -> bool:
    return base_type(type_sql) in (
        "date",
        "timestamp without time zone",
        "timestamp with time zone",
        "timestamp",
    )


def is_decimal(type_sql: str) -> bool:
    return base_type(type_sql) in ("numeric", "decimal")


def check_pushed(ctx: EltContext, sql_text: str, what: str) -> None:
    """The PostgreSQL form of a user's condition or expression, checked before it is put into SQL."""
    from airflow_provider_logidata.security.pg_sql import check_pg_sql

    try:
        check_pg_sql(sql_text, kind="expression", dialect="postgres")
    except ValueError as error:
        raise ctx.error(f"{what}: {error}") from None


def try_cast(ctx: EltContext, text_sql: str, target: str) -> str:
    """SQL converting text to ``target`` as DuckDB's TRY_CAST does, null when it cannot."""
    base = base_type(target)
    value = "v"
    guard = None
    if base in _INTEGER_TYPES:
        value = "round(v::numeric)"  # DuckDB accepts '3.5' and rounds it (half away from zero)
    elif base == "date":
        guard = r"^\s*-?\d{1,}-\d{1,2}-\d{1,2}\s*$"
    elif base in ("timestamp", "timestamp without time zone"):
        guard = r"^\s*-?\d{1,}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{1,2}(:\d{1,2}(\.\d+)?)?)?\s*$"
    name = "logidata_try_" + hashlib.sha1(target.encode()).hexdigest()[:12]
    body = f"RETURN ({value})::{target};"
    if guard is not None:
        body = f"IF v !~ {quote_literal(guard)} THEN RETURN NULL; END IF; " + body
    create = (
        f"CREATE OR REPLACE FUNCTION pg_temp.{name}(v text) RETURNS {target} LANGUAGE plpgsql "
        f"IMMUTABLE AS $logidata$ BEGIN {body} EXCEPTION WHEN others THEN RETURN NULL; END "
        "$logidata$"
    )
    return f"{ctx.function(name, create)}({text_sql})"


def collated(column: str, pg_type: str) -> str:
    """DuckDB compares text by code point: PostgreSQL's "C" collation."""
    return f'{column} COLLATE "C"' if is_text(pg_type) else column


# PostgreSQL encodings (``server_encoding``) as Python codecs, for the characters a helper may hold.
_PY_ENCODINGS = {"UTF8": "utf-8", "SQL_ASCII": "ascii", "LATIN1": "latin-1", "WIN1252": "cp1252"}


def duck_case_pairs(kind: str, encoding: str = "utf-8") -> tuple[str, str]:
    """Every character DuckDB's ``upper``/``lower`` changes and what it becomes, as two strings for
    ``translate``: DuckDB maps case one code point to one (``'ß'`` to ``'ẞ'``, ``'İ'`` to ``'i'``), where
    PostgreSQL's ICU collations use full case mapping (``'STRASSE'``) and libc's C locale changes ASCII
    only. Read from the installed DuckDB, so both engines follow the same Unicode tables; characters
    the database's encoding cannot hold are left out (no such text can reach it)."""
    import duckdb

    assert kind in ("upper", "lower")
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT chr(cp::INTEGER), {kind}(chr(cp::INTEGER)) FROM range(1, 1114112) AS t(cp) "
            f"WHERE (cp < 55296 OR cp > 57343) AND {kind}(chr(cp::INTEGER)) <> chr(cp::INTEGER)"
        ).fetchall()
    source, target = [], []
    for before, after in rows:
        if len(after) != 1:
            continue  # not one to one: no translate() form (none in DuckDB 2.0)
        try:
            (before + after).encode(encoding)
        except UnicodeEncodeError:
            continue
        source.append(before)
        target.append(after)
    return "".join(source), "".join(target)


def to_postgres(ctx: EltContext, expression: str, relation: str | None = None, what: str = "") -> str:
    """A checked DuckDB expression (a condition, a derived column) as PostgreSQL's SQL, by sqlglot, with
    ``upper``/``lower`` calls made DuckDB's (:func:`case_function`) and, given the ``relation`` it reads
    (aliased ``s``), text compared by code point (:func:`_code_point_order`). Raises sqlglot's errors;
    ``what`` names the expression in a refusal."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(expression, read="duckdb")
    for node in list(tree.find_all(exp.Lower, exp.Upper)):
        schema, name = case_function(ctx, "upper" if isinstance(node, exp.Upper) else "lower").split(".")
        call = exp.Dot(
            this=exp.to_identifier(schema), expression=exp.Anonymous(this=name, expressions=[node.this])
        )
        tree = call if node is tree else tree
        node.replace(call)
    if relation is not None:
        # Operands are typed by PostgreSQL: the policy sees the whole expression before any of it is sent.
        check_pushed(ctx, tree.sql(dialect="postgres"), what or f"the expression {expression!r}")
        _code_point_order(ctx, tree, relation)
        tree = _exact_decimal_casts(ctx, tree, relation)
    return tree.sql(dialect="postgres")


def _operand_type(ctx: EltContext, operand: Any, relation: str) -> str | None:
    """PostgreSQL's type of one operand over ``relation`` (aliased ``s``), or ``None`` when it cannot
    type it alone."""
    from airflow_provider_logidata.engine.elt_context import describe
    from airflow_provider_logidata.engine.errors import LogiDataTaskError

    try:
        (described,) = describe(
            ctx.con, f"SELECT ({operand.sql(dialect='postgres')}) AS v FROM {relation} AS s", owner=ctx.owner
        )
    except (LogiDataTaskError, ValueError):
        return None
    return described.type_sql


# DuckDB's DECIMAL without a precision and scale.
_DUCK_DECIMAL = (18, 3)


def _exact_decimal_casts(ctx: EltContext, tree: Any, relation: str) -> Any:
    """A DOUBLE or REAL cast to DECIMAL(p,s) as DuckDB casts it (:func:`double_to_decimal`), not through
    PostgreSQL's float8-to-numeric cast, which rounds to 15 significant digits first (1.255, held as
    1.25499999..., becomes 1.26 there and 1.25 in DuckDB)."""
    from sqlglot import exp

    for node in list(tree.find_all(exp.Cast)):
        target = node.to
        if not isinstance(target, exp.DataType) or target.this != exp.DataType.Type.DECIMAL:
            continue
        params = [p.this for p in target.expressions if isinstance(p, exp.DataTypeParam)]
        if params and not all(isinstance(p, exp.Literal) and p.is_int for p in params):
            continue
        digits = [int(p.this) for p in params] if params else list(_DUCK_DECIMAL)
        precision, scale = digits[0], digits[1] if len(digits) > 1 else 0
        operand_type = _operand_type(ctx, node.this, relation)
        if operand_type not in ("double precision", "real"):
            continue
        operand = node.this.copy()
        if operand_type == "real":  # widened exactly; DuckDB's FLOAT cast computes on the double too
            operand = exp.Cast(this=operand, to=exp.DataType.build("DOUBLE"))
        schema, name = double_to_decimal(ctx).split(".")
        call = exp.Dot(
            this=exp.to_identifier(schema),
            expression=exp.Anonymous(this=name, expressions=[operand, exp.Literal.number(scale)]),
        )
        exact = exp.Cast(this=call, to=exp.DataType.build(f"DECIMAL({precision}, {scale})"))
        if node is tree:
            tree = exact
        else:
            node.replace(exact)
    return tree


def double_to_decimal(ctx: EltContext) -> str:
    """``pg_temp.logidata_f8_decimal(v, s)``: DuckDB's DOUBLE-to-DECIMAL cast in PostgreSQL (created on
    first use): ``v * 10^s`` as a double, rounded half away from zero on the double, and only that
    integer made numeric exactly (past bigint as its binary mantissa times a power of two), shifted by
    ``s`` places; NaN and infinities fail, as DuckDB's cast does. A REAL operand is widened to double
    first (exact), as DuckDB's FLOAT-to-DECIMAL cast computes on the double. Used by pushed casts and by
    ``fill_nulls``' decimal mean."""
    name = "logidata_f8_decimal"
    create = (
        f"CREATE OR REPLACE FUNCTION pg_temp.{name}(v double precision, s integer) RETURNS numeric "
        "LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $logidata$ DECLARE x double precision; "
        "r double precision; m double precision; e integer; BEGIN IF v IS NULL THEN RETURN NULL; END IF; "
        "IF v = 'NaN'::float8 OR v = 'Infinity'::float8 OR v = '-Infinity'::float8 THEN "
        "RAISE EXCEPTION 'Could not cast value % to DECIMAL with scale %', v, s "
        "USING ERRCODE = '22003'; END IF; "
        "x := v * CAST('1e' || s AS double precision); "
        "r := trunc(x) + CASE WHEN abs(x - trunc(x)) >= 0.5 THEN sign(x) ELSE 0 END; "
        "IF abs(r) < 9e18 THEN RETURN CAST(CAST(CAST(r AS bigint) AS text) || 'e-' || s AS numeric); "
        "END IF; "
        # Past bigint: the double is m * 2^e with |m| < 2^53 (halving is exact), and numeric's power of
        # two is exact, where float8-to-numeric would keep 15 digits.
        "m := r; e := 0; WHILE abs(m) >= 9007199254740992 LOOP m := m / 2; e := e + 1; END LOOP; "
        "RETURN CAST(CAST(CAST(m AS bigint) * power(CAST(2 AS numeric), e) AS text) || 'e-' || s "
        "AS numeric); "
        "END $logidata$"
    )
    return ctx.function(name, create)


def _code_point_order(ctx: EltContext, tree: Any, relation: str) -> None:
    """DuckDB orders text by code point ('B' < 'a'); PostgreSQL by the database's collation, where a
    language collation puts 'a' before 'B'. Every text operand of an ordering (``<``, ``BETWEEN``,
    ``min``/``max``, ``greatest``/``least``, a window's ``ORDER BY``) gets ``COLLATE "C"``; an operand's
    type is asked of PostgreSQL (an operand it cannot type alone is left as it is)."""
    from sqlglot import exp

    operands: list[exp.Expression] = []
    for node in tree.find_all(exp.LT, exp.LTE, exp.GT, exp.GTE):
        operands += [node.left, node.right]
    for node in tree.find_all(exp.Between):
        operands += [node.this, node.args.get("low"), node.args.get("high")]
    for node in tree.find_all(exp.Max, exp.Min, exp.Ordered):
        operands.append(node.this)
    for node in tree.find_all(exp.Greatest, exp.Least):
        operands += [node.this, *node.expressions]
    for operand in operands:
        if operand is None or isinstance(operand, exp.Literal | exp.Collate | exp.Null):
            continue
        type_sql = _operand_type(ctx, operand, relation)
        if type_sql is not None and is_text(type_sql):
            operand.replace(
                exp.Collate(this=operand.copy(), expression=exp.Identifier(this="C", quoted=True))
            )


def case_function(ctx: EltContext, kind: str) -> str:
    """``pg_temp.logidata_<kind>``: DuckDB's ``upper`` or ``lower`` inside PostgreSQL (created on first
    use). ASCII-only text (as many bytes as characters) takes PostgreSQL's own, under the "C" collation;
    other text is translated character by character with :func:`duck_case_pairs`."""
    name = f"logidata_{kind}"
    if name in ctx.helpers:
        return f"pg_temp.{name}"
    server = str(ctx.con.execute("SHOW server_encoding").fetchone()[0])  # type: ignore[index]
    encoding = _PY_ENCODINGS.get(server.upper(), "ascii")
    source, target = duck_case_pairs(kind, encoding)
    translated = f"translate(v, {quote_literal(source)}, {quote_literal(target)})"
    if encoding == "utf-8":  # one byte per character: ASCII only
        translated = (
            f'CASE WHEN octet_length(v) = char_length(v) THEN {kind}(v COLLATE "C") ELSE {translated} END'
        )
    create = (
        f"CREATE OR REPLACE FUNCTION pg_temp.{name}(v text) RETURNS text LANGUAGE sql IMMUTABLE "
        f"PARALLEL SAFE AS $logidata$ SELECT {translated} $logidata$"
    )
    return ctx.function(name, create)


# DuckDB's cast targets (``engine.sql.CAST_TYPES``) as PostgreSQL types.
_FROM_DUCK = {
    "VARCHAR": "text",
    "BIGINT": "bigint",
    "DOUBLE": "double precision",
    "DECIMAL(38,9)": "numeric(38,9)",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp without time zone",
}


class PostgresDialect(SqlDialect):
    name = "postgres"
    label = "PostgreSQL"
    sqlglot = "postgres"
    double = "double precision"
    date = "date"
    timestamp = "timestamp without time zone"
    text = "text"
    materialized = "MATERIALIZED"

    def ident(self, name: str) -> str:
        return quote_ident(name)

    def literal(self, text: str) -> str:
        return quote_literal(text)

    def base_type(self, type_sql: str) -> str:
        return base_type(type_sql)

    def is_text(self, type_sql: str) -> bool:
        return is_text(type_sql)

    def is_integer(self, type_sql: str) -> bool:
        return is_integer(type_sql)

    def is_numeric(self, type_sql: str) -> bool:
        return is_numeric(type_sql)

    def is_decimal(self, type_sql: str) -> bool:
        return is_decimal(type_sql)

    def is_boolean(self, type_sql: str) -> bool:
        return base_type(type_sql) == "boolean"

    def is_temporal(self, type_sql: str) -> bool:
        return is_temporal(type_sql)

    def is_zoned(self, type_sql: str) -> bool:
        return is_temporal(type_sql) and "with time zone" in type_sql

    def is_plain_timestamp(self, type_sql: str) -> bool:
        return base_type(type_sql) in ("timestamp", "timestamp without time zone")

    def decimal_scale(self, type_sql: str) -> int | None:
        scale = type_sql.partition(",")[2].rstrip(") ").strip()
        return int(scale) if is_decimal(type_sql) and scale.isdigit() else None

    def duck_text(self, sql: str, type_sql: str) -> str | None:
        if is_text(type_sql):
            return sql
        base = base_type(type_sql)
        if (
            is_integer(type_sql)
            or base in ("boolean", "time", "time without time zone")
            or self.decimal_scale(type_sql) is not None
        ):
            return self.cast(sql, "text")
        return None

    def from_duck(self, duck_type: str) -> str:
        return _FROM_DUCK[duck_type]

    def same_type(self, type_sql: str, target: str) -> bool:
        return type_sql.replace(" ", "").lower() == target.replace(" ", "").lower() or (
            self.is_plain_timestamp(type_sql) and self.is_plain_timestamp(target)
        )

    def exact_cast(self, type_sql: str, duck_target: str) -> bool:
        base = base_type(type_sql)
        if duck_target == "VARCHAR":
            return is_text(type_sql) or is_integer(type_sql) or base in ("numeric", "date", "boolean")
        if duck_target in ("BIGINT", "DOUBLE", "DECIMAL(38,9)") and is_integer(type_sql):
            return True
        if duck_target in ("DOUBLE", "DECIMAL(38,9)") and base == "numeric":
            return True
        return duck_target in ("DATE", "TIMESTAMP") and is_temporal(type_sql) and not self.is_zoned(type_sql)

    def type_for(self, arrow_type: pa.DataType) -> str:
        from airflow_provider_logidata.engine.pg_load_plan import pg_type_for

        return pg_type_for(arrow_type)

    def ordered(self, sql: str, type_sql: str) -> str:
        return collated(sql, type_sql)

    def utc(self, sql: str) -> str:
        return f"({sql} AT TIME ZONE 'UTC')"

    def median(self, sql: str) -> str:
        return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {sql})"

    def regexp_replace_all(self, text_sql: str, pattern: str, replacement: str) -> str:
        return f"regexp_replace({text_sql}, {quote_literal(pattern)}, {quote_literal(replacement)}, 'g')"

    def title_case(self, sql: str, tokens: str, upper: str, lower: str) -> str:
        return (
            f"(SELECT CASE WHEN v IS NULL THEN NULL ELSE coalesce(("
            f"SELECT string_agg({upper}(left(m[1], 1)) || {lower}(substr(m[1], 2)), '' "
            f"ORDER BY o) FROM regexp_matches(v, {quote_literal(tokens)}, 'g') WITH ORDINALITY AS t(m, o)), "
            f"'') END FROM (SELECT {sql} AS v) AS x)"
        )

    def boolean_min_max(self, function: str, sql: str) -> str:
        return f"{'bool_and' if function == 'min' else 'bool_or'}({sql})"

    def keyed_lookup(self, mapping: dict[str, str | None], key_sql: str, result: str, otherwise: str) -> str:
        """A jsonb object searched by key: one hash lookup per row, where a CASE tries every entry."""
        import json

        found = f"CAST({quote_literal(json.dumps(mapping, ensure_ascii=False))} AS jsonb)"
        return (
            f"CASE WHEN {found} ? {key_sql} THEN CAST({found} ->> {key_sql} AS {result}) ELSE {otherwise} END"
        )

    def try_cast(self, ctx: EltContext, text_sql: str, target: str) -> str:
        return try_cast(ctx, text_sql, target)

    def case_function(self, ctx: EltContext, kind: str) -> str:
        return case_function(ctx, kind)

    def double_to_decimal(self, ctx: EltContext) -> str:
        return double_to_decimal(ctx)

    def strptime_refusal(self, formats: list[str]) -> str | None:
        from airflow_provider_logidata.engine.dialects.postgres_strptime import UnsupportedFormat, pg_format

        for fmt in formats:
            try:
                pg_format(fmt)
            except UnsupportedFormat as error:
                return f"the date format {fmt!r} uses {error}"
        return None

    def strptime(self, ctx: EltContext, formats: list[str]) -> str:
        from airflow_provider_logidata.engine.dialects.postgres_strptime import parse_function

        return parse_function(ctx, formats)

    def translate(self, ctx: EltContext, expression: str, relation: str | None = None, what: str = "") -> str:
        from sqlglot.errors import SqlglotError

        try:
            return to_postgres(ctx, expression, relation, what)
        except SqlglotError as error:
            raise ctx.error(
                f"cannot translate {what or repr(expression)} to PostgreSQL: {error}; set the pipeline's "
                "engine to 'etl'"
            ) from None

    def expression_refusal(self, expression: str, what: str) -> str | None:
        from airflow_provider_logidata.modules.pushdown import duckdb_only

        return duckdb_only(expression, what)

    def check(self, ctx: EltContext, sql: str, what: str) -> None:
        check_pushed(ctx, sql, what)

    def describe(self, con: Any, select: str, owner: str) -> list[Described]:
        from airflow_provider_logidata.engine.elt_context import describe

        return describe(con, select, owner=owner)

    def probe(self, con: Any, select: str) -> str | None:
        import psycopg

        from airflow_provider_logidata.engine.elt_context import read_only_step
        from airflow_provider_logidata.engine.pg_connect import pg_error

        try:
            with read_only_step(con):
                con.execute(f"SELECT * FROM ({select}) AS q LIMIT 0")
        except psycopg.Error as error:
            return pg_error(error)
        return None

    def rows(self, con: Any, query: str) -> list[tuple[Any, ...]] | str:
        import psycopg

        from airflow_provider_logidata.engine.elt_context import read_only_step
        from airflow_provider_logidata.engine.pg_connect import pg_error

        try:
            with read_only_step(con):  # a failing pre-query does not poison the load either
                return list(con.execute(query))
        except psycopg.Error as error:
            return pg_error(error)

    def temp_table(self, con: Any, name: str, select: str) -> tuple[str, str]:
        create = f"CREATE TEMPORARY TABLE {quote_ident(name)} ON COMMIT DROP AS\n{select}"
        con.execute(create.encode())
        return f"pg_temp.{quote_ident(name)}", create

    def function(self, con: Any, name: str, create: str | None) -> str:
        if create is not None:
            con.execute(create.encode())
        return f"pg_temp.{name}"


DIALECT = PostgresDialect()
