#!/usr/bin/env python3
"""Screenshots of the builder for the docs, taken from the real demo.

Starts ``scripts/demo.sh`` in a temporary folder on a free port (``tests/demo_process.py``, as the demo's
browser test does), waits for the example run, then with Debian's Chromium at 1440x900 writes, in light and
dark mode (Airflow's own colour mode, localStorage ``theme``):

  editor-{light,dark}.png   Airflow's "Pipelines" page, the builder open on example_orders_cleaning with
                            one node selected: its form in the config drawer, its rows in the data panel
  dag-tab-{light,dark}.png  Airflow's DAG page, "Pipeline" tab (/dags/<id>/plugin/logidata-pipeline),
                            the same node selected, its rows in the data panel under the canvas

into docs/screenshots/ (or --out) and prints their paths. Needs the venv (`make venv`), the UI bundle
(`make ui`) and /usr/bin/chromium. Run: .venv/bin/python scripts/screenshots.py
(--url http://127.0.0.1:8080 shoots a demo already running, e.g. `make demo`, instead of starting one).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The demo's process handling and the browser tests' helpers (tests/ folders are not packages).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))
from conftest import CHROMIUM_ARGS, UI_INDEX, chromium_path  # tests/browser/conftest.py
from demo_process import EXAMPLE_DAG, DemoProcess, as_stack, running_demo
from test_builder import nodes_outside_canvas, open_builder, select_node, sign_in, wait_for

REPO = Path(__file__).resolve().parents[1]

OUT = REPO / "docs" / "screenshots"
LOGS_ON_ERROR = REPO / ".test-artifacts" / "screenshots" / "logs"
VIEWPORT = {"width": 1440, "height": 900}
NODE = "tidy_names"  # "Tidy customer names" (clean_text): a form with several fields, rows that change
LAST_NODE = "write_orders"
STEP_TIMEOUT_MS = 60_000
PREVIEW_TIMEOUT_MS = 120_000  # the first preview starts the preview workers


@dataclass
class RunningDemo:
    """A demo started elsewhere (``--url``): what the browser helpers need of it."""

    base_url: str

    def check_alive(self) -> None:
        pass


def settle(page: Any, frame: Any, demo: DemoProcess | RunningDemo) -> None:
    """Until the canvas shows every node, the selected node's preview grid and its suggestions have loaded,
    the fonts are in and nothing moves any more; the mouse out of the way (no hover highlight)."""
    frame.locator(f".react-flow__node[data-id='{LAST_NODE}']").wait_for()
    wait_for(lambda: not nodes_outside_canvas(frame), 30, "every node inside the canvas", as_stack(demo))
    frame.locator(f"[data-testid=preview-panel][data-node-id='{NODE}'][data-state=ready]").wait_for(
        timeout=PREVIEW_TIMEOUT_MS
    )
    frame.locator("[data-testid=preview-grid]").first.wait_for()
    suggestions = frame.locator("[data-testid=suggest-panel][data-state]")
    if suggestions.count():
        frame.locator("[data-testid=suggest-panel]:not([data-state=loading])").wait_for(
            timeout=PREVIEW_TIMEOUT_MS
        )
    frame.locator("body").evaluate("() => document.fonts.ready.then(() => true)")
    page.evaluate("() => document.fonts.ready.then(() => true)")
    page.mouse.move(VIEWPORT["width"] - 1, VIEWPORT["height"] - 1)
    page.wait_for_timeout(1500)  # the canvas' fit animation and panel transitions (a few hundred ms)


def select_on_canvas(page: Any, frame: Any, node_id: str) -> None:
    """Click the node until the canvas marks it selected (the fit animation may still move it)."""
    selected = frame.locator(f".react-flow__node.selected[data-id='{node_id}']")
    for _ in range(10):
        frame.locator(f".react-flow__node[data-id='{node_id}'] [data-testid=node-card]").click()
        if selected.count():
            return
        page.wait_for_timeout(300)
    selected.wait_for()


def shoot(page: Any, path: Path) -> Path:
    # The viewport only (1440x900, not the full page), CSS pixels: ~150-250 KB per PNG.
    page.screenshot(path=str(path), animations="disabled", caret="hide", scale="css")
    return path


def take(browser: Any, demo: DemoProcess | RunningDemo, mode: str, out: Path) -> list[Path]:
    context = browser.new_context(viewport=VIEWPORT, color_scheme=mode)
    # Airflow's colour mode switch stores the mode here; the builder follows it.
    context.add_init_script(f"window.localStorage.setItem('theme', '{mode}')")
    context.set_default_timeout(STEP_TIMEOUT_MS)
    taken = []
    try:
        page = context.new_page()
        sign_in(page, as_stack(demo), "admin")

        # Airflow's "Pipelines" page: the builder, the example open, one node selected.
        frame = open_builder(page)
        frame.locator(f"[data-pipeline='{EXAMPLE_DAG}']").get_by_role("link").first.click()
        frame.locator(f"[data-testid=editor][data-pipeline='{EXAMPLE_DAG}']").wait_for()
        frame.locator(f".react-flow__node[data-id='{NODE}']").wait_for()
        wait_for(lambda: not nodes_outside_canvas(frame), 30, "every node inside the canvas", as_stack(demo))
        select_node(frame, NODE)
        settle(page, frame, demo)
        taken.append(shoot(page, out / f"editor-{mode}.png"))

        # The DAG's "Pipeline" tab.
        page.goto(f"{demo.base_url}/dags/{EXAMPLE_DAG}/plugin/logidata-pipeline")
        tab = page.frame_locator(f"iframe[src*='/logidata/ui/#/pipelines/{EXAMPLE_DAG}']")
        tab.locator(f".react-flow__node[data-id='{NODE}']").wait_for()
        wait_for(
            lambda: not nodes_outside_canvas(tab), 30, "every node inside the tab's canvas", as_stack(demo)
        )
        # The tab's compact layout opens with the canvas alone: select the node and show the data panel
        # under the canvas (the configuration drawer would float over the canvas; it stays folded).
        select_on_canvas(page, tab, NODE)
        toggle = tab.locator("[data-testid=data-panels-toggle][aria-expanded=false]")
        if toggle.count():
            toggle.click()
        settle(page, tab, demo)
        taken.append(shoot(page, out / f"dag-tab-{mode}.png"))
    finally:
        context.close()
    return taken


def shoot_all(chromium: str, demo: DemoProcess | RunningDemo, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            return [path for mode in ("light", "dark") for path in take(browser, demo, mode, out)]
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (default: docs/screenshots)")
    parser.add_argument("--url", help="a demo already running (its example run finished), e.g. make demo's")
    args = parser.parse_args(argv)
    chromium = chromium_path()
    if chromium is None:
        print("error: Debian's chromium is needed (apt-get install -y chromium)", file=sys.stderr)
        return 1
    if not UI_INDEX.is_file():
        print(f"error: the UI bundle is not built ({UI_INDEX} missing): run `make ui`", file=sys.stderr)
        return 1
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if args.url:
        paths = shoot_all(chromium, RunningDemo(args.url.rstrip("/")), out)
    else:
        print("starting scripts/demo.sh in a temporary folder, waiting for the example run (minutes) ...")
        with (
            tempfile.TemporaryDirectory(prefix="logidata-screenshots-") as tmp,
            running_demo(Path(tmp), logs_on_error=LOGS_ON_ERROR) as (demo, first_run),
        ):
            if first_run != "success":
                # An exception, not a return: running_demo then keeps the demo's logs.
                raise SystemExit(
                    f"error: the example's first run: {first_run}; logs in {LOGS_ON_ERROR}\n{demo.tail()}"
                )
            print(f"demo ready on {demo.base_url} after {time.monotonic() - started:.0f} s")
            paths = shoot_all(chromium, demo, out)
    for path in paths:
        shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        print(f"{shown}  ({path.stat().st_size // 1024} KB)")
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
