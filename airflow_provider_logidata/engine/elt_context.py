"""What every ELT step builder shares: the step's context (``EltContext``: connection, config, typed input
columns, the ``pg_temp`` try-cast helpers), ``describe`` (a SELECT's
columns without running it) and ``read_only_step`` (where the user's SQL is looked at).

A builder is a module's ``postgres`` (``modules/transforms/<name>.py``): ``build(ctx, relation, columns)
-> SELECT``, mirroring its DuckDB builder. Identifiers go through ``quote_ident``, texts through
``quote_literal``.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
import pyarrow as pa
from psycopg import sql as pgsql

from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.pg_connect import pg_error
from airflow_provider_logidata.engine.pg_read_plan import plan_column
from airflow_provider_logidata.engine.sql import quote_ident, quote_literal, resolve_column

C = TypeVar("C", bound="ModuleConfig")

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.modules.base import ModuleConfig

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


Columns = list[tuple[str, str]]  # (name, PostgreSQL type as format_type writes it)


@dataclass
class Described:
    name: str
    oid: int
    type_sql: str
    precision: int | None
    scale: int | None


_TYPE_NAMES = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
    "timetz": "time with time zone",
    "varchar": "character varying",
    "bpchar": "character",
}


def _type_name(display: str) -> str:
    """psycopg's short type name (int4, numeric(6,2)) as SQL spells it (integer, numeric(6,2))."""
    base, paren, rest = display.partition("(")
    name = _TYPE_NAMES.get(base.strip(), base.strip())
    for head in ("timestamp ", "time "):  # timestamp(3) with time zone: the precision before the zone
        if paren and name.startswith(head):
            return f"{head.strip()}({rest.rstrip(')')}) {name.removeprefix(head)}"
    return name + paren + rest


@contextlib.contextmanager
def read_only_step(con: psycopg.Connection[Any]) -> Iterator[None]:
    """A savepoint in which the transaction is read-only, always rolled back (fetch results inside).

    The user's SQL (the source query, conditions, expressions) is described, pre-checked and, in a
    preview, sampled here: even inside the ELT task's read-write transaction (it must write the
    destination, and builders create ``pg_temp`` helper functions) such a step can write nothing, and
    whatever it did is undone. The final ``INSERT ... SELECT`` of a run cannot be read-only; the user's
    SQL in it passed ``security.pg_sql``.
    """
    with con.transaction(force_rollback=True):
        con.execute("SET LOCAL transaction_read_only = on")
        yield


def describe(con: psycopg.Connection[Any], select: str, *, owner: str) -> list[Described]:
    """Columns of a SELECT without running it (``LIMIT 0``), with ``format_type`` names."""
    with con.cursor() as cur:
        try:
            with read_only_step(con):
                cur.execute(pgsql.SQL("SELECT * FROM (\n{}\n) AS q LIMIT 0").format(pgsql.SQL(select)))  # type: ignore[arg-type]
        except psycopg.Error as error:
            raise LogiDataTaskError(f"{owner}: PostgreSQL rejects the step: {pg_error(error)}") from None
        assert cur.description is not None
        return [
            Described(c.name, c.type_code, _type_name(c.type_display or "text"), c.precision, c.scale)
            for c in cur.description
        ]


def check_pushed(ctx: EltContext, sql_text: str, what: str) -> None:
    """The PostgreSQL form of a user's condition or expression, checked before it is put into SQL."""
    from airflow_provider_logidata.security.pg_sql import check_pg_sql

    try:
        check_pg_sql(sql_text, kind="expression", dialect="postgres")
    except ValueError as error:
        raise ctx.error(f"{what}: {error}") from None


@dataclass
class EltContext:
    con: psycopg.Connection[Any]
    module: str
    node_id: str
    config: ModuleConfig
    log: TaskLog
    helpers: dict[str, str] = field(default_factory=dict)  # try-cast function name -> its CREATE
    inputs: list[Described] = field(default_factory=list)  # the step's input columns, fully typed
    keep_order: bool = True  # something downstream observes the row order (``engine.elt.EltStep``)

    @property
    def owner(self) -> str:
        return node_label(self.module, self.node_id)

    def error(self, message: str) -> LogiDataTaskError:
        return LogiDataTaskError(f"{self.owner}: {message}")

    def typed_config(self, model: type[C]) -> C:
        if not isinstance(self.config, model):
            raise TypeError(f"{self.owner}: expected a {model.__name__}, got {type(self.config).__name__}")
        return self.config

    def column(self, name: str, columns: Columns) -> tuple[str, str]:
        return resolve_column(name, columns, owner=self.owner)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        try:
            with read_only_step(self.con):  # a failing pre-query does not poison the load either
                return list(self.con.execute(query))  # type: ignore[call-overload]
        except psycopg.Error as error:
            raise self.error(f"PostgreSQL rejects the step: {pg_error(error)}") from None

    def function(self, name: str, create: str) -> str:
        """``pg_temp.<name>``, created by ``create`` on first use in this run (kept in ``helpers`` for the
        task log)."""
        if name not in self.helpers:
            self.con.execute(create.encode())
            self.helpers[name] = create
        return f"pg_temp.{name}"

    def try_cast(self, text_sql: str, target: str) -> str:
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
        return f"{self.function(name, create)}({text_sql})"


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


def check_bad_values(
    ctx: EltContext, relation: str, checks: list[tuple[str, str, str]], *, on_error: str, fix: str
) -> None:
    """``engine.transforms.check_bad_values`` in PostgreSQL, for ``(column, SQL true where its value is
    bad, what is wrong)``: count every check in one scan, then fail with up to five distinct examples per
    column (input order) or, with ``on_error = null``, log the counts (the step nulls those values)."""
    from airflow_provider_logidata.engine.transforms import EXAMPLES

    if not checks:
        return
    counts = ctx.rows(
        "SELECT "
        + ", ".join(f"count(*) FILTER (WHERE {bad})" for _c, bad, _p in checks)
        + f" FROM {relation} AS s"
    )[0]
    failures = []
    for (column, bad, problem), count in zip(checks, counts, strict=True):
        if not count:
            continue
        if on_error == "null":
            ctx.log.warning(
                f"{ctx.owner}: {count} value(s) in column {column!r} {problem}; "
                "they become null (on_error = null)"
            )
            continue
        examples: list[str] = []
        for (value,) in ctx.rows(
            f"SELECT CAST({quote_ident(column)} AS text) FROM {relation} AS s WHERE {bad} LIMIT 100"
        ):
            if value not in examples:
                examples.append(value)
            if len(examples) == EXAMPLES:
                break
        failures.append(
            f"column {column!r}: {count} value(s) {problem}, e.g. " + ", ".join(map(repr, examples))
        )
    if failures:
        raise ctx.error("; ".join(failures) + f". {fix}")


def empty_table(columns: list[Described]) -> pa.Table:
    """No rows of ``columns``' Arrow types. ``Schema.empty_table()`` would import pandas (about 0.4 s
    of every ELT task's start), ``from_batches`` does not."""
    return pa.Table.from_batches([], schema=arrow_schema(columns))


def arrow_schema(final: list[Described]) -> pa.Schema:
    return pa.schema(
        [
            pa.field(c.name, plan_column(c.name, c.oid, c.type_sql, c.precision, c.scale).arrow_type)
            for c in final
        ]
    )
