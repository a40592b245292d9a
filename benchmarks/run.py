"""``make bench``: the DAG-factory parse benchmark, then the engine benchmarks (``engine_bench.py``).

Sections (``--only factory,engine,load,ui,preview,suggest,validate,elt``, all by default):

- ``factory``: LogiData vs dag-factory 1.1 parsing equivalent five-node pipelines (below);
- ``engine``: a messy CSV (``--rows``, default 5 M, and ``--big-rows``, default 20 M, 0 skips) cleaned by
  pandas, hand-written DuckDB SQL, the LogiData engine (fused chain, one process per task) and full
  LogiData DAG runs (``dag.test()``, fused and one task per node); results in ``results/engine.md``;
- ``load``: PostgreSQL load of the same CSV, ``psql \\copy`` vs LogiData's ``destination.postgres`` (when
  that module exists), on a throw-away server;
- ``preview``: p95 of a 100-row preview at the end of a five-node chain over a ``--rows`` CSV and PostgreSQL
  table, next to hand-written DuckDB / psycopg ``LIMIT 100`` reads (``preview_bench.py``; results in
  ``results/preview.md``);
- ``suggest``: cleaning-suggestion latency on a 10,000-row sample, dirty and clean, with the time per rule
  (``suggest_bench.py``; results in ``results/suggest.md``; target under 2 s);
- ``ui``: the builder in Debian's Chromium against a real api-server (first load, a 200-node canvas's drag
  frame rate from Chromium's trace, save round trips) next to Airflow's own DAG list page
  (``ui_bench.py``); results in ``results/ui.md``;
- ``validate``: design-time checks (columns, SQL, lineage) of a 50-node pipeline as ``POST /validate`` runs
  them, cold, unchanged and after one edit, next to a preview of the last node (``validate_bench.py``;
  results in ``results/validate.md``; target p95 under 200 ms).
- ``elt``: flights (``--rows``) -> filter -> join airlines -> aggregate in a throw-away PostgreSQL, as whole
  ``airflow dags test`` runs: LogiData ``engine`` elt / etl into a table and auto (partial pushdown) / etl into
  Parquet, next to ``psql`` and a one-PythonOperator DAG running the same SQL by hand (``elt_bench.py``;
  results in ``results/elt.md``; target: ELT <= 1.2x the PythonOperator peer; ``--elt-repeats``, default
  ``--repeats``), then the same DAGs as scheduler runs on a loopback Airflow, trigger to success through the
  REST API (``scheduler_runs.py``; same target; ``--elt-scheduler-repeats``, ``--elt-no-scheduler``).

Factory section:

For each size N and each tool, a fresh interpreter builds ``DagBag`` over a folder holding only that
tool's loader file (see ``parse_once.py``); only the DagBag construction is timed, the Airflow import is
reported separately. Median of ``--repeats`` runs. Results are printed and written as Markdown to
``benchmarks/results/factory_parse.md``.

    .venv/bin/python benchmarks/run.py                 # everything (about 25 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --only factory --sizes 100 --repeats 1 --tools dag-factory
    .venv/bin/python benchmarks/run.py --only engine --rows 1000000 --big-rows 0
    .venv/bin/python benchmarks/run.py --only elt --rows 200000 --repeats 1
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
sys.path.insert(0, str(HERE))

import engine_bench  # noqa: E402  (sibling modules; benchmarks/ is not a package)
import generate  # noqa: E402

TOOLS = ("logidata", "dag-factory")
TOOL_LABELS = {"logidata": "LogiData", "dag-factory": "dag-factory 1.1"}
TARGET_PER_1000_S = 2.0
TARGET_SPEEDUP = 4.0
RUN_TIMEOUT_S = 600


@dataclass
class Measurement:
    tool: str
    size: int
    runs: list[dict[str, object]] = field(default_factory=list)
    error: str | None = None

    def _median(self, key: str) -> float | None:
        values = [float(run[key]) for run in self.runs]  # type: ignore[arg-type]
        return statistics.median(values) if values else None

    @property
    def parse_s(self) -> float | None:
        return self._median("parse_s")

    @property
    def import_s(self) -> float | None:
        return self._median("import_s")

    @property
    def dags(self) -> int | None:
        return int(self.runs[-1]["dags"]) if self.runs else None  # type: ignore[call-overload]


def _env(airflow_home: Path, dags_folder: Path, logidata_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
            "AIRFLOW__CORE__DAG_DISCOVERY_SAFE_MODE": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__LOGIDATA__PIPELINES_PATH": str(logidata_root / "pipelines"),
            "AIRFLOW__LOGIDATA__REPORT_PATH": str(logidata_root / "factory_report.json"),
            "AIRFLOW__LOGIDATA__STAGING_PATH": str(logidata_root / "staging"),
            # The generated pipelines read /data/in and write /data/out (checked by the path policy).
            "AIRFLOW__LOGIDATA__ALLOWED_PATHS": "/data",
            "AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY": "False",
            "DO_NOT_TRACK": "1",
            "SCARF_NO_ANALYTICS": "true",
            "PYTHONWARNINGS": "ignore::DeprecationWarning",
        }
    )
    return env


def _run_once(
    tool: str, size: int, dags_folder: Path, env: dict[str, str], work: Path, index: int
) -> dict[str, Any]:
    result_path = work / f"result-{tool}-{size}-{index}.json"
    log_path = work / f"log-{tool}-{size}-{index}.txt"
    with log_path.open("wb") as log:
        proc = subprocess.run(
            [sys.executable, str(HERE / "parse_once.py"), str(dags_folder), str(result_path)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
    if proc.returncode != 0 or not result_path.exists():
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"parse run exited with {proc.returncode}; log tail:\n{tail}")
    data: dict[str, Any] = json.loads(result_path.read_text())
    problems = []
    if data["import_errors"]:
        problems.append("import errors: " + json.dumps(data["import_errors"], indent=2)[:3000])
    if data["dags"] != size:
        problems.append(f"loaded {data['dags']} DAGs, expected {size}{_factory_report_summary(env)}")
    if data["tasks"] != 5 * size or data["edges"] != 4 * size:
        problems.append(f"{data['tasks']} tasks / {data['edges']} edges, expected {5 * size} / {4 * size}")
    if problems:
        raise RuntimeError("; ".join(problems))
    return data


def _factory_report_summary(env: dict[str, str]) -> str:
    """For LogiData: the counts and first error of the factory report, to say why DAGs are missing."""
    report = Path(env.get("AIRFLOW__LOGIDATA__REPORT_PATH", "")) if tool_is_logidata(env) else None
    if report is None or not report.is_file():
        return ""
    try:
        body = json.loads(report.read_text(encoding="utf-8"))
    except ValueError:
        return ""
    first = next((p for p in body.get("pipelines", []) if p.get("status") == "error"), None)
    detail = f"; first error: {first['id']}: {json.dumps(first.get('errors'))[:800]}" if first else ""
    return f" (factory report counts: {body.get('counts')}{detail})"


def tool_is_logidata(env: dict[str, str]) -> bool:
    return Path(env.get("AIRFLOW__CORE__DAGS_FOLDER", ""), "logidata_pipelines.py").is_file()


def _table(measurements: list[Measurement]) -> list[str]:
    reference = {m.size: m.parse_s for m in measurements if m.tool == "logidata" and m.error is None}
    lines = [
        "| tool | pipelines | DAGs loaded | parse s (median) | per-pipeline ms | ratio vs LogiData |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for m in measurements:
        if m.error is not None:
            lines.append(f"| {TOOL_LABELS[m.tool]} | {m.size} | error | - | - | - |")
            continue
        parse_s = m.parse_s or 0.0
        ref = reference.get(m.size)
        ratio = f"{parse_s / ref:.2f}x" if ref else "n/a"
        lines.append(
            f"| {TOOL_LABELS[m.tool]} | {m.size} | {m.dags} | {parse_s:.2f} | "
            f"{parse_s * 1000 / m.size:.2f} | {ratio} |"
        )
    return lines


def _targets(measurements: list[Measurement]) -> tuple[list[str], bool]:
    ok = True
    good = {(m.tool, m.size): m.parse_s for m in measurements if m.error is None and m.parse_s is not None}
    sizes = sorted({m.size for m in measurements})
    lines: list[str] = []
    if not sizes:
        return lines, ok
    size = 1000 if 1000 in sizes else sizes[-1]
    ld = good.get(("logidata", size))
    df = good.get(("dag-factory", size))
    scaled = "" if size == 1000 else f" (scaled from N={size})"
    if ld is not None:
        per_1000 = ld * 1000 / size
        passed = per_1000 <= TARGET_PER_1000_S
        ok &= passed
        lines.append(
            f"- target: LogiData <= {TARGET_PER_1000_S:.0f} s per 1000 pipelines: "
            f"{per_1000:.2f} s{scaled} -> {'PASS' if passed else 'FAIL'}"
        )
    else:
        lines.append(f"- target: LogiData <= {TARGET_PER_1000_S:.0f} s per 1000 pipelines: not measured")
    if ld is not None and df is not None:
        speedup = df / ld
        passed = speedup >= TARGET_SPEEDUP
        ok &= passed
        lines.append(
            f"- target: LogiData >= {TARGET_SPEEDUP:.0f}x faster than dag-factory at N={size}: "
            f"{speedup:.2f}x -> {'PASS' if passed else 'FAIL'}"
        )
    else:
        lines.append(f"- target: LogiData >= {TARGET_SPEEDUP:.0f}x faster than dag-factory: not measured")
    return lines, ok


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


SECTIONS = ("factory", "engine", "load", "ui", "preview", "suggest", "validate", "elt")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run, of {', '.join(SECTIONS)} (default: all)",
    )
    factory = parser.add_argument_group("factory section (DAG-factory parse)")
    factory.add_argument("--sizes", default="100,1000", help="comma-separated pipeline counts")
    factory.add_argument("--repeats", type=int, default=3, help="fresh-process runs per size and tool")
    factory.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {TOOLS}")
    factory.add_argument("--output", default=str(HERE / "results" / "factory_parse.md"))
    engine = parser.add_argument_group("engine and load sections (see engine_bench.py)")
    engine.add_argument("--rows", type=int, default=5_000_000, help="rows of the generated CSV (default 5 M)")
    engine.add_argument(
        "--big-rows", type=int, default=20_000_000, help="second size (default 20 M; 0 skips it)"
    )
    engine.add_argument(
        "--big-repeats", type=int, default=3, help="fresh-process runs at --big-rows (median)"
    )
    engine.add_argument("--engine-repeats", type=int, default=3, help="fresh-process runs at --rows (median)")
    engine.add_argument(
        "--contenders",
        default=",".join(engine_bench.CONTENDERS),
        help=f"engine contenders at --rows, of {', '.join(engine_bench.CONTENDERS)}",
    )
    engine.add_argument(
        "--big-contenders",
        default=",".join(engine_bench.BIG_CONTENDERS),
        help="engine contenders at --big-rows (default: the peer and the engine tasks, to bound the run)",
    )
    engine.add_argument("--engine-output", default=str(HERE / "results" / "engine.md"))
    elt = parser.add_argument_group("elt section (see elt_bench.py; --rows is the flights table's size)")
    elt.add_argument(
        "--elt-repeats", type=int, default=None, help="interleaved runs per contender (default: --repeats)"
    )
    elt.add_argument("--elt-contenders", default=None, help="comma-separated subset (default: all)")
    elt.add_argument("--elt-timeout", type=int, default=None, help="seconds per run (default 1800)")
    elt.add_argument("--elt-output", default=str(HERE / "results" / "elt.md"))
    elt.add_argument(
        "--elt-scheduler-repeats",
        type=int,
        default=None,
        help="scheduler runs per contender (default: as dags test)",
    )
    elt.add_argument(
        "--elt-no-scheduler", action="store_true", help="skip the scheduler runs (trigger to success)"
    )
    parser.add_argument("--no-output", action="store_true", help="print only, do not write result files")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders for inspection")
    parser.add_argument("--check", action="store_true", help="exit 2 when a target is missed")
    args = parser.parse_args(argv)

    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown_sections = set(sections) - set(SECTIONS)
    if unknown_sections:
        parser.error(f"unknown sections {sorted(unknown_sections)}; choose from {SECTIONS}")
    started = time.perf_counter()
    codes = []
    if "factory" in sections:
        print(f"== factory parse benchmark ({time.strftime('%H:%M:%S')})", flush=True)
        codes.append(run_factory(args, parser))
    if "engine" in sections or "load" in sections:
        print(f"== engine benchmark: {', '.join(s for s in sections if s in ('engine', 'load'))} "
              f"({time.strftime('%H:%M:%S')})", flush=True)  # fmt: skip
        codes.append(
            engine_bench.run(
                sections={s for s in sections if s in ("engine", "load")},
                rows=args.rows,
                big_rows=args.big_rows,
                repeats=args.engine_repeats,
                big_repeats=args.big_repeats,
                output=None if args.no_output else Path(args.engine_output),
                keep=args.keep,
                contenders=[c.strip() for c in args.contenders.split(",") if c.strip()],
                big_contenders=[c.strip() for c in args.big_contenders.split(",") if c.strip()],
            )
        )
    if "ui" in sections:
        import ui_bench

        print(f"== builder UI benchmark ({time.strftime('%H:%M:%S')})", flush=True)
        codes.append(ui_bench.run(output=None if args.no_output else HERE / "results" / "ui.md"))
    if "preview" in sections:  # data preview latency (issue 5), see preview_bench.py
        import preview_bench

        print(f"== preview benchmark ({time.strftime('%H:%M:%S')})", flush=True)
        codes.append(
            preview_bench.run(
                rows=args.rows,
                output=None if args.no_output else HERE / "results" / "preview.md",
                keep=args.keep,
            )
        )
    if "suggest" in sections:  # suggestion latency (issue 5), see suggest_bench.py
        import suggest_bench

        print(f"== suggestion benchmark ({time.strftime('%H:%M:%S')})", flush=True)
        codes.append(
            suggest_bench.run(
                rows=10_000, repeats=10, output=None if args.no_output else HERE / "results" / "suggest.md"
            )
        )
    if "validate" in sections:  # design-time checks of a 50-node pipeline (issue 13), see validate_bench.py
        import validate_bench

        print(f"== validation benchmark ({time.strftime('%H:%M:%S')})", flush=True)
        codes.append(
            validate_bench.run(
                repeats=30, output=None if args.no_output else HERE / "results" / "validate.md"
            )
        )
    if "elt" in sections:  # ELT pushdown vs ETL vs SQL by hand, whole Airflow runs, see elt_bench.py
        import elt_bench

        print(f"== ELT benchmark ({time.strftime('%H:%M:%S')})", flush=True)
        codes.append(
            elt_bench.run(
                rows=args.rows,
                repeats=args.elt_repeats or args.repeats,
                output=None if args.no_output else Path(args.elt_output),
                keep=args.keep,
                contenders=[c.strip() for c in args.elt_contenders.split(",") if c.strip()]
                if args.elt_contenders
                else None,
                timeout_s=args.elt_timeout,
                scheduler=not args.elt_no_scheduler,
                scheduler_repeats=args.elt_scheduler_repeats,
            )
        )
    print(f"\nmake bench: {', '.join(sections)} in {time.perf_counter() - started:.0f} s", flush=True)
    if any(code == 1 for code in codes):
        return 1
    return 2 if args.check and any(code == 2 for code in codes) else 0


def run_factory(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The DAG-factory parse benchmark; 0, 1 (a run failed) or 2 (a target missed)."""
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools {sorted(unknown)}; choose from {TOOLS}")

    root = Path(tempfile.mkdtemp(prefix="logidata-bench-"))
    airflow_home = root / "airflow_home"
    airflow_home.mkdir()
    started = time.perf_counter()
    measurements: list[Measurement] = []
    try:
        # One throw-away interpreter writes airflow.cfg into the temp AIRFLOW_HOME and warms the disk cache.
        subprocess.run(
            [sys.executable, "-c", "import airflow.sdk; from airflow.dag_processing.dagbag import DagBag"],
            env=_env(airflow_home, root, root / "unused"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        for size in sizes:
            setups: dict[str, tuple[Path, dict[str, str]]] = {}
            for tool in tools:
                base = root / f"n{size}" / tool
                if tool == "logidata":
                    _pipelines, dags = generate.write_logidata(base, size)
                else:
                    _configs, dags = generate.write_dagfactory(base, size)
                setups[tool] = (dags, _env(airflow_home, dags, base))
                measurements.append(Measurement(tool, size))
            current = {m.tool: m for m in measurements if m.size == size}
            # Interleave the tools so drift on the machine affects both alike.
            for index in range(args.repeats):
                for tool in tools:
                    m = current[tool]
                    if m.error is not None:
                        continue
                    dags, env = setups[tool]
                    try:
                        m.runs.append(_run_once(tool, size, dags, env, root, index))
                    except Exception as exc:  # reported in the table; the other tool still runs
                        m.error = str(exc)
                        print(f"[{TOOL_LABELS[tool]} N={size}] FAILED: {exc}", file=sys.stderr)
                        continue
                    run = m.runs[-1]
                    print(
                        f"[{TOOL_LABELS[tool]} N={size} run {index + 1}/{args.repeats}] "
                        f"parse {run['parse_s']:.2f} s, Airflow import {run['import_s']:.2f} s, "
                        f"{run['dags']} DAGs",
                        flush=True,
                    )
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    imports = [float(r["import_s"]) for m in measurements for r in m.runs]  # type: ignore[arg-type]
    table = _table(measurements)
    target_lines, targets_ok = _targets(measurements)
    airflow_version = next((str(r["airflow_version"]) for m in measurements for r in m.runs), "?")
    notes = [
        f"- Airflow import (excluded above, reported separately): median "
        f"{statistics.median(imports):.2f} s over {len(imports)} runs"
        if imports
        else "- no successful run",
        f"- {args.repeats} fresh-process runs per row, median; DagBag over a folder holding only the tool's "
        "loader file; each pipeline is 5 tasks / 4 edges (checked)",
        f"- Airflow {airflow_version}, dag-factory {_version('dag-factory')}, "
        f"airflow-provider-logidata {_version('airflow-provider-logidata')}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; "
        f"bench wall time {time.perf_counter() - started:.0f} s",
    ]
    errors = [f"- {TOOL_LABELS[m.tool]} N={m.size}: {m.error}" for m in measurements if m.error]

    print()
    print("\n".join(table))
    print()
    print("\n".join(target_lines))
    print("\n".join(notes))
    if errors:
        print("\nErrors:\n" + "\n".join(e.splitlines()[0] for e in errors))

    if not args.no_output:
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        body = [
            "# Factory parse benchmark",
            "",
            "Generated by `make bench` (`benchmarks/run.py`); time to build a fresh `DagBag` over N "
            "five-node pipelines.",
            "",
            *table,
            "",
            *target_lines,
            *notes,
        ]
        if errors:
            body += ["", "## Errors", "", "```", *errors, "```"]
        output.write_text("\n".join(body) + "\n", encoding="utf-8")
        print(f"\nwrote {output}")

    if errors:
        return 1
    return 0 if targets_ok else 2


if __name__ == "__main__":
    sys.exit(main())
