"""PostgreSQL operators: ``source.postgres`` and ``destination.postgres``.

Import-light like every operator module: only ``airflow.sdk`` (through the base) and the config models at
module level; the engine (psycopg, pyarrow) is imported in ``run``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.modules.postgres import PostgresDestinationConfig, PostgresSourceConfig
from airflow_provider_logidata.operators.base import LogiDataDestinationOperator, LogiDataSourceOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_logidata.engine.staging import StagingHandle
    from airflow_provider_logidata.modules.base import ModuleConfig


class PostgresSourceOperator(LogiDataSourceOperator):
    """Read a PostgreSQL table or SELECT into staging, streamed through ``COPY ... TO STDOUT``.

    Config: :class:`~airflow_provider_logidata.modules.postgres.PostgresSourceConfig` (``query`` is
    templated). Incremental reads take the run's data interval from the context, or the committed cursor
    from the Airflow Variable ``logidata.cursor.<dag_id>.<task_id>``; the new cursor rides in the returned
    staging handle's ``meta`` until a PostgreSQL destination commits it. Returns the staging handle.
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
        from airflow_provider_logidata.engine import postgres as engine

        assert isinstance(config, PostgresSourceConfig)
        kwargs: dict[str, Any] = {}
        spec = config.incremental
        if spec is not None and spec.mode == "data_interval":
            kwargs["interval"] = incremental.run_data_interval(context, owner=self._owner)
        elif spec is not None:
            key = incremental.cursor_key(self.dag_id, self.task_id)
            kwargs["cursor_key"] = key
            kwargs["cursor_state"] = incremental.load_cursor(key)
        return engine.read_postgres(config, self.task_id, self.staging_uri(context), log=self.log, **kwargs)


class PostgresDestinationOperator(LogiDataDestinationOperator):
    """Load the staged input into a PostgreSQL table in one transaction (append, replace or merge).

    Config: :class:`~airflow_provider_logidata.modules.postgres.PostgresDestinationConfig`. After the commit,
    stores the incremental cursors carried by the input. Returns ``{"uri", "rows", "mode"}``.
    """

    module_name = "destination.postgres"
    config_model = PostgresDestinationConfig
    ui_color = "#e0f2fe"

    def run(
        self,
        config: ModuleConfig,
        handles: list[StagingHandle],
        input_ids: list[str],
        context: Context,
    ) -> dict[str, Any]:
        # Importing the engine module registers the destination with the engine's ``DESTINATIONS``.
        from airflow_provider_logidata.engine import postgres  # noqa: F401

        return super().run(config, handles, input_ids, context)
