"""After a save the builder asks Airflow to parse the pipelines' DAG file soon (a priority parsing
request, as Airflow's own "Reparse DAG"), finding the file from the pipeline's DAG, another LogiData DAG
or a refused pipeline's import error; it never fails the save."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.api.reparse import loader_file, request_parse


@pytest.fixture
def session(airflow_db: Path) -> Any:
    """Airflow's own tables for DAGs, tags, import errors and parsing requests, in a private in-memory
    database: the shared test DB holds other tests' DAGs (and rows that reference them)."""
    from airflow.models.dag import DagModel, DagTag
    from airflow.models.dagbag import DagPriorityParsingRequest
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.errors import ParseImportError
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine("sqlite://")
    models = (DagBundleModel, DagModel, DagTag, ParseImportError, DagPriorityParsingRequest)
    DagModel.metadata.create_all(engine, tables=[model.__table__ for model in models])
    with Session(engine) as session:
        session.add(DagBundleModel(name="dags-folder"))
        session.flush()
        yield session
    engine.dispose()


def _requests(session: Any) -> list[tuple[str, str]]:
    from airflow.models.dagbag import DagPriorityParsingRequest

    return [(r.bundle_name, r.relative_fileloc) for r in session.query(DagPriorityParsingRequest)]


def test_no_dag_file_known_yet_asks_nothing(session: Any) -> None:
    assert loader_file(session, "new") is None
    assert request_parse(session, "new") is False
    assert _requests(session) == []


def test_the_file_of_any_logidata_dag_is_reparsed_once(session: Any) -> None:
    from airflow.models.dag import DagModel, DagTag

    session.add(DagModel(dag_id="other", bundle_name="dags-folder", relative_fileloc="logidata_pipelines.py"))
    session.flush()
    session.add(DagTag(name="logidata", dag_id="other"))
    session.flush()
    assert request_parse(session, "new") is True
    assert request_parse(session, "new") is True  # already pending: no second row
    assert _requests(session) == [("dags-folder", "logidata_pipelines.py")]


def test_a_refused_pipelines_import_error_names_the_file(session: Any) -> None:
    from airflow.models.errors import ParseImportError

    session.add(ParseImportError(filename="sub/loader.py/broken", bundle_name="dags-folder", stacktrace="x"))
    session.flush()
    assert loader_file(session, "broken") == ("dags-folder", "sub/loader.py")
