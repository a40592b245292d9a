"""Example pipelines on embedded defaults: a bundled orders CSV with the usual defects.

The JSON files hold ``${LOGIDATA_EXAMPLES_DATA}`` and ``${LOGIDATA_OUTPUT}`` placeholders, filled in at
install time with absolute paths, so the examples run wherever Airflow lives.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).parent
DATA_DIR = EXAMPLES_DIR / "data"


def example_files() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("*.json"))


def render_example(path: Path, data_dir: Path, output_dir: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    text = text.replace("${LOGIDATA_EXAMPLES_DATA}", data_dir.as_posix())
    text = text.replace("${LOGIDATA_OUTPUT}", output_dir.as_posix())
    result: dict[str, Any] = json.loads(text)
    return result


def install_examples(target: Path) -> list[dict[str, Any]]:
    """Copy the bundled data under ``target/data`` and return the example pipelines pointing at it."""
    data_dir = target / "data"
    output_dir = target / "output"
    data_dir.mkdir(parents=True, exist_ok=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    for item in DATA_DIR.iterdir():
        if item.is_file():
            shutil.copyfile(item, data_dir / item.name)
    return [render_example(path, data_dir, output_dir) for path in example_files()]
