"""The demo's first screen in a real browser: ``scripts/demo.sh`` (what ``make demo`` runs) started for real
in a temporary folder, then Airflow's home page after logging in shows no failed DAG, and "Pipelines" lists
both example pipelines without problems.

The dashboard's "Failed Dags" stats card (latest run failed), its "History" counts of failed DAG runs and
task instances, and the absence of DAG import errors are read from the page and checked against the JSON
the page itself received and against Airflow's REST API. The demo runs its own Airflow (not the session's
stack) and is always stopped; its output and logs land in .test-artifacts/browser/test_demo/logs when the
test fails, next to a screenshot of each step.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

# The suite imports test modules in importlib mode (folders are not packages): reach the helpers by path.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from demo_process import EXAMPLE_DAG, DemoProcess, as_stack, running_demo
from test_builder import open_builder, sign_in, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".test-artifacts" / "browser" / "test_demo"
VIEWPORT = {"width": 1440, "height": 900}
EXAMPLES = ("example_orders_cleaning", "example_orders_to_csv")
STEP_TIMEOUT_MS = 60_000
# Bounded waits, generous for a busy 2-core machine: the demo's own start-up (DB migration, api-server,
# parsing, the example's run) and the runs still going once it printed its banner.
READY_TIMEOUT = 480
RUNS_SETTLE_TIMEOUT = 240


def total(answer: Any) -> int:
    return int(answer["total_entries"])


def check_rest_api(demo: DemoProcess) -> None:
    """No DAG failed, according to Airflow's REST API; both examples exist and the first one succeeded."""
    token = demo.token()
    # The other example may still be running: wait for every run to finish before judging.
    wait_for(
        lambda: total(demo.api("/api/v2/dags/~/dagRuns?state=queued&state=running", token)) == 0,
        RUNS_SETTLE_TIMEOUT,
        "every DAG run to finish",
        as_stack(demo),
    )
    dags = {d["dag_id"]: d for d in demo.api("/api/v2/dags?limit=100", token)["dags"]}
    assert set(EXAMPLES) <= set(dags), sorted(dags)
    assert not [d for d in dags.values() if d["has_import_errors"]], dags
    assert total(demo.api("/api/v2/importErrors", token)) == 0
    assert total(demo.api("/api/v2/dags?last_dag_run_state=failed", token)) == 0
    assert total(demo.api("/api/v2/dags?dag_run_state=failed", token)) == 0
    failed_runs = demo.api("/api/v2/dags/~/dagRuns?state=failed", token)
    assert total(failed_runs) == 0, failed_runs["dag_runs"]
    succeeded = demo.api(f"/api/v2/dags/{EXAMPLE_DAG}/dagRuns?state=success", token)
    assert total(succeeded) >= 1, succeeded
    # The builder's API and the DAG factory agree: both examples valid, loaded, none in error.
    pipelines = {p["id"]: p for p in demo.api("/logidata/api/pipelines", token)["pipelines"]}
    for pipeline_id in EXAMPLES:
        assert pipelines[pipeline_id]["valid"], pipelines[pipeline_id]
        assert pipelines[pipeline_id]["status"] == "active", pipelines[pipeline_id]
    assert pipelines[EXAMPLE_DAG]["last_run"]["state"] == "success", pipelines[EXAMPLE_DAG]


def check_factory_report(demo: DemoProcess) -> None:
    report = json.loads((demo.demo_dir / "factory_report.json").read_text())
    assert report["counts"]["error"] == 0, report
    assert {p["id"]: p["status"] for p in report["pipelines"]} == dict.fromkeys(EXAMPLES, "loaded"), report
    assert not report["pack_errors"], report


def badge(page: Any, link: str) -> Any:
    """The count badge of the dashboard link whose address contains ``link``."""
    return page.locator(f"a[href*='{link}'] [data-testid=state-badge]")


def test_demo(browser: Any, tmp_path: Path) -> None:
    """scripts/demo.sh, then its first screen: Airflow's home page with no failed DAG; then "Pipelines"."""
    expect = pytest.importorskip("playwright.sync_api").expect
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    step = iter(range(1, 100))

    def shot(page: Any, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{next(step):02d}-{name}.png"))

    with running_demo(tmp_path / "run", logs_on_error=ARTIFACTS / "logs", timeout=READY_TIMEOUT) as (
        demo,
        first_run,
    ):
        assert first_run == "success", f"the demo says the example's first run: {first_run}\n{demo.tail()}"
        check_rest_api(demo)
        check_factory_report(demo)

        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        try:
            page = context.new_page()
            # The dashboard's own data, as the page receives it after the login.
            with (
                page.expect_response(lambda r: r.ok and "/ui/dashboard/dag_stats" in r.url) as stats_answer,
                page.expect_response(
                    lambda r: r.ok and "/ui/dashboard/historical_metrics_data" in r.url
                ) as history,
                page.expect_response(lambda r: r.ok and "/api/v2/importErrors" in r.url) as import_errors,
            ):
                sign_in(page, as_stack(demo), "admin")
            stats = stats_answer.value.json()
            metrics = history.value.json()
            assert stats["failed_dag_count"] == 0, stats
            assert stats["active_dag_count"] >= len(EXAMPLES), stats
            assert metrics["dag_run_states"]["failed"] == 0, metrics
            assert metrics["task_instance_states"]["failed"] == 0, metrics
            assert metrics["task_instance_states"]["upstream_failed"] == 0, metrics
            assert total(import_errors.value.json()) == 0

            # What the first screen shows: the "Failed Dags" card of "Stats" (DAGs whose latest run
            # failed) once it shows the page's data (the "Active Dags" count), and History's counts.
            page.locator("[data-testid=main-content] h2:has-text('Stats')").wait_for()
            failed_card = page.locator("[data-testid=stats-card]").filter(has_text="Failed Dags")
            failed_card.wait_for()
            active = page.locator("[data-testid=stats-card]").filter(has_text="Active Dags")
            expect(active.locator("[data-testid=state-badge]")).to_have_text(str(stats["active_dag_count"]))
            assert failed_card.locator("[data-testid=state-badge]").inner_text().strip() == "0"
            runs_failed = badge(page, "/dag_runs?state=failed")
            runs_failed.wait_for()
            assert runs_failed.inner_text().strip() == "0"
            for state in ("failed", "upstream_failed"):
                shown = badge(page, f"/task_instances?task_state={state}&")
                assert shown.count() == 0 or shown.inner_text().strip() == "0", state
            main = page.locator("[data-testid=main-content]").inner_text()
            assert "Import Error" not in main, main
            shot(page, "airflow-home")

            # "Pipelines": both examples listed, active, valid, with their last run; no error box.
            frame = open_builder(page)
            for pipeline_id in EXAMPLES:
                row = frame.locator(f"[data-pipeline='{pipeline_id}']")
                row.wait_for()
                assert "active" in row.inner_text(), row.inner_text()
                assert row.get_by_text("invalid", exact=True).count() == 0, row.inner_text()
                row.locator("[data-state]").first.wait_for()
                assert row.locator("[data-state=failed]").count() == 0, row.inner_text()
            frame.locator(f"[data-pipeline='{EXAMPLE_DAG}'] [data-state=success]").wait_for()
            assert frame.locator("[data-testid=error-box]").count() == 0
            shot(page, "pipelines")
        finally:
            context.close()
