"""load_postgres_stream (a fused path's load): the staged load's rules for a stream of batches."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.pg_load import load_postgres_stream
from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig


def stream(table: pa.Table, fail_after: int | None = None) -> pa.RecordBatchReader:
    def batches() -> Any:
        for index, batch in enumerate(table.to_batches(max_chunksize=2)):
            if fail_after is not None and index == fail_after:
                raise LogiDataTaskError("source.file node 'read': failed reading: bad value")
            yield batch

    return pa.RecordBatchReader.from_batches(table.schema, batches())


def config(conn_id: str, **extra: Any) -> PostgresDestinationConfig:
    return PostgresDestinationConfig.model_validate({"conn_id": conn_id, "table": "t", **extra})


DATA = pa.table({"id": [1, 2, 3, 4, 5], "label": ["a", "bb", "ccc", "dddd", "eeeee"]})


def test_replace_merge_and_rollback(pg: Any, pg_conn_id: str, log: Any) -> None:
    pg.execute("CREATE TABLE t (id bigint PRIMARY KEY, label text); INSERT INTO t VALUES (9, 'old')")
    result = load_postgres_stream(config(pg_conn_id, mode="merge", keys=["id"]), "load", stream(DATA), log)
    assert result == {"uri": f"postgresql://{pg_conn_id}/public.t", "rows": 5, "mode": "merge"}
    again = load_postgres_stream(config(pg_conn_id, mode="merge", keys=["id"]), "load", stream(DATA), log)
    assert again["rows"] == 5
    assert pg.execute("SELECT count(*) FROM t").fetchone() == (6,)
    # the stream fails after some batches were sent: the replace rolls back, the table is unchanged
    with pytest.raises(LogiDataTaskError, match="bad value"):
        load_postgres_stream(config(pg_conn_id, mode="replace"), "load", stream(DATA, fail_after=2), log)
    assert pg.execute("SELECT count(*) FROM t").fetchone() == (6,)


@pytest.mark.parametrize(("rule", "outcome"), [("fail", "refused"), ("evolve", "widened")])
def test_narrower_column_is_checked_without_file_statistics(
    pg: Any, pg_conn_id: str, log: Any, rule: str, outcome: str
) -> None:
    """Nothing staged, so no Parquet statistics prove the texts fit varchar(3): SQL checks them."""
    pg.execute("CREATE TABLE t (id bigint, label varchar(3))")
    cfg = config(pg_conn_id, mode="append", on_schema_change=rule)
    if outcome == "refused":
        with pytest.raises(LogiDataTaskError, match="label"):
            load_postgres_stream(cfg, "load", stream(DATA), log)
        assert pg.execute("SELECT count(*) FROM t").fetchone() == (0,)
        return
    assert load_postgres_stream(cfg, "load", stream(DATA), log)["rows"] == 5
    assert pg.execute("SELECT max(length(label)) FROM t").fetchone() == (5,)
