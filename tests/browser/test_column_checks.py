"""Column checks while drawing, in a real browser: a wrong column in a filter's condition and in a
deduplicate's column list shows under that field at once (no save), the column picker lists the CSV's
columns with their types, saving as active is refused with the error at its field and the edit kept, and
once fixed the pipeline activates. The lineage of a column lights up the nodes it passes through.

Runs on the session's Airflow stack (tests/browser/conftest.py) with test_builder's helpers; screenshots
of every step land under .test-artifacts/browser/<test>/.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import AirflowStack, Shots

# The suite imports test modules in importlib mode (folders are not packages): reach the helpers by path.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_builder import login, node, select_node

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PIPELINE_ID = "browser_columns"
COLUMNS = ["order_id", "customer", "amount", "status"]
STEP_TIMEOUT_MS = 30_000


def write_orders(path: Path) -> None:
    rows = [
        [1, "Alice", "120.50", "shipped"],
        [2, "Bob", "75.00", "test"],
        [3, "Carla", "10.25", "shipped"],
        [3, "Carla", "10.25", "shipped"],
        [4, "Dan", "99.90", "returned"],
    ]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)


def pipeline(folder: Path) -> dict[str, Any]:
    data = folder / "orders.csv"
    write_orders(data)
    chain = [
        ("read", "source.file", "Orders CSV", {"path": str(data), "format": "csv"}),
        ("dedupe", "deduplicate", "One row per order", {"columns": ["order_id"]}),
        ("drop", "filter_rows", "Drop test orders", {"condition": "amount > 0"}),
        ("write", "destination.file", None, {"path": str(folder / "orders_clean.parquet")}),
    ]
    return {
        "spec_version": 1,
        "id": PIPELINE_ID,
        "name": "Browser: column checks",
        "status": "draft",
        "nodes": [
            {
                "id": nid,
                "module": module,
                "label": label,
                "config": config,
                "position": {"x": i * 280, "y": 40},
            }
            for i, (nid, module, label, config) in enumerate(chain)
        ],
        "edges": [{"source": a[0], "target": b[0]} for a, b in itertools.pairwise(chain)],
    }


def validate(stack: AirflowStack, token: str, spec: dict[str, Any]) -> Any:
    """POST /validate with time for a cold start (the first check starts a preview worker to read the CSV)."""
    request = urllib.request.Request(
        f"{stack.base_url}/logidata/api/validate",
        data=json.dumps({"pipeline": spec}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


def field_error(panel: Any, field: str) -> Any:
    return panel.locator(f"[data-field='{field}'] [data-testid=field-error]")


def test_column_errors_at_their_fields_picker_and_activation(
    airflow_stack: AirflowStack, browser: Any, shots: Shots, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stack = airflow_stack
    token = stack.token()
    spec = pipeline(tmp_path_factory.mktemp("browser-columns"))
    stack.api("/logidata/api/pipelines", token, "POST", {"pipeline": spec})
    # The types DuckDB gives the CSV's columns, as the server reports them without running anything.
    checked = validate(stack, token, spec)
    assert checked["valid"], checked["errors"]
    types = {c["name"]: c["type"] for c in checked["schemas"]["read"]["ports"]["out"]}
    assert list(types) == COLUMNS, types

    context, page = login(browser, stack, "admin")
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        page.goto(f"{stack.base_url}/logidata/ui/#/pipelines/{PIPELINE_ID}")
        node(page, "drop").wait_for()

        # The selected node's output columns, with types, once the editor validated on open.
        panel = select_node(page, "drop")
        panel.locator("[data-testid=output-columns][data-status=known]").wait_for()
        listed = panel.locator("[data-testid=output-column]")
        assert listed.evaluate_all("els => els.map(e => e.dataset.column)") == COLUMNS
        assert (
            panel.locator(
                "[data-testid=output-column][data-column=amount] [data-testid=output-column-type]"
            ).inner_text()
            == types["amount"]
        )

        # A wrong column in the condition: the plain message under the field, without saving.
        version = page.locator("[data-testid=pipeline-version]").inner_text()
        panel.locator("textarea[name='config.condition']").fill("statsu <> 'test'")
        error = field_error(panel, "condition")
        error.wait_for()
        message = error.inner_text()
        # It names the column and suggests the right one.
        assert "'statsu'" in message and "'status'" in message, message
        assert "nodes[" not in message  # the JSON path is a detail (tooltip), not the text
        assert (error.get_attribute("title") or "").endswith("config.condition")
        assert node(page, "drop").locator("[data-testid=node-error-badge]").inner_text() == "1 error"
        # Shown once: not again on the card, in the drawer, or by the preview and suggestions that fail
        # because of it (they point at the node instead).
        pointer = page.locator("[data-testid=preview-error] [data-testid=preview-issue]")
        pointer.wait_for()
        assert pointer.inner_text() == "Shown at: Drop test orders"
        page.locator("[data-testid=suggest-error]:has-text('No suggestions until')").wait_for()
        assert page.get_by_text(message).count() == 1
        assert page.locator("[data-testid=pipeline-version]").inner_text() == f"{version} · unsaved changes"
        shots(page, "condition-error")

        # The summary names node and field by their labels.
        page.locator("[data-testid=problems-toggle]").click()
        summary = page.locator("[data-testid=problems-list][data-open]")
        summary.wait_for()
        where = "Drop test orders \u203a Condition"  # node label, then field title
        assert f"{where}: {message}" in summary.inner_text()
        shots(page, "problems-list")
        summary.get_by_role("button", name="hide").click()

        # Save & activate is refused while the error remains: the error stays at its field, the edit too.
        page.get_by_role("button", name="Save & activate").click()
        page.locator("[data-testid=editor-message]:has-text('Not saved')").wait_for()
        assert page.locator("[data-testid=pipeline-status]").inner_text() == "draft"
        assert page.locator("[data-testid=pipeline-version]").inner_text().startswith(version.split(" ")[0])
        panel = page.locator("[data-testid=node-panel][data-node-id='drop']")
        assert panel.locator("textarea[name='config.condition']").input_value() == "statsu <> 'test'"
        assert "'statsu'" in field_error(panel, "condition").inner_text()
        shots(page, "activate-refused")
        # A draft may hold errors.
        page.get_by_role("button", name="Save draft").click()
        page.locator("[data-testid=editor-message]:has-text('as draft')").wait_for()
        field_error(panel, "condition").wait_for()

        panel.locator("textarea[name='config.condition']").fill("status <> 'test'")
        field_error(panel, "condition").wait_for(state="detached")
        node(page, "drop").locator("[data-testid=node-error-badge]").wait_for(state="detached")

        # A wrong column in a column-picker field of another node.
        panel = select_node(page, "dedupe")
        column = panel.locator("input[name='config.columns.0']")
        column.fill("order_idd")
        item_error = field_error(panel, "columns.0")
        item_error.wait_for()
        assert "'order_idd'" in item_error.inner_text() and "'order_id'" in item_error.inner_text()
        shots(page, "picker-field-error")

        # The picker lists the CSV's columns with their types; pick the right one.
        column.click()
        options = panel.locator("[data-testid=column-options] [data-testid=column-option]")
        options.first.wait_for()
        offered = options.evaluate_all("els => els.map(e => [e.dataset.column, e.dataset.type])")
        assert offered == [[name, types[name]] for name in COLUMNS], offered
        assert (
            panel.locator(
                "[data-testid=column-option][data-column=amount] [data-testid=column-type]"
            ).inner_text()
            == types["amount"]
        )
        shots(page, "column-picker")
        panel.locator("[data-testid=column-option][data-column=order_id]").click()
        assert column.input_value() == "order_id"
        item_error.wait_for(state="detached")
        page.locator("[data-testid=node-error-badge]").first.wait_for(state="detached")

        # Lineage: a column of the filter lights up the nodes it comes from and goes to; Escape clears it.
        panel = select_node(page, "drop")
        panel.locator("[data-testid=output-column][data-column=amount]").click()
        lit = page.locator("[data-testid=node-card][data-lineage=on]")
        page.wait_for_function(
            "document.querySelectorAll('[data-testid=node-card][data-lineage=on]').length === 4"
        )
        assert sorted(lit.evaluate_all("els => els.map(e => e.dataset.nodeId)")) == [
            "dedupe",
            "drop",
            "read",
            "write",
        ]
        assert node(page, "read").locator("[data-testid=node-lineage] [data-column=amount]").count() == 1
        assert page.locator(".react-flow__edge.lineage-edge").count() == 3
        shots(page, "lineage")
        page.keyboard.press("Escape")  # the focus is on the column's button, not in a form field
        lit.first.wait_for(state="detached")

        # Fixed: the pipeline activates.
        page.get_by_role("button", name="Save & activate").click()
        page.locator("[data-testid=editor-message]:has-text('Saved version')").wait_for()
        assert page.locator("[data-testid=pipeline-status]").inner_text() == "active"
        shots(page, "saved-active")
    finally:
        context.close()
    saved = stack.api(f"/logidata/api/pipelines/{PIPELINE_ID}", token)["pipeline"]
    configs = {n["id"]: n["config"] for n in saved["nodes"]}
    assert configs["drop"]["condition"] == "status <> 'test'"
    assert configs["dedupe"]["columns"] == ["order_id"]
    assert saved["status"] == "active"
