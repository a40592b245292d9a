"""Run proposed nodes over the sample with the engine's own SQL builders, and measure what changed.

The builders are the ones tasks run (``engine.builders``: chain steps for one-in-one-out modules, the
multi-port builders for routes, checks and joins; the first output port is what flows on), so the
effect shown is the effect the pipeline will have, and a config the engine would refuse fails here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.sql import quote_ident, unique_name
from airflow_provider_logidata.modules.registry import registry
from airflow_provider_logidata.suggest.model import Effect, ProposedNode
from airflow_provider_logidata.suggest.sample import open_connection

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)
EXAMPLES = 5


class _Quiet:
    """The builders log what a task does ("filling nulls in ..."); on a sample that is noise."""

    def info(self, msg: str, /) -> None:
        log.debug(msg)

    def warning(self, msg: str, /) -> None:
        log.debug(msg)


class ProposalError(ValueError):
    """A proposed node that is not valid for its module, or that the engine refuses on the sample."""


def validate_node(node: ProposedNode) -> None:
    """The config must validate against the module's config model (what the spec validator checks)."""
    definition = registry().get(node.module)
    if definition is None:
        raise ProposalError(f"unknown module {node.module!r}; known: {', '.join(registry().names())}")
    try:
        config = definition.config_model.model_validate(node.config)
    except ValueError as error:
        first = str(error).splitlines()
        raise ProposalError(f"invalid config for {node.module}: {' '.join(first[:3])}") from None
    # A proposal comes from a request or a model: the same policy as any node an editor draws.
    from airflow_provider_logidata.security.policy import check_config

    violations = check_config(definition.category, config, stage="validate", raw=node.config)
    if violations:
        details = "; ".join(f"{item.path}: {item.message}" for item in violations)
        raise ProposalError(f"{node.module} refused by the security policy: {details}")
    ports = set(definition.input_ports)
    if node.input_port is not None and node.input_port not in ports:
        raise ProposalError(f"{node.module} has no input port {node.input_port!r}")
    for port in node.extra_inputs:
        if port not in ports or port == node.input_port:
            raise ProposalError(f"{node.module} has no free input port {port!r}")


@dataclass
class Applied:
    table: pa.Table
    row_preserving: bool


def apply_nodes(
    table: pa.Table,
    nodes: list[ProposedNode],
    *,
    inputs: dict[str, pa.Table] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> Applied:
    """The sample after ``nodes`` (in order); ``inputs`` holds the tables of ``extra_inputs`` node ids."""
    from airflow_provider_logidata.engine import builders
    from airflow_provider_logidata.engine.multi import MultiInput
    from airflow_provider_logidata.engine.transforms import TransformContext

    # A caller's connection is reused only for one-in-one-out steps: the multi-output builders create
    # fixed-name temporary tables and expect a connection of their own.
    own = con is None or any(builders.step(node.module) is None for node in nodes)
    connection = open_connection() if own or con is None else con
    try:
        connection.register("__suggest_in", table)
        relation = "__suggest_in"
        preserving = True
        for index, node in enumerate(nodes):
            validate_node(node)
            definition = registry()[node.module]
            config = definition.config_model.model_validate(node.config)
            ctx = TransformContext(
                con=connection, module=node.module, node_id=f"suggested_{index}", config=config, log=_Quiet()
            )
            columns = [
                (str(r[0]), str(r[1]))
                for r in connection.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
            ]
            view = f"__suggest_step_{index}"
            step = builders.step(node.module)
            build_multi = builders.multi(node.module)
            if step is not None:
                sql = step.build(ctx, relation, columns)
                preserving = preserving and step.keeps_rows
            elif build_multi is not None:
                multi_inputs = []
                ports = definition.input_ports or (None,)
                for port_index, port in enumerate(ports):
                    if port is None or port == (node.input_port or ports[0]):
                        multi_inputs.append(MultiInput(node.module, relation, columns, port))
                        continue
                    other_id = node.extra_inputs.get(port)
                    other = (inputs or {}).get(other_id or "")
                    if other is None:
                        raise ProposalError(f"{node.module}: no sample for input {port!r} ({other_id!r})")
                    name = f"__suggest_extra_{index}_{port_index}"
                    connection.register(name, other)
                    other_columns = [
                        (str(r[0]), str(r[1]))
                        for r in connection.execute(f"DESCRIBE SELECT * FROM {name}").fetchall()
                    ]
                    multi_inputs.append(MultiInput(other_id or port, name, other_columns, port))
                plan = build_multi(ctx, multi_inputs)
                sql = plan[definition.outputs[0]]
                preserving = False
            else:
                raise ProposalError(f"{node.module} cannot be previewed on a sample (not a transform)")
            connection.execute(f"CREATE OR REPLACE TEMP TABLE {view} AS {sql}")
            relation = view
        result = connection.sql(f"SELECT * FROM {relation}").to_arrow_table()
        if not own:
            for index in range(len(nodes)):
                connection.execute(f"DROP TABLE IF EXISTS __suggest_step_{index}")
        return Applied(table=result, row_preserving=preserving)
    except LogiDataTaskError as error:
        raise ProposalError(str(error)) from None
    except duckdb.Error as error:
        raise ProposalError(f"DuckDB refused the proposed step: {str(error).splitlines()[0]}") from None
    finally:
        if own:
            connection.close()


def measure(before: pa.Table, applied: Applied, con: duckdb.DuckDBPyConnection | None = None) -> Effect:
    """Rows before/after; for row-preserving steps the cells whose value changed (a changed type counts
    every non-null cell as changed: the value is now stored differently), with a few examples."""
    after = applied.table
    cols_before, cols_after = list(before.column_names), list(after.column_names)
    changed = 0
    examples: list[dict[str, Any]] = []
    if applied.row_preserving and before.num_rows == after.num_rows:
        own = con is None
        if con is None:
            con = open_connection()
        try:
            con.register("b", before)
            con.register("a", after)
            shared = [c for c in cols_before if c in cols_after]
            # Renamed columns keep their position: pair them up when the column count is unchanged.
            renamed = (
                [
                    (x, y)
                    for x, y in zip(cols_before, cols_after, strict=True)
                    if x != y and x not in cols_after and y not in cols_before
                ]
                if len(cols_before) == len(cols_after)
                else []
            )
            types_b = {str(r[0]): str(r[1]) for r in con.execute("DESCRIBE SELECT * FROM b").fetchall()}
            types_a = {str(r[0]): str(r[1]) for r in con.execute("DESCRIBE SELECT * FROM a").fetchall()}
            row = quote_ident(unique_name("__row", [(c, "") for c in cols_before + cols_after]))
            pairs = [(c, c) for c in shared] + renamed
            if pairs:
                conditions = []
                for old, new in pairs:
                    b, a = f"b.{quote_ident(old)}", f"a.{quote_ident(new)}"
                    if types_b[old] != types_a[new]:
                        conditions.append(f"({b} IS NOT NULL OR {a} IS NOT NULL)")
                    else:
                        conditions.append(f"({b} IS DISTINCT FROM {a})")
                numbered_b = f"(SELECT *, row_number() OVER () AS {row} FROM b) AS b"
                numbered_a = f"(SELECT *, row_number() OVER () AS {row} FROM a) AS a"
                join = f"{numbered_b} JOIN {numbered_a} ON b.{row} = a.{row}"
                sums = ", ".join(f"count(*) FILTER (WHERE {c})" for c in conditions)
                counts = con.execute(f"SELECT {sums} FROM {join}").fetchall()[0]
                changed = int(sum(int(c) for c in counts))
                for (old, new), condition, count in zip(pairs, conditions, counts, strict=True):
                    if not count or len(examples) >= EXAMPLES:
                        continue
                    rows = con.execute(
                        f"SELECT CAST(b.{quote_ident(old)} AS VARCHAR), "
                        f"CAST(a.{quote_ident(new)} AS VARCHAR) "
                        f"FROM {join} WHERE {condition} LIMIT {EXAMPLES - len(examples)}"
                    ).fetchall()
                    examples.extend({"column": new, "before": r[0], "after": r[1]} for r in rows)
        finally:
            con.unregister("b")
            con.unregister("a")
            if own:
                con.close()
    dropped = [c for c in cols_before if c not in cols_after]
    added = [c for c in cols_after if c not in cols_before]
    parts = []
    if after.num_rows != before.num_rows:
        parts.append(f"{before.num_rows:,} → {after.num_rows:,} rows")
    if changed:
        parts.append(f"{changed:,} cell(s) changed")
    if dropped and added and len(dropped) == len(added):
        parts.append("renames " + ", ".join(f"{d!r} → {a!r}" for d, a in zip(dropped, added, strict=True)))
    else:
        if dropped:
            parts.append("drops column(s) " + ", ".join(repr(c) for c in dropped))
        if added:
            parts.append("adds column(s) " + ", ".join(repr(c) for c in added))
    return Effect(
        rows_before=before.num_rows,
        rows_after=after.num_rows,
        cells_changed=changed,
        summary="; ".join(parts) or "no change on the sample",
        columns_before=cols_before,
        columns_after=cols_after,
        examples=examples,
    )
