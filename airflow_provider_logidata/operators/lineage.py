"""Lineage of LogiData tasks: Airflow Assets (``inlets``/``outlets``) and OpenLineage facets.

Sources declare the data they read as ``inlets`` and destinations what they write as ``outlets``, so other
DAGs can be scheduled on them (``schedule=[Asset("s3://bucket/clean/orders")]``). URIs are normalised:
local paths become ``file:///abs/path`` and the Airflow connection in ``s3://conn_id@bucket/key`` is
dropped (``s3://bucket/key``): the asset names the data, not how it is reached. A path that is templated
(``{{ ds }}``) or, for sources, a glob gets no asset: at parse time it names no single dataset.

Imported by the DAG processor on every parse: only ``airflow.sdk`` and the stdlib here. Lineage must never
break a DAG: every helper catches, logs and returns ``None``. Other modules use the same pieces::

    class PostgresSourceOperator(LineageMixin, LogiDataSourceOperator):
        lineage_role = "input"

        def lineage_uri(self, config):
            return f"postgres://{host}:{port}/{db}.{schema}.{table}"

or call :func:`asset_for` directly.

OpenLineage: ``get_openlineage_facets_on_start`` / ``_on_complete`` import the OpenLineage provider lazily
and return ``None`` when it is not installed; the dataset's schema facet comes from the staging handle
(the columns a source read, or a destination wrote). Column lineage travels with the data: when the
provider is installed a source's handle says that each of its columns is itself in its dataset
(``lineage``, see ``schema.lineage.dataset_lineage``), transforms that can read their SQL's lineage carry
it on to their output handle, and a destination turns what reaches it into the ``columnLineage`` facet
of its output dataset. A handle without ``lineage`` (a python step, a task that does not carry it) gives
no facet: better none than a wrong one.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from airflow_provider_logidata.operators.base import LogiDataOperator

if TYPE_CHECKING:
    from airflow.sdk import Asset, Context

    from airflow_provider_logidata.engine.staging import StagingHandle
    from airflow_provider_logidata.modules.base import ModuleConfig

log = logging.getLogger(__name__)

TEMPLATE_MARKERS = ("{{", "{%", "{#")
GLOB_CHARS = ("*", "?", "[")
_LOCAL_SCHEMES = ("file", "local")


def is_templated(text: str) -> bool:
    return any(marker in text for marker in TEMPLATE_MARKERS)


def has_glob(text: str) -> bool:
    return any(char in text for char in GLOB_CHARS)


def asset_uri(uri: str) -> str:
    """The normalised asset URI of a path or URI.

    ``/data/x.csv`` and ``~/x.csv`` -> ``file:///abs/path``; ``s3://conn@bucket/key`` -> ``s3://bucket/key``
    (user info dropped); trailing slashes removed (a folder and ``folder/`` are one asset). ``?`` and ``#``
    in a path are percent-encoded so they are not read as a query or fragment.
    """
    if "://" not in uri:
        path = os.path.abspath(os.path.expanduser(uri))
        return "file://" + _quote_path(path.rstrip("/") or "/")
    scheme, _, rest = uri.partition("://")
    scheme = scheme.lower()
    netloc, slash, path = rest.partition("/")
    netloc = netloc.rpartition("@")[2]
    path = _quote_path(slash + path).rstrip("/")
    if scheme in _LOCAL_SCHEMES:
        return f"file://{netloc}{path or '/'}"
    return f"{scheme}://{netloc}{path}"


def _quote_path(path: str) -> str:
    return (
        path.replace("%", "%25").replace("?", "%3F").replace("#", "%23")
        if "?" in path or "#" in path
        else path
    )


def asset_for(uri: str | None) -> Asset | None:
    """An Airflow ``Asset`` for ``uri`` (normalised by :func:`asset_uri`), or ``None``.

    ``None`` for no URI, a templated one, or one Airflow refuses (the reason is logged): never raises, so
    lineage cannot break DAG parsing. Cheap for local files; the first URI of another scheme (``s3``,
    ``postgres``) makes Airflow load the providers' URI normalisers once per process.
    """
    if not uri or is_templated(uri):
        return None
    try:
        from airflow.sdk import Asset

        return Asset(uri=asset_uri(uri))
    except Exception as error:
        log.warning("LogiData lineage: no asset for %r: %s", uri, error)
        return None


def openlineage_name(uri: str) -> tuple[str, str]:
    """OpenLineage ``(namespace, name)`` of a URI, following the providers' conventions.

    ``file:///data/x.csv`` -> ``("file://", "/data/x.csv")``; ``s3://bucket/key`` -> ``("s3://bucket",
    "key")``; ``postgres://host:5432/db.schema.table`` -> ``("postgres://host:5432", "db.schema.table")``.
    A glob keeps the folder before its first wildcard.
    """
    if has_glob(uri):
        uri = uri[: min(uri.find(char) for char in GLOB_CHARS if char in uri)].rpartition("/")[0] or uri
    normalised = asset_uri(uri)
    parts = urllib.parse.urlsplit(normalised)
    namespace = f"{parts.scheme}://{parts.netloc}"
    path = urllib.parse.unquote(parts.path)
    if parts.scheme == "file":
        return namespace, path or "/"
    return namespace, path.lstrip("/") or "/"


class LineageMixin(LogiDataOperator):
    """Declares the external dataset of a source (``inlets``) or destination (``outlets``).

    Subclasses set ``lineage_role`` and implement :meth:`lineage_uri`; put the mixin first in the bases:
    ``class FileSourceOperator(LineageMixin, LogiDataSourceOperator)``.
    """

    lineage_role: ClassVar[Literal["input", "output"]] = "input"
    # Columns of the data read or written, set by ``run`` for the OpenLineage schema facet.
    _lineage_schema: list[list[str]] | None = None
    # A destination's input handle ``lineage`` (its columns' origins), set by ``run`` for the facet.
    _column_lineage: dict[str, Any] | None = None

    def lineage_uri(self, config: Mapping[str, Any]) -> str | None:
        """The URI of the dataset ``config`` (as stored on the task) names, or ``None`` for no asset."""
        return None

    def openlineage_uri(self, config: Mapping[str, Any]) -> str | None:
        """The URI reported to OpenLineage (after templates were rendered); ``lineage_uri`` by default."""
        return self.lineage_uri(config)

    def declare_lineage(self) -> None:
        """Add the dataset's asset to ``inlets`` or ``outlets`` (once). Never raises."""
        try:
            asset = asset_for(self.lineage_uri(self.config))
            if asset is None:
                return
            declared = self.inlets if self.lineage_role == "input" else self.outlets
            if all(getattr(item, "uri", None) != asset.uri for item in declared):
                declared.append(asset)
        except Exception as error:
            log.warning("LogiData lineage of %s: skipped: %s", self.task_id, error)

    def run(
        self,
        config: ModuleConfig,
        handles: list[StagingHandle],
        input_ids: list[str],
        context: Context,
    ) -> Any:
        result = super().run(config, handles, input_ids, context)
        # For OpenLineage: the columns read (a source's handle) or written (a destination's input).
        schema = result.get("schema") if isinstance(result, Mapping) else None
        if not schema and handles:
            schema = handles[0].get("schema")
        self._lineage_schema = [list(item) for item in schema] if schema else None
        self._column_lineage = None
        if self.lineage_role == "input":
            self._start_column_lineage(result)
        elif len(handles) == 1 and isinstance(handles[0].get("lineage"), Mapping):
            self._column_lineage = dict(handles[0]["lineage"])  # type: ignore[typeddict-item]
        return result

    def _start_column_lineage(self, result: Any) -> None:
        """Mark a source's handle with its dataset's columns, for the destinations' column lineage.

        Only with the OpenLineage provider installed (nothing else reads it), only on a handle, never
        raising: lineage must not fail the read.
        """
        if not isinstance(result, dict) or not isinstance(result.get("schema"), list):
            return
        try:
            import airflow.providers.openlineage  # noqa: F401
        except Exception:
            return
        try:
            from airflow_provider_logidata.schema.lineage_graph import dataset_lineage

            uri = self.openlineage_uri(self.config)
            if not uri or is_templated(uri):
                return
            namespace, name = openlineage_name(uri)
            result["lineage"] = dataset_lineage(namespace, name, [str(item[0]) for item in result["schema"]])
        except Exception:
            log.debug("LogiData lineage: no column lineage for %s", self.task_id, exc_info=True)

    # --- OpenLineage (optional provider) -------------------------------------------------------------

    def get_openlineage_facets_on_start(self) -> Any:
        return self._openlineage(with_schema=False)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return self._openlineage(with_schema=True)

    def _openlineage(self, *, with_schema: bool) -> Any:
        """``OperatorLineage`` with this task's dataset, or ``None`` (provider missing or any error)."""
        try:
            from airflow.providers.openlineage.extractors import OperatorLineage
        except Exception:
            log.debug("LogiData lineage: the OpenLineage provider is not installed")
            return None
        try:
            uri = self.openlineage_uri(self.config)
            if not uri or is_templated(uri):
                return OperatorLineage()
            dataset = _openlineage_dataset(
                uri,
                self._lineage_schema if with_schema else None,
                self._column_lineage if with_schema and self.lineage_role == "output" else None,
            )
            if self.lineage_role == "input":
                return OperatorLineage(inputs=[dataset])
            return OperatorLineage(outputs=[dataset])
        except Exception:
            log.debug("LogiData lineage: OpenLineage facets of %s failed", self.task_id, exc_info=True)
            return None


def openlineage_installed() -> bool:
    """Whether the OpenLineage provider is installed (nothing reads lineage facets without it)."""
    try:
        import airflow.providers.openlineage  # noqa: F401
    except Exception:
        return False
    return True


def node_openlineage_uri(module: str, config: Mapping[str, Any]) -> str | None:
    """The URI the task of one ``module`` node reports to OpenLineage for its rendered ``config``: its
    operator class's :meth:`LineageMixin.openlineage_uri`, for a task running several nodes (a fused
    path, ``operators.path``). ``None`` when that operator declares no lineage (not a ``LineageMixin``,
    e.g. the PostgreSQL operators): the node's own task would report no dataset either. Raises on an
    unknown module: callers catch.
    """
    from airflow_provider_logidata.modules.registry import registry

    operator = registry()[module].operator_class()
    if not (isinstance(operator, type) and issubclass(operator, LineageMixin)):
        return None
    # ``lineage_uri``/``openlineage_uri`` read the config they are given, not the task: an instance built
    # without ``__init__`` (no task, DAG or validation) is enough to ask.
    uri: str | None = operator.openlineage_uri(object.__new__(operator), config)
    return uri


def openlineage_datasets(
    uri: str | None,
    schema: Sequence[Sequence[str]] | None = None,
    column_lineage: Mapping[str, Any] | None = None,
) -> list[Any]:
    """The ``inputs`` or ``outputs`` of an ``OperatorLineage`` for the dataset ``uri``, as
    :class:`LineageMixin` reports it (see :func:`_openlineage_dataset`); ``[]`` for no URI or a templated
    one. Raises without the provider: callers catch.
    """
    if not uri or is_templated(uri):
        return []
    return [_openlineage_dataset(uri, schema, column_lineage)]


def _openlineage_dataset(
    uri: str, schema: Sequence[Sequence[str]] | None, column_lineage: Mapping[str, Any] | None = None
) -> Any:
    from airflow.providers.common.compat.openlineage.facet import (
        Dataset,
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )

    namespace, name = openlineage_name(uri)
    facets: dict[str, Any] = {}
    if schema:
        facets["schema"] = SchemaDatasetFacet(
            fields=[SchemaDatasetFacetFields(name=str(column), type=str(kind)) for column, kind in schema]
        )
    if column_lineage:
        try:  # the dataset and its schema go out even when the column facet cannot be built
            columns = [str(column) for column, _kind in schema] if schema else None
            facet = column_lineage_facet(column_lineage, columns)
            if facet is not None:
                facets["columnLineage"] = facet
        except Exception:
            log.debug("LogiData lineage: no columnLineage facet for %s", uri, exc_info=True)
    return Dataset(namespace=namespace, name=name, facets=facets)


def column_lineage_facet(lineage: Mapping[str, Any], columns: Sequence[str] | None = None) -> Any:
    """OpenLineage's ``ColumnLineageDatasetFacet`` of a handle's ``lineage``, or ``None`` when no column
    has a known origin.

    ``columns``: the dataset's columns (its schema facet); the facet may only name those, so lineage of
    any other is left out (names matched ignoring case, as DuckDB wrote them). Each input field lists its
    transformations (``DIRECT``/``INDIRECT`` with a subtype) when the client has them (1.22 and later);
    the rows-shaping ones (filters, join keys, grouping, sorting) go to the facet's ``dataset`` list.
    Raises when the provider or client is missing: callers catch.
    """
    from airflow.providers.common.compat.openlineage.facet import (
        ColumnLineageDatasetFacet,
        Fields,
        InputField,
    )

    try:
        from openlineage.client.generated import column_lineage_dataset

        transformation = getattr(column_lineage_dataset, "Transformation", None)
    except ImportError:
        transformation = None  # an older client: input fields without their transformations

    datasets = [(str(namespace), str(name)) for namespace, name in lineage.get("datasets", [])]

    def input_fields(entries: Sequence[Sequence[Any]]) -> list[Any]:
        grouped: dict[tuple[str, str, str], list[Any]] = {}
        for index, field, kind, subtype in entries:
            namespace, name = datasets[int(index)]
            transformations = grouped.setdefault((namespace, name, str(field)), [])
            if transformation is not None:
                described = transformation(type=str(kind).upper(), subtype=str(subtype), masking=False)
                if described not in transformations:
                    transformations.append(described)
        if transformation is None:
            return [InputField(namespace=ns, name=name, field=field) for ns, name, field in grouped]
        return [
            InputField(namespace=ns, name=name, field=field, transformations=transformations)
            for (ns, name, field), transformations in grouped.items()
        ]

    wanted = {column.lower(): column for column in columns} if columns is not None else None
    fields: dict[str, Any] = {}
    for column, entries in lineage.get("columns", {}).items():
        target = str(column) if wanted is None else wanted.get(str(column).lower())
        if target is None or not entries:
            continue
        identity = all(str(e[2]) == "direct" and str(e[3]) == "IDENTITY" for e in entries)
        fields[target] = Fields(
            inputFields=input_fields(entries),
            transformationType="IDENTITY" if identity else "",
            transformationDescription="",
        )
    if not fields:
        return None
    shaping = input_fields(lineage.get("dataset", []))
    if shaping:
        try:
            return ColumnLineageDatasetFacet(fields=fields, dataset=shaping)
        except TypeError:  # a client before the facet's ``dataset`` (1.22)
            pass
    return ColumnLineageDatasetFacet(fields=fields)


def file_lineage_uri(config: Mapping[str, Any], *, allow_glob: bool = False) -> str | None:
    """The ``path`` of a file module's config, or ``None`` when templated or (unless allowed) a glob."""
    path = config.get("path")
    if not isinstance(path, str) or not path or is_templated(path):
        return None
    if has_glob(path) and not allow_glob:
        return None
    return path
