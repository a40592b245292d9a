"""An OpenAI-compatible chat endpoint (``POST <base URL>/chat/completions``) behind an Airflow connection.

Connection type ``logidata_llm``: the base URL (e.g. ``https://api.openai.com/v1`` or a local
``http://127.0.0.1:8000/v1``) and the model are extra fields, the API key is the connection's password.
Used by the builder's "Describe a step"; nothing else in LogiData talks to a model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

CONN_TYPE = "logidata_llm"
DEFAULT_CONN_ID = "logidata_llm_default"
DEFAULT_TIMEOUT = 60.0


class LLMError(Exception):
    """The model could not be reached or answered something unusable; the message says which and why."""


@dataclass(frozen=True)
class LLMSettings:
    conn_id: str
    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @property
    def endpoint(self) -> str:
        base = self.base_url.rstrip("/")
        if not urlsplit(base).path:  # "http://host:8000" means the usual /v1
            base += "/v1"
        return f"{base}/chat/completions"


def _extra(extra: Mapping[str, Any], name: str) -> Any:
    """conn-fields are stored under their name (Airflow 3 UI) or ``extra__<type>__<name>`` (older forms)."""
    return extra.get(name) or extra.get(f"extra__{CONN_TYPE}__{name}")


def settings_from_connection(conn: Any) -> LLMSettings:
    """LLM settings from an Airflow connection object (SDK or ORM)."""
    extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else {}
    base_url = _extra(extra, "base_url") or ""
    if not base_url and conn.host:  # a URI-style connection: logidata-llm://:key@host:port/v1
        host = str(conn.host)
        if "://" not in host:
            host = f"https://{host}" + (f":{conn.port}" if conn.port else "")
        base_url = host
    model = _extra(extra, "model") or ""
    if not base_url or not model:
        raise LLMError(
            f"connection {conn.conn_id!r} ({CONN_TYPE}) needs a base URL and a model; set them in the "
            "connection's Base URL and Model fields"
        )
    timeout = _extra(extra, "timeout")
    return LLMSettings(
        conn_id=conn.conn_id,
        base_url=str(base_url),
        model=str(model),
        api_key=conn.password or None,
        timeout=float(timeout) if timeout else DEFAULT_TIMEOUT,
    )


def chat(settings: LLMSettings, messages: Sequence[Mapping[str, str]], *, json_answer: bool = True) -> str:
    """The assistant message's text for ``messages`` (temperature 0: proposals should be repeatable)."""
    import httpx

    body: dict[str, Any] = {"model": settings.model, "messages": list(messages), "temperature": 0}
    if json_answer:
        body["response_format"] = {"type": "json_object"}
    headers = {"Content-Type": "application/json"}
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    where = f"the LLM of connection {settings.conn_id!r} ({settings.endpoint})"
    try:
        response = httpx.post(settings.endpoint, json=body, headers=headers, timeout=settings.timeout)
    except httpx.TimeoutException:
        raise LLMError(
            f"{where} did not answer within {settings.timeout:g} s; try again or raise its timeout"
        ) from None
    except httpx.HTTPError as error:
        raise LLMError(f"cannot reach {where}: {error}; check the base URL") from None
    if response.status_code in (401, 403):
        raise LLMError(
            f"{where} refused the API key (HTTP {response.status_code}); check the connection's password"
        )
    if response.status_code >= 400:
        raise LLMError(f"{where} answered HTTP {response.status_code}: {response.text[:300]}")
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LLMError(
            f"{where} answered something that is not a chat completion: {response.text[:300]}"
        ) from None
    if not isinstance(content, str):
        raise LLMError(f"{where} answered an empty message")
    return content


class LogiDataLLMHook(BaseHook):
    """Chat with the model of a ``logidata_llm`` connection."""

    conn_name_attr = "llm_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "LogiData LLM (OpenAI-compatible)"

    def __init__(self, llm_conn_id: str = DEFAULT_CONN_ID) -> None:
        super().__init__()
        self.llm_conn_id = llm_conn_id

    def get_conn(self) -> LLMSettings:
        return settings_from_connection(self.get_connection(self.llm_conn_id))

    def chat(self, messages: Sequence[Mapping[str, str]], *, json_answer: bool = True) -> str:
        return chat(self.get_conn(), messages, json_answer=json_answer)

    def test_connection(self) -> tuple[bool, str]:
        try:
            answer = self.chat([{"role": "user", "content": 'Answer {"ok": true}'}])
            json.loads(answer)
        except (LLMError, ValueError) as error:
            return False, str(error)
        return True, "the model answered"
