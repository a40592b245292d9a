"""Bind a transform's own SQL against empty inputs of the upstream schemas: what a run would bind.

The same builder a run and a preview call (``engine.builders``) builds the node's SELECT over zero-row
tables shaped like its inputs, and DuckDB describes the result without reading data. Unknown columns,
type mismatches and invalid SQL are therefore caught by the engine that will run the node, with its own
words. Each node binds on its own cursor of one in-memory database: temporary tables and views that
builders create under fixed names stay apart, and opening a cursor costs microseconds, a database ms.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.schema.model import Column

if TYPE_CHECKING:
    from collections.abc import Callable

    import duckdb

    from airflow_provider_logidata.modules.registry import ModuleDef

log = logging.getLogger("airflow_provider_logidata.schema")


class Notes:
    """The builders' log while binding: ``info`` is about rows and belongs to a run; a ``warning`` (a
    union filling a missing column with nulls) is a design-time warning on the node."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.created: list[str] = []

    def info(self, msg: str, /) -> None:
        log.debug(msg)

    def warning(self, msg: str, /) -> None:
        self.warnings.append(msg)


class _Quiet(Notes):
    def warning(self, msg: str, /) -> None:
        log.debug(msg)


QUIET = _Quiet()


class BindError(Exception):
    """The node's config does not bind against its inputs; the message is the engine's, node prefix off."""


def connect() -> duckdb.DuckDBPyConnection:
    from airflow_provider_logidata.engine.duck import sample_connection

    con = sample_connection("256MB")
    # SQL written in a node may read only its inputs, as in runs and previews.
    con.execute("SET enable_external_access = false")
    return con


class Lazy:
    """The check's DuckDB, opened on first use: a check that binds nothing (no source read) never
    imports the engine, so ``logidata validate`` stays quick."""

    def __init__(self, opener: Callable[[], duckdb.DuckDBPyConnection]) -> None:
        self._opener = opener
        self._con: duckdb.DuckDBPyConnection | None = None

    def __call__(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = self._opener()
        return self._con

    def __enter__(self) -> Lazy:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._con is not None:
            self._con.close()


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def bind_transform(
    con: duckdb.DuckDBPyConnection,
    definition: ModuleDef,
    node_id: str,
    config: Any,
    inputs: list[tuple[str, str, str | None, list[Column]]],
    notes: Notes | None = None,
) -> dict[str, tuple[str, list[Column], dict[str, list[Column]]]]:
    """``{port: (sql, columns, {relation: input columns})}`` of a transform over empty inputs.

    ``inputs``: ``(upstream node id, upstream port, target port, columns)`` per incoming edge, in order.
    """
    import duckdb

    from airflow_provider_logidata.engine import builders
    from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
    from airflow_provider_logidata.engine.files import describe_error
    from airflow_provider_logidata.engine.multi import MultiInput
    from airflow_provider_logidata.engine.transforms import TransformContext

    cursor = con.cursor()
    owner = node_label(definition.name, node_id)
    try:
        names = [f"input_{index}" for index in range(len(inputs))]
        for name, (_src, _port, _target, columns) in zip(names, inputs, strict=True):
            body = ", ".join(f"{quote(c.name)} {c.type}" for c in columns) or '"__no_columns" INTEGER'
            cursor.execute(f"CREATE TEMP TABLE {name} ({body})")
        relations = {name: cols for name, (_s, _p, _t, cols) in zip(names, inputs, strict=True)}
        created: list[str] = []
        context = TransformContext(
            con=cursor,
            module=definition.name,
            node_id=node_id,
            config=config,
            log=notes or QUIET,
            created=created,
        )
        try:
            if (step := builders.step(definition.name)) is not None:
                plans = {"out": step.build(context, names[0], _pairs(inputs[0][3]))}
            elif (build_multi := builders.multi(definition.name)) is not None:
                plans = build_multi(
                    context,
                    [
                        MultiInput(
                            ref=src if port == "out" else f"{src}:{port}",
                            relation=names[index],
                            columns=_pairs(cols),
                            port=target,
                        )
                        for index, (src, port, target, cols) in enumerate(inputs)
                    ],
                )
            else:
                raise BindError("this module has no DuckDB builder, so its columns cannot be known")
            if notes is not None:
                notes.created = created  # temporary views the SQL reads, for column lineage
            out: dict[str, tuple[str, list[Column], dict[str, list[Column]]]] = {}
            for port, sql in plans.items():
                described = cursor.execute(f"DESCRIBE {sql}").fetchall()
                out[port] = (sql, [Column(str(row[0]), str(row[1])) for row in described], relations)
            return out
        except LogiDataTaskError as error:
            raise BindError(strip_owner(str(error), owner)) from None
        except duckdb.Error as error:
            raise BindError(f"DuckDB rejects the node's SQL: {describe_error(error)}") from None
        except (ValueError, TypeError, KeyError) as error:
            raise BindError(strip_owner(str(error), owner)) from None
    finally:
        cursor.close()


def _pairs(columns: list[Column]) -> list[tuple[str, str]]:
    return [(c.name, c.type) for c in columns]


def strip_owner(message: str, owner: str) -> str:
    """The engine prefixes its messages with the node (``filter_rows node 'x': ``); an issue names the
    node itself."""
    return message.removeprefix(owner).lstrip(":, ").strip() or message


def describe_arrow(con: duckdb.DuckDBPyConnection, table: Any) -> list[Column]:
    """Column names and DuckDB types of an Arrow table (a source's zero-row read)."""
    cursor = con.cursor()
    try:
        cursor.register("schema_source", table.slice(0, 0))
        rows = cursor.execute("DESCRIBE SELECT * FROM schema_source").fetchall()
        return [Column(str(row[0]), str(row[1])) for row in rows]
    finally:
        cursor.close()
