"""Describe a step against a real OpenAI-compatible HTTP server on 127.0.0.1 (the real client path)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from llm_server import LlmServer

from airflow_provider_logidata.hooks.llm import LLMError, LLMSettings, chat, settings_from_connection
from airflow_provider_logidata.suggest.llm import describe_step

SAMPLE = pa.table({"city": [" Paris", "lyon ", "Nice"], "amount": [1.5, 2.0, None]})


def _reply(nodes: list[dict[str, Any]], explanation: str = "cleans the city") -> str:
    return json.dumps({"nodes": nodes, "explanation": explanation})


@pytest.fixture
def server() -> Any:
    with LlmServer(api_key="sk-test") as running:
        yield running


def _settings(server: LlmServer, key: str | None = "sk-test") -> LLMSettings:
    return LLMSettings(
        conn_id="logidata_llm_default", base_url=server.base_url, model="m1", api_key=key, timeout=5
    )


def test_valid_proposal_becomes_nodes(server: LlmServer) -> None:
    server.replies.append(
        _reply(
            [{"module": "clean_text", "config": {"columns": ["city"], "case": "title"}, "label": "Tidy city"}]
        )
    )
    settings = _settings(server)
    result = describe_step("trim and title-case the city", lambda m: chat(settings, m), sample=SAMPLE)
    assert result.errors == []
    assert result.nodes == [
        {
            "module": "clean_text",
            "config": {"columns": ["city"], "case": "title"},
            "label": "Tidy city",
            "input_port": None,
            "extra_inputs": {},
        }
    ]
    assert result.explanation == "cleans the city"
    (request,) = server.requests
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    assert request["body"]["model"] == "m1"
    user = request["body"]["messages"][-1]["content"]
    assert "city" in user and "trim and title-case the city" in user
    assert "clean_text" in request["body"]["messages"][0]["content"]


@pytest.mark.parametrize(
    ("nodes", "path", "text"),
    [
        ([{"module": "clean_text", "config": {"case": "shouting"}}], "nodes[1].config.case", "'keep'"),
        ([{"module": "drop_database", "config": {}}], "nodes[1].module", "unknown or unusable module"),
        ([{"module": "join", "config": {"on": ["id"]}}], "nodes[1].module", "unknown or unusable module"),
        (
            [{"module": "fill_nulls", "config": {"fills": [{"column": "nope", "strategy": "median"}]}}],
            "nodes",
            "nope",
        ),
        ([], "nodes", "no step"),
    ],
)
def test_invalid_proposals_are_errors_never_nodes(
    server: LlmServer, nodes: list[dict[str, Any]], path: str, text: str
) -> None:
    valid = {"module": "clean_text", "config": {"columns": ["city"]}}
    server.replies.append(_reply([valid, *nodes] if nodes else []))
    settings = _settings(server)
    result = describe_step("do something", lambda m: chat(settings, m), sample=SAMPLE)
    assert result.nodes == []  # one invalid node: nothing can be applied
    assert any(e["path"] == path and text in e["message"] for e in result.errors), result.errors


def test_answer_that_is_not_json(server: LlmServer) -> None:
    server.replies.append("Sure! Here is your step: clean the text.")
    settings = _settings(server)
    result = describe_step("x", lambda m: chat(settings, m), sample=SAMPLE)
    assert result.nodes == [] and "not JSON" in result.errors[0]["message"]


def test_json_in_a_code_fence_is_accepted(server: LlmServer) -> None:
    server.replies.append("```json\n" + _reply([{"module": "deduplicate", "config": {}}]) + "\n```")
    settings = _settings(server)
    result = describe_step("remove duplicates", lambda m: chat(settings, m), sample=SAMPLE)
    assert [n["module"] for n in result.nodes] == ["deduplicate"]


def test_wrong_key_and_unreachable_server_are_clear_errors(server: LlmServer) -> None:
    with pytest.raises(LLMError, match="refused the API key"):
        chat(_settings(server, key="wrong"), [{"role": "user", "content": "hi"}])
    gone = LLMSettings(conn_id="c", base_url="http://127.0.0.1:9/v1", model="m", timeout=2)
    with pytest.raises(LLMError, match="cannot reach"):
        chat(gone, [{"role": "user", "content": "hi"}])


def test_settings_from_connection_fields() -> None:
    conn = SimpleNamespace(
        conn_id="llm",
        host=None,
        port=None,
        schema=None,
        password="k",
        extra_dejson={"base_url": "http://127.0.0.1:8000", "model": "m", "timeout": 12},
    )
    settings = settings_from_connection(conn)
    assert settings.endpoint == "http://127.0.0.1:8000/v1/chat/completions"
    assert (settings.model, settings.api_key, settings.timeout) == ("m", "k", 12.0)
    legacy = SimpleNamespace(
        conn_id="llm", host="api.example.com", port=None, schema=None, password=None,
        extra_dejson={"extra__logidata_llm__model": "m2"},
    )  # fmt: skip
    assert settings_from_connection(legacy).endpoint == "https://api.example.com/v1/chat/completions"
    with pytest.raises(LLMError, match="needs a base URL and a model"):
        settings_from_connection(
            SimpleNamespace(conn_id="x", host=None, port=None, schema=None, password=None, extra_dejson={})
        )


def test_provider_declares_the_connection_type() -> None:
    from airflow_provider_logidata.get_provider_info import get_provider_info

    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["connection-type"] == "logidata_llm"
    assert set(conn_type["conn-fields"]) >= {"base_url", "model"}
    assert conn_type["ui-field-behaviour"]["relabeling"]["password"] == "API key"
    module, _, name = conn_type["hook-class-name"].rpartition(".")
    hook = getattr(__import__(module, fromlist=[name]), name)
    assert hook.conn_type == "logidata_llm"


def test_airflow_lists_the_connection_form() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert manager.field_behaviours["logidata_llm"]["relabeling"] == {"password": "API key"}
    assert {"extra__logidata_llm__base_url", "extra__logidata_llm__model"} <= set(
        manager.connection_form_widgets
    )
    hook = manager.hooks["logidata_llm"]
    assert hook is not None and hook.hook_class_name.endswith("LogiDataLLMHook")
