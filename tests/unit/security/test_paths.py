"""The path policy (security.paths): tables of paths that must be refused, and the ones that must not.

Each case runs against a real folder layout: an Airflow home with its config, password, database and
DAGs, a data folder (the default allowed root), symlinks out of it, and the staging folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from airflow_provider_logidata.security import paths
from airflow_provider_logidata.security.errors import PolicyError

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from policy_home import fake_airflow_home


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An Airflow home laid out like a real one, with the default policy (no allowed_paths set)."""
    home = fake_airflow_home(tmp_path, monkeypatch)
    (home / "simple_auth_manager_passwords.json.generated").write_text('{"admin": "x"}')
    (home / "airflow.db").write_text("")
    (home / "logidata" / "data" / "link_to_etc").symlink_to("/etc")
    return home


READ_REFUSED = [
    ("/etc/passwd", "path-forbidden"),
    ("/proc/self/environ", "path-forbidden"),
    ("/sys/kernel/notes", "path-forbidden"),
    ("/dev/zero", "path-forbidden"),
    ("{home}/airflow.cfg", "path-forbidden"),
    ("{home}/simple_auth_manager_passwords.json.generated", "path-forbidden"),
    ("{home}/airflow.db", "path-forbidden"),
    ("{home}/airflow.db-wal", "path-forbidden"),
    ("{home}/dags/loader.py", "path-forbidden"),
    ("{home}/plugins/x.py", "path-forbidden"),
    ("{home}/logs/dag_id=x/attempt=1.log", "path-forbidden"),
    ("{home}/logidata/pipelines/other.json", "path-forbidden"),
    ("{data}/../../airflow.cfg", "path-forbidden"),
    ("{data}/in/../../../airflow.cfg", "path-forbidden"),
    ("{data}/link_to_cfg", "path-forbidden"),
    ("{data}/link_to_etc/passwd", "path-forbidden"),
    ("{data}/link_to_dags/loader.py", "path-forbidden"),
    ("file://{home}/airflow.cfg", "path-forbidden"),
    ("{outside}/secret.csv", "path-not-allowed"),
    ("{data}/../../../outside/secret.csv", "path-not-allowed"),
    ("/tmp", "path-not-allowed"),
    ("relative/orders.csv", "path-not-allowed"),
    ("{data}/in/orders.csv\x00.txt", "path-traversal"),
    ("{data}/in/\norders.csv", "path-traversal"),
    ("s3://bucket/key.csv", "storage-connection"),
    ("s3://conn@bucket/../other/key.csv", "path-traversal"),
    ("gs://conn@bucket/key.csv", "storage-scheme"),
    ("http://169.254.169.254/latest/meta-data", "storage-scheme"),
    ("s3://conn@bucket/key.csv", "path-not-allowed"),
]


def _fill(text: str, home: Path) -> str:
    return text.format(home=home, data=home / "logidata" / "data", outside=home.parent / "outside")


@pytest.mark.parametrize(("path", "rule"), READ_REFUSED, ids=[case[0] for case in READ_REFUSED])
def test_reads_refused(home: Path, path: str, rule: str) -> None:
    with pytest.raises(PolicyError) as refused:
        paths.check_read(_fill(path, home))
    assert refused.value.rule == rule, str(refused.value)
    assert repr(_fill(path, home))[:20] in str(refused.value) or "path" in str(refused.value)


def test_refusal_names_the_path_the_rule_and_the_setting(home: Path) -> None:
    with pytest.raises(PolicyError) as refused:
        paths.check_read(str(home.parent / "outside" / "secret.csv"))
    message = str(refused.value)
    assert "secret.csv" in message
    assert "outside the allowed folders" in message
    assert "[logidata] allowed_paths" in message
    assert str(home / "logidata" / "data") in message  # what is allowed
    assert refused.value.setting == "allowed_paths"


def test_forbidden_names_what_the_location_is(home: Path) -> None:
    with pytest.raises(PolicyError) as refused:
        paths.check_read(str(home / "logidata" / "data" / "link_to_cfg"))
    assert "resolves to" in str(refused.value)
    assert "configuration" in str(refused.value)


ALLOWED_READS = [
    "{data}/in/orders.csv",
    "{data}/in/missing_yet.csv",
    "{data}/in/../in/orders.csv",
    "file://{data}/in/orders.csv",
    "{home}/logidata/staging/dag/run/task/part-0.parquet",
]


@pytest.mark.parametrize("path", ALLOWED_READS)
def test_reads_allowed(home: Path, path: str) -> None:
    paths.check_read(_fill(path, home))


WRITE_REFUSED = [
    ("{home}/dags/evil.py", "path-forbidden"),
    ("{home}/plugins/evil.py", "path-forbidden"),
    ("{home}/airflow.cfg", "path-forbidden"),
    ("{home}/logidata/pipelines/other.json", "path-forbidden"),
    ("{home}/logidata/staging/dag/run/task/part-0.parquet", "path-staging"),
    ("{data}/link_to_dags/evil.py", "path-forbidden"),
    ("{data}/../../dags/evil.py", "path-forbidden"),
    # A folder write replacing a parent of a forbidden location would delete it.
    ("{home}", "path-forbidden"),
    ("{home}/logidata", "path-forbidden"),
    ("{outside}/out.csv", "path-not-allowed"),
]


@pytest.mark.parametrize(("path", "rule"), WRITE_REFUSED, ids=[case[0] for case in WRITE_REFUSED])
def test_writes_refused(home: Path, path: str, rule: str) -> None:
    with pytest.raises(PolicyError) as refused:
        paths.check_write(_fill(path, home))
    assert refused.value.rule == rule, str(refused.value)


def test_writes_allowed_in_the_data_folder(home: Path) -> None:
    paths.check_write(str(home / "logidata" / "data" / "out" / "orders.parquet"))
    paths.check_write(str(home / "logidata" / "data" / "out") + "/")


def test_configured_roots_replace_the_default_and_keep_the_forbidden_ones(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = home.parent / "outside"
    monkeypatch.setenv("AIRFLOW__LOGIDATA__ALLOWED_PATHS", f"{outside}, {home}")
    paths.check_read(str(outside / "secret.csv"))
    with pytest.raises(PolicyError, match="outside the allowed"):
        paths.check_read(str(home / "logidata" / "data" / "x.csv") + "/../../../../etc/hostname")
    for never in ("airflow.cfg", "dags/loader.py", "airflow.db"):  # even under an allowed parent
        with pytest.raises(PolicyError) as refused:
            paths.check_read(str(home / never))
        assert refused.value.rule == "path-forbidden"
    paths.check_read(str(home / "logidata" / "data" / "in" / "orders.csv"))  # through the home
    monkeypatch.setenv("AIRFLOW__LOGIDATA__ALLOWED_PATHS", str(outside))
    with pytest.raises(PolicyError):  # the default data folder is allowed only when nothing is configured
        paths.check_read(str(home / "logidata" / "data" / "in" / "orders.csv"))


def test_object_storage_roots(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW__LOGIDATA__ALLOWED_PATHS",
        "s3://lake/raw, s3://team_conn@shared/, s3://*/anywhere",
    )
    paths.check_read("s3://any_conn@lake/raw/orders.csv")
    paths.check_read("s3://team_conn@shared/x/y.parquet")
    paths.check_write("s3://c@other-bucket/anywhere/out.parquet")
    refused = [
        "s3://any_conn@lake/rawfiles/orders.csv",  # prefix on a segment boundary only
        "s3://other_conn@shared/x.parquet",  # the root names its connection
        "s3://any_conn@lake/other/orders.csv",
        "s3://lake/raw/orders.csv",  # no connection: never the host's identity
    ]
    for uri in refused:
        with pytest.raises(PolicyError):
            paths.check_read(uri)


def test_the_store_and_staging_on_object_storage(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__ALLOWED_PATHS", "s3://*/")
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PIPELINES_PATH", "s3://c@meta/pipelines")
    monkeypatch.setenv("AIRFLOW__LOGIDATA__STAGING_PATH", "s3://c@meta/staging")
    with pytest.raises(PolicyError) as refused:
        paths.check_read("s3://c@meta/pipelines/other.json")
    assert refused.value.rule == "path-forbidden"
    with pytest.raises(PolicyError) as refused:
        paths.check_write("s3://c@meta/staging/dag/run/x.parquet")
    assert refused.value.rule == "path-staging"
    with pytest.raises(PolicyError) as refused:
        paths.check_write("s3://c@meta/")  # replacing the bucket would delete the store
    assert refused.value.rule == "path-forbidden"
    paths.check_read("s3://c@meta/staging/dag/run/x.parquet")


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("country", True),
        ("São Paulo", True),
        ("a b", True),
        ("..", False),
        (".", False),
        ("", False),
        ("../../etc", False),
        ("a/b", False),
        ("a\\b", False),
        (".hidden", False),
        ("a=b", False),
        ("a\nb", False),
        ("a\x00b", False),
        ("x" * 201, False),
    ],
)
def test_segments(name: str, ok: bool) -> None:
    if ok:
        assert paths.check_segment(name, "partition column") == name
    else:
        with pytest.raises(PolicyError):
            paths.check_segment(name, "partition column")


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ("/data/orders.csv", "/data/orders.csv"),
        ("/data/{{ ds }}/orders.csv", "/data/"),
        ("/data/in/*.csv", "/data/in/"),
        ("/data/in/**/x_?.csv", "/data/in/"),
        ("{{ params.path }}", None),
        ("s3://c@b/raw/{{ ds_nodash }}.csv", "s3://c@b/raw/"),
    ],
)
def test_static_prefix(text: str, prefix: str | None) -> None:
    assert paths.static_prefix(text) == prefix
