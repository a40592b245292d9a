"""PostgreSQL operators: ``source.postgres`` and ``destination.postgres``.

Import-light like every operator module: only ``airflow.sdk`` (through the base) and the config models at
module level; the engine (psycopg, pyarrow) is imported in ``run``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig
from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig
from airflow_provider_logidata.operators.base import (
    LogiDataDestinationOperator,
    LogiDataOperator,
    LogiDataSourceOperator,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import BaseOperator, Context

    from airflow_provider_logidata.engine.staging import StagingHandle
    from airflow_provider_logidata.modules.base import ModuleConfig


class CursorSourceMixin(LogiDataOperator):
    """A task reading a ``source.postgres`` by cursor: the source's own task, or an ELT partial pushdown
    holding it (``operators.elt.ELTReadOperator``). Both read from the smallest committed cursor of the
    destinations the source feeds, so each keeps its own (``engine.incremental``).

    :param cursor_destinations: the destinations fed by the source (dicts with ``task_id``, ``module``
        and, for ``destination.postgres``, ``conn_id``, ``schema`` and ``table``: where its cursor is
        kept). The DAG factory passes them from the pipeline's graph; by default they are found through
        the DAG: every LogiData destination task reading, through any chain of LogiData tasks, this one's
        output.
    """

    def __init__(
        self, *, cursor_destinations: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.cursor_destinations = (
            None if cursor_destinations is None else [dict(item) for item in cursor_destinations]
        )

    def cursor_read(self, source_id: str, context: Context, *, owner: str) -> tuple[Any, list[Any]]:
        """The states of the destinations ``source_id`` feeds, as ``engine.cursor_read.CursorRead`` (where
        its read starts), and those destinations."""
        from airflow_provider_logidata.engine import cursor_read

        destinations = [
            cursor_read.CursorDestination.of(self._rendered(item, context))
            for item in self.find_cursor_destinations()
        ]
        states = cursor_read.read_destination_states(
            self.dag_id, source_id, destinations, owner=owner, log=self.log
        )
        return cursor_read.CursorRead(self.dag_id, source_id, states), destinations

    def _rendered(self, item: dict[str, Any], context: Context) -> dict[str, Any]:
        """A destination's connection, schema and table as its task renders them in this run (a templated
        table name finds its cursor table), or as written when they cannot be rendered here."""
        fields = {k: v for k, v in item.items() if k in ("conn_id", "schema", "table") and isinstance(v, str)}
        if not any("{{" in v or "{%" in v for v in fields.values()):
            return item
        from airflow_provider_logidata.security.templates import render_config, safe_context

        try:
            rendered = render_config(fields, safe_context({**context, "task_id": item["task_id"]}))
        except ValueError as error:
            self.log.warning(
                "%s: cannot render the connection/table of destination %r here (%s); its cursor is looked "
                "up in its Airflow Variable only",
                self.task_id,
                item["task_id"],
                error,
            )
            return item
        return {**item, **rendered}

    def find_cursor_destinations(self) -> list[dict[str, Any]]:
        """The destinations fed by this source: as given, else found through the DAG (see the class)."""
        if self.cursor_destinations is not None:
            return self.cursor_destinations
        return discover_destinations(self)


class PostgresSourceOperator(CursorSourceMixin, LogiDataSourceOperator):
    """Read a PostgreSQL table or SELECT into staging, streamed through ``COPY ... TO STDOUT``.

    Config: :class:`~airflow_provider_logidata.modules.sources.postgres.PostgresSourceConfig` (``query`` is
    templated). Incremental reads take the run's data interval from the context, or, by cursor, read from
    the smallest committed cursor of the destinations this source feeds: each destination keeps its own
    (``engine.incremental``), so one that failed never costs another its rows (``cursor_destinations``:
    :class:`CursorSourceMixin`). Returns the staging handle.
    """

    module_name = "source.postgres"
    config_model = PostgresSourceConfig
    ui_color = "#e0f2fe"

    def run(
        self,
        config: ModuleConfig,
        handles: list[StagingHandle],
        input_ids: list[str],
        context: Context,
    ) -> StagingHandle:
        from airflow_provider_logidata.engine import incremental
        from airflow_provider_logidata.engine.pg_read import read_postgres

        assert isinstance(config, PostgresSourceConfig)
        kwargs: dict[str, Any] = {"dag_id": self.dag_id}
        spec = config.incremental
        if spec is not None and spec.mode == "data_interval":
            kwargs["interval"] = incremental.run_data_interval(context, owner=self._owner)
        elif spec is not None:
            kwargs["cursor"], destinations = self.cursor_read(self.task_id, context, owner=self._owner)
            self.log.info(
                "%s: reads by cursor for %s; this load runs in the ETL engine: each destination drops the "
                "rows it already holds and commits its own cursor",
                self.task_id,
                ", ".join(d.task_id for d in destinations) or "no destination",
            )
        return read_postgres(config, self.task_id, self.staging_uri(context), log=self.log, **kwargs)


def discover_destinations(source: BaseOperator) -> list[dict[str, Any]]:
    """Every ``destination.postgres``/``destination.file`` task that reads ``source``'s output through a
    chain of LogiData tasks (their ``inputs``: data edges, not mere ordering), in task id order."""
    from airflow_provider_logidata.engine.cursor_state import CURSOR_DESTINATIONS
    from airflow_provider_logidata.modules.registry import split_input_ref
    from airflow_provider_logidata.operators.base import LogiDataOperator

    dag = source.dag
    consumers: dict[str, list[LogiDataOperator]] = {}
    for task in dag.tasks if dag is not None else []:
        if isinstance(task, LogiDataOperator):
            for ref in task.input_task_ids():
                consumers.setdefault(split_input_ref(ref)[0], []).append(task)
    found: dict[str, dict[str, Any]] = {}
    seen = {source.task_id}
    frontier = [source.task_id]
    while frontier:
        for task in consumers.get(frontier.pop(), []):
            if task.task_id in seen:
                continue
            seen.add(task.task_id)
            if task.module_name in CURSOR_DESTINATIONS:
                item: dict[str, Any] = {"task_id": task.task_id, "module": task.module_name}
                if task.module_name == "destination.postgres":
                    for name in ("conn_id", "schema", "table"):
                        value = task.config.get(name)
                        if isinstance(value, str):
                            item[name] = value
                    item.setdefault("schema", "public")
                found[task.task_id] = item
            frontier.append(task.task_id)
    return [found[key] for key in sorted(found)]


class PostgresDestinationOperator(LogiDataDestinationOperator):
    """Load the staged input into a PostgreSQL table in one transaction (append, replace or merge).

    Config: :class:`~airflow_provider_logidata.modules.destinations.postgres.PostgresDestinationConfig`.
    After the commit, stores the incremental cursors carried by the input. Returns ``{"uri", "rows",
    "mode"}``.
    """

    module_name = "destination.postgres"
    config_model = PostgresDestinationConfig
    ui_color = "#e0f2fe"
