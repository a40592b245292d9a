"""The one exception type every LogiData task raises for a problem the user can fix."""

from __future__ import annotations

import sys

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


def with_arrow_errors(*classes: type[BaseException]) -> tuple[type[BaseException], ...]:
    """``classes`` plus pyarrow's error class, for an ``except`` clause, without importing pyarrow (about
    0.1 s of a task's start) in a run that never loads it: such a run cannot have raised its errors.
    The clause evaluates this only when an exception reaches it, so a run that imported pyarrow
    meanwhile catches its errors too."""
    error = getattr(sys.modules.get("pyarrow"), "ArrowException", None)
    if isinstance(error, type) and issubclass(error, BaseException):
        return (*classes, error)
    return classes
