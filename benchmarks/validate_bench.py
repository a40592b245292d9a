"""``make bench`` validate section: design-time checks of a 50-node pipeline (issue 13).

The pipeline: a CSV source (10 columns, 100,000 rows of ``engine_data.py``'s messy data), 48 cleaning
transforms (parse_dates once, then deduplicate, clean_text, fill_nulls, filter_rows, derive_column,
select_columns and sort in turn), and a Parquet destination. What a user sees is ``POST /validate`` as the builder calls
it on each edit: :func:`airflow_provider_logidata.schema.service.check` through the real preview worker
pool (warm workers), which reads the source's columns (remembered afterwards), binds each node's SQL on
empty inputs and computes column lineage. Figures:

- cold: the first check (the source read, every node bound) on a started, warm worker pool;
- unchanged: the same pipeline again (source columns and bindings remembered) - the issue's target,
  p95 < 200 ms;
- one edit: the middle node's condition changed before each check (that node and the 25 after it bind
  again), the builder's common case;
- narrower: the same three in the benchmark process itself (no worker round trip).

Peer, measured in the same run: what a user had to do before to find a wrong column - a 100-row preview
of the last node (cache disabled), which runs every node on a sample.

    .venv/bin/python benchmarks/validate_bench.py --repeats 30
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import engine_data  # noqa: E402

TARGET_S = 0.2
NODES = 50


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def _steps() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("deduplicate", {"columns": ["id"]}),
        ("clean_text", {"columns": ["customer", "city"], "trim": True, "case": "title"}),
        ("sort", {"by": [{"column": "amount", "descending": True}]}),
        ("fill_nulls", {"fills": [{"column": "amount", "value": 0}, {"column": "country", "value": "??"}]}),
        ("filter_rows", {"condition": "status <> 'test' AND amount >= 0"}),
        ("derive_column", {"columns": [{"name": "total", "expression": "amount * quantity"}]}),
        (
            "select_columns",
            {"columns": [{"name": "id"}, {"name": "amount"}], "keep_other_columns": True},
        ),
    ]


def pipeline(csv: Path, out: Path, condition: str = "status <> 'test' AND amount >= 0") -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"id": "read", "module": "source.file", "config": {"path": str(csv), "format": "csv"}}
    ]
    steps = _steps()
    for index in range(NODES - 2):
        module, config = steps[index % len(steps)]
        if index == 2:  # once: a parsed date is no text to parse again
            module, config = "parse_dates", {"columns": ["order_date"], "formats": engine_data.DATE_FORMATS}
        if index == (NODES - 2) // 2:
            module, config = "filter_rows", {"condition": condition}
        nodes.append({"id": f"n{index:02d}", "module": module, "config": config})
    nodes.append({"id": "write", "module": "destination.file", "config": {"path": str(out)}})
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"spec_version": 1, "id": "bench_validate", "nodes": nodes, "edges": edges}


def run(*, repeats: int = 30, output: Path | None = None) -> int:
    root = Path(tempfile.mkdtemp(prefix="logidata-validate-bench-"))
    os.environ.setdefault("AIRFLOW_HOME", str(root / "airflow_home"))
    os.environ["AIRFLOW__LOGIDATA__PREVIEW_CACHE_ENTRIES"] = "0"
    os.environ["AIRFLOW__LOGIDATA__ALLOWED_PATHS"] = f"{root},{tempfile.gettempdir()}"
    os.environ["AIRFLOW__LOGIDATA__PREVIEW_TIMEOUT"] = "60"
    csv = root / "orders.csv"
    engine_data.write_messy_csv(csv, 100_000)
    data = pipeline(csv, root / "out.parquet")

    from airflow_provider_logidata.preview import service as preview
    from airflow_provider_logidata.schema import propagate, service
    from airflow_provider_logidata.schema.check import check_pipeline

    def timed(action: Any) -> float:
        started = time.perf_counter()
        result = action()
        elapsed = time.perf_counter() - started
        errors = getattr(result, "errors", [])
        assert not errors, [str(e) for e in errors]
        return elapsed

    edits = iter(range(10**6))

    def edited() -> dict[str, Any]:
        return pipeline(csv, root / "out.parquet", f"amount >= {next(edits)}")

    rows: list[tuple[str, float, float]] = []
    # cold, through the pool: a fresh pool (no bindings) and an empty source cache each time
    cold = []
    for _ in range(3):  # a fresh pool, started and warm as in a running api-server, and no cache
        preview.shutdown()
        service.source_cache().clear()
        pool = preview.get_pool()
        pool.start()
        tiny = {"spec_version": 1, "id": "warm", "nodes": [], "edges": []}
        for _ in range(pool.workers):
            pool.run(service.CHECK_JOB, tiny, "none", {}, None)
        cold.append(timed(lambda: service.check(data)))
    rows.append(("POST /validate path, cold (source read, all bound)", statistics.median(cold), max(cold)))
    for _ in range(preview.get_pool().workers):  # each worker remembers its own bindings
        service.check(data)
    warm = [timed(lambda: service.check(data)) for _ in range(repeats)]
    rows.append(("POST /validate path, unchanged pipeline", statistics.median(warm), _p95(warm)))
    one = [timed(lambda: service.check(edited())) for _ in range(repeats)]
    rows.append(("POST /validate path, one node edited", statistics.median(one), _p95(one)))

    known = service.source_cache().snapshot()
    check_pipeline(data, reach="local", known=known)  # imports the engine into this process
    propagate._BOUND.clear()
    local_cold = [timed(lambda: check_pipeline(data, reach="local", known=known))]
    rows.append(("in process, cold bindings (source columns known)", local_cold[0], local_cold[0]))
    local = [timed(lambda: check_pipeline(data, reach="local", known=known)) for _ in range(repeats)]
    rows.append(("in process, unchanged pipeline", statistics.median(local), _p95(local)))
    local_one = [timed(lambda: check_pipeline(edited(), reach="local", known=known)) for _ in range(repeats)]
    rows.append(("in process, one node edited", statistics.median(local_one), _p95(local_one)))

    peer = [timed(lambda: preview.preview(data, "n47", limit=100)) for _ in range(max(5, repeats // 3))]
    rows.append(("peer: 100-row preview of the last node", statistics.median(peer), _p95(peer)))
    preview.shutdown()

    p95 = rows[1][2]
    lines = [
        "# Validation of a 50-node pipeline (design-time checks, issue 13)",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, {repeats} runs per warm figure. "
        "Source: a 100,000-row, 10-column CSV; 48 transforms; a Parquet destination.",
        "",
        "| what | median | p95 (cold: max) |",
        "|---|---:|---:|",
        *(f"| {name} | {median * 1000:.0f} ms | {high * 1000:.0f} ms |" for name, median, high in rows),
        "",
        f"Target: unchanged pipeline p95 < {TARGET_S * 1000:.0f} ms: "
        + ("met" if p95 < TARGET_S else "MISSED")
        + f" ({p95 * 1000:.0f} ms).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if output is not None:
        output.write_text(text)
    return 0 if p95 < TARGET_S else 2


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--output", default=str(HERE / "results" / "validate.md"))
    parser.add_argument("--no-output", action="store_true")
    args = parser.parse_args()
    return run(repeats=args.repeats, output=None if args.no_output else Path(args.output))


if __name__ == "__main__":
    sys.exit(main())
