"""``[logidata] duckdb_memory_limit``: a value as written, or ``auto`` sized from the worker's memory and
its task slots (table-driven, the executor's options set as Airflow reads them from the environment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_logidata import settings

GIB = 1024**3


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A 16 GiB machine, no container limit, no executor options set."""
    for name in (
        "AIRFLOW__LOGIDATA__DUCKDB_MEMORY_LIMIT",
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__CORE__PARALLELISM",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW_CONFIG", str(tmp_path / "missing.cfg"))
    monkeypatch.setattr(settings, "CGROUP_MEMORY_FILES", (str(tmp_path / "memory.max"),))
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 16 * GIB // 4096}
    real = settings.os.sysconf
    monkeypatch.setattr(settings.os, "sysconf", lambda name: pages[name] if name in pages else real(name))
    return monkeypatch


@pytest.mark.parametrize(
    ("env", "expected_mb", "slots"),
    [
        ({}, 256, 32),  # LocalExecutor, dags test: Airflow's default parallelism 32 (the floor applies)
        ({"AIRFLOW__CORE__PARALLELISM": "4"}, 2048, 4),
        ({"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"}, 512, 16),  # worker_concurrency's default
        ({"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor", "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2"}, 4096, 2),
        ({"AIRFLOW__CORE__EXECUTOR": "KubernetesExecutor"}, 8192, 1),  # one task per pod
        ({"AIRFLOW__CORE__PARALLELISM": "not a number"}, 256, 32),  # falls back to the default
    ],
)
def test_auto_shares_half_the_memory_between_task_slots(
    machine: pytest.MonkeyPatch, env: dict[str, str], expected_mb: int, slots: int
) -> None:
    for key, value in env.items():
        machine.setenv(key, value)
    assert settings.task_slots() == slots
    expected = max(expected_mb, 320)  # never below the 320 MB floor
    assert settings.duckdb_memory_limit() == f"{expected}MB"
    limit, why = settings.auto_memory_limit()
    assert limit // 1024**2 == expected
    assert f"over {slots} task slot(s)" in why
    assert ("320MB floor" in why) == (expected_mb < 320)


def test_a_container_limit_below_the_machine_counts(machine: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "memory.max").write_text(f"{4 * GIB}\n")
    machine.setenv("AIRFLOW__CORE__PARALLELISM", "2")
    assert settings.machine_memory() == 4 * GIB
    assert settings.duckdb_memory_limit() == "1024MB"


@pytest.mark.parametrize("text", ["max\n", f"{64 * GIB}\n", "garbage"])
def test_an_unlimited_or_unreadable_container_limit_is_ignored(
    machine: pytest.MonkeyPatch, tmp_path: Path, text: str
) -> None:
    (tmp_path / "memory.max").write_text(text)
    assert settings.machine_memory() == 16 * GIB


@pytest.mark.parametrize("value", ["2GB", "750MB", "80%"])
def test_a_value_as_written_is_passed_to_duckdb(machine: pytest.MonkeyPatch, value: str) -> None:
    machine.setenv("AIRFLOW__LOGIDATA__DUCKDB_MEMORY_LIMIT", value)
    assert settings.duckdb_memory_limit() == value


@pytest.mark.parametrize("value", ["auto", "AUTO", " Auto "])
def test_auto_is_case_insensitive(machine: pytest.MonkeyPatch, value: str) -> None:
    machine.setenv("AIRFLOW__LOGIDATA__DUCKDB_MEMORY_LIMIT", value)
    machine.setenv("AIRFLOW__CORE__PARALLELISM", "8")
    assert settings.duckdb_memory_limit() == "1024MB"


def test_unknown_memory_size_uses_the_floor(machine: pytest.MonkeyPatch) -> None:
    def broken(name: str) -> int:
        raise ValueError(name)

    machine.setattr(settings.os, "sysconf", broken)
    assert settings.duckdb_memory_limit() == "320MB"


def test_the_reason_is_given_for_auto_only(machine: pytest.MonkeyPatch) -> None:
    machine.setenv("AIRFLOW__CORE__PARALLELISM", "4")
    assert settings.duckdb_memory_limit_setting() == ("2048MB", "auto: half of 16.0 GiB over 4 task slot(s)")
    machine.setenv("AIRFLOW__LOGIDATA__DUCKDB_MEMORY_LIMIT", "1GB")
    assert settings.duckdb_memory_limit_setting() == ("1GB", None)


def test_a_task_log_says_the_auto_limit_once(machine: pytest.MonkeyPatch) -> None:
    from airflow_provider_logidata.engine import duck

    said: list[str] = []
    machine.setattr(duck, "_SAID", set())
    machine.setattr(duck, "get_log", lambda _candidate: type("L", (), {"info": staticmethod(said.append)})())
    machine.setenv("AIRFLOW__CORE__PARALLELISM", "4")
    for _ in range(2):
        with duck.connect() as con:
            assert con.execute("SELECT current_setting('memory_limit')").fetchone() == ("1.9 GiB",)
    assert said == [
        "DuckDB memory_limit 2048MB ([logidata] duckdb_memory_limit auto: half of 16.0 GiB over 4 task slot(s))"
    ]
