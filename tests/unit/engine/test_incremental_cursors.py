"""Cursor loads per (source, destination) against the suite's real PostgreSQL and real files.

The source reads from the smallest cursor of its destinations; each destination drops what it already holds
(below its value, and at its value the rows whose hash it remembers) and commits its own state: PostgreSQL in
the load's transaction (``logidata_cursor_state``), files right after their atomic commit (a Variable, here a
dict through ``incremental.load_cursor``/``store_cursor``). The pipelines (factory + Airflow) are covered in
tests/integration/test_incremental_e2e.py.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from airflow_provider_logidata.engine import incremental, runner
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.incremental import CursorRead, CursorState
from airflow_provider_logidata.engine.postgres import load_postgres, read_postgres
from airflow_provider_logidata.modules.postgres import PostgresDestinationConfig, PostgresSourceConfig

DAG = "d"


class Variables:
    """Airflow Variables as a dict (what ``incremental.AirflowVariables`` reads and writes)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = json.loads(json.dumps(value))


@pytest.fixture
def variables(monkeypatch: pytest.MonkeyPatch) -> Variables:
    store = Variables()
    monkeypatch.setattr(incremental, "load_cursor", store.get)
    monkeypatch.setattr(incremental, "store_cursor", store.set)
    return store


def read(
    conn_id: str,
    tmp_path: Path,
    log: Any,
    states: dict[str, CursorState | None],
    *,
    run: int = 0,
    **spec: Any,
) -> dict[str, Any]:
    config = PostgresSourceConfig.model_validate(
        {"conn_id": conn_id, "table": "src", "incremental": {"column": "at", "mode": "cursor", **spec}}
    )
    uri = str(tmp_path / f"run{run}" / "src" / "part-00000.parquet")
    return dict(read_postgres(config, "src", uri, log=log, cursor=CursorRead(DAG, "src", states)))


def pg_state(pg: Any, destination: str) -> dict[str, Any] | None:
    if pg.execute("SELECT to_regclass('public.logidata_cursor_state')").fetchone() == (None,):
        return None
    row = pg.execute(
        "SELECT state FROM public.logidata_cursor_state WHERE dag_id = %s AND source_task = 'src' "
        "AND destination_task = %s",
        (DAG, destination),
    ).fetchone()
    return None if row is None else dict(row[0])


def load_pg(conn_id: str, handle: Any, log: Any, variables: Variables, node_id: str, **config: Any) -> Any:
    cfg = PostgresDestinationConfig.model_validate({"conn_id": conn_id, **config})
    return load_postgres(cfg, node_id, [handle], log, variables=variables)


def ids(pg: Any, table: str) -> list[int]:
    return [r[0] for r in pg.execute(f"SELECT id FROM {table} ORDER BY id").fetchall()]


def test_row_hashes_are_stable_and_order_free() -> None:
    a = pa.table({"id": [1, 2], "at": pa.array([dt.datetime(2024, 1, 1)] * 2, pa.timestamp("us"))})
    b = a.select(["at", "id"])
    assert incremental.row_hashes(a) == incremental.row_hashes(b)
    assert len(set(incremental.row_hashes(a))) == 2
    assert all(len(h) == incremental.HASH_CHARS for h in incremental.row_hashes(a))


def test_state_parsing_and_legacy() -> None:
    legacy = CursorState.parse({"column": "at", "value": "5"}, "legacy")
    assert legacy is not None and legacy.boundary == "all"
    by_hand = CursorState.parse("2024-01-01", "Variable")
    assert by_hand is not None and by_hand.column is None and by_hand.boundary == {}
    state = CursorState("at", "5", {"h": 2}, committed_at="2024-01-01T00:00:00+00:00")
    assert CursorState.parse(state.to_json(), "x") == CursorState(
        "at", "5", {"h": 2}, state.committed_at, "x"
    )


def test_source_reads_from_the_smallest_destination_cursor(
    pg: Any, pg_conn_id: str, tmp_path: Path, log: Any
) -> None:
    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src SELECT g, g FROM generate_series(1, 10) g")
    a, b = CursorState("at", "7", {}), CursorState("at", "4", {})
    handle = read(pg_conn_id, tmp_path, log, {"a": a, "b": b})
    assert handle["rows"] == 7  # 4..10
    assert handle["meta"]["incremental"] == [
        {
            "kind": "cursor",
            "dag_id": DAG,
            "source": "src",
            "column": "at",
            "initial_value": None,
            "read_from": "4",
            "read_max": "10",
        }
    ]
    assert "read rows with at >= '4' (a at '7', b at '4')" in log.text()
    # A destination without a cursor: every row (or from initial_value).
    assert read(pg_conn_id, tmp_path, log, {"a": a, "new": None}, run=1)["rows"] == 10
    assert read(pg_conn_id, tmp_path, log, {"a": a, "new": None}, run=2, initial_value=6)["rows"] == 5
    # Integers compare as numbers, not as text ("10" < "9" as text).
    ten = CursorState("at", "10", {})
    assert read(pg_conn_id, tmp_path, log, {"a": ten, "b": CursorState("at", "9", {})}, run=3)["rows"] == 2


def test_two_destinations_each_keep_their_cursor(
    pg: Any, pg_conn_id: str, tmp_path: Path, log: Any, variables: Variables
) -> None:
    """Item 2 of issue 11 at the engine level: B fails, A goes on; B gets every row once fixed."""
    pg.execute(
        "CREATE TABLE src (id int, at timestamp);"
        "INSERT INTO src SELECT g, timestamp '2024-01-01' + (g / 10) * interval '1 hour' "
        "FROM generate_series(1, 100) g;"
        "CREATE TABLE b (id int CHECK (id <= 100), at timestamp)"
    )

    def states() -> dict[str, CursorState | None]:
        return incremental.read_destination_states(
            DAG,
            "src",
            [
                incremental.CursorDestination("a", "destination.postgres", pg_conn_id, "public", "a"),
                incremental.CursorDestination("b", "destination.postgres", pg_conn_id, "public", "b"),
            ],
            owner="src",
            log=log,
            variables=variables,
        )

    for run in range(3):
        if run == 1:
            pg.execute(
                "INSERT INTO src SELECT g, timestamp '2024-01-01' + (g / 10) * interval '1 hour' "
                "FROM generate_series(101, 400) g"
            )
        if run == 2:
            pg.execute("ALTER TABLE b DROP CONSTRAINT b_id_check")
        handle = read(pg_conn_id, tmp_path, log, states(), run=run)
        load_pg(pg_conn_id, handle, log, variables, "a", table="a")
        if run == 1:
            with pytest.raises(LogiDataTaskError, match="break a constraint"):
                load_pg(pg_conn_id, handle, log, variables, "b", table="b")
        else:
            load_pg(pg_conn_id, handle, log, variables, "b", table="b")
        assert pg_state(pg, "a")["value"] == ("2024-01-01T10:00:00" if run == 0 else "2024-01-02T16:00:00")
    assert ids(pg, "a") == list(range(1, 401))
    assert ids(pg, "b") == list(range(1, 401))
    assert pg_state(pg, "b") == pg_state(pg, "a") | {"committed_at": pg_state(pg, "b")["committed_at"]}
    boundary = pg_state(pg, "a")["boundary"]
    assert sum(boundary.values()) == 1  # id 400 is alone at 16:00
    assert "dropped 300 rows below its cursor" in log.text()
    assert "cursor of a committed in the same transaction: '2024-01-02T16:00:00'" in log.text()


def test_boundary_ties_and_duplicate_rows(
    pg: Any, pg_conn_id: str, tmp_path: Path, log: Any, variables: Variables
) -> None:
    """Rows added later with the same value as the cursor are new; identical rows count as many."""
    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src VALUES (1, 1), (2, 2), (3, 2), (3, 2)")
    seen: dict[str, CursorState | None] = {"dst": None}

    def run(n: int) -> None:
        state = pg_state(pg, "dst")
        seen["dst"] = None if state is None else CursorState.parse(state, "table")
        load_pg(pg_conn_id, read(pg_conn_id, tmp_path, log, seen, run=n), log, variables, "dst", table="dst")

    run(0)
    assert pg.execute("SELECT id, at FROM dst ORDER BY id").fetchall() == [(1, 1), (2, 2), (3, 2), (3, 2)]
    assert sorted(pg_state(pg, "dst")["boundary"].values()) == [1, 2]
    pg.execute("INSERT INTO src VALUES (3, 2), (4, 2)")  # a third identical row and a new one, both at 2
    run(1)
    assert pg.execute("SELECT id, at FROM dst ORDER BY id").fetchall() == [
        (1, 1),
        (2, 2),
        (3, 2),
        (3, 2),
        (3, 2),
        (4, 2),
    ]
    assert "dropped 3 already-loaded boundary rows" in log.text()
    run(2)  # nothing new
    assert len(ids(pg, "dst")) == 6


def test_too_many_rows_at_one_value(
    pg: Any, pg_conn_id: str, tmp_path: Path, log: Any, variables: Variables, monkeypatch: Any
) -> None:
    monkeypatch.setattr(incremental, "BOUNDARY_CAP", 5)
    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src SELECT g, 1 FROM generate_series(1, 6) g")
    handle = read(pg_conn_id, tmp_path, log, {"dst": None})
    with pytest.raises(LogiDataTaskError, match=r"more than 5 rows share the cursor value '1' of 'at'"):
        load_pg(pg_conn_id, handle, log, variables, "dst", table="dst")
    assert pg.execute("SELECT to_regclass('dst')").fetchone() == (None,)
    # A merge does not need to tell them apart: loaded, the boundary marked unknown.
    load_pg(pg_conn_id, handle, log, variables, "m", table="m", mode="merge", keys=["id"])
    assert pg_state(pg, "m")["boundary"] == "unknown"


def test_replace_and_missing_column_are_refused(
    pg: Any, pg_conn_id: str, tmp_path: Path, log: Any, variables: Variables, stage: Any
) -> None:
    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src VALUES (1, 1)")
    handle = read(pg_conn_id, tmp_path, log, {"dst": None})
    with pytest.raises(LogiDataTaskError, match="mode 'replace' empties the table on every run"):
        load_pg(pg_conn_id, handle, log, variables, "dst", table="dst", mode="replace")
    renamed = dict(stage({"id": [1], "other": [1]}))
    renamed["meta"] = handle["meta"]
    with pytest.raises(LogiDataTaskError, match="the cursor column 'at' of source 'src' does not reach"):
        load_pg(pg_conn_id, renamed, log, variables, "dst", table="dst")


def test_role_without_create_falls_back_to_a_variable(
    pg: Any,
    pg_conn_id: str,
    postgres_server: Any,
    pg_database: str,
    tmp_path: Path,
    log: Any,
    variables: Variables,
    monkeypatch: Any,
) -> None:
    pg.execute(
        "CREATE TABLE src (id int, at int); INSERT INTO src VALUES (1, 1), (2, 2);"
        "CREATE ROLE loader LOGIN PASSWORD 'pw'; CREATE SCHEMA mart; CREATE TABLE mart.dst (id int, at int);"
        "GRANT USAGE ON SCHEMA mart TO loader; GRANT SELECT, INSERT ON mart.dst TO loader;"
        "GRANT SELECT ON src TO loader"
    )
    conn = json.dumps(
        {
            "conn_type": "postgres",
            "host": postgres_server.host,
            "port": postgres_server.port,
            "login": "loader",
            "password": "pw",
            "schema": pg_database,
        }
    )
    monkeypatch.setenv("AIRFLOW_CONN_LOADER", conn)
    try:
        handle = read(pg_conn_id, tmp_path, log, {"dst": None})
        load_pg("loader", handle, log, variables, "dst", table="dst", schema="mart")
        key = "logidata.cursor.d.src.dst"
        assert variables.data[key]["value"] == "2"
        assert "may not create or write logidata_cursor_state" in log.text("warning")
        assert f"saved as the Airflow Variable {key} right after the commit: '2'" in log.text()
        # The next run reads the Variable: nothing new, nothing loaded twice.
        states = incremental.read_destination_states(
            DAG,
            "src",
            [incremental.CursorDestination("dst", "destination.postgres", "loader", "mart", "dst")],
            owner="src",
            log=log,
            variables=variables,
        )
        load_pg(
            "loader",
            read(pg_conn_id, tmp_path, log, states, run=1),
            log,
            variables,
            "dst",
            table="dst",
            schema="mart",
        )
        assert ids(pg, "mart.dst") == [1, 2]
    finally:
        pg.execute("DROP OWNED BY loader; DROP ROLE loader")


def test_role_that_loses_write_on_the_state_table_keeps_its_newer_variable(
    pg: Any,
    pg_conn_id: str,
    postgres_server: Any,
    pg_database: str,
    tmp_path: Path,
    log: Any,
    variables: Variables,
    monkeypatch: Any,
) -> None:
    """Found by tests/integration/test_incremental_property.py: the state table holds the row of an earlier
    load, then the role may only read it, so a load saves its state as the Variable. That newer copy must
    win, in the source and in the destination: starting from the table's older row loaded the rows in
    between again. (A role that may not read the table at all is refused: the row may be newer.)"""
    pg.execute(
        "CREATE TABLE src (id int, at int); INSERT INTO src VALUES (1, 1), (2, 2);"
        "CREATE SCHEMA mart; CREATE TABLE mart.dst (id int, at int)"
    )
    first = read(pg_conn_id, tmp_path, log, {"dst": None})
    load_pg(pg_conn_id, first, log, variables, "dst", table="dst", schema="mart")
    assert pg.execute("SELECT state->>'value' FROM mart.logidata_cursor_state").fetchone() == ("2",)
    # From now on the loads run as a role that may not write the state table (SELECT only for now).
    pg.execute(
        "INSERT INTO src VALUES (3, 3), (4, 4); CREATE ROLE loader LOGIN PASSWORD 'pw';"
        "GRANT USAGE ON SCHEMA mart TO loader; GRANT SELECT, INSERT ON mart.dst TO loader;"
        "GRANT SELECT ON src TO loader"
    )
    conn = {
        "conn_type": "postgres",
        "host": postgres_server.host,
        "port": postgres_server.port,
        "login": "loader",
        "password": "pw",
        "schema": pg_database,
    }
    monkeypatch.setenv("AIRFLOW_CONN_LOADER", json.dumps(conn))
    target = incremental.CursorDestination("dst", "destination.postgres", "loader", "mart", "dst")

    def states() -> dict[str, CursorState | None]:
        return incremental.read_destination_states(
            DAG, "src", [target], owner="src", log=log, variables=variables
        )

    def load(handle: Any) -> Any:
        return load_pg("loader", handle, log, variables, "dst", table="dst", schema="mart")

    try:
        # Not even SELECT: refused, naming the table and the grant (the row there may be the newest).
        with pytest.raises(LogiDataTaskError, match=r"cannot read mart\.logidata_cursor_state .* Grant"):
            load(read(pg_conn_id, tmp_path, log, {"dst": None}, run=1))
        pg.execute("GRANT SELECT ON mart.logidata_cursor_state TO loader")
        old = states()
        assert old["dst"] is not None and old["dst"].value == "2"
        load(read(pg_conn_id, tmp_path, log, old, run=2))
        assert variables.data["logidata.cursor.d.src.dst"]["value"] == "4"
        assert pg.execute("SELECT state->>'value' FROM mart.logidata_cursor_state").fetchone() == ("2",)
        new = states()
        assert new["dst"] is not None and new["dst"].value == "4"  # the Variable, newer than the row
        # A read from the table's older value (a source that cannot read the table reads further back):
        # the destination starts from the Variable too and drops 2, 3 and 4.
        assert load(read(pg_conn_id, tmp_path, log, old, run=3))["rows"] == 0
        assert load(read(pg_conn_id, tmp_path, log, new, run=4))["rows"] == 0
        assert ids(pg, "mart.dst") == [1, 2, 3, 4]
    finally:
        pg.execute("DROP OWNED BY loader; DROP ROLE loader")


def test_legacy_variable_is_read_once(
    pg: Any, pg_conn_id: str, tmp_path: Path, log: Any, variables: Variables
) -> None:
    """A cursor of the one-Variable era counts as every destination's state until it has its own."""
    pg.execute(
        "CREATE TABLE src (id int, at int); INSERT INTO src SELECT g, g FROM generate_series(1, 5) g;"
        "CREATE TABLE dst AS SELECT * FROM src"
    )
    variables.data["logidata.cursor.d.src"] = {"column": "at", "value": "5"}
    pg.execute("INSERT INTO src VALUES (6, 6)")
    target = incremental.CursorDestination("dst", "destination.postgres", pg_conn_id, "public", "dst")
    states = incremental.read_destination_states(
        DAG, "src", [target], owner="src", log=log, variables=variables
    )
    handle = read(pg_conn_id, tmp_path, log, states)
    assert handle["rows"] == 2  # 5 (the old boundary) and 6
    load_pg(pg_conn_id, handle, log, variables, "dst", table="dst")
    assert ids(pg, "dst") == [1, 2, 3, 4, 5, 6]
    assert pg_state(pg, "dst")["value"] == "6"


# --- files ----------------------------------------------------------------------------------------------


def file_load(path: str, handle: Any, log: Any, node_id: str = "out", **config: Any) -> dict[str, Any]:
    return runner.run_destination(
        {"path": path, **config}, node_id, [handle], module="destination.file", log=log
    )


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("single.parquet", {}),
        ("single.csv", {"format": "csv"}),
        ("folder/", {}),
        ("parts", {"partition_by": ["kind"]}),
    ],
)
def test_file_destination_keeps_earlier_rows_and_commits_its_cursor(
    pg: Any,
    pg_conn_id: str,
    tmp_path: Path,
    log: Any,
    variables: Variables,
    name: str,
    config: dict[str, Any],
) -> None:
    """Item 3 of issue 11: the file destination commits its cursor; the target gains only new rows."""
    pg.execute(
        "CREATE TABLE src (id int, at int, kind text);"
        "INSERT INTO src SELECT g, g / 3, CASE WHEN g % 2 = 0 THEN 'even' ELSE 'odd' END "
        "FROM generate_series(1, 20) g"
    )
    target = str(tmp_path / "out" / name)
    key = "logidata.cursor.d.src.out"
    reads = []
    for run in range(3):
        if run == 1:
            pg.execute("INSERT INTO src VALUES (21, 6, 'odd'), (22, 7, 'even'), (23, 9, 'odd')")  # 6: a tie
        states = incremental.read_destination_states(
            DAG,
            "src",
            [incremental.CursorDestination("out", "destination.file")],
            owner="src",
            log=log,
            variables=variables,
        )
        handle = read(pg_conn_id, tmp_path, log, states, run=run)
        reads.append(handle["rows"])
        file_load(target, handle, log, **config)
        assert variables.data[key]["value"] == ("6" if run == 0 else "9")
    assert reads == [20, 6, 1]  # run 2 reads the rows at or after 6 (3 of them loaded); run 3 only the 9
    if config.get("format") == "csv":
        table = pacsv.read_csv(target)
    elif name.endswith("/") or config.get("partition_by"):
        table = ds.dataset(target, format="parquet", partitioning="hive" if config else None).to_table()
    else:
        table = pq.read_table(target)
    assert sorted(table.column("id").to_pylist()) == list(range(1, 24))
    if name == "single.parquet":
        stored = json.loads(pq.ParquetFile(target).metadata.metadata[b"logidata.cursor_states"])
        assert stored[key]["value"] == "9"


def test_parquet_file_carries_its_cursor_when_the_variable_fails(
    pg: Any, pg_conn_id: str, tmp_path: Path, log: Any, variables: Variables, monkeypatch: Any
) -> None:
    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src VALUES (1, 1), (2, 2)")
    target = str(tmp_path / "out.parquet")
    dest = [incremental.CursorDestination("out", "destination.file")]

    def states() -> Any:
        return incremental.read_destination_states(
            DAG, "src", dest, owner="src", log=log, variables=variables
        )

    broken = Variables()

    def fail(key: str, value: Any) -> None:
        raise RuntimeError("metadata database down")

    monkeypatch.setattr(incremental, "store_cursor", fail)
    with pytest.raises(LogiDataTaskError, match="the data was committed but its cursor could not be saved"):
        file_load(target, read(pg_conn_id, tmp_path, log, states()), log)
    monkeypatch.setattr(incremental, "store_cursor", variables.set)
    del broken
    # The retry reads everything again (no Variable), but the file says what it holds already.
    file_load(target, read(pg_conn_id, tmp_path, log, states(), run=1), log)
    assert pq.read_table(target).column("id").to_pylist() == [1, 2]
    assert variables.data["logidata.cursor.d.src.out"]["value"] == "2"
