"""``logidata validate / import / show / list`` on any input: a message naming the file and the problem and
exit status 1 (2 for usage), never a Python traceback."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata import settings
from airflow_provider_logidata.cli.main import main

SCRIPT = Path(sys.executable).parent / "logidata"


def good(pid: str = "p1") -> dict[str, Any]:
    data = settings.data_path()
    return {
        "id": pid,
        "nodes": [
            {"id": "src", "module": "source.file", "config": {"path": f"{data}/in.csv"}},
            {"id": "dst", "module": "destination.file", "config": {"path": f"{data}/out.parquet"}},
        ],
        "edges": [{"source": "src", "target": "dst"}],
    }


# name -> (file content, or None for "no such file"; words the message must contain).
BAD_FILES: dict[str, tuple[bytes | None, str]] = {
    "binary.json": (bytes(range(256)) * 8, "save it as UTF-8"),
    "zeros.json": (b"\x00" * 64, "invalid JSON"),
    "empty.json": (b"", "the file is empty"),
    "blank.json": (b"  \n\t\n", "the file is empty"),
    "missing.json": (None, "No such file or directory"),
    "deep.json": (
        b'{"id": "p", "params": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "deeper than 64 levels",
    ),
    "deep_open.json": (b"[" * 100_000, "deeper than 64 levels"),
    "huge_int.json": (b'{"id": "p", "retries": ' + b"9" * 4300 + b"}", "4300 digits"),
    "huger_int.json": (b'{"id": "p", "retries": ' + b"9" * 5000 + b"}", "5000 digits"),
    "nan.json": (b'{"id": "p", "retries": NaN}', "NaN"),
    "infinity.json": (b'{"id": "p", "params": {"x": -Infinity}}', "-Infinity"),
    "overflow.json": (b'{"id": "p", "params": {"x": 1e999}}', "infinite"),
    "array.json": (b"[1, 2, 3]", "a pipeline must be a JSON object"),
    "string.json": (b'"pipeline"', "a pipeline must be a JSON object"),
    "number.json": (b"42", "a pipeline must be a JSON object"),
    "latin1.json": ('{"id": "p", "name": "caf\u00e9"}'.encode("latin-1"), "not UTF-8 text"),
    "surrogate.json": (b'{"id": "p", "name": "\\ud800"}', "surrogate"),
    "broken.json": (b'{"id": "p", "nodes": [}', "invalid JSON: Expecting value at line 1 column 23"),
}


def make_bad_files(folder: Path) -> dict[str, Path]:
    paths = {}
    for name, (content, _words) in BAD_FILES.items():
        path = folder / name
        if content is not None:
            path.write_bytes(content)
        paths[name] = path
    (folder / "a_directory.json").mkdir()
    paths["a_directory.json"] = folder / "a_directory.json"
    return paths


ALL_WORDS = {**{name: words for name, (_c, words) in BAD_FILES.items()}, "a_directory.json": "Is a directory"}


class Run:
    def __init__(self, capsys: pytest.CaptureFixture[str], store: Path) -> None:
        self.capsys = capsys
        self.store = store

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(["--pipelines-path", str(self.store), *argv])
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Run:
    return Run(capsys, tmp_path / "store")


@pytest.mark.parametrize("name", sorted(ALL_WORDS))
def test_validate_each_bad_file(run: Run, tmp_path: Path, name: str) -> None:
    path = make_bad_files(tmp_path)[name]
    code, out, err = run("validate", str(path))
    assert code == 1
    lines = [line for line in (out + err).splitlines() if line.startswith(f"{path}: ")]
    assert lines, out + err
    assert ALL_WORDS[name] in "\n".join(lines), out + err
    assert "1 of 1 file(s) invalid" in err


def test_validate_reports_every_file_and_goes_on(run: Run, tmp_path: Path) -> None:
    paths = make_bad_files(tmp_path)
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(good()))
    code, out, err = run("validate", *map(str, paths.values()), str(ok))
    assert code == 1
    for name, path in paths.items():
        assert any(line.startswith(f"{path}: ") for line in (out + err).splitlines()), name
    assert f"OK {ok}" in out
    assert f"{len(paths)} of {len(paths) + 1} file(s) invalid" in err


@pytest.mark.parametrize("name", ["deep.json", "huge_int.json", "nan.json", "binary.json", "empty.json"])
def test_validate_stdin(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    content, words = BAD_FILES[name]
    assert content is not None
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(content)))
    code, out, err = run("validate", "-")
    assert code == 1
    assert any(line.startswith("-: ") and words in line for line in (out + err).splitlines()), out + err


def test_validate_file_over_the_size_limit(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__MAX_PIPELINE_BYTES", "4096")
    big = tmp_path / "big.json"
    big.write_text(json.dumps({**good(), "description": "x" * 10_000}))
    code, out, err = run("validate", str(big))
    assert code == 1
    assert f"{big}: the file is larger than 4,096 bytes" in err and "max_pipeline_bytes" in err


def test_validate_unreadable_file(run: Run, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files regardless of permissions")
    path = tmp_path / "secret.json"
    path.write_text(json.dumps(good()))
    path.chmod(0)
    try:
        code, out, err = run("validate", str(path))
    finally:
        path.chmod(0o644)
    assert code == 1 and f"{path}: cannot read the file: Permission denied" in err


@pytest.mark.parametrize("name", sorted(ALL_WORDS))
def test_import_each_bad_file(run: Run, tmp_path: Path, name: str) -> None:
    path = make_bad_files(tmp_path)[name]
    code, out, err = run("import", str(path))
    assert code == 1
    assert err.startswith(f"logidata: error: {path}: ") or f"{path}: " in err, err
    assert ALL_WORDS[name] in err or "is invalid and was not imported" in err, err
    assert not (tmp_path / "store").exists() or not list((tmp_path / "store").glob("*.json"))


def broken_store(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "good.json").write_text(json.dumps(good("good")))
    for name, (content, _words) in BAD_FILES.items():
        if content is not None:
            (root / name).write_bytes(content)


def test_list_and_show_with_broken_files(run: Run) -> None:
    broken_store(run.store)
    code, out, err = run("list")
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "yes" in rows["good"]
    for name in BAD_FILES:
        if BAD_FILES[name][0] is not None:
            assert "no (1 error)" in rows[name.removesuffix(".json")], name

    code, out, err = run("list", "--json")
    listed = {entry["id"]: entry for entry in json.loads(out)}
    assert listed["deep"]["valid"] is False and "deeper than 64" in listed["deep"]["first_error"]

    for name, (content, words) in BAD_FILES.items():
        if content is None:
            continue
        code, out, err = run("show", name.removesuffix(".json"))
        assert code == 1, name
        assert err.startswith("logidata: error: pipeline "), err
        expected = "invalid JSON" if name in ("empty.json", "blank.json") else words  # the store's wording
        assert expected in err or "JSON object" in err, (name, err)
    assert run("show", "good")[0] == 0


def test_show_surrogate_in_a_valid_file(run: Run) -> None:
    """A stored name with an escaped lone surrogate is not accepted at all (it would not print)."""
    run.store.mkdir(parents=True)
    (run.store / "p.json").write_bytes(b'{"id": "p", "status": "draft", "name": "\\udcff"}')
    code, out, err = run("show", "p")
    assert code == 1 and "surrogate" in err


def test_report_with_a_deep_report_file(run: Run, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_bytes(b"[" * 100_000)
    code, out, err = run("report", "--path", str(report))
    assert code == 1 and "not valid JSON" in err and "deeper than 64" in err


def test_unexpected_error_is_one_line(run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import airflow_provider_logidata.cli.pipelines as cli_pipelines

    def boom(args: Any) -> int:
        raise RuntimeError("something odd")

    monkeypatch.setattr(cli_pipelines, "cmd_list", boom)
    code, out, err = run("list")
    assert code == 1
    assert err.strip() == (
        "logidata: error: list failed: RuntimeError: something odd (set LOGIDATA_DEBUG=1 to see the traceback)"
    )


# ------------------------------------------------------------------------------------------ real process


def test_console_script_never_prints_a_traceback(tmp_path: Path) -> None:
    """The installed ``logidata`` on every bad input: exit 1 (2 for usage), messages, no traceback."""
    if not SCRIPT.exists():
        pytest.skip(f"console script not installed at {SCRIPT}")
    files = tmp_path / "files"
    files.mkdir()
    paths = make_bad_files(files)
    store = tmp_path / "store"
    broken_store(store)

    runs: list[tuple[list[str], bytes | None, int]] = [
        (["validate", *map(str, paths.values())], None, 1),
        (["validate", "-"], BAD_FILES["deep.json"][0], 1),
        (["--pipelines-path", str(store), "show", "deep"], None, 1),
        (["validate"], None, 2),
    ]
    # Started together: each process spends seconds importing Airflow's configuration. (import and list
    # of the same inputs run in-process above.)
    procs = [
        subprocess.Popen(
            [str(SCRIPT), *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=os.environ.copy(),
        )
        for argv, _stdin, _expected in runs
    ]
    for proc, (argv, stdin, expected) in zip(procs, runs, strict=True):
        out_bytes, err_bytes = proc.communicate(stdin, timeout=300)
        stdout, stderr = out_bytes.decode("utf-8", "replace"), err_bytes.decode("utf-8", "replace")
        assert "Traceback" not in stderr, (argv, stderr)
        assert proc.returncode == expected, (argv, proc.returncode, stderr)
        if argv[0] == "validate" and expected == 1 and stdin is None:
            for name, path in paths.items():
                assert f"{path}: " in stdout + stderr, name
        elif argv[0] == "validate" and expected == 1:
            assert "-: JSON refused: JSON nested deeper than 64 levels" in stdout, stdout
        elif "show" in argv:
            assert stderr.startswith("logidata: error: pipeline 'deep' at ") and "deeper than 64" in stderr
