"""source.file and destination.file under the path policy, through the engine code runs and previews use.

Each refusal proves nothing was read or written: the error names the path and the rule, the data never
reaches staging, and the folder trees outside the target are byte-for-byte unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_logidata.engine.destinations import write_file
from airflow_provider_logidata.engine.errors import LogiDataTaskError
from airflow_provider_logidata.engine.runner import run_source
from airflow_provider_logidata.modules.destinations.file import FileDestinationConfig
from airflow_provider_logidata.modules.sources.file import FileSourceConfig
from airflow_provider_logidata.security import paths


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, /) -> None:
        self.lines.append(msg)

    def warning(self, msg: str, /) -> None:
        self.lines.append(msg)


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    home = tmp_path / "home"
    data = tmp_path / "data"
    dags = home / "dags"
    for folder in (data / "in", dags, tmp_path / "staging"):
        folder.mkdir(parents=True)
    (home / "airflow.cfg").write_text("[api_auth]\njwt_secret = s3cr3t\n")
    (data / "in" / "a.csv").write_text("id,name\n1,x\n")
    (data / "in" / "b.csv").write_text("id,name\n2,y\n")
    (data / "in" / "c.csv").symlink_to(home / "airflow.cfg")
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(dags))
    monkeypatch.setenv("AIRFLOW__LOGIDATA__ALLOWED_PATHS", str(data))
    monkeypatch.setenv("AIRFLOW__LOGIDATA__STAGING_PATH", str(tmp_path / "staging"))
    paths._cache.clear()
    return {"home": home, "data": data, "dags": dags, "staging": tmp_path / "staging", "root": tmp_path}


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def _read(path: str, layout: dict[str, Path]) -> Any:
    config = FileSourceConfig.model_validate({"path": path, "format": "csv"})
    return run_source(config, "read", str(layout["staging"] / "out"), module="source.file", log=Log())


@pytest.mark.parametrize(
    "path",
    [
        "{home}/airflow.cfg",
        "{data}/../home/airflow.cfg",
        "{data}/in/c.csv",  # a symlink to the config
        "/etc/passwd",
        "/proc/self/environ",
        "{root}/*/airflow.cfg",
    ],
)
def test_source_refuses_and_stages_nothing(layout: dict[str, Path], path: str) -> None:
    text = path.format(**layout)
    with pytest.raises(LogiDataTaskError) as refused:
        _read(text, layout)
    assert "source.file node 'read'" in str(refused.value)
    assert "allowed" in str(refused.value)
    assert not (layout["staging"] / "out").exists()


def test_source_glob_reads_allowed_files_and_never_a_symlink_out(layout: dict[str, Path]) -> None:
    handle = _read(str(layout["data"] / "in" / "*.csv"), layout)
    assert handle["rows"] == 2  # a.csv and b.csv; c.csv (a link to airflow.cfg) is not a file to read
    staged = b"".join(path.read_bytes() for path in (layout["staging"] / "out").rglob("*") if path.is_file())
    assert b"jwt_secret" not in staged and b"s3cr3t" not in staged


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("{dags}/evil.py", "never allowed"),
        ("{dags}/", "never allowed"),
        ("{home}/airflow.cfg", "never allowed"),
        ("{data}/../home/dags/evil.csv", "never allowed"),
        ("{staging}/x.parquet", "staging"),
        ("{root}/elsewhere.csv", "outside the allowed"),
        ("{home}/", "never allowed"),
    ],
)
def test_destination_refuses_and_writes_nothing(layout: dict[str, Path], path: str, rule: str) -> None:
    before = _tree(layout["root"])
    config = FileDestinationConfig.model_validate({"path": path.format(**layout), "format": "csv"})
    code = pa.table({"__import__('os').system('touch /tmp/pwned')": [1]})
    with pytest.raises(LogiDataTaskError, match=rule):
        write_file(config, "write", code.schema, code.to_batches(), Log())
    assert _tree(layout["root"]) == before


def test_csv_header_made_of_code_is_quoted(layout: dict[str, Path]) -> None:
    """A column named like Python code is written as a quoted CSV text, never as a line of code."""
    name = "__import__('os').system('id')"
    table = pa.table({name: ["v"], "plain": [1]})
    target = layout["data"] / "out.csv"
    config = FileDestinationConfig.model_validate({"path": str(target), "format": "csv"})
    write_file(config, "write", table.schema, table.to_batches(), Log())
    header = target.read_text().splitlines()[0]
    assert header == "\"__import__('os').system('id')\",\"plain\""
    folder = FileDestinationConfig.model_validate(
        {"path": str(layout["data"] / "outdir") + "/", "format": "csv"}
    )
    write_file(folder, "write", table.schema, table.to_batches(), Log())
    written = next((layout["data"] / "outdir").glob("*.csv")).read_text().splitlines()[0]
    assert written.startswith('"__import__')
    plain = pa.table({"id": [1], "order date": ["x"]})
    write_file(config, "write", plain.schema, plain.to_batches(), Log())
    assert target.read_text().splitlines()[0] == "id,order date"  # plain names stay as tools write them


@pytest.mark.parametrize(
    "value",
    ["../../escaped", "..", "a/../../b", "/abs", "x\x00y", "line\nbreak", "..\\..\\win", "%2e%2e"],
)
def test_partition_values_stay_inside_the_target(layout: dict[str, Path], value: str) -> None:
    table = pa.table({"part": [value, "ok"], "amount": [1, 2]})
    target = layout["data"] / "parted"
    before = {path for path in layout["root"].rglob("*") if not str(path).startswith(str(target))}
    config = FileDestinationConfig.model_validate({"path": str(target) + "/", "partition_by": ["part"]})
    write_file(config, "write", table.schema, table.to_batches(), Log())
    after = {path for path in layout["root"].rglob("*") if not str(path).startswith(str(target))}
    assert after == before
    folders = sorted(path.name for path in target.iterdir())
    assert len(folders) == 2
    for folder in folders:
        assert folder.startswith("part=")
        assert "/" not in folder and "\x00" not in folder and "\n" not in folder
    for path in target.rglob("*"):
        assert os.path.realpath(path).startswith(os.path.realpath(target) + os.sep)


@pytest.mark.parametrize("column", ["../../escaped", "a/b", "..", ".hidden", "k=v", "x\ny"])
def test_partition_column_names_are_refused(layout: dict[str, Path], column: str) -> None:
    with pytest.raises(ValueError, match="cannot name a folder"):
        FileDestinationConfig.model_validate(
            {"path": str(layout["data"] / "parted") + "/", "partition_by": [column]}
        )
    # Built without validation (model_construct), the engine refuses as well.
    config = FileDestinationConfig.model_construct(
        path=str(layout["data"] / "parted") + "/",
        format="parquet",
        compression="zstd",
        delimiter=",",
        header=True,
        conn_id=None,
        partition_by=[column],
        mode="replace",
    )
    table = pa.table({column: ["v"], "amount": [1]})
    before = _tree(layout["root"])
    with pytest.raises(LogiDataTaskError, match="cannot name a folder"):
        write_file(config, "write", table.schema, table.to_batches(), Log())
    assert _tree(layout["root"]) == before
