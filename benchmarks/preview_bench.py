"""``make bench`` preview section: p95 latency of a 100-row preview at the end of a five-node chain.

Two sources, each 5 M rows (``--rows``) of the engine benchmark's messy data (``engine_data.py``):
a CSV file and a PostgreSQL table (the same CSV loaded with ``COPY`` into the test suite's throw-away
server, ``tests/pg.py``, with its bulk-load settings). The chain is the engine benchmark's: source ->
deduplicate -> clean_text -> parse_dates -> fill_nulls; the preview is of ``fill_missing`` (the last
node), 100 rows, head sampling, through :func:`airflow_provider_logidata.preview.service.preview` with
the real worker pool (warm workers, cache disabled so every run computes). Peers, measured in the same
run: a hand-written DuckDB ``SELECT * FROM read_csv(...) LIMIT 100`` and a psycopg
``SELECT * FROM orders LIMIT 100``, each in the benchmark process itself (no worker round trip, no
transforms, no profile). Target: p95 < 1 s. Results go to ``results/preview.md``.

    .venv/bin/python benchmarks/preview_bench.py --rows 1000000 --repeats 10
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import engine_data  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

TARGET_S = 1.0
CONN_ID = "bench_preview_pg"
PG_TABLE_SQL = (
    "CREATE TABLE orders (id bigint, customer text, email text, city text, country text, category text, "
    "order_date text, amount numeric(12,2), quantity integer, status text)"
)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def _measure(action: Callable[[], Any], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def _chain_pipeline(pipeline_id: str, source: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    nodes = [source, *engine_data.chain_nodes()]
    return {
        "spec_version": 1,
        "id": pipeline_id,
        "name": pipeline_id,
        "engine": "etl",
        "nodes": [{"id": n, "module": m, "config": c} for n, m, c in nodes],
        "edges": [{"source": a[0], "target": b[0]} for a, b in itertools.pairwise(nodes)],
    }


def _load_postgres(server: Any, csv_path: Path) -> str:
    with server.connect(autocommit=True) as con:
        con.execute("CREATE DATABASE bench_preview")
    with server.connect("bench_preview", autocommit=True) as con:
        con.execute(PG_TABLE_SQL)
        with (
            con.cursor() as cur,
            cur.copy("COPY orders FROM STDIN (FORMAT csv, HEADER true)") as copy,
            csv_path.open("rb") as source,
        ):
            while chunk := source.read(8 << 20):
                copy.write(chunk)
        con.execute("ANALYZE orders")
    return str(server.airflow_conn("bench_preview"))


def run(*, rows: int = 5_000_000, repeats: int = 20, output: Path | None = None, keep: bool = False) -> int:
    """Measure and print; 0 when both previews meet the target, 2 when one misses it, 1 on failure."""
    root = Path(tempfile.mkdtemp(prefix="logidata-preview-bench-"))
    os.environ.setdefault("AIRFLOW_HOME", str(root / "airflow_home"))
    os.environ["AIRFLOW__LOGIDATA__PREVIEW_CACHE_ENTRIES"] = "0"
    os.environ["AIRFLOW__LOGIDATA__ALLOWED_PATHS"] = f"{root},{tempfile.gettempdir()}"  # the path policy
    os.environ["AIRFLOW__LOGIDATA__PREVIEW_TIMEOUT"] = "60"
    csv_path = root / "orders.csv"
    print(f"preview: writing {rows:,} rows to {csv_path}", flush=True)
    info = engine_data.write_messy_csv(csv_path, rows)
    results: list[tuple[str, list[float]]] = []
    code = 0
    import duckdb

    from airflow_provider_logidata.preview import service
    from tests import pg as test_pg

    try:
        service.start()
        csv_doc = _chain_pipeline(
            "bench_preview_csv", ("read_orders", "source.file", engine_data.source_config(str(csv_path)))
        )
        for _ in range(service.get_pool().workers):  # every worker warm: jobs rotate through the idle queue
            service.preview(csv_doc, "fill_missing")
        results.append(
            (
                "LogiData preview, CSV, 5-node chain",
                _measure(lambda: service.preview(csv_doc, "fill_missing"), repeats),
            )
        )
        con = duckdb.connect()
        peer_sql = f"SELECT * FROM read_csv('{csv_path}') LIMIT 100"
        results.append(
            (
                "DuckDB `read_csv ... LIMIT 100` (peer)",
                _measure(lambda: con.sql(peer_sql).fetchall(), repeats),
            )
        )
        con.close()
        try:
            with test_pg.start_server(
                bin_dir=os.environ.get("LOGIDATA_BENCH_PG_BIN"), settings=test_pg.BULK_LOAD_SETTINGS
            ) as server:
                print("preview: loading the CSV into PostgreSQL", flush=True)
                os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = _load_postgres(server, csv_path)
                pg_doc = _chain_pipeline(
                    "bench_preview_pg",
                    ("read_orders", "source.postgres", {"conn_id": CONN_ID, "table": "orders"}),
                )
                for _ in range(service.get_pool().workers):
                    service.preview(pg_doc, "fill_missing")
                results.append(
                    (
                        "LogiData preview, PostgreSQL, 5-node chain",
                        _measure(lambda: service.preview(pg_doc, "fill_missing"), repeats),
                    )
                )
                with server.connect("bench_preview") as pg:
                    results.append(
                        (
                            "psycopg `SELECT * FROM orders LIMIT 100` (peer)",
                            _measure(
                                lambda: pg.execute("SELECT * FROM orders LIMIT 100").fetchall(), repeats
                            ),
                        )
                    )
        except test_pg.PostgresUnavailable as error:
            print(f"preview: PostgreSQL part not run: {error}", flush=True)
            code = 1
    finally:
        service.shutdown()
        if not keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
    lines = [
        f"# Preview latency ({rows:,} rows, {info['bytes'] / 1e6:.0f} MB CSV; {repeats} runs each)",
        "",
        "| what | p50 (ms) | p95 (ms) | target |",
        "|---|---:|---:|---|",
    ]
    for label, times in results:
        p95 = _p95(times)
        target = ""
        if label.startswith("LogiData"):
            met = p95 < TARGET_S
            target = f"p95 < {TARGET_S * 1000:.0f} ms: {'met' if met else 'MISSED'}"
            if not met and code == 0:
                code = 2
        lines.append(f"| {label} | {statistics.median(times) * 1000:.0f} | {p95 * 1000:.0f} | {target} |")
    lines += [
        "",
        "The preview reads 1,000 rows from the source (the chain has a deduplicate, which may drop rows), runs the",
        "four transforms with their module builders in DuckDB, profiles the output and encodes 100 rows, in a",
        "preview worker process (time including the round trip from the calling thread). Peers read 100 raw rows",
        "in the benchmark process.",
    ]
    text = "\n".join(lines)
    print(text, flush=True)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--output", default=str(HERE / "results" / "preview.md"))
    parser.add_argument("--no-output", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return run(
            rows=args.rows,
            repeats=args.repeats,
            output=None if args.no_output else Path(args.output),
            keep=args.keep,
        )
    return 1


if __name__ == "__main__":
    sys.exit(main())
