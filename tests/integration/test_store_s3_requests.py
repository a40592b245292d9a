"""The DAG factory on a store in S3 (moto's server on loopback, every request counted): a parse of an
unchanged store of 1,000 pipelines costs its listing, not 1,000 reads; a changed pipeline is read again,
a deleted one forgotten."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.dag_factory.loader import load_pipelines

pytestmark = pytest.mark.integration

PIPELINES = 1000


@pytest.fixture
def counted_s3(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A moto S3 server whose requests are counted by method, and an Airflow connection to it."""
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        with lock:
            counts[environ["REQUEST_METHOD"]] += 1
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, counting, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_COUNTED_S3",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
            }
        ),
    )
    try:
        yield endpoint, counts
    finally:
        server.shutdown()


def _draft(pipeline_id: str, note: str = "") -> bytes:
    doc = {
        "spec_version": 1,
        "id": pipeline_id,
        "status": "draft",
        "description": note,
        "nodes": [],
        "edges": [],
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


def test_an_unchanged_store_costs_its_listing(counted_s3: Any, tmp_path: Path) -> None:
    import boto3

    endpoint, counts = counted_s3
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket="store")
    for i in range(PIPELINES):
        client.put_object(Bucket="store", Key=f"pipelines/p{i:04d}.json", Body=_draft(f"p{i:04d}"))
    root = "s3://counted_s3@store/pipelines"
    report = str(tmp_path / "report.json")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")

    def parse() -> tuple[dict[str, int], Any]:
        counts.clear()
        result = load_pipelines({}, pipelines_path=root, report_path=report)
        return dict(counts), result

    first, result = parse()
    assert len(result.pipelines) == PIPELINES and {p.status for p in result.pipelines} == {"draft"}
    assert first.get("GET", 0) >= PIPELINES  # the first parse reads every file

    again, result = parse()
    assert len(result.pipelines) == PIPELINES
    # One listing (1,000 keys fit one page) and nothing read: O(1) requests for an unchanged store.
    assert again.get("GET", 0) <= 3, again
    assert sum(again.values()) <= 3, again

    client.put_object(Bucket="store", Key="pipelines/p0007.json", Body=_draft("p0007", "changed"))
    client.delete_object(Bucket="store", Key="pipelines/p0008.json")
    changed, result = parse()
    assert changed.get("GET", 0) <= 4, changed  # the listing and the one changed file
    ids = {p.id for p in result.pipelines}
    assert len(ids) == PIPELINES - 1 and "p0008" not in ids
    # What the factory read for the changed pipeline is its new content, not the kept copy.
    from airflow_provider_logidata.dag_factory.loader import _read_cache
    from airflow_provider_logidata.store import PipelineStore

    raws = {raw.id: raw for raw in PipelineStore(root).iter_raw(cache=_read_cache(root))}
    assert b"changed" in (raws["p0007"].content or b"")
    print(
        f"requests per parse of {PIPELINES} pipelines: first {first}, unchanged {again}, one changed {changed}"
    )
