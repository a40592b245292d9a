"""source.http_api: read JSON records from a REST API through an Airflow ``http`` connection.

The connection holds everything secret or host-specific (scheme, host, port, login/password for basic
auth, default headers such as ``Authorization`` in its extra); the node's config holds only the request
shape (endpoint, method, query, body), where the records are in the response and how to page through it.

Output: each record becomes one row. Nested objects are flattened into ``parent.child`` columns; arrays
are kept as JSON text. Column types are inferred over every page (integers widen to floating point, any
other mix becomes text) and keys missing from a record are null. See ``engine.http_api``; the engine is
imported when a task reads, never when the DAG processor reads this file.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator

from airflow_provider_logidata.modules.base import ModuleConfig
from airflow_provider_logidata.modules.registry import ModuleDef

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import pyarrow as pa

    from airflow_provider_logidata.engine.logs import TaskLog

# Names of query parameters a pipeline sets for paging (letters, digits and a few separators).
ParamName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-\[\]]+$")]
# A dotted path into a JSON document: ``data.items``, ``meta.next_cursor``, ``results.0.rows``.
JsonPath = Annotated[str, Field(max_length=500, pattern=r"^$|^[^.]+(\.[^.]+)*$")]
QueryValue = str | int | float | bool

# Header names that carry credentials: they belong in the connection, never in the stored pipeline.
_SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|password|api[-_]?key|auth", re.IGNORECASE)


class HttpNoPagination(ModuleConfig):
    """One request; the response holds every record."""

    type: Literal["none"]


class HttpPagePagination(ModuleConfig):
    """Page numbers: ``?page=1``, ``?page=2``, ... until a page has no records."""

    type: Literal["page"]
    param: ParamName = Field("page", description="Query parameter holding the page number.")
    start: int = Field(1, ge=0, description="Number of the first page (usually 1, sometimes 0).")
    size_param: ParamName | None = Field(None, description="Query parameter holding the page size, if any.")
    size: int | None = Field(None, ge=1, le=1_000_000, description="Page size sent in size_param.")

    @model_validator(mode="after")
    def _size_pair(self) -> HttpPagePagination:
        if (self.size_param is None) != (self.size is None):
            raise ValueError("set both size_param and size, or neither")
        return self


class HttpOffsetPagination(ModuleConfig):
    """Offset and limit: ``?offset=0&limit=100``, ``?offset=100&limit=100``, ... until a page is empty."""

    type: Literal["offset"]
    param: ParamName = Field("offset", description="Query parameter holding the offset of the first record.")
    start: int = Field(0, ge=0, description="Offset of the first page.")
    limit_param: ParamName = Field("limit", description="Query parameter holding the page size.")
    limit: int = Field(100, ge=1, le=1_000_000, description="Records asked for per page.")


class HttpCursorPagination(ModuleConfig):
    """A cursor in each response names the next page; a missing, null or empty cursor ends the pages."""

    type: Literal["cursor"]
    cursor_path: JsonPath = Field(
        "meta.next_cursor",
        min_length=1,
        description="Dotted path of the next cursor in the JSON response, e.g. meta.next_cursor.",
    )
    param: ParamName = Field("cursor", description="Query parameter the cursor is sent back in.")


class HttpLinkHeaderPagination(ModuleConfig):
    """RFC 5988 ``Link: <https://...>; rel="next"`` response headers (GitHub style) until none is sent."""

    type: Literal["link_header"]


HttpPagination = Annotated[
    HttpNoPagination
    | HttpPagePagination
    | HttpOffsetPagination
    | HttpCursorPagination
    | HttpLinkHeaderPagination,
    Field(discriminator="type"),
]


class HttpRetryOptions(ModuleConfig):
    """Retries of 429 (too many requests), 5xx responses, timeouts and connection errors."""

    max_attempts: int = Field(5, ge=1, le=100, description="Attempts per request, the first one included.")
    backoff_seconds: float = Field(
        1.0, ge=0, le=3600, description="Wait before the first retry; doubled at each further retry."
    )
    max_backoff_seconds: float = Field(
        60.0, ge=0, le=3600, description="Longest wait between attempts, also capping Retry-After."
    )


class HttpApiSourceConfig(ModuleConfig):
    """Read JSON records from a REST API, page by page, through an Airflow HTTP connection."""

    conn_id: str = Field(
        min_length=1,
        max_length=250,
        description="Airflow connection of type http: scheme, host, port, login/password (basic auth) "
        "and default headers (extra, e.g. an Authorization header). Credentials live only there.",
        json_schema_extra={"x-logidata-widget": "connection", "x-logidata-conn-type": "http"},
    )
    endpoint: str = Field(
        "",
        max_length=2000,
        description="Path appended to the connection's base URL, e.g. /v1/orders. Templated: {{ ds }} works.",
    )
    method: Literal["GET", "POST"] = Field("GET", description="HTTP method.")
    params: dict[str, QueryValue | list[QueryValue]] = Field(
        default_factory=dict, description="Query parameters sent with every request (templated)."
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra request headers (templated). Credentials belong in the connection's extra.",
    )
    body: dict[str, Any] | list[Any] | None = Field(
        None, description="JSON body sent with POST (templated strings inside)."
    )
    records_path: JsonPath = Field(
        "",
        description="Dotted path of the list of records in the JSON response, e.g. data.items; empty "
        "when the response itself is the list.",
    )
    pagination: HttpPagination = Field(
        default_factory=lambda: HttpNoPagination(type="none"),
        description="How to reach the next page: none, page, offset, cursor or link_header.",
    )
    max_pages: int = Field(
        10_000,
        ge=1,
        le=10_000_000,
        description="Safety bound: the task fails if the API still has pages after this many.",
    )
    timeout: float = Field(60.0, gt=0, le=3600, description="Seconds to wait for each response.")
    retry: HttpRetryOptions = Field(default_factory=HttpRetryOptions, description="Retry policy.")
    on_empty: Literal["fail", "skip"] = Field(
        "fail",
        description="When the API returns no record at all: fail the task, or skip it (and, by default, "
        "the tasks after it).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> HttpApiSourceConfig:
        if "://" in self.endpoint:
            raise ValueError(
                "endpoint must be a path such as /v1/orders: the scheme and host come from the connection"
            )
        if self.body is not None and self.method != "POST":
            raise ValueError("body is sent only with method POST")
        secret = sorted(name for name in self.headers if _SECRET_HEADER.search(name))
        if secret:
            raise ValueError(
                f"header(s) {', '.join(secret)} look like credentials: put them in the extra of the "
                f"Airflow connection {self.conn_id!r} (stored encrypted), not in the pipeline"
            )
        paging = _paging_params(self.pagination)
        clash = sorted(paging & set(self.params))
        if clash:
            raise ValueError(
                f"params sets {', '.join(clash)}, which pagination controls; remove it from params"
            )
        return self


def _paging_params(pagination: Any) -> set[str]:
    if isinstance(pagination, HttpPagePagination):
        return {pagination.param} | ({pagination.size_param} if pagination.size_param else set())
    if isinstance(pagination, HttpOffsetPagination):
        return {pagination.param, pagination.limit_param}
    if isinstance(pagination, HttpCursorPagination):
        return {pagination.param}
    return set()


def open_source(
    config: ModuleConfig, node_id: str, log: TaskLog
) -> AbstractContextManager[pa.RecordBatchReader]:
    from airflow_provider_logidata.engine.http_api import open_http_source

    return open_http_source(config, node_id, log)


MODULE = ModuleDef(
    name="source.http_api",
    category="source",
    label="HTTP API",
    description="Read JSON records from a REST API through an HTTP connection, page by page.",
    config_model=HttpApiSourceConfig,
    operator="airflow_provider_logidata.operators.http_api.HttpApiSourceOperator",
    min_inputs=0,
    max_inputs=0,
    icon="globe",
    duckdb=open_source,
)
