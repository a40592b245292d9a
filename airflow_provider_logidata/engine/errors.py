"""The one exception type every LogiData task raises for a problem the user can fix."""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException


class LogiDataTaskError(AirflowException, ValueError):
    """A task failed for a reason stated in the message: the node, the cause and the fix.

    It subclasses ``AirflowException`` so Airflow reports it as a task failure without a "bug" flavour,
    and ``ValueError`` so plain-Python callers (the CLI, unit tests, the engine's function layer) can
    catch it without knowing about Airflow.
    """


def node_label(module: str, node_id: str) -> str:
    """How every message starts, e.g. ``filter_rows node 'drop_tests'``."""
    return f"{module} node {node_id!r}"
