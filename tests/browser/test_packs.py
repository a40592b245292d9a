"""A module pack's module in the builder's palette, like a built-in one: found, dropped, configured.

The example pack (tests/packs/logidata_example_pack) is installed by tests/conftest.py and on the
PYTHONPATH the Airflow stack inherits, so the api-server lists its module with the built-in ones.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_builder import login, node, open_builder, select_node

if TYPE_CHECKING:
    from conftest import AirflowStack, Shots

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_palette_offers_the_pack_module(airflow_stack: AirflowStack, browser: Any, shots: Shots) -> None:
    listed = airflow_stack.api("/logidata/api/modules", airflow_stack.token("viewer"))
    assert {m["name"]: m["pack"] for m in listed["modules"]}["mask_text"] == "logidata-example-pack"

    context, page = login(browser, airflow_stack, "admin")
    try:
        frame = open_builder(page)
        frame.get_by_role("button", name="New pipeline").click()
        frame.locator("input[name=id]").fill("browser_pack_module")
        frame.locator("input[name=name]").fill("Browser: a pack's module")
        frame.get_by_role("button", name="Create").click()
        frame.locator("[data-testid=editor][data-pipeline='browser_pack_module']").wait_for()

        frame.get_by_label("Search modules").fill("mask")
        item = frame.locator("[data-testid=palette] [data-module='mask_text']")
        item.wait_for()
        assert "Mask text" in item.inner_text()
        assert frame.locator("[data-testid=palette] [data-module]").count() == 1  # the search found only it
        shots(page, "palette-search")

        item.drag_to(frame.locator("[data-testid=canvas]"), target_position={"x": 200, "y": 150})
        node(frame, "mask_text_1").wait_for()
        panel = select_node(frame, "mask_text_1")
        # The form comes from the pack's config model, like any module's.
        panel.locator("input[name='config.mask']").wait_for()
        panel.locator("input[name='config.keep_last']").wait_for()
        shots(page, "pack-module-configured")
    finally:
        context.close()
