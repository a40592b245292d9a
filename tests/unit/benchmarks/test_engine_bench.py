"""The engine benchmark's scheduler-run and memory-limit plumbing (``benchmarks/engine_bench.py``), without
running the benchmark: the DAGs folder of the scheduler runs, the bounded peer's DuckDB settings, the
verdicts and the command-line flags."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import engine_bench  # noqa: E402  (benchmarks/ is not a package)
import engine_task  # noqa: E402


def test_scheduler_folder_holds_every_contender_side_by_side(tmp_path: Path) -> None:
    keys = ["dag-fused", "dag-unfused", "dag-paths", "dag-peer", "dag-peer-bounded"]
    dags, pipelines, ids = engine_bench.scheduler_folder(
        tmp_path, 1000, "/data/orders.csv", "/data/warmup.csv", keys
    )
    assert (dags / engine_bench.LOADER_FILE.name).is_file()
    every_id = [i for key in keys for i in ids[key][:2]]
    assert len(set(every_id)) == len(every_id) == 2 * len(keys)
    assert len({ids[key][2] for key in keys}) == len(keys)  # each writes its own output
    stored = {path.stem: json.loads(path.read_text()) for path in pipelines.glob("*.json")}
    for key in ("dag-fused", "dag-unfused", "dag-paths"):
        dag_id, warmup_id, out = ids[key]
        assert stored[dag_id]["fuse"] == engine_bench.DAG_KINDS[key]
        assert stored[dag_id]["nodes"][-1]["config"]["path"] == out
        assert stored[warmup_id]["nodes"][0]["config"]["path"] == "/data/warmup.csv"
    assert len(stored) == 6
    plain = (dags / engine_bench.peer_dag_file_name("peer")).read_text()
    bounded = (dags / engine_bench.peer_dag_file_name("peer_bounded")).read_text()
    assert "BOUNDED = False" in plain and ids["dag-peer"][0] in plain
    assert "BOUNDED = True" in bounded and ids["dag-peer-bounded"][0] in bounded


def test_dag_test_folder_keeps_one_contender(tmp_path: Path) -> None:
    for folder in ("dags", "pipelines", "out"):
        (tmp_path / folder).mkdir()
    engine_bench.write_pipelines(tmp_path, 1000, "/a.csv", "/w.csv", kind="peer_bounded", run=0)
    engine_bench.write_pipelines(tmp_path, 1000, "/a.csv", "/w.csv", kind="paths", run=0)
    assert not list((tmp_path / "dags").glob("engine_bench_peer*.py"))
    assert sorted(p.stem for p in (tmp_path / "pipelines").glob("*.json")) == sorted(
        engine_bench.dag_ids(1000, "paths")
    )


def test_bounded_peer_connects_with_the_memory_limit_and_a_temp_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bounded peer asks LogiData's settings in its own process: what LogiData's engine would use."""
    monkeypatch.setenv("AIRFLOW__LOGIDATA__DUCKDB_MEMORY_LIMIT", "512MB")
    cases = {"peer_a": ("/a.csv", "/a.parquet")}
    bounded = tmp_path / "bounded.py"
    bounded.write_text(engine_task.peer_dag_file(cases, bounded=True))
    plain = tmp_path / "plain.py"
    plain.write_text(engine_task.peer_dag_file(cases))
    run_bounded = runpy.run_path(str(bounded))["clean_orders"]
    run_plain = runpy.run_path(str(plain))["clean_orders"]
    assert run_bounded("SELECT current_setting('memory_limit')") == "488.2 MiB"  # 512 MB
    assert run_plain("SELECT current_setting('memory_limit')") != "488.2 MiB"
    temp = run_bounded("SELECT current_setting('temp_directory')")
    assert Path(temp).name.startswith("peer-duckdb-") and not Path(temp).exists()  # removed after the run
    # The measured statement runs as is.
    csv = tmp_path / "orders.csv"
    import engine_data

    engine_data.write_messy_csv(csv, 500)
    out = tmp_path / "out.parquet"
    assert run_bounded(engine_task.duckdb_sql(str(csv), str(out))) > 0
    assert out.is_file()


def _contender(key: str, walls: list[float], check: str = "same") -> engine_bench.Contender:
    c = engine_bench.Contender(key, 5_000_000, check=check)
    c.runs = [{"wall_s": w, "tasks_s": w - 1.0, "first_start_s": 0.5, "tasks": []} for w in walls]
    return c


@pytest.mark.parametrize(("paths_s", "verdict", "ok"), [(10.9, "PASS", True), (11.2, "FAIL", False)])
def test_scheduler_target_is_judged_against_the_plain_peer(paths_s: float, verdict: str, ok: bool) -> None:
    sched = {
        "dag-paths": _contender("dag-paths", [paths_s]),
        "dag-fused": _contender("dag-fused", [12.0]),
        "dag-peer": _contender("dag-peer", [10.0]),
        "dag-peer-bounded": _contender("dag-peer-bounded", [11.5]),
    }
    lines, passed = engine_bench.scheduler_evaluate(sched)
    assert passed is ok
    target = next(line for line in lines if "<= 1.1x the plain peer" in line)
    assert target.endswith(f"-> {verdict} (task durations alone: {paths_s - 1:.2f} s / 9.00 s = "
                           f"{(paths_s - 1) / 9:.2f}x)")  # fmt: skip
    info = next(line for line in lines if "same memory limit" in line)
    assert "(information: same memory limit)" in info and "PASS" not in info and "FAIL" not in info
    assert any("fuse_chains (3 tasks)" in line and "1.20x" in line for line in lines)
    assert any("every output equals DuckDB's" in line for line in lines)
    table = engine_bench.scheduler_table(sched, [])
    assert len(table) == 2 + len(sched)


def test_scheduler_outputs_that_differ_fail() -> None:
    sched = {
        "dag-paths": _contender("dag-paths", [10.0], check="DIFFERS"),
        "dag-peer": _contender("dag-peer", [10.0]),
    }
    lines, passed = engine_bench.scheduler_evaluate(sched)
    assert not passed
    assert any("outputs differ" in line and line.endswith("FAIL") for line in lines)


def test_flags_reach_run(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run(**kwargs: Any) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(engine_bench, "run", fake_run)
    assert engine_bench.main(["--no-output", "--scheduler-repeats", "2", "--duckdb-memory-limit", "1GB"]) == 0
    assert seen["scheduler"] is True and seen["scheduler_repeats"] == 2
    assert seen["duckdb_memory_limit"] == "1GB"
    assert "dag-peer-bounded" in seen["contenders"]
    engine_bench.main(["--no-output", "--no-scheduler"])
    assert seen["scheduler"] is False and seen["scheduler_repeats"] is None
    assert seen["duckdb_memory_limit"] is None


def test_default_memory_limit_is_logidatas() -> None:
    from airflow_provider_logidata import settings

    assert engine_bench.default_memory_limit() == settings._DEFAULTS["duckdb_memory_limit"]
