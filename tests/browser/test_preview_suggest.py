"""Preview and suggestions in a real browser: select a node and see its rows, get suggestions for a CSV with
injected defects (exact duplicates, padded text), preview a fix's effect, apply it, see the new node on the
canvas and the changed preview, undo it, and dismiss a suggestion for the pipeline (stored on the server:
still hidden after a reload and in a fresh browser context, restorable from "Show dismissed").

Runs on the session's Airflow stack (tests/browser/conftest.py); screenshots of every step land under
.test-artifacts/browser/<test>/.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import AirflowStack, Shots

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from llm_server import LlmServer  # noqa: E402

ROUTES = REPO / "airflow_provider_logidata" / "api" / "routes"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        not ((ROUTES / "preview.py").is_file() and (ROUTES / "suggest.py").is_file()),
        reason="the preview/suggest API routes are not in this checkout yet",
    ),
]

PIPELINE_ID = "browser_preview"
VIEWPORT = {"width": 1600, "height": 1000}
STEP_TIMEOUT_MS = 30_000
UNIQUE_ROWS = 180
DUPLICATES = 20
NAMES = ["Alice Smith", "Bob Jones", "Carla Diaz", "Dan Wu", "Eve Adams", "Femi Okafor"]


def write_dirty_csv(path: Path) -> None:
    """180 distinct orders, every third customer name padded with spaces, then 20 exact copies of rows."""
    rows = []
    for i in range(UNIQUE_ROWS):
        name = NAMES[i % len(NAMES)]
        rows.append([i + 1, f"  {name} " if i % 3 == 0 else name, f"{(i * 7.5) % 400:.2f}", "DE"])
    rows += [list(rows[i * 3]) for i in range(DUPLICATES)]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "customer", "amount", "country"])
        writer.writerows(rows)


def create_pipeline(stack: AirflowStack, pipeline_id: str, folder: Path) -> None:
    data = folder / "dirty_orders.csv"
    write_dirty_csv(data)
    spec = {
        "spec_version": 1,
        "id": pipeline_id,
        "name": "Browser: preview and suggestions",
        "status": "draft",
        "nodes": [
            {
                "id": "read",
                "module": "source.file",
                "config": {"path": str(data), "format": "csv"},
                "position": {"x": 0, "y": 0},
            },
            {
                "id": "write",
                "module": "destination.file",
                "config": {"path": str(folder / "out.parquet")},
                "position": {"x": 300, "y": 0},
            },
        ],
        "edges": [{"source": "read", "target": "write"}],
    }
    stack.api("/logidata/api/pipelines", stack.token(), "POST", {"pipeline": spec})


def open_pipeline(browser: Any, stack: AirflowStack, pipeline_id: str) -> tuple[Any, Any]:
    """Log in as admin and open the builder's own URL for the pipeline (outside Airflow's iframe)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{stack.base_url}/")
    page.wait_for_selector("input[name=username]")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin")
    page.click("button[type=submit]")
    page.wait_for_selector("a[aria-label=Pipelines]")
    page.goto(f"{stack.base_url}/logidata/ui/#/pipelines/{pipeline_id}")
    node(page, "read").wait_for()
    return context, page


def node(page: Any, node_id: str) -> Any:
    return page.locator(f".react-flow__node[data-id='{node_id}']")


def select(page: Any, node_id: str) -> None:
    node(page, node_id).locator("[data-testid=node-card]").click()
    page.locator(f"[data-testid=node-panel][data-node-id='{node_id}']").wait_for()


def wait_preview(page: Any, node_id: str) -> Any:
    panel = page.locator(f"[data-testid=preview-panel][data-node-id='{node_id}']")
    panel.wait_for()
    page.wait_for_function(
        """id => {
            const p = document.querySelector(`[data-testid=preview-panel][data-node-id='${id}']`);
            return p && (p.dataset.state === 'ready' || p.dataset.state === 'error');
        }""",
        arg=node_id,
        timeout=STEP_TIMEOUT_MS,
    )
    error = panel.locator("[data-testid=preview-error]")
    assert error.count() == 0, f"preview of {node_id} failed: {error.inner_text()}"
    return panel


def shown_rows(page: Any) -> int:
    text = page.locator("[data-testid=preview-row-count]").inner_text()
    match = re.match(r"(\d+) rows", text)
    assert match, text
    return int(match.group(1))


def suggestion(page: Any, rule: str) -> Any:
    card = page.locator(f"[data-testid=suggestion][data-rule='{rule}']").first
    card.wait_for(timeout=STEP_TIMEOUT_MS)
    return card


def test_preview_and_apply_a_suggestion(
    airflow_stack: AirflowStack,
    browser: Any,
    shots: Shots,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    stack = airflow_stack
    create_pipeline(stack, PIPELINE_ID, tmp_path_factory.mktemp("browser-preview"))
    context, page = open_pipeline(browser, stack, PIPELINE_ID)
    try:
        shots(page, "opened")

        # Select the source: its rows appear in the grid, with charts in the headers.
        select(page, "read")
        wait_preview(page, "read")
        page.locator("[data-testid=preview-limit]").select_option("1000")
        page.wait_for_function(
            "n => /^\\d+ rows/.test(document.querySelector('[data-testid=preview-row-count]')?.textContent ?? '')"
            " && parseInt(document.querySelector('[data-testid=preview-row-count]').textContent) === n",
            arg=UNIQUE_ROWS + DUPLICATES,
        )
        grid = page.locator("[data-testid=preview-grid]")
        assert grid.get_attribute("data-rows") == str(UNIQUE_ROWS + DUPLICATES)
        assert 0 < grid.locator("[data-row]").count() < UNIQUE_ROWS, (
            "the grid should render only rows in view"
        )
        assert "··Alice Smith·" in grid.inner_text(), "padding should be visible in the grid"
        assert grid.locator("[data-column=customer] [data-testid=null-bar]").count() == 1
        shots(page, "source-preview")
        page.locator("[data-testid=preview-tab-schema]").click()
        page.locator("[data-testid=preview-schema] tr[data-column=amount]").wait_for()
        shots(page, "source-schema")
        page.locator("[data-testid=preview-tab-data]").click()

        # The suggestion panel explains the injected defects with numbers.
        dup = suggestion(page, "exact_duplicates")
        assert str(DUPLICATES) in dup.locator("[data-testid=suggestion-evidence]").inner_text()
        suggestion(page, "padded_text")
        shots(page, "suggestions")

        # Preview the fix before applying: a temporary pipeline, nothing changes on the canvas.
        dup.locator("[data-testid=suggestion-preview]").click()
        page.locator("[data-testid=effect-preview]").wait_for()
        page.wait_for_function(
            "n => document.querySelector('[data-testid=preview-panel]')?.dataset.state === 'ready'"
            " && parseInt(document.querySelector('[data-testid=preview-row-count]')?.textContent ?? '0') === n",
            arg=UNIQUE_ROWS,
        )
        assert page.locator(".react-flow__node").count() == 2
        shots(page, "effect-preview")
        page.get_by_role("button", name="back to node").click()

        # Apply: a deduplicate node appears between read and write, selected, with the changed preview.
        dup.locator("[data-testid=suggestion-apply]").click()
        node(page, "deduplicate_1").wait_for()
        assert page.locator(".react-flow__node").count() == 3
        edges = page.locator(".react-flow__edge")
        assert edges.count() == 2
        ids = {edges.nth(i).get_attribute("data-id") or "" for i in range(edges.count())}
        assert any(i.startswith("read.out->deduplicate_1") for i in ids), ids
        assert any(i.startswith("deduplicate_1.out->write") for i in ids), ids
        wait_preview(page, "deduplicate_1")
        page.wait_for_function(
            "n => parseInt(document.querySelector('[data-testid=preview-row-count]')?.textContent ?? '0') === n",
            arg=UNIQUE_ROWS,
        )
        assert shown_rows(page) == UNIQUE_ROWS
        # Before/after: the input rows of the new step, the 20 copies struck through.
        assert (
            page.locator("[data-testid=preview-diff-summary]")
            .inner_text()
            .startswith(f"{DUPLICATES} removed")
        )
        page.locator("[data-testid=preview-tab-diff]").click()
        page.locator("[data-testid=diff-changes-only]").click()
        diff = page.locator("[data-testid=preview-diff]")
        assert diff.get_attribute("data-rows") == str(DUPLICATES)
        diff.locator("[data-status=removed]").first.wait_for()
        shots(page, "applied-dedupe")

        # The applied suggestion is gone for the new node's output.
        page.locator("[data-testid=suggest-panel][data-node-id='deduplicate_1'][data-state=ready]").wait_for()
        assert page.locator("[data-testid=suggestion][data-rule='exact_duplicates']").count() == 0

        # One undo step removes it again and restores the edge.
        page.get_by_role("button", name="Undo").click()
        node(page, "deduplicate_1").wait_for(state="detached")
        assert page.locator(".react-flow__edge").count() == 1
        shots(page, "undone")

        # Dismiss is stored for the pipeline on the server: it survives a reload.
        select(page, "read")
        pad = suggestion(page, "padded_text")
        pad_id = pad.get_attribute("data-suggestion-id")
        pad.locator("[data-testid=suggestion-dismiss]").click()
        assert page.locator(f"[data-testid=suggestion][data-suggestion-id='{pad_id}']").count() == 0
        dismissed_path = f"/logidata/api/pipelines/{PIPELINE_ID}/dismissed-suggestions"
        wait_for_server(lambda: stack.api(dismissed_path, stack.token())["ids"] == [pad_id])
        page.reload()
        node(page, "read").wait_for()
        select(page, "read")
        page.locator("[data-testid=suggest-panel][data-node-id='read'][data-state=ready]").wait_for()
        suggestion(page, "exact_duplicates")
        assert page.locator(f"[data-testid=suggestion][data-suggestion-id='{pad_id}']").count() == 0
        shots(page, "dismissed-after-reload")
    finally:
        context.close()

    # Another browser (fresh context, empty localStorage) sees it dismissed too, and can restore it.
    context, page = open_pipeline(browser, stack, PIPELINE_ID)
    try:
        select(page, "read")
        page.locator("[data-testid=suggest-panel][data-node-id='read'][data-state=ready]").wait_for()
        suggestion(page, "exact_duplicates")
        assert page.locator(f"[data-testid=suggestion][data-suggestion-id='{pad_id}']").count() == 0
        page.locator("[data-testid=dismissed-toggle]").click()
        item = page.locator(f"[data-testid=dismissed-item][data-suggestion-id='{pad_id}']")
        item.wait_for()
        shots(page, "dismissed-list")
        item.locator("[data-testid=dismissed-restore]").click()
        page.locator(f"[data-testid=suggestion][data-suggestion-id='{pad_id}']").wait_for()
        wait_for_server(lambda: stack.api(dismissed_path, stack.token())["ids"] == [])
    finally:
        context.close()


def wait_for_server(check: Any, timeout: float = STEP_TIMEOUT_MS / 1000) -> None:
    """Poll ``check()`` until it is true: the UI shows a change before the server has answered."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the server never reflected the change"
        time.sleep(0.1)


def test_describe_a_step_with_a_local_llm(
    airflow_stack: AirflowStack,
    browser: Any,
    shots: Shots,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """With a logidata_llm connection the panel offers "Describe a step": invalid proposals show their
    errors and cannot be applied; a valid one is inserted after the node."""
    stack = airflow_stack
    token = stack.token()
    pipeline_id = "browser_describe"
    create_pipeline(stack, pipeline_id, tmp_path_factory.mktemp("browser-describe"))
    bad = {"module": "fill_nulls", "config": {"fills": [{"column": "customer", "strategy": "sideways"}]}}
    good = {"module": "clean_text", "config": {"columns": ["customer"]}, "label": "Trim customer"}
    with LlmServer() as server:
        server.replies += [
            json.dumps({"nodes": [bad], "explanation": "fills gaps"}),
            json.dumps({"nodes": [good], "explanation": "trims the customer names"}),
        ]
        extra = json.dumps({"base_url": server.base_url, "model": "test-model"})
        conn = {"connection_id": "browser_llm", "conn_type": "logidata_llm", "extra": extra}
        stack.api("/api/v2/connections", token, "POST", conn)
        context, page = open_pipeline(browser, stack, pipeline_id)
        try:
            select(page, "read")
            box = page.locator("[data-testid=describe-step]")
            box.wait_for()
            box.locator("textarea").fill("fill the missing customers")
            box.get_by_role("button", name="Propose").click()
            answer = box.locator("[data-testid=describe-answer]")
            answer.wait_for()
            assert "cannot be applied" in answer.inner_text()
            assert answer.get_by_role("button", name="Apply").count() == 0
            shots(page, "invalid-proposal")

            box.locator("textarea").fill("trim the customer names")
            box.get_by_role("button", name="Propose").click()
            box.locator("[data-testid=describe-answer]:has-text('trims the customer names')").wait_for()
            box.get_by_role("button", name="Apply").click()
            node(page, "clean_text_1").wait_for()
            wait_preview(page, "clean_text_1")
            assert "··Alice Smith·" not in page.locator("[data-testid=preview-grid]").inner_text()
            shots(page, "described-step-applied")
            assert "trim the customer names" in server.requests[-1]["body"]["messages"][-1]["content"]
        finally:
            context.close()
            stack.api("/api/v2/connections/browser_llm", token, "DELETE")
