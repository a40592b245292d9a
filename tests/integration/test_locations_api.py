"""The data-location browser against real services: moto's S3 server on 127.0.0.1 and Airflow's app.

S3 listings go through the engine's own path (``engine.files.to_path``: the Airflow connection, the
storage connection rules, s3fs) to the suite's S3 server; the API tests run Airflow's full app
in-process (auth manager, the LogiData plugin) with real SimpleAuthManager tokens, like
test_builder_api.py.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from airflow_app import Api, airflow_test_client, assert_error_shape, issue_tokens

from airflow_provider_logidata.api.locations import BrowseError, browse
from airflow_provider_logidata.security import connections

pytestmark = pytest.mark.integration

CONN = "logidata_s3"  # tests/conftest.py's connection to the S3 server
OTHER_CONN = "logidata_s3_other"  # the same server and keys, but not the connection the policy names


def _s3(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def _fill_bucket(endpoint: str) -> str:
    """A new bucket: an allowed prefix with files, a subfolder, a folder marker and a write in progress;
    a prefix outside the policy with a secret."""
    bucket = f"logidata-loc-{uuid.uuid4().hex[:10]}"
    s3 = _s3(endpoint)
    s3.create_bucket(Bucket=bucket)
    for key, body in (
        ("allowed/b.csv", b"id\n1\n"),
        ("allowed/A.csv", b"id\n1\n2\n"),
        ("allowed/sub/x.csv", b"id\n"),
        ("allowed/marked/", b""),  # a folder made in a console: a zero-byte marker object
        ("allowed/.b.csv.tmp-0123", b"partial"),
        ("other/secret.csv", b"secret\n"),
    ):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return bucket


@pytest.fixture
def allowed_bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    bucket = _fill_bucket(s3_server)
    monkeypatch.setenv(
        "AIRFLOW__LOGIDATA__ALLOWED_PATHS",
        f"s3://{CONN}@{bucket}/allowed,s3://{CONN}@{bucket}/empty-root",
    )
    monkeypatch.setenv(f"AIRFLOW_CONN_{OTHER_CONN.upper()}", os.environ[f"AIRFLOW_CONN_{CONN.upper()}"])
    connections.clear_cache()
    yield bucket
    connections.clear_cache()


# ---------------------------------------------------------------------------------------------- S3


def test_listing_a_prefix_returns_its_objects(allowed_bucket: str) -> None:
    listing = browse(f"s3://{allowed_bucket}/allowed", CONN)
    assert [(e.name, e.kind) for e in listing.entries] == [
        ("marked", "directory"),
        ("sub", "directory"),
        ("A.csv", "file"),
        ("b.csv", "file"),
    ]
    files = {e.name: e for e in listing.entries}
    assert files["A.csv"].uri == f"s3://{allowed_bucket}/allowed/A.csv"  # conn_id stays separate
    assert files["A.csv"].size == len(b"id\n1\n2\n")
    assert files["A.csv"].modified is not None and files["A.csv"].modified.utcoffset() is not None
    assert (files["sub"].size, files["sub"].modified) == (None, None)
    assert (listing.uri, listing.kind, listing.conn_id) == (f"s3://{allowed_bucket}/allowed", "s3", CONN)
    assert (listing.parent, listing.truncated) == (None, False)  # the bucket's root is not allowed


def test_the_connection_in_the_uri_stays_in_the_answers(allowed_bucket: str) -> None:
    listing = browse(f"s3://{CONN}@{allowed_bucket}/allowed/sub/")
    assert [(e.name, e.uri) for e in listing.entries] == [
        ("x.csv", f"s3://{CONN}@{allowed_bucket}/allowed/sub/x.csv")
    ]
    assert listing.uri == f"s3://{CONN}@{allowed_bucket}/allowed/sub"
    assert listing.parent == f"s3://{CONN}@{allowed_bucket}/allowed"
    assert browse(f"s3://{allowed_bucket}/allowed/marked", CONN).entries == []  # only its marker


@pytest.mark.parametrize(
    ("uri", "conn_id", "rule"),
    [
        ("s3://{bucket}/other", CONN, "path-not-allowed"),
        ("s3://{bucket}/", CONN, "path-not-allowed"),
        ("s3://{bucket}/allowed/../other", CONN, "path-traversal"),
        ("s3://{bucket}/allowed", OTHER_CONN, "path-not-allowed"),  # works, but is not the allowed one
        ("s3://{bucket}/allowed", None, "storage-connection"),
    ],
)
def test_a_prefix_outside_the_policy_is_refused(
    allowed_bucket: str, uri: str, conn_id: str | None, rule: str
) -> None:
    uri = uri.format(bucket=allowed_bucket)
    with pytest.raises(BrowseError) as refused:
        browse(uri, conn_id)
    assert (refused.value.status, refused.value.rule) == (400, rule), refused.value.detail
    assert "secret" not in refused.value.detail


def test_missing_prefix_object_and_empty_root(allowed_bucket: str) -> None:
    with pytest.raises(BrowseError) as missing:
        browse(f"s3://{allowed_bucket}/allowed/nope", CONN)
    assert (missing.value.status, missing.value.rule) == (404, "not-found")
    with pytest.raises(BrowseError) as an_object:
        browse(f"s3://{allowed_bucket}/allowed/A.csv", CONN)
    assert (an_object.value.status, an_object.value.rule) == (400, "not-a-folder")
    # S3 has no empty folders: an allowed prefix with no object yet is an empty listing, not a 404.
    assert browse(f"s3://{allowed_bucket}/empty-root", CONN).entries == []


def test_truncated_on_s3(allowed_bucket: str) -> None:
    listing = browse(f"s3://{allowed_bucket}/allowed", CONN, limit=3)
    assert [e.name for e in listing.entries] == ["marked", "sub", "A.csv"]
    assert listing.truncated


# ---------------------------------------------------------------------------------------------- the API


@pytest.fixture(scope="module")
def api_paths(tmp_path_factory: pytest.TempPathFactory, s3_server: str) -> dict[str, str]:
    """A data folder (with a symlink out of it) and a filled bucket, the policy's only roots."""
    base = tmp_path_factory.mktemp("locations-api")
    data, outside = base / "data", base / "outside"
    (data / "in").mkdir(parents=True)
    outside.mkdir()
    (data / "orders.csv").write_text("id\n1\n")
    (outside / "secret.csv").write_text("secret\n")
    (data / "link_out").symlink_to(outside)
    return {"data": str(data), "outside": str(outside), "bucket": _fill_bucket(s3_server)}


@pytest.fixture(scope="module")
def airflow_client(
    airflow_db: Path, tmp_path_factory: pytest.TempPathFactory, api_paths: dict[str, str]
) -> Any:
    allowed = f"{api_paths['data']},s3://{CONN}@{api_paths['bucket']}/allowed"
    env = {"AIRFLOW__LOGIDATA__ALLOWED_PATHS": allowed}
    with airflow_test_client(tmp_path_factory.mktemp("locations-app"), "locations", env=env) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(airflow_client: Any) -> dict[str, str]:
    return issue_tokens(airflow_client)


@pytest.fixture
def user(airflow_client: Any, tokens: dict[str, str]) -> Api:
    return Api(airflow_client, tokens["user"])


def test_api_lists_the_roots(user: Api, api_paths: dict[str, str]) -> None:
    response = user("GET", "/locations")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "locations": [
            {
                "kind": "local",
                "uri": api_paths["data"],
                "label": f"Folder {api_paths['data']}",
                "conn_id": None,
                "browsable": True,
            },
            {
                "kind": "s3",
                "uri": f"s3://{api_paths['bucket']}/allowed",
                "label": f"S3 bucket {api_paths['bucket']}, under allowed/ (connection {CONN})",
                "conn_id": CONN,
                "browsable": True,
            },
        ]
    }


def test_api_browses_a_local_folder(user: Api, api_paths: dict[str, str]) -> None:
    response = user("GET", "/locations/browse", params={"uri": api_paths["data"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(e["name"], e["kind"], e["uri"]) for e in body["entries"]] == [
        ("in", "directory", f"{api_paths['data']}/in"),
        ("orders.csv", "file", f"{api_paths['data']}/orders.csv"),  # not link_out: it leads outside
    ]
    assert body["entries"][1]["size"] == 5 and body["entries"][1]["modified"].endswith("Z")
    assert {k: body[k] for k in ("uri", "kind", "conn_id", "parent", "truncated", "limit")} == {
        "uri": api_paths["data"],
        "kind": "local",
        "conn_id": None,
        "parent": None,
        "truncated": False,
        "limit": 1000,
    }


def test_api_browses_s3_through_the_connection(user: Api, api_paths: dict[str, str]) -> None:
    uri = f"s3://{api_paths['bucket']}/allowed"
    response = user("GET", "/locations/browse", params={"uri": uri, "conn_id": CONN})
    assert response.status_code == 200, response.text
    assert [e["name"] for e in response.json()["entries"]] == ["marked", "sub", "A.csv", "b.csv"]


@pytest.mark.parametrize(
    ("uri", "rule", "fragment"),
    [
        ("{data}/../outside", "path-not-allowed", "outside the allowed folders"),
        ("{data}/link_out", "path-not-allowed", "resolves to"),
        ("file:///etc", "path-forbidden", "system folder"),
        ("{data}/in\x00/../../outside", "path-traversal", "control characters"),
        ("s3://logidata_s3@{bucket}/other", "path-not-allowed", "outside the allowed locations"),
        ("{data}/" + "x" * 5000, "uri-too-long", "over the 4096 allowed"),
    ],
)
def test_api_refuses_escapes_with_a_400(
    user: Api, api_paths: dict[str, str], uri: str, rule: str, fragment: str
) -> None:
    uri = uri.format(**api_paths)
    body = assert_error_shape(user("GET", "/locations/browse", params={"uri": uri}), 400)
    assert body["detail"].startswith("cannot browse: ") and f"(rule: {rule})" in body["detail"]
    assert fragment in body["detail"]
    assert body["errors"][0]["path"] == "uri" and fragment in body["errors"][0]["message"]
    assert "secret" not in json.dumps(body)


def test_api_answers_404_and_422(user: Api, api_paths: dict[str, str]) -> None:
    missing = assert_error_shape(
        user("GET", "/locations/browse", params={"uri": f"{api_paths['data']}/no"}), 404
    )
    assert "does not exist" in missing["detail"]
    assert_error_shape(user("GET", "/locations/browse"), 422)  # uri is required


@pytest.mark.parametrize("path", ["/locations", "/locations/browse?uri=/"])
def test_api_needs_a_login(airflow_client: Any, path: str) -> None:
    body = assert_error_shape(Api(airflow_client, None)("GET", path), 401)
    assert "log in" in body["detail"]


@pytest.mark.parametrize("path", ["/locations", "/locations/browse?uri=/"])
def test_api_needs_the_right_to_preview(airflow_client: Any, tokens: dict[str, str], path: str) -> None:
    """A Viewer may read pipelines but not preview their data, so not browse it either."""
    body = assert_error_shape(Api(airflow_client, tokens["viewer"])("GET", path), 403)
    assert "edit" in body["detail"]


def test_api_checks_the_pipeline_being_edited(user: Api, api_paths: dict[str, str]) -> None:
    """``pipeline_id``: DAG edit on that pipeline (per-DAG grants), its id rule checked first."""
    params = {"uri": api_paths["data"], "pipeline_id": "orders"}
    assert user("GET", "/locations/browse", params=params).status_code == 200
    body = assert_error_shape(user("GET", "/locations", params={"pipeline_id": "-bad"}), 400)
    assert body["errors"][0]["path"] == "id"
