"""``source.http_api`` requests and pages: the connection's session, retries, and the pagination styles.

:class:`HttpApiReader` sends each page's request (retried on 429, 5xx, timeouts and connection errors),
parses it and finds its records; ``pages()`` follows the node's pagination until the last page. See
``engine.http_api`` for the rules.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import math
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from airflow_provider_logidata.engine.errors import LogiDataTaskError, node_label
from airflow_provider_logidata.engine.http_records import (
    PathNotFound,
    json_kind,
    json_path_get,
    top_level_keys,
)
from airflow_provider_logidata.modules.sources.http_api import (
    HttpApiSourceConfig,
    HttpCursorPagination,
    HttpLinkHeaderPagination,
    HttpNoPagination,
    HttpOffsetPagination,
    HttpPagePagination,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import requests

    from airflow_provider_logidata.engine.logs import TaskLog

MODULE = "source.http_api"
BODY_EXCERPT = 500
# Query parameter names whose values are masked in logs and messages.
_SECRET_PARAM = re.compile(
    r"key|token|secret|passw|pwd|signature|sig$|auth|credential|session", re.IGNORECASE
)
# A page log line for each of the first pages, then one every this many pages.
LOG_FIRST_PAGES = 10
LOG_EVERY_PAGES = 100


def redact_url(url: str) -> str:
    """``url`` fit for logs: user info dropped, values of credential-like query parameters masked."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def retry_after_seconds(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date; None if unusable."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    current = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - current).total_seconds())


@dataclass
class FetchStats:
    requests: int = 0
    retries: int = 0
    pages: int = 0
    records: int = 0
    waited: float = 0.0


@dataclass
class Page:
    number: int
    url: str
    records: list[Any]
    document: Any
    response: requests.Response


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _excerpt(response: requests.Response) -> str:
    text = response.content[: BODY_EXCERPT * 4].decode(response.encoding or "utf-8", errors="replace")
    text = " ".join(text.split())
    return text[:BODY_EXCERPT] + ("..." if len(text) > BODY_EXCERPT else "") if text else "(empty body)"


def _describe_request_error(error: BaseException) -> str:
    """A requests error in one line: urllib3's root cause when there is one, never the full URL."""
    cause = error.args[0] if error.args else None
    reason = getattr(cause, "reason", None)
    text = str(reason if reason is not None else error) or type(error).__name__
    text = re.sub(r"with url: \S+", "with url: (omitted)", text)
    return f"{type(error).__name__}: {text[:300]}"


class HttpApiReader:
    """Fetches the pages of one ``source.http_api`` node; ``pages()`` yields them one at a time.

    ``session`` and ``base_url`` default to what the Airflow connection gives; ``sleep`` is ``time.sleep``
    (tests pass a recorder).
    """

    def __init__(
        self,
        config: HttpApiSourceConfig,
        node_id: str,
        log: TaskLog,
        *,
        session: requests.Session | None = None,
        base_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.node_id = node_id
        self.owner = node_label(MODULE, node_id)
        self.log = log
        self.sleep = sleep
        self.stats = FetchStats()
        if session is None or base_url is None:
            session, base_url = self._from_connection()
        self.session = session
        self.base_url = base_url

    def _from_connection(self) -> tuple[requests.Session, str]:
        try:
            from airflow.providers.http.hooks.http import HttpHook
        except ImportError:
            raise LogiDataTaskError(
                f"{self.owner}: the Airflow HTTP provider is not installed; install "
                "apache-airflow-providers-http on the workers"
            ) from None
        from airflow.sdk.exceptions import AirflowNotFoundException

        conn_id = self.config.conn_id
        hook = HttpHook(method=self.config.method, http_conn_id=conn_id)
        try:
            session = hook.get_conn()
            url = hook.url_from_endpoint(self.config.endpoint)
        except AirflowNotFoundException:
            raise LogiDataTaskError(
                f"{self.owner}: Airflow connection {conn_id!r} does not exist; create a connection of type "
                "http with the API's host (and credentials), or fix conn_id"
            ) from None
        except ValueError as error:
            raise LogiDataTaskError(
                f"{self.owner}: Airflow connection {conn_id!r} does not give a usable base URL ({error}); "
                "set its host (and schema http or https)"
            ) from None
        if hook.base_url and _origin(url) != _origin(hook.base_url):
            # The endpoint is the editor's text; the host is the admin's. Credentials go to that host only.
            raise LogiDataTaskError(
                f"{self.owner}: endpoint {self.config.endpoint!r} leaves the host of connection {conn_id!r} "
                f"({redact_url(hook.base_url)}); refusing to send the connection's credentials elsewhere. "
                "Give a path such as /v1/orders"
            )
        return session, url

    def close(self) -> None:
        self.session.close()

    # -- one request, with retries ---------------------------------------------------------------------

    def request(self, url: str, params: dict[str, Any] | None) -> requests.Response:
        """Send one request, retrying what is worth retrying; returns a 2xx/3xx response."""
        import requests

        config = self.config
        retry = config.retry
        headers = dict(config.headers)
        if self.session.headers.get("Accept") in (None, "*/*") and not any(
            name.lower() == "accept" for name in headers
        ):
            headers["Accept"] = "application/json"
        shown = redact_url(requests.Request("GET", url, params=params).prepare().url or url)
        attempt = 0
        while True:
            attempt += 1
            self.stats.requests += 1
            try:
                response = self.session.request(
                    config.method,
                    url,
                    params=params,
                    json=config.body if config.method == "POST" else None,
                    headers=headers,
                    timeout=config.timeout,
                )
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as error:
                reason = _describe_request_error(error)
                if attempt >= retry.max_attempts:
                    raise LogiDataTaskError(
                        f"{self.owner}: {config.method} {shown} failed after {attempt} attempt(s): {reason}. "
                        f"Check that the host of connection {config.conn_id!r} is reachable from the "
                        "workers (and timeout)"
                    ) from None
                self._wait(attempt, None, reason, shown)
                continue
            except requests.RequestException as error:
                raise LogiDataTaskError(
                    f"{self.owner}: {config.method} {shown} failed: {_describe_request_error(error)}"
                ) from None
            status = response.status_code
            if status == 429 or 500 <= status <= 599:
                reason = f"HTTP {status} {response.reason or ''}".rstrip()
                if attempt >= retry.max_attempts:
                    raise LogiDataTaskError(
                        f"{self.owner}: {config.method} {shown} still returned {reason} after {attempt} "
                        f"attempt(s): {_excerpt(response)}. Raise retry.max_attempts or "
                        "retry.max_backoff_seconds if the API needs more time"
                    )
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                response.close()
                self._wait(attempt, wait, reason, shown)
                continue
            if status >= 400:
                status_text = f"HTTP {status} {response.reason or ''}".rstrip()
                raise LogiDataTaskError(
                    f"{self.owner}: {config.method} {shown} returned {status_text}: {_excerpt(response)}"
                    f"{self._hint(status)}"
                )
            return response

    def _wait(self, attempt: int, retry_after: float | None, reason: str, shown: str) -> None:
        retry = self.config.retry
        if retry_after is not None:
            delay = min(retry_after, retry.max_backoff_seconds)
            why = f"Retry-After {retry_after:g} s"
        else:
            delay = min(retry.backoff_seconds * 2 ** (attempt - 1), retry.max_backoff_seconds)
            why = "backoff"
        self.stats.retries += 1
        self.log.warning(
            f"{self.node_id}: {reason} from {self.config.method} {shown}; retry {attempt} of "
            f"{retry.max_attempts - 1} in {delay:.2f} s ({why})"
        )
        if delay > 0:
            self.sleep(delay)
            self.stats.waited += delay

    def _hint(self, status: int) -> str:
        conn = self.config.conn_id
        if status in (401, 403):
            return f". Check the credentials (login/password or extra headers) of connection {conn!r}"
        if status == 404:
            return f". Check endpoint and the host of connection {conn!r}"
        if status in (400, 422):
            return ". Check params, body and the pagination parameters"
        return ""

    def parse(self, response: requests.Response, shown: str) -> Any:
        content = response.content
        if content.startswith(b"\xef\xbb\xbf"):
            content = content[3:]
        try:
            return json.loads(content)
        except (ValueError, UnicodeDecodeError) as error:
            content_type = response.headers.get("Content-Type") or "no content-type"
            raise LogiDataTaskError(
                f"{self.owner}: {self.config.method} {shown} returned HTTP {response.status_code} "
                f"({content_type}) with a body that is not valid JSON ({error}): {_excerpt(response)}"
            ) from None

    def records_of(self, document: Any, shown: str) -> list[Any]:
        path = self.config.records_path
        try:
            records = json_path_get(document, path)
        except PathNotFound as missing:
            raise LogiDataTaskError(
                f"{self.owner}: records_path {path!r} is not in the response of {shown}: "
                f"{missing.describe()}. Top-level keys of the response: {top_level_keys(document)}"
            ) from None
        if records is None:
            return []
        if not isinstance(records, list):
            where = f"records_path {path!r} points to" if path else "the response is"
            hint = (
                f"set records_path to the list of records (top-level keys: {top_level_keys(document)})"
                if not path
                else "point records_path to a list of records"
            )
            raise LogiDataTaskError(f"{self.owner}: {where} {json_kind(records)}, not a list; {hint}")
        return records

    # -- pages -----------------------------------------------------------------------------------------

    def fetch(self, number: int, url: str, params: dict[str, Any] | None) -> Page:
        response = self.request(url, params)
        shown = redact_url(response.url or url)
        document = self.parse(response, shown)
        records = self.records_of(document, shown)
        self.stats.pages += 1
        self.stats.records += len(records)
        if number <= LOG_FIRST_PAGES or number % LOG_EVERY_PAGES == 0:
            self.log.info(
                f"{self.node_id}: page {number}: {len(records)} record(s) from {shown} "
                f"({self.stats.records} so far)"
            )
        return Page(
            number=number, url=response.url or url, records=records, document=document, response=response
        )

    def pages(self) -> Iterator[Page]:
        """Every page with records, in order (the empty page ending page/offset paging is not yielded)."""
        pagination = self.config.pagination
        params: dict[str, Any] = dict(self.config.params)
        if isinstance(pagination, HttpNoPagination):
            page = self.fetch(1, self.base_url, params)
            if page.records:
                yield page
        elif isinstance(pagination, HttpPagePagination | HttpOffsetPagination):
            yield from self._numbered_pages(pagination, params)
        elif isinstance(pagination, HttpCursorPagination):
            yield from self._cursor_pages(pagination, params)
        elif isinstance(pagination, HttpLinkHeaderPagination):
            yield from self._link_pages(params)
        else:  # pragma: no cover - the config model allows only the types above
            raise TypeError(f"unknown pagination {pagination!r}")

    def _numbered_pages(
        self, pagination: HttpPagePagination | HttpOffsetPagination, params: dict[str, Any]
    ) -> Iterator[Page]:
        if isinstance(pagination, HttpPagePagination):
            if pagination.size_param:
                params[pagination.size_param] = pagination.size
        else:
            params[pagination.limit_param] = pagination.limit
        position = pagination.start
        previous: bytes | None = None
        number = 0
        while True:
            number += 1
            params[pagination.param] = position
            page = self.fetch(number, self.base_url, dict(params))
            if not page.records:
                return
            if number > self.config.max_pages:
                self._too_many_pages()
            digest = hashlib.sha256(
                json.dumps(page.records, sort_keys=True, default=str).encode("utf-8")
            ).digest()
            if digest == previous:
                raise LogiDataTaskError(
                    f"{self.owner}: page {number} ({redact_url(page.url)}) holds the same records as the "
                    f"page before: the API seems to ignore the query parameter {pagination.param!r} (or to "
                    "repeat its last page instead of returning an empty one). Check the pagination settings "
                    "against the API's documentation"
                )
            previous = digest
            yield page
            position += 1 if isinstance(pagination, HttpPagePagination) else len(page.records)

    def _cursor_pages(self, pagination: HttpCursorPagination, params: dict[str, Any]) -> Iterator[Page]:
        seen: set[str] = set()
        number = 0
        while True:
            number += 1
            page = self.fetch(number, self.base_url, dict(params))
            if page.records:
                yield page
            try:
                cursor = json_path_get(page.document, pagination.cursor_path)
            except PathNotFound:
                cursor = None
            if cursor is None or cursor == "":
                return
            if isinstance(cursor, dict | list):
                raise LogiDataTaskError(
                    f"{self.owner}: cursor_path {pagination.cursor_path!r} points to {json_kind(cursor)} in "
                    f"the response of {redact_url(page.url)}; it must point to the next cursor (a text or "
                    "number)"
                )
            text = cursor if isinstance(cursor, str) else json.dumps(cursor)
            if text in seen:
                raise LogiDataTaskError(
                    f"{self.owner}: the API returned a cursor it had already returned (page {number}); "
                    f"stopping instead of looping. Check cursor_path {pagination.cursor_path!r} and param "
                    f"{pagination.param!r}"
                )
            seen.add(text)
            if number >= self.config.max_pages:
                self._too_many_pages()
            params[pagination.param] = text

    def _link_pages(self, params: dict[str, Any]) -> Iterator[Page]:
        url: str = self.base_url
        query: dict[str, Any] | None = params
        origin = _origin(self.base_url)
        seen: set[str] = set()
        number = 0
        while True:
            number += 1
            page = self.fetch(number, url, query)
            if page.records:
                yield page
            link = (page.response.links.get("next") or {}).get("url")
            if not link:
                return
            next_url = urljoin(page.url, link)
            if _origin(next_url) != origin:
                raise LogiDataTaskError(
                    f"{self.owner}: the next-page link {redact_url(next_url)} leaves the connection's host "
                    f"{redact_url(self.base_url)}; refusing to send the connection's credentials elsewhere"
                )
            if next_url in seen or next_url == page.url:
                raise LogiDataTaskError(
                    f"{self.owner}: the Link header of page {number} points to a page already read "
                    f"({redact_url(next_url)}); stopping instead of looping"
                )
            seen.add(page.url)
            if number >= self.config.max_pages:
                self._too_many_pages()
            url, query = next_url, None  # the next link carries its own query

    def _too_many_pages(self) -> None:
        raise LogiDataTaskError(
            f"{self.owner}: read max_pages = {self.config.max_pages} page(s) and the API still has more; "
            "raise max_pages if that many pages are expected, or check the pagination settings"
        )
