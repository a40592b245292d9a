"""The base operator of every LogiData module, and one base per category (source, transform, destination).

Imported by the DAG processor on every parse, so it imports only ``airflow.sdk`` and the config models;
the engine (DuckDB, pyarrow) is imported inside ``execute``.

Contract with the DAG factory::

    module.operator_class()(task_id=node.id, config=node.config, inputs=[source ids in edge order], dag=dag,
                            retries=..., ...)

The config is validated when the operator is built (a bad hand-written DAG fails at parse time) and again
after Jinja rendering at run time. Data moves between tasks as staged Parquet; XCom carries only the small
staging handle ``{"uri", "format", "rows", "schema"}`` that sources and transforms return.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from pydantic import ValidationError

from airflow_provider_logidata.modules.base import ModuleConfig
from airflow_provider_logidata.modules.registry import output_xcom_key, registry, split_input_ref

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import jinja2
    from airflow.sdk import Context

    from airflow_provider_logidata.engine.staging import StagingHandle


# XCom key of the per-node run metrics every LogiData task pushes (read by the builder's run overlay).
METRICS_XCOM_KEY = "logidata_metrics"


def _titled(error: ValidationError, owner: str) -> ValidationError:
    """The same validation error, titled with the node (``3 validation errors for filter_rows node 'x'``)."""
    try:
        return ValidationError.from_exception_data(title=owner, line_errors=error.errors())  # type: ignore[arg-type]
    except Exception:  # pragma: no cover - an error pydantic cannot rebuild is raised as it was
        return error


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the cyclic garbage collector off the objects the task process held before the run.

    A task process holds some 200,000 objects of Airflow's before ``execute``; each full collection the
    engine's imports (DuckDB, sqlglot, pyarrow) and its compile trigger walks all of them again, about
    0.1 s of an ELT task's own run. Frozen objects are skipped (``gc.freeze``); they are unfrozen after
    the run, so a process running several tasks (``dag.test()``) collects them as before, unless the
    process had frozen objects itself (a forked worker), whose choice is kept.
    """
    first = gc.get_freeze_count() == 0
    gc.freeze()
    try:
        yield
    finally:
        if first:
            gc.unfreeze()


class LogiDataOperator(BaseOperator):
    """Runs one node of a LogiData pipeline.

    :param config: the module's config, as a dict (as stored in the pipeline JSON) or a config model
        instance. Strings in it are Jinja templates (``{{ ds_nodash }}`` in a path).
    :param inputs: upstream task ids (or operators) whose staged outputs this task reads, in order; a
        ``"task_id:port"`` string reads a named output of a multi-output module (a route's
        ``unmatched``). Operators passed here are also set upstream. ``None`` reads every direct
        upstream task, sorted by task id.
    """

    module_name: ClassVar[str]
    config_model: ClassVar[type[ModuleConfig]]
    # Per-node figures of the current run, set by ``run`` when the task runs several nodes.
    node_metrics: dict[str, dict[str, Any]] | None = None
    # True for an operator that pushes the ``logidata_metrics`` XCom itself (the base then does not).
    pushes_own_metrics: ClassVar[bool] = False

    template_fields: Sequence[str] = ("config",)
    template_fields_renderers = {"config": "json"}

    def __init__(
        self,
        *,
        config: Mapping[str, Any] | ModuleConfig,
        inputs: Sequence[str | BaseOperator] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        try:
            self.config: dict[str, Any] = self.validate_config(config)
        except ValidationError as error:
            raise _titled(error, self._owner) from None
        self.inputs: list[str] | None = None
        if inputs is not None:
            if isinstance(inputs, str):
                raise TypeError(f"{self._owner}: inputs must be a list of task ids, not a single string")
            self.inputs = []
            for item in inputs:
                if isinstance(item, BaseOperator):
                    self.inputs.append(item.task_id)
                    self.set_upstream(item)
                elif isinstance(item, str):
                    self.inputs.append(item)
                else:
                    raise TypeError(
                        f"{self._owner}: inputs must be task ids or operators, got {type(item).__name__}"
                    )
        self.declare_lineage()

    def declare_lineage(self) -> None:
        """Hook for sources and destinations to declare Assets (``operators.lineage``).

        Called from this ``__init__``: a subclass ``__init__`` would be wrapped by Airflow once more.
        """

    @property
    def _category(self) -> str:
        from airflow_provider_logidata.modules.registry import registry

        module = registry().get(self.module_name)
        return module.category if module is not None else "transform"

    @property
    def _owner(self) -> str:
        return f"{self.module_name} node {self.task_id!r}"

    @classmethod
    def validate_config(cls, config: Mapping[str, Any] | ModuleConfig) -> dict[str, Any]:
        """Validate with the module's model and return the JSON-compatible dict stored on the task.

        Raises pydantic's ``ValidationError``, so a bad config fails where the operator is built.
        """
        if isinstance(config, cls.config_model):
            # Already validated (the DAG factory passes the validator's models): dump once, skip
            # re-validation.
            return config.model_dump(mode="json")
        if isinstance(config, ModuleConfig):
            config = config.model_dump(mode="json")
        if not isinstance(config, Mapping):
            raise TypeError(f"{cls.__name__}: config must be a dict or a {cls.config_model.__name__}")
        model = cls.config_model.model_validate(dict(config))
        return model.model_dump(mode="json")

    def _do_render_template_fields(
        self,
        parent: Any,
        template_fields: Iterable[str],
        context: Context,
        jinja_env: jinja2.Environment,
        seen_oids: set[int],
    ) -> None:
        """Render ``config`` in LogiData's template sandbox; any other template field as Airflow does.

        Config strings are written by pipeline editors, who may not read what Airflow's full context
        holds (``conn``, ``var``, ``ti``, ``dag_run``...): ``security.templates`` renders them with an
        allow-listed context and refuses everything else. Overridden here rather than in
        ``render_template_fields`` because a mapped task's unmapped copy is rendered through this method
        directly.
        """
        fields = list(template_fields)
        if parent is not self or "config" not in fields:
            super()._do_render_template_fields(parent, fields, context, jinja_env, seen_oids)
            return
        from airflow_provider_logidata.engine.errors import LogiDataTaskError
        from airflow_provider_logidata.security.templates import render_config, safe_context

        if self.config and id(self.config) not in seen_oids:  # seen: a mapped value Airflow leaves as is
            try:
                self.config = render_config(self.config, safe_context(context))
            except ValueError as error:  # PolicyError (refused) or TemplateRenderError
                raise LogiDataTaskError(f"{self._owner}: config field {error}") from None
        others = [name for name in fields if name != "config"]
        if others:
            super()._do_render_template_fields(parent, others, context, jinja_env, seen_oids)

    # --- run time -----------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        with frozen_heap():
            config = self.rendered_config()
            input_ids = self.input_task_ids()
            handles = [self.pull_handle(context, task_id) for task_id in input_ids]
            self.node_metrics = None
            started = time.monotonic()
            result = self.run(config, handles, input_ids, context)
            metrics = self.run_metrics(handles, result, time.monotonic() - started)
        if metrics is not None:
            context["ti"].xcom_push(key=METRICS_XCOM_KEY, value=metrics)
        return result

    def run_metrics(
        self, handles: Sequence[Mapping[str, Any]], result: Any, seconds: float
    ) -> dict[str, Any] | None:
        """The ``logidata_metrics`` XCom of this run: ``{"nodes": {node_id: {module, rows_in, rows_out,
        seconds}}}`` (contract in docs/builder-api.md), or ``None`` to push nothing.

        A task running several nodes (a fused chain) sets ``self.node_metrics`` in ``run`` to one entry
        per node (a single entry without seconds gets the run's). Otherwise the task is its one node:
        rows in are its staged inputs' rows (none for a source), rows out the ``rows`` of what it
        returned, seconds the whole of ``run``.
        """
        if self.pushes_own_metrics or (isinstance(result, Mapping) and result.get("engine") == "elt"):
            return None  # an ELT task reports every node of its pushed-down path itself
        if self.node_metrics is not None:
            nodes = {key: dict(value) for key, value in self.node_metrics.items()}
            for entry in nodes.values():
                if entry.get("seconds") is None and len(nodes) == 1:
                    entry["seconds"] = round(seconds, 3)
            return {"nodes": nodes}
        rows_in = sum(int(h["rows"]) for h in handles) if handles else None
        rows = result.get("rows") if isinstance(result, Mapping) else None
        entry = {
            "module": self.module_name,
            "rows_in": rows_in,
            "rows_out": rows if isinstance(rows, int) else None,
            "seconds": round(seconds, 3),
        }
        return {"nodes": {self.task_id: entry}}

    def run(
        self,
        config: ModuleConfig,
        handles: list[StagingHandle],
        input_ids: list[str],
        context: Context,
    ) -> Any:
        """Do the node's work; implemented by the category bases below."""
        raise NotImplementedError

    def rendered_config(self) -> ModuleConfig:
        """The config after Jinja rendering, validated again (a template may render an invalid value)."""
        from airflow_provider_logidata.engine.errors import LogiDataTaskError
        from airflow_provider_logidata.security.policy import check_config

        try:
            model = self.config_model.model_validate(self.config)
        except ValidationError as error:
            raise LogiDataTaskError(
                f"{self._owner}: the config is not valid after rendering templates: {error}. "
                "Fix the template or the value it renders."
            ) from None
        # The same policy as at validation, on the rendered values, plus what needs the environment.
        violations = check_config(self._category, model, stage="run")
        if violations:
            details = "; ".join(f"{item.path}: {item.message}" for item in violations)
            raise LogiDataTaskError(f"{self._owner}: refused by the security policy: {details}")
        return model

    def input_task_ids(self) -> list[str]:
        return list(self.inputs) if self.inputs is not None else sorted(self.upstream_task_ids)

    def pull_handle(self, context: Context, ref: str) -> StagingHandle:
        """The staging handle of one input: ``task_id`` (its return value) or ``task_id:port``.

        A module with several outputs (a route's matched/unmatched) pushes each port's handle under
        ``output__<port>`` and returns the first one, so both forms work for its first port.
        """
        from airflow_provider_logidata.engine.staging import check_handle

        task_id, port = split_input_ref(ref)
        key = output_xcom_key(port) if port else "return_value"
        value = context["ti"].xcom_pull(task_ids=task_id, key=key)
        return check_handle(value, owner=self._owner, input_id=ref)

    def staging_uri(self, context: Context, port: str | None = None) -> str:
        """Where this task instance stages its output, or one ``port`` of several (see ``engine.staging``)."""
        from airflow_provider_logidata.engine.staging import task_output_uri

        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        return task_output_uri(
            self.dag_id,
            context["run_id"],
            self.task_id,
            map_index=map_index if isinstance(map_index, int) else -1,
            port=port,
        )


class LogiDataSourceOperator(LogiDataOperator):
    """Reads external data into staging; returns the staging handle.

    ``keep_row_order=False`` lets the staging file's rows come out in any order, which a parallel reader
    writes faster; the DAG factory sets it only when no consumer can observe the order
    (``dag_factory.row_order``). Hand-written DAGs keep the default: rows in source order.
    """

    ui_color = "#dbeafe"

    def __init__(self, *, keep_row_order: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keep_row_order = keep_row_order

    def input_task_ids(self) -> list[str]:
        """Sources read no staged inputs, even when placed after a sensor or another task."""
        return list(self.inputs or [])

    def run(
        self,
        config: ModuleConfig,
        handles: list[StagingHandle],
        input_ids: list[str],
        context: Context,
    ) -> StagingHandle:
        from airflow_provider_logidata.engine.runner import run_source

        return run_source(
            config,
            self.task_id,
            self.staging_uri(context),
            module=self.module_name,
            log=self.log,
            keep_order=self.keep_row_order,
        )


class LogiDataTransformOperator(LogiDataOperator):
    """Turns staged inputs into a staged output with SQL run by DuckDB; returns the staging handle."""

    ui_color = "#ede9fe"

    def run(
        self,
        config: ModuleConfig,
        handles: list[StagingHandle],
        input_ids: list[str],
        context: Context,
    ) -> StagingHandle:
        from airflow_provider_logidata.engine.runner import run_transform

        return run_transform(
            config,
            self.task_id,
            handles,
            self.staging_uri(context),
            module=self.module_name,
            input_ids=input_ids,
            log=self.log,
        )


class LogiDataDestinationOperator(LogiDataOperator):
    """Writes staged input to its final place; returns a small result dict (``uri``, ``rows``, ...)."""

    ui_color = "#dcfce7"

    def run(
        self,
        config: ModuleConfig,
        handles: list[StagingHandle],
        input_ids: list[str],
        context: Context,
    ) -> dict[str, Any]:
        from airflow_provider_logidata.engine.runner import run_destination

        return run_destination(config, self.task_id, handles, module=self.module_name, log=self.log)


class LogiDataMultiOutputOperator(LogiDataTransformOperator):
    """Runs a module with several inputs and/or several outputs (join, union, sql, route, quality_check).

    Inputs are read in the order the DAG factory wires them (a join's ``left`` then ``right``). Each
    output port is staged in its own file (``<task>/<port>/part-00000.parquet`` when there are several);
    every port's handle is pushed to XCom under ``output__<port>`` and the first port's handle is also
    the return value, so both ``task_id`` and ``task_id:port`` inputs resolve downstream.
    """

    def run(
        self,
        config: ModuleConfig,
        handles: list[StagingHandle],
        input_ids: list[str],
        context: Context,
    ) -> StagingHandle:
        from airflow_provider_logidata.engine.multi import run_multi

        outputs = registry()[self.module_name].outputs
        several = len(outputs) > 1

        def output_uri(port: str) -> str:
            return self.staging_uri(context, port if several else None)

        results = run_multi(
            config,
            self.task_id,
            handles,
            input_ids,
            output_uri,
            module=self.module_name,
            log=self.log,
        )
        for port in outputs:
            context["ti"].xcom_push(key=output_xcom_key(port), value=results[port])
        self.node_metrics = {
            self.task_id: {
                "module": self.module_name,
                "rows_in": sum(int(handle["rows"]) for handle in handles),
                "rows_out": sum(int(results[port]["rows"]) for port in outputs),  # every output port
                "seconds": None,  # filled in by the base (the whole run)
            }
        }
        return results[outputs[0]]
