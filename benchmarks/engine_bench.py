"""Engine benchmarks: the cleaning chain of ``engine_data.py`` run by LogiData and by its peers, and a
PostgreSQL load, printed as one table (every figure measured in this run) and written to
``benchmarks/results/engine.md``. Run through ``run.py`` (``make bench``), or on its own:

    .venv/bin/python benchmarks/engine_bench.py --only engine --rows 1000000 --big-rows 0

Every measurement is a fresh interpreter (``engine_task.py``); imports are timed apart and excluded.
Contenders, interleaved per repeat so drift on the machine affects all alike:

- pandas (read_csv, drop_duplicates, str.strip/replace/lower, to_datetime, fillna, to_parquet);
- DuckDB SQL by hand: one ``COPY (SELECT ...) TO parquet`` (DuckDB's defaults: all cores, 80 % of RAM);
- LogiData engine, fused: ``run_source`` -> ``run_chain`` (4 steps) -> ``run_destination``, one process
  per task as Airflow runs them; wall time is the sum of the three tasks;
- LogiData full DAG run: ``dag.test()`` of the pipeline built by the real DAG factory from JSON, with
  ``fuse_chains`` (3 tasks), ``fuse: paths`` (1 task: source, chain and destination in one) and without
  (6 tasks), in a temporary AIRFLOW_HOME with a migrated SQLite DB;
- the like-for-like peer of those DAG runs: ``dag.test()`` of a plain Airflow DAG whose one PythonOperator
  runs the DuckDB SQL by hand (the statement above), with DuckDB's defaults (``dag-peer``), and the same DAG
  with its DuckDB connection given LogiData's ``memory_limit`` (the same ``[logidata] duckdb_memory_limit``
  value) and a ``temp_directory`` (``dag-peer-bounded``: a narrower, equal-memory figure).
  Excluded: DB migration, Airflow import and the first ``dag.test()`` of the process (a warm-up run of a
  tiny pipeline; reported separately);
- scheduler runs of the same DAG contenders (``scheduler_runs.py``), after their ``dag.test()`` runs and in
  the same bench run: their DAGs side by side in one DAGs folder of a loopback Airflow (``tests/stack.py``:
  api-server on 127.0.0.1, dag-processor, scheduler with LocalExecutor, SQLite), each run triggered through
  the REST API and polled to its end: trigger to success (what the issue's target names), the task
  instances' durations, trigger to the first task's start; one run of every contender's 2 k-row DAG first
  (excluded), ``--scheduler-repeats`` runs each (default ``--repeats``), interleaved; every output checked;
  ``--no-scheduler`` skips them. Target: fuse paths within 1.1x of the plain peer from trigger to success;
- PostgreSQL load (``load`` section): ``psql \\copy`` of the CSV (the limit) and LogiData's
  ``destination.postgres`` writing the source task's staged Parquet of the same data, when that module
  exists; the two tasks together (``source.file`` staging the CSV + the load); and the fused path
  ``source.file -> destination.postgres`` (``fuse: paths``: one task, DuckDB's CSV reader streaming
  Arrow batches into the binary COPY, nothing staged). Both load into the test suite's throw-away server (``tests/pg.py``) with its bulk-load settings;
  binaries from ``$LOGIDATA_BENCH_PG_BIN``, else where the tests find them.

``--duckdb-memory-limit VALUE`` sets ``AIRFLOW__LOGIDATA__DUCKDB_MEMORY_LIMIT`` for the LogiData contenders
(the bench drops every ``AIRFLOW__*`` variable of the caller's environment); without it LogiData's default
applies (``auto``: half of the machine's memory over the worker's task slots, so ``airflow dags test`` with
Airflow's default ``[core] parallelism`` 32 and the scheduler stack with parallelism 2 differ). The bounded
peer asks LogiData's settings for the limit in its own task process, so it always uses LogiData's value.

    .venv/bin/python benchmarks/engine_bench.py --only engine --rows 200000 --big-rows 0 --repeats 1 \
        --contenders dag-paths,dag-peer,dag-peer-bounded --output /tmp/engine_small.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(REPO))  # for ``tests.pg``, the test suite's PostgreSQL server

import engine_data  # noqa: E402  (sibling module; benchmarks/ is not a package)

TASK_TIMEOUT_S = 3600
LOADER_FILE = REPO / "dags" / "logidata_pipelines.py"
PG_MODULE_FILES = (
    REPO / "airflow_provider_logidata" / "modules" / "destinations" / "postgres.py",
    REPO / "airflow_provider_logidata" / "engine" / "pg_load.py",  # destination.postgres's writer
)
PG_CONN_ID = "logidata_bench_pg"
PG_TABLE = "bench_orders"
PG_COLUMNS = (
    "id bigint, customer text, email text, city text, country text, category text, order_date text, "
    "amount double precision, quantity bigint, status text"
)
WARMUP_ROWS = 2_000
DEFAULT_MEMORY_LIMIT = "auto"  # [logidata] duckdb_memory_limit's default (read from settings in run())
MEMORY_LIMIT_ENV = "AIRFLOW__LOGIDATA__DUCKDB_MEMORY_LIMIT"

# Targets
CHAIN_VS_DUCKDB = 1.3
DAG_VS_DUCKDB = 2.0
PG_VS_COPY = 0.90
PG_FUSED_VS_COPY = 0.95  # the fused CSV -> PostgreSQL task (issue 14)
PATHS_VS_PEER = 1.1  # the fused cleaning pipeline's DAG run vs the plain DAG running DuckDB by hand
SCHED_PATHS_VS_PEER = 1.1  # the same, trigger to success under the real scheduler (the issue's target)
TASK_RSS_MB = 1024.0
BIG_RSS_GROWTH = 1.25
NOISY_SHARE = 0.20  # other processes' share of the CPU above which a measurement is flagged  # "about the same at the big size": at most 25 % above the small size

CONTENDERS = (
    "pandas",
    "duckdb",
    "logidata",
    "dag-fused",
    "dag-unfused",
    "dag-paths",
    "dag-peer",
    "dag-peer-bounded",
)
# At the big size only what the targets need (the peer and the engine's tasks), to bound `make bench`.
BIG_CONTENDERS = ("duckdb", "logidata")
LABELS = {
    "pandas": "pandas {pandas}",
    "duckdb": "DuckDB {duckdb} SQL by hand (peer)",
    "logidata": "LogiData engine, fused: 3 task processes",
    "dag-fused": "LogiData DAG run, fuse_chains (3 tasks)",
    "dag-unfused": "LogiData DAG run, one task per node (6 tasks)",
    "dag-paths": "LogiData DAG run, fuse paths (1 task)",
    "dag-peer": "Plain Airflow DAG, one PythonOperator running the DuckDB SQL by hand (peer)",
    "dag-peer-bounded": "The same peer DAG, its DuckDB given LogiData's memory_limit and a temp_directory "
    "(peer, same memory limit)",
    "psql": "PostgreSQL load: psql \\copy of the CSV (limit)",
    "ld-pg": "PostgreSQL load: LogiData destination.postgres",
    "ld-pg-both": "PostgreSQL load: LogiData source.file + destination.postgres (2 tasks)",
    "ld-pg-path": "PostgreSQL load: LogiData fused path source.file -> destination.postgres (1 task)",
}


def log(message: str) -> None:
    print(f"[engine {time.strftime('%H:%M:%S')}] {message}", flush=True)


def human_rows(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000} M"
    if rows % 1_000 == 0:
        return f"{rows // 1_000} k"
    return str(rows)


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def default_memory_limit() -> str:
    """``[logidata] duckdb_memory_limit``'s default, from LogiData's settings (import-free module)."""
    try:
        from airflow_provider_logidata import settings
    except ImportError:
        return DEFAULT_MEMORY_LIMIT
    return settings._DEFAULTS.get("duckdb_memory_limit") or DEFAULT_MEMORY_LIMIT


def auto_limits_note() -> str:
    """What ``duckdb_memory_limit = auto`` gives under ``airflow dags test`` (Airflow's default parallelism)
    and under the scheduler stack (its parallelism), on this machine."""
    try:
        from scheduler_runs import PARALLELISM

        from airflow_provider_logidata import settings
    except ImportError:
        return "unknown"
    total = settings.machine_memory()
    if total is None:
        return "320MB (memory size unknown)"

    def limit(slots: int) -> str:
        return (
            f"{max(settings.AUTO_MEMORY_FLOOR, int(total * settings.AUTO_MEMORY_SHARE / slots)) // 1024**2}MB"
        )

    return (
        f"{limit(32)} under `airflow dags test` ([core] parallelism 32, Airflow's default), "
        f"{limit(PARALLELISM)} under the scheduler stack (parallelism {PARALLELISM}); "
        f"{total / 1024**3:.1f} GiB of memory"
    )


def label(key: str) -> str:
    return LABELS[key].format(pandas=version("pandas"), duckdb=version("duckdb"))


# --- one measurement ---------------------------------------------------------------------------------


class TaskFailed(RuntimeError):
    pass


@dataclass
class Bench:
    root: Path
    env: dict[str, str]
    counter: int = 0

    def task(self, spec: dict[str, Any], *, env: dict[str, str] | None = None) -> dict[str, Any]:
        """Run ``engine_task.py`` on ``spec`` in a fresh interpreter; its result dict."""
        self.counter += 1
        base = self.root / "tasks" / f"{self.counter:03d}-{spec['kind']}"
        base.parent.mkdir(parents=True, exist_ok=True)
        spec_path, result_path, log_path = (
            base.with_suffix(s) for s in (".spec.json", ".result.json", ".log")
        )
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        busy_before, children_before, started = machine_busy_s(), children_cpu_s(), time.perf_counter()
        with log_path.open("wb") as out:
            proc = subprocess.run(
                [sys.executable, str(HERE / "engine_task.py"), str(spec_path), str(result_path)],
                env=env or self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=TASK_TIMEOUT_S,
                check=False,
            )
        if proc.returncode != 0 or not result_path.exists():
            tail = log_path.read_text(errors="replace")[-3000:]
            raise TaskFailed(f"{spec['kind']} exited with {proc.returncode}; log tail:\n{tail}")
        result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
        # CPU the rest of the machine used meanwhile (other processes), as a share of all cores: a noise flag.
        others = (machine_busy_s() - busy_before) - (children_cpu_s() - children_before)
        elapsed = time.perf_counter() - started
        result["other_cpu_share"] = max(0.0, others) / (elapsed * (os.cpu_count() or 1)) if elapsed else 0.0
        return result


def machine_busy_s() -> float:
    """Non-idle CPU seconds of the whole machine since boot (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def airflow_env(root: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AIRFLOW__") and not k.startswith("AIRFLOW_CONN")
    }
    home = root / "airflow_home"
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGIDATA__PIPELINES_PATH": str(root / "pipelines"),
            "AIRFLOW__LOGIDATA__STAGING_PATH": str(root / "staging"),
            "AIRFLOW__LOGIDATA__REPORT_PATH": str(root / "factory_report.json"),
            # The benchmark's data and outputs live under root (checked by the path policy).
            "AIRFLOW__LOGIDATA__ALLOWED_PATHS": str(root),
            "DO_NOT_TRACK": "1",
            "SCARF_NO_ANALYTICS": "true",
            "PYTHONWARNINGS": "ignore::DeprecationWarning",
        }
    )
    for folder in ("airflow_home", "dags", "pipelines", "staging", "out"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    return env


# --- results -----------------------------------------------------------------------------------------


@dataclass
class Contender:
    key: str
    rows: int
    runs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    note: str = ""
    check: str = ""  # output fingerprint check against the hand-written DuckDB output

    def median(self, key: str) -> float | None:
        values = [float(run[key]) for run in self.runs if run.get(key) is not None]
        return statistics.median(values) if values else None

    @property
    def wall_s(self) -> float | None:
        return self.median("wall_s")

    @property
    def other_load(self) -> float | None:
        """Median share of the machine's CPU used by other processes during this contender's runs."""
        values = [
            float(run["other_cpu_share"]) for run in self.runs if run.get("other_cpu_share") is not None
        ]
        return statistics.median(values) if values else None

    @property
    def peak_rss_mb(self) -> float | None:
        values = [float(run["peak_rss_mb"]) for run in self.runs if run.get("peak_rss_mb") is not None]
        return max(values) if values else None


# --- engine section ----------------------------------------------------------------------------------


def _stage_paths(root: Path, tag: str) -> dict[str, str]:
    base = root / "staging" / tag
    return {
        "source": str(base / "read_orders" / "part-00000.parquet"),
        "chain": str(base / "fill_missing" / "part-00000.parquet"),
        "out": str(root / "out" / f"{tag}.parquet"),
    }


def run_logidata_engine(bench: Bench, csv: str, tag: str, *, keep_source: bool = False) -> dict[str, Any]:
    """The three task functions, one fresh process each; a run dict with per-stage figures."""
    paths = _stage_paths(bench.root, tag)
    source = bench.task({"kind": "ld_source", "csv": csv, "out": paths["source"]})
    chain = bench.task(
        {"kind": "ld_chain", "handle": source["handle"], "out": paths["chain"], "trace_sql": True}
    )
    dest = bench.task({"kind": "ld_destination", "handle": chain["handle"], "out": paths["out"]})
    if not keep_source:
        shutil.rmtree(bench.root / "staging" / tag, ignore_errors=True)
    else:
        shutil.rmtree(Path(paths["chain"]).parent, ignore_errors=True)
    stages = {"source": source, "chain": chain, "destination": dest}
    return {
        "wall_s": sum(s["wall_s"] for s in stages.values()),
        "peak_rss_mb": max(s["peak_rss_mb"] for s in stages.values()),
        "stages": {
            name: {
                "wall_s": s["wall_s"],
                "peak_rss_mb": s["peak_rss_mb"],
                "import_s": s["import_s"],
                "rss_after_import_mb": s.get("rss_after_import_mb"),
            }
            for name, s in stages.items()
        },
        "other_cpu_share": max(s.get("other_cpu_share", 0.0) for s in stages.values()),
        "chain_log": chain.get("log", []),
        "chain_sql": chain.get("sql", []),
        "rows_out": dest["result"]["rows"],
        "out": paths["out"],
        "source_handle": source["handle"],
    }


# DAG-run contenders: the pipeline's fuse setting, or a peer (a plain Airflow DAG).
DAG_KINDS = {
    "dag-fused": "chains",
    "dag-unfused": "none",
    "dag-paths": "paths",
    "dag-peer": "peer",
    "dag-peer-bounded": "peer_bounded",
}
PEER_KINDS = ("peer", "peer_bounded")


def peer_dag_file_name(kind: str) -> str:
    return f"engine_bench_{kind}.py"


def dag_ids(rows: int, kind: str) -> tuple[str, str]:
    """The measured DAG's id and its warm-up copy's, distinct per contender (they share a DAGs folder in
    the scheduler runs)."""
    return f"engine_bench_{rows}_{kind}", f"engine_bench_warmup_{kind}"


def write_dag(dags: Path, pipelines: Path, kind: str, cases: dict[str, tuple[str, str]]) -> None:
    """``{dag_id: (csv, out)}`` as the contender ``kind`` defines them: LogiData pipelines in ``pipelines``
    (the loader in ``dags`` builds them), or a peer's DAG file in ``dags``."""
    if kind in PEER_KINDS:
        from engine_task import peer_dag_file

        text = peer_dag_file(cases, bounded=kind == "peer_bounded")
        (dags / peer_dag_file_name(kind)).write_text(text, encoding="utf-8")
        return
    for pid, (source, target) in cases.items():
        doc = engine_data.pipeline(pid, source, target, fuse=kind)
        (pipelines / f"{pid}.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")


def write_pipelines(
    root: Path, rows: int, csv: str, warmup_csv: str, *, kind: str, run: int
) -> tuple[str, str, str]:
    """The DAG run's pipeline and its warm-up copy (or the peer's DAG file) alone in the ``dag.test()``
    folders; their ids and the output."""
    folder = root / "pipelines"
    for old in folder.glob("*.json"):
        old.unlink()
    for peer in PEER_KINDS:
        (root / "dags" / peer_dag_file_name(peer)).unlink(missing_ok=True)
    dag_id, warmup_id = dag_ids(rows, kind)
    out = str(root / "out" / f"dag-{rows}-{kind}-{run}.parquet")
    cases = {dag_id: (csv, out), warmup_id: (warmup_csv, str(root / "out" / f"warmup-{kind}.parquet"))}
    write_dag(root / "dags", folder, kind, cases)
    return dag_id, warmup_id, out


def run_dag(bench: Bench, rows: int, csv: str, warmup_csv: str, *, kind: str, run: int) -> dict[str, Any]:
    dag_id, warmup_id, out = write_pipelines(bench.root, rows, csv, warmup_csv, kind=kind, run=run)
    spec = {
        "kind": "dag",
        "dag_id": dag_id,
        "warmup_dag_id": warmup_id,
        "loader": str(bench.root / "dags" / LOADER_FILE.name),
    }
    peer_file = bench.root / "dags" / peer_dag_file_name(kind)
    if kind in PEER_KINDS:
        spec["dag_file"] = str(peer_file)
    try:
        result = bench.task(spec)
    finally:
        peer_file.unlink(missing_ok=True)
    result["out"] = out
    return result


def measure_engine(
    bench: Bench,
    rows: int,
    csv: str,
    warmup_csv: str,
    repeats: int,
    contenders: list[str],
    references: dict[int, tuple[Any, ...]] | None = None,
) -> list[Contender]:
    """The contenders' runs at ``rows``, interleaved; outputs checked against the DuckDB output (its
    fingerprint goes to ``references[rows]``)."""
    results = {key: Contender(key, rows) for key in contenders}
    reference: tuple[Any, ...] | None = None
    for index in range(repeats):
        for key in contenders:
            item = results[key]
            if item.error is not None:
                continue
            tag = f"{key}-{rows}-{index}"
            started = time.perf_counter()
            try:
                if key == "pandas":
                    out = str(bench.root / "out" / f"{tag}.parquet")
                    run = bench.task({"kind": "pandas", "csv": csv, "out": out})
                    run["out"] = out
                elif key == "duckdb":
                    out = str(bench.root / "out" / f"{tag}.parquet")
                    run = bench.task({"kind": "duckdb", "csv": csv, "out": out})
                    run["out"] = out
                elif key == "logidata":
                    run = run_logidata_engine(bench, csv, tag)
                else:
                    run = run_dag(bench, rows, csv, warmup_csv, kind=DAG_KINDS[key], run=index)
            except (TaskFailed, subprocess.TimeoutExpired) as error:
                item.error = str(error)
                log(f"{label(key)} at {human_rows(rows)} rows FAILED: {str(error).splitlines()[0]}")
                continue
            if index == 0:
                try:
                    printed: tuple[Any, ...] | None = tuple(
                        bench.task({"kind": "fingerprint", "path": run["out"]})["fingerprint"]
                    )
                    if key == "duckdb":
                        reference = printed
                    run["fingerprint"] = printed
                except Exception as error:  # a broken output is reported, the bench goes on
                    run["fingerprint"] = ("error", str(error)[:200])
            Path(run["out"]).unlink(missing_ok=True)
            item.runs.append(run)
            extra = ""
            if key == "logidata":
                extra = (
                    " ("
                    + ", ".join(
                        f"{name} {s['wall_s']:.1f} s / {s['peak_rss_mb']:.0f} MB"
                        for name, s in run["stages"].items()
                    )
                    + ")"
                )
            elif key.startswith("dag"):
                extra = f" (warm-up dag.test {run['warmup_s']:.1f} s excluded)"
            log(
                f"{human_rows(rows)} rows, run {index + 1}/{repeats}: {label(key)}: {run['wall_s']:.2f} s, "
                f"peak RSS {run['peak_rss_mb']:.0f} MB{extra} [{time.perf_counter() - started:.0f} s with imports]"
            )
    if reference is None and any(item.runs for item in results.values()):
        reference = reference_fingerprint(bench, rows, csv)
    if references is not None and reference is not None:
        references[rows] = reference
    for item in results.values():
        if not item.runs:
            continue
        printed = item.runs[0].get("fingerprint")
        if reference is None:
            item.check = "?"
        elif printed == reference:
            item.check = "same"
        else:
            item.check = "DIFFERS"
            item.note = f"fingerprint {printed} vs DuckDB {reference}"
    return list(results.values())


def reference_fingerprint(bench: Bench, rows: int, csv: str) -> tuple[Any, ...] | None:
    """The DuckDB-by-hand output's fingerprint when ``duckdb`` is not a contender (one run, not timed)."""
    out = str(bench.root / "out" / f"reference-{rows}.parquet")
    try:
        bench.task({"kind": "duckdb", "csv": csv, "out": out})
        return tuple(bench.task({"kind": "fingerprint", "path": out})["fingerprint"])
    except (TaskFailed, subprocess.TimeoutExpired) as error:
        log(f"reference DuckDB run FAILED (outputs not checked): {str(error).splitlines()[0]}")
        return None
    finally:
        Path(out).unlink(missing_ok=True)


# --- scheduler runs (trigger to success) ------------------------------------------------------------

RUN_TIMEOUT_S = TASK_TIMEOUT_S


def scheduler_folder(
    root: Path, rows: int, csv: str, warmup_csv: str, keys: list[str]
) -> tuple[Path, Path, dict[str, tuple[str, str, str]]]:
    """The stack's own DAGs and pipelines folders: the loader, every selected contender's DAG and its
    warm-up's side by side (ids distinct per contender), each writing its own output. Also
    ``{key: (dag_id, warmup_id, out)}``."""
    dags, pipelines = root / "scheduler" / "dags", root / "scheduler" / "pipelines"
    dags.mkdir(parents=True, exist_ok=True)
    pipelines.mkdir(parents=True, exist_ok=True)
    if any(DAG_KINDS[key] not in PEER_KINDS for key in keys):
        shutil.copyfile(LOADER_FILE, dags / LOADER_FILE.name)
    ids: dict[str, tuple[str, str, str]] = {}
    for key in keys:
        kind = DAG_KINDS[key]
        dag_id, warmup_id = dag_ids(rows, kind)
        out = str(root / "out" / f"sched-{rows}-{kind}.parquet")
        warm_out = str(root / "out" / f"sched-warmup-{kind}.parquet")
        write_dag(dags, pipelines, kind, {dag_id: (csv, out), warmup_id: (warmup_csv, warm_out)})
        ids[key] = (dag_id, warmup_id, out)
    return dags, pipelines, ids


def measure_scheduler(
    bench: Bench,
    rows: int,
    csv: str,
    warmup_csv: str,
    keys: list[str],
    repeats: int,
    reference: tuple[Any, ...] | None,
) -> tuple[dict[str, Contender], dict[str, Any]]:
    """The DAG contenders as scheduler runs (trigger to success), one loopback stack for all of them."""
    import scheduler_runs  # a loopback Airflow stack (tests/stack.py), runs triggered through REST
    from elt_bench import SCHEDULER_ENV, session_cpu_s

    results = {key: Contender(key, rows) for key in keys}
    info: dict[str, Any] = {"warmups": {}}
    if not keys:
        return results, info
    root = bench.root
    dags, pipelines, ids = scheduler_folder(root, rows, csv, warmup_csv, keys)
    env = {k: v for k, v in bench.env.items() if k.startswith(("AIRFLOW__LOGIDATA__", "PYTHON"))}
    env.update(SCHEDULER_ENV)
    env["AIRFLOW__LOGIDATA__PIPELINES_PATH"] = str(pipelines)
    env["AIRFLOW__LOGIDATA__STAGING_PATH"] = str(root / "scheduler" / "staging")
    env["AIRFLOW__LOGIDATA__REPORT_PATH"] = str(root / "scheduler" / "factory_report.json")
    # A bytecode cache, as an ordinary install has one (this environment may set PYTHONDONTWRITEBYTECODE
    # over a venv without .pyc files: every task process would compile what it imports); filled by the
    # warm-up runs.
    env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    with scheduler_runs.SchedulerRuns(
        root / "scheduler", env, dags, unset=("PYTHONDONTWRITEBYTECODE",)
    ) as runs:
        info["started_s"] = runs.started_s
        # The note is elt's, whose CPUs are shared with a PostgreSQL server: none runs here.
        info["note"] = scheduler_runs.environment_note(runs).replace(" shared with the PostgreSQL server", "")
        log(f"scheduler stack up in {runs.started_s:.0f} s on {runs.stack.base_url}")
        info["parsed_s"] = runs.wait_for_dags([i for key in keys for i in ids[key][:2]])
        pids = [proc.pid for proc in runs.stack.processes.values()]
        # One run of every contender's 2 k-row copy first (excluded): bytecode cache, the DAG's first
        # serialisation, disk cache, as the dag.test warm-up.
        warm = {key: ids[key][1] for key in keys}
        info["warmups"] = scheduler_runs.warm_up(runs, warm, log, timeout_s=RUN_TIMEOUT_S)
        for index in range(repeats):
            for key in keys:
                item = results[key]
                if item.error is not None:
                    continue
                dag_id, _warm, out = ids[key]
                Path(out).unlink(missing_ok=True)
                busy, mine, own = machine_busy_s(), session_cpu_s(pids), sum(os.times()[:2])
                started = time.perf_counter()
                try:
                    run = runs.run(dag_id, timeout_s=RUN_TIMEOUT_S)
                except scheduler_runs.RunFailed as error:
                    item.error = str(error)
                    log(f"scheduler run of {label(key)} FAILED: {error}")
                    continue
                elapsed = time.perf_counter() - started
                stack_used = session_cpu_s(pids) - mine
                others = (machine_busy_s() - busy) - stack_used - (sum(os.times()[:2]) - own)
                run["other_cpu_share"] = max(0.0, others) / (elapsed * (os.cpu_count() or 1))
                run["airflow_cpu_s"] = stack_used
                try:
                    run["fingerprint"] = tuple(
                        bench.task({"kind": "fingerprint", "path": out})["fingerprint"]
                    )
                except Exception as error:  # a broken output is reported, the bench goes on
                    run["fingerprint"] = ("error", str(error).splitlines()[0][:200])
                Path(out).unlink(missing_ok=True)
                item.runs.append(run)
                log(
                    f"scheduler run {index + 1}/{repeats}: {label(key)}: trigger to success "
                    f"{run['wall_s']:.2f} s, tasks {_fmt(run['tasks_s'])} s, first task started after "
                    f"{_fmt(run['first_start_s'])} s, output {run['fingerprint'][0]} rows"
                )
    scheduler_runs.judge_outputs(results, reference, "DuckDB")
    return results, info


# --- load section ------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    rows: int
    psql: Contender
    logidata: Contender
    available: bool
    reason: str = ""
    config: dict[str, Any] | None = None
    both: Contender | None = None  # source.file staging the CSV + destination.postgres, 2 tasks
    fused: Contender | None = None  # the fused path, one task


def _pg_module_present() -> tuple[bool, str]:
    missing = [str(path.relative_to(REPO)) for path in PG_MODULE_FILES if not path.is_file()]
    if missing:
        return False, f"not available ({', '.join(missing)} missing)"
    return True, ""


def measure_load(
    bench: Bench, rows: int, csv: str, repeats: int, source_handle: dict[str, Any] | None
) -> LoadResult:
    from tests import pg as test_pg

    psql = Contender("psql", rows)
    ld = Contender("ld-pg", rows)
    both = Contender("ld-pg-both", rows)
    fused = Contender("ld-pg-path", rows)
    available, reason = _pg_module_present()
    result = LoadResult(rows, psql, ld, available, reason, both=both, fused=fused)
    try:
        server_cm = test_pg.start_server(
            bin_dir=os.environ.get("LOGIDATA_BENCH_PG_BIN"), settings=test_pg.BULK_LOAD_SETTINGS
        )
        server = server_cm.__enter__()
    except test_pg.PostgresUnavailable as error:
        psql.error = ld.error = f"PostgreSQL could not start: {error}"
        result.available = False
        result.reason = psql.error
        return result
    try:
        log(f"PostgreSQL {server.bin_dir.parent.name} started on 127.0.0.1:{server.port} (throw-away)")
        with server.connect(autocommit=True) as con:
            con.execute("CREATE DATABASE bench")
        env = {**bench.env, f"AIRFLOW_CONN_{PG_CONN_ID.upper()}": server.airflow_conn("bench")}
        config: dict[str, Any] | None = None
        precreate = True
        if available:
            try:
                info = bench.task({"kind": "ld_pg_config", "conn_id": PG_CONN_ID, "table": PG_TABLE}, env=env)
                config, precreate = info["config"], info["precreate"]
                result.config = config
            except TaskFailed as error:
                available = False
                result.available = False
                result.reason = "not available (no usable config for destination.postgres: " + (
                    str(error).strip().splitlines()[-1][:300] + ")"
                )
        if available and source_handle is None:
            log("staging the CSV with source.file for destination.postgres")
            staged = bench.task(
                {
                    "kind": "ld_source",
                    "csv": csv,
                    "out": str(bench.root / "staging" / "pg-load" / "part-00000.parquet"),
                },
                env=env,
            )
            source_handle = staged["handle"]

        def reset(create: bool) -> None:
            with server.connect("bench", autocommit=True) as con:
                con.execute(f"DROP TABLE IF EXISTS {PG_TABLE}")
                if create:
                    con.execute(f"CREATE TABLE {PG_TABLE} ({PG_COLUMNS})")
                con.execute("CHECKPOINT")

        def count() -> int:
            with server.connect("bench") as con:
                row = con.execute(f"SELECT count(*) FROM {PG_TABLE}").fetchone()
            return int(row[0]) if row else -1

        for index in range(repeats):
            reset(create=True)
            command = [
                *server.psql_args("bench"),
                "-c",
                f"\\copy {PG_TABLE} FROM '{csv}' WITH (FORMAT csv, HEADER true)",
            ]
            started = time.perf_counter()
            proc = subprocess.run(
                command, env=server.psql_env(), capture_output=True, text=True, timeout=TASK_TIMEOUT_S
            )
            wall = time.perf_counter() - started
            if proc.returncode != 0:
                psql.error = f"psql failed: {proc.stderr[-500:]}"
                break
            loaded = count()
            psql.runs.append({"wall_s": wall, "rows": loaded})
            log(f"load {human_rows(rows)} rows, run {index + 1}/{repeats}: psql \\copy {wall:.2f} s, "
                f"{loaded / wall:,.0f} rows/s")  # fmt: skip
            if not available or ld.error:
                continue
            reset(create=precreate)
            try:
                run = bench.task({"kind": "ld_pg_load", "config": config, "handle": source_handle}, env=env)
            except (TaskFailed, subprocess.TimeoutExpired) as error:
                ld.error = str(error)
                log(f"LogiData destination.postgres FAILED: {str(error).splitlines()[0]}")
                continue
            run["rows"] = count()
            ld.runs.append(run)
            log(f"load {human_rows(rows)} rows, run {index + 1}/{repeats}: LogiData destination.postgres "
                f"{run['wall_s']:.2f} s, {run['rows'] / run['wall_s']:,.0f} rows/s, peak RSS {run['peak_rss_mb']:.0f} MB")  # fmt: skip
            # The same load as a DAG runs it unfused: the source task staging the CSV, then the load.
            try:
                staged = bench.task(
                    {
                        "kind": "ld_source",
                        "csv": csv,
                        "out": str(bench.root / "staging" / "pg-both" / "part-00000.parquet"),
                    },
                    env=env,
                )
                shutil.rmtree(bench.root / "staging" / "pg-both", ignore_errors=True)
                both.runs.append(
                    {
                        "wall_s": staged["wall_s"] + run["wall_s"],
                        "rows": run["rows"],
                        "peak_rss_mb": max(staged["peak_rss_mb"], run["peak_rss_mb"]),
                        "source_s": staged["wall_s"],
                    }
                )
            except (TaskFailed, subprocess.TimeoutExpired) as error:
                both.error = str(error)
            reset(create=precreate)
            try:
                path_run = bench.task({"kind": "ld_pg_path", "config": config, "csv": csv}, env=env)
            except (TaskFailed, subprocess.TimeoutExpired) as error:
                fused.error = str(error)
                log(f"LogiData fused path FAILED: {str(error).splitlines()[0]}")
                continue
            path_run["rows"] = count()
            fused.runs.append(path_run)
            log(f"load {human_rows(rows)} rows, run {index + 1}/{repeats}: LogiData fused path source.file -> "
                f"destination.postgres {path_run['wall_s']:.2f} s, {path_run['rows'] / path_run['wall_s']:,.0f} rows/s, "
                f"peak RSS {path_run['peak_rss_mb']:.0f} MB")  # fmt: skip
        if psql.runs and ld.runs and any(r["rows"] != rows for r in [*psql.runs, *ld.runs]):
            ld.note = "row counts differ from the CSV: " + ", ".join(
                str(r["rows"]) for r in [*psql.runs, *ld.runs]
            )
    finally:
        server_cm.__exit__(None, None, None)
        log("PostgreSQL stopped and removed")
    return result


# --- profile of the chain ----------------------------------------------------------------------------


def profile_chain(bench: Bench, source_handle: dict[str, Any], chain_run: dict[str, Any]) -> list[str]:
    """Replay the chain's SQL with timings, to say where a fused chain's time goes."""
    try:
        result = bench.task(
            {
                "kind": "ld_chain_profile",
                "handle": source_handle,
                "sql": chain_run.get("chain_sql", []),
                "out": str(bench.root / "out" / "profile.parquet"),
            }
        )
    except (TaskFailed, subprocess.TimeoutExpired) as error:
        return [f"- profile run failed: {str(error).splitlines()[0]}"]
    return [f"- {line}" for line in result["lines"]]


# --- report ------------------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def _spread(c: Contender) -> str:
    walls = [float(run["wall_s"]) for run in c.runs if run.get("wall_s") is not None]
    return f"{min(walls):.1f}-{max(walls):.1f}" if len(walls) > 1 else "-"


def _load(c: Contender) -> str:
    share = c.other_load
    return "-" if share is None else f"{share:.0%}"


def table(engine: list[Contender], load: list[LoadResult]) -> list[str]:
    lines = [
        "| rows | contender | runs | wall s (median) | min-max s | vs DuckDB by hand | input rows/s | "
        "peak RSS MB (max per process) | other CPU load | output |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    duck = {c.rows: c.wall_s for c in engine if c.key == "duckdb" and c.wall_s}
    for c in engine:
        rows = human_rows(c.rows)
        if c.error is not None:
            error = c.error.splitlines()[0][:80]
            lines.append(f"| {rows} | {label(c.key)} | {len(c.runs)} | error | - | - | - | - | - | {error} |")
            continue
        wall = c.wall_s
        ref = duck.get(c.rows)
        ratio = f"{wall / ref:.2f}x" if wall and ref else "-"
        rate = f"{c.rows / wall:,.0f}" if wall else "-"
        rss = _fmt(c.peak_rss_mb, ".0f")
        if c.key.startswith("dag"):
            rss += " (all tasks in one process)"
        lines.append(
            f"| {rows} | {label(c.key)} | {len(c.runs)} | {_fmt(wall)} | {_spread(c)} | {ratio} | {rate} | {rss} | "
            f"{_load(c)} | {c.check} |"
        )
    for res in load:
        for c in (res.psql, res.logidata, *(x for x in (res.both, res.fused) if x is not None)):
            rows = human_rows(c.rows)
            if c.key.startswith("ld-pg") and not res.available:
                lines.append(f"| {rows} | {label(c.key)} | 0 | {res.reason} | - | - | - | - | - | - |")
                continue
            if c.error is not None:
                error = c.error.splitlines()[0][:80]
                lines.append(
                    f"| {rows} | {label(c.key)} | {len(c.runs)} | error | - | - | - | - | - | {error} |"
                )
                continue
            wall = c.wall_s
            rate = f"{c.rows / wall:,.0f}" if wall else "-"
            rss = _fmt(c.peak_rss_mb, ".0f") if c.key.startswith("ld-pg") else "- (psql client)"
            check = "rows ok" if c.runs and all(r.get("rows") == c.rows for r in c.runs) else "ROWS DIFFER"
            lines.append(
                f"| {rows} | {label(c.key)} | {len(c.runs)} | {_fmt(wall)} | {_spread(c)} | - | {rate} | {rss} | "
                f"n/a (server) | {check} |"
            )
    return lines


def breakdown(engine: list[Contender]) -> list[str]:
    lines = [
        "| rows | run | task | s (median) | peak RSS MB (max) | import s (excluded) |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for c in engine:
        if not c.runs:
            continue
        rows = human_rows(c.rows)
        if c.key == "logidata":
            for stage in ("source", "chain", "destination"):
                values = [r["stages"][stage] for r in c.runs]
                wall = statistics.median(v["wall_s"] for v in values)
                rss = max(v["peak_rss_mb"] for v in values)
                imp = statistics.median(v["import_s"] for v in values)
                lines.append(
                    f"| {rows} | engine, own process per task | {stage} | {wall:.2f} | {rss:.0f} | {imp:.1f} |"
                )
        elif c.key.startswith("dag"):
            task_ids = [t["task_id"] for t in c.runs[0]["tasks"]]
            for task_id in task_ids:
                secs = [
                    t["seconds"]
                    for r in c.runs
                    for t in r["tasks"]
                    if t["task_id"] == task_id and t["seconds"]
                ]
                rss = [
                    t["peak_rss_mb"]
                    for r in c.runs
                    for t in r["tasks"]
                    if t["task_id"] == task_id and t["peak_rss_mb"]
                ]
                lines.append(
                    f"| {rows} | {label(c.key)} | {task_id} | {_fmt(statistics.median(secs) if secs else None)} | "
                    f"{_fmt(max(rss) if rss else None, '.0f')} | - |"
                )
            task_sum = statistics.median(sum(t["seconds"] or 0 for t in r["tasks"]) for r in c.runs)
            lines.append(
                f"| {rows} | {label(c.key)} | (dag.test wall minus task time: scheduling loop, XCom, "
                f"parse, callbacks) | {(c.wall_s or 0.0) - task_sum:.2f} | - | "
                f"{statistics.median(r['import_s'] for r in c.runs):.1f} + warm-up "
                f"{statistics.median(r['warmup_s'] for r in c.runs):.1f} |"
            )
        else:
            imp = c.median("import_s")
            lines.append(
                f"| {rows} | {label(c.key)} | whole job | {_fmt(c.wall_s)} | {_fmt(c.peak_rss_mb, '.0f')} | {_fmt(imp, '.1f')} |"
            )
    return lines


def chain_steps(engine: list[Contender]) -> list[str]:
    lines: list[str] = []
    for c in engine:
        if c.key != "logidata" or not c.runs:
            continue
        lines.append(f"Chain task log at {human_rows(c.rows)} rows (first run):")
        lines.append("")
        lines += [f"    {line}" for line in c.runs[0]["chain_log"] if "so far" not in line]
        sql = c.runs[0].get("chain_sql") or []
        if sql:
            lines.append("")
            lines.append(
                "    SQL run by the chain task (seconds; the `COPY ... TO` is the whole chain written to staging by "
                "DuckDB; `stream` = consumed while writing the staging file through Arrow):"
            )
            for item in sql:
                text = item["sql"] if len(item["sql"]) <= 400 else item["sql"][:397] + "..."
                lines.append(f"    {item['seconds']:7.2f}  {item['call']:<9} {text}")
        lines.append("")
    return lines


def evaluate_targets(
    engine: list[Contender], load: list[LoadResult], small: int, big: int
) -> tuple[list[str], bool]:
    out: list[str] = []
    ok = True
    by = {(c.key, c.rows): c for c in engine}

    def verdict(passed: bool) -> str:
        return "PASS" if passed else "FAIL"

    for rows in [r for r in (small, big) if r and any(c.rows == r for c in engine)]:
        duck = by.get(("duckdb", rows))
        ld = by.get(("logidata", rows))
        dag = by.get(("dag-fused", rows))
        unfused = by.get(("dag-unfused", rows))
        n = human_rows(rows)
        if duck and duck.wall_s and ld and ld.wall_s:
            ratio = ld.wall_s / duck.wall_s
            chain_only = statistics.median(r["stages"]["chain"]["wall_s"] for r in ld.runs) / duck.wall_s
            ok &= ratio <= CHAIN_VS_DUCKDB
            out.append(
                f"- {n}: fused engine (source + 4-step chain + destination) <= {CHAIN_VS_DUCKDB}x DuckDB by hand: "
                f"{ld.wall_s:.2f} s / {duck.wall_s:.2f} s = {ratio:.2f}x -> {verdict(ratio <= CHAIN_VS_DUCKDB)} "
                f"(the chain task alone: {chain_only:.2f}x)"
            )
        else:
            out.append(f"- {n}: fused engine <= {CHAIN_VS_DUCKDB}x DuckDB by hand: not measured")
        if duck and duck.wall_s and dag and dag.wall_s:
            ratio = dag.wall_s / duck.wall_s
            ok &= ratio <= DAG_VS_DUCKDB
            extra = (
                f"; one task per node: {unfused.wall_s / duck.wall_s:.2f}x"
                if unfused and unfused.wall_s
                else ""
            )
            out.append(
                f"- {n}: full DAG run (fuse_chains) <= {DAG_VS_DUCKDB:.0f}x DuckDB by hand: {dag.wall_s:.2f} s / "
                f"{duck.wall_s:.2f} s = {ratio:.2f}x -> {verdict(ratio <= DAG_VS_DUCKDB)}{extra}"
            )
        else:
            out.append(
                f"- {n}: full DAG run <= {DAG_VS_DUCKDB:.0f}x DuckDB by hand: not measured at this size"
            )
        paths, peer = by.get(("dag-paths", rows)), by.get(("dag-peer", rows))
        if paths and paths.wall_s and peer and peer.wall_s:
            ratio = paths.wall_s / peer.wall_s
            ok &= ratio <= PATHS_VS_PEER
            chains = by.get(("dag-fused", rows))
            extra = (
                f"; fuse_chains (3 tasks): {chains.wall_s / peer.wall_s:.2f}x"
                if chains and chains.wall_s
                else ""
            )
            out.append(
                f"- {n}: full DAG run, fuse paths (1 task) <= {PATHS_VS_PEER}x the plain DAG running the DuckDB SQL "
                f"by hand in one PythonOperator: {paths.wall_s:.2f} s / {peer.wall_s:.2f} s = {ratio:.2f}x -> "
                f"{verdict(ratio <= PATHS_VS_PEER)}{extra}"
            )
        elif paths or peer:
            out.append(
                f"- {n}: full DAG run, fuse paths <= {PATHS_VS_PEER}x the peer DAG: not measured (error)"
            )
        bounded = by.get(("dag-peer-bounded", rows))
        if paths and paths.wall_s and bounded and bounded.wall_s:
            out.append(
                f"- (information: same memory limit) {n}: full DAG run, fuse paths (1 task) vs the peer DAG with "
                f"LogiData's memory_limit: {paths.wall_s:.2f} s / {bounded.wall_s:.2f} s = "
                f"{paths.wall_s / bounded.wall_s:.2f}x"
            )
        if ld and ld.runs:
            peaks = {
                s: max(r["stages"][s]["peak_rss_mb"] for r in ld.runs)
                for s in ("source", "chain", "destination")
            }
            worst = max(peaks.values())
            passed = worst < TASK_RSS_MB
            text = ", ".join(f"{s} {v:.0f} MB" for s, v in peaks.items())
            if rows == big and small and by.get(("logidata", small)) and by[("logidata", small)].runs:
                base = by[("logidata", small)]
                small_peaks = {
                    s: max(r["stages"][s]["peak_rss_mb"] for r in base.runs)
                    for s in ("source", "chain", "destination")
                }
                growth = max(peaks[s] / small_peaks[s] for s in peaks)
                passed = passed and growth <= BIG_RSS_GROWTH
                out.append(
                    f"- {n}: each task's peak RSS < {TASK_RSS_MB:.0f} MB and about the same as at {human_rows(small)} "
                    f"(<= {BIG_RSS_GROWTH:.2f}x): {text}; growth {growth:.2f}x -> {verdict(passed)}"
                )
            else:
                out.append(f"- {n}: each task's peak RSS < {TASK_RSS_MB:.0f} MB: {text} -> {verdict(passed)}")
            ok &= passed
    busy = [c for c in engine if c.other_load is not None and c.other_load > NOISY_SHARE]
    if busy:
        out.append(
            "- WARNING: other processes used more than "
            f"{NOISY_SHARE:.0%} of the machine's CPU during: "
            + ", ".join(f"{label(c.key)} at {human_rows(c.rows)} ({c.other_load:.0%})" for c in busy)
            + "; those times are inflated (DuckDB's parallel plans most), so ratios are uncertain"
        )
    for res in load:
        n = human_rows(res.rows)
        if not res.available:
            out.append(f"- {n}: PostgreSQL load >= {PG_VS_COPY:.0%} of psql \\copy rows/s: {res.reason}")
            continue
        if res.psql.wall_s and res.logidata.wall_s:
            share = res.psql.wall_s / res.logidata.wall_s
            passed = share >= PG_VS_COPY
            ok &= passed
            out.append(
                f"- {n}: PostgreSQL load >= {PG_VS_COPY:.0%} of psql \\copy rows/s: "
                f"{res.rows / res.logidata.wall_s:,.0f} vs {res.rows / res.psql.wall_s:,.0f} rows/s = {share:.0%} "
                f"-> {verdict(passed)}"
            )
        else:
            out.append(
                f"- {n}: PostgreSQL load >= {PG_VS_COPY:.0%} of psql \\copy rows/s: not measured (error)"
            )
        if res.psql.wall_s and res.fused is not None and res.fused.wall_s:
            share = res.psql.wall_s / res.fused.wall_s
            passed = share >= PG_FUSED_VS_COPY
            ok &= passed
            both = res.both.wall_s if res.both is not None else None
            extra = f"; unfused, both tasks: {res.psql.wall_s / both:.0%}" if both else ""
            out.append(
                f"- {n}: fused CSV -> PostgreSQL (one task: read, COPY, commit) >= {PG_FUSED_VS_COPY:.0%} of psql "
                f"\\copy: {res.rows / res.fused.wall_s:,.0f} vs {res.rows / res.psql.wall_s:,.0f} rows/s = "
                f"{share:.0%} -> {verdict(passed)}{extra}"
            )
        elif res.fused is not None and res.available:
            out.append(
                f"- {n}: fused CSV -> PostgreSQL >= {PG_FUSED_VS_COPY:.0%} of psql \\copy: not measured (error)"
            )
    return out, ok


def scheduler_table(sched: dict[str, Contender], engine: list[Contender]) -> list[str]:
    lines = [
        "| rows | contender | runs | trigger to success s (median) | min-max s | vs peer | "
        "vs peer, same memory limit | task durations s (API, summed) | trigger to first task start s | "
        "scheduling overhead s (trigger to success - task durations) | same contender, dag.test s | "
        "stack CPU s (Airflow processes and their tasks) | other CPU load | output |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    tested = {c.key: c for c in engine}
    peer, bounded = sched.get("dag-peer"), sched.get("dag-peer-bounded")

    def versus(c: Contender, ref: Contender | None) -> str:
        if ref is None or ref is c or not c.wall_s or not ref.wall_s or ref.error:
            return "-"
        return f"{c.wall_s / ref.wall_s:.2f}x"

    for key, c in sched.items():
        rows = human_rows(c.rows)
        if c.error is not None:
            error = c.error.splitlines()[0][:100]
            lines.append(f"| {rows} | {label(key)} | {len(c.runs)} | error |{' - |' * 9} {error} |")
            continue
        overhead = _median_of([r["wall_s"] - r["tasks_s"] for r in c.runs if r.get("tasks_s") is not None])
        cli = tested.get(key)
        cells = [
            rows,
            label(key),
            str(len(c.runs)),
            _fmt(c.wall_s),
            _spread(c),
            versus(c, peer),
            versus(c, bounded),
            _fmt(c.median("tasks_s")),
            _fmt(c.median("first_start_s")),
            _fmt(overhead),
            _fmt(cli.wall_s if cli is not None and cli.error is None else None),
            _fmt(c.median("airflow_cpu_s"), ".1f"),
            _load(c),
            c.check,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def scheduler_per_task(sched: dict[str, Contender]) -> list[str]:
    lines = [
        "| rows | contender | task | duration s (API, median) | queued to started s (median) |",
        "|---:|---|---|---:|---:|",
    ]
    from scheduler_runs import per_task

    for key, c in sched.items():
        for task_id, seconds, queued in per_task(c.runs):
            lines.append(
                f"| {human_rows(c.rows)} | {label(key)} | {task_id} | {_fmt(seconds)} | {_fmt(queued)} |"
            )
    return lines


def scheduler_evaluate(sched: dict[str, Contender]) -> tuple[list[str], bool]:
    """The issue's target (fuse paths trigger to success <= 1.1x the plain peer's) and, for information,
    the same ratio against the bounded peer and the other fuse settings against the peer."""
    out: list[str] = []
    ok = True
    checks: tuple[tuple[str, str, float | None, str], ...] = (
        (
            "dag-paths",
            "dag-peer",
            SCHED_PATHS_VS_PEER,
            "fuse paths (1 task) trigger to success <= {b}x the plain peer DAG's (one PythonOperator, DuckDB SQL "
            "by hand, DuckDB's defaults)",
        ),
        (
            "dag-paths",
            "dag-peer-bounded",
            None,
            "(information: same memory limit) fuse paths (1 task) trigger to success vs the peer DAG with "
            "LogiData's memory_limit",
        ),
        (
            "dag-fused",
            "dag-peer",
            None,
            "(information) fuse_chains (3 tasks) trigger to success vs the peer's",
        ),
        (
            "dag-unfused",
            "dag-peer",
            None,
            "(information) one task per node (6 tasks) trigger to success vs the peer's",
        ),
    )
    rows = next((c.rows for c in sched.values()), 0)
    n = human_rows(rows)
    for top, bottom, bound, text in checks:
        a, b = sched.get(top), sched.get(bottom)
        title = text.format(b=bound)
        if a is None or b is None:
            if bound is not None:
                out.append(f"- {n}: scheduler: {title}: not measured")
            continue
        if a.error or b.error or not a.wall_s or not b.wall_s:
            out.append(f"- {n}: scheduler: {title}: not measured (error)")
            ok &= bound is None
            continue
        ratio = a.wall_s / b.wall_s
        ta, tb = a.median("tasks_s"), b.median("tasks_s")
        extra = f" (task durations alone: {ta:.2f} s / {tb:.2f} s = {ta / tb:.2f}x)" if ta and tb else ""
        figures = f"{a.wall_s:.2f} s / {b.wall_s:.2f} s = {ratio:.2f}x"
        if bound is None:
            out.append(f"- {n}: scheduler: {title}: {figures}{extra}")
            continue
        passed = ratio <= bound
        ok &= passed
        out.append(f"- {n}: scheduler: {title}: {figures} -> {'PASS' if passed else 'FAIL'}{extra}")
    differs = [label(k) for k, c in sched.items() if c.runs and c.check != "same"]
    if differs:
        ok = False
        out.append(
            f"- {n}: scheduler runs: outputs differ from DuckDB's (or unchecked): {', '.join(differs)} -> FAIL"
        )
    elif any(c.runs for c in sched.values()):
        out.append(
            f"- {n}: scheduler runs: every output equals DuckDB's (row count, sums, distinct values; every run) "
            "-> PASS"
        )
    busy = [c for c in sched.values() if c.other_load is not None and c.other_load > NOISY_SHARE]
    if busy:
        out.append(
            f"- WARNING (scheduler runs): other processes used more than {NOISY_SHARE:.0%} of the machine's CPU "
            "during: "
            + ", ".join(f"{label(c.key)} ({c.other_load:.0%})" for c in busy)
            + "; those times are inflated"
        )
    return out, ok


def _median_of(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def code_state() -> str:
    """Commit and uncommitted engine/module files: what the LogiData figures measured."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=30
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "airflow_provider_logidata", "dags"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    changed = sorted(line[3:].removeprefix("airflow_provider_logidata/") for line in status if line.strip())
    if not changed:
        return f"commit {head}, clean"
    return f"commit {head} plus uncommitted changes in {len(changed)} file(s): {', '.join(changed)}"


# --- entry point -------------------------------------------------------------------------------------


def run(
    *,
    sections: set[str],
    rows: int,
    big_rows: int,
    repeats: int,
    big_repeats: int = 3,
    output: Path | None,
    keep: bool = False,
    contenders: list[str] | None = None,
    big_contenders: list[str] | None = None,
    profile: bool = True,
    scheduler: bool = True,
    scheduler_repeats: int | None = None,
    duckdb_memory_limit: str | None = None,
) -> int:
    """Run the ``engine`` and/or ``load`` sections; print the table and write ``output``. Exit code.

    ``scheduler``: after the ``dag.test()`` runs at ``rows``, the same DAG contenders as scheduler runs
    (``scheduler_repeats`` each, default ``repeats``); ``duckdb_memory_limit``: the LogiData contenders'
    ``[logidata] duckdb_memory_limit`` (and the bounded peer's), default LogiData's own default."""
    started = time.perf_counter()
    contenders = contenders or list(CONTENDERS)
    big_contenders = list(BIG_CONTENDERS) if big_contenders is None else big_contenders
    unknown = (set(contenders) | set(big_contenders)) - set(CONTENDERS)
    if unknown:
        raise SystemExit(f"unknown contenders {sorted(unknown)}; choose from {CONTENDERS}")
    root = Path(tempfile.mkdtemp(prefix="logidata-engine-bench-"))
    env = airflow_env(root)
    memory_limit = duckdb_memory_limit or default_memory_limit()
    # airflow_env() dropped the caller's AIRFLOW__* variables: a limit given here is set for every
    # LogiData process of this run (tasks, dag.test, the scheduler stack); the bounded peer asks LogiData's
    # settings in its own task process, so it uses what LogiData would there (``auto`` resolved per process).
    if duckdb_memory_limit:
        env[MEMORY_LIMIT_ENV] = duckdb_memory_limit
    bench = Bench(root, env)
    references: dict[int, tuple[Any, ...]] = {}
    sched: dict[str, Contender] = {}
    sched_info: dict[str, Any] = {}
    sched_error: str | None = None
    sched_keys: list[str] = []
    engine: list[Contender] = []
    load: list[LoadResult] = []
    notes: list[str] = []
    profile_lines: list[str] = []
    data: dict[int, dict[str, Any]] = {}
    try:
        log(f"work folder {root}")
        generated = time.perf_counter()
        data[rows] = engine_data.write_messy_csv(root / "data" / f"orders-{rows}.csv", rows)
        log(
            f"generated {human_rows(rows)} rows x 10 columns: {data[rows]['bytes'] / 1e6:.0f} MB, "
            f"{data[rows]['duplicates']:,} duplicate rows, {time.perf_counter() - generated:.1f} s"
        )
        csv = data[rows]["path"]
        source_handle: dict[str, Any] | None = None
        if "engine" in sections:
            warmup = engine_data.write_messy_csv(root / "data" / "warmup.csv", WARMUP_ROWS, seed=7)
            if any(c.startswith("dag") for c in [*contenders, *big_contenders]):
                shutil.copyfile(LOADER_FILE, root / "dags" / LOADER_FILE.name)
                migrate = time.perf_counter()
                airflow = Path(sys.executable).parent / "airflow"
                proc = subprocess.run(
                    [str(airflow), "db", "migrate"],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=900,
                    check=False,
                )
                if proc.returncode != 0:
                    raise RuntimeError(
                        f"airflow db migrate failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
                    )
                notes.append(
                    f"- `airflow db migrate` (SQLite, excluded): {time.perf_counter() - migrate:.1f} s"
                )
                log(f"migrated the metadata DB in {time.perf_counter() - migrate:.1f} s")
            engine += measure_engine(bench, rows, csv, warmup["path"], repeats, contenders, references)
            # The same DAG contenders under the real scheduler, triggered through the REST API.
            sched_keys = [c.key for c in engine if c.key in DAG_KINDS and c.error is None]
            if scheduler and sched_keys:
                try:
                    sched, sched_info = measure_scheduler(
                        bench,
                        rows,
                        csv,
                        warmup["path"],
                        sched_keys,
                        scheduler_repeats or repeats,
                        references.get(rows),
                    )
                except Exception as error:  # the dag.test figures still get reported
                    sched_error = f"scheduler runs: {type(error).__name__}: {error}"
                    log(sched_error.splitlines()[0])
            ld = next((c for c in engine if c.key == "logidata" and c.runs), None)
            if big_rows and big_contenders:
                generated = time.perf_counter()
                data[big_rows] = engine_data.write_messy_csv(
                    root / "data" / f"orders-{big_rows}.csv", big_rows, resume=data[rows]
                )
                log(
                    f"generated {human_rows(big_rows)} rows: {data[big_rows]['bytes'] / 1e6:.0f} MB, "
                    f"{time.perf_counter() - generated:.1f} s"
                )
                engine += measure_engine(
                    bench, big_rows, data[big_rows]["path"], warmup["path"], big_repeats, big_contenders
                )
                Path(data[big_rows]["path"]).unlink(missing_ok=True)
            _targets_now, ok_now = evaluate_targets(engine, [], rows, big_rows)
            if profile and ld is not None and not ok_now:
                log("a LogiData engine target failed: profiling the chain's SQL")
                tag = "profile-source"
                staged = bench.task(
                    {"kind": "ld_source", "csv": csv, "out": _stage_paths(root, tag)["source"]}
                )
                source_handle = staged["handle"]
                profile_lines = profile_chain(bench, source_handle, ld.runs[0])
        if "load" in sections:
            load.append(measure_load(bench, rows, csv, repeats, source_handle))
    finally:
        if keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    targets, ok = evaluate_targets(engine, load, rows, big_rows if "engine" in sections else 0)
    if sched:
        sched_targets, sched_ok = scheduler_evaluate(sched)
        targets += sched_targets
        ok &= sched_ok
    elif scheduler and sched_keys:
        targets.append(
            f"- {human_rows(rows)}: scheduler runs: not measured"
            + (f" ({sched_error.splitlines()[0]})" if sched_error else "")
        )
    main_table = table(engine, load)
    sizes = ", ".join(
        f"{human_rows(n)} rows = {d['bytes'] / 1e6:.0f} MB ({d['duplicates']:,} exact duplicate rows)"
        for n, d in data.items()
    )
    notes.append(
        f"- input: {sizes}; seeded generator `benchmarks/engine_data.py`; chain: deduplicate (all columns, keep "
        "first) -> clean_text (4 columns: trim, collapse spaces, lower) -> parse_dates (2 formats -> DATE) -> "
        "fill_nulls (3 columns); CSV in, Parquet (zstd) out"
    )
    if engine:
        notes += [
            f"- every figure is a fresh process; {repeats} runs at {human_rows(rows)} (median), {big_repeats} at the big "
            "size (median); imports excluded (LogiData tasks import Airflow's SDK, ~4 s); every output checked against the "
            "DuckDB output (row count, sums, distinct values; when DuckDB by hand is not a contender, it runs "
            "once, not timed, for the reference)",
            "- DuckDB by hand uses `SELECT DISTINCT *` (input order not kept) and DuckDB's defaults (all cores, "
            "80 % of RAM); LogiData's deduplicate on all columns is `SELECT DISTINCT *` too (duplicates are "
            "identical rows, so keep first/last keep the same data; input order not kept, documented), and it "
            "runs DuckDB with `[logidata] duckdb_memory_limit` (spilling past it; default `auto`: half of the "
            "machine's memory over the worker's task slots, at least 320MB)",
            f"- DuckDB memory limit of the LogiData contenders in this run: `{memory_limit}` ("
            + (
                "`--duckdb-memory-limit`"
                if duckdb_memory_limit
                else "`[logidata] duckdb_memory_limit`'s default"
            )
            + (
                f"; set as `{MEMORY_LIMIT_ENV}` in their environment"
                if duckdb_memory_limit
                else "; `auto` resolves in each process: " + auto_limits_note()
            )
            + "); the peer with the same memory limit (`dag-peer-bounded`) connects with the `memory_limit` "
            "LogiData's settings give in its task process and a `temp_directory` of its own (removed after "
            "the run), as LogiData's engine connection does; everything else as the plain peer (DuckDB's "
            "defaults)",
            "- LogiData staging: each task writes its output with DuckDB's parallel Parquet writer (zstd, row "
            "groups of `batch_rows`); the file destination copies the staged file as is when it already is "
            "Parquet in the requested codec (read from its footer)",
            "- LogiData engine wall time = sum of the three task functions, each in its own process, data staged "
            "as Parquet between them (as in a DAG run)",
            "- DAG runs: `dag.test()` in a process that already ran one `dag.test()` of a 2 k-row copy of the "
            "pipeline (first-call set-up excluded); tasks run in that same process, so the per-task RSS there "
            "includes Airflow and what earlier tasks left allocated",
        ]
    if sched:
        notes += [
            "- scheduler runs: "
            + sched_info.get("note", "")
            + "; the dag-processor at its default intervals; one DAGs folder for the stack holding the LogiData "
            "loader, the selected contenders' pipelines and the peers' DAG files (ids distinct per contender, "
            "each writing its own output), all reading the same CSV; a bytecode cache for the stack "
            "(`PYTHONPYCACHEPREFIX` in the bench's temp folder, `PYTHONDONTWRITEBYTECODE` unset), as an ordinary "
            "install has one",
            f"- scheduler runs: {scheduler_repeats or repeats} run(s) per contender at {human_rows(rows)}, "
            "interleaved, after every contender's `dag.test()` runs; warm-up (excluded): one scheduler run of "
            f"each contender's {human_rows(WARMUP_ROWS)}-row DAG first: "
            + (", ".join(f"{k} {v:.1f} s" for k, v in sched_info.get("warmups", {}).items()) or "none")
            + "; trigger to success: the REST call to the poll that sees `success`; task durations: the task "
            "instances' `duration`; trigger to first task start: the REST call to the first task instance's "
            "`start_date`; stack CPU: every process of the stack (api-server, scheduler and its workers and task "
            "processes, dag-processor) during the run; other CPU load: every process but the stack and the "
            "bench; every run's output checked against the DuckDB output",
        ]
    if load:
        notes.append(
            "- load: one throw-away PostgreSQL 15 on 127.0.0.1 (fsync, synchronous_commit and full_page_writes "
            "off, max_wal_size 4GB, shared_buffers 256MB), table dropped and CHECKPOINT before every run, runs "
            "alternate; psql \\copy loads the CSV into a pre-created table of the same columns; LogiData loads "
            "the source task's staged Parquet of that CSV (time = the destination task function only); the "
            "2-task row adds a fresh source task staging the CSV (its task function) to it; the fused path is "
            "one task function reading the CSV and loading it (nothing staged); rows counted in the table after "
            "every run"
        )
    notes.append(
        "- peak RSS: VmHWM (/proc/self/status) of the task process, not `ru_maxrss` (on Linux a child's "
        "`ru_maxrss` starts at its parent's size at fork); in DAG runs /proc/self/statm sampled every 20 ms "
        "during each task; other CPU load: CPU time of other processes on the machine during the measurement "
        "(/proc/stat minus this bench's children), as a share of all cores; "
        f"Python {platform.python_version()}, Airflow "
        f"{version('apache-airflow')}, DuckDB {version('duckdb')}, pandas {version('pandas')}, pyarrow "
        f"{version('pyarrow')}, psycopg {version('psycopg')}, {os.cpu_count()} CPUs, "
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; engine+load bench wall time "
        f"{time.perf_counter() - started:.0f} s"
    )
    notes.append(f"- code measured: {code_state()}")
    for res in load:
        if res.config is not None:
            notes.append(f"- destination.postgres config used: `{json.dumps(res.config)}`")
    errors = [f"- {label(c.key)} at {human_rows(c.rows)}: {c.error}" for c in engine if c.error]
    errors += [
        f"- {label(c.key)}: {c.error}"
        for r in load
        for c in (r.psql, r.logidata, r.both, r.fused)
        if c is not None and c.error
    ]
    errors += [f"- scheduler run, {label(c.key)}: {c.error}" for c in sched.values() if c.error]
    if sched_error:
        errors.append(f"- {sched_error}")
    diffs = [
        f"- {label(c.key)} at {human_rows(c.rows)}: {c.note}" for c in [*engine, *sched.values()] if c.note
    ]
    steps = chain_steps(engine)
    body = [
        *main_table,
        "",
        "Targets:",
        "",
        *targets,
        "",
        *(["Per task:", "", *breakdown(engine), ""] if engine else []),
    ]
    if sched:
        body += [
            "Scheduler runs (same run, same data; trigger through the REST API to the run's state turning "
            "`success`, what a user waits for):",
            "",
            *scheduler_table(sched, engine),
            "",
            "Per task under the scheduler (from the REST API's task instances):",
            "",
            *scheduler_per_task(sched),
            "",
        ]
    body += notes
    if diffs:
        body += ["", "Output differences:", "", *diffs]
    if steps:
        body += ["", *steps]
    for res in load:
        if res.logidata.runs:
            body += [f"destination.postgres task log at {human_rows(res.rows)} rows (first run):", ""]
            body += [f"    {line}" for line in res.logidata.runs[0].get("log", []) if "so far" not in line]
            body.append("")
        if res.fused is not None and res.fused.runs:
            body += [f"Fused path task log at {human_rows(res.rows)} rows (first run):", ""]
            body += [f"    {line}" for line in res.fused.runs[0].get("log", []) if "so far" not in line]
            body.append("")
    if profile_lines:
        body += [
            "Profile of the chain (its SQL replayed step by step, same settings):",
            "",
            *profile_lines,
            "",
        ]
    if errors:
        body += ["Errors:", "", "```", *errors, "```"]
    print()
    print("\n".join(body))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        header = [
            "# Engine benchmark",
            "",
            "Generated by `make bench` (`benchmarks/run.py`, section `engine`/`load`, code in "
            "`benchmarks/engine_bench.py`); every row below was measured in the same run.",
            "",
        ]
        output.write_text("\n".join(header + body) + "\n", encoding="utf-8")
        print(f"\nwrote {output}")
    if errors:
        return 1
    return 0 if ok else 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="engine,load", help="comma-separated: engine, load")
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--big-rows", type=int, default=20_000_000, help="0 skips the big size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big-repeats", type=int, default=3, help="runs at the big size (median)")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--big-contenders", default=",".join(BIG_CONTENDERS))
    parser.add_argument("--output", default=str(HERE / "results" / "engine.md"))
    parser.add_argument("--no-output", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--no-scheduler", action="store_true", help="skip the scheduler runs (trigger to success)"
    )
    parser.add_argument(
        "--scheduler-repeats",
        type=int,
        default=None,
        help="scheduler runs per contender (default: --repeats)",
    )
    parser.add_argument(
        "--duckdb-memory-limit",
        default=None,
        metavar="VALUE",
        help=f"[logidata] duckdb_memory_limit of the LogiData contenders ({MEMORY_LIMIT_ENV}) and of the "
        "bounded peer, e.g. 1GB (default: LogiData's default, 320MB)",
    )
    parser.add_argument("--check", action="store_true", help="exit 2 when a target is missed")
    args = parser.parse_args(argv)
    code = run(
        sections={s.strip() for s in args.only.split(",") if s.strip()},
        rows=args.rows,
        big_rows=args.big_rows,
        repeats=args.repeats,
        big_repeats=args.big_repeats,
        output=None if args.no_output else Path(args.output),
        keep=args.keep,
        contenders=[c.strip() for c in args.contenders.split(",") if c.strip()],
        big_contenders=[c.strip() for c in args.big_contenders.split(",") if c.strip()],
        scheduler=not args.no_scheduler,
        scheduler_repeats=args.scheduler_repeats,
        duckdb_memory_limit=args.duckdb_memory_limit,
    )
    return code if args.check or code != 2 else 0


if __name__ == "__main__":
    sys.exit(main())
