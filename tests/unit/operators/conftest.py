"""The operators' tests: ``fake_openlineage`` (tests/openlineage_fakes.py) for every lineage test here."""

from __future__ import annotations

from openlineage_fakes import fake_openlineage  # noqa: F401 (a fixture, found by pytest here)
