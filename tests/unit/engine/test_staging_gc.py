"""``logidata staging gc``: run folders collected by the age of their newest file, locally and on S3."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pytest

from airflow_provider_logidata.cli.main import main
from airflow_provider_logidata.engine.staging_gc import collect, parse_age, staged_runs

DAY = 24 * 3600


def stage(root: Path, dag: str, run: str, *, age_days: float, files: int = 2) -> Path:
    folder = root / dag / run
    for i in range(files):
        part = folder / f"task_{i}" / "part-00000.parquet"
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(b"x" * 100)
        stamp = time.time() - age_days * DAY
        os.utime(part, (stamp, stamp))
    return folder


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", dt.timedelta(days=7)),
        ("12h", dt.timedelta(hours=12)),
        (" 30m ", dt.timedelta(minutes=30)),
        ("2W", dt.timedelta(weeks=2)),
        ("90s", dt.timedelta(seconds=90)),
    ],
)
def test_ages(text: str, expected: dt.timedelta) -> None:
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "7 days", "-1d", "0d", "1.5d", "7y"])
def test_bad_ages_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="invalid age"):
        parse_age(text)


def test_only_runs_older_than_the_age_go(tmp_path: Path) -> None:
    old = stage(tmp_path, "orders", "manual__old", age_days=10)
    fresh = stage(tmp_path, "orders", "manual__fresh", age_days=1)
    # One file touched today keeps the whole run: a retry may be writing there.
    mixed = stage(tmp_path, "other", "scheduled__mixed", age_days=10)
    (mixed / "task_0" / "part-00000.parquet").touch()
    runs = {r.run: r for r in staged_runs(str(tmp_path))}
    assert (runs["manual__old"].files, runs["manual__old"].bytes) == (2, 200)

    lines: list[str] = []
    taken = collect(dt.timedelta(days=7), root=str(tmp_path), dry_run=True, say=lines.append)
    assert [r.run for r in taken] == ["manual__old"] and old.exists()
    assert lines == [f"would remove {tmp_path}/orders/manual__old (2 files, 200 bytes)"]

    taken = collect(dt.timedelta(days=7), root=str(tmp_path))
    assert [r.run for r in taken] == ["manual__old"]
    assert not old.exists() and fresh.exists() and mixed.exists()


def test_an_empty_run_folder_is_judged_by_its_own_time(tmp_path: Path) -> None:
    (tmp_path / "orders" / "just_started").mkdir(parents=True)
    assert collect(dt.timedelta(hours=1), root=str(tmp_path)) == []
    stamp = time.time() - 2 * DAY
    os.utime(tmp_path / "orders" / "just_started", (stamp, stamp))
    assert [r.run for r in collect(dt.timedelta(days=1), root=str(tmp_path))] == ["just_started"]


def test_a_missing_staging_root_has_nothing_to_collect(tmp_path: Path) -> None:
    assert collect(dt.timedelta(days=1), root=str(tmp_path / "nowhere")) == []


def test_on_s3(s3_bucket: str) -> None:
    import boto3

    endpoint = json.loads(os.environ["AIRFLOW_CONN_LOGIDATA_S3"])["extra"]["endpoint_url"]
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    for key in (
        "staging/orders/run_a/t1/part-00000.parquet",
        "staging/orders/run_a/t2/part-00000.parquet",
        "staging/other/run_b/t1/part-00000.parquet",
    ):
        client.put_object(Bucket=s3_bucket, Key=key, Body=b"y" * 10)
    root = f"s3://logidata_s3@{s3_bucket}/staging"
    assert {(r.dag_id, r.run, r.files, r.bytes) for r in staged_runs(root)} == {
        ("orders", "run_a", 2, 20),
        ("other", "run_b", 1, 10),
    }
    # S3 keeps each object's own time: "now" a week ahead makes them all old.
    assert collect(dt.timedelta(days=7), root=root) == []
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=8)
    assert len(collect(dt.timedelta(days=7), root=root, now=later)) == 2
    assert client.list_objects_v2(Bucket=s3_bucket, Prefix="staging/").get("KeyCount") == 0


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stage(tmp_path, "orders", "old_run", age_days=9)
    stage(tmp_path, "orders", "new_run", age_days=0)
    base = ["staging", "gc", "--staging-path", str(tmp_path)]
    assert main([*base, "--older-than", "7d", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "would remove" in printed and "old_run" in printed and "would free 200 bytes" in printed
    assert main([*base, "--older-than", "7d", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert [r["run"] for r in answer["runs"]] == ["old_run"] and answer["dry_run"] is False
    assert not (tmp_path / "orders" / "old_run").exists() and (tmp_path / "orders" / "new_run").exists()
    assert main([*base, "--older-than", "soon"]) == 1
    assert "--older-than: invalid age 'soon'" in capsys.readouterr().err
