"""Cursor sources pushed down (issue 14): a cursor ``source.postgres -> filter_rows -> destination.postgres``
runs inside PostgreSQL in one task (``engine.elt_cursor``) and gives what the ETL engine gives.

- parity: ETL and ELT, append and merge, over three runs with rows added between them (rows tied on the
  last cursor value, an identical twin of a row already loaded, values of every type the row hash writes)
  end with identical tables and identical cursor states (value and boundary hashes);
- a rerun loads nothing twice; a load refused by the table leaves the table and the cursor as they were,
  and the run after the fix loads those rows exactly once;
- ``pg_stat_statements``: no row leaves the database (only the new cursor, counts and hashes);
- ``engine: elt`` is accepted for such a path, refused naming the node for a cursor source that branches.

Real Airflow ``dag.test()`` through the DAG factory, against the suite's throw-away PostgreSQL.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import specs

pytestmark = pytest.mark.integration

EVENTS = (
    "CREATE TABLE events (id int NOT NULL, name text, amount numeric(10,2), score double precision, "
    "ratio real, flag boolean, day date, at timestamptz NOT NULL, local_at timestamp, "
    "blob bytea, tag varchar(12), meta jsonb, clock time, share numeric, code char(4))"
)
FILTER = "name IS NULL OR name <> 'skip'"


def _batch(first: int, last: int, at: str) -> str:
    """Rows ``first..last`` at ``at``, with values that exercise the row hash."""
    return (
        "SELECT g, CASE WHEN g % 5 = 0 THEN 'skip' WHEN g % 7 = 0 THEN NULL "
        "ELSE 'n' || g || E' \"q\" \\\\ é\\n' END, (g * 1.25)::numeric(10,2), "
        "((ARRAY['0.1', '1000000000000000.5', '1e16', '-0', '100', '1e-5', '123456.789', '-Infinity']"
        ")::float8[])[1 + g % 8], "
        f"(g / 10.0)::real, g % 2 = 0, date '2024-01-01' + g, timestamptz {at!r}, "
        "timestamp '2024-02-03 04:05:06' + g * interval '0.25 second', decode(lpad(to_hex(g), 4, '0'), 'hex'), "
        "'t' || g, jsonb_build_object('g', g), time '10:00' + g * interval '0.5 second', g / 3.0, "
        f"left('c' || g, 4) FROM generate_series({first}, {last}) g"
    )


def add(pg: Any, first: int, last: int, at: str) -> None:
    pg.execute("INSERT INTO events " + _batch(first, last, at))


def _row(row: Any) -> tuple[Any, ...]:
    """A row with jsonb (a dict) as its text, as the loads write it."""
    return tuple(json.dumps(v) if isinstance(v, dict) else v for v in row)


def rows(pg: Any, table: str) -> Counter[tuple[Any, ...]]:
    return Counter(_row(r) for r in pg.execute(f"SELECT * FROM {table}").fetchall())


def expected(pg: Any, mode: str = "append") -> Counter[tuple[Any, ...]]:
    """The source's rows past the filter (each once for a merge on id: the source holds twins)."""
    distinct = "DISTINCT " if mode == "merge" else ""
    # unconstrained numeric is read as numeric(38,9) by both engines (README, Types)
    columns = "id, name, amount, score, ratio, flag, day, at, local_at, blob, tag, meta, clock, "
    columns += "share::numeric(38,9), code"
    query = f"SELECT {distinct}{columns} FROM events WHERE {FILTER}"
    return Counter(_row(r) for r in pg.execute(query).fetchall())


def state(pg: Any, dag_id: str, destination: str = "load") -> dict[str, Any] | None:
    row = pg.execute(
        "SELECT state FROM public.logidata_cursor_state WHERE dag_id = %s AND destination_task = %s",
        (dag_id, destination),
    ).fetchone()
    if row is None:
        return None
    found = dict(row[0])
    found.pop("committed_at", None)
    return found


def forget_variables(prefix: str) -> None:
    from airflow.models import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Variable).filter(Variable.key.like(f"{prefix}%")).delete(synchronize_session=False)


def pipeline(dag_id: str, conn_id: str, engine: str, table: str, mode: str) -> dict[str, Any]:
    destination: dict[str, Any] = {"table": table, "mode": mode}
    if mode == "merge":
        destination["keys"] = ["id"]
    return specs.linear(
        [
            specs.incremental_source(conn_id, "events", "at"),
            {"id": "keep", "module": "filter_rows", "config": {"condition": FILTER}},
            specs.pg_destination(conn_id, "load", **destination),
        ],
        dag_id,
        engine=engine,
    )


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def run(run_pipeline: Any, spec: dict[str, Any], *, ok: bool = True) -> tuple[Any, Any]:
    dag_run, dag = run_pipeline(spec, logical_date=None)
    if ok:
        assert str(dag_run.state) == "success", task_states(dag_run)
    return dag_run, dag


@pytest.mark.parametrize("mode", ["append", "merge"])
def test_cursor_elt_matches_etl_over_three_runs(
    run_pipeline: Any, pg: Any, pg_conn_id: str, mode: str
) -> None:
    pg.execute(EVENTS)
    add(pg, 1, 40, "2024-01-01 00:00+00")
    add(pg, 41, 60, "2024-01-01 00:05+00")
    specs_by_engine = {
        engine: pipeline(f"cur_{engine}_{mode}", pg_conn_id, engine, f"copy_{engine}", mode)
        for engine in ("etl", "elt")
    }
    for spec in specs_by_engine.values():
        forget_variables(f"logidata.cursor.{spec['id']}.")

    def both() -> None:
        for engine, spec in specs_by_engine.items():
            dag_run, dag = run(run_pipeline, spec)
            if engine == "elt":
                assert type(dag.get_task("load")).__name__ == "ELTOperator"
                assert dag.task_ids == ["load"]
                assert dag_run.get_task_instance("load").xcom_pull(task_ids="load")["engine"] == "elt"
            else:
                assert "orders" not in dag.task_ids and "events" in dag.task_ids
        assert rows(pg, "copy_elt") == rows(pg, "copy_etl") == expected(pg, mode)
        assert state(pg, specs_by_engine["elt"]["id"]) == state(pg, specs_by_engine["etl"]["id"])

    both()
    first = state(pg, specs_by_engine["elt"]["id"])
    assert first is not None and first["value"] == "2024-01-01T00:05:00+00:00"
    assert sum(first["boundary"].values()) == 16  # 41..60 but the 4 'skip' rows
    # Run 2: rows tied on the last value (one an identical twin of a row already loaded), and newer.
    add(pg, 61, 70, "2024-01-01 00:05+00")
    pg.execute("INSERT INTO events SELECT * FROM events WHERE id = 41")
    add(pg, 71, 90, "2024-01-01 00:07+00")
    both()
    # ELT counts the rows it dropped because the table held them: every row read past the filter but
    # those loaded (the twin of row 41 is loaded again, as ETL does: the boundary counts each hash once).
    dag_run, _ = run(run_pipeline, specs_by_engine["elt"])
    result = dag_run.get_task_instance("load").xcom_pull(task_ids="load")
    assert result["cursor"]["rows_read"] == 20  # 71..90, at the cursor's value
    at_cursor = pg.execute(f"SELECT count(*) FROM events WHERE at >= '2024-01-01 00:07+00' AND ({FILTER})")
    passed = at_cursor.fetchone()[0]
    assert result["cursor"]["held_dropped"] + result["rows"] == passed > 0
    if mode == "append":  # a merge may upsert the rows at its cursor's value again
        assert result["rows"] == 0 and result["cursor"]["held_dropped"] == passed
    # Run 3: ties again, then a rerun with nothing new loads nothing.
    add(pg, 91, 95, "2024-01-01 00:07+00")
    both()
    last = state(pg, specs_by_engine["elt"]["id"])
    assert last is not None and last["value"] == "2024-01-01T00:07:00+00:00"
    before = rows(pg, "copy_elt")
    dag_run, _ = run(run_pipeline, specs_by_engine["elt"])
    assert dag_run.get_task_instance("load").xcom_pull(task_ids="load")["rows"] == 0
    assert rows(pg, "copy_elt") == before
    assert state(pg, specs_by_engine["elt"]["id"]) == last


def test_cursor_elt_failed_load_leaves_table_and_cursor(run_pipeline: Any, pg: Any, pg_conn_id: str) -> None:
    pg.execute(EVENTS)
    add(pg, 1, 30, "2024-01-01 00:00+00")
    pg.execute(
        "CREATE TABLE guarded (id int CHECK (id <= 30), name text, amount numeric(10,2), score double "
        "precision, ratio real, flag boolean, day date, at timestamptz, local_at timestamp, blob bytea, "
        "tag varchar(12), meta jsonb, clock time, share numeric, code char(4))"
    )
    spec = pipeline("cur_elt_failing", pg_conn_id, "elt", "guarded", "append")
    forget_variables("logidata.cursor.cur_elt_failing.")
    run(run_pipeline, spec)
    table, cursor = rows(pg, "guarded"), state(pg, "cur_elt_failing")
    assert table == expected(pg)
    add(pg, 31, 40, "2024-01-01 00:00+00")  # tied on the cursor value, refused by the CHECK
    add(pg, 41, 45, "2024-01-01 00:09+00")
    dag_run, _ = run(run_pipeline, spec, ok=False)
    assert str(dag_run.state) == "failed"
    assert rows(pg, "guarded") == table
    assert state(pg, "cur_elt_failing") == cursor
    pg.execute("ALTER TABLE guarded DROP CONSTRAINT guarded_id_check")
    run(run_pipeline, spec)
    assert rows(pg, "guarded") == expected(pg)  # each row once
    run(run_pipeline, spec)
    assert rows(pg, "guarded") == expected(pg)


def test_cursor_elt_moves_no_rows_out(
    run_pipeline: Any, pg: Any, pg_conn_id: str, postgres_server: Any
) -> None:
    assert postgres_server.pg_stat_statements, "pg_stat_statements.so is needed to count what left"
    pg.execute(EVENTS)
    add(pg, 1, 2000, "2024-01-01 00:00+00")
    add(pg, 2001, 2003, "2024-01-01 00:01+00")
    spec = pipeline("cur_elt_stats", pg_conn_id, "auto", "copy_stats", "append")
    forget_variables("logidata.cursor.cur_elt_stats.")
    pg.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    pg.execute("SELECT pg_stat_statements_reset()")
    dag_run, dag = run(run_pipeline, spec)
    assert dag.task_ids == ["load"]
    load = dag_run.get_task_instance("load")
    assert load.xcom_pull(task_ids="load")["cursor"] == {
        "column": "at",
        "read_from": None,
        "read_max": "2024-01-01T00:01:00+00:00",
        "rows_read": 2003,
    }
    metrics = load.xcom_pull(task_ids="load", key="logidata_metrics")["nodes"]
    returned = [
        (str(query), int(count))
        for query, count in pg.execute(
            "SELECT query, rows FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE "
            "datname = current_database()) AND (query ILIKE '%events%' OR query ILIKE '%logidata_shared%') "
            "AND query NOT ILIKE 'INSERT%' "
            "AND query NOT ILIKE 'CREATE%' AND query NOT ILIKE '%pg_stat_statements%'"
        ).fetchall()
    ]
    assert not [q for q, _ in returned if "TO STDOUT" in q.upper()], returned
    # the new cursor (1 row), the count at it (1) and the hashes of the 3 rows at it (at most 3)
    assert sum(count for _q, count in returned) <= 5, returned
    assert any("max(" in q for q, _ in returned), returned  # the statements were seen
    assert rows(pg, "copy_stats") == expected(pg)
    assert metrics["events"]["rows_out"] == 2003
    assert metrics["load"]["rows_in"] == sum(expected(pg).values())


def test_cursor_engine_elt_is_accepted_into_tables_and_refused_on_a_branch_to_a_file(
    pg_conn_id: str, tmp_path: Path
) -> None:
    from airflow_provider_logidata.dag_factory import load_pipelines

    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "cur_elt_ok.json").write_text(
        json.dumps(pipeline("cur_elt_ok", pg_conn_id, "elt", "copy_ok", "append"))
    )
    tables = [
        specs.pg_destination(pg_conn_id, "a", table="a_copy"),
        specs.pg_destination(pg_conn_id, "b", table="b_copy"),
    ]
    events = specs.incremental_source(pg_conn_id, "events", "at")
    branch = specs.fan_out(events, tables, "cur_elt_branch", engine="elt")
    (folder / "cur_elt_branch.json").write_text(json.dumps(branch))
    to_file = specs.fan_out(
        events, [*tables, specs.file_destination("f", f"{tmp_path}/out/")], "cur_elt_file", engine="elt"
    )
    (folder / "cur_elt_file.json").write_text(json.dumps(to_file))
    namespace: dict[str, Any] = {"__file__": str(tmp_path / "loader.py")}
    report = load_pipelines(namespace, pipelines_path=str(folder), report_path=str(tmp_path / "report.json"))
    assert [p.id for p in report.failed] == ["cur_elt_file"]
    assert namespace["logidata_dag__cur_elt_ok"].task_ids == ["load"]
    [task_id] = namespace["logidata_dag__cur_elt_branch"].task_ids  # both tables in one ELT task
    assert type(namespace["logidata_dag__cur_elt_branch"].get_task(task_id)).__name__ == "ELTOperator"
    issues = report.failed[0].errors
    assert {issue["path"] for issue in issues} == {"engine"}
    assert "node 'events' feeds 3 nodes (a branch)" in issues[0]["message"], issues[0]["message"]


def test_row_hash_in_sql_equals_the_engine_hash(pg: Any) -> None:
    """``elt_cursor.row_hash_sql`` gives ``cursor_filter.row_hashes`` of the row as the ETL engine reads it,
    for floats across every magnitude (Python's repr vs PostgreSQL's shortest text), texts with control
    and non-ASCII characters, and times, timestamps and numerics with and without fractions."""
    import random

    import pyarrow as pa

    from airflow_provider_logidata.engine.cursor_filter import row_hashes
    from airflow_provider_logidata.engine.elt_context import arrow_schema, describe
    from airflow_provider_logidata.engine.elt_cursor import PYFLOAT_CREATE, row_hash_sql, row_json_sql

    rng = random.Random(14)
    floats = [0.0, -0.0, 5e-324, 1.7976931348623157e308, 1e-4, 1e-5, 0.0001234, 9999999999999998.0]
    floats += [1e15, 1e15 + 0.125, 999999999999999.9, 1e16, 123456789012345678.0, 2.5e-7, float("inf")]
    floats += [rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30) for _ in range(1500)]
    floats += [float(rng.randint(-(10**17), 10**17)) for _ in range(300)]
    texts = ["", "a\x01b\x1f\x7f", "tab\tnl\nret\r", "\u2028\u00e9\U0001f600", 'q"\\/', "\x08\x0c"]
    pg.execute(
        "CREATE TABLE h (i int, f double precision, r real, t text, n numeric(12,4), ts timestamp, "
        "tz timestamptz, tm time, d date, b boolean, y bytea)"
    )
    with pg.cursor() as cur:
        cur.executemany(
            "INSERT INTO h VALUES (%s, %s, %s, %s, %s::numeric / 7, timestamp '2024-01-01' + %s * "
            "interval '0.001 s', timestamptz '2024-01-01 00:00+00' - %s * interval '1 s', time '00:00' + "
            "%s * interval '0.1 s', date '1999-12-31' + %s, %s, %s)",
            [
                (
                    i,
                    value,
                    value if value == 0 or 1e-37 < abs(value) < 3e38 else None,
                    texts[i % len(texts)],
                    i,
                    i,
                    i,
                    i,
                    i,
                    i % 3 == 0 if i % 5 else None,
                    bytes([i % 256, 7]),
                )
                for i, value in enumerate(floats)
            ],
        )
    pg.execute(PYFLOAT_CREATE)
    select = "SELECT * FROM h"
    columns = describe(pg, select, owner="test")
    schema = arrow_schema(columns)
    fetched = pg.execute("SELECT * FROM h ORDER BY i").fetchall()
    table = pa.Table.from_pylist(
        [dict(zip(schema.names, row, strict=True)) for row in fetched], schema=schema
    )
    hashed = [r[0] for r in pg.execute(f"SELECT {row_hash_sql('q', columns)} FROM h AS q ORDER BY i")]
    engine = row_hashes(table)
    different = [i for i, (a, b) in enumerate(zip(hashed, engine, strict=True)) if a != b]
    payloads = [r[0] for r in pg.execute(f"SELECT {row_json_sql('q', columns)} FROM h AS q ORDER BY i")]
    shown = [
        (payloads[i], json.dumps(table.slice(i, 1).to_pylist()[0], sort_keys=True, default=str))
        for i in different[:3]
    ]
    assert different == [], shown


def test_switching_engines_keeps_the_cursor(run_pipeline: Any, pg: Any, pg_conn_id: str) -> None:
    """One destination loaded by ETL, then ELT, then ETL again (a pipeline's engine changed between runs),
    with rows tied on the cursor value each time: each engine reads the other's cursor (the same value
    text and row hashes), so every row lands once."""
    dag_id = "cur_switch"
    forget_variables(f"logidata.cursor.{dag_id}.")
    pg.execute(EVENTS)
    add(pg, 1, 30, "2024-01-01 00:00+00")
    for number, engine in enumerate(("etl", "elt", "etl", "elt")):
        dag_run, dag = run(run_pipeline, pipeline(dag_id, pg_conn_id, engine, "copy_switch", "append"))
        assert (dag.task_ids == ["load"]) == (engine == "elt")
        assert rows(pg, "copy_switch") == expected(pg), (number, engine)
        add(pg, 100 * number + 31, 100 * number + 40, f"2024-01-01 00:0{number}+00")  # ties, then newer
        add(pg, 100 * number + 41, 100 * number + 45, f"2024-01-01 00:0{number + 1}+00")


def _refuse_state(pg: Any, errcode: str) -> None:
    """Writing the cursor state table raises ``errcode`` (P0001: any error; 42501: no privilege)."""
    pg.execute(
        "CREATE OR REPLACE FUNCTION refuse_state() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'refused by the test' USING ERRCODE = TG_ARGV[0]; END $$"
    )
    pg.execute("DROP TRIGGER IF EXISTS refuse_state ON logidata_cursor_state")
    pg.execute(
        "CREATE TRIGGER refuse_state BEFORE INSERT OR UPDATE ON logidata_cursor_state "
        f"FOR EACH ROW EXECUTE FUNCTION refuse_state('{errcode}')"
    )


def test_cursor_elt_state_write_failing_or_denied(run_pipeline: Any, pg: Any, pg_conn_id: str) -> None:
    """As in ETL: a state that cannot be written rolls the load back (table and cursor unchanged); a role
    that may not write it commits the rows and saves the cursor as the Airflow Variable right after,
    which the next run reads (the newer copy): every row lands once."""
    from airflow.models import Variable

    dag_id = "cur_elt_state"
    key = f"logidata.cursor.{dag_id}.events.load"
    forget_variables(f"logidata.cursor.{dag_id}.")
    pg.execute(EVENTS)
    add(pg, 1, 20, "2024-01-01 00:00+00")
    spec = pipeline(dag_id, pg_conn_id, "elt", "copy_state", "append")
    run(run_pipeline, spec)
    table, cursor = rows(pg, "copy_state"), state(pg, dag_id)
    add(pg, 21, 25, "2024-01-01 00:00+00")
    _refuse_state(pg, "P0001")
    dag_run, _ = run(run_pipeline, spec, ok=False)
    assert str(dag_run.state) == "failed"
    assert rows(pg, "copy_state") == table and state(pg, dag_id) == cursor
    assert Variable.get(key, default_var=None) is None
    _refuse_state(pg, "42501")
    run(run_pipeline, spec)
    assert rows(pg, "copy_state") == expected(pg)
    assert state(pg, dag_id) == cursor  # the table's row is the older copy now
    saved = json.loads(Variable.get(key))
    assert saved["value"] == "2024-01-01T00:00:00+00:00" and sum(saved["boundary"].values()) == 20
    pg.execute("DROP TRIGGER refuse_state ON logidata_cursor_state")
    add(pg, 26, 28, "2024-01-01 00:00+00")
    run(run_pipeline, spec)
    assert rows(pg, "copy_state") == expected(pg)
