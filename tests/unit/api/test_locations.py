"""The data-location browser (api.locations): escape attempts refused by the path policy, and listings.

Every case runs against a real folder layout (an Airflow home with its config and DAGs, a data folder,
symlinks out of it, special files) with the policy configured through the environment, as Airflow would.
Object-storage refusals are proven to happen before any S3 client exists: every client constructor
fails loudly here. Listings of a real S3 server are in tests/integration/test_locations_api.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.api import locations
from airflow_provider_logidata.api.locations import BrowseError, allowed_locations, browse
from airflow_provider_logidata.security import connections, paths

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from policy_home import fake_airflow_home, refuse_s3_clients

CONN = "logidata_loc"  # the connection the policy ties the allowed S3 prefix to
OTHER_CONN = "logidata_loc_other"
FIXED_MTIME = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module", autouse=True)
def airflow_loaded() -> None:
    """Airflow reads its config and binds its metadata database once, on first import: that must happen
    with the suite's environment, not the fake Airflow home below (a connection lookup would otherwise
    be the first import, and every later test in the session would see an empty database)."""
    import airflow.sdk  # noqa: F401


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An Airflow home laid out like a real one; allowed: its data folder and two S3 prefixes."""
    data = tmp_path / "airflow" / "logidata" / "data"
    home = fake_airflow_home(
        tmp_path, monkeypatch, allowed_paths=f"{data},s3://{CONN}@allowed-bucket/in,s3://open-bucket/pub"
    )
    (data / "link_out").symlink_to(tmp_path / "outside")
    return home


@pytest.fixture
def no_clients(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way to build an S3 client records the attempt and fails; connections of each kind exist."""
    built = refuse_s3_clients(monkeypatch)
    keys = {"conn_type": "aws", "login": "AKIATEST", "password": "secret"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", json.dumps(keys))
    monkeypatch.setenv(f"AIRFLOW_CONN_{OTHER_CONN.upper()}", json.dumps(keys))
    monkeypatch.setenv("AIRFLOW_CONN_LOGIDATA_LOC_NOKEYS", json.dumps({"conn_type": "aws"}))
    monkeypatch.setenv(
        "AIRFLOW_CONN_LOGIDATA_LOC_PG", json.dumps({"conn_type": "postgres", "host": "127.0.0.1"})
    )
    monkeypatch.delenv("AIRFLOW__LOGIDATA__ALLOW_AMBIENT_CLOUD_CREDENTIALS", raising=False)
    connections.clear_cache()
    yield built
    connections.clear_cache()


def _fill(text: str, home: Path) -> str:
    return text.format(home=home, data=home / "logidata" / "data", outside=home.parent / "outside")


# (uri, conn_id, rule, a fragment of the message). Each must be refused with a 400.
REFUSED: list[tuple[str, str | None, str, str]] = [
    # '..' out of the data folder, however it is written
    ("{data}/..", None, "path-not-allowed", "outside the allowed folders"),
    ("{data}/in/../../../../outside", None, "path-not-allowed", "outside the allowed folders"),
    ("{data}/../../dags", None, "path-forbidden", "DAGs folder"),
    ("{data}/in/../../../airflow.cfg", None, "path-forbidden", "configuration"),
    # absolute paths outside the roots, and never-allowed locations
    ("{outside}", None, "path-not-allowed", "outside the allowed folders"),
    ("/etc", None, "path-forbidden", "system folder"),
    ("/proc/self", None, "path-forbidden", "system folder"),
    ("{home}/logs", None, "path-forbidden", "logs"),
    ("/", None, "path-not-allowed", "outside the allowed folders"),
    # symlinks inside the root pointing outside it
    ("{data}/link_out", None, "path-not-allowed", "resolves to"),
    ("{data}/link_to_dags", None, "path-forbidden", "DAGs folder"),
    ("{data}/link_to_cfg", None, "path-forbidden", "configuration"),
    # file:// is a local path, judged like one; other schemes are refused
    ("file:///etc", None, "path-forbidden", "system folder"),
    ("file://{outside}", None, "path-not-allowed", "outside the allowed folders"),
    ("local://{home}/dags", None, "path-forbidden", "DAGs folder"),
    ("http://169.254.169.254/latest/meta-data", None, "storage-scheme", "not supported"),
    ("gs://conn@bucket/in", None, "storage-scheme", "not supported"),
    ("ftp://127.0.0.1/pub", None, "storage-scheme", "not supported"),
    ("hdfs://namenode/data", None, "storage-scheme", "not supported"),
    # control characters (NUL truncates a C path; a line break forges log lines)
    ("{data}/in\x00/../../../dags", None, "path-traversal", "control characters"),
    ("{data}/in\n", None, "path-traversal", "control characters"),
    (f"s3://{CONN}@allowed-bucket/in\x00", None, "path-traversal", "control characters"),
    # S3 buckets and prefixes outside the allowed ones, traversal in keys
    (f"s3://{CONN}@other-bucket/in", None, "path-not-allowed", "outside the allowed locations"),
    (f"s3://{CONN}@allowed-bucket/elsewhere", None, "path-not-allowed", "outside the allowed locations"),
    (f"s3://{CONN}@allowed-bucket/inside", None, "path-not-allowed", "outside the allowed locations"),
    (f"s3://{CONN}@allowed-bucket/in/../secret", None, "path-traversal", "'..'"),
    (f"s3://{CONN}@allowed-bucket/in/./x", None, "path-traversal", "'..'"),
    ("s3://allowed-bucket/in", None, "storage-connection", "names no Airflow connection"),
    (f"s3://{CONN}@", None, "storage-bucket", "names no bucket"),
    # a connection the policy does not tie to the prefix, in the URI or as conn_id
    (f"s3://{OTHER_CONN}@allowed-bucket/in", None, "path-not-allowed", "outside the allowed locations"),
    ("s3://allowed-bucket/in", OTHER_CONN, "path-not-allowed", "outside the allowed locations"),
    (f"s3a://{OTHER_CONN}@allowed-bucket/in", None, "path-not-allowed", "outside the allowed locations"),
    # connection ids that would change how the URI is split, or two different connections
    ("s3://allowed-bucket/in", "x/evil@other-bucket", "connection-id", "cannot name a connection"),
    ("s3://allowed-bucket/in", "a:b", "connection-id", "cannot name a connection"),
    ("s3://a:b@allowed-bucket/in", None, "connection-id", "cannot be part of an s3 URI"),
    (f"s3://{CONN}@allowed-bucket/in", OTHER_CONN, "storage-connection", "keep only one of them"),
    ("s3://allowed-bucket/in", "c" * 251, "connection-id", "at most 250"),
    # malformed input
    ("", None, "uri-empty", "uri is empty"),
    ("{data}/" + "x" * 5000, None, "uri-too-long", "over the 4096 allowed"),
    ("s3://" + "a" * 5000, None, "uri-too-long", "over the 4096 allowed"),
]


@pytest.mark.parametrize(
    ("uri", "conn_id", "rule", "fragment"), REFUSED, ids=[f"{case[0][:60]!r}-{case[1]}" for case in REFUSED]
)
def test_escape_attempts_are_refused(
    home: Path, no_clients: list[str], uri: str, conn_id: str | None, rule: str, fragment: str
) -> None:
    uri = _fill(uri, home)
    with pytest.raises(BrowseError) as refused:
        browse(uri, conn_id)
    error = refused.value
    assert (error.status, error.rule) == (400, rule), error.detail
    assert fragment in error.message, error.message
    assert f"(rule: {rule})" in error.detail
    if uri:  # the message names what was refused: the uri, or the connection that made it so
        named = [uri[:25]] + ([conn_id[:25]] if conn_id else [])
        assert any(name in error.detail for name in named), error.detail
    assert len(error.detail) < 2000  # over-long input is not echoed back whole
    assert no_clients == []  # refused before any S3 client existed


@pytest.mark.parametrize(
    ("conn_id", "rule"),
    [
        ("logidata_loc_missing", "connection-missing"),
        ("logidata_loc_nokeys", "storage-ambient-credentials"),
        ("logidata_loc_pg", "connection-type"),
    ],
)
def test_the_storage_connection_rules_apply_before_any_client(
    home: Path, no_clients: list[str], conn_id: str, rule: str
) -> None:
    """A prefix open to any connection still needs an existing aws connection holding its own keys."""
    with pytest.raises(BrowseError) as refused:
        browse("s3://open-bucket/pub", conn_id)
    assert (refused.value.status, refused.value.rule, refused.value.param) == (400, rule, "conn_id")
    assert conn_id in refused.value.message
    assert no_clients == []


def test_a_relative_path_is_refused_even_where_the_policy_would_allow_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relative to the api-server's working folder is not what a worker would read."""
    monkeypatch.setenv("AIRFLOW__LOGIDATA__ALLOWED_PATHS", str(home))
    monkeypatch.chdir(home / "logidata")
    with pytest.raises(BrowseError) as refused:
        browse("data/in")
    assert (refused.value.status, refused.value.rule) == (400, "path-relative")
    assert "'data/in'" in refused.value.message


# ---------------------------------------------------------------------------------------------- listings


def _layout(folder: Path) -> None:
    for name in ("b_dir", "A_dir"):
        (folder / name).mkdir()
    for name, text in (("c.csv", "c\n"), ("B.csv", "bb\n"), ("a.csv", "aaa\n")):
        (folder / name).write_text(text)
        os.utime(folder / name, (FIXED_MTIME.timestamp(), FIXED_MTIME.timestamp()))


def test_listing_is_directories_first_then_by_name(home: Path) -> None:
    data = home / "logidata" / "data"
    _layout(data / "in")
    listing = browse(str(data / "in"))
    assert [(e.name, e.kind) for e in listing.entries] == [
        ("A_dir", "directory"),
        ("b_dir", "directory"),
        ("a.csv", "file"),
        ("B.csv", "file"),
        ("c.csv", "file"),
        ("orders.csv", "file"),
    ]
    files = {e.name: e for e in listing.entries}
    assert files["a.csv"].uri == f"{data}/in/a.csv"
    assert (files["a.csv"].size, files["a.csv"].modified) == (4, FIXED_MTIME)
    assert files["A_dir"].size is None and files["A_dir"].modified is not None
    assert (listing.uri, listing.kind, listing.conn_id, listing.truncated) == (
        f"{data}/in",
        "local",
        None,
        False,
    )
    assert listing.parent == str(data)
    for entry in listing.entries:  # every uri answered is one a config field accepts
        paths.check_read(entry.uri)


def test_hidden_special_and_refused_entries_are_left_out(home: Path) -> None:
    """What a glob skips (hidden names: writes in progress) and what the policy refuses to read are not
    offered; a symlink that stays inside the root is, under its own name."""
    data = home / "logidata" / "data"
    (data / ".orders.csv.tmp-1234").write_text("partial")
    (data / ".hidden_dir").mkdir()
    os.mkfifo(data / "pipe")
    (data / "dangling").symlink_to(data / "gone")
    (data / "link_in").symlink_to(data / "in" / "orders.csv")
    os.close(os.open(os.fsencode(data) + b"/bad\xff.csv", os.O_CREAT | os.O_WRONLY, 0o600))
    listing = browse(str(data))
    assert [(e.name, e.kind) for e in listing.entries] == [("in", "directory"), ("link_in", "file")]
    assert listing.entries[1].uri == f"{data}/link_in"
    assert listing.parent is None  # the root: its folder is not allowed


def test_a_hidden_folder_named_directly_is_browsable(home: Path) -> None:
    """Hidden names are only left out of listings; the policy itself allows them, so does the browser."""
    data = home / "logidata" / "data"
    (data / ".staged").mkdir()
    (data / ".staged" / "x.csv").write_text("x\n")
    assert [e.name for e in browse(f"{data}/.staged").entries] == ["x.csv"]


def test_truncated_counts_only_what_would_be_listed(home: Path) -> None:
    data = home / "logidata" / "data" / "in"
    _layout(data)
    first = browse(str(data), limit=3)
    assert [e.name for e in first.entries] == ["A_dir", "b_dir", "a.csv"]
    assert (first.truncated, first.limit) == (True, 3)
    everything = browse(str(data), limit=6)
    assert (len(everything.entries), everything.truncated) == (6, False)
    # At the root, the refused symlinks (link_out, link_to_*) do not count as "more".
    root = browse(str(home / "logidata" / "data"), limit=1)
    assert ([e.name for e in root.entries], root.truncated) == (["in"], False)


def test_a_huge_folder_stops_scanning(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = home / "logidata" / "data" / "in"
    _layout(data)
    monkeypatch.setattr(locations, "MAX_SCANNED", 2)
    listing = browse(str(data))
    assert len(listing.entries) == 2 and listing.truncated


def test_equivalent_spellings_answer_the_same_folder(home: Path) -> None:
    data = home / "logidata" / "data"
    expected = browse(str(data / "in"))
    for spelling in (f"{data}/in/", f"file://{data}/in", f"{data}/in/../in", f"{data}//in"):
        assert browse(spelling) == expected, spelling
    assert browse(str(data / "in"), "ignored_for_local_paths") == expected


def test_missing_folder_file_and_empty_root(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = home / "logidata" / "data"
    with pytest.raises(BrowseError) as missing:
        browse(f"{data}/nope")
    assert (missing.value.status, missing.value.rule) == (404, "not-found")
    assert f"{data}/nope" in missing.value.message
    with pytest.raises(BrowseError) as a_file:
        browse(f"{data}/in/orders.csv")
    assert (a_file.value.status, a_file.value.rule) == (400, "not-a-folder")
    # An allowed root with nothing on disk yet is an empty listing: the picker shows it as empty.
    monkeypatch.setenv("AIRFLOW__LOGIDATA__ALLOWED_PATHS", f"{data},{home}/not-yet")
    assert browse(f"{home}/not-yet").entries == []


def test_an_unreadable_folder_is_a_storage_error(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = home / "logidata" / "data" / "locked"
    locked.mkdir(mode=0)
    if os.geteuid() == 0:  # root reads every folder: the OS's refusal is simulated for this one
        scandir = os.scandir

        def refusing(path: Any) -> Any:
            if str(path) == str(locked):
                raise PermissionError(13, "Permission denied", str(path))
            return scandir(path)

        monkeypatch.setattr(os, "scandir", refusing)
    try:
        with pytest.raises(BrowseError) as failed:
            browse(str(locked))
        assert (failed.value.status, failed.value.rule) == (502, "storage-error")
        assert "Permission denied" in failed.value.message and str(locked) in failed.value.message
    finally:
        locked.chmod(0o700)


# ---------------------------------------------------------------------------------------------- roots


def test_default_roots_are_the_data_and_staging_folders(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__LOGIDATA__ALLOWED_PATHS")
    roots = [(r.kind, r.uri, r.label, r.conn_id, r.browsable) for r in allowed_locations()]
    assert roots == [
        ("local", str(home / "logidata" / "data"), "Data folder", None, True),
        (
            "local",
            str(home / "logidata" / "staging"),
            "Staging folder (read only: written by LogiData itself)",
            None,
            True,
        ),
    ]


def test_configured_roots_follow_the_policy(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Local roots the policy refuses to read and schemes the engine cannot open are not offered; S3
    prefixes come with the connection the policy ties them to."""
    data = home / "logidata" / "data"
    monkeypatch.setenv(
        "AIRFLOW__LOGIDATA__ALLOWED_PATHS",
        f"{data}/,{data},/etc,{home}/dags,gs://conn@bucket/x,s3://{CONN}@allowed-bucket/in/,"
        "s3://open-bucket/pub,s3://*/shared",
    )
    roots = [(r.kind, r.uri, r.conn_id, r.browsable) for r in allowed_locations()]
    assert roots == [
        ("local", str(data), None, True),
        ("s3", "s3://allowed-bucket/in", CONN, True),
        ("s3", "s3://open-bucket/pub", None, True),
        ("s3", "s3://*/shared", None, False),
    ]
    labels = [r.label for r in allowed_locations()]
    assert labels[1] == f"S3 bucket allowed-bucket, under in/ (connection {CONN})"
    assert labels[3] == "Any S3 bucket, under shared/"
