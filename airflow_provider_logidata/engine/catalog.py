"""SQL builders of the transform catalog (config models in ``modules.catalog``).

One-in-one-out modules (aggregate, sort, derive_column, map_values, python) register in ``TRANSFORMS`` so
they run in fused chains like the first transforms; modules with several inputs or outputs (join, union,
sql, route, quality_check) register in ``engine.multi.MULTI`` and run through ``run_multi``.

Row order is deterministic everywhere: joins keep the left input's order (a right join the right's), a
sort is stable, aggregates are sorted by their keys, unions stack the inputs in order, quarantined rows
keep their input order. Every identifier goes through ``quote_ident``, every text through
``quote_literal``; user SQL (expressions, conditions, queries) is parsed and checked by
``engine.conditions`` and regenerated from the checked tree.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import sqlglot
from sqlglot import exp

from airflow_provider_logidata.engine import duck
from airflow_provider_logidata.engine.conditions import (
    DIALECT,
    validate_condition,
    validate_expression,
    validate_query,
)
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.files import describe_error, parquet_writer, stream_to_file
from airflow_provider_logidata.engine.multi import MultiInput, register_multi
from airflow_provider_logidata.engine.sql import (
    Columns,
    column_names,
    is_numeric,
    is_temporal,
    is_text,
    quote_ident,
    quote_literal,
    resolve_column,
    unique_name,
)
from airflow_provider_logidata.engine.transforms import (
    BLOCKING,
    EXAMPLES,
    ROW_PRESERVING,
    SELF_MATERIALISED,
    TransformContext,
    build_deduplicate,
    register_transform,
)
from airflow_provider_logidata.modules.catalog import (
    AcceptedValuesCheck,
    AggregateConfig,
    DeriveColumnConfig,
    JoinConfig,
    MapValuesConfig,
    NotNullCheck,
    PythonConfig,
    QualityCheckConfig,
    RangeCheck,
    RegexCheck,
    RouteConfig,
    RowCountBetweenCheck,
    SortConfig,
    SqlConfig,
    UnionConfig,
    UniqueCheck,
    Value,
    check_label,
)
from airflow_provider_logidata.modules.transforms import DeduplicateConfig
from airflow_provider_logidata.security import callables
from airflow_provider_logidata.security.errors import PolicyError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    import pandas as pd
    import pyarrow as pa

    from airflow_provider_logidata.modules.catalog import QualityCheck

ROW_NUMBER = "__logidata_row"
REJECTED_REASON = "_rejected_reason"

# Sorts and aggregates consume their whole input before the first row comes out; in a chain they are
# materialised once (see ``engine.chain``). Sorts, derived columns and mapped values keep every row.
BLOCKING.update({"aggregate", "sort"})
ROW_PRESERVING.update({"sort", "derive_column", "map_values"})
SELF_MATERIALISED.add("python")  # the function's results are written to a file while the step is built


# --- shared helpers -------------------------------------------------------------------------------------


def bind(ctx: TransformContext, sql: str, *, what: str, fix: str) -> Columns:
    """Have DuckDB bind ``sql`` now (types, functions) and return its columns; errors name ``what``."""
    try:
        rows = ctx.rows(f"DESCRIBE {sql}")
    except duckdb.Error as error:
        raise ctx.error(f"DuckDB rejects {what}: {describe_error(error)}; {fix}") from None
    return [(str(row[0]), str(row[1])) for row in rows]


def numbered(relation: str, row: str) -> str:
    """``relation`` with its rows numbered in input order (DuckDB preserves insertion order)."""
    return f"(SELECT *, row_number() OVER () AS {quote_ident(row)} FROM {relation})"


def find_column(name: str, columns: Columns, *, owner: str) -> tuple[str, str] | None:
    """Like ``resolve_column`` (exact, then unique case-insensitive match) but ``None`` when absent."""
    if not any(column.lower() == name.lower() for column, _ in columns):
        return None
    return resolve_column(name, columns, owner=owner)


def value_text(value: Value) -> str:
    """A config value as DuckDB reads it from text (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def unfit_texts(ctx: TransformContext, texts: Sequence[str], duck_type: str) -> list[str]:
    """Up to five of ``texts`` that DuckDB cannot read as ``duck_type`` (one query over all of them)."""
    if not texts:
        return []
    rows = ", ".join(f"({quote_literal(text)})" for text in texts)
    return [
        str(row[0])
        for row in ctx.rows(
            f"SELECT v FROM (VALUES {rows}) AS t(v) WHERE TRY_CAST(v AS {duck_type}) IS NULL LIMIT {EXAMPLES}"
        )
    ]


def typed_literals(
    ctx: TransformContext, values: Sequence[Value], column: str, duck_type: str, *, what: str
) -> list[str]:
    """SQL literals of ``values`` in the column's type; values that do not fit fail with examples.

    Text columns compare with text literals; other types cast the text form (``'2024-01-31'`` to a DATE,
    ``'1'`` to a BIGINT), checked with one ``TRY_CAST`` query over all values.
    """
    texts = [value_text(value) for value in values]
    if is_text(duck_type):
        return [quote_literal(text) for text in texts]
    bad = unfit_texts(ctx, texts, duck_type)
    if bad:
        raise ctx.error(
            f"{what} {', '.join(repr(text) for text in bad)} cannot be read as {duck_type}, the type of "
            f"column {column!r}; use values of that type"
        )
    return [f"CAST({quote_literal(text)} AS {duck_type})" for text in texts]


def _type_family(duck_type: str) -> str:
    if is_numeric(duck_type):
        return "number"
    if is_text(duck_type):
        return "text"
    if is_temporal(duck_type):
        return "date/time"
    return duck_type.upper()


# Functions whose value changes between two queries: a condition using one would route a row
# differently in each output, so such a condition is evaluated once and materialised.
_VOLATILE = frozenset(
    {
        "random",
        "rand",
        "uuid",
        "gen_random_uuid",
        "uuidv4",
        "uuidv7",
        "nextval",
        "now",
        "current_timestamp",
        "current_date",
        "current_time",
        "currenttimestamp",
        "currentdate",
        "currenttime",
        "get_current_timestamp",
        "get_current_time",
        "today",
        "localtimestamp",
        "localtime",
        "transaction_timestamp",
    }
)


def is_volatile(sql: str) -> bool:
    """Whether checked SQL calls a function whose value differs between queries (random, now, ...)."""
    for node in sqlglot.parse_one(sql, read=DIALECT).walk():
        if isinstance(node, exp.Rand):
            return True
        if isinstance(node, exp.Func):
            name = str(node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in _VOLATILE:
                return True
    return False


# --- aggregate ------------------------------------------------------------------------------------------


@register_transform("aggregate")
def build_aggregate(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """One row per group (sorted by the keys, nulls last), or one row for the whole input.

    Aggregates ignore nulls (``count`` without a column counts rows). Sums of integers are BIGINT (an
    overflow fails the task), of decimals DECIMAL(38, s), of floats DOUBLE; ``avg`` is DOUBLE. Booleans
    sum as the number of true values and average as their share.
    """
    config = ctx.typed_config(AggregateConfig)
    keys = [ctx.column(name, columns)[0] for name in config.group_by]
    items = [quote_ident(key) for key in keys]
    for aggregation in config.aggregations:
        if aggregation.column is None:
            expression = "count(*)"
        else:
            name, duck_type = ctx.column(aggregation.column, columns)
            column = quote_ident(name)
            function = aggregation.function
            boolean = duck_type.upper() == "BOOLEAN"
            if function in ("sum", "avg") and not (is_numeric(duck_type) or boolean):
                raise ctx.error(
                    f"{function} needs a numeric column; {name!r} is {duck_type}. Cast it to a number "
                    "first (select_columns) or use count, min or max"
                )
            if boolean and function in ("sum", "avg"):
                column = f"CAST({column} AS INTEGER)"
            if function == "count":
                expression = f"count({column})"
            elif function == "count_distinct":
                expression = f"count(DISTINCT {column})"
            elif function == "sum" and (boolean or duck_type.upper() in _SMALL_INTEGERS):
                expression = f"CAST(sum({column}) AS BIGINT)"
            else:
                expression = f"{function}({column})"
        items.append(f"{expression} AS {quote_ident(aggregation.output)}")
    sql = f"SELECT {', '.join(items)} FROM {relation}"
    if keys:
        group = ", ".join(quote_ident(key) for key in keys)
        order = ", ".join(f"{quote_ident(key)} ASC NULLS LAST" for key in keys)
        sql += f" GROUP BY {group} ORDER BY {order}"
    return sql


_SMALL_INTEGERS = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"})


# --- sort -----------------------------------------------------------------------------------------------


@register_transform("sort")
def build_sort(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """Order by the keys; ties keep input order (a row number breaks them, so the sort is stable)."""
    config = ctx.typed_config(SortConfig)
    row = unique_name(ROW_NUMBER, columns)
    keys = []
    for key in config.by:
        name, _ = ctx.column(key.column, columns)
        direction = "DESC" if key.descending else "ASC"
        keys.append(f"{quote_ident(name)} {direction} NULLS {key.nulls.upper()}")
    return (
        f"SELECT * EXCLUDE ({quote_ident(row)}) FROM {numbered(relation, row)} "
        f"ORDER BY {', '.join(keys)}, {quote_ident(row)}"
    )


# --- derive_column --------------------------------------------------------------------------------------


@register_transform("derive_column")
def build_derive_column(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """Compute columns in order, each over the input plus the columns derived before it.

    A column whose name matches an input column (ignoring case) replaces it in place; others are
    appended. Expressions are one row-level SQL expression each (window functions allowed, aggregates
    without a window and subqueries not), checked against the columns before DuckDB binds them.
    """
    config = ctx.typed_config(DeriveColumnConfig)
    current, current_columns = relation, list(columns)
    sql = f"SELECT * FROM {relation}"
    for derived in config.columns:
        expression = validate_expression(
            derived.expression,
            current_columns,
            owner=f"{ctx.owner}, column {derived.name!r}",
            fix="write one SQL expression over the input columns, e.g. price * quantity",
            aggregates=False,
        )
        existing = find_column(derived.name, current_columns, owner=ctx.owner)
        if existing is None:
            items = f"*, ({expression}) AS {quote_ident(derived.name)}"
        else:
            items = ", ".join(
                f"({expression}) AS {quote_ident(derived.name)}" if name == existing[0] else quote_ident(name)
                for name, _ in current_columns
            )
        sql = f"SELECT {items} FROM {current}"
        current_columns = bind(
            ctx,
            sql,
            what=f"the expression of column {derived.name!r} ({derived.expression!r})",
            fix="fix the expression (types and function names)",
        )
        current = f"({sql})"
    return sql


# --- map_values -----------------------------------------------------------------------------------------


def _value_type(values: Iterable[Value | None]) -> str | None:
    """The DuckDB type of a set of config values: BOOLEAN, BIGINT, DOUBLE or VARCHAR (None: no value)."""
    kinds = set()
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            kinds.add("BOOLEAN")
        elif isinstance(value, int):
            kinds.add("BIGINT")
        elif isinstance(value, float):
            kinds.add("DOUBLE")
        else:
            kinds.add("VARCHAR")
    if not kinds:
        return None
    if len(kinds) == 1:
        return kinds.pop()
    return "DOUBLE" if kinds <= {"BIGINT", "DOUBLE"} else "VARCHAR"


def _value_literal(value: Value | None, duck_type: str) -> str:
    if value is None:
        return f"CAST(NULL AS {duck_type})"
    if duck_type == "VARCHAR":
        return quote_literal(value_text(value))
    return f"CAST({quote_literal(value_text(value))} AS {duck_type})"


# Up to this many entries a mapping is a CASE (plain SQL, any engine); larger ones are one DuckDB MAP
# lookup per row: measured on 200k rows x 10k entries, 0.9 s instead of 7.6 s for the CASE chain.
CASE_MAPPING_LIMIT = 64


def _map_lookup(
    ctx: TransformContext,
    pairs: list[tuple[str, str]],
    texts: list[str],
    column: str,
    duck_type: str,
    otherwise: str,
) -> str:
    """``pairs`` (typed key SQL, target SQL) as a MAP lookup; ``map_extract`` gives [] for a missing key.

    Keys that become equal once typed ('1' and '01' for a number) keep their first entry, as in a CASE.
    """
    if not is_text(duck_type):
        rows = ", ".join(f"({i}, {quote_literal(text)})" for i, text in enumerate(texts))
        later = {
            int(row[0])
            for row in ctx.rows(
                f"SELECT i FROM (VALUES {rows}) AS t(i, v) "
                f"QUALIFY row_number() OVER (PARTITION BY CAST(v AS {duck_type}) ORDER BY i) > 1"
            )
        }
        pairs = [pair for i, pair in enumerate(pairs) if i not in later]
    found = f"map_extract(MAP {{{', '.join(f'{key}: {target}' for key, target in pairs)}}}, {column})"
    return f"CASE WHEN len({found}) > 0 THEN {found}[1] ELSE {otherwise} END"


@register_transform("map_values")
def build_map_values(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """Look values up in the mapping; unmapped values (nulls included) follow ``default``.

    Keys are read in the column's type. The result's type comes from the targets: all booleans give
    BOOLEAN, all integers BIGINT, numbers DOUBLE, anything else text. With ``default = keep`` unmapped
    values keep theirs, so a result type that cannot hold the column's values (labels for numeric codes)
    turns the kept values into text.
    """
    config = ctx.typed_config(MapValuesConfig)
    name, duck_type = ctx.column(config.column, columns)
    column = quote_ident(name)
    keys = typed_literals(ctx, list(config.mapping), name, duck_type, what="mapping key(s)")
    targets: list[Value | None] = list(config.mapping.values())
    if config.default == "value":
        targets.append(config.default_value)
    result_type = _value_type(targets) or duck_type
    kept = column
    if config.default == "keep" and result_type.upper() != duck_type.upper():
        family = _type_family(duck_type)
        texts = [value_text(target) for target in targets if target is not None]
        if _type_family(result_type) == family and family in ("number", "text"):
            pass  # DuckDB widens numbers (BIGINT and DOUBLE give DOUBLE)
        elif result_type == "VARCHAR" and not unfit_texts(ctx, texts, duck_type):
            result_type = duck_type  # '2024-12-31' for a DATE column: the column keeps its type
        else:
            ctx.log.info(
                f"{ctx.owner}: the mapping gives {result_type} values and column {name!r} is {duck_type}; "
                "the result is text, with unmapped values kept as text"
            )
            result_type = "VARCHAR"
            kept = f"CAST({column} AS VARCHAR)"
    pairs = [
        (key, _value_literal(target, result_type))
        for key, target in zip(keys, config.mapping.values(), strict=True)
    ]
    if config.default == "keep":
        otherwise = kept
    elif config.default == "null":
        otherwise = f"CAST(NULL AS {result_type})"
    else:
        otherwise = _value_literal(config.default_value, result_type)
    if len(pairs) <= CASE_MAPPING_LIMIT:
        whens = " ".join(f"WHEN {key} THEN {target}" for key, target in pairs)
        expression = f"CASE {column} {whens} ELSE {otherwise} END"
    else:
        expression = _map_lookup(ctx, pairs, list(config.mapping), column, duck_type, otherwise)
    target = (
        find_column(config.target_column, columns, owner=ctx.owner)
        if config.target_column
        else (name, duck_type)
    )
    if target is None:
        sql = f"SELECT *, {expression} AS {quote_ident(config.target_column or name)} FROM {relation}"
    else:
        sql = f"SELECT * REPLACE ({expression} AS {quote_ident(target[0])}) FROM {relation}"
    bind(ctx, sql, what="the mapping", fix="use mapping targets of one type")
    return sql


# --- python ---------------------------------------------------------------------------------------------


def load_callable(path: str, *, owner: str) -> Callable[..., Any]:
    """Import ``package.module:function`` (or ``package.module.function``) deployed with the DAGs.

    ``security.callables`` decides what may be called, before the import (the module is listed in
    ``[logidata] python_modules`` or lives in the DAGs folder) and after it (the function is defined in
    an allowed module): pipeline editors may not deploy code, so they call only what DAG authors did.
    """
    module_name, attribute = callables.split_callable(path)
    fix = (
        "deploy the module with the DAGs (the DAGs folder is importable) or install it on every worker, "
        "and check the callable path"
    )
    try:
        how = callables.check_module(path, module_name)
    except PolicyError as error:
        raise LogiDataTaskError(f"{owner}: {error}") from None
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise LogiDataTaskError(
                f"{owner}: cannot import module {module_name!r} for callable {path!r}: {error}; {fix}"
            ) from None
        raise LogiDataTaskError(
            f"{owner}: importing module {module_name!r} for callable {path!r} failed: {error}; install "
            f"{missing!r} on the workers or remove the import"
        ) from error
    except Exception as error:
        raise LogiDataTaskError(
            f"{owner}: importing module {module_name!r} for callable {path!r} failed: "
            f"{type(error).__name__}: {error}; fix the module"
        ) from error
    try:
        callables.check_loaded(path, target, how)
    except PolicyError as error:
        raise LogiDataTaskError(f"{owner}: {error}") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            public = sorted(
                n for n in dir(target) if not n.startswith("_") and callable(getattr(target, n, None))
            )
            shown = ", ".join(public[:20]) or "(none)"
            raise LogiDataTaskError(
                f"{owner}: {module_name!r} has no {attribute!r} (callable {path!r}); callables there: "
                f"{shown}. Fix the name in the node's config"
            )
        target = getattr(target, part)
    if not callable(target):
        raise LogiDataTaskError(
            f"{owner}: {path!r} is a {type(target).__name__}, not a function; point callable at a "
            "function that takes and returns a pandas DataFrame"
        )
    try:
        callables.check_target(path, target)
    except PolicyError as error:
        raise LogiDataTaskError(f"{owner}: {error}") from None
    return target  # type: ignore[no-any-return]


def _call_python(
    ctx: TransformContext, function: Callable[..., Any], config: PythonConfig, frame: pd.DataFrame, call: int
) -> pa.Table:
    """Call the user's function on one DataFrame and convert its result to Arrow, explaining failures."""
    import pandas as pd
    import pyarrow as pa

    where = f" (batch {call})" if config.mode == "batch" else ""
    try:
        result = function(frame, **config.kwargs)
    except Exception as error:
        raise ctx.error(
            f"{config.callable} raised {type(error).__name__}: {error}{where}; fix the function or the data "
            "(the traceback follows)"
        ) from error
    if not isinstance(result, pd.DataFrame):
        raise ctx.error(
            f"{config.callable} returned {type(result).__name__}, not a pandas DataFrame{where}; return a "
            "DataFrame (the input changed, or a new one)"
        )
    try:
        return pa.Table.from_pandas(result, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as error:
        raise ctx.error(
            f"the DataFrame returned by {config.callable}{where} cannot be stored: {describe_error(error)}; "
            "give every column one type (e.g. df['x'].astype('string'))"
        ) from None


def _conform(ctx: TransformContext, table: pa.Table, schema: pa.Schema, call: int, path: str) -> pa.Table:
    """Batch ``call``'s result in the first batch's columns and types (one file holds every batch)."""
    if table.schema.equals(schema):
        return table
    if sorted(table.column_names) != sorted(schema.names):
        raise ctx.error(
            f"{path} returned columns {table.column_names} for batch {call} but {schema.names} for batch "
            "1; return the same columns for every batch, or use mode 'whole'"
        )
    try:
        return table.select(schema.names).cast(schema)
    except Exception as error:  # pyarrow raises several types for a failed cast
        changed = [
            f"{field.name!r} ({field.type} in batch 1, {table.schema.field(field.name).type} in batch {call})"
            for field in schema
            if table.schema.field(field.name).type != field.type
        ]
        raise ctx.error(
            f"{path} returned different types across batches: {', '.join(changed)} "
            f"({describe_error(error)}); set the dtypes explicitly (e.g. df['x'].astype('Int64')) or use "
            "mode 'whole'"
        ) from None


@register_transform("python")
def build_python(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """Run the user's function over the input as pandas DataFrames; the result becomes the next relation.

    ``batch`` mode streams the input in batches of ``batch_rows`` and calls the function once per batch
    (an empty input calls it once with an empty DataFrame, so the output still has columns); ``whole``
    mode reads the whole input into one DataFrame first. The results are written to a Parquet file in
    the connection's temporary folder (removed with it) and exposed as a DuckDB view; the DataFrame index
    is dropped (``reset_index()`` keeps it as a column). Every batch must return the same columns and
    types as the first.
    """
    import pyarrow.dataset as ds

    config = ctx.typed_config(PythonConfig)
    function = load_callable(config.callable, owner=ctx.owner)
    temp_dir = Path(str(ctx.value("SELECT current_setting('temp_directory')")))
    temp_dir.mkdir(parents=True, exist_ok=True)
    view = f"__logidata_python_{uuid.uuid4().hex}"
    out_path = temp_dir / f"{view}.parquet"
    started = time.monotonic()
    reader = duck.stream(ctx.con, f"SELECT * FROM {relation}", batch_rows=config.batch_rows)

    def results() -> Iterator[pa.Table]:
        if config.mode == "whole":
            # One DataFrame of the whole input; the Arrow copy is released as pandas takes it over.
            frame = reader.read_all().to_pandas(self_destruct=True, split_blocks=True)
            yield _call_python(ctx, function, config, frame, 1)
            return
        calls = 0
        for batch in reader:
            calls += 1
            yield _call_python(ctx, function, config, batch.to_pandas(), calls)
        if calls == 0:  # still call once, so the output has the function's columns
            yield _call_python(ctx, function, config, reader.schema.empty_table().to_pandas(), 1)

    produced = results()
    first = next(produced)

    def conformed() -> Iterator[pa.RecordBatch]:
        yield from first.to_batches()
        for call, table in enumerate(produced, start=2):
            yield from _conform(ctx, table, first.schema, call, config.callable).to_batches()

    stats = stream_to_file(
        conformed(),
        first.schema,
        str(out_path),
        open_writer=parquet_writer("snappy"),
        label=f"{ctx.node_id} (python {config.callable})",
        log=ctx.log,
    )
    ctx.con.register(view, ds.dataset(str(out_path), format="parquet"))
    ctx.log.info(
        f"{ctx.owner}: {config.callable} ({config.mode}) returned {stats.rows} row(s) in "
        f"{time.monotonic() - started:.2f} s"
    )
    return f"SELECT * FROM {quote_ident(view)}"


# --- join -----------------------------------------------------------------------------------------------

_JOIN_SQL = {"inner": "INNER JOIN", "left": "LEFT JOIN", "right": "RIGHT JOIN", "full": "FULL OUTER JOIN"}


def _join_key(ctx: TransformContext, name: str, side: MultiInput) -> tuple[str, str]:
    found = find_column(name, side.columns, owner=ctx.owner)
    if found is None:
        raise ctx.error(
            f"key column {name!r} is missing on the {side.label}; {side.port or 'its'} columns: "
            f"{column_names(side.columns)}. Fix the key in the node's config or the data upstream"
        )
    return found


@register_multi("join")
def build_join(ctx: TransformContext, inputs: Sequence[MultiInput]) -> dict[str, str]:
    """Join ``left`` and ``right`` on equal keys (null keys never match, as in SQL).

    With ``on`` each key appears once (from the left, from the right for a right join, the non-null one
    for a full join); with ``left_on``/``right_on`` both sides' keys are kept. Other columns present on
    both sides (ignoring case) get the suffixes. Output: the left columns, then the right ones; rows in
    left input order (for each left row, its matches in right order), unmatched right rows last; a right
    join follows the right input's order instead.
    """
    config = ctx.typed_config(JoinConfig)
    left, right = inputs
    if config.on is not None:
        pairs = [(key, key) for key in config.on]
    else:
        assert config.left_on is not None and config.right_on is not None  # the model checks this
        pairs = list(zip(config.left_on, config.right_on, strict=True))
    keys: list[tuple[str, str]] = []
    for left_name, right_name in pairs:
        left_key, left_type = _join_key(ctx, left_name, left)
        right_key, right_type = _join_key(ctx, right_name, right)
        if _type_family(left_type) != _type_family(right_type):
            raise ctx.error(
                f"key {left_key!r} is {left_type} on the left and {right_key!r} is {right_type} on the "
                "right; they cannot be compared. Cast one side (select_columns) so both keys have the same "
                "type"
            )
        keys.append((left_key, right_key))

    lt, rt = quote_ident("__logidata_left"), quote_ident("__logidata_right")
    row_name = unique_name(ROW_NUMBER, left.columns + right.columns)
    row = quote_ident(row_name)
    shared = config.on is not None
    shared_left = {lk for lk, _ in keys} if shared else set()
    right_for = {lk: rk for lk, rk in keys}
    right_keys = {rk for _, rk in keys} if shared else set()
    right_out = [name for name, _ in right.columns if name not in right_keys]
    left_names = {name.lower() for name, _ in left.columns}
    clashing = left_names & {name.lower() for name in right_out}
    items: list[tuple[str, str]] = []
    for name, _ in left.columns:
        column = f"{lt}.{quote_ident(name)}"
        if name in shared_left:
            other = f"{rt}.{quote_ident(right_for[name])}"
            expression = {"right": other, "full": f"coalesce({column}, {other})"}.get(config.how, column)
            items.append((expression, name))
        else:
            items.append((column, name + config.suffixes.left if name.lower() in clashing else name))
    for name in right_out:
        output = name + config.suffixes.right if name.lower() in clashing else name
        items.append((f"{rt}.{quote_ident(name)}", output))
    seen: dict[str, str] = {}
    for _, output in items:
        if output.lower() in seen:
            raise ctx.error(
                f"output column {output!r} would appear twice after adding the suffixes "
                f"({seen[output.lower()]!r} and {output!r}); choose other suffixes or rename a column "
                "upstream"
            )
        seen[output.lower()] = output
    select = ", ".join(f"{expression} AS {quote_ident(output)}" for expression, output in items)
    condition = " AND ".join(f"{lt}.{quote_ident(lk)} = {rt}.{quote_ident(rk)}" for lk, rk in keys)
    order = f"{rt}.{row}, {lt}.{row}" if config.how == "right" else f"{lt}.{row} NULLS LAST, {rt}.{row}"
    sql = (
        f"SELECT {select} FROM {numbered(left.relation, row_name)} AS {lt} "
        f"{_JOIN_SQL[config.how]} {numbered(right.relation, row_name)} AS {rt} "
        f"ON {condition} ORDER BY {order}"
    )
    bind(ctx, sql, what="the join", fix="check that the key columns of both sides have the same type")
    return {"out": sql}


# --- union ----------------------------------------------------------------------------------------------


@register_multi("union")
def build_union(ctx: TransformContext, inputs: Sequence[MultiInput]) -> dict[str, str]:
    """Stack the inputs in order, matching columns by name (ignoring case); absent columns are null.

    Columns come in order of first appearance. A column whose types differ between inputs gets a type
    that holds both (a number and a text give text). ``distinct`` keeps one of equal rows, as SQL's
    ``UNION`` does (see ``deduplicate``: the rows then do not keep input order).
    """
    config = ctx.typed_config(UnionConfig)
    sql = " UNION ALL BY NAME ".join(f"SELECT * FROM {item.relation}" for item in inputs)
    result = bind(ctx, sql, what="the union", fix="check the column types of the inputs")
    for name, duck_type in result:
        absent = [item.ref for item in inputs if find_column(name, item.columns, owner=ctx.owner) is None]
        if absent:
            ctx.log.info(f"{ctx.owner}: column {name!r} is missing in {', '.join(absent)}; filled with nulls")
        types = {
            item.ref: found[1]
            for item in inputs
            if (found := find_column(name, item.columns, owner=ctx.owner)) is not None
        }
        if len(set(types.values())) > 1:
            shown = ", ".join(f"{t} in {ref}" for ref, t in types.items())
            ctx.log.info(f"{ctx.owner}: column {name!r} is {shown}; the union makes it {duck_type}")
    if not config.distinct:
        return {"out": sql}
    ctx.rows(f"CREATE TEMP VIEW __logidata_union AS {sql}")
    dedupe = dataclasses.replace(ctx, config=DeduplicateConfig())
    return {"out": build_deduplicate(dedupe, "__logidata_union", result)}


# --- sql ------------------------------------------------------------------------------------------------


def sql_view_name(ref: str) -> str:
    """The table name under which the ``sql`` module exposes an input: ``task_id`` or ``task_id__port``."""
    return ref.replace(":", "__")


@register_multi("sql")
def build_sql(ctx: TransformContext, inputs: Sequence[MultiInput]) -> dict[str, str]:
    """The user's SELECT, checked by ``validate_query`` against the input names, bound before it runs.

    Inputs are views named after their upstream reference and ``input_0``, ``input_1``, ...; the
    configuration is locked before the query runs, and external access is already disabled.
    """
    config = ctx.typed_config(SqlConfig)
    tables = [item.relation for item in inputs]
    for item in inputs:
        name = sql_view_name(item.ref)
        if name.lower() in {table.lower() for table in tables}:
            ctx.log.warning(
                f"{ctx.owner}: input {item.ref!r} is not exposed under its own name, which is taken by "
                f"another input; use {item.relation}"
            )
            continue
        ctx.rows(f"CREATE TEMP VIEW {quote_ident(name)} AS SELECT * FROM {item.relation}")
        tables.append(name)
    query = validate_query(config.query, tables, owner=ctx.owner)
    ctx.rows("SET lock_configuration = true")
    bind(ctx, query, what="the SQL", fix="fix the query (table and column names, types, functions)")
    return {"out": query}


# --- route ----------------------------------------------------------------------------------------------


@register_multi("route")
def build_route(ctx: TransformContext, inputs: Sequence[MultiInput]) -> dict[str, str]:
    """Rows where the condition is true go to ``matched``, the rest (false or null) to ``unmatched``.

    Each output is its own query over the input; a condition whose value may change between queries
    (``random()``, ``now()``) is evaluated once into a temporary table so every row goes to exactly one
    output.
    """
    config = ctx.typed_config(RouteConfig)
    (source,) = inputs
    condition = validate_condition(config.condition, source.columns, owner=ctx.owner)
    relation = source.relation
    bind(
        ctx,
        f"SELECT * FROM {relation} WHERE ({condition})",
        what=f"the condition {config.condition!r}",
        fix="fix the condition",
    )
    if is_volatile(condition):
        flag = quote_ident(unique_name("__logidata_matched", source.columns))
        ctx.rows(
            f"CREATE TEMP TABLE __logidata_route AS SELECT *, ({condition}) IS TRUE AS {flag} FROM {relation}"
        )
        return {
            "matched": f"SELECT * EXCLUDE ({flag}) FROM __logidata_route WHERE {flag}",
            "unmatched": f"SELECT * EXCLUDE ({flag}) FROM __logidata_route WHERE NOT {flag}",
        }
    return {
        "matched": f"SELECT * FROM {relation} WHERE ({condition}) IS TRUE",
        "unmatched": f"SELECT * FROM {relation} WHERE ({condition}) IS NOT TRUE",
    }


# --- quality_check --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _RowCheck:
    label: str
    flag: str  # helper column, true where the row fails
    bad_when: str  # SQL, true (or null) where the row fails
    column: str
    kind: str


def _range_bound(ctx: TransformContext, value: Any, column: str, duck_type: str, what: str) -> str:
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
    ctx: TransformContext, relation: str, check: _RowCheck, row: str, keys: Sequence[tuple[str, str]]
) -> str:
    """Up to five examples of failing rows in input order.

    With ``keys`` (the columns identifying a row, as (name, type)) a failing row is named by its key
    values, which still point at the row after a rerun or in the source system; without, by its position
    in the input. Values are shown for checks on values (counts for duplicates).
    """
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


@register_multi("quality_check")
def build_quality_check(ctx: TransformContext, inputs: Sequence[MultiInput]) -> dict[str, str]:
    """Evaluate every check in one pass, then fail, warn or quarantine.

    Nulls pass every check but not_null; ``unique`` fails every row whose value appears more than once.
    Failures are reported per check with the number of failing rows and up to five examples. With
    ``quarantine`` the failing rows go to ``rejected`` (input order) with ``_rejected_reason`` listing the
    checks they fail, separated by '; '; a failed row count fails the task or warns (``on_quarantine``).
    ``rejected`` always exists, empty unless quarantining, with the input's columns plus the reason.
    """
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


__all__ = [
    "REJECTED_REASON",
    "bind",
    "build_aggregate",
    "build_derive_column",
    "build_join",
    "build_map_values",
    "build_python",
    "build_quality_check",
    "build_route",
    "build_sort",
    "build_sql",
    "build_union",
    "is_volatile",
    "load_callable",
    "sql_view_name",
    "typed_literals",
]
