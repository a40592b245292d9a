"""Incremental plumbing used by source.postgres: run intervals from the Airflow context, cursor meta
carried through staging handles and transforms, cursor commits."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow.parquet as pq
import pytest
from airflow.sdk import DAG

from airflow_provider_logidata.engine import cursor_state, incremental, runner, staging
from airflow_provider_logidata.engine.errors import LogiDataTaskError

UTC = dt.timezone.utc
OWNER = "source.postgres node 'src'"


def context(schedule: Any, start: dt.datetime | None, end: dt.datetime | None) -> dict[str, Any]:
    dag = DAG("d", schedule=schedule, start_date=dt.datetime(2024, 1, 1, tzinfo=UTC))
    return {"dag": dag, "data_interval_start": start, "data_interval_end": end}


def test_real_interval_is_used_as_is() -> None:
    start, end = dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 2, tzinfo=UTC)
    assert incremental.run_data_interval(context("@daily", start, end), owner=OWNER) == (start, end)


@pytest.mark.parametrize(
    ("schedule", "at", "expected_start"),
    [
        ("@daily", dt.datetime(2024, 1, 3, tzinfo=UTC), dt.datetime(2024, 1, 2, tzinfo=UTC)),
        ("0 6 * * *", dt.datetime(2024, 1, 3, 6, tzinfo=UTC), dt.datetime(2024, 1, 2, 6, tzinfo=UTC)),
        ("@hourly", dt.datetime(2024, 1, 3, 5, tzinfo=UTC), dt.datetime(2024, 1, 3, 4, tzinfo=UTC)),
        # A manual run between two scheduled times reads from the last one.
        ("@daily", dt.datetime(2024, 1, 3, 10, 30, tzinfo=UTC), dt.datetime(2024, 1, 3, tzinfo=UTC)),
        (
            dt.timedelta(hours=6),
            dt.datetime(2024, 1, 3, 12, tzinfo=UTC),
            dt.datetime(2024, 1, 3, 6, tzinfo=UTC),
        ),
    ],
)
def test_zero_length_interval_reads_since_previous_schedule(
    schedule: Any, at: dt.datetime, expected_start: dt.datetime
) -> None:
    """Airflow 3's trigger timetables give runs a zero-length interval (start == end)."""
    assert incremental.run_data_interval(context(schedule, at, at), owner=OWNER) == (expected_start, at)


def test_cron_in_a_time_zone_across_dst() -> None:
    import pendulum

    dag = DAG("d", schedule="0 0 * * *", start_date=pendulum.datetime(2024, 1, 1, tz="Europe/Paris"))
    # Paris midnight of 2024-03-31 (DST starts that night): the previous midnight is 23 hours earlier.
    end = dt.datetime(2024, 3, 31, 22, tzinfo=UTC)  # 2024-04-01 00:00 CEST
    start, _ = incremental.run_data_interval(
        {"dag": dag, "data_interval_start": end, "data_interval_end": end}, owner=OWNER
    )
    assert start == dt.datetime(2024, 3, 30, 23, tzinfo=UTC)  # 2024-03-31 00:00 CET


def test_no_interval_explains_the_fix() -> None:
    with pytest.raises(LogiDataTaskError, match=r"needs a run with a data interval.*use mode 'cursor'"):
        incremental.run_data_interval(context(None, None, None), owner=OWNER)
    at = dt.datetime(2024, 1, 3, tzinfo=UTC)
    with pytest.raises(LogiDataTaskError, match="gives no previous run time"):
        incremental.run_data_interval(context("@once", at, at), owner=OWNER)


def test_meta_survives_xcom_check_and_transforms(stage: Any, tmp_path: Any, log: Any) -> None:
    handle = dict(stage({"a": [1, 2, 2]}))
    cursor = {"key": "logidata.cursor.d.src", "value": {"column": "a", "value": "2"}}
    handle["meta"] = {"cursors": [cursor]}
    checked = staging.check_handle(handle, owner="x", input_id="src")
    assert checked["meta"] == {"cursors": [cursor]}
    assert "meta" not in staging.check_handle({**handle, "meta": {}}, owner="x", input_id="src")
    out = str(tmp_path / "out" / staging.PART_NAME)
    result = runner.run_transform({}, "dedupe", [checked], out, module="deduplicate", log=log)
    assert result["meta"] == {"cursors": [cursor]}
    assert pq.read_table(result["uri"]).num_rows == 2
    plain = runner.run_transform({}, "dedupe", [stage({"a": [1]})], out, module="deduplicate", log=log)
    assert "meta" not in plain


def test_merge_meta_keeps_one_cursor_per_key() -> None:
    a = {"cursors": [{"key": "k1", "value": 1}], "other": "x"}
    b = {"cursors": [{"key": "k2", "value": 2}, {"key": "k1", "value": 3}]}
    merged = staging.merge_meta([{"meta": a}, {"meta": b}, {}])
    assert merged == {"cursors": [{"key": "k1", "value": 3}, {"key": "k2", "value": 2}], "other": "x"}
    assert cursor_state.cursors_of([{"meta": a}, {"meta": b}]) == [  # type: ignore[list-item]
        {"key": "k1", "value": 3},
        {"key": "k2", "value": 2},
    ]
