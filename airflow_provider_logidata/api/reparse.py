"""Ask Airflow to parse the pipelines' DAG file soon after a save, as its own "Reparse DAG" does.

Without it a saved pipeline waits for the DAG processor's next pass over the file (``min_file_process_
interval``, 30 s by default) before "Run now" can start it, and a fixed pipeline's import error waits for
the next bundle refresh (300 s). A ``DagPriorityParsingRequest`` row (what ``PUT /api/v2/parseDagFile``
writes) puts the file first in the processor's queue, and the manager refreshes the bundle for it. The
DAG file is found from the pipeline's own DAG, else any LogiData DAG (tag ``logidata``), else a refused
pipeline's import error (keyed ``<DAG file>/<pipeline id>``); with none, the periodic parse does it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def loader_file(session: Session, pipeline_id: str) -> tuple[str, str] | None:
    """``(bundle name, relative path)`` of the DAG file that turns pipelines into DAGs."""
    from airflow.models.dag import DagModel, DagTag
    from airflow.models.errors import ParseImportError
    from sqlalchemy import select

    own = session.execute(
        select(DagModel.bundle_name, DagModel.relative_fileloc).where(DagModel.dag_id == pipeline_id)
    ).first()
    if own is not None and own[1]:
        return str(own[0]), str(own[1])
    tagged = session.execute(
        select(DagModel.bundle_name, DagModel.relative_fileloc)
        .join(DagTag, DagTag.dag_id == DagModel.dag_id)
        .where(DagTag.name == "logidata", DagModel.relative_fileloc.is_not(None))
        .limit(1)
    ).first()
    if tagged is not None:
        return str(tagged[0]), str(tagged[1])
    refused = session.execute(
        select(ParseImportError.bundle_name, ParseImportError.filename)
        .where(ParseImportError.filename.like(f"%/{pipeline_id}"))
        .limit(1)
    ).first()
    if refused is not None and refused[0]:
        return str(refused[0]), str(refused[1]).removesuffix(f"/{pipeline_id}")
    return None


def request_parse(session: Session, pipeline_id: str) -> bool:
    """Queue a parse of the DAG file; never fails the save that asked for it."""
    from airflow.models.dagbag import DagPriorityParsingRequest
    from sqlalchemy import select

    try:
        found = loader_file(session, pipeline_id)
        if found is None:
            return False
        pending = session.execute(
            select(DagPriorityParsingRequest.id).where(
                DagPriorityParsingRequest.bundle_name == found[0],
                DagPriorityParsingRequest.relative_fileloc == found[1],
            )
        ).first()
        if pending is None:  # one request per file (its id is a hash of bundle and path)
            with session.begin_nested():
                session.add(DagPriorityParsingRequest(bundle_name=found[0], relative_fileloc=found[1]))
        return True
    except Exception:  # the periodic parse still comes; a save must not fail for this
        log.warning("logidata: could not ask Airflow to parse the DAG file again", exc_info=True)
        return False
