"""The build backend: setuptools', making sure the builder UI bundle goes into every wheel and sdist.

The bundle (``airflow_provider_logidata/ui_dist``) is built from ``ui/`` by Node.js and is not committed.
A wheel or sdist built without it would install a package whose builder answers 503 "run make ui", which
a user of site-packages cannot do. So building one (``pip install .``, a git URL, ``python -m build``)
first builds the bundle when it is missing (npm, Node.js 20.19+), or stops with a message saying what to
install. An sdist carries the built bundle, so a wheel built from it needs no Node. An editable install
(``make venv``) is left as it is: a checkout builds the UI with ``make ui``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (every hook this module does not override)

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "airflow_provider_logidata" / "ui_dist" / "index.html"
UI = ROOT / "ui"
NODE_MIN = (20, 19)


class UIBundleError(RuntimeError):
    """The UI bundle is missing and cannot be built here."""


def _node_version(node: str) -> tuple[int, int] | None:
    try:
        found = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    match = re.match(r"v?(\d+)\.(\d+)", found.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def ensure_ui_bundle(root: Path = ROOT) -> None:
    """Build ``ui_dist`` from ``ui/`` when it is missing; raise :class:`UIBundleError` saying what to do
    when it cannot be built."""
    bundle = root / "airflow_provider_logidata" / "ui_dist" / "index.html"
    ui = root / "ui"
    if bundle.exists():
        return
    if not (ui / "package.json").exists():
        raise UIBundleError(
            "airflow-provider-logidata: the builder UI bundle (airflow_provider_logidata/ui_dist) is missing "
            "and this source has no ui/ to build it from; build from the repository or a released sdist"
        )
    npm, node = shutil.which("npm"), shutil.which("node")
    version = _node_version(node) if node else None
    if npm is None or version is None or version < NODE_MIN:
        found = "not found" if version is None else "v{}.{}".format(*version)
        raise UIBundleError(
            "airflow-provider-logidata: building the package needs the builder UI bundle, built from ui/ "
            f"with Node.js {NODE_MIN[0]}.{NODE_MIN[1]}+ and npm (Node.js {found}, npm "
            f"{'found' if npm else 'not found'}). Install Node.js {NODE_MIN[0]}.{NODE_MIN[1]}+ and build "
            "again, or install a released wheel, which carries the bundle."
        )
    env = {**os.environ, "npm_config_update_notifier": "false"}
    if not (ui / "node_modules").exists():
        install = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
        subprocess.run(install, cwd=ui, check=True, env=env)
    subprocess.run([npm, "run", "--silent", "build"], cwd=ui, check=True, env=env)
    if not bundle.exists():
        raise UIBundleError(f"airflow-provider-logidata: 'npm run build' in {ui} wrote no {bundle}")


def build_wheel(
    wheel_directory: str, config_settings: dict[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    ensure_ui_bundle()
    return str(_setuptools.build_wheel(wheel_directory, config_settings, metadata_directory))


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    ensure_ui_bundle()
    return str(_setuptools.build_sdist(sdist_directory, config_settings))
