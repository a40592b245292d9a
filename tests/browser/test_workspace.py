"""The builder as a daily tool (issue 15), in Chromium inside the real Airflow: room for the canvas (the
7-node example readable and whole in the editor and the DAG tab at 1440x900 and 1280x720), panels folded
and remembered per user, Airflow's accent colour, history with a diff and restore, deleted pipelines
brought back from the list.

The example pipelines are installed as ``logidata examples install`` does (data under the stack's allowed
data folder), then stored through the builder API like any import.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_logidata.examples import install_examples

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_builder import by_viewport, login, node, nodes_outside_canvas, open_builder, unfold_drawer, wait_for

if TYPE_CHECKING:
    from conftest import AirflowStack, Shots

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

EXAMPLE = "example_orders_cleaning"
EXAMPLE_NODES = 7
# The smallest a node's title may be drawn at the zoom the canvas opens with (CSS px, 14 px at zoom 1).
READABLE_PX = 10.0


@pytest.fixture(scope="module")
def examples(airflow_stack: AirflowStack) -> list[str]:
    target = Path(airflow_stack.home) / "logidata" / "data" / "examples"
    token = airflow_stack.token()
    ids = []
    for data in install_examples(target):
        airflow_stack.api("/logidata/api/pipelines/import", token, "POST", data)
        ids.append(str(data["id"]))
    return ids


def open_example(page: Any) -> Any:
    """Airflow's Pipelines page, then the 7-node example in the builder; returns the builder's frame."""
    frame = open_builder(page)
    frame.locator(f"[data-pipeline='{EXAMPLE}'] a").first.click()
    return frame


def title_sizes(frame: Any) -> list[float]:
    """Each node title's drawn font size: its CSS size times the canvas zoom."""
    return list(
        frame.locator("[data-testid=canvas]").evaluate(
            """canvas => {
                const viewport = canvas.querySelector('.react-flow__viewport');
                const zoom = new DOMMatrixReadOnly(getComputedStyle(viewport).transform).a;
                return [...canvas.querySelectorAll('[data-testid=node-card]')].map(
                    (card) => parseFloat(getComputedStyle(card.querySelector('p[title]')).fontSize) * zoom);
            }"""
        )
    )


def assert_whole_and_readable(frame: Any, stack: AirflowStack, where: str) -> None:
    node(frame, "write_orders").wait_for(timeout=60_000)
    wait_for(lambda: not nodes_outside_canvas(frame), 20, f"every node inside the canvas ({where})", stack)
    # The editor fits its frame: nothing (a panel's content) makes the page itself scroll.
    overflow = frame.locator("html").evaluate(
        "() => document.scrollingElement.scrollHeight - window.innerHeight"
    )
    assert overflow <= 1, f"{where}: the page is {overflow} px taller than its frame"
    sizes = title_sizes(frame)
    assert len(sizes) == EXAMPLE_NODES, sizes
    assert min(sizes) >= READABLE_PX, f"{where}: node titles drawn at {min(sizes):.1f} px (< {READABLE_PX})"


@by_viewport
def test_the_example_opens_whole_and_readable(
    airflow_stack: AirflowStack, browser: Any, examples: list[str], viewport: dict[str, int], shots: Shots
) -> None:
    assert EXAMPLE in examples
    context, page = login(browser, airflow_stack, "admin", viewport=viewport)
    try:
        frame = open_example(page)
        assert_whole_and_readable(frame, airflow_stack, "editor")
        shots(page, "editor")
        page.goto(f"{airflow_stack.base_url}/dags/{EXAMPLE}/plugin/logidata-pipeline")
        tab = page.frame_locator(f"iframe[src*='/logidata/ui/#/pipelines/{EXAMPLE}']")
        assert_whole_and_readable(tab, airflow_stack, "DAG tab")
        # The tab's compact layout: the canvas alone until a panel is opened.
        assert tab.locator("[data-testid=palette]").count() == 0
        assert tab.locator("[data-testid=drawer-show]").count() == 1
        shots(page, "dag-tab")
    finally:
        context.close()


def test_folded_panels_are_remembered_per_user(
    airflow_stack: AirflowStack, browser: Any, examples: list[str]
) -> None:
    context, page = login(browser, airflow_stack, "admin")
    try:
        frame = open_example(page)
        node(frame, "read_orders").wait_for()
        frame.locator("[data-testid=palette-hide]").click()
        frame.locator("[data-testid=data-panels-toggle]").click()
        frame.locator("[data-testid=palette-show]").wait_for()
        page.reload()
        frame = page.frame_locator("iframe[src*='/logidata/ui/']")
        node(frame, "read_orders").wait_for()
        assert frame.locator("[data-testid=palette]").count() == 0
        assert frame.locator("[data-testid=data-panels-toggle]").get_attribute("aria-expanded") == "false"
        frame.locator("[data-testid=palette-show]").click()  # leave it as found for the other tests
        frame.locator("[data-testid=data-panels-toggle]").click()
        frame.locator("[data-testid=palette]").wait_for()
    finally:
        context.close()
    # Another user in the same browser profile keeps the default layout.
    context, page = login(browser, airflow_stack, "viewer")
    try:
        page.evaluate(
            "localStorage.setItem('logidata.panels.full.admin', JSON.stringify({palette:false,drawer:false,data:false}))"
        )
        frame = open_example(page)
        node(frame, "read_orders").wait_for()
        assert frame.locator("[data-testid=config-drawer]").count() == 1
        assert frame.locator("[data-testid=data-panels-toggle]").get_attribute("aria-expanded") == "true"
    finally:
        context.close()


def test_the_builder_wears_airflows_accent_colour(
    airflow_stack: AirflowStack, browser: Any, examples: list[str]
) -> None:
    """The stack configures a red brand (`[api] theme`, conftest); Airflow's page and the builder show it."""
    context, page = login(browser, airflow_stack, "admin")
    try:
        airflow_brand = page.evaluate(
            "getComputedStyle(document.documentElement).getPropertyValue('--chakra-colors-brand-600').trim()"
        )
        assert (
            airflow_brand
            == json.loads(airflow_stack.env["AIRFLOW__API__THEME"])["tokens"]["colors"]["brand"]["600"][
                "value"
            ]
        )
        frame = open_builder(page)
        button = frame.get_by_role("button", name="New pipeline")
        assert button.evaluate("b => getComputedStyle(b).backgroundColor") == airflow_brand
        # Opened on its own (no Airflow page around it), the builder asks Airflow's UI configuration.
        page.goto(f"{airflow_stack.base_url}/logidata/ui/")
        own = page.get_by_role("button", name="New pipeline")
        own.wait_for()
        wait_for(
            lambda: own.evaluate("b => getComputedStyle(b).backgroundColor") == airflow_brand,
            20,
            "the builder's own page in Airflow's accent colour",
            airflow_stack,
        )
    finally:
        context.close()


def _history_pipeline(condition: str, x: int, pipeline_id: str = "browser_history") -> dict[str, Any]:
    return {
        "spec_version": 1,
        "id": pipeline_id,
        "name": "History",
        "status": "draft",
        "nodes": [
            {
                "id": "read",
                "module": "source.file",
                "config": {"path": "/tmp/in.csv"},
                "position": {"x": 0, "y": 0},
            },
            {
                "id": "keep",
                "module": "filter_rows",
                "config": {"condition": condition},
                "position": {"x": x, "y": 0},
            },
        ],
        "edges": [{"source": "read", "target": "keep"}],
    }


@by_viewport
def test_history_diff_and_restore(
    airflow_stack: AirflowStack, browser: Any, shots: Shots, viewport: dict[str, int]
) -> None:
    stack = airflow_stack
    token = stack.token()
    history_id = f"browser_history_{viewport['width']}"
    first = stack.api(
        "/logidata/api/pipelines",
        token,
        "POST",
        {"pipeline": _history_pipeline("amount > 0", 260, history_id), "message": "first cut"},
    )
    stack.api(
        f"/logidata/api/pipelines/{history_id}",
        token,
        "PUT",
        {
            "pipeline": _history_pipeline("amount > 10", 600, history_id),
            "expected_etag": first["etag"],
            "message": "stricter",
        },
    )
    context, page = login(browser, stack, "admin", viewport=viewport)
    try:
        frame = open_builder(page)
        frame.locator(f"[data-pipeline='{history_id}'] a").first.click()
        node(frame, "keep").wait_for()
        unfold_drawer(frame)
        frame.locator("[data-testid=history-open]").click()
        v1 = frame.locator("[data-testid=history-version-1]")
        v1.wait_for()
        assert "first cut" in v1.inner_text() and "admin" in v1.inner_text()
        assert "stricter" in frame.locator("[data-testid=history-version-2]").inner_text()

        frame.locator("[data-testid=history-compare-1]").click()
        frame.locator("[data-testid=diff-view]").wait_for()
        lines = [line.strip() for line in frame.locator("[data-testid=diff-change]").all_inner_texts()]
        assert any('config.condition: "amount > 0" → "amount > 10"' in line for line in lines), lines
        assert frame.locator("[data-testid=diff-node-keep]").get_attribute("data-diff") == "changed"
        assert (
            frame.locator("[data-testid=diff-node-read]").get_attribute("data-diff") == "same"
        )  # moves ignored
        shots(page, "diff")
        page.keyboard.press("Escape")
        frame.locator("[data-testid=diff-view]").wait_for(state="detached")

        frame.locator("[data-testid=history-restore-1]").click()
        frame.locator("[data-testid=history-restore-message]").fill("back to the first cut")
        frame.locator("[data-testid=history-restore-confirm]").click()
        frame.locator("[data-testid=pipeline-version]:has-text('v3')").wait_for()
        frame.locator("[data-testid=history-version-3]:has-text('restored version 1')").wait_for()
    finally:
        context.close()
    stored = stack.api(f"/logidata/api/pipelines/{history_id}", token)
    assert stored["version"] == 3
    assert stored["pipeline"]["nodes"][1]["config"]["condition"] == "amount > 0"


def test_a_deleted_pipeline_comes_back_from_the_list(airflow_stack: AirflowStack, browser: Any) -> None:
    stack = airflow_stack
    token = stack.token()
    pipeline = {**_history_pipeline("x > 1", 260), "id": "browser_deleted", "name": "Deleted one"}
    stored = stack.api("/logidata/api/pipelines", token, "POST", {"pipeline": pipeline})
    stack.api(f"/logidata/api/pipelines/browser_deleted?expected_etag={stored['etag']}", token, "DELETE")
    context, page = login(browser, stack, "admin")
    try:
        frame = open_builder(page)
        frame.locator("[data-testid=deleted-pipelines-toggle]").click()
        frame.locator("[data-testid=deleted-browser_deleted]").wait_for()
        frame.locator("[data-testid=restore-deleted-browser_deleted]").click()
        node(frame, "keep").wait_for()  # the restored pipeline opens
    finally:
        context.close()
    assert stack.api("/logidata/api/pipelines/browser_deleted", token)["pipeline"]["name"] == "Deleted one"


def test_the_builder_speaks_airflows_language(
    airflow_stack: AirflowStack, browser: Any, examples: list[str]
) -> None:
    """Airflow 3 keeps the user's language under localStorage `i18nextLng`; the builder follows it, live."""
    context, page = login(browser, airflow_stack, "admin")
    try:
        page.evaluate("localStorage.setItem('i18nextLng', 'fr')")
        frame = open_builder(page)
        frame.get_by_role("button", name="Nouveau pipeline").wait_for()
        frame.locator(f"[data-pipeline='{EXAMPLE}'] a").first.click()
        frame.get_by_role("button", name="Enregistrer le brouillon").wait_for()
        assert frame.locator("html[lang=fr]").count() == 1
        # What Airflow's language menu does (in another document of the origin): the builder switches.
        page.evaluate("localStorage.setItem('i18nextLng', 'en')")
        frame.locator("html").evaluate(
            "() => window.dispatchEvent(new StorageEvent('storage', {key: 'i18nextLng', newValue: 'en'}))"
        )
        frame.get_by_role("button", name="Save draft").wait_for()
    finally:
        context.close()


def test_a_path_is_picked_among_the_allowed_locations(
    airflow_stack: AirflowStack, browser: Any, examples: list[str]
) -> None:
    """The path picker lists what the policy allows (the stack allows the examples' data folder and the
    temporary folder) and writes the picked file into the field; a folder outside is not offered."""
    data = Path(airflow_stack.home) / "logidata" / "data" / "examples" / "data"
    context, page = login(browser, airflow_stack, "admin")
    try:
        frame = open_example(page)
        node(frame, "read_orders").locator("[data-testid=node-card]").click()
        field = frame.locator("input[name='config.path']")
        field.wait_for()
        frame.locator("[data-testid=path-browse]").click()
        dialog = frame.locator("[data-testid=location-browser]")
        dialog.wait_for()
        # The browser opens at the field's folder: the example data, as installed.
        current = dialog.locator("[data-testid=location-current]")
        wait_for(
            lambda: current.count() == 1 and current.inner_text() == str(data),
            30,
            "the field's folder",
            airflow_stack,
        )
        roots = dialog.locator("[data-testid=location-root]").evaluate_all("bs => bs.map(b => b.dataset.uri)")
        assert not any(str(root).startswith(("/etc", "/root")) for root in roots), roots
        dialog.locator("[data-testid=location-entry][data-name='orders.csv']").click()
        dialog.locator("[data-testid=location-pick]").click()
        dialog.wait_for(state="detached")
        assert field.input_value() == str(data / "orders.csv")
    finally:
        context.close()
