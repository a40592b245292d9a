"""python: call a Python function deployed with the DAGs on the data, as pandas DataFrames.

The config holds only the function's dotted path: pipeline editors may not deploy code, so they call
only what DAG authors did (``security.callables`` decides). The step writes the function's results to a
file of its own while it is built, so reading its output never calls the function again. No PostgreSQL
builder: a pipeline with a python step runs on the ETL engine.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from airflow_provider_logidata.modules.base import NULLABLE_VALUE_SCHEMA, ModuleConfig, Value
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import pandas as pd
    import pyarrow as pa

    from airflow_provider_logidata.engine.sql import Columns
    from airflow_provider_logidata.engine.transforms import TransformContext

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
        json_schema_extra={"additionalProperties": NULLABLE_VALUE_SCHEMA},
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


def load_callable(path: str, *, owner: str) -> Callable[..., Any]:
    """Import ``package.module:function`` (or ``package.module.function``) deployed with the DAGs.

    ``security.callables`` decides what may be called, before the import (the module is listed in
    ``[logidata] python_modules`` or lives in the DAGs folder) and after it (the function is defined in
    an allowed module): pipeline editors may not deploy code, so they call only what DAG authors did.
    """
    import importlib

    from airflow_provider_logidata.engine.errors import LogiDataTaskError
    from airflow_provider_logidata.security import callables
    from airflow_provider_logidata.security.errors import PolicyError

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

    from airflow_provider_logidata.engine.files import describe_error

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
    from airflow_provider_logidata.engine.files import describe_error

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


def build_duckdb(ctx: TransformContext, relation: str, columns: Columns) -> str:
    """Run the user's function over the input as pandas DataFrames; the result becomes the next relation.

    ``batch`` mode streams the input in batches of ``batch_rows`` and calls the function once per batch
    (an empty input calls it once with an empty DataFrame, so the output still has columns); ``whole``
    mode reads the whole input into one DataFrame first. The results are written to a Parquet file in
    the connection's temporary folder (removed with it) and exposed as a DuckDB view; the DataFrame index
    is dropped (``reset_index()`` keeps it as a column). Every batch must return the same columns and
    types as the first.
    """
    import time
    import uuid
    from pathlib import Path

    import pyarrow.dataset as ds

    from airflow_provider_logidata.engine import duck
    from airflow_provider_logidata.engine.files import parquet_writer, stream_to_file
    from airflow_provider_logidata.engine.sql import quote_ident

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


MODULE = ModuleDef(
    name="python",
    category="transform",
    label="Python",
    description="Call a Python function deployed with the DAGs on pandas DataFrames.",
    config_model=PythonConfig,
    operator_name="PythonTransformOperator",
    icon="code",
    fusable=True,
    # The function's results are written to a file while the step is built.
    self_materialised=True,
    duckdb=build_duckdb,
)
