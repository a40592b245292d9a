"""Fails at import: it needs a library that is not installed."""

from __future__ import annotations

import logidata_broken_pack_missing_dependency  # noqa: F401
