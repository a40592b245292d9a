"""Real DuckDB and pyarrow on real files under tmp_path (``tests/engine_fixtures.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from engine_fixtures import RecordingLog, _staging_root, log, multi, stage, transform  # noqa: F401
