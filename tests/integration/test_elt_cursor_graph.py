"""Cursor sources pushed down inside a graph: the ETL engine's results, cursor states and reruns.

- a cursor source joined (left) with a table read in full, into one ``destination.postgres`` (merge on
  keys): ``engine: auto`` runs the whole graph in one ELT task (``engine.elt_cursor``: the destination's
  cursor committed with its rows), and every run (rows tied on the cursor value, newer rows, a dimension
  row changed, a rerun with nothing new) ends with the ETL pipeline's rows, types and cursor state;
- the same load refused by the table leaves the table and the cursor as they were, and the run after
  the fix loads the rows once;
- a partial pushdown: a cursor source -> filter -> a Parquet file. The filter runs in PostgreSQL, the
  staged result says what the source read, and the file destination keeps its cursor as in ETL: the
  same file and the same Variable after each run.

Real Airflow ``dag.test()`` through the DAG factory, against the suite's throw-away PostgreSQL.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import specs

pytestmark = pytest.mark.integration

FACTS = (
    "CREATE TABLE facts (id int NOT NULL, k text, amount numeric(10,2), score double precision, "
    "at timestamptz NOT NULL, note varchar(20))"
)
DIM = "CREATE TABLE dim (k text, label text, weight int)"
COLUMNS = "id, k, amount, score, at, note, label, weight"


def add(pg: Any, first: int, last: int, at: str) -> None:
    """Facts ``first..last`` at ``at``; every 6th has a key the dimension lacks (left join: nulls)."""
    pg.execute(
        "INSERT INTO facts SELECT g, CASE WHEN g % 6 = 0 THEN 'none' ELSE 'k' || g % 4 END, g * 1.5, "
        f"g / 8.0, timestamptz {at!r}, CASE WHEN g % 5 = 0 THEN NULL ELSE 'n' || g END "
        f"FROM generate_series({first}, {last}) g"
    )


def rows(pg: Any, table: str) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(r) for r in pg.execute(f"SELECT {COLUMNS} FROM {table}").fetchall())


def types(pg: Any, table: str) -> list[tuple[str, str]]:
    return [
        (str(name), str(kind))
        for name, kind in pg.execute(
            "SELECT column_name, format_type(atttypid, atttypmod) FROM information_schema.columns c JOIN "
            "pg_attribute a ON a.attrelid = %s::regclass AND a.attname = c.column_name "
            "WHERE c.table_name = %s ORDER BY c.ordinal_position",
            (table, table),
        ).fetchall()
    ]


def state(pg: Any, dag_id: str, destination: str = "out") -> dict[str, Any] | None:
    row = pg.execute(
        "SELECT state FROM public.logidata_cursor_state WHERE dag_id = %s AND destination_task = %s",
        (dag_id, destination),
    ).fetchone()
    if row is None:
        return None
    found = dict(row[0])
    found.pop("committed_at", None)
    return found


def variable(key: str) -> dict[str, Any] | None:
    from airflow.models import Variable

    raw = Variable.get(key, default_var=None)
    if raw is None:
        return None
    found = dict(json.loads(raw))
    found.pop("committed_at", None)
    return found


def forget_variables(prefix: str) -> None:
    from airflow.models import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Variable).filter(Variable.key.like(f"{prefix}%")).delete(synchronize_session=False)


def both_engines(spec_for: Callable[[str], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The pipeline with ``engine: etl`` and ``engine: auto``, each starting with no cursor Variables."""
    by_engine = {engine: spec_for(engine) for engine in ("etl", "auto")}
    for spec in by_engine.values():
        forget_variables(f"logidata.cursor.{spec['id']}.")
    return by_engine


def joined(dag_id: str, conn_id: str, engine: str, table: str) -> dict[str, Any]:
    """facts (cursor on ``at``) left join dim (read in full) -> ``table`` (merge on id)."""
    nodes = [
        specs.incremental_source(conn_id, "facts", "at"),
        specs.pg_source(conn_id, "dim", table="dim"),
        {"id": "named", "module": "join", "config": {"how": "left", "on": ["k"]}},
        specs.pg_destination(conn_id, "out", table=table, mode="merge", keys=["id"]),
    ]
    edges = [
        {"source": "facts", "target": "named", "target_port": "left"},
        {"source": "dim", "target": "named", "target_port": "right"},
        {"source": "named", "target": "out"},
    ]
    return {"id": dag_id, "engine": engine, "nodes": nodes, "edges": edges}


def run(run_pipeline: Any, spec: dict[str, Any], *, ok: bool = True) -> tuple[Any, Any]:
    dag_run, dag = run_pipeline(spec, logical_date=None)
    if ok:
        states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
        assert str(dag_run.state) == "success", states
    return dag_run, dag


def every_joined(pg: Any) -> Counter[tuple[Any, ...]]:
    """Every fact left joined with dim, as the tables should hold them."""
    query = f"SELECT {COLUMNS.replace('k,', 'f.k,')} FROM facts f LEFT JOIN dim d ON f.k = d.k"
    return Counter(tuple(r) for r in pg.execute(query).fetchall())


def setup(pg: Any) -> None:
    pg.execute(FACTS)
    pg.execute(DIM)
    pg.execute(
        "INSERT INTO dim VALUES ('k0', 'zero', 0), ('k1', 'one', 1), ('k2', 'two', 2), ('k3', NULL, 3)"
    )
    add(pg, 1, 30, "2024-01-01 00:00+00")
    add(pg, 31, 45, "2024-01-01 00:05+00")


def test_cursor_join_elt_matches_etl_over_reruns(run_pipeline: Any, pg: Any, pg_conn_id: str) -> None:
    setup(pg)
    by_engine = both_engines(lambda e: joined(f"curjoin_{e}", pg_conn_id, e, f"joined_{e}"))

    def both() -> None:
        for engine, spec in by_engine.items():
            dag_run, dag = run(run_pipeline, spec)
            if engine == "auto":
                assert dag.task_ids == ["out"]
                assert type(dag.get_task("out")).__name__ == "ELTOperator"
                result = dag_run.get_task_instance("out").xcom_pull(task_ids="out")
                assert result["engine"] == "elt" and result["cursor"]["column"] == "at"
            else:
                assert "facts" in dag.task_ids
        assert rows(pg, "joined_auto") == rows(pg, "joined_etl")
        assert types(pg, "joined_auto") == types(pg, "joined_etl")
        assert state(pg, "curjoin_auto") == state(pg, "curjoin_etl")

    both()
    first = state(pg, "curjoin_auto")
    assert first is not None and first["value"] == "2024-01-01T00:05:00+00:00"
    assert sum(first["boundary"].values()) == 15
    assert sum(rows(pg, "joined_auto").values()) == 45
    # ties on the last value, newer rows, and a dimension row changed (the facts read again pick it up
    # only where they are read again: at or past the cursor, as in ETL)
    add(pg, 46, 50, "2024-01-01 00:05+00")
    add(pg, 51, 60, "2024-01-01 00:09+00")
    pg.execute("UPDATE dim SET label = 'ONE' WHERE k = 'k1'")
    both()
    assert sum(rows(pg, "joined_auto").values()) == 60
    # nothing new: a rerun changes nothing
    before, cursor = rows(pg, "joined_auto"), state(pg, "curjoin_auto")
    both()
    assert rows(pg, "joined_auto") == before and state(pg, "curjoin_auto") == cursor


def test_cursor_join_elt_failed_load_leaves_table_and_cursor(
    run_pipeline: Any, pg: Any, pg_conn_id: str
) -> None:
    setup(pg)
    dag_id = "curjoin_failing"
    forget_variables(f"logidata.cursor.{dag_id}.")
    spec = joined(dag_id, pg_conn_id, "elt", "joined_guarded")
    _, dag = run(run_pipeline, spec)
    assert dag.task_ids == ["out"]
    table, cursor = rows(pg, "joined_guarded"), state(pg, dag_id)
    assert sum(table.values()) == 45 and cursor is not None
    pg.execute("ALTER TABLE joined_guarded ADD CONSTRAINT small CHECK (id <= 48)")
    add(pg, 46, 50, "2024-01-01 00:05+00")  # tied on the cursor value, 49 and 50 refused
    add(pg, 51, 55, "2024-01-01 00:09+00")
    dag_run, _ = run(run_pipeline, spec, ok=False)
    assert str(dag_run.state) == "failed"
    assert rows(pg, "joined_guarded") == table
    assert state(pg, dag_id) == cursor
    pg.execute("ALTER TABLE joined_guarded DROP CONSTRAINT small")
    run(run_pipeline, spec)
    assert rows(pg, "joined_guarded") == every_joined(pg)  # each row once
    last = state(pg, dag_id)
    assert last is not None and last["value"] == "2024-01-01T00:09:00+00:00"


# id 1000 divides by zero in PostgreSQL: the failing run
KEEP = "note IS NOT NULL AND 100 / (id - 1000) < 1"


def to_file(dag_id: str, conn_id: str, engine: str, path: Path) -> dict[str, Any]:
    """facts (cursor on ``at``) -> filter -> one Parquet file, rewritten with its rows plus the new ones."""
    return specs.linear(
        [
            specs.incremental_source(conn_id, "facts", "at"),
            {"id": "keep", "module": "filter_rows", "config": {"condition": KEEP}},
            specs.file_destination("write", str(path), format="parquet"),
        ],
        dag_id,
        engine=engine,
    )


def test_cursor_partial_pushdown_to_a_file_matches_etl(
    run_pipeline: Any, pg: Any, pg_conn_id: str, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    setup(pg)
    paths = {e: tmp_path / f"{e}.parquet" for e in ("etl", "auto")}
    by_engine = both_engines(lambda e: to_file(f"curfile_{e}", pg_conn_id, e, paths[e]))

    def both() -> list[int]:
        read = []
        for engine, spec in by_engine.items():
            dag_run, dag = run(run_pipeline, spec)
            if engine == "auto":
                assert sorted(dag.task_ids) == ["keep", "write"]
                assert type(dag.get_task("keep")).__name__ == "ELTReadOperator"
                handle = dag_run.get_task_instance("keep").xcom_pull(task_ids="keep")
                [entry] = handle["meta"]["incremental"]
                read.append(handle["rows"])
                assert entry["kind"] == "cursor" and entry["source"] == "facts"
        etl, elt = pq.read_table(paths["etl"]), pq.read_table(paths["auto"])
        assert elt.schema == etl.schema
        assert elt.sort_by("id").to_pylist() == etl.sort_by("id").to_pylist()
        key = "logidata.cursor.curfile_{}.facts.write"
        assert variable(key.format("auto")) == variable(key.format("etl")) is not None
        return read

    assert both() == [36]  # 45 rows, 9 without a note
    add(pg, 46, 50, "2024-01-01 00:05+00")  # tied on the cursor value
    add(pg, 51, 60, "2024-01-01 00:09+00")
    # read again from the cursor: the 15 rows at it, the 5 tied and the 10 newer, past the filter
    assert both() == [24]
    assert pq.read_table(paths["auto"]).num_rows == 48
    assert both() == [8]  # nothing new: only the rows at the cursor, all dropped by the destination
    assert pq.read_table(paths["auto"]).num_rows == 48
    # A failing pushed-down read: nothing staged, the file and its cursor stay as they were; the run
    # after the fix writes the new rows once.
    key = "logidata.cursor.curfile_auto.facts.write"
    before, cursor = pq.read_table(paths["auto"]), variable(key)
    pg.execute("INSERT INTO facts VALUES (1000, 'k1', 1, 1, '2024-01-01 00:10+00', 'boom')")
    dag_run, _ = run(run_pipeline, by_engine["auto"], ok=False)
    assert str(dag_run.state) == "failed"
    assert str(dag_run.get_task_instance("keep").state) == "failed"
    assert pq.read_table(paths["auto"]).equals(before) and variable(key) == cursor
    pg.execute("DELETE FROM facts WHERE id = 1000")
    add(pg, 61, 62, "2024-01-01 00:10+00")
    assert both() == [10]  # from the cursor: the 8 rows at it (dropped by the file) and the 2 new
    assert pq.read_table(paths["auto"]).num_rows == 50


def branched(dag_id: str, conn_id: str, engine: str, suffix: str) -> dict[str, Any]:
    """facts (cursor on ``at``) into two tables: ``out`` (merge on id) joined with dim, ``big`` (append:
    the rows at the cursor value recognised by their hashes) the facts whose id is a multiple of 3."""
    spec = joined(dag_id, conn_id, engine, f"branch_all_{suffix}")
    spec["nodes"] += [
        {"id": "heavy", "module": "filter_rows", "config": {"condition": "id % 3 = 0"}},
        specs.pg_destination(conn_id, "big", table=f"branch_big_{suffix}"),
    ]
    spec["edges"] += [{"source": "facts", "target": "heavy"}, {"source": "heavy", "target": "big"}]
    return spec


FACT_COLUMNS = "id, k, amount, score, at, note"


def facts(pg: Any, table: str, where: str = "true") -> Counter[tuple[Any, ...]]:
    return Counter(tuple(r) for r in pg.execute(f"SELECT {FACT_COLUMNS} FROM {table} WHERE {where}"))


def test_cursor_branch_into_two_tables_elt_matches_etl(run_pipeline: Any, pg: Any, pg_conn_id: str) -> None:
    """Issue 14: a cursor source whose graph loads two tables runs in one ELT task; each table keeps its
    own cursor, and every run (a table that lost its cursor, rows tied on the cursor value, newer rows, a
    rerun with nothing new) ends with the ETL pipeline's rows and cursor states."""
    setup(pg)
    by_engine = both_engines(lambda e: branched(f"curbranch_{e}", pg_conn_id, e, e))

    def both() -> None:
        for engine, spec in by_engine.items():
            dag_run, dag = run(run_pipeline, spec)
            if engine == "auto":
                [task_id] = dag.task_ids
                assert type(dag.get_task(task_id)).__name__ == "ELTOperator"
                result = dag_run.get_task_instance(task_id).xcom_pull(task_ids=task_id)
                assert set(result["destinations"]) == {"out", "big"}
                assert {d["cursor"]["column"] for d in result["destinations"].values()} == {"at"}
        assert rows(pg, "branch_all_auto") == rows(pg, "branch_all_etl")
        assert facts(pg, "branch_big_auto") == facts(pg, "branch_big_etl")
        for table in ("branch_all", "branch_big"):
            assert types(pg, f"{table}_auto") == types(pg, f"{table}_etl"), table
        for destination in ("out", "big"):
            assert state(pg, "curbranch_auto", destination) == state(pg, "curbranch_etl", destination)
            assert state(pg, "curbranch_auto", destination) is not None

    both()
    assert sum(rows(pg, "branch_all_auto").values()) == 45
    assert facts(pg, "branch_big_auto") == facts(pg, "facts", "id % 3 = 0")
    # 'big' starts again (its table emptied, its cursor gone): the source reads from the smallest cursor
    # (none), 'out' drops every row it holds, 'big' loads them all
    for engine in ("etl", "auto"):
        pg.execute(f"TRUNCATE branch_big_{engine}")
        pg.execute(
            "DELETE FROM public.logidata_cursor_state WHERE dag_id = %s AND destination_task = 'big'",
            (f"curbranch_{engine}",),
        )
    add(pg, 46, 50, "2024-01-01 00:05+00")  # tied on the cursor value
    add(pg, 51, 60, "2024-01-01 00:09+00")
    both()
    assert sum(rows(pg, "branch_all_auto").values()) == 60
    assert facts(pg, "branch_big_auto") == facts(pg, "facts", "id % 3 = 0")  # each row once
    # nothing new: a rerun changes nothing
    before = {t: facts(pg, f"{t}_auto") for t in ("branch_all", "branch_big")}
    cursors = {d: state(pg, "curbranch_auto", d) for d in ("out", "big")}
    both()
    assert {t: facts(pg, f"{t}_auto") for t in before} == before
    assert {d: state(pg, "curbranch_auto", d) for d in cursors} == cursors


def test_cursor_branch_failing_one_table_leaves_both_tables_and_cursors(
    run_pipeline: Any, pg: Any, pg_conn_id: str
) -> None:
    """The two tables load in one transaction: one refusing rows leaves both tables and both cursors as
    they were; the run after the fix loads each new row once into each."""
    setup(pg)
    dag_id = "curbranch_failing"
    forget_variables(f"logidata.cursor.{dag_id}.")
    spec = branched(dag_id, pg_conn_id, "elt", "guarded")
    run(run_pipeline, spec)
    tables = {t: facts(pg, f"{t}_guarded") for t in ("branch_all", "branch_big")}
    cursors = {d: state(pg, dag_id, d) for d in ("out", "big")}
    pg.execute("ALTER TABLE branch_big_guarded ADD CONSTRAINT small CHECK (id <= 52)")
    add(pg, 46, 50, "2024-01-01 00:05+00")  # tied on the cursor value
    add(pg, 51, 57, "2024-01-01 00:09+00")  # 54 and 57 refused by 'big' only
    dag_run, _ = run(run_pipeline, spec, ok=False)
    assert str(dag_run.state) == "failed"
    assert {t: facts(pg, f"{t}_guarded") for t in tables} == tables
    assert {d: state(pg, dag_id, d) for d in cursors} == cursors
    pg.execute("ALTER TABLE branch_big_guarded DROP CONSTRAINT small")
    run(run_pipeline, spec)
    assert rows(pg, "branch_all_guarded") == every_joined(pg)  # each row once
    assert facts(pg, "branch_big_guarded") == facts(pg, "facts", "id % 3 = 0")


@pytest.mark.parametrize("cursor", [True, False], ids=["cursor", "full"])
def test_a_source_feeding_two_tables_directly_is_one_elt_task(
    run_pipeline: Any, pg: Any, pg_conn_id: str, cursor: bool
) -> None:
    """No transform between: the source's rows, once, into both tables (a graph with no step; it was
    planned as a path whose first destination was a step). With a cursor each table keeps its own, and a
    run after new rows loads only those."""
    setup(pg)
    dag_id = f"fanout_{'cursor' if cursor else 'full'}"
    forget_variables(f"logidata.cursor.{dag_id}.")
    source = (
        specs.incremental_source(pg_conn_id, "facts", "at")
        if cursor
        else specs.pg_source(pg_conn_id, "facts", table="facts")
    )
    targets = [
        specs.pg_destination(pg_conn_id, "one", table=f"{dag_id}_one", mode="merge", keys=["id"]),
        specs.pg_destination(pg_conn_id, "two", table=f"{dag_id}_two"),
    ]
    spec = specs.fan_out(source, targets, dag_id, engine="elt")
    if not cursor:
        spec["nodes"][2]["config"]["mode"] = "replace"
    _, dag = run(run_pipeline, spec)
    [task_id] = dag.task_ids
    assert type(dag.get_task(task_id)).__name__ == "ELTOperator"
    add(pg, 46, 50, "2024-01-01 00:05+00")
    add(pg, 51, 60, "2024-01-01 00:09+00")
    run(run_pipeline, spec)
    for table in ("one", "two"):
        assert facts(pg, f"{dag_id}_{table}") == facts(pg, "facts"), table  # every row, once
    if cursor:
        for destination in ("one", "two"):
            found = state(pg, dag_id, destination)
            assert found is not None and found["value"] == "2024-01-01T00:09:00+00:00"
