"""destination.postgres write paths against the suite's real PostgreSQL: COPY in binary gives exactly the rows
CSV gives (every type with a binary encoder, nulls, sliced batches), CSV is kept where binary would not be
exact, and replace swaps in a new table keeping indexes, grants and comments, or falls back to TRUNCATE +
INSERT when the table has what a swap would lose."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_logidata.engine import pg_copy, runner
from airflow_provider_logidata.engine import pg_load as _registers_destination  # noqa: F401
from airflow_provider_logidata.engine.errors import LogiDataTaskError

UTC = dt.timezone.utc


def load(conn_id: str, handle: Any, log: Any, **config: Any) -> dict[str, Any]:
    return runner.run_destination(
        {"conn_id": conn_id, **config}, "load", [handle], module="destination.postgres", log=log
    )


def rows(pg: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in pg.execute(sql).fetchall()]


BINARY_TYPES = pa.table(
    {
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "i8": pa.array([-128, None, 127, 0], pa.int8()),
        "i16": pa.array([-32768, 32767, None, 1], pa.int16()),
        "i32": pa.array([-(2**31), 2**31 - 1, None, 7], pa.int32()),
        "u8": pa.array([255, 0, None, 1], pa.uint8()),
        "u16": pa.array([65535, 0, 1, None], pa.uint16()),
        "u32": pa.array([2**32 - 1, 0, None, 3], pa.uint32()),
        "i64": pa.array([-(2**63), 2**63 - 1, None, 0], pa.int64()),
        "f32": pa.array([1.5, float("nan"), None, -0.0], pa.float32()),
        "f64": pa.array([0.1, float("inf"), float("-inf"), None]),
        "ok": pa.array([True, False, None, True]),
        "day": pa.array([dt.date(2024, 2, 29), dt.date(1, 1, 1), None, dt.date(1999, 12, 31)], pa.date32()),
        "at_s": pa.array([dt.datetime(1970, 1, 1), None, dt.datetime(2000, 1, 1), None], pa.timestamp("s")),
        "at_ms": pa.array(
            [dt.datetime(1999, 12, 31, 23, 59, 59, 999000), None, None, None], pa.timestamp("ms")
        ),
        "at_us": pa.array(
            [dt.datetime(2024, 1, 2, 3, 4, 5, 123456), None, dt.datetime(1900, 1, 1), None],
            pa.timestamp("us"),
        ),
        "at_utc": pa.array(
            [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None, None, None], pa.timestamp("us", "UTC")
        ),
        "at_paris": pa.array(
            [dt.datetime(2024, 6, 1, 12, tzinfo=UTC), None, None, None], pa.timestamp("ms", "Europe/Paris")
        ),
        "clock": pa.array([dt.time(1, 2, 3, 456789), None, dt.time(23, 59, 59), None], pa.time64("us")),
        "clock_s": pa.array([3600, None, 0, 1], pa.time32("s")),
        "name": ['he said "hi",\nthen \\. left', "", None, "ünïcödé \t tab"],
        "big_name": pa.array(["a", None, "b", "c"], pa.large_string()),
        "kind": pa.array(["x", "y", None, "x"]).dictionary_encode(),
        "blob": pa.array([b"\x00\xff", b"", None, b"\\x"], pa.binary()),
        "nothing": pa.nulls(4),
        "no_nulls": ["p", "q", "r", "s"],
    }
)


def test_binary_copy_matches_csv_copy(
    pg: Any, pg_conn_id: str, stage: Any, log: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = stage(BINARY_TYPES, batch_rows=3)  # two batches
    load(pg_conn_id, handle, log, table="by_binary")
    assert "COPY format binary" in log.text()
    monkeypatch.setattr(pg_copy, "binary_plan", lambda types: None)
    load(pg_conn_id, handle, log, table="by_csv")
    assert "COPY format csv" in log.text()
    by_binary = rows(pg, "SELECT * FROM by_binary ORDER BY id")
    by_csv = rows(pg, "SELECT * FROM by_csv ORDER BY id")
    assert len(by_binary) == 4
    for left, right in zip(by_binary, by_csv, strict=True):
        # NaN != NaN: compare the text PostgreSQL prints instead.
        assert [repr(v) for v in left] == [repr(v) for v in right]
    first = by_binary[0]
    assert first[1:8] == (-128, -32768, -(2**31), 255, 65535, 2**32 - 1, -(2**63))
    assert first[11] == dt.date(2024, 2, 29) and first[14] == dt.datetime(2024, 1, 2, 3, 4, 5, 123456)
    assert first[16].astimezone(UTC) == dt.datetime(2024, 6, 1, 12, tzinfo=UTC)
    assert first[17] == dt.time(1, 2, 3, 456789) and first[18] == dt.time(1, 0)
    assert first[19] == 'he said "hi",\nthen \\. left' and first[22] == b"\x00\xff" and first[23] is None


def test_sliced_batches_encode_like_copies() -> None:
    batch = BINARY_TYPES.to_batches()[0]
    plan = pg_copy.binary_plan(
        [(f.type, t) for f, t in zip(batch.schema, ["bigint"] * 8 + ["text"] * 17, strict=True)]
    )
    assert plan is None  # floats into bigint: no exact binary form
    names = ["id", "i16", "f64", "ok", "day", "at_us", "name", "blob", "nothing"]
    part = batch.select(names)
    targets = ["bigint", "smallint", "double precision", "boolean", "date",
               "timestamp(3) without time zone", "character varying(20)", "bytea", "integer"]  # fmt: skip
    plan = pg_copy.binary_plan([(f.type, t) for f, t in zip(part.schema, targets, strict=True)])
    assert plan is not None
    sliced = part.slice(1, 2)
    copied = pa.RecordBatch.from_pylist(sliced.to_pylist(), schema=sliced.schema)
    assert bytes(pg_copy.encode_binary(sliced, plan)) == bytes(pg_copy.encode_binary(copied, plan))


def test_types_without_an_exact_binary_form_use_csv(pg: Any, pg_conn_id: str, stage: Any, log: Any) -> None:
    pg.execute("CREATE TABLE narrow (id integer, code uuid)")
    data = {
        "id": pa.array([1, 2], pa.int64()),  # int64 into integer: the file's statistics prove the range
        "code": ["0c4a9a2e-2b9c-4b47-9a57-1b1a1b9f0f3e", None],
    }
    load(pg_conn_id, stage(data), log, table="narrow")
    assert "COPY format csv" in log.text()
    assert rows(pg, "SELECT id, code::text FROM narrow ORDER BY id") == [
        (1, "0c4a9a2e-2b9c-4b47-9a57-1b1a1b9f0f3e"),
        (2, None),
    ]


def test_float_into_real_is_checked_not_rounded(pg: Any, pg_conn_id: str, stage: Any, log: Any) -> None:
    """0.1 has no exact float4 form: 'fail' refuses it, 'evolve' widens the column to double precision."""
    pg.execute("CREATE TABLE narrow (id integer, ratio real)")
    data = {"id": pa.array([1, 2], pa.int64()), "ratio": [0.5, 0.1]}
    with pytest.raises(LogiDataTaskError, match=r"column 'ratio' \(input double precision, table real\)"):
        load(pg_conn_id, stage(data), log, table="narrow", on_schema_change="fail")
    assert rows(pg, "SELECT count(*) FROM narrow") == [(0,)]
    load(pg_conn_id, stage(data), log, table="narrow")
    assert rows(pg, "SELECT id, ratio FROM narrow ORDER BY id") == [(1, 0.5), (2, 0.1)]
    assert rows(pg, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = 'narrow'::regclass AND attname = 'ratio'") == [("double precision",)]  # fmt: skip


def test_replace_swaps_in_a_new_table_keeping_what_is_attached(
    pg: Any, pg_conn_id: str, stage: Any, log: Any
) -> None:
    pg.execute(
        "CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL DEFAULT 'x' CHECK (name <> 'bad'), "
        "extra text) WITH (fillfactor = 90)"
    )
    pg.execute("CREATE INDEX t_by_name ON t (lower(name)) WHERE name <> ''")
    pg.execute("ALTER TABLE t DROP COLUMN extra")  # attnums with a gap in the old table
    pg.execute("COMMENT ON TABLE t IS 'orders'")
    pg.execute("COMMENT ON COLUMN t.name IS 'who'")
    pg.execute("CREATE ROLE logidata_reader")
    pg.execute("GRANT SELECT ON t TO logidata_reader")
    pg.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    before = rows(pg, "SELECT 't'::regclass::oid")[0][0]
    result = load(
        pg_conn_id, stage({"id": [7, 8, 9], "name": ["x", "y", "z"]}), log, table="t", mode="replace"
    )
    assert result["rows"] == 3
    assert rows(pg, "SELECT * FROM t ORDER BY id") == [(7, "x"), (8, "y"), (9, "z")]
    assert rows(pg, "SELECT 't'::regclass::oid")[0][0] != before  # swapped, not truncated
    assert "(replace, table swap)" in log.text()
    # Everything attached to the table came along, under its old names.
    assert rows(pg, "SELECT indexname FROM pg_indexes WHERE tablename = 't' ORDER BY 1") == [
        ("t_by_name",),
        ("t_pkey",),
    ]
    assert rows(pg, "SELECT conname FROM pg_constraint WHERE conrelid = 't'::regclass ORDER BY 1") == [
        ("t_name_check",),
        ("t_pkey",),
    ]
    assert rows(
        pg, "SELECT obj_description('t'::regclass, 'pg_class'), col_description('t'::regclass, 2)"
    ) == [("orders", "who")]
    assert rows(pg, "SELECT has_table_privilege('logidata_reader', 't', 'SELECT')") == [(True,)]
    assert rows(pg, "SELECT reloptions FROM pg_class WHERE oid = 't'::regclass") == [(["fillfactor=90"],)]
    assert rows(pg, "SELECT count(*) FROM pg_class WHERE relname LIKE 't\\_\\_logidata\\_%'") == [(0,)]
    with pytest.raises(Exception, match="t_name_check"):
        pg.execute("INSERT INTO t VALUES (10, 'bad')")
    pg.execute("DROP TABLE t")
    pg.execute("DROP ROLE logidata_reader")


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("CREATE VIEW v AS SELECT * FROM t", "views, rules or functions depend on it"),
        ("ALTER TABLE t ADD COLUMN n serial", "it owns sequences"),
        (
            "CREATE TABLE parent (id bigint PRIMARY KEY); INSERT INTO parent VALUES (1), (5); "
            "ALTER TABLE t ADD FOREIGN KEY (id) REFERENCES parent (id)",
            "foreign keys",
        ),
    ],
)
def test_replace_falls_back_to_truncate_when_a_swap_would_lose_something(
    pg: Any, pg_conn_id: str, stage: Any, log: Any, setup: str, reason: str
) -> None:
    pg.execute("CREATE TABLE t (id bigint PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'a')")
    pg.execute(setup)
    before = rows(pg, "SELECT 't'::regclass::oid")[0][0]
    load(pg_conn_id, stage({"id": [5], "name": ["e"]}), log, table="t", mode="replace")
    assert rows(pg, "SELECT id, name FROM t") == [(5, "e")]
    assert rows(pg, "SELECT 't'::regclass::oid")[0][0] == before
    assert reason in log.text() and "(replace, truncate + insert)" in log.text()


def test_encoder_thread_hands_over_errors_and_stops_when_the_sender_stops() -> None:
    import contextlib
    import threading

    batch = pa.record_batch({"a": [1, 2, 3]})

    def failing() -> Any:
        yield batch
        raise pa.ArrowInvalid("broken row group")

    with pytest.raises(pa.ArrowInvalid, match="broken row group"):
        for _rows, _data in pg_copy.encoded_in_background(failing(), lambda b: b.num_rows):
            pass

    read = []

    def endless() -> Any:
        while True:
            read.append(1)
            yield batch

    before = threading.active_count()
    with contextlib.closing(pg_copy.encoded_in_background(endless(), lambda b: b.num_rows)) as chunks:
        assert next(chunks) == (3, 3)
    assert threading.active_count() == before  # the encoder thread has ended
    assert len(read) <= 2 + pg_copy.QUEUE_BATCHES  # and stopped reading


@pytest.mark.parametrize(
    ("owner", "reason"),
    [
        ("loader", "the loading user may not create tables in its schema"),
        ("postgres", "it is owned by another role than the loading user"),
    ],
)
def test_replace_as_a_plain_user_falls_back_where_it_may_not_swap(
    postgres_server: Any,
    pg_database: str,
    pg: Any,
    stage: Any,
    log: Any,
    monkeypatch: pytest.MonkeyPatch,
    owner: str,
    reason: str,
) -> None:
    """A real deployment loads as an ordinary role: without CREATE on the schema, or into a table owned by
    someone else, a swap would fail (or change the owner), so replace must fall back to TRUNCATE + INSERT
    through the privileges that role does have, and keep the table's identity."""
    import json
    import uuid

    role = f"loader_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    owner_role = role if owner == "loader" else "postgres"
    pg.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        pg.execute("CREATE SCHEMA app")
        pg.execute(f"GRANT USAGE ON SCHEMA app TO {role}")  # no CREATE
        if owner == "postgres":
            pg.execute(f"GRANT CREATE ON SCHEMA app TO {role}")  # may create, but does not own the table
        pg.execute("CREATE TABLE app.t (id bigint PRIMARY KEY, name text); INSERT INTO app.t VALUES (1, 'a')")
        pg.execute(f"ALTER TABLE app.t OWNER TO {owner_role}")
        pg.execute(f"GRANT SELECT, INSERT, DELETE, TRUNCATE ON app.t TO {role}")
        monkeypatch.setenv(
            "AIRFLOW_CONN_LOGIDATA_LOADER",
            json.dumps(
                {
                    "conn_type": "postgres",
                    "host": postgres_server.host,
                    "port": postgres_server.port,
                    "login": role,
                    "password": password,
                    "schema": pg_database,
                }
            ),
        )
        before = rows(pg, "SELECT 'app.t'::regclass::oid")[0][0]
        result = load(
            "logidata_loader",
            stage({"id": [5, 6], "name": ["e", "f"]}),
            log,
            schema="app",
            table="t",
            mode="replace",
        )
        assert result["rows"] == 2
        assert rows(pg, "SELECT id, name FROM app.t ORDER BY id") == [(5, "e"), (6, "f")]
        assert rows(pg, "SELECT 'app.t'::regclass::oid")[0][0] == before
        assert rows(pg, "SELECT tableowner FROM pg_tables WHERE schemaname = 'app'") == [(owner_role,)]
        assert reason in log.text() and "(replace, truncate + insert)" in log.text()
    finally:
        pg.execute("DROP SCHEMA IF EXISTS app CASCADE")
        pg.execute(f"DROP OWNED BY {role}")
        pg.execute(f"DROP ROLE {role}")
