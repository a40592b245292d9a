"""Cursor loads per (source, destination) against the suite's real PostgreSQL and real files.

The source reads from the smallest cursor of its destinations; each destination drops what it already holds
(below its value, and at its value the rows whose hash it remembers) and commits its own state: PostgreSQL in
the load's transaction (``logidata_cursor_state``), files right after their atomic commit (a Variable, here a
dict through ``cursor_state.load_cursor``/``store_cursor``). The pipelines (factory + Airflow) are covered in
tests/integration/test_incremental_e2e.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from airflow_provider_logidata.engine import cursor_filter, cursor_pending, cursor_read, cursor_state, runner
from airflow_provider_logidata.engine.cursor_read import CursorDestination, CursorRead
from airflow_provider_logidata.engine.cursor_state import CursorState
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.pg_load import load_postgres
from airflow_provider_logidata.engine.pg_read import read_postgres
from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig
from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig

DAG = "d"


class Variables:
    """Airflow Variables as a dict (what ``cursor_state.AirflowVariables`` reads and writes)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = json.loads(json.dumps(value))


@pytest.fixture
def variables(monkeypatch: pytest.MonkeyPatch) -> Variables:
    store = Variables()
    monkeypatch.setattr(cursor_state, "load_cursor", store.get)
    monkeypatch.setattr(cursor_state, "store_cursor", store.set)
    return store


@dataclass
class Cursors:
    """Table ``src`` read by cursor on ``at`` through ``conn_id`` (staged under ``tmp_path``), and the loads
    of what it read; all of them log to ``log`` and keep their Variables in ``variables``."""

    conn_id: str
    tmp_path: Path
    log: Any
    variables: Variables

    def read(self, states: dict[str, CursorState | None], *, run: int = 0, **spec: Any) -> dict[str, Any]:
        """``src`` read from the destinations' cursors ``states`` (``None``: none yet), staged as run ``run``."""
        config = PostgresSourceConfig.model_validate(
            {
                "conn_id": self.conn_id,
                "table": "src",
                "incremental": {"column": "at", "mode": "cursor", **spec},
            }
        )
        uri = str(self.tmp_path / f"run{run}" / "src" / "part-00000.parquet")
        cursor = CursorRead(DAG, "src", states)
        return dict(read_postgres(config, "src", uri, log=self.log, cursor=cursor))

    def states(self, *destinations: CursorDestination) -> dict[str, CursorState | None]:
        """What the source sees of its destinations' cursors (the committed states only)."""
        return cursor_read.read_destination_states(
            DAG, "src", list(destinations), owner="src", log=self.log, variables=self.variables
        )

    def read_for(self, *destinations: CursorDestination, run: int = 0) -> dict[str, Any]:
        """``src`` read from where ``destinations`` are."""
        return self.read(self.states(*destinations), run=run)

    def load_pg(self, handle: Any, node_id: str, **config: Any) -> Any:
        """A ``destination.postgres`` load (through ``conn_id`` unless ``config`` names another)."""
        cfg = PostgresDestinationConfig.model_validate({"conn_id": self.conn_id, **config})
        return load_postgres(cfg, node_id, [handle], self.log, variables=self.variables)

    def file_load(self, path: str, handle: Any, node_id: str = "out", **config: Any) -> dict[str, Any]:
        return runner.run_destination(
            {"path": path, **config}, node_id, [handle], module="destination.file", log=self.log
        )


@pytest.fixture
def cursors(pg_conn_id: str, tmp_path: Path, log: Any, variables: Variables) -> Cursors:
    return Cursors(pg_conn_id, tmp_path, log, variables)


def pg_state(pg: Any, destination: str) -> dict[str, Any] | None:
    if pg.execute("SELECT to_regclass('public.logidata_cursor_state')").fetchone() == (None,):
        return None
    row = pg.execute(
        "SELECT state FROM public.logidata_cursor_state WHERE dag_id = %s AND source_task = 'src' "
        "AND destination_task = %s",
        (DAG, destination),
    ).fetchone()
    return None if row is None else dict(row[0])


def ids(pg: Any, table: str) -> list[int]:
    return [r[0] for r in pg.execute(f"SELECT id FROM {table} ORDER BY id").fetchall()]


def test_row_hashes_are_stable_and_order_free() -> None:
    a = pa.table({"id": [1, 2], "at": pa.array([dt.datetime(2024, 1, 1)] * 2, pa.timestamp("us"))})
    b = a.select(["at", "id"])
    assert cursor_filter.row_hashes(a) == cursor_filter.row_hashes(b)
    assert len(set(cursor_filter.row_hashes(a))) == 2
    assert all(len(h) == cursor_filter.HASH_CHARS for h in cursor_filter.row_hashes(a))


def test_state_parsing_and_legacy() -> None:
    legacy = CursorState.parse({"column": "at", "value": "5"}, "legacy")
    assert legacy is not None and legacy.boundary == "all"
    by_hand = CursorState.parse("2024-01-01", "Variable")
    assert by_hand is not None and by_hand.column is None and by_hand.boundary == {}
    state = CursorState("at", "5", {"h": 2}, committed_at="2024-01-01T00:00:00+00:00")
    assert CursorState.parse(state.to_json(), "x") == CursorState(
        "at", "5", {"h": 2}, state.committed_at, "x"
    )


def test_source_reads_from_the_smallest_destination_cursor(pg: Any, cursors: Cursors, log: Any) -> None:
    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src SELECT g, g FROM generate_series(1, 10) g")
    a, b = CursorState("at", "7", {}), CursorState("at", "4", {})
    handle = cursors.read({"a": a, "b": b})
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
    assert cursors.read({"a": a, "new": None}, run=1)["rows"] == 10
    assert cursors.read({"a": a, "new": None}, run=2, initial_value=6)["rows"] == 5
    # Integers compare as numbers, not as text ("10" < "9" as text).
    ten = CursorState("at", "10", {})
    assert cursors.read({"a": ten, "b": CursorState("at", "9", {})}, run=3)["rows"] == 2


def test_two_destinations_each_keep_their_cursor(pg: Any, cursors: Cursors, log: Any) -> None:
    """Item 2 of issue 11 at the engine level: B fails, A goes on; B gets every row once fixed."""
    pg.execute(
        "CREATE TABLE src (id int, at timestamp);"
        "INSERT INTO src SELECT g, timestamp '2024-01-01' + (g / 10) * interval '1 hour' "
        "FROM generate_series(1, 100) g;"
        "CREATE TABLE b (id int CHECK (id <= 100), at timestamp)"
    )
    a, b = (CursorDestination(t, "destination.postgres", cursors.conn_id, "public", t) for t in ("a", "b"))
    for run in range(3):
        if run == 1:
            pg.execute(
                "INSERT INTO src SELECT g, timestamp '2024-01-01' + (g / 10) * interval '1 hour' "
                "FROM generate_series(101, 400) g"
            )
        if run == 2:
            pg.execute("ALTER TABLE b DROP CONSTRAINT b_id_check")
        handle = cursors.read_for(a, b, run=run)
        cursors.load_pg(handle, "a", table="a")
        if run == 1:
            with pytest.raises(LogiDataTaskError, match="break a constraint"):
                cursors.load_pg(handle, "b", table="b")
        else:
            cursors.load_pg(handle, "b", table="b")
        assert pg_state(pg, "a")["value"] == ("2024-01-01T10:00:00" if run == 0 else "2024-01-02T16:00:00")
    assert ids(pg, "a") == list(range(1, 401))
    assert ids(pg, "b") == list(range(1, 401))
    assert pg_state(pg, "b") == pg_state(pg, "a") | {"committed_at": pg_state(pg, "b")["committed_at"]}
    boundary = pg_state(pg, "a")["boundary"]
    assert sum(boundary.values()) == 1  # id 400 is alone at 16:00
    assert "dropped 300 rows below its cursor" in log.text()
    assert "cursor of a committed in the same transaction: '2024-01-02T16:00:00'" in log.text()


def test_boundary_ties_and_duplicate_rows(pg: Any, cursors: Cursors, log: Any) -> None:
    """Rows added later with the same value as the cursor are new; identical rows count as many."""
    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src VALUES (1, 1), (2, 2), (3, 2), (3, 2)")
    seen: dict[str, CursorState | None] = {"dst": None}

    def run(n: int) -> None:
        state = pg_state(pg, "dst")
        seen["dst"] = None if state is None else CursorState.parse(state, "table")
        cursors.load_pg(cursors.read(seen, run=n), "dst", table="dst")

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


def test_too_many_rows_at_one_value(pg: Any, cursors: Cursors, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cursor_filter, "BOUNDARY_CAP", 5)
    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src SELECT g, 1 FROM generate_series(1, 6) g")
    handle = cursors.read({"dst": None})
    with pytest.raises(LogiDataTaskError, match=r"more than 5 rows share the cursor value '1' of 'at'"):
        cursors.load_pg(handle, "dst", table="dst")
    assert pg.execute("SELECT to_regclass('dst')").fetchone() == (None,)
    # A merge does not need to tell them apart: loaded, the boundary marked unknown.
    cursors.load_pg(handle, "m", table="m", mode="merge", keys=["id"])
    assert pg_state(pg, "m")["boundary"] == "unknown"


def test_replace_and_missing_column_are_refused(pg: Any, cursors: Cursors, stage: Any) -> None:
    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src VALUES (1, 1)")
    handle = cursors.read({"dst": None})
    with pytest.raises(LogiDataTaskError, match="mode 'replace' empties the table on every run"):
        cursors.load_pg(handle, "dst", table="dst", mode="replace")
    renamed = dict(stage({"id": [1], "other": [1]}))
    renamed["meta"] = handle["meta"]
    with pytest.raises(LogiDataTaskError, match="the cursor column 'at' of source 'src' does not reach"):
        cursors.load_pg(renamed, "dst", table="dst")


@pytest.fixture
def loader(pg: Any, postgres_server: Any, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Table ``src`` holding (1, 1) and (2, 2), an empty ``mart.dst``, and the connection ``loader``: a role
    that may read ``src`` and insert into ``mart.dst``, nothing more (not create a table in ``mart``)."""
    pg.execute(
        "CREATE TABLE src (id int, at int); INSERT INTO src VALUES (1, 1), (2, 2);"
        "CREATE SCHEMA mart; CREATE TABLE mart.dst (id int, at int); CREATE ROLE loader LOGIN PASSWORD 'pw';"
        "GRANT USAGE ON SCHEMA mart TO loader; GRANT SELECT, INSERT ON mart.dst TO loader;"
        "GRANT SELECT ON src TO loader"
    )
    conn = json.loads(postgres_server.airflow_conn(pg_database)) | {"login": "loader", "password": "pw"}
    monkeypatch.setenv("AIRFLOW_CONN_LOADER", json.dumps(conn))
    yield "loader"
    pg.execute("DROP OWNED BY loader; DROP ROLE loader")


MART_DST = CursorDestination("dst", "destination.postgres", "loader", "mart", "dst")


def test_role_without_create_falls_back_to_a_variable(
    pg: Any, cursors: Cursors, loader: str, log: Any, variables: Variables
) -> None:
    handle = cursors.read({"dst": None})
    cursors.load_pg(handle, "dst", conn_id=loader, table="dst", schema="mart")
    key = "logidata.cursor.d.src.dst"
    assert variables.data[key]["value"] == "2"
    assert "may not create or write logidata_cursor_state" in log.text("warning")
    assert f"saved as the Airflow Variable {key} right after the commit: '2'" in log.text()
    # The next run reads the Variable: nothing new, nothing loaded twice.
    cursors.load_pg(cursors.read_for(MART_DST, run=1), "dst", conn_id=loader, table="dst", schema="mart")
    assert ids(pg, "mart.dst") == [1, 2]


def test_role_that_loses_write_on_the_state_table_keeps_its_newer_variable(
    pg: Any, cursors: Cursors, loader: str, variables: Variables
) -> None:
    """Found by tests/integration/test_incremental_property.py: the state table holds the row of an earlier
    load, then the role may only read it, so a load saves its state as the Variable. That newer copy must
    win, in the source and in the destination: starting from the table's older row loaded the rows in
    between again. (A role that may not read the table at all is refused: the row may be newer.)"""
    first = cursors.read({"dst": None})
    cursors.load_pg(first, "dst", table="dst", schema="mart")
    assert pg.execute("SELECT state->>'value' FROM mart.logidata_cursor_state").fetchone() == ("2",)
    # From now on the loads run as a role that may not write the state table (SELECT only for now).
    pg.execute("INSERT INTO src VALUES (3, 3), (4, 4)")

    def load(handle: Any) -> Any:
        return cursors.load_pg(handle, "dst", conn_id=loader, table="dst", schema="mart")

    # Not even SELECT: refused, naming the table and the grant (the row there may be the newest).
    with pytest.raises(LogiDataTaskError, match=r"cannot read mart\.logidata_cursor_state .* Grant"):
        load(cursors.read({"dst": None}, run=1))
    pg.execute("GRANT SELECT ON mart.logidata_cursor_state TO loader")
    old = cursors.states(MART_DST)
    assert old["dst"] is not None and old["dst"].value == "2"
    load(cursors.read(old, run=2))
    assert variables.data["logidata.cursor.d.src.dst"]["value"] == "4"
    assert pg.execute("SELECT state->>'value' FROM mart.logidata_cursor_state").fetchone() == ("2",)
    new = cursors.states(MART_DST)
    assert new["dst"] is not None and new["dst"].value == "4"  # the Variable, newer than the row
    # A read from the table's older value (a source that cannot read the table reads further back):
    # the destination starts from the Variable too and drops 2, 3 and 4.
    assert load(cursors.read(old, run=3))["rows"] == 0
    assert load(cursors.read(new, run=4))["rows"] == 0
    assert ids(pg, "mart.dst") == [1, 2, 3, 4]


def test_legacy_variable_is_read_once(pg: Any, cursors: Cursors, variables: Variables) -> None:
    """A cursor of the one-Variable era counts as every destination's state until it has its own."""
    pg.execute(
        "CREATE TABLE src (id int, at int); INSERT INTO src SELECT g, g FROM generate_series(1, 5) g;"
        "CREATE TABLE dst AS SELECT * FROM src"
    )
    variables.data["logidata.cursor.d.src"] = {"column": "at", "value": "5"}
    pg.execute("INSERT INTO src VALUES (6, 6)")
    handle = cursors.read_for(
        CursorDestination("dst", "destination.postgres", cursors.conn_id, "public", "dst")
    )
    assert handle["rows"] == 2  # 5 (the old boundary) and 6
    cursors.load_pg(handle, "dst", table="dst")
    assert ids(pg, "dst") == [1, 2, 3, 4, 5, 6]
    assert pg_state(pg, "dst")["value"] == "6"


# --- files ----------------------------------------------------------------------------------------------

OUT = CursorDestination("out", "destination.file")
KEY = "logidata.cursor.d.src.out"


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
    pg: Any, cursors: Cursors, variables: Variables, tmp_path: Path, name: str, config: dict[str, Any]
) -> None:
    """Item 3 of issue 11: the file destination commits its cursor; the target gains only new rows."""
    pg.execute(
        "CREATE TABLE src (id int, at int, kind text);"
        "INSERT INTO src SELECT g, g / 3, CASE WHEN g % 2 = 0 THEN 'even' ELSE 'odd' END "
        "FROM generate_series(1, 20) g"
    )
    target = str(tmp_path / "out" / name)
    reads = []
    for run in range(3):
        if run == 1:
            pg.execute("INSERT INTO src VALUES (21, 6, 'odd'), (22, 7, 'even'), (23, 9, 'odd')")  # 6: a tie
        handle = cursors.read_for(OUT, run=run)
        reads.append(handle["rows"])
        cursors.file_load(target, handle, **config)
        assert variables.data[KEY]["value"] == ("6" if run == 0 else "9")
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
        assert stored[KEY]["value"] == "9"


@contextlib.contextmanager
def saves_fail(variables: Variables, *, pending: bool) -> Iterator[None]:
    """Saving a cursor Variable fails (the metadata database is down at that moment): the save just before
    a single file's commit (``pending``: the value carries a pending entry) or the one after it (any other
    save: the data is committed, its cursor is not). Saves work again afterwards."""

    def store(key: str, value: Any) -> None:
        if isinstance(value, dict) and (cursor_pending.PENDING in value) == pending:
            raise ConnectionError("metadata database down (test)")
        variables.set(key, value)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cursor_state, "store_cursor", store)
        yield


def file_ids(target: Path) -> list[int]:
    table = pacsv.read_csv(target) if target.suffix == ".csv" else pq.read_table(target)
    return sorted(table.column("id").to_pylist())


FORMATS = [pytest.param("parquet", id="parquet"), pytest.param("csv", id="csv")]


@pytest.mark.parametrize("fmt", FORMATS)
def test_single_file_retry_after_its_cursor_was_not_saved(
    pg: Any, cursors: Cursors, variables: Variables, tmp_path: Path, fmt: str
) -> None:
    """The retry of the same task (same file) adds nothing: the Variable's pending entry names the file."""
    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src VALUES (1, 1), (2, 2)")
    target = tmp_path / f"out.{fmt}"
    with (
        saves_fail(variables, pending=False),
        pytest.raises(LogiDataTaskError, match="the data was committed but its cursor could not be saved"),
    ):
        cursors.file_load(str(target), cursors.read_for(OUT), format=fmt)
    assert variables.data[KEY]["pending"]["uri"] == str(target)
    # The retry reads everything again (no committed cursor), and adds nothing.
    cursors.file_load(str(target), cursors.read_for(OUT, run=1), format=fmt)
    assert file_ids(target) == [1, 2]
    assert variables.data[KEY]["value"] == "2" and "pending" not in variables.data[KEY]


@pytest.mark.parametrize("fmt", FORMATS)
def test_pending_cursor_of_a_committed_file_is_adopted_by_the_next_run(
    pg: Any, cursors: Cursors, log: Any, variables: Variables, tmp_path: Path, fmt: str
) -> None:
    """Issue 11: one file per run; saving the cursor failed after run 1 committed its file; run 2 (another
    file, not the retry) adds only the rows that are new since run 1, the late tie at its value included."""
    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src VALUES (1, 1), (2, 2), (3, 2)")
    first, second = tmp_path / f"run1.{fmt}", tmp_path / f"run2.{fmt}"
    with (
        saves_fail(variables, pending=False),
        pytest.raises(LogiDataTaskError, match=r"pending: the next load .* finds it in .*run1"),
    ):
        cursors.file_load(str(first), cursors.read_for(OUT), format=fmt)
    assert file_ids(first) == [1, 2, 3]
    pg.execute("INSERT INTO src VALUES (4, 2), (5, 3)")
    states = cursors.states(OUT)
    assert states["out"] is None  # the source sees no committed cursor: it reads every row again
    handle = cursors.read(states, run=1)
    assert handle["rows"] == 5
    cursors.file_load(str(second), handle, format=fmt)
    assert file_ids(second) == [4, 5]
    assert file_ids(first) == [1, 2, 3]
    assert f"an earlier load committed {first} but could not save its cursor" in log.text()
    assert (
        "dropped 1 rows below its cursor" in log.text() and "dropped 2 already-loaded boundary" in log.text()
    )
    assert variables.data[KEY]["value"] == "3" and "pending" not in variables.data[KEY]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("where", ["missing", "another"])
def test_pending_cursor_is_ignored_when_its_write_never_landed(
    pg: Any, cursors: Cursors, log: Any, variables: Variables, tmp_path: Path, fmt: str, where: str
) -> None:
    """A pending entry whose file is missing, or is another write (another state inside; for CSV another
    size), never landed: the committed cursor counts and its rows are written."""
    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src VALUES (1, 1), (2, 2)")
    first = tmp_path / f"run1.{fmt}"
    cursors.file_load(str(first), cursors.read_for(OUT), format=fmt)
    committed = dict(variables.data[KEY])
    pending_uri = str(tmp_path / f"never.{fmt}") if where == "missing" else str(first)
    ahead = CursorState("at", "9", {}, committed_at=cursor_state.now_text())
    variables.data[KEY] = {
        **committed,
        "pending": {
            "uri": pending_uri,
            "format": fmt,
            "bytes": first.stat().st_size + 40,
            "state": ahead.to_json(),
        },
    }
    pg.execute("INSERT INTO src VALUES (3, 3)")
    second = tmp_path / f"run2.{fmt}"
    cursors.file_load(str(second), cursors.read_for(OUT, run=1), format=fmt)
    assert file_ids(second) == [3]  # adopting the pending cursor (at 9) would have dropped it
    assert f"about to commit {pending_uri} but that write never landed" in log.text()
    assert variables.data[KEY]["value"] == "3" and "pending" not in variables.data[KEY]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("fixed", [True, False], ids=["fixed_file", "per_run_file"])
def test_pending_save_failure_writes_nothing(
    pg: Any, cursors: Cursors, variables: Variables, tmp_path: Path, fmt: str, fixed: bool
) -> None:
    """The save before the commit fails: the load fails with the target as it was and the cursor
    unchanged; its retry writes the rows once."""
    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src VALUES (1, 1), (2, 2)")
    folder = tmp_path / "out"
    first = folder / f"out.{fmt}"
    cursors.file_load(str(first), cursors.read_for(OUT), format=fmt)
    before, committed = first.read_bytes(), dict(variables.data[KEY])
    pg.execute("INSERT INTO src VALUES (3, 2), (4, 3)")
    target = first if fixed else folder / f"out2.{fmt}"
    with saves_fail(variables, pending=True):
        handle = cursors.read_for(OUT, run=1)
        with pytest.raises(LogiDataTaskError, match=r"about to commit .* Nothing was written"):
            cursors.file_load(str(target), handle, format=fmt)
    assert first.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == [first.name]  # no temporary file left either
    assert variables.data[KEY] == committed
    cursors.file_load(str(target), cursors.read_for(OUT, run=2), format=fmt)
    held = file_ids(first) + ([] if fixed else file_ids(target))
    assert sorted(held) == [1, 2, 3, 4]
    assert variables.data[KEY]["value"] == "3"


def test_pending_file_that_cannot_be_read_fails_the_load(
    pg: Any, cursors: Cursors, variables: Variables, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guessing whether an unreadable file landed would lose or duplicate rows: the load fails instead."""
    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src VALUES (1, 1)")
    state = CursorState("at", "1", {}, committed_at=cursor_state.now_text()).to_json()
    pending = str(tmp_path / "elsewhere.parquet")
    variables.data[KEY] = {"pending": {"uri": pending, "format": "parquet", "bytes": 1, "state": state}}

    def unreadable(uri: str) -> Any:
        raise PermissionError(13, "Permission denied", uri)

    monkeypatch.setattr(cursor_pending, "read_embedded_states", unreadable)
    target = tmp_path / "out.parquet"
    with pytest.raises(LogiDataTaskError, match=r"elsewhere\.parquet, and that file cannot be checked"):
        cursors.file_load(str(target), cursors.read_for(OUT))
    assert not target.exists()


def folder_ids(folder: Path) -> list[int]:
    """The ids in a folder's Parquet files (hidden temporary folders aside; none may be left)."""
    files = sorted(p for p in folder.rglob("*.parquet") if not p.name.startswith("."))
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]
    return sorted(i for path in files for i in pq.read_table(path).column("id").to_pylist())


KINDS = "CASE WHEN id % 2 = 0 THEN 'even' ELSE 'odd' END"


@pytest.mark.parametrize("config", [{}, {"partition_by": ["kind"]}], ids=["folder", "partitioned"])
def test_folder_per_run_adopts_the_pending_cursor_of_a_committed_folder(
    pg: Any, cursors: Cursors, variables: Variables, tmp_path: Path, config: dict[str, Any]
) -> None:
    """One folder per run (``out/{{ ts_nodash }}/``): saving the cursor failed after run 1's files were
    committed; run 2 writes another folder with only the new rows (a token alone would not see run 1's
    files, which are in another folder)."""
    pg.execute(f"CREATE TABLE src (id int, at int, kind text GENERATED ALWAYS AS ({KINDS}) STORED)")
    pg.execute("INSERT INTO src (id, at) VALUES (1, 1), (2, 2), (3, 2)")
    first, second = tmp_path / "out" / "a", tmp_path / "out" / "b"
    with (
        saves_fail(variables, pending=False),
        pytest.raises(LogiDataTaskError, match="pending: the next load"),
    ):
        cursors.file_load(f"{first}/", cursors.read_for(OUT), **config)
    files = variables.data[KEY]["pending"]["files"]
    assert len(files) == (2 if config else 1) and all(size > 0 for size in files.values())
    pg.execute("INSERT INTO src (id, at) VALUES (4, 2), (5, 3)")
    handle = cursors.read_for(OUT, run=1)
    cursors.file_load(f"{second}/", handle, **config)
    assert folder_ids(first) == [1, 2, 3]
    assert folder_ids(second) == [4, 5]
    assert variables.data[KEY]["value"] == "3" and "pending" not in variables.data[KEY]


def test_folder_write_that_landed_in_part_is_removed(
    pg: Any, cursors: Cursors, log: Any, variables: Variables, tmp_path: Path
) -> None:
    """Files move into a folder one by one: when only some landed (the move was interrupted), those are
    the failed attempt's own files; the next load removes them and writes every row again."""
    pg.execute(f"CREATE TABLE src (id int, at int, kind text GENERATED ALWAYS AS ({KINDS}) STORED)")
    pg.execute("INSERT INTO src (id, at) VALUES (1, 1), (2, 2), (3, 2)")
    first, second = tmp_path / "out" / "a", tmp_path / "out" / "b"
    with saves_fail(variables, pending=False), pytest.raises(LogiDataTaskError):
        cursors.file_load(f"{first}/", cursors.read_for(OUT), partition_by=["kind"])
    moved = sorted(variables.data[KEY]["pending"]["files"])
    (first / moved[0]).unlink()  # as if the move stopped after the first file
    cursors.file_load(f"{second}/", cursors.read_for(OUT, run=1), partition_by=["kind"])
    assert folder_ids(first) == []
    assert folder_ids(second) == [1, 2, 3]
    assert "only 1 of the 2 file(s) an earlier load was moving into" in log.text()


def test_folder_pending_save_failure_writes_nothing(
    pg: Any, cursors: Cursors, variables: Variables, tmp_path: Path
) -> None:
    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src VALUES (1, 1), (2, 2)")
    folder = tmp_path / "out" / "a"
    with (
        saves_fail(variables, pending=True),
        pytest.raises(LogiDataTaskError, match=r"about to commit .* Nothing was written"),
    ):
        cursors.file_load(f"{folder}/", cursors.read_for(OUT))
    assert folder_ids(folder) == [] and KEY not in variables.data
    cursors.file_load(f"{folder}/", cursors.read_for(OUT, run=1))
    assert folder_ids(folder) == [1, 2]


@pytest.mark.parametrize("kind", ["parquet", "csv", "folder"])
def test_pending_cursor_on_object_storage(
    pg: Any, cursors: Cursors, log: Any, variables: Variables, s3_server: str, s3_bucket: str, kind: str
) -> None:
    """The same on S3 (moto's server): the pending write is found by its metadata, size or listing."""
    import io

    import boto3

    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")

    def s3_ids(prefix: str) -> list[int]:
        held: list[int] = []
        for item in client.list_objects_v2(Bucket=s3_bucket, Prefix=prefix).get("Contents", []):
            body = io.BytesIO(client.get_object(Bucket=s3_bucket, Key=item["Key"])["Body"].read())
            table = pacsv.read_csv(body) if kind == "csv" else pq.read_table(body)
            held += table.column("id").to_pylist()
        return sorted(held)

    pg.execute("CREATE TABLE src (id int, at int); INSERT INTO src VALUES (1, 1), (2, 2), (3, 2)")
    config: dict[str, Any] = {"conn_id": "logidata_s3", **({"format": "csv"} if kind == "csv" else {})}
    suffix = "/" if kind == "folder" else f".{kind}"
    first, second = f"s3://{s3_bucket}/out/a{suffix}", f"s3://{s3_bucket}/out/b{suffix}"
    with (
        saves_fail(variables, pending=False),
        pytest.raises(LogiDataTaskError, match="pending: the next load"),
    ):
        cursors.file_load(first, cursors.read_for(OUT), **config)
    pg.execute("INSERT INTO src VALUES (4, 2), (5, 3)")
    cursors.file_load(second, cursors.read_for(OUT, run=1), **config)
    assert s3_ids("out/a") == [1, 2, 3]
    assert s3_ids("out/b") == [4, 5]
    assert "could not save its cursor as committed" in log.text()
    assert variables.data[KEY]["value"] == "3" and "pending" not in variables.data[KEY]
