"""A user module whose own import fails: its dependency is not installed on the worker."""

from __future__ import annotations

import logidata_dependency_that_is_not_installed  # noqa: F401


def anything(df):  # type: ignore[no-untyped-def]
    return df
