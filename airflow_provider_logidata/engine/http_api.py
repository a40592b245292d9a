"""``source.http_api``: JSON records from a REST API, page by page, into staging.

How it works:

* **Connection.** The session comes from the http provider's ``HttpHook.get_conn()``: base URL from the
  connection's schema/host/port, basic auth from its login/password, default headers (``Authorization``,
  API keys) and TLS/proxy options from its extra. Nothing secret is in the node's config, and nothing
  secret is logged: URLs are logged without user info and with credential-like query values masked, and
  request headers are never logged.
* **Requests.** Each page is one request, retried on 429, 5xx, timeouts and connection errors up to
  ``retry.max_attempts`` times with exponential backoff (``backoff_seconds`` doubled per retry) or the
  server's ``Retry-After`` (seconds or an HTTP date), both capped by ``max_backoff_seconds``. Any other 4xx
  fails at once with the status, the URL and the first 500 characters of the body.
* **Pages.** ``page`` and ``offset`` stop at the first page without records (offsets advance by the number
  of records received, so a server capping the page size loses nothing); ``cursor`` stops when the cursor is
  missing, null or empty; ``link_header`` stops when no ``rel="next"`` link is sent. A server that ignores
  the paging parameter (the same records twice in a row, a cursor or link seen before) is an error instead
  of an endless loop, and ``max_pages`` bounds the rest (the task fails when more pages remain). Paging
  parameters always go in the query string, POST included. A ``rel="next"`` link must stay on the
  connection's scheme, host and port: the connection's credentials are never sent elsewhere. ``timeout``
  applies to each request (the connection extra's ``timeout`` is not used).
* **Rows.** Each record is one row. Nested objects are flattened into ``parent.child`` columns (like
  ``pandas.json_normalize``); arrays are kept as JSON text; records that are not objects go into a column
  ``value``. Column types are inferred over *all* pages: integers widen to floating point when a float
  shows up, any other mix (or an integer beyond 64 bits) makes the column text, with non-text values
  written as their JSON text (``true``, ``12``, ``1.5``). Columns only ever null are text. A key missing
  from a record is null. Columns keep the order in which they were first seen.
* **Memory.** Only one page is held at a time: each page's flattened records are appended to a local spool
  file (JSON lines in a temporary folder) while the column types are tracked; when the last page is in, the
  spool is read back ``[logidata] batch_rows`` records at a time, converted to Arrow with the final schema
  and streamed into the staging Parquet file. The spool is removed when the task ends. No record at all
  fails the task, or skips it with ``on_empty: skip`` (a table without columns cannot be staged).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from typing import TYPE_CHECKING

from airflow_provider_logidata import settings
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.http_reader import MODULE, HttpApiReader, redact_url
from airflow_provider_logidata.engine.http_records import RecordSpool
from airflow_provider_logidata.modules.sources.http_api import HttpApiSourceConfig

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pyarrow as pa

    from airflow_provider_logidata.engine.logs import TaskLog
    from airflow_provider_logidata.modules.base import ModuleConfig


def _skip(message: str) -> BaseException:
    from airflow.sdk.exceptions import AirflowSkipException

    return AirflowSkipException(message)


@contextlib.contextmanager
def open_http_source(config: ModuleConfig, node_id: str, log: TaskLog) -> Iterator[pa.RecordBatchReader]:
    """Fetch every page into a local spool, then stream the records as Arrow batches."""
    import pyarrow as pa

    if not isinstance(config, HttpApiSourceConfig):
        raise TypeError(f"{MODULE} expects HttpApiSourceConfig, got {type(config).__name__}")
    reader = HttpApiReader(config, node_id, log)
    started = time.monotonic()
    log.info(
        f"{node_id}: {config.method} {redact_url(reader.base_url)} through connection "
        f"{config.conn_id!r}, pagination {config.pagination.type}"
    )
    with tempfile.TemporaryDirectory(prefix="logidata-http-") as folder:
        spool = RecordSpool(folder)
        try:
            for page in reader.pages():
                spool.add(page.records)
        finally:
            spool.finish()
            reader.close()
        stats = reader.stats
        log.info(
            f"{node_id}: fetched {stats.records} record(s) in {stats.pages} page(s) with "
            f"{stats.requests} request(s), {stats.retries} retry(ies), {stats.waited:.2f} s waited, in "
            f"{time.monotonic() - started:.2f} s; {len(spool.kinds)} column(s)"
        )
        if spool.rows == 0:
            if config.on_empty == "skip":
                raise _skip(
                    f"{reader.owner}: the API returned no records ({stats.pages} page(s) read); skipping"
                )
            raise LogiDataTaskError(
                f"{reader.owner}: the API returned no records ({stats.pages} page(s) read); check endpoint, "
                "params and records_path, or set on_empty to skip"
            )
        yield pa.RecordBatchReader.from_batches(spool.schema(), spool.batches(settings.batch_rows()))
