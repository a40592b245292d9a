"""The ``logidata`` command, called through ``main(argv)`` with captured output."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_logidata.cli.main import main
from airflow_provider_logidata.store import PipelineStore

VALID: dict[str, Any] = {
    "id": "p1",
    "nodes": [
        {"id": "src", "module": "source.file", "config": {"path": "/tmp/in.csv"}},
        {"id": "dst", "module": "destination.file", "config": {"path": "/tmp/out.parquet"}},
    ],
    "edges": [{"source": "src", "target": "dst"}],
}


def pipeline(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    data.update(changes)
    return data


class Cli:
    """Runs ``logidata --pipelines-path <store> ...`` and keeps exit code, stdout and stderr."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.capsys = capsys
        self.code = 0
        self.out = ""
        self.err = ""

    def __call__(self, *argv: str, store: bool = True) -> int:
        args = ["--pipelines-path", str(self.root), *argv] if store else list(argv)
        self.capsys.readouterr()
        self.code = main(args)
        self.out, self.err = self.capsys.readouterr()
        assert "Traceback" not in self.err
        return self.code

    @property
    def store(self) -> PipelineStore:
        return PipelineStore(self.root)


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path / "pipelines", capsys)


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ validate


def test_validate_ok_and_draft(cli: Cli, tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", pipeline())
    draft = write(tmp_path / "any-name.json", pipeline(id="other", status="draft"))
    assert cli("validate", str(good), str(draft)) == 0
    assert cli.out.splitlines() == [f"OK {good}", f"OK {draft} (draft)"]


def test_validate_reports_every_issue(cli: Cli, tmp_path: Path) -> None:
    data = pipeline(schedule="every day")
    data["nodes"][0]["module"] = "source.nope"
    bad = write(tmp_path / "bad.json", data)
    good = write(tmp_path / "good.json", pipeline())

    assert cli("validate", str(good), str(bad)) == 1
    lines = cli.out.splitlines()
    assert lines[0] == f"OK {good}"
    assert any(line.startswith(f"{bad}: schedule: ") and "'every day'" in line for line in lines)
    # Node issues name the node (module and id) and what is wrong, the JSON path on a detail line.
    assert any(
        line.startswith(f"{bad}: source.nope 'src' > module: ") and "allowed:" in line for line in lines
    )
    assert "    at nodes[0].module" in lines
    assert "1 of 2 file(s) invalid" in cli.err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"id": "p1",\n  "nodes": [}', "invalid JSON: Expecting value at line 2 column 13"),
        ("[1, 2]", "a pipeline must be a JSON object"),
        (b'{"id": "\xff"}', "not UTF-8"),
    ],
)
def test_validate_bad_files(cli: Cli, tmp_path: Path, content: str | bytes, expected: str) -> None:
    path = tmp_path / "file.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert cli("validate", str(path)) == 1
    assert str(path) in cli.out and expected in cli.out


def test_validate_missing_file(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    assert cli("validate", str(missing)) == 1
    assert f"{missing}: cannot read the file: No such file or directory" in cli.err


def test_validate_needs_no_store(cli: Cli, tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", pipeline())
    assert cli("validate", str(good), store=False) == 0
    assert not cli.root.exists()


# ------------------------------------------------------------------------------------------ import / show / export


def test_import_then_show_and_export(cli: Cli, tmp_path: Path) -> None:
    file = write(tmp_path / "p1.json", pipeline())
    assert cli("import", str(file)) == 0
    assert cli.out.strip() == "imported p1 as version 1"

    assert cli("show", "p1") == 0
    assert json.loads(cli.out) == VALID
    etag = cli.store.get("p1").etag
    assert f"version 1 etag {etag}" in cli.err

    assert cli("export", "p1") == 0
    assert cli.out == (cli.root / "p1.json").read_text()

    target = tmp_path / "out" / "exported.json"
    target.parent.mkdir()
    assert cli("export", "p1", "-o", str(target)) == 0
    assert json.loads(target.read_text()) == VALID
    assert str(target) in cli.err


def test_import_existing_needs_force(cli: Cli, tmp_path: Path) -> None:
    write(tmp_path / "p1.json", pipeline())
    assert cli("import", str(tmp_path / "p1.json")) == 0
    before = (cli.root / "p1.json").read_bytes()

    changed = write(tmp_path / "changed.json", pipeline(name="changed"))
    assert cli("import", str(changed)) == 1
    assert "already exists" in cli.err and "--force" in cli.err and str(changed) in cli.err
    assert (cli.root / "p1.json").read_bytes() == before

    assert cli("import", str(changed), "--force") == 0
    assert cli.out.strip() == "imported p1 as version 2"
    assert cli.store.get("p1").data["name"] == "changed"

    assert cli("show", "p1", "--version", "1") == 0
    assert json.loads(cli.out) == VALID
    assert "version 1 etag" in cli.err
    assert cli("export", "p1", "--version", "2") == 0
    assert json.loads(cli.out)["name"] == "changed"


def test_import_force_creates_when_missing(cli: Cli, tmp_path: Path) -> None:
    file = write(tmp_path / "x.json", pipeline())
    assert cli("import", str(file), "--force") == 0
    assert cli.out.strip() == "imported p1 as version 1"


def test_import_invalid_pipeline(cli: Cli, tmp_path: Path) -> None:
    data = pipeline()
    data["nodes"][0]["module"] = "source.nope"
    bad = write(tmp_path / "bad.json", data)
    assert cli("import", str(bad)) == 1
    assert f"{bad}: nodes[0].module:" in cli.err
    assert "not imported" in cli.err and "draft" in cli.err
    assert list(cli.store.iter_raw()) == []

    draft = write(tmp_path / "draft.json", {**data, "status": "draft"})
    assert cli("import", str(draft)) == 0
    assert cli.store.get("p1").data["status"] == "draft"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{nope", "invalid JSON"),
        ('"text"', "must be a JSON object"),
        (json.dumps(pipeline(id="../escape")), "invalid pipeline id '../escape'"),
        (json.dumps({"nodes": []}), "pipeline id must be text"),
    ],
)
def test_import_bad_files(cli: Cli, tmp_path: Path, content: str, expected: str) -> None:
    file = write(tmp_path / "in.json", content)
    assert cli("import", str(file)) == 1
    assert expected in cli.err and str(file) in cli.err
    assert list(cli.store.iter_raw()) == []


def test_import_missing_file(cli: Cli, tmp_path: Path) -> None:
    assert cli("import", str(tmp_path / "nope.json")) == 1
    assert "nope.json" in cli.err and "No such file" in cli.err


@pytest.mark.parametrize(
    "argv",
    [
        ["show", "ghost"],
        ["export", "ghost"],
        ["history", "ghost"],
        ["delete", "ghost"],
        ["restore", "ghost", "1"],
        ["show", "../etc/passwd"],
    ],
)
def test_unknown_pipeline_errors(cli: Cli, argv: list[str]) -> None:
    assert cli(*argv) == 1
    assert cli.err.startswith("logidata: error: ")
    assert argv[1] in cli.err
    assert cli.out == ""


def test_unknown_version(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(write(tmp_path / "p1.json", pipeline())))
    assert cli("show", "p1", "--version", "5") == 1
    assert "no version 5" in cli.err


def test_export_to_unwritable_place(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(write(tmp_path / "p1.json", pipeline())))
    target = tmp_path / "no" / "such" / "dir" / "out.json"
    assert cli("export", "p1", "-o", str(target)) == 1
    assert str(target) in cli.err


# ------------------------------------------------------------------------------------------ list / history


def test_list_table_and_json(cli: Cli, tmp_path: Path) -> None:
    assert cli("list") == 0
    assert "no pipelines in" in cli.err

    cli("import", str(write(tmp_path / "a.json", pipeline(id="alpha", name="Alpha pipeline"))))
    bad = pipeline(id="beta", status="draft")
    bad["edges"] = [{"source": "src", "target": "ghost"}]
    cli("import", str(write(tmp_path / "b.json", bad)))

    assert cli("list") == 0
    lines = cli.out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "VERSION", "VALID", "NAME"]
    assert lines[1].split() == ["alpha", "active", "1", "yes", "Alpha", "pipeline"]
    assert lines[2].split()[:4] == ["beta", "draft", "1", "no"]

    assert cli("list", "--json") == 0
    rows = json.loads(cli.out)
    assert [(r["id"], r["valid"], r["version"]) for r in rows] == [("alpha", True, 1), ("beta", False, 1)]
    assert set(rows[0]) >= {"id", "name", "status", "version", "etag", "updated_at", "valid", "error_count"}


def test_pipelines_path_after_the_command(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(write(tmp_path / "a.json", pipeline())))
    assert cli("list", "--pipelines-path", str(cli.root), store=False) == 0
    assert "p1" in cli.out


def test_pipelines_path_from_settings(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__LOGIDATA__PIPELINES_PATH", str(cli.root))
    cli("import", str(write(tmp_path / "a.json", pipeline())))
    assert cli("list", store=False) == 0
    assert "p1" in cli.out


def test_history_restore_delete(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(write(tmp_path / "p1.json", pipeline())))
    cli("import", str(write(tmp_path / "p1b.json", pipeline(name="second"))), "--force")

    assert cli("history", "p1") == 0
    lines = cli.out.splitlines()
    assert lines[0].split() == ["VERSION", "SAVED_AT", "AUTHOR", "ETAG", "STATUS", "MESSAGE"]
    assert [line.split()[0] for line in lines[1:]] == ["2", "1"]
    assert all(line.split()[-1] == "active" for line in lines[1:])
    etags = [h.etag for h in cli.store.history("p1")]
    assert all(etag in cli.out for etag in etags)

    assert cli("history", "p1", "--json") == 0
    assert [h["version"] for h in json.loads(cli.out)] == [2, 1]

    assert cli("restore", "p1", "1") == 0
    assert cli.out.strip() == "restored p1 version 1 as version 3"
    assert cli.store.get("p1").data == VALID

    assert cli("restore", "p1", "9") == 1
    assert "no version 9" in cli.err

    assert cli("delete", "p1") == 0
    assert "deleted p1" in cli.out and ".trash" in cli.out and "logidata restore p1 3" in cli.out
    assert not (cli.root / "p1.json").exists()
    assert cli("show", "p1") == 1

    # A deleted pipeline comes back from its history.
    assert cli("restore", "p1", "2") == 0
    assert cli.out.strip() == "restored p1 version 2 as version 4"
    assert cli.store.get("p1").data["name"] == "second"


def test_messages_diff_and_deleted(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(write(tmp_path / "p1.json", pipeline())), "-m", "first cut")
    moved = pipeline(schedule="@daily")
    moved["nodes"][0]["position"] = {"x": 300, "y": 40}
    moved["nodes"][1]["config"]["compression"] = "zstd"
    cli("import", str(write(tmp_path / "p1b.json", moved)), "--force", "--message", "daily\nand zstd")

    assert cli("history", "p1") == 0
    assert cli.out.splitlines()[1].endswith("daily and zstd")  # one line, whatever was typed
    assert cli.out.splitlines()[2].endswith("first cut")

    assert cli("diff", "p1", "1") == 0
    assert cli.out.splitlines() == [
        "p1: version 1 → 2",
        '~ pipeline schedule: null → "@daily"',
        '+ node dst: config.compression = "zstd"',
    ]  # the moved node is not a change
    assert cli("diff", "p1", "2", "1", "--json") == 0
    assert [c["text"] for c in json.loads(cli.out)["changes"]] == [
        '~ pipeline schedule: "@daily" → null',
        '- node dst: config.compression (was "zstd")',
    ]
    assert cli("diff", "p1", "7") == 1
    assert "no version 7" in cli.err

    assert cli("deleted") == 0
    assert cli.out.splitlines()[1:] == []
    cli("delete", "p1")
    assert cli("deleted") == 0
    row = cli.out.splitlines()[1].split()
    assert row[:2] == ["p1", "2"]  # no name: the NAME column is empty
    assert "logidata restore <id> <last_version>" in cli.out
    assert cli("deleted", "--json") == 0
    assert [(d["id"], d["last_version"]) for d in json.loads(cli.out)] == [("p1", 2)]
    assert cli("restore", "p1", "2", "-m", "oops") == 0
    assert cli.store.history("p1")[0].message == "restored version 2: oops"
    assert cli("deleted", "--json") == 0 and json.loads(cli.out) == []


def test_restore_refused_when_old_version_is_invalid_now(cli: Cli, tmp_path: Path) -> None:
    cli("import", str(write(tmp_path / "p1.json", pipeline())))
    cli("import", str(write(tmp_path / "p1b.json", pipeline(name="two"))), "--force")
    (cli.root / ".history" / "p1" / "v000001.json").write_text(json.dumps(pipeline(schedule="bad")))
    assert cli("restore", "p1", "1") == 1
    assert "pipeline p1 is invalid" in cli.err and "schedule" in cli.err


# ------------------------------------------------------------------------------------------ schema / report


def test_schema(cli: Cli, tmp_path: Path) -> None:
    pytest.importorskip("airflow_provider_logidata.spec.schema")
    assert cli("schema", store=False) == 0
    schema = json.loads(cli.out)
    assert "properties" in schema and "nodes" in schema["properties"]

    target = tmp_path / "schema.json"
    assert cli("schema", "-o", str(target), store=False) == 0
    assert json.loads(target.read_text()) == schema


def _report(path: Path, *statuses: str) -> Path:
    entries = []
    for n, status in enumerate(statuses):
        entry: dict[str, Any] = {
            "id": f"pipe{n}",
            "location": f"/p/pipe{n}.json",
            "status": status,
            "errors": [],
        }
        if status == "error":
            entry["errors"] = [
                {"path": "nodes[0].module", "message": "unknown module", "found": "'x'", "allowed": "a, b"},
                {"path": "", "message": "invalid JSON: Expecting value at line 1 column 2"},
            ]
        entries.append(entry)
    path.write_text(json.dumps({"generated_at": "2025-01-01T00:00:00+00:00", "pipelines": entries}))
    return path


def test_report_all_loaded(cli: Cli, tmp_path: Path) -> None:
    path = _report(tmp_path / "report.json", "loaded", "draft")
    assert cli("report", "--path", str(path), store=False) == 0
    assert "2025-01-01T00:00:00+00:00" in cli.out
    assert "pipe0" in cli.out and "pipe1" in cli.out
    assert "2 pipeline(s): 1 loaded, 1 draft(s), 0 with errors" in cli.out


def test_report_with_errors_from_settings(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _report(tmp_path / "report.json", "loaded", "error")
    monkeypatch.setenv("AIRFLOW__LOGIDATA__REPORT_PATH", str(path))
    assert cli("report", store=False) == 1
    assert "nodes[0].module: unknown module (found 'x'); allowed: a, b" in cli.out
    assert "(root): invalid JSON: Expecting value at line 1 column 2" in cli.out
    assert "1 pipeline(s) failed to load" in cli.err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no DAG factory report at"),
        ("{not json", "not valid JSON"),
        ('{"generated_at": "x"}', "no 'pipelines' list"),
    ],
)
def test_report_missing_or_broken(cli: Cli, tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content)
    assert cli("report", "--path", str(path), store=False) == 1
    assert expected in cli.err and str(path) in cli.err


# ------------------------------------------------------------------------------------------ examples


def test_examples_install(cli: Cli, tmp_path: Path) -> None:
    from airflow_provider_logidata.examples import example_files

    target = tmp_path / "examples"
    assert cli("examples", "install", "--target", str(target)) == 0
    ids = sorted(json.loads(p.read_text())["id"] for p in example_files())
    assert ids and all(f"installed example {i} as version 1" in cli.out for i in ids)
    assert (target / "data" / "orders.csv").is_file()
    summaries = cli.store.list()
    assert [s.id for s in summaries] == ids
    assert all(s.valid for s in summaries)
    stored = cli.store.get(ids[0]).data
    assert str(target / "data") in json.dumps(stored)

    # Installing again overwrites the examples (here with identical content, so no new version) ...
    assert cli("examples", "install", "--target", str(target)) == 0
    assert all(f"installed example {i} as version 1" in cli.out for i in ids)
    # ... and a new target changes the paths inside them: a new version.
    assert cli("examples", "install", "--target", str(tmp_path / "elsewhere")) == 0
    assert all(f"installed example {i} as version 2" in cli.out for i in ids)


def test_examples_install_default_target(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    assert cli("examples", "install") == 0
    assert (tmp_path / "home" / "logidata" / "data" / "examples" / "data" / "orders.csv").is_file()


# ------------------------------------------------------------------------------------------ usage


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["restore", "p1", "one"],
        ["show"],
        ["validate"],
        ["examples"],
        ["list", "--bogus"],
    ],
)
def test_usage_errors_exit_2(cli: Cli, argv: list[str]) -> None:
    assert cli(*argv, store=False) == 2
    assert "usage:" in cli.err


def test_help_exits_0(cli: Cli) -> None:
    assert cli("--help", store=False) == 0
    for command in ("validate", "list", "show", "import", "export", "history", "restore", "delete"):
        assert command in cli.out
    assert cli("import", "--help", store=False) == 0
    assert "--force" in cli.out


def test_import_refuses_an_active_pipeline_whose_columns_do_not_exist(cli: Cli, tmp_path: Path) -> None:
    """As the builder's save: an active pipeline must run as written; a draft is stored anyway."""
    source = tmp_path / "in.csv"
    source.write_text("id,amount\n1,2\n")
    data = {
        "spec_version": 1,
        "id": "cols",
        "nodes": [
            {"id": "src", "module": "source.file", "config": {"path": str(source)}},
            {"id": "keep", "module": "filter_rows", "label": "Keep", "config": {"condition": "amout > 0"}},
            {"id": "dst", "module": "destination.file", "config": {"path": str(tmp_path / "o.parquet")}},
        ],
        "edges": [{"source": "src", "target": "keep"}, {"source": "keep", "target": "dst"}],
    }
    bad = write(tmp_path / "bad.json", data)
    assert cli("--pipelines-path", str(tmp_path / "store"), "import", str(bad)) == 1
    assert "'Keep' (filter_rows keep) > Condition: " in cli.err and "did you mean 'amount'" in cli.err
    assert "not imported" in cli.err
    draft = write(tmp_path / "draft.json", {**data, "status": "draft"})
    assert cli("--pipelines-path", str(tmp_path / "store"), "import", str(draft)) == 0
