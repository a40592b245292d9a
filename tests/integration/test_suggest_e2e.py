"""Suggestions, the apply check and Describe a step through Airflow's real api-server app.

Airflow's FastAPI app (SimpleAuthManager tokens, the LogiData plugin at ``/logidata``) runs in-process
behind Starlette's TestClient; samples come from real CSV files through the preview worker pool (real
worker processes); the LLM is a real OpenAI-compatible HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from airflow_app import API, airflow_test_client, issue_tokens
from llm_server import LlmServer

pytestmark = pytest.mark.integration

PASSWORDS = {"admin": "admin-secret", "viewer": "viewer-secret"}


@pytest.fixture(scope="module")
def client(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = {"AIRFLOW__LOGIDATA__PREVIEW_WORKERS": "1", "AIRFLOW__LOGIDATA__PREVIEW_TIMEOUT": "60"}
    with airflow_test_client(
        tmp_path_factory.mktemp("suggest-api"), "suggest", settings, passwords=PASSWORDS
    ) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def headers(client: Any) -> dict[str, dict[str, str]]:
    tokens = issue_tokens(client, PASSWORDS)
    return {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}


def _post(client: Any, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    client.cookies.clear()
    return client.post(f"{API}{path}", json=body, headers=headers)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _orders(count: int = 300) -> list[dict[str, Any]]:
    cities = ["Paris", "Lyon", "Marseille", "Bordeaux", "Nantes"]
    rows = [
        {
            "order_id": i,
            "customer_id": 1 + i % 50,
            "city": cities[i % 5],
            "amount": round(10 + (i * 7) % 90, 2),
        }
        for i in range(count)
    ]
    for row in rows[:30]:
        row["city"] = f"  {row['city']} "
    return rows + [dict(r) for r in rows[100:120]]  # 20 exact duplicates


def _pipeline(
    orders: Path, *, customers: Path | None = None, merge_keys: list[str] | None = None
) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"id": "orders", "module": "source.file", "config": {"path": str(orders), "format": "csv"}},
        {"id": "keep", "module": "filter_rows", "config": {"condition": "amount >= 0"}},
    ]
    edges = [{"source": "orders", "target": "keep"}]
    if customers is not None:
        nodes.append(
            {"id": "customers", "module": "source.file", "config": {"path": str(customers), "format": "csv"}}
        )
    if merge_keys:
        nodes.append(
            {
                "id": "load",
                "module": "destination.postgres",
                "config": {"conn_id": "warehouse", "table": "orders", "mode": "merge", "keys": merge_keys},
            }
        )
        edges.append({"source": "keep", "target": "load"})
    return {"spec_version": 1, "id": "orders_clean", "status": "draft", "nodes": nodes, "edges": edges}


def test_suggestions_for_a_node_with_evidence_nodes_and_effect(
    client: Any, headers: Any, tmp_path: Path
) -> None:
    orders = _write_csv(tmp_path / "orders.csv", _orders())
    customers = _write_csv(
        tmp_path / "customers.csv", [{"id": i, "name": f"Customer {i}"} for i in range(1, 51)]
    )
    pipeline = _pipeline(orders, customers=customers, merge_keys=["order_id"])
    response = _post(client, headers["admin"], "/suggest", {"pipeline": pipeline, "node_id": "keep"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["node_id"] == "keep" and body["sample_rows"] == 320
    by_rule = {s["rule"]: s for s in body["suggestions"]}
    assert {"exact_duplicates", "padded_text", "destination_keys", "join_key"} <= set(by_rule), list(by_rule)
    duplicates = by_rule["exact_duplicates"]
    assert "20 of 320" in duplicates["evidence"]
    assert duplicates["effect"]["rows_before"] == 320 and duplicates["effect"]["rows_after"] == 300
    assert duplicates["nodes"] == [
        {
            "module": "deduplicate",
            "config": {},
            "label": "Remove duplicate rows",
            "input_port": None,
            "extra_inputs": {},
        }
    ]
    padded = by_rule["padded_text"]
    assert padded["columns"] == ["city"] and padded["effect"]["cells_changed"] > 0
    assert by_rule["destination_keys"]["nodes"][0]["module"] == "quality_check"
    join = by_rule["join_key"]["nodes"][0]
    assert join["extra_inputs"] == {"right": "customers"} and join["config"]["left_on"] == ["customer_id"]
    ranks = [
        ({"high": 2, "medium": 1, "low": 0}[s["severity"]], s["confidence"]) for s in body["suggestions"]
    ]
    assert ranks == sorted(ranks, reverse=True)

    dismissed = _post(
        client, headers["admin"], "/suggest",
        {"pipeline": pipeline, "node_id": "keep", "dismissed": [duplicates["id"]]},
    )  # fmt: skip
    assert duplicates["id"] not in {s["id"] for s in dismissed.json()["suggestions"]}

    # Apply check: fits now; refused with the reason once the column is gone upstream.
    check = {"pipeline": pipeline, "node_id": "keep", "suggestion": padded}
    assert _post(client, headers["admin"], "/suggest/check", check).json() == {"ok": True}
    renamed = _write_csv(
        tmp_path / "renamed.csv",
        [{"order_id": r["order_id"], "town": r["city"], "amount": r["amount"]} for r in _orders()],
    )
    check["pipeline"] = _pipeline(renamed)
    refused = _post(client, headers["admin"], "/suggest/check", check)
    assert refused.status_code == 422, refused.text
    assert "'city'" in refused.json()["detail"] and "town" in refused.json()["detail"]
    assert refused.json()["errors"][0]["node_id"] == "keep"


def test_bad_requests(client: Any, headers: Any, tmp_path: Path) -> None:
    orders = _write_csv(tmp_path / "orders.csv", _orders(50))
    pipeline = _pipeline(orders)
    unknown = _post(client, headers["admin"], "/suggest", {"pipeline": pipeline, "node_id": "nope"})
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    pipeline["nodes"][1]["config"] = {}
    invalid = _post(client, headers["admin"], "/suggest", {"pipeline": pipeline, "node_id": "keep"})
    assert invalid.status_code == 422 and invalid.json()["errors"]
    viewer = _post(client, headers["viewer"], "/suggest", {"pipeline": _pipeline(orders), "node_id": "keep"})
    assert viewer.status_code == 403
    too_small = _post(
        client, headers["admin"], "/suggest", {"pipeline": pipeline, "node_id": "keep", "sample_rows": 5}
    )
    assert too_small.status_code == 422


def test_describe_is_off_without_a_connection(client: Any, headers: Any, tmp_path: Path) -> None:
    client.cookies.clear()
    me = client.get(f"{API}/me", headers=headers["admin"]).json()
    assert me["llm"] is False
    orders = _write_csv(tmp_path / "orders.csv", _orders(50))
    body = {"pipeline": _pipeline(orders), "node_id": "keep", "text": "trim the city"}
    response = _post(client, headers["admin"], "/describe", body)
    assert response.status_code == 404 and "no logidata_llm connection" in response.json()["detail"]


def test_describe_with_an_openai_compatible_server(
    client: Any, headers: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = _write_csv(tmp_path / "orders.csv", _orders(50))
    good = {"module": "clean_text", "config": {"columns": ["city"]}, "label": "Trim city"}
    bad = {"module": "fill_nulls", "config": {"fills": [{"column": "city", "strategy": "sideways"}]}}
    with LlmServer(api_key="sk-e2e") as server:
        server.replies += [
            json.dumps({"nodes": [good], "explanation": "trims"}),
            json.dumps({"nodes": [bad]}),
        ]
        monkeypatch.setenv("AIRFLOW_CONN_LOGIDATA_LLM_DEFAULT", server.connection_json())
        client.cookies.clear()
        assert client.get(f"{API}/me", headers=headers["admin"]).json()["llm"] is True
        body = {"pipeline": _pipeline(orders), "node_id": "keep", "text": "trim the city"}
        response = _post(client, headers["admin"], "/describe", body)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["errors"] == [] and answer["explanation"] == "trims"
        assert [(n["module"], n["config"]) for n in answer["nodes"]] == [
            ("clean_text", {"columns": ["city"]})
        ]
        invalid = _post(client, headers["admin"], "/describe", body).json()
        assert invalid["nodes"] == []
        assert invalid["errors"][0]["path"] == "nodes[0].config.fills[0].strategy"
        sent = server.requests[0]
        assert sent["headers"]["Authorization"] == "Bearer sk-e2e"
        assert "city" in sent["body"]["messages"][-1]["content"]


def test_time_limit_answers_504(
    client: Any, headers: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Last in the module: the timed-out worker is killed and replaced."""
    orders = _write_csv(tmp_path / "orders.csv", _orders(100_000))  # about a second of work
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PREVIEW_TIMEOUT", "0.1")  # the smallest allowed: 0.2 s here
    body = {"pipeline": _pipeline(orders), "node_id": "keep", "sample_rows": 100_000}
    response = _post(client, headers["admin"], "/suggest", body)
    assert response.status_code == 504, response.text
    assert "timed out" in response.json()["detail"] and "preview_timeout" in response.json()["detail"]
