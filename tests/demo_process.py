"""The real demo (``scripts/demo.sh``, what ``make demo`` runs) in a temporary folder, for tests and scripts.

``DemoProcess`` starts the script in its own process group with ``DEMO_DIR`` in a temporary folder and
``DEMO_PORT`` on a free port, the caller's Airflow and AWS settings left out of its environment (like
``tests/stack.py``'s ``environment()``), waits for the line it prints when the example run has finished
and its banner, and always stops it: SIGTERM to the script's group (the script then stops its servers, each
in its own session), SIGKILL after a bounded wait, and SIGKILL to any server group the script left behind.
SIGTERM, not SIGINT: a process started from a non-interactive shell's background job inherits SIGINT
ignored, and bash cannot trap a signal ignored on entry (the script would not stop).

Used by ``tests/browser/test_demo.py`` and ``scripts/screenshots.py`` (``sys.path.insert(0, <tests>)``,
then ``from demo_process import DemoProcess``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stack import bearer_token, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[1]
DEMO_SCRIPT = REPO / "scripts" / "demo.sh"
EXAMPLE_DAG = "example_orders_cleaning"
BANNER = "LogiData demo is running"
# "[12:00:00] first run of example_orders_cleaning: success" (or FAILED, or "not finished after ...").
FIRST_RUN = re.compile(rf"first run of {EXAMPLE_DAG}:? (\S+)")
SERVER_PID = re.compile(r"^\[[0-9:]+\]\s+(\S+) \(pid (\d+)\) -> ")
USER, PASSWORD = "admin", "admin"


def demo_environment(port: int, demo_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without its Airflow or AWS settings, plus the demo's own variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW", "AWS_"))}
    env.update({"DEMO_PORT": str(port), "DEMO_DIR": str(demo_dir), **(extra or {})})
    return env


@dataclass
class DemoProcess:
    """``scripts/demo.sh`` running with its state in ``root / "demo"``; its output in ``root / "demo.out"``."""

    root: Path
    port: int = field(default_factory=free_port)
    # The script's own waits: generous, the test machine may be busy (2 cores shared with other work).
    parse_timeout: int = 300
    run_timeout: int = 300
    proc: subprocess.Popen[bytes] | None = None

    @property
    def demo_dir(self) -> Path:
        return self.root / "demo"

    @property
    def output_file(self) -> Path:
        return self.root / "demo.out"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- process ----------------------------------------------------------------------------------------

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        env = demo_environment(
            self.port,
            self.demo_dir,
            {"DEMO_PARSE_TIMEOUT": str(self.parse_timeout), "DEMO_RUN_TIMEOUT": str(self.run_timeout)},
        )
        with self.output_file.open("wb") as out:
            self.proc = subprocess.Popen(
                ["bash", str(DEMO_SCRIPT)],
                env=env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: the stop signal reaches the script's waits too
            )

    def output(self) -> str:
        try:
            return self.output_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def check_alive(self) -> None:
        """Raise (with the end of the script's output) if the script has exited."""
        if self.proc is None:
            raise AssertionError("the demo was not started")
        code = self.proc.poll()
        if code is not None:
            raise AssertionError(
                f"scripts/demo.sh exited with code {code}; its output ends with:\n{self.tail()}"
            )

    def server_pids(self) -> dict[str, int]:
        """The servers the script started, from its "  NAME (pid N) -> LOG" lines."""
        found = (SERVER_PID.match(line) for line in self.output().splitlines())
        return {m.group(1): int(m.group(2)) for m in found if m}

    def wait_until_ready(self, timeout: float = 480) -> str:
        """Wait for the banner; return how the example's first run ended as the script said it
        (``success``, ``FAILED`` or ``not`` for not finished in time)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            text = self.output()
            if BANNER in text:
                match = FIRST_RUN.search(text)
                return match.group(1) if match else "unknown"
            time.sleep(1)
        raise AssertionError(
            f"scripts/demo.sh printed no banner within {timeout} s; its output ends with:\n{self.tail()}"
        )

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM to the script's group (it stops its servers), SIGKILL after ``timeout`` s; then SIGKILL to
        any server group still there (only if the script could not stop them itself). Returns its code."""
        if self.proc is None:
            return None
        servers = self.server_pids()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)
        for pid in servers.values():  # each server is the leader of its own group (setsid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        return self.proc.returncode

    def keep_logs(self, target: Path) -> None:
        """Copy the script's output, the servers' logs and Airflow's task/processor logs into ``target``."""
        target.mkdir(parents=True, exist_ok=True)
        if self.output_file.exists():
            shutil.copyfile(self.output_file, target / "demo.out")
        files = sorted((self.demo_dir / "logs").glob("*.log"))
        files += sorted((self.demo_dir / "airflow" / "logs").rglob("*.log"))
        for path in files:
            shutil.copyfile(path, target / str(path.relative_to(self.demo_dir)).replace(os.sep, "__"))

    # --- REST -------------------------------------------------------------------------------------------

    def token(self) -> str:
        return bearer_token(self.base_url, USER, PASSWORD)

    def api(self, path: str, token: str) -> Any:
        """GET ``path`` (e.g. ``/api/v2/dags``) with ``token``; the parsed JSON answer."""
        request = urllib.request.Request(
            f"{self.base_url}{path}", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)


def as_stack(demo: object) -> Any:
    """``demo`` for tests/browser/test_builder.py's helpers (``sign_in``, ``wait_for``): typed for the browser
    tests' AirflowStack, they use its ``base_url`` and ``check_alive()`` only, which the demo has too."""
    return demo


@contextlib.contextmanager
def running_demo(
    root: Path, *, logs_on_error: Path | None = None, timeout: float = 480
) -> Iterator[tuple[DemoProcess, str]]:
    """The demo started in ``root`` and ready (banner printed): yields it and how the example's first run
    ended; always stopped afterwards. On an exception its logs are copied to ``logs_on_error``."""
    demo = DemoProcess(root)
    failed = True
    try:
        demo.start()
        state = demo.wait_until_ready(timeout)
        yield demo, state
        failed = False
    finally:
        demo.stop()
        if failed and logs_on_error is not None:
            demo.keep_logs(logs_on_error)
