"""Refused pipelines shown by Airflow itself: one import error per pipeline, the file's good DAGs kept.

Why this mechanism (read in the Airflow 3.3.2 source, ``airflow/`` below is the installed package):

- Airflow 3.3 has no public way for one DAG file to report a problem per generated DAG. Raising turns
  the whole file into one import error. Upstream tracks the missing API as apache/airflow#53971 and
  #55475 (both open); the module-level ``__airflow_dag_parsing_errors__`` of the closed PR #56066 does
  not exist in 3.3.
- DAG warnings are not an option: ``DagWarning`` rows need an existing DAG (foreign key on ``dag.dag_id``,
  ``models/dagwarning.py:54-62``), their types are a closed enum (``models/dagwarning.py:96``), and the
  processor sends only its own stability-check warnings (``dag_processing/processor.py:270``).
- Import errors come from the ``DagBag`` that parses the file: ``_parse_file`` builds a ``BundleDagBag``
  and sends ``import_errors=bag.import_errors`` to the manager (``dag_processing/processor.py:252,269``).
  The manager stores every key as a ``ParseImportError`` row (filename = key, bundle = the file's
  bundle; ``dag_processing/manager.py:1328-1339``, ``dag_processing/collection.py:340-423``), which
  ``GET /api/v2/importErrors`` and the UI list. A key that matches no DAG's ``relative_fileloc`` is
  shown to every user allowed to see import errors
  (``api_fastapi/core_api/routes/public/import_error.py:199-212``).
- The key must NOT be the DAG file's own path: for an error keyed by a file, ``_update_import_errors``
  sets ``is_stale=True, has_import_errors=True`` on every DAG of that file (``collection.py:411-423``),
  after ``update_dags`` had just set them active (``collection.py:575-576``). So each refused pipeline gets
  its own key, ``<DAG file's relative path>/<pipeline id>``, shaped like Airflow's own keys for a DAG
  file inside a zip (``archive.zip/dag.py``, ``manager.py:972-1003``). No DAG has that path, so the
  file's good DAGs stay active.
- The only handle on that ``DagBag`` from inside the DAG file is the call stack: the file runs inside
  ``DagBag.process_file`` (``dag_processing/dagbag.py:273``, importing through
  ``importers/python_importer.py:238``). :func:`filling_dagbag` finds it there. That lookup is the one
  private part; ``DagBag.import_errors`` itself (``dagbag.py:205``) is the long-standing attribute that
  Airflow's testing docs tell users to assert on. If the lookup finds nothing (a future Airflow, or the
  loader called directly), nothing is reported there and the factory report, the log line and
  ``logidata report`` still say why.

When a refused pipeline is fixed, its row is not deleted by the next parse: the manager clears rows only
for the parsed file's own path (``collection.py:355``, ``files_parsed`` at ``manager.py:1338-1339``).
It deletes rows whose filename is no file of the bundle when it refreshes the bundle
(``clear_orphaned_import_errors``, ``manager.py:943,1041-1059``), every ``[dag_processor]
refresh_interval`` seconds (default 300), or sooner when a parse of the file is requested
(``PUT /api/v2/parseDagFile/{file_token}``, ``routes/public/dag_parsing.py:41``, makes the manager
refresh the bundle, ``manager.py:638-644``).
The same refresh also drops the rows of pipelines that are still refused; the next parse of the DAG file
adds them again.

Which process is parsing (``parse_target``): the task runner parses the DAG file inside
``_airflow_parsing_context_manager(dag_id=..., task_id=...)`` (``sdk/execution_time/task_runner.py:1203``),
and so does the CLI's ``get_bagged_dag`` (``utils/cli.py:281,293``); the DAG processor does not. The
documented ``airflow.sdk.get_parsing_context()`` (``sdk/definitions/context.py:167``; Airflow's
"Dynamic DAG Generation / Optimizing DAG parsing delays during execution" how-to) returns that DAG id.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import FrameType

    from airflow_provider_logidata.dag_factory.report import PipelineReport


def parse_target() -> str | None:
    """The DAG id Airflow parses the file for (a task starting, ``airflow dags test``), else ``None``.

    ``None`` means every DAG is wanted: the DAG processor, ``dag.test()``'s sync, a plain ``DagBag``.
    """
    from airflow.sdk import get_parsing_context

    return get_parsing_context().dag_id or None


def filling_dagbag() -> Any | None:
    """The Airflow ``DagBag`` whose ``process_file`` is importing the caller right now, or ``None``.

    Matched by shape rather than by importing a class, so it works for ``DagBag`` and ``BundleDagBag``
    wherever the Airflow version keeps them, and costs a walk of a few frames per parse.
    """
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "process_file":
            candidate = frame.f_locals.get("self")
            if isinstance(getattr(candidate, "import_errors", None), dict) and any(
                cls.__name__ == "DagBag" for cls in type(candidate).__mro__
            ):
                return candidate
        frame = frame.f_back
    return None


def file_key(dag_file: str, bundle_path: str | os.PathLike[str] | None) -> str:
    """The DAG file's path as Airflow keys its import errors: relative to the bundle when it has one."""
    if not bundle_path:
        return dag_file
    relative = os.path.relpath(dag_file, bundle_path)
    return dag_file if relative.startswith("..") else relative.replace(os.sep, "/")


def import_error_key(file: str, pipeline_id: str) -> str:
    """``<file key>/<pipeline id>``: one row per refused pipeline, never the DAG file's own key."""
    return f"{file}/{pipeline_id}"


def import_error_text(entry: PipelineReport, file_name: str) -> str:
    """What Airflow shows for a refused pipeline: its id, its file and the factory report's reasons."""
    lines = [
        f"LogiData pipeline {entry.id!r} did not become a DAG: the DAG factory refused it. "
        f"The other pipelines of {file_name} are not affected.",
        f"Pipeline file: {entry.location}",
        "Problems:",
        *(f"  - {reason}" for reason in entry.reasons()),
        "Fix it in the LogiData pipeline builder or in its file; `logidata report` lists every refused "
        "pipeline.",
    ]
    return "\n".join(lines)


def report_refused(
    dag_file: str | None, refused: Iterable[PipelineReport], *, only: str | None = None
) -> bool:
    """Put one import error per refused pipeline into the ``DagBag`` parsing ``dag_file``.

    Earlier entries of this file are dropped first (all of them; with ``only``, that pipeline's), so a
    ``DagBag`` that parses the file again (``DagBag.get_dag``) does not keep a fixed pipeline's error.
    Returns whether a ``DagBag`` was found.
    """
    bag = filling_dagbag() if dag_file else None
    if bag is None or dag_file is None:
        return False
    file = file_key(dag_file, getattr(bag, "bundle_path", None))
    errors: dict[str, str] = bag.import_errors
    if only is not None:
        errors.pop(import_error_key(file, only), None)
    else:
        prefix = import_error_key(file, "")
        for key in [key for key in errors if key.startswith(prefix)]:
            del errors[key]
    name = os.path.basename(dag_file)
    for entry in refused:
        errors[import_error_key(file, entry.id)] = import_error_text(entry, name)
    return True
