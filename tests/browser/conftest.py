"""A real Airflow (api-server, dag-processor, scheduler on 127.0.0.1) and Debian's Chromium for the builder.

One stack per session of browser tests: its own AIRFLOW_HOME with a SQLite DB, the shipped loader, the
LogiData plugin from this checkout (entry point) serving the built UI bundle, two users (admin, viewer).
Processes run in their own process groups and are always stopped; their logs land in
``.test-artifacts/browser/`` when a test fails, next to the screenshots every step takes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stack import AirflowProcesses, airflow_bin, bearer_token, environment, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[2]
LOADER = REPO / "dags" / "logidata_pipelines.py"
UI_INDEX = REPO / "airflow_provider_logidata" / "ui_dist" / "index.html"
ARTIFACTS = REPO / ".test-artifacts" / "browser"
API_TIMEOUT_S = 180
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
USERS = {"admin": ("admin", "admin"), "viewer": ("viewer", "viewer")}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    found = next((p for p in CHROMIUM_CANDIDATES if os.access(p, os.X_OK)), None)
    return found or shutil.which("chromium")


_free_port = free_port
_airflow_bin = airflow_bin


@dataclass
class AirflowStack(AirflowProcesses):
    """The shared process handling (tests/stack.py) with the browser tests' token and API helpers."""

    def token(self, user: str = "admin") -> str:
        return bearer_token(self.base_url, *USERS[user])

    def api(self, path: str, token: str, method: str = "GET", body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method, headers=headers)
        # Generous: saving an active pipeline reads its sources, slow on a loaded 2-core machine; a bound, not
        # a speed expectation.
        with urllib.request.urlopen(request, timeout=API_TIMEOUT_S) as response:
            text = response.read()
            return json.loads(text) if text else None

    def keep_logs(self, target: Path = ARTIFACTS / "logs") -> None:
        super().keep_logs(target)


# An admin's accent colour (Airflow 3.2+ `[api] theme`, the red of Airflow's documentation): the builder
# must wear it (test_workspace.py). Airflow requires all eleven shades.
RED_BRAND = {
    "50": "oklch(0.971 0.013 17.38)",
    "100": "oklch(0.936 0.032 17.717)",
    "200": "oklch(0.885 0.062 18.334)",
    "300": "oklch(0.808 0.114 19.571)",
    "400": "oklch(0.704 0.191 22.216)",
    "500": "oklch(0.637 0.237 25.331)",
    "600": "oklch(0.577 0.245 27.325)",
    "700": "oklch(0.505 0.213 27.518)",
    "800": "oklch(0.444 0.177 26.899)",
    "900": "oklch(0.396 0.141 25.723)",
    "950": "oklch(0.258 0.092 26.042)",
}


def _environment(home: Path, port: int) -> dict[str, str]:
    env = environment(home, port, {user: user for user in USERS})
    theme = {"tokens": {"colors": {"brand": {shade: {"value": value} for shade, value in RED_BRAND.items()}}}}
    env.update(
        {
            "AIRFLOW__API__THEME": json.dumps(theme),
            "AIRFLOW__API__SECRET_KEY": "logidata-browser-test-secret",
            "AIRFLOW__API_AUTH__JWT_SECRET": "logidata-browser-test-jwt-secret",
            # The tests read the bundled example CSV and write into temporary folders.
            "AIRFLOW__LOGIDATA__ALLOWED_PATHS": f"{REPO / 'airflow_provider_logidata' / 'examples' / 'data'},"
            f"{tempfile.gettempdir()}",
        }
    )
    return env


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is required in CI (make test installs it with apt-get as root)")
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium); browser tests skipped")
    if not UI_INDEX.is_file():
        pytest.fail(f"the UI bundle is not built ({UI_INDEX} missing): run `make ui`")
    return path


@pytest.fixture(scope="session")
def airflow_stack(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowStack]:
    root = tmp_path_factory.mktemp("browser-airflow")
    home = root / "airflow"
    logs = root / "process-logs"
    for folder in (home / "dags", home / "logidata" / "pipelines", logs):
        folder.mkdir(parents=True)
    port = _free_port()
    env = _environment(home, port)
    (home / "simple_auth_manager_passwords.json").write_text(
        json.dumps({u: p for u, (_, p) in USERS.items()})
    )
    shutil.copyfile(LOADER, home / "dags" / LOADER.name)
    stack = AirflowStack(home=home, port=port, env=env, logs=logs)
    migrate = subprocess.run(
        [_airflow_bin(), "db", "migrate"],
        env=env,
        cwd=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    (logs / "db-migrate.log").write_text(migrate.stdout + migrate.stderr)
    if migrate.returncode != 0:
        stack.keep_logs()
        pytest.fail(f"airflow db migrate failed with code {migrate.returncode}; logs in {ARTIFACTS}")
    try:
        stack.start_all()
        yield stack
    finally:
        stack.stop()
        stack.keep_logs()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    """One Chromium per test module. Not per session: Playwright's sync API keeps an asyncio loop running
    in the main thread while it is open, and later tests calling ``asyncio.run`` (the amazon provider's
    S3 filesystem does) would fail."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


class Shots:
    """Numbered screenshots of each step, kept under .test-artifacts/browser/<test>/."""

    def __init__(self, name: str) -> None:
        self.folder = ARTIFACTS / name
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def __call__(self, page: Any, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        page.screenshot(path=str(path))
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)
