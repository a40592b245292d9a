"""DAG factory: shapes of generated DAGs, isolation of broken pipelines, the report, import weight."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.dag_factory import build_dag, load_pipelines, read_report
from airflow_provider_logidata.spec import validate_pipeline

REPO = Path(__file__).resolve().parents[3]
LOADER = REPO / "dags" / "logidata_pipelines.py"


def pipeline(pid: str, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "id": pid,
        "name": f"Pipeline {pid}",
        "description": "Loads orders.\n\nSecond paragraph.",
        "owner": "data-team",
        "tags": ["orders"],
        "schedule": "0 6 * * *",
        "start_date": "2024-01-01",
        "catchup": False,
        "retries": 2,
        "retry_delay": 30,
        "params": {"region": "eu"},
        "nodes": [
            {"id": "src", "module": "source.file", "label": "Read", "config": {"path": "/d/a.csv"}},
            {"id": "clean", "module": "clean_text", "config": {}},
            {"id": "dedupe", "module": "deduplicate", "config": {}},
            {"id": "only_eu", "module": "filter_rows", "config": {"condition": "region = 'eu'"}},
            {"id": "dst", "module": "destination.file", "config": {"path": "/d/out.parquet"}},
        ],
        "edges": [
            {"source": "src", "target": "clean"},
            {"source": "clean", "target": "dedupe"},
            {"source": "clean", "target": "only_eu"},
            {"source": "only_eu", "target": "dst"},
        ],
    }
    # dedupe has no consumer: allowed for transforms (only sources must be consumed).
    spec.update(overrides)
    return spec


def write(folder: Path, name: str, data: Any) -> Path:
    path = folder / f"{name}.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_dag_shape() -> None:
    result = validate_pipeline(pipeline("shape"))
    assert result.ok and result.pipeline is not None, result.issues
    dag = build_dag(result.pipeline, fileloc="/dags/loader.py")
    assert dag.dag_id == "shape"
    assert dag.fileloc == "/dags/loader.py"
    assert set(dag.task_ids) == {"src", "clean", "dedupe", "only_eu", "dst"}
    assert dag.get_task("clean").upstream_task_ids == {"src"}
    assert dag.get_task("clean").downstream_task_ids == {"dedupe", "only_eu"}
    assert dag.get_task("dst").upstream_task_ids == {"only_eu"}
    assert dag.get_task("src").task_display_name == "Read"
    assert dag.get_task("dst").inputs == ["only_eu"]
    assert dag.schedule == "0 6 * * *"
    assert type(dag.timetable).__name__ == "CronTriggerTimetable"
    assert dag.start_date == dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    assert dag.catchup is False
    assert dag.default_args["owner"] == "data-team"
    assert dag.default_args["retries"] == 2
    assert dag.default_args["retry_delay"] == dt.timedelta(seconds=30)
    assert dag.get_task("src").retries == 2
    assert set(dag.tags) == {"logidata", "orders"}
    assert dag.dag_display_name == "Pipeline shape"
    assert dag.description == "Loads orders."
    assert dag.doc_md is not None and "/dags/shape/plugin/logidata-pipeline" in dag.doc_md
    assert dag.params["region"] == "eu"
    assert dag.on_success_callback is not None and dag.on_failure_callback is not None


def test_manual_and_preset_schedules() -> None:
    for schedule, timetable in (
        (None, "NullTimetable"),
        ("@daily", "CronTriggerTimetable"),
        ("@once", "OnceTimetable"),
    ):
        result = validate_pipeline(pipeline("sched", schedule=schedule))
        assert result.pipeline is not None
        dag = build_dag(result.pipeline)
        assert dag.schedule == schedule
        assert type(dag.timetable).__name__ == timetable


def test_isolation_and_report(pipelines_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(pipelines_dir, "good_a", pipeline("good_a"))
    write(pipelines_dir, "good_b", pipeline("good_b", schedule=None))
    write(pipelines_dir, "bad_json", '{"id": "bad_json", "nodes": [}')
    bad = pipeline("bad_spec")
    bad["nodes"][2]["module"] = "dedup"
    write(pipelines_dir, "bad_spec", bad)
    write(pipelines_dir, "wrong_name", pipeline("other_id"))
    write(pipelines_dir, "draft_one", pipeline("draft_one", status="draft", nodes=[]))
    cyclic = pipeline("cyclic")
    cyclic["edges"].append({"source": "dedupe", "target": "clean"})
    write(pipelines_dir, "cyclic", cyclic)
    (pipelines_dir / "notes.txt").write_text("not a pipeline")

    report_path = tmp_path / "report.json"
    namespace: dict[str, Any] = {"__file__": "/dags/loader.py"}
    with caplog.at_level(logging.ERROR), pytest.warns(UserWarning):
        report = load_pipelines(namespace, pipelines_path=str(pipelines_dir), report_path=str(report_path))

    dags = {k: v for k, v in namespace.items() if k.startswith("logidata_dag__")}
    assert sorted(d.dag_id for d in dags.values()) == ["good_a", "good_b"]
    assert sorted(report.loaded) == ["good_a", "good_b"]
    statuses = {p.id: p.status for p in report.pipelines}
    assert statuses == {
        "bad_json": "error",
        "bad_spec": "error",
        "cyclic": "error",
        "draft_one": "draft",
        "good_a": "loaded",
        "good_b": "loaded",
        "wrong_name": "error",
    }
    on_disk = read_report(report_path)
    assert on_disk["counts"] == {"loaded": 2, "draft": 1, "error": 4}
    errors = {p["id"]: p["errors"] for p in on_disk["pipelines"]}
    assert "invalid JSON" in errors["bad_json"][0]["message"] and "line 1" in errors["bad_json"][0]["message"]
    assert errors["bad_spec"][0]["path"] == "nodes[2].module"
    assert "deduplicate" in errors["bad_spec"][0]["allowed"]
    assert errors["wrong_name"][0]["path"] == "id"
    assert any("cycle: clean -> dedupe -> clean" in e["message"] for e in errors["cyclic"])
    # The log line names pipeline, file, JSON path and reason.
    line = next(r.getMessage() for r in caplog.records if "bad_spec" in r.getMessage())
    assert "logidata: pipeline bad_spec (" in line and "bad_spec.json" in line
    assert "nodes[2].module: unknown module (found 'dedup')" in line


def test_builder_crash_is_isolated(
    pipelines_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_logidata.dag_factory import loader

    real_build = loader.build_dag

    def flaky_build(p: Any, **kwargs: Any) -> Any:
        if p.id == "explodes":
            raise RuntimeError("boom")
        return real_build(p, **kwargs)

    monkeypatch.setattr(loader, "build_dag", flaky_build)
    write(pipelines_dir, "explodes", pipeline("explodes"))
    write(pipelines_dir, "fine", pipeline("fine"))
    namespace: dict[str, Any] = {}
    report = load_pipelines(
        namespace, pipelines_path=str(pipelines_dir), report_path=str(tmp_path / "r.json")
    )
    assert report.loaded == ["fine"]
    assert "RuntimeError: boom" in report.failed[0].errors[0]["message"]


def test_report_not_rewritten_when_unchanged(pipelines_dir: Path, tmp_path: Path) -> None:
    write(pipelines_dir, "steady", pipeline("steady"))
    report_path = tmp_path / "r.json"
    load_pipelines({}, pipelines_path=str(pipelines_dir), report_path=str(report_path))
    first = report_path.stat().st_mtime_ns
    os.utime(report_path, ns=(first - 10**9, first - 10**9))
    load_pipelines({}, pipelines_path=str(pipelines_dir), report_path=str(report_path))
    assert report_path.stat().st_mtime_ns == first - 10**9


def test_dagbag_parses_loader_without_heavy_imports(pipelines_dir: Path, tmp_path: Path) -> None:
    """A fresh process, like the DAG processor: real DagBag over the real loader file."""
    write(pipelines_dir, "bag_a", pipeline("bag_a"))
    write(pipelines_dir, "bag_b", pipeline("bag_b"))
    write(pipelines_dir, "bag_broken", "{")
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / LOADER.name).write_text(LOADER.read_text())
    script = f"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
before = set(sys.modules)
bag = DagBag(dag_folder={str(dags)!r})
heavy = sorted(m for m in set(sys.modules) - before
               if m.split('.')[0] in ('pandas', 'duckdb', 'pyarrow', 'boto3', 'botocore', 's3fs', 'numpy'))
print(json.dumps({{"dags": sorted(bag.dag_ids), "errors": bag.import_errors, "heavy": heavy,
                  "filelocs": sorted({{d.fileloc for d in bag.dags.values()}})}}))
"""
    env = {
        **os.environ,
        "AIRFLOW__LOGIDATA__PIPELINES_PATH": str(pipelines_dir),
        "AIRFLOW__LOGIDATA__REPORT_PATH": str(tmp_path / "r.json"),
    }
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["dags"] == ["bag_a", "bag_b"]
    # The broken pipeline is an import error of its own (dag_factory.airflow_errors), never the loader's.
    assert list(result["errors"]) == [f"{dags / LOADER.name}/bag_broken"]
    assert result["heavy"] == []
    assert result["filelocs"] == [str(dags / LOADER.name)]
    assert read_report(tmp_path / "r.json")["counts"]["error"] == 1


def test_unreadable_store_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(Exception):  # noqa: B017 - any error: the loader must fail loudly, not publish nothing
        load_pipelines({}, pipelines_path=str(blocker / "sub"), report_path=str(tmp_path / "r.json"))
