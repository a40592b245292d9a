"""Refused pipelines become Airflow import errors, one per pipeline (dag_factory.airflow_errors), and a task's
parse builds only its own DAG.

Each test fills a real Airflow ``DagBag`` over a folder holding the shipped loader file, as the DAG processor
(``_parse_file``) and the task runner (``parse``) do; the import errors are what the processor sends to the
manager. What the manager then stores, and the task log of a real run, are checked in
tests/integration/test_factory_errors.py.
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.dag_factory.airflow_errors import (
    file_key,
    import_error_key,
    parse_target,
    report_refused,
)
from airflow_provider_logidata.dag_factory.report import PipelineReport, read_report

REPO = Path(__file__).resolve().parents[3]
LOADER = REPO / "dags" / "logidata_pipelines.py"
FILE = LOADER.name
CONTEXT_DAG_ID = "_AIRFLOW_PARSING_CONTEXT_DAG_ID"  # what Airflow's task runner sets (get_parsing_context)
ELT_REASON = "node 'custom' uses sql, which has no PostgreSQL builder"


def good(pid: str) -> dict[str, Any]:
    return {
        "id": pid,
        "schedule": None,
        "start_date": "2024-01-01",
        "nodes": [
            {"id": "src", "module": "source.file", "config": {"path": "/d/a.csv"}},
            {"id": "keep", "module": "filter_rows", "config": {"condition": "a > 1"}},
            {"id": "dst", "module": "destination.file", "config": {"path": "/d/out.parquet"}},
        ],
        "edges": [{"source": "src", "target": "keep"}, {"source": "keep", "target": "dst"}],
    }


def elt_refused(pid: str) -> dict[str, Any]:
    """engine 'elt' with a node PostgreSQL cannot run: refused by the validator, naming the node."""
    return {
        "id": pid,
        "engine": "elt",
        "nodes": [
            {"id": "src", "module": "source.postgres", "config": {"conn_id": "pg", "table": "t"}},
            {"id": "custom", "module": "sql", "config": {"query": "SELECT * FROM input_0"}},
            {"id": "dst", "module": "destination.postgres", "config": {"conn_id": "pg", "table": "o"}},
        ],
        "edges": [{"source": "src", "target": "custom"}, {"source": "custom", "target": "dst"}],
    }


def cyclic(pid: str) -> dict[str, Any]:
    spec = good(pid)
    spec["edges"].append({"source": "keep", "target": "src"})
    return spec


def write(folder: Path, spec: dict[str, Any] | str, pid: str | None = None) -> None:
    name = pid or (spec["id"] if isinstance(spec, dict) else "")
    (folder / f"{name}.json").write_text(spec if isinstance(spec, str) else json.dumps(spec), "utf-8")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A dags folder holding the shipped loader, an empty pipelines folder and a report path, configured.

    Airflow configures logging when first imported; importing it here, before the test runs, keeps the
    handler behind ``caplog`` in place whatever order the tests run in.
    """
    from airflow.dag_processing.dagbag import DagBag  # noqa: F401

    dags, pipelines = tmp_path / "dags", tmp_path / "pipelines"
    dags.mkdir()
    pipelines.mkdir()
    shutil.copyfile(LOADER, dags / FILE)
    report = tmp_path / "report.json"
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PIPELINES_PATH", str(pipelines))
    monkeypatch.setenv("AIRFLOW__LOGIDATA__REPORT_PATH", str(report))
    monkeypatch.delenv(CONTEXT_DAG_ID, raising=False)
    return {"dags": dags, "pipelines": pipelines, "report": report}


def parse(dags: Path) -> Any:
    """What the DAG processor does to the file: a fresh bundle DagBag over it (without syncing to the DB)."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(dags), bundle_path=dags, bundle_name="dags-folder", load_op_links=False)


def test_each_refused_pipeline_is_one_import_error_and_the_good_dags_stay(store: dict[str, Path]) -> None:
    pipelines = store["pipelines"]
    write(pipelines, good("fine"))
    write(pipelines, elt_refused("elt_join"))
    write(pipelines, cyclic("loops"))
    write(pipelines, '{"id": "broken", ', "broken")
    write(pipelines, {**good("sketch"), "status": "draft"})

    bag = parse(store["dags"])

    assert bag.dag_ids == ["fine"]
    assert bag.dags["fine"].fileloc == str(store["dags"] / FILE)
    # One key per refused pipeline; none for the DAG file itself, which would mark "fine" stale.
    assert sorted(bag.import_errors) == [f"{FILE}/broken", f"{FILE}/elt_join", f"{FILE}/loops"]
    text = bag.import_errors[f"{FILE}/elt_join"]
    assert text.startswith("LogiData pipeline 'elt_join' did not become a DAG")
    assert str(pipelines / "elt_join.json") in text
    assert ELT_REASON in text
    assert "cycle: " in bag.import_errors[f"{FILE}/loops"]
    assert "invalid JSON" in bag.import_errors[f"{FILE}/broken"]
    # The same plain reasons as the factory report on disk.
    report = {p["id"]: p for p in read_report(store["report"])["pipelines"]}
    entry = PipelineReport("elt_join", "", "error", report["elt_join"]["errors"])
    for reason in entry.reasons():
        assert f"  - {reason}" in text
    assert report["sketch"]["status"] == "draft"  # a draft is no error


def test_a_fixed_pipeline_has_no_error_on_the_next_parse(store: dict[str, Path]) -> None:
    pipelines = store["pipelines"]
    write(pipelines, good("fine"))
    write(pipelines, elt_refused("later_fixed"))
    bag = parse(store["dags"])
    assert list(bag.import_errors) == [f"{FILE}/later_fixed"]

    write(pipelines, good("later_fixed"))
    assert parse(store["dags"]).import_errors == {}
    assert sorted(parse(store["dags"]).dag_ids) == ["fine", "later_fixed"]
    # A DagBag that parses the file again (DagBag.get_dag) drops the old entry too.
    bag.process_file(str(store["dags"] / FILE), only_if_updated=False)
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["fine", "later_fixed"]


def test_a_task_parse_builds_only_its_dag_and_says_nothing_of_others(
    store: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pipelines = store["pipelines"]
    write(pipelines, good("fine"))
    write(pipelines, good("other"))
    write(pipelines, elt_refused("elt_join"))
    write(pipelines, cyclic("loops"))
    monkeypatch.setenv(CONTEXT_DAG_ID, "fine")
    assert parse_target() == "fine"

    with caplog.at_level(logging.DEBUG), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        bag = parse(store["dags"])
        # Control: the loader's log is still captured after the parse, so silence below means silence.
        logging.getLogger("airflow_provider_logidata.dag_factory.loader").error("control line")

    assert bag.dag_ids == ["fine"]
    assert bag.import_errors == {}
    said = [r.getMessage() for r in caplog.records] + [str(w.message) for w in seen]
    assert "control line" in said
    for other in ("elt_join", "loops", "other"):
        assert not [line for line in said if other in line], other
    # A partial report never replaces the DAG processor's full one.
    assert not store["report"].exists()


def test_a_task_parse_of_a_refused_pipeline_names_only_that_one(
    store: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pipelines = store["pipelines"]
    write(pipelines, elt_refused("elt_join"))
    write(pipelines, cyclic("loops"))
    monkeypatch.setenv(CONTEXT_DAG_ID, "elt_join")

    with caplog.at_level(logging.ERROR), warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        bag = parse(store["dags"])

    assert bag.dag_ids == []
    assert list(bag.import_errors) == [f"{FILE}/elt_join"]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("elt_join" in line and ELT_REASON in line for line in errors)
    assert not [line for line in errors if "loops" in line]


def test_without_airflow_parsing_nothing_is_reported_and_nothing_breaks(store: dict[str, Path]) -> None:
    from airflow_provider_logidata.dag_factory import load_pipelines

    write(store["pipelines"], elt_refused("elt_join"))
    entry = PipelineReport("elt_join", "/p/elt_join.json", "error", [{"path": "id", "message": "bad"}])
    assert report_refused("/dags/logidata_pipelines.py", [entry]) is False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the skipped pipeline's warning (logged as well)
        report = load_pipelines({"__file__": str(store["dags"] / FILE)})
    assert [p.id for p in report.failed] == ["elt_join"]


def test_keys_follow_airflow_relative_paths(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    assert file_key(str(bundle / "team" / FILE), bundle) == f"team/{FILE}"
    assert file_key(str(tmp_path / FILE), bundle) == str(tmp_path / FILE)  # outside: kept absolute
    assert file_key("/dags/x.py", None) == "/dags/x.py"
    assert import_error_key(f"team/{FILE}", "orders") == f"team/{FILE}/orders"
