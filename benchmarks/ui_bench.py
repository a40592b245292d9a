"""Builder UI benchmark (``make bench`` section ``ui``): first load, a 200-node canvas, save round trips.

Targets (issue 4): builder first load under 1 s on localhost; a 200-node pipeline stays responsive (drag
at 60 fps in Chromium's performance trace); save round trip under 200 ms. The peer, measured in the same
run on the same server and browser, is Airflow's own UI (its DAG list page).

A real Airflow stack (api-server, dag-processor, scheduler on 127.0.0.1) is started exactly as the browser
tests start it (``tests/browser/conftest.py``: one definition of the stack, imported here by path) and
Debian's Chromium is driven by Playwright. Every page load is a fresh browser context that carries only
the login cookie, so the bundle comes from the server each time (``cold``); ``warm`` reloads in the same
context (HTTP cache allowed).

Drag frame rate: Chromium's trace (``devtools.timeline`` + frame categories) recorded while a node is
dragged across the 200-node canvas for about two seconds with one mouse event per 16 ms; frames are the
``DrawFrame`` events of the renderer in that window (falls back to counting ``requestAnimationFrame``
callbacks when the trace has none, and says so).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ORDERS_CSV = REPO / "airflow_provider_logidata" / "examples" / "data" / "orders.csv"
VIEWPORT = {"width": 1600, "height": 1000}
TARGET_FIRST_LOAD_S = 1.0
TARGET_FPS = 60.0
TARGET_SAVE_S = 0.2
FPS_TOLERANCE = 0.9  # 54+ fps: vsync-paced frames measured over a window never land exactly on 60


def _stack_module() -> Any:
    """The browser tests' stack definition (AirflowStack, environment, chromium lookup), loaded by path."""
    path = REPO / "tests" / "browser" / "conftest.py"
    spec = importlib.util.spec_from_file_location("logidata_browser_stack", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _airflow(stack_mod: Any) -> Any:
    import subprocess

    root = Path(tempfile.mkdtemp(prefix="logidata-ui-bench-"))
    home = root / "airflow"
    logs = root / "process-logs"
    for folder in (home / "dags", home / "logidata" / "pipelines", logs):
        folder.mkdir(parents=True)
    port = stack_mod._free_port()
    env = stack_mod._environment(home, port)
    (home / "simple_auth_manager_passwords.json").write_text(
        json.dumps({u: p for u, (_, p) in stack_mod.USERS.items()})
    )
    shutil.copyfile(stack_mod.LOADER, home / "dags" / stack_mod.LOADER.name)
    stack = stack_mod.AirflowStack(home=home, port=port, env=env, logs=logs)
    subprocess.run(
        [stack_mod._airflow_bin(), "db", "migrate"],
        env=env,
        cwd=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=True,
        timeout=240,
    )
    try:
        stack.start_all()
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


def _pipeline(pipeline_id: str, size: int) -> dict[str, Any]:
    """A binary tree of filters under one CSV source: wide and deep, like a big real pipeline."""
    nodes: list[dict[str, Any]] = [
        {
            "id": "n0",
            "module": "source.file",
            "config": {"path": str(ORDERS_CSV)},
            "position": {"x": 0, "y": 0},
        }
    ]
    edges = []
    for i in range(1, size):
        nodes.append(
            {
                "id": f"n{i}",
                "module": "filter_rows",
                "config": {"condition": "amount > 0"},
                "position": {"x": 260 * (i.bit_length()), "y": 90 * (i - (1 << (i.bit_length() - 1)))},
            }
        )
        edges.append({"source": f"n{(i - 1) // 2}", "target": f"n{i}"})
    return {
        "spec_version": 1,
        "id": pipeline_id,
        "name": f"{size} nodes",
        "status": "draft",
        "nodes": nodes,
        "edges": edges,
    }


def _active_pipeline(stack: Any, token: str, timeout: float = 120) -> None:
    """One real DAG, so Airflow's DAG list (the peer page) renders a row to wait for."""
    pipeline = {
        "spec_version": 1,
        "id": "bench_active",
        "name": "bench active",
        "status": "active",
        "nodes": [
            {"id": "read", "module": "source.file", "config": {"path": str(ORDERS_CSV)}},
            {
                "id": "write",
                "module": "destination.file",
                "config": {"path": "/tmp/logidata-ui-bench-out.parquet"},
            },
        ],
        "edges": [{"source": "read", "target": "write"}],
    }
    stack.api("/logidata/api/pipelines", token, "POST", {"pipeline": pipeline})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            stack.api("/api/v2/dags/bench_active", token)
            return
        time.sleep(1)
    raise RuntimeError(f"the DAG bench_active was not parsed within {timeout} s")


def _login_cookies(browser: Any, stack: Any) -> list[dict[str, Any]]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(f"{stack.base_url}/")
    page.wait_for_selector("input[name=username]")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin")
    page.click("button[type=submit]")
    page.wait_for_selector("a[aria-label=Pipelines]")
    cookies = context.cookies()
    context.close()
    return list(cookies)


def _timed_load(
    browser: Any, cookies: list[dict[str, Any]], url: str, ready: str, repeats: int
) -> dict[str, Any]:
    """Cold loads (fresh context each time) and warm reloads; seconds until ``ready`` is visible."""
    cold, warm = [], []
    for _ in range(repeats):
        context = browser.new_context(viewport=VIEWPORT)
        context.add_cookies(cookies)
        page = context.new_page()
        start = time.perf_counter()
        page.goto(url)
        page.locator(ready).first.wait_for(timeout=30_000)
        cold.append(time.perf_counter() - start)
        start = time.perf_counter()
        page.reload()
        page.locator(ready).first.wait_for(timeout=30_000)
        warm.append(time.perf_counter() - start)
        context.close()
    return {"cold": cold, "warm": warm}


def _drag_fps(browser: Any, cookies: list[dict[str, Any]], url: str) -> dict[str, Any]:
    context = browser.new_context(viewport=VIEWPORT)
    context.add_cookies(cookies)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("document.querySelectorAll('.react-flow__node').length === 200", timeout=30_000)
    page.wait_for_timeout(500)
    box = page.locator(".react-flow__node[data-id='n0']").bounding_box()
    assert box, "node n0 not visible"
    x, y = box["x"] + box["width"] / 2, box["y"] + 10
    # The drag is driven inside the page, one mouse event per animation frame: driving it from Python
    # costs a protocol round trip per event, which would measure Playwright, not the canvas. The first
    # drag of a page also pays for JIT warm-up: it is reported on its own (first_drag_fps).
    first = page.evaluate(await_drag_js(x, y, frames=180))
    first_fps = first["frames"] / (first["elapsed_ms"] / 1000)
    box = page.locator(".react-flow__node[data-id='n0']").bounding_box()
    assert box
    x, y = box["x"] + box["width"] / 2, box["y"] + 10
    browser.start_tracing(
        page=page, categories=["devtools.timeline", "disabled-by-default-devtools.timeline.frame"]
    )
    drive = await_drag_js(x, y, frames=180)
    measured = page.evaluate(drive)
    raw = browser.stop_tracing()
    if os.environ.get("LOGIDATA_UI_TRACE"):
        Path(os.environ["LOGIDATA_UI_TRACE"]).write_bytes(raw)
    trace = json.loads(raw)
    elapsed = measured["elapsed_ms"] / 1000
    raf_frames = measured["frames"]
    window = (measured["start_ts"], measured["end_ts"])
    moved = page.locator(".react-flow__node[data-id='n0']").bounding_box()
    context.close()
    events = trace.get("traceEvents", trace) if isinstance(trace, dict) else trace
    draws = sorted(e["ts"] for e in events if e.get("name") == "DrawFrame" and "ts" in e)
    result: dict[str, Any] = {
        "first_drag_fps": first_fps,
        "raf_fps": raf_frames / elapsed,
        "moved": bool(moved and moved["x"] > box["x"] + 50),
    }
    if len(draws) >= 2:
        # Trace clock and performance.now() differ by an offset: take the frames of the drag's length
        # ending at the last frame drawn while moving (the burst of DrawFrames the drag caused).
        duration_us = (window[1] - window[0]) * 1000
        last = draws[-1]
        in_window = [ts for ts in draws if last - duration_us <= ts <= last]
        result["trace_fps"] = len(in_window) / (duration_us / 1e6) if duration_us > 0 else None
        result["trace_frames"] = len(in_window)
    return result


def await_drag_js(x: float, y: float, *, frames: int) -> str:
    """JavaScript dragging the node under (x, y) by one step per animation frame; returns timings."""
    return f"""async () => {{
        const target = document.elementFromPoint({x}, {y});
        const opts = (cx, cy) => ({{ bubbles: true, cancelable: true, view: window, clientX: cx, clientY: cy,
                                     button: 0, buttons: 1 }});
        target.dispatchEvent(new MouseEvent("mousedown", opts({x}, {y})));
        let frames = 0;
        const start = performance.now();
        await new Promise((resolve) => {{
            const step = () => {{
                frames++;
                window.dispatchEvent(new MouseEvent("mousemove", opts({x} + frames * 2, {y} + frames)));
                if (frames < {frames}) requestAnimationFrame(step); else resolve();
            }};
            requestAnimationFrame(step);
        }});
        const end = performance.now();
        window.dispatchEvent(new MouseEvent("mouseup", opts({x} + frames * 2, {y} + frames)));
        await new Promise((r) => setTimeout(r, 100));
        return {{ frames, elapsed_ms: end - start, start_ts: start, end_ts: end }};
    }}"""


def _save_round_trips(stack: Any, token: str, pipeline: dict[str, Any], repeats: int) -> list[float]:
    stored = stack.api("/logidata/api/pipelines", token, "POST", {"pipeline": pipeline})
    etag = stored["etag"]
    times = []
    for index in range(repeats):
        pipeline["description"] = f"edit {index}"
        start = time.perf_counter()
        stored = stack.api(
            f"/logidata/api/pipelines/{pipeline['id']}",
            token,
            "PUT",
            {"pipeline": pipeline, "expected_etag": etag},
        )
        times.append(time.perf_counter() - start)
        etag = stored["etag"]
    return times


def _ui_save(browser: Any, cookies: list[dict[str, Any]], url: str, repeats: int) -> list[float]:
    context = browser.new_context(viewport=VIEWPORT)
    context.add_cookies(cookies)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("document.querySelectorAll('.react-flow__node').length === 200", timeout=30_000)
    times = []
    box = page.locator(".react-flow__node[data-id='n1']").bounding_box()
    assert box
    for index in range(repeats):
        # an edit (move a node) so there is something to save
        page.mouse.move(box["x"] + 20, box["y"] + 10)
        page.mouse.down()
        page.mouse.move(box["x"] + 40 + index * 5, box["y"] + 20, steps=3)
        page.mouse.up()
        message = page.locator("[data-testid=editor-message]")
        start = time.perf_counter()
        page.get_by_role("button", name="Save draft").click()
        page.locator("[data-testid=editor-message]:has-text('Saved version')").last.wait_for(timeout=30_000)
        times.append(time.perf_counter() - start)
        with contextlib.suppress(Exception):
            message.first.wait_for(state="detached", timeout=100)
    context.close()
    return times


def _airflow_token(stack: Any) -> str:
    request = urllib.request.Request(
        f"{stack.base_url}/auth/token",
        data=json.dumps({"username": "admin", "password": "admin"}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["access_token"])


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run(*, repeats: int = 5, output: Path | None = None) -> int:
    """Run the UI benchmark; 0 when every target is met, 2 when one is missed, 1 when it could not run."""
    stack_mod = _stack_module()
    chromium = stack_mod.chromium_path()
    index = REPO / "airflow_provider_logidata" / "ui_dist" / "index.html"
    if chromium is None or not index.is_file():
        print("ui benchmark: needs Debian's chromium and the built UI (make ui chromium)", flush=True)
        return 1
    from playwright.sync_api import sync_playwright

    with _airflow(stack_mod) as stack, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=stack_mod.CHROMIUM_ARGS)
        try:
            token = _airflow_token(stack)
            small = _pipeline("bench_small", 4)
            big = _pipeline("bench_big", 200)
            api_small = _save_round_trips(stack, token, small, repeats * 4)
            api_big = _save_round_trips(stack, token, big, repeats * 4)
            _active_pipeline(stack, token)
            cookies = _login_cookies(browser, stack)
            base = stack.base_url
            airflow_dags = _timed_load(
                browser, cookies, f"{base}/dags", "a[href$='/dags/bench_active']", repeats
            )
            builder_list = _timed_load(
                browser, cookies, f"{base}/logidata/ui/", "[data-testid=pipelines-table]", repeats
            )
            editor_big = _timed_load(
                browser, cookies, f"{base}/logidata/ui/#/pipelines/bench_big", ".react-flow__node", repeats
            )
            drag = _drag_fps(browser, cookies, f"{base}/logidata/ui/#/pipelines/bench_big")
            ui_save = _ui_save(browser, cookies, f"{base}/logidata/ui/#/pipelines/bench_big", repeats)
        finally:
            browser.close()

    def row(what: str, values: list[float], target: str = "") -> str:
        return (
            f"| {what} | {len(values)} | {statistics.median(values) * 1000:.0f} | {_p95(values) * 1000:.0f} | "
            f"{target} |"
        )

    fps = drag.get("trace_fps") or drag["raf_fps"]
    fps_source = (
        "Chromium trace DrawFrame" if drag.get("trace_fps") else "requestAnimationFrame (no trace frames)"
    )
    lines = [
        "# Builder UI benchmark",
        "",
        "Generated by `make bench` (`benchmarks/run.py --only ui`, code in `benchmarks/ui_bench.py`); a real "
        "api-server on 127.0.0.1 and Debian's Chromium (headless), all figures from the same run.",
        "",
        "| what | runs | median ms | p95 ms | target |",
        "|---|---:|---:|---:|---|",
        row("Airflow's own DAG list page, cold load (peer)", airflow_dags["cold"]),
        row("Airflow's own DAG list page, reload (peer)", airflow_dags["warm"]),
        row("builder pipelines page, cold load", builder_list["cold"], f"< {TARGET_FIRST_LOAD_S * 1000:.0f}"),
        row("builder pipelines page, reload", builder_list["warm"]),
        row("open a 200-node pipeline, cold load", editor_big["cold"]),
        row("open a 200-node pipeline, reload", editor_big["warm"]),
        row("save round trip, 4 nodes (API PUT)", api_small, f"< {TARGET_SAVE_S * 1000:.0f}"),
        row("save round trip, 200 nodes (API PUT)", api_big, f"< {TARGET_SAVE_S * 1000:.0f}"),
        row("save in the UI, 200 nodes (click to 'Saved version')", ui_save),
        "",
        f"Drag on the 200-node canvas: {fps:.1f} fps ({fps_source}; requestAnimationFrame callbacks "
        f"{drag['raf_fps']:.1f}/s; the node moved: {drag['moved']}). The page's first drag, which also "
        f"pays for JavaScript warm-up: {drag['first_drag_fps']:.1f} fps.",
        "",
    ]
    checks = [
        (
            "builder first load (cold, p95)",
            _p95(builder_list["cold"]) < TARGET_FIRST_LOAD_S,
            f"{_p95(builder_list['cold']) * 1000:.0f} ms",
        ),
        ("drag on 200 nodes", fps >= TARGET_FPS * FPS_TOLERANCE and drag["moved"], f"{fps:.1f} fps"),
        ("save round trip, 200 nodes (p95)", _p95(api_big) < TARGET_SAVE_S, f"{_p95(api_big) * 1000:.0f} ms"),
    ]
    lines.append("Targets:")
    lines.append("")
    for label, ok, figure in checks:
        lines.append(f"- {label}: {figure} -> {'ok' if ok else 'FAIL'}")
    text = "\n".join(lines) + "\n"
    print(text, flush=True)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
    return 0 if all(ok for _, ok, _ in checks) else 2


if __name__ == "__main__":
    raise SystemExit(run(output=HERE / "results" / "ui.md"))
