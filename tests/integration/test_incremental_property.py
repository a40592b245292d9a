"""Property test of incremental loads (issue 11): whatever happens, no destination loses, duplicates or
changes a row.

Two hypothesis state machines drive the real DAG factory and ``dag.test()`` against the suite's real
PostgreSQL, local files and moto's S3 server, through random sequences of insert batches, runs, failed
runs and reruns, and check after every run what each destination holds (as multisets: one row lost,
doubled or altered shows):

- **cursor** (``CursorLoads``): one cursor source feeding a PostgreSQL append table, a PostgreSQL merge
  table (keys ``id``), a local Parquet folder, one local Parquet file per run (``{{ ts_nodash }}``), one
  local folder per run and an S3 folder. Batches of 0 to 50 rows land at or after the source's largest cursor value, on few distinct
  values (ties are the rule), often exactly at it (late ties of rows already loaded), some identical twins
  of rows there. A failed run makes one destination fail: its table refuses rows, writing its cursor state
  fails (the load rolls back) or is denied (the load commits and keeps its cursor in a Variable), its
  folder is a file, saving its cursor Variable fails after the files were committed (no retry follows:
  the next run has another logical date, so a per-run file or folder's next load writes elsewhere), or a
  per-run file or folder cannot save its cursor as pending before its commit (nothing written); or the
  source fails. A rerun runs an earlier logical date again. After a run each destination that succeeded holds exactly the source's rows (merge: each
  distinct row once), one that failed before committing holds what it held before, one whose data
  committed holds everything.
- **data interval** (``IntervalLoads``): a daily source feeding an append table, a merge table and one
  Parquet file per day (``{{ ds }}``). Batches land in any of four days (at midnight and at the day's last
  second too), also in days already loaded (late data); runs and reruns of any day in any order; failed
  runs (a table refusing rows, the day's folder a file, the source missing). Each destination holds, per
  day, the source's rows of that day as they were at its latest successful run of the day.

Scripted scenarios make sure every failure happens at least once after late ties and twins, and that a
per-run file or folder whose cursor Variable could not be saved is followed by a run of another date (not
the retry) without a row written twice. Deterministic (``derandomize=True``, no example database) and
bounded: the file takes ~1.75 minutes on two cores. Every example starts from an empty schema, no cursor
Variables and no files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import specs

pytestmark = pytest.mark.integration

UTC = dt.timezone.utc
SCHEMA = "prop"
Row = tuple[Any, ...]


def bounded(examples: int, steps: int) -> settings:
    """Few examples of few steps: each run is a real ``dag.test()`` (~0.5-1 s here)."""
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
        ],
    )


# A batch: up to 50 rows of (cursor offset, value, twin pick). Offsets are seconds after the source's
# largest cursor value (0: a tie with it); a twin pick copies a row at or after that value instead.
VALUES = ("a", "b", " c ", None)
ROW_SPECS = st.tuples(
    st.sampled_from((0, 0, 0, 1, 1, 2, 7)),
    st.sampled_from(VALUES),
    st.one_of(st.none(), st.none(), st.none(), st.integers(0, 99)),
)


def batches(rows: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """0 to 50 rows, the size drawn first: a plain list strategy draws mostly a handful of rows."""
    return st.integers(0, 50).flatmap(lambda n: st.lists(rows, min_size=n, max_size=n))


BATCHES = batches(ROW_SPECS)


# --- reading what a destination holds -----------------------------------------------------------------


def table_rows(pg: Any, table: str) -> Counter[Row]:
    """The rows of ``prop.<table>`` as a multiset (empty when the table does not exist yet)."""
    found = pg.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{table}",)).fetchone()
    if found is None or found[0] is None:
        return Counter()
    return Counter(tuple(r) for r in pg.execute(f"SELECT id, v, at FROM {SCHEMA}.{table}").fetchall())


def parquet_rows(files: list[Path]) -> Counter[Row]:
    import pyarrow.parquet as pq

    held: Counter[Row] = Counter()
    for path in files:
        table = pq.read_table(path).select(["id", "v", "at"])
        held.update((r["id"], r["v"], r["at"]) for r in table.to_pylist())
    return held


def visible_files(folder: Path, pattern: str) -> list[Path]:
    """The files a reader of ``folder`` sees (not the hidden temporary folders of a write)."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob(pattern)
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def distinct(rows: Counter[Row]) -> Counter[Row]:
    """What a merge on ``id`` holds: each distinct row once (twins are identical, so one per id)."""
    return Counter(set(rows))


def forget_variables(prefix: str) -> None:
    from airflow.models import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Variable).filter(Variable.key.like(f"{prefix}%")).delete(synchronize_session=False)


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


# --- making one destination fail for one run ----------------------------------------------------------

STATE_TABLE_DDL = (
    f"CREATE TABLE IF NOT EXISTS {SCHEMA}.logidata_cursor_state (dag_id text NOT NULL, source_task text NOT "
    "NULL, destination_task text NOT NULL, state jsonb NOT NULL, committed_at timestamptz NOT NULL DEFAULT "
    "now(), PRIMARY KEY (dag_id, source_task, destination_task))"
)


@contextlib.contextmanager
def refusing_rows(pg: Any, table: str, like: str) -> Iterator[None]:
    """The table refuses every row written into it (a constraint no row meets), then accepts them again."""
    pg.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{table} (LIKE {SCHEMA}.{like})")
    pg.execute(f"ALTER TABLE {SCHEMA}.{table} ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
    try:
        yield
    finally:
        pg.execute(f"ALTER TABLE {SCHEMA}.{table} DROP CONSTRAINT refuse_all")


@contextlib.contextmanager
def refusing_state(pg: Any, destination: str, errcode: str) -> Iterator[None]:
    """Writing ``destination``'s row of the cursor state table raises ``errcode`` (P0001: any error, the
    load rolls back; 42501: no privilege, the load commits and saves its cursor as a Variable)."""
    pg.execute(STATE_TABLE_DDL)
    pg.execute(
        f"CREATE OR REPLACE FUNCTION {SCHEMA}.refuse_state() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.destination_task = TG_ARGV[0] THEN "
        "RAISE EXCEPTION 'refused by the test' USING ERRCODE = TG_ARGV[1]; END IF; RETURN NEW; END $$"
    )
    pg.execute(
        f"CREATE TRIGGER refuse_state BEFORE INSERT OR UPDATE ON {SCHEMA}.logidata_cursor_state "
        f"FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.refuse_state('{destination}', '{errcode}')"
    )
    try:
        yield
    finally:
        pg.execute(f"DROP TRIGGER refuse_state ON {SCHEMA}.logidata_cursor_state")


@contextlib.contextmanager
def blocked(path: Path) -> Iterator[None]:
    """``path`` (a folder) is a regular file for a while: nothing can be written into it."""
    aside = path.with_name(path.name + ".aside")
    existed = path.exists()
    if existed:
        path.rename(aside)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not a folder")
    try:
        yield
    finally:
        path.unlink()
        if existed:
            aside.rename(path)


@contextlib.contextmanager
def cursor_not_saved(monkeypatch: pytest.MonkeyPatch, key: str, *, pending: bool = False) -> Iterator[None]:
    """Saving the Airflow Variable ``key`` fails (the metadata DB is unreachable at that moment).

    By default the save after the commit (any value without a ``pending`` entry): the destination's data
    is committed, its cursor is not. With ``pending``, the save a single file makes just before its commit
    (nothing is written). ``dag.test()`` runs tasks in this process."""
    from airflow_provider_logidata.engine import cursor_state
    from airflow_provider_logidata.engine.cursor_pending import PENDING

    original = cursor_state.store_cursor

    def store(name: str, value: Any) -> None:
        if name == key and (isinstance(value, dict) and PENDING in value) == pending:
            raise ConnectionError("metadata database unreachable (test)")
        original(name, value)

    with monkeypatch.context() as patch:
        patch.setattr(cursor_state, "store_cursor", store)
        yield


@contextlib.contextmanager
def source_missing(pg: Any, table: str) -> Iterator[None]:
    pg.execute(f"ALTER TABLE {SCHEMA}.{table} RENAME TO {table}_away")
    try:
        yield
    finally:
        pg.execute(f"ALTER TABLE {SCHEMA}.{table}_away RENAME TO {table}")


class Harness:
    """The fixtures a state machine needs, and a fresh start for each example."""

    def __init__(
        self,
        run_pipeline: Any,
        pg: Any,
        conn_id: str,
        root: Path,
        monkeypatch: pytest.MonkeyPatch,
        s3: tuple[str, str] | None = None,
    ) -> None:
        self.run_pipeline = run_pipeline
        self.pg = pg
        self.conn_id = conn_id
        self.root = root
        self.monkeypatch = monkeypatch
        self.s3 = s3  # (endpoint, bucket) of moto's S3 server, for a destination on object storage

    def reset(self, dag_id: str, source_ddl: str) -> None:
        self.pg.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        self.pg.execute(f"CREATE SCHEMA {SCHEMA}")
        self.pg.execute(source_ddl)
        forget_variables(f"logidata.cursor.{dag_id}.")
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        if self.s3 is not None:
            client, bucket = self.s3_client(), self.s3[1]
            for key in self.s3_keys(""):
                client.delete_object(Bucket=bucket, Key=key)

    def s3_client(self) -> Any:
        import boto3

        assert self.s3 is not None
        return boto3.client("s3", endpoint_url=self.s3[0], region_name="us-east-1")

    def s3_keys(self, prefix: str) -> list[str]:
        assert self.s3 is not None
        pages = self.s3_client().get_paginator("list_objects_v2").paginate(Bucket=self.s3[1], Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def s3_rows(self, prefix: str) -> Counter[Row]:
        """The rows of the Parquet files under ``prefix`` a reader sees (not hidden temporary keys)."""
        import io

        import pyarrow.parquet as pq

        assert self.s3 is not None
        held: Counter[Row] = Counter()
        for key in self.s3_keys(prefix):
            if key.endswith(".parquet") and not any(part.startswith(".") for part in key.split("/")):
                body = self.s3_client().get_object(Bucket=self.s3[1], Key=key)["Body"].read()
                table = pq.read_table(io.BytesIO(body)).select(["id", "v", "at"])
                held.update((r["id"], r["v"], r["at"]) for r in table.to_pylist())
        return held

    def run(self, spec: dict[str, Any], logical_date: dt.datetime) -> dict[str, str]:
        dag_run, _ = self.run_pipeline(spec, logical_date=logical_date)
        return task_states(dag_run)


@pytest.fixture
def harness(
    run_pipeline: Any, pg: Any, pg_conn_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Harness:
    return Harness(run_pipeline, pg, pg_conn_id, tmp_path / "out", monkeypatch)


@pytest.fixture
def s3_harness(harness: Harness, s3_server: str, s3_bucket: str) -> Harness:
    harness.s3 = (s3_server, s3_bucket)
    return harness


# --- cursor ---------------------------------------------------------------------------------------------

CURSOR_DAG = "inc_property_cursor"
BASE = dt.datetime(2024, 1, 1)
FEED = f"CREATE TABLE {SCHEMA}.feed (id int NOT NULL, v text, at timestamp NOT NULL)"
# (destination, how it fails): each failure of a run the state machine may pick.
CURSOR_FAILURES = (
    ("app", "refuse_rows"),
    ("mrg", "refuse_rows"),
    ("app", "state_error"),
    ("mrg", "state_error"),
    ("app", "state_denied"),
    ("folder", "blocked"),
    ("per_run", "blocked"),
    ("folder", "cursor_not_saved"),
    ("s3_folder", "cursor_not_saved"),
    # Committed, its cursor saved as pending only: the next run (another file) adopts it.
    ("per_run", "cursor_not_saved"),
    # Its cursor cannot be saved as pending before the commit: nothing is written.
    ("per_run", "pending_not_saved"),
    ("per_run_folder", "cursor_not_saved"),
    ("per_run_folder", "pending_not_saved"),
    ("feed", "source_missing"),
)
CURSOR_DESTINATIONS = ("app", "mrg", "folder", "per_run", "per_run_folder", "s3_folder")
# Failures after which the destination's data is committed (it must hold every row).
COMMITTED = {"state_denied", "cursor_not_saved"}


def cursor_spec(conn_id: str, root: Path, bucket: str) -> dict[str, Any]:
    return specs.fan_out(
        specs.incremental_source(conn_id, "feed", "at", schema=SCHEMA),
        [
            specs.pg_destination(conn_id, "app", schema=SCHEMA, table="app_copy"),
            specs.pg_destination(conn_id, "mrg", schema=SCHEMA, table="mrg_copy", mode="merge", keys=["id"]),
            specs.file_destination("folder", f"{root}/folder/"),
            specs.file_destination("per_run", f"{root}/runs/feed_{{{{ ts_nodash }}}}.parquet"),
            specs.file_destination("per_run_folder", f"{root}/run_folders/{{{{ ts_nodash }}}}/"),
            specs.file_destination("s3_folder", f"s3://{bucket}/feed/", conn_id="logidata_s3"),
        ],
        CURSOR_DAG,
    )


class CursorLoads(RuleBasedStateMachine):
    """One cursor source, six destinations; see the module docstring."""

    def __init__(self, harness: Harness) -> None:
        super().__init__()
        self.h = harness
        assert harness.s3 is not None
        self.spec = cursor_spec(harness.conn_id, harness.root, harness.s3[1])
        harness.reset(CURSOR_DAG, FEED)
        self.next_id = 1
        self.runs: list[dt.datetime] = []
        self.log: list[str] = []

    # What each destination holds.
    def held(self) -> dict[str, Counter[Row]]:
        pg, root = self.h.pg, self.h.root
        return {
            "app": table_rows(pg, "app_copy"),
            "mrg": table_rows(pg, "mrg_copy"),
            "folder": parquet_rows(visible_files(root / "folder", "*.parquet")),
            "per_run": parquet_rows(visible_files(root / "runs", "feed_*.parquet")),
            "per_run_folder": parquet_rows(visible_files(root / "run_folders", "*.parquet")),
            "s3_folder": self.h.s3_rows("feed/"),
        }

    def complete(self) -> dict[str, Counter[Row]]:
        """What each destination holds once it loaded every row of the source."""
        source = table_rows(self.h.pg, "feed")
        return {name: distinct(source) if name == "mrg" else source for name in CURSOR_DESTINATIONS}

    @initialize(batch=BATCHES)
    def first_rows(self, batch: list[tuple[int, str | None, int | None]]) -> None:
        self.insert(batch)

    @rule(batch=BATCHES)
    def insert(self, batch: list[tuple[int, str | None, int | None]] | None) -> None:
        if not batch:
            return
        pg = self.h.pg
        top = pg.execute(f"SELECT max(at) FROM {SCHEMA}.feed").fetchone()[0] or BASE
        at_top = [tuple(r) for r in pg.execute(f"SELECT id, v, at FROM {SCHEMA}.feed WHERE at = %s", (top,))]
        rows: list[Row] = []
        for offset, value, twin in batch:
            candidates = at_top + rows
            if twin is not None and candidates:
                rows.append(candidates[twin % len(candidates)])
            else:
                rows.append((self.next_id, value, top + dt.timedelta(seconds=offset)))
                self.next_id += 1
        with pg.cursor() as cur:
            cur.executemany(f"INSERT INTO {SCHEMA}.feed (id, v, at) VALUES (%s, %s, %s)", rows)
        self.log.append(f"insert {len(rows)}")

    def _run(self, logical_date: dt.datetime, failure: tuple[str, str] | None = None) -> None:
        before = self.held()
        target, how = failure or ("", "")
        with self._failing(target, how):
            states = self.h.run(self.spec, logical_date)
        self.log.append(
            f"run {self.runs.index(logical_date)}" + (f" failing {target} ({how})" if failure else "")
        )
        complete = self.complete()
        after = self.held()
        context = f"{self.log}: {states}"
        if how == "source_missing":
            assert states["feed"] == "failed", context
            assert after == before, context
            return
        for name, expected in complete.items():
            if name != target:
                assert states[name] == "success", (name, context)
                assert after[name] == expected, (name, context, _diff(after[name], expected))
            elif how in COMMITTED:
                assert after[name] == expected, (name, context, _diff(after[name], expected))
                if how == "state_denied":
                    assert states[name] == "success", (name, context)
            else:
                # Unchanged; and it really failed whenever it had rows to land.
                assert after[name] == before[name], (name, context, _diff(after[name], before[name]))
                if before[name] != expected or how == "blocked":
                    assert states[name] == "failed", (name, context)

    @contextlib.contextmanager
    def _failing(self, target: str, how: str) -> Iterator[None]:
        pg = self.h.pg
        if how == "refuse_rows":
            with refusing_rows(pg, {"app": "app_copy", "mrg": "mrg_copy"}[target], "feed"):
                yield
        elif how == "state_error":
            with refusing_state(pg, target, "P0001"):
                yield
        elif how == "state_denied":
            with refusing_state(pg, target, "42501"):
                yield
        elif how == "blocked":
            with blocked(self.h.root / {"folder": "folder", "per_run": "runs"}[target]):
                yield
        elif how in ("cursor_not_saved", "pending_not_saved"):
            key = f"logidata.cursor.{CURSOR_DAG}.feed.{target}"
            with cursor_not_saved(self.h.monkeypatch, key, pending=how == "pending_not_saved"):
                yield
        elif how == "source_missing":
            with source_missing(pg, "feed"):
                yield
        else:
            yield

    def _next_date(self) -> dt.datetime:
        moment = dt.datetime(2024, 3, 1, tzinfo=UTC) + dt.timedelta(hours=len(self.runs))
        self.runs.append(moment)
        return moment

    # Each run may first insert a batch (``new``): inserts and runs interleave more in few steps.

    @rule(new=BATCHES)
    def run(self, new: list[tuple[int, str | None, int | None]] | None = None) -> None:
        self.insert(new)
        self._run(self._next_date())

    @precondition(lambda self: bool(self.runs))
    @rule(pick=st.integers(0, 99), new=BATCHES)
    def rerun(self, pick: int, new: list[tuple[int, str | None, int | None]] | None = None) -> None:
        """An earlier logical date again (the per-run file of that date gains the new rows)."""
        self.insert(new)
        self._run(self.runs[-1 - pick % len(self.runs)])

    @rule(failure=st.sampled_from(CURSOR_FAILURES), new=BATCHES)
    def failed_run(
        self, failure: tuple[str, str], new: list[tuple[int, str | None, int | None]] | None = None
    ) -> None:
        self.insert(new)
        self._run(self._next_date(), failure)


def _diff(held: Counter[Row], expected: Counter[Row]) -> dict[str, Any]:
    return {"missing": list((expected - held).items())[:5], "extra": list((held - expected).items())[:5]}


def test_cursor_loads_never_lose_duplicate_or_change_a_row(s3_harness: Harness) -> None:
    run_state_machine_as_test(lambda: CursorLoads(s3_harness), settings=bounded(6, 8))


def ties(count: int, twins: int = 0) -> list[tuple[int, str | None, int | None]]:
    """``count`` new rows at the source's largest cursor value, then ``twins`` copies of rows there."""
    return [(0, VALUES[i % len(VALUES)], None) for i in range(count)] + [(0, "a", i) for i in range(twins)]


def test_cursor_scripted_every_failure(s3_harness: Harness) -> None:
    """Every failure at least once, each after late ties and twins at the largest value (hypothesis may
    not draw them all in its few examples)."""
    machine = CursorLoads(s3_harness)
    machine.insert([*ties(12), (1, "b", None), (1, None, None)])
    machine.run()
    for failure in CURSOR_FAILURES:
        machine.insert([*ties(3, twins=2), (2, " c ", None)])
        machine.failed_run(failure)
        machine.insert(ties(2, twins=1))
    machine.run()
    machine.rerun(1)
    machine.run()


@pytest.mark.parametrize("target", ["per_run", "per_run_folder"])
def test_per_run_file_needs_no_retry(s3_harness: Harness, target: str) -> None:
    """Saving its cursor failed after a per-run file (or folder) was committed; the next run has another
    logical date (another file): it adopts the pending cursor the write left in the Variable and writes
    only the new rows. The late retry of the failed date afterwards adds nothing either."""
    machine = CursorLoads(s3_harness)
    machine.insert(ties(5))
    machine.run()
    machine.insert(ties(3, twins=1))
    failed = machine._next_date()
    machine._run(failed, (target, "cursor_not_saved"))
    machine.insert(ties(2))
    machine.run()  # not the retry: another logical date
    machine._run(failed)  # the retry, late


# --- data interval --------------------------------------------------------------------------------------

INTERVAL_DAG = "inc_property_interval"
DAYS = 4
FIRST_DAY = dt.datetime(2024, 1, 1, tzinfo=UTC)
EVENTS = f"CREATE TABLE {SCHEMA}.events (id int NOT NULL, v text, at timestamptz NOT NULL)"
# A row's moment in its day: midnight (the interval's first instant) often, the day's last second too.
DAY_OFFSETS = (0, 0, 1, 3600, 43200, 86399)
EVENT_SPECS = st.tuples(
    st.integers(0, DAYS - 1),
    st.sampled_from(DAY_OFFSETS),
    st.sampled_from(VALUES),
    st.one_of(st.none(), st.none(), st.none(), st.none(), st.integers(0, 99)),
)
INTERVAL_FAILURES = (
    ("app", "refuse_rows"),
    ("mrg", "refuse_rows"),
    ("day_file", "blocked"),
    ("events", "source_missing"),
)


def interval_spec(conn_id: str, root: Path) -> dict[str, Any]:
    return specs.fan_out(
        specs.incremental_source(conn_id, "events", "at", "data_interval", schema=SCHEMA),
        [
            specs.pg_destination(conn_id, "app", schema=SCHEMA, table="ev_app"),
            specs.pg_destination(conn_id, "mrg", schema=SCHEMA, table="ev_mrg", mode="merge", keys=["id"]),
            specs.file_destination("day_file", f"{root}/days/day={{{{ ds }}}}/events.parquet"),
        ],
        INTERVAL_DAG,
        engine="etl",
        **specs.DAILY,
    )


class IntervalLoads(RuleBasedStateMachine):
    """One daily source, three destinations; see the module docstring."""

    def __init__(self, harness: Harness) -> None:
        super().__init__()
        self.h = harness
        self.spec = interval_spec(harness.conn_id, harness.root)
        harness.reset(INTERVAL_DAG, EVENTS)
        self.next_id = 1
        # Per destination, per day: the day's source rows at its latest successful run of the day.
        self.loaded: dict[str, dict[int, Counter[Row]]] = {"app": {}, "mrg": {}, "day_file": {}}
        self.log: list[str] = []

    @staticmethod
    def day_folder(root: Path, day: int) -> Path:
        """The folder of the file of the run that reads ``day`` (its logical date is the next day)."""
        return root / "days" / f"day={(FIRST_DAY + dt.timedelta(days=day + 1)):%Y-%m-%d}"

    def day_rows(self, day: int) -> Counter[Row]:
        start = FIRST_DAY + dt.timedelta(days=day)
        return Counter(
            tuple(r)
            for r in self.h.pg.execute(
                f"SELECT id, v, at FROM {SCHEMA}.events WHERE at >= %s AND at < %s",
                (start, start + dt.timedelta(days=1)),
            )
        )

    @initialize(batch=batches(EVENT_SPECS))
    def first_rows(self, batch: list[tuple[int, int, str | None, int | None]]) -> None:
        self.insert(batch)

    @rule(batch=batches(EVENT_SPECS))
    def insert(self, batch: list[tuple[int, int, str | None, int | None]] | None) -> None:
        if not batch:
            return
        pg = self.h.pg
        existing = [tuple(r) for r in pg.execute(f"SELECT id, v, at FROM {SCHEMA}.events ORDER BY id, at, v")]
        rows: list[Row] = []
        for day, offset, value, twin in batch:
            candidates = existing + rows
            if twin is not None and candidates:
                rows.append(candidates[twin % len(candidates)])
            else:
                moment = FIRST_DAY + dt.timedelta(days=day, seconds=offset)
                rows.append((self.next_id, value, moment))
                self.next_id += 1
        with pg.cursor() as cur:
            cur.executemany(f"INSERT INTO {SCHEMA}.events (id, v, at) VALUES (%s, %s, %s)", rows)
        self.log.append(f"insert {len(rows)}")

    def _run(self, day: int, failure: tuple[str, str] | None = None) -> None:
        target, how = failure or ("", "")
        logical_date = FIRST_DAY + dt.timedelta(days=day + 1)
        snapshot = self.day_rows(day)
        with self._failing(target, how, day):
            states = self.h.run(self.spec, logical_date)
        self.log.append(f"run day {day}" + (f" failing {target} ({how})" if failure else ""))
        context = f"{self.log}: {states}"
        if how == "source_missing":
            assert states["events"] == "failed", context
        for name in self.loaded:
            if name == target and how in ("refuse_rows", "blocked") and (snapshot or how == "blocked"):
                assert states[name] == "failed", (name, context)
            if states[name] == "success":
                self.loaded[name][day] = snapshot
            else:
                assert name == target or how == "source_missing", (name, context)
        self.check(context)

    def check(self, context: str) -> None:
        pg, root = self.h.pg, self.h.root
        app = sum(self.loaded["app"].values(), Counter())
        assert table_rows(pg, "ev_app") == app, ("app", context, _diff(table_rows(pg, "ev_app"), app))
        mrg = distinct(sum(self.loaded["mrg"].values(), Counter()))
        assert table_rows(pg, "ev_mrg") == mrg, ("mrg", context, _diff(table_rows(pg, "ev_mrg"), mrg))
        for day in range(DAYS):
            files = visible_files(self.day_folder(root, day), "*.parquet")
            if day in self.loaded["day_file"]:
                assert [f.name for f in files] == ["events.parquet"], (day, context)
                held = parquet_rows(files)
                expected = self.loaded["day_file"][day]
                assert held == expected, ("day_file", day, context, _diff(held, expected))
            else:
                assert files == [], (day, context)

    @contextlib.contextmanager
    def _failing(self, target: str, how: str, day: int) -> Iterator[None]:
        pg = self.h.pg
        if how == "refuse_rows":
            with refusing_rows(pg, {"app": "ev_app", "mrg": "ev_mrg"}[target], "events"):
                yield
        elif how == "blocked":
            with blocked(self.day_folder(self.h.root, day)):
                yield
        elif how == "source_missing":
            with source_missing(pg, "events"):
                yield
        else:
            yield

    # Each run may first insert a batch (``new``, into any day): late data between reruns in few steps.

    @rule(day=st.integers(0, DAYS - 1), new=batches(EVENT_SPECS))
    def run(self, day: int, new: list[tuple[int, int, str | None, int | None]] | None = None) -> None:
        """A day's first run, or a rerun of it (late rows of the day included)."""
        self.insert(new)
        self._run(day)

    @rule(day=st.integers(0, DAYS - 1), failure=st.sampled_from(INTERVAL_FAILURES), new=batches(EVENT_SPECS))
    def failed_run(
        self,
        day: int,
        failure: tuple[str, str],
        new: list[tuple[int, int, str | None, int | None]] | None = None,
    ) -> None:
        self.insert(new)
        self._run(day, failure)


def test_interval_loads_hold_each_days_latest_rows(harness: Harness) -> None:
    run_state_machine_as_test(lambda: IntervalLoads(harness), settings=bounded(12, 10))


def test_interval_scripted_late_data_reruns_and_failures(harness: Harness) -> None:
    """Late rows into days already loaded, at midnight and at the day's last second, reruns out of
    order, and every failure."""
    machine = IntervalLoads(harness)
    every_day = [(day, offset, "a", None) for day in range(DAYS) for offset in DAY_OFFSETS]
    machine.insert(every_day)
    machine.run(1)
    machine.run(0)
    machine.insert([(0, 0, "b", None), (1, 86399, None, None), (1, 0, "a", 0), (2, 0, " c ", 3)])
    for day, failure in zip((0, 1, 0, 2), INTERVAL_FAILURES, strict=True):
        machine.failed_run(day, failure)
    machine.insert([(0, 1, "late", None), (3, 0, "a", None)])
    for day in (0, 1, 2, 3, 1):
        machine.run(day)
