"""A writer killed with SIGKILL in the middle of a save leaves the previous version intact."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from airflow_provider_logidata.store import PipelineStore

VALID = {
    "id": "p1",
    "nodes": [
        {"id": "src", "module": "source.file", "config": {"path": "/tmp/in.csv"}},
        {"id": "dst", "module": "destination.file", "config": {"path": "/tmp/out.parquet"}},
    ],
    "edges": [{"source": "src", "target": "dst"}],
}

# Runs in the child only: os.replace is patched so the process kills itself once the temp file of the
# current version is fully written (and fsynced), right before it would be renamed into place.
CHILD = textwrap.dedent(
    """
    import os
    import signal
    import sys

    from airflow_provider_logidata.store import PipelineStore

    store = PipelineStore(sys.argv[1], max_pipeline_bytes=100_000_000)  # above the 2 MiB default
    current = store.get("p1")
    data = dict(current.data)
    data["params"] = {"blob": "x" * 20_000_000}  # ~20 MB: a write that takes a while

    real_replace = os.replace

    def replace_then_die(src, dst):
        if os.path.basename(str(dst)) == "p1.json":
            assert os.path.getsize(src) > 20_000_000, os.path.getsize(src)
            print("temp written", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst)

    os.replace = replace_then_die
    store.save(data, expected_etag=current.etag)
    print("save returned", flush=True)
    """
)


def test_sigkill_mid_write_keeps_the_old_version(tmp_path: Path) -> None:
    root = tmp_path / "pipelines"
    store = PipelineStore(root)
    v1 = store.save(dict(VALID), expected_etag=None)
    before = (root / "p1.json").read_bytes()

    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(root)], capture_output=True, text=True, timeout=120
    )

    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "temp written" in proc.stdout and "save returned" not in proc.stdout
    # The killed writer left its temp file behind: proof that it died mid-write.
    leftovers = [p.name for p in root.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".p1.json.")

    assert (root / "p1.json").read_bytes() == before
    got = store.get("p1")
    assert (got.version, got.etag, got.data) == (1, v1.etag, VALID)
    assert [r.id for r in store.iter_raw()] == ["p1"]
    assert [h.version for h in store.history("p1")] == [1]
    assert json.loads(before) == VALID

    # The store keeps working, and the next save of p1 sweeps the stale temp file away.
    v2 = store.save({**VALID, "name": "after crash"}, expected_etag=v1.etag)
    assert v2.version == 2
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]
