"""One engine-benchmark measurement in a fresh interpreter: ``python engine_task.py SPEC_JSON RESULT_JSON``.

Run by ``engine_bench.py``. SPEC_JSON names the ``kind`` and its inputs; the imports a contender needs are
timed separately (``import_s``), then only the work (``wall_s``). The process's peak resident memory
(``VmHWM`` of ``/proc/self/status``, which covers DuckDB's and Arrow's threads) is ``peak_rss_mb``.
``getrusage(RUSAGE_SELF).ru_maxrss`` is not used: on Linux it keeps the high-water mark of the image
replaced by ``exec``, i.e. of the forked copy of the parent, so a child of a big parent reports the
parent's size (measured: a child of an 800 MB parent reports 812 MB, VmHWM 11 MB).
Results go to RESULT_JSON; stdout and stderr are left to the libraries' logging.

Kinds:

- ``pandas`` / ``duckdb``: the peers, CSV -> cleaned Parquet written by hand;
- ``ld_source`` / ``ld_chain`` / ``ld_destination``: one LogiData task's function (``engine.runner`` /
  ``engine.chain``), as a real task process would run it, CSV -> staging -> staging -> Parquet;
- ``dag``: ``dag.test()`` of one pipeline built by the real DAG factory (after a warm-up run of a tiny
  pipeline in the same process); per-task wall time and resident memory sampled from ``/proc``;
- ``ld_pg_load``: LogiData's ``destination.postgres`` writing a staged input.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import engine_data  # noqa: E402  (sibling module; benchmarks/ is not a package)


def peak_rss_mb() -> float:
    """Peak resident memory of this process image (VmHWM, in MB)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # fallback (see the module docstring)


def current_rss_mb() -> float:
    import os

    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class RssSampler:
    """Current resident memory of this process, from /proc/self/statm, every ``interval`` seconds."""

    def __init__(self, interval: float = 0.02) -> None:
        import os

        self.interval = interval
        self.page_mb = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
        self.samples: list[tuple[float, float]] = []  # (time.time(), MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        with open("/proc/self/statm", "rb") as statm:
            while not self._stop.is_set():
                statm.seek(0)
                pages = int(statm.read().split()[1])
                self.samples.append((time.time(), pages * self.page_mb))
                self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float, end: float) -> float | None:
        values = [mb for at, mb in self.samples if start <= at <= end]
        return max(values) if values else None


class CollectingLog:
    """A TaskLog that keeps the engine's messages (per-step times of a chain) and echoes them."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._log = logging.getLogger("engine_task")

    def info(self, msg: str, /) -> None:
        self.lines.append(msg)
        self._log.info(msg)

    def warning(self, msg: str, /) -> None:
        self.lines.append("WARNING " + msg)
        self._log.warning(msg)


# --- peers -------------------------------------------------------------------------------------------


def run_pandas(spec: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    import pandas as pd
    import pyarrow as pa

    import_s = time.perf_counter() - started
    started = time.perf_counter()
    df = pd.read_csv(spec["csv"])
    read_s = time.perf_counter() - started
    df = df.drop_duplicates(keep="first")
    for column in engine_data.TEXT_COLUMNS:
        df[column] = df[column].str.strip().str.replace(r"\s+", " ", regex=True).str.lower()
    text = df[engine_data.DATE_COLUMN]
    parsed = None
    for fmt in engine_data.DATE_FORMATS:
        attempt = pd.to_datetime(text, format=fmt, errors="coerce")
        parsed = attempt if parsed is None else parsed.fillna(attempt)
    df[engine_data.DATE_COLUMN] = parsed.astype(pd.ArrowDtype(pa.date32()))  # type: ignore[union-attr]
    df = df.fillna({fill["column"]: fill["value"] for fill in engine_data.FILLS})
    df["quantity"] = df["quantity"].astype("int64")  # read as float because of the nulls
    df.to_parquet(spec["out"], compression="zstd", index=False)
    wall_s = time.perf_counter() - started
    return {"import_s": import_s, "wall_s": wall_s, "read_s": read_s, "rows_out": len(df)}


def duckdb_sql(csv: str, out: str) -> str:
    """The chain as one hand-written DuckDB statement (what a data engineer would write)."""
    texts = ", ".join(
        f"lower(regexp_replace(trim({c}), '\\s+', ' ', 'g')) AS {c}" for c in engine_data.TEXT_COLUMNS
    )
    date = " , ".join(f"try_strptime(order_date, '{fmt}')" for fmt in engine_data.DATE_FORMATS)
    return (
        "COPY (SELECT * REPLACE ("
        f"{texts}, CAST(coalesce({date}) AS DATE) AS order_date, coalesce(amount, 0) AS amount, "
        "coalesce(quantity, 0) AS quantity, coalesce(country, 'unknown') AS country) "
        f"FROM (SELECT DISTINCT * FROM read_csv('{csv}'))) "
        f"TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
    )


def run_duckdb(spec: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    import duckdb

    import_s = time.perf_counter() - started
    started = time.perf_counter()
    con = duckdb.connect()
    rows = con.execute(duckdb_sql(spec["csv"], spec["out"])).fetchall()
    con.close()
    wall_s = time.perf_counter() - started
    return {"import_s": import_s, "wall_s": wall_s, "rows_out": int(rows[0][0]) if rows else None}


# --- LogiData engine, one task per process ---------------------------------------------------------


def _import_engine() -> float:
    started = time.perf_counter()
    import airflow.sdk  # noqa: F401  (staging paths are ObjectStoragePaths, as in a task)

    from airflow_provider_logidata.engine import chain, runner  # noqa: F401

    return time.perf_counter() - started


class SqlTrace:
    """Records every statement the engine runs through ``duck.fetch_all`` / ``duck.stream`` with its time.

    Wraps the module functions (no engine code changes); for ``stream`` the time is what DuckDB spends
    producing batches while the staging writer consumes them (the writer's own time is not included).
    """

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def install(self) -> None:
        import pyarrow as pa

        from airflow_provider_logidata.engine import duck

        original_fetch_all = duck.fetch_all
        original_stream = duck.stream
        items = self.items

        def fetch_all(con: Any, sql: str) -> Any:
            started = time.perf_counter()
            try:
                return original_fetch_all(con, sql)
            finally:
                items.append({"call": "fetch_all", "sql": sql, "seconds": time.perf_counter() - started})

        def stream(con: Any, sql: str, **kwargs: Any) -> Any:
            started = time.perf_counter()
            reader = original_stream(con, sql, **kwargs)
            entry: dict[str, Any] = {"call": "stream", "sql": sql, "seconds": time.perf_counter() - started}
            items.append(entry)

            def batches() -> Any:
                while True:
                    started = time.perf_counter()
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        entry["seconds"] += time.perf_counter() - started
                        return
                    entry["seconds"] += time.perf_counter() - started
                    yield batch

            return pa.RecordBatchReader.from_batches(reader.schema, batches())

        duck.fetch_all = fetch_all  # type: ignore[assignment]
        duck.stream = stream  # type: ignore[assignment]


def _source_keeps_order(csv: str) -> bool:
    """What the DAG factory decides for the pipeline's source (``dag_factory.row_order``)."""
    from airflow_provider_logidata.dag_factory.row_order import order_free_nodes
    from airflow_provider_logidata.modules.registry import registry
    from airflow_provider_logidata.spec.models import Pipeline

    document = Pipeline.model_validate(engine_data.pipeline("bench", csv, "/dev/null", fuse=True))
    modules = {node.id: registry()[node.module] for node in document.nodes}
    return "read_orders" not in order_free_nodes(document, modules)


def run_ld_source(spec: dict[str, Any]) -> dict[str, Any]:
    import_s = _import_engine()
    from airflow_provider_logidata.engine.runner import run_source

    keep_order = _source_keeps_order(spec["csv"])
    log = CollectingLog()
    rss = current_rss_mb()
    started = time.perf_counter()
    handle = run_source(
        engine_data.source_config(spec["csv"]),
        "read_orders",
        spec["out"],
        module="source.file",
        log=log,
        keep_order=keep_order,
    )
    return {
        "import_s": import_s,
        "rss_after_import_mb": rss,
        "wall_s": time.perf_counter() - started,
        "handle": handle,
        "log": log.lines,
    }


def run_ld_chain(spec: dict[str, Any]) -> dict[str, Any]:
    import_s = _import_engine()
    from airflow_provider_logidata.engine.chain import ChainStep, run_chain

    steps = [ChainStep(node_id=n, module=m, config=c) for n, m, c in engine_data.chain_nodes()]
    trace = SqlTrace()
    if spec.get("trace_sql"):
        trace.install()
    log = CollectingLog()
    rss = current_rss_mb()
    started = time.perf_counter()
    handle = run_chain(steps, [spec["handle"]], spec["out"], log=log)
    return {
        "import_s": import_s,
        "rss_after_import_mb": rss,
        "wall_s": time.perf_counter() - started,
        "handle": handle,
        "log": log.lines,
        "sql": trace.items,
    }


def run_ld_chain_profile(spec: dict[str, Any]) -> dict[str, Any]:
    """Rebuild a traced chain's steps in an engine connection, then time where its last stream goes.

    Splits the chain task's time into: building the steps (the traced CREATE statements), computing the
    final SELECT inside DuckDB (an aggregate over a hash of every column: all values computed, nothing
    materialised), exporting it to Arrow, and writing Parquet; and times alternatives for the costliest
    pieces (deduplicate, the clean_text regular expressions) on the same data and settings.
    """
    _import_engine()
    import duckdb
    import pyarrow.parquet as pq

    from airflow_provider_logidata import settings
    from airflow_provider_logidata.engine import duck

    lines: list[str] = []
    out = spec["out"]
    inputs = duck.locate_inputs([spec["handle"]])
    with duck.connect(external_access=True, inputs=inputs) as con:

        def timed(what: str, sql: str) -> float | None:
            started = time.perf_counter()
            try:
                con.execute(sql).fetchall()
            except duckdb.Error as error:
                lines.append(f"{what}: failed ({str(error).splitlines()[0][:200]})")
                return None
            seconds = time.perf_counter() - started
            lines.append(f"{seconds:6.2f} s  {what}")
            return seconds

        def all_columns(relation: str) -> str:
            """Forces every column of ``relation`` to be computed, returns one row."""
            names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
            return f"SELECT bit_xor(hash({', '.join(chr(34) + n + chr(34) for n in names)})) FROM {relation}"

        threads = con.execute("SELECT current_setting('threads')").fetchone()
        lines.append(
            f"settings: memory_limit {settings.duckdb_memory_limit()}, threads {threads[0] if threads else '?'}, "
            "preserve_insertion_order true (the engine's connection)"
        )
        final = None
        for item in spec["sql"]:
            if item["call"] == "stream":
                final = item["sql"]
            elif item["sql"].startswith("COPY ("):  # the chain written by DuckDB's Parquet writer
                final = item["sql"][len("COPY (") : item["sql"].rindex(") TO ")]
            elif item["sql"].startswith("CREATE TEMP"):
                short = item["sql"] if len(item["sql"]) <= 120 else item["sql"][:117] + "..."
                timed(f"rebuild step: {short}", item["sql"])
        if final is not None:
            timed(f"final `{final}` computed inside DuckDB only (hash of every column, no output)",
                  all_columns(f"({final})"))  # fmt: skip
            started = time.perf_counter()
            reader = con.sql(final).to_arrow_reader(settings.batch_rows())
            rows = sum(batch.num_rows for batch in reader)
            lines.append(
                f"{time.perf_counter() - started:6.2f} s  final SELECT exported as Arrow batches and dropped "
                f"({rows} rows, no writing)"
            )
            timed(
                "final SELECT written by DuckDB's own Parquet writer instead (COPY ... TO, zstd)",
                f"COPY ({final}) TO '{out}' (FORMAT parquet, COMPRESSION zstd)",
            )
            table = pq.read_table(out)
            started = time.perf_counter()
            pq.write_table(table, out, compression="zstd", row_group_size=settings.batch_rows())
            lines.append(
                f"{time.perf_counter() - started:6.2f} s  pyarrow Parquet writer alone (what the staging writer "
                "does), same rows from memory, zstd"
            )
            del table
        lines.append("alternatives on the same data and settings (for comparison; not what the engine runs):")
        timed("scan of the staged input, every column (baseline)", all_columns("input_0"))
        timed(
            "deduplicate as SELECT DISTINCT * into a temp table (input order lost)",
            "CREATE TEMP TABLE alt_d1 AS SELECT DISTINCT * FROM input_0",
        )
        timed(
            "deduplicate keeping the first in input order: min(row_number) GROUP BY ALL, ORDER BY it, into a "
            "temp table",
            "CREATE TEMP TABLE alt_d2 AS SELECT * EXCLUDE (__rn) FROM (SELECT * EXCLUDE (__rn), min(__rn) AS __rn "
            "FROM (SELECT *, row_number() OVER () AS __rn FROM input_0) GROUP BY ALL) ORDER BY __rn",
        )
        cols = engine_data.TEXT_COLUMNS
        from airflow_provider_logidata.modules.transforms.clean_text import (
            CleanTextConfig,
            clean_text_expression,
        )

        clean = CleanTextConfig(trim=True, collapse_spaces=True, case="lower")
        engine_expr = ", ".join(clean_text_expression(c, clean) for c in cols)
        hand_expr = ", ".join(f"lower(regexp_replace(trim({c}), '\\s+', ' ', 'g'))" for c in cols)
        timed("clean_text as the engine writes it (Unicode white space, one regexp + trim() per column), 4 columns, "
              "no output",
              f"SELECT bit_xor(hash({engine_expr})) FROM input_0")  # fmt: skip
        timed("clean_text written by hand (trim() + one regexp per column), 4 columns, no output",
              f"SELECT bit_xor(hash({hand_expr})) FROM input_0")  # fmt: skip
    return {"lines": lines}


def run_fingerprint(spec: dict[str, Any]) -> dict[str, Any]:
    """Cheap content summary of a cleaned output (equal for every correct contender)."""
    import duckdb

    con = duckdb.connect(config={"memory_limit": "2GB"})
    row = con.execute(
        "SELECT count(*), count(DISTINCT id), CAST(sum(amount) AS DECIMAL(18, 2)), sum(quantity), "
        "count(order_date), min(order_date), max(order_date), count(*) FILTER (WHERE country = 'unknown'), "
        "count(DISTINCT customer), md5(string_agg(DISTINCT city, ',' ORDER BY city)), "
        "md5(string_agg(DISTINCT status, ',' ORDER BY status)), "
        "count(*) FILTER (WHERE customer <> lower(trim(customer)) OR customer LIKE '%  %') "
        f"FROM read_parquet('{spec['path']}')"
    ).fetchone()
    con.close()
    return {"import_s": 0.0, "wall_s": 0.0, "fingerprint": [str(value) for value in row or ()]}


def run_ld_pg_config(spec: dict[str, Any]) -> dict[str, Any]:
    """A ``destination.postgres`` config for the bench table, built from the module's config model."""
    import typing

    from airflow_provider_logidata.modules.registry import registry

    definition = registry().get("destination.postgres")
    if definition is None:
        raise RuntimeError("the module registry has no destination.postgres")
    model = definition.config_model
    config: dict[str, Any] = {}
    precreate = False
    for name, info in model.model_fields.items():
        key = name.lower()
        field_name = info.alias or name  # configs are stored (and validated) by alias, e.g. "schema"
        choices = [a for a in typing.get_args(info.annotation) if isinstance(a, str)]
        if "conn" in key:
            config[field_name] = spec["conn_id"]
        elif key in ("table", "table_name", "target_table"):
            config[field_name] = spec["table"]
        elif info.is_required() and "schema" in key:
            config[field_name] = "public"
        elif choices and key in ("mode", "if_exists", "write_mode", "write_disposition", "load_mode"):
            # replace: the module's own full-refresh path (what a nightly load uses); else append.
            for preferred in ("replace", "overwrite", "truncate", "append", "insert"):
                if preferred in choices:
                    config[field_name] = preferred
                    precreate = preferred in ("truncate", "append", "insert")
                    break
    model.model_validate(config)  # raises (and the bench says why) when a required field is unknown
    return {"import_s": 0.0, "wall_s": 0.0, "config": config, "precreate": precreate}


def run_ld_destination(spec: dict[str, Any]) -> dict[str, Any]:
    import_s = _import_engine()
    from airflow_provider_logidata.engine.runner import run_destination

    log = CollectingLog()
    rss = current_rss_mb()
    started = time.perf_counter()
    result = run_destination(
        engine_data.destination_config(spec["out"]),
        "write_orders",
        [spec["handle"]],
        module="destination.file",
        log=log,
    )
    return {
        "import_s": import_s,
        "rss_after_import_mb": rss,
        "wall_s": time.perf_counter() - started,
        "result": result,
        "log": log.lines,
    }


def run_ld_pg_load(spec: dict[str, Any]) -> dict[str, Any]:
    import_s = _import_engine()
    started = time.perf_counter()
    # The destination's writer imports the engine's PostgreSQL load on first use: timed as import.
    from airflow_provider_logidata.engine import pg_load  # noqa: F401

    import_s += time.perf_counter() - started
    from airflow_provider_logidata.engine.runner import run_destination

    log = CollectingLog()
    started = time.perf_counter()
    result = run_destination(
        spec["config"], "load_orders", [spec["handle"]], module="destination.postgres", log=log
    )
    return {"import_s": import_s, "wall_s": time.perf_counter() - started, "result": result, "log": log.lines}


def run_ld_pg_path(spec: dict[str, Any]) -> dict[str, Any]:
    """The fused path ``source.file -> destination.postgres`` (``fuse: paths``): one task function."""
    import_s = _import_engine()
    started = time.perf_counter()
    from airflow_provider_logidata.engine import pg_load  # noqa: F401  (as ld_pg_load: timed as import)
    from airflow_provider_logidata.engine.chain import ChainStep
    from airflow_provider_logidata.engine.path import run_path

    import_s += time.perf_counter() - started
    log = CollectingLog()
    started = time.perf_counter()
    result = run_path(
        ChainStep("read_orders", "source.file", engine_data.source_config(spec["csv"])),
        [],
        ChainStep("load_orders", "destination.postgres", spec["config"]),
        log=log,
    )
    return {"import_s": import_s, "wall_s": time.perf_counter() - started, "result": result, "log": log.lines}


# --- full DAG run ------------------------------------------------------------------------------------


PEER_DAG = """\
# A plain Airflow DAG (the like-for-like peer of a LogiData pipeline): one PythonOperator running the
# cleaning chain as DuckDB SQL written by hand. Generated by benchmarks/engine_bench.py.
import datetime as dt

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

BOUNDED = {bounded!r}  # False: DuckDB's defaults (80 % of RAM); True: LogiData's memory_limit


def clean_orders(sql):
    import duckdb

    if not BOUNDED:
        con = duckdb.connect()
        try:
            return con.execute(sql).fetchall()[0][0]
        finally:
            con.close()
    # The same bounded memory as LogiData's engine in this very process ([logidata] duckdb_memory_limit
    # as LogiData resolves it, ``auto`` included), spilling to a temporary folder.
    import shutil
    import tempfile

    from airflow_provider_logidata import settings

    limit = settings.duckdb_memory_limit()
    print(f"peer: DuckDB memory_limit {{limit}}")
    temp_dir = tempfile.mkdtemp(prefix="peer-duckdb-")
    con = duckdb.connect(config={{"memory_limit": limit, "temp_directory": temp_dir}})
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


for dag_id, sql in {cases!r}.items():
    with DAG(dag_id, schedule=None, start_date=dt.datetime(2024, 1, 1), catchup=False) as dag:
        PythonOperator(task_id="clean_orders", python_callable=clean_orders, op_kwargs={{"sql": sql}})
    globals()[dag_id] = dag
"""


def peer_dag_file(cases: dict[str, tuple[str, str]], *, bounded: bool = False) -> str:
    """The peer DAG file's text: ``{dag_id: (csv, out)}`` each run by one PythonOperator.

    ``bounded``: its DuckDB connection gets the ``memory_limit`` LogiData's engine would use in that task
    process (``settings.duckdb_memory_limit()``) and a ``temp_directory`` of its own (removed at the end),
    as LogiData's engine connection does; else DuckDB's defaults."""
    return PEER_DAG.format(
        bounded=bounded,
        cases={dag_id: duckdb_sql(csv, out) for dag_id, (csv, out) in cases.items()},
    )


def run_dag(spec: dict[str, Any]) -> dict[str, Any]:
    """``dag.test()`` of ``spec["dag_id"]`` after a warm-up ``dag.test()`` of ``spec["warmup_dag_id"]``.

    The first ``dag.test()`` in a process pays one-time set-up (about 7 s: the in-process execution API,
    serialisation, bundle sync); a scheduler and its workers are long-lived, so that cost is reported
    (``warmup_s``) but kept out of ``wall_s``.
    """
    started = time.perf_counter()
    import airflow.sdk  # noqa: F401

    if spec.get("dag_file"):  # a plain Airflow DAG file (the peer)
        import runpy

        namespace: dict[str, Any] = runpy.run_path(spec["dag_file"])
        dag, warmup = namespace[spec["dag_id"]], namespace[spec["warmup_dag_id"]]
    else:
        from airflow_provider_logidata.dag_factory import load_pipelines

        namespace = {"__file__": spec["loader"]}
        report = load_pipelines(namespace)
        failed = {p.id: p.errors for p in report.failed}
        if failed:
            raise RuntimeError(f"pipelines failed to load: {failed}")
        dag = namespace[f"logidata_dag__{spec['dag_id']}"]
        warmup = namespace[f"logidata_dag__{spec['warmup_dag_id']}"]
    import_s = time.perf_counter() - started

    started = time.perf_counter()
    warm_run = warmup.test()
    warmup_s = time.perf_counter() - started
    if str(warm_run.state) != "success":
        raise RuntimeError(f"warm-up DAG run ended {warm_run.state}")

    with RssSampler() as sampler:
        rss_before = sampler.samples[-1][1] if sampler.samples else None
        started = time.perf_counter()
        dag_run = dag.test()
        wall_s = time.perf_counter() - started
    state = str(dag_run.state)
    tasks = []
    for ti in sorted(dag_run.get_task_instances(), key=lambda t: t.start_date or t.end_date):
        start = ti.start_date.timestamp() if ti.start_date else None
        end = ti.end_date.timestamp() if ti.end_date else None
        tasks.append(
            {
                "task_id": ti.task_id,
                "state": str(ti.state),
                "seconds": (end - start) if start and end else None,
                "peak_rss_mb": sampler.peak(start, end) if start and end else None,
            }
        )
    if state != "success":
        raise RuntimeError(f"DAG run ended {state}: {tasks}")
    return {
        "import_s": import_s,
        "warmup_s": warmup_s,
        "wall_s": wall_s,
        "rss_before_mb": rss_before,
        "tasks": tasks,
        "state": state,
    }


KINDS = {
    "pandas": run_pandas,
    "duckdb": run_duckdb,
    "ld_source": run_ld_source,
    "ld_chain": run_ld_chain,
    "ld_destination": run_ld_destination,
    "ld_pg_load": run_ld_pg_load,
    "ld_pg_path": run_ld_pg_path,
    "ld_pg_config": run_ld_pg_config,
    "ld_chain_profile": run_ld_chain_profile,
    "fingerprint": run_fingerprint,
    "dag": run_dag,
}


def main() -> int:
    spec_path, result_path = sys.argv[1], sys.argv[2]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    cpu_before = cpu_s()
    result = KINDS[spec["kind"]](spec)
    result["peak_rss_mb"] = peak_rss_mb()
    result["cpu_s"] = cpu_s() - cpu_before
    Path(result_path).write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
