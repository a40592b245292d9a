"""The installed ``logidata`` console script, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

VALID = {
    "id": "p1",
    "nodes": [
        {"id": "src", "module": "source.file", "config": {"path": "/nonexistent-logidata/in.csv"}},
        {"id": "dst", "module": "destination.file", "config": {"path": "/tmp/out.parquet"}},
    ],
    "edges": [{"source": "src", "target": "dst"}],
}

SCRIPT = Path(sys.executable).parent / "logidata"


@pytest.fixture
def script() -> Path:
    if not SCRIPT.exists():
        pytest.skip(f"console script not installed at {SCRIPT}")
    return SCRIPT


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=os.environ.copy())


def test_console_script(script: Path, tmp_path: Path) -> None:
    store = tmp_path / "pipelines"
    file = tmp_path / "p1.json"
    file.write_text(json.dumps(VALID))

    proc = run(str(script), "--pipelines-path", str(store), "import", str(file))
    assert (proc.returncode, proc.stdout.strip()) == (0, "imported p1 as version 1"), proc.stderr

    proc = run(str(script), "--pipelines-path", str(store), "list")
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[1].split() == ["p1", "active", "1", "yes", "p1"]

    proc = run(str(script), "--pipelines-path", str(store), "show", "nope")
    assert proc.returncode == 1
    assert proc.stderr.startswith("logidata: error: pipeline 'nope' not found")
    assert "Traceback" not in proc.stderr

    proc = run(str(script), "restore")
    assert proc.returncode == 2 and "usage:" in proc.stderr


def test_cli_does_not_import_airflow(tmp_path: Path) -> None:
    """Startup speed: validate and local store commands never import Airflow."""
    file = tmp_path / "p1.json"
    file.write_text(json.dumps(VALID))
    code = (
        "import sys\n"
        "from airflow_provider_logidata.cli.main import main\n"
        "assert not [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')], 'at import'\n"
        f"assert main(['validate', {str(file)!r}]) == 0\n"
        f"assert main(['--pipelines-path', {str(tmp_path / 'store')!r}, 'import', {str(file)!r}]) == 0\n"
        f"assert main(['--pipelines-path', {str(tmp_path / 'store')!r}, 'list']) == 0\n"
        f"assert main(['--pipelines-path', {str(tmp_path / 'store')!r}, 'history', 'p1']) == 0\n"
        "loaded = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "assert not loaded, loaded\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
