"""The ``logidata`` command: validate, import, export and manage stored pipelines.

Nothing heavy is imported at module level (no Airflow, no pydantic) so ``logidata --help`` is instant;
each command imports what it needs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow_provider_logidata.spec import SpecIssue
    from airflow_provider_logidata.store import PipelineStore

PROG = "logidata"


class CliError(Exception):
    """An expected failure: printed as one message on stderr, exit code 1."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------------------------------ helpers


def _print(text: str, stream: Any) -> None:
    """Print even text the terminal's encoding cannot show (e.g. a lone surrogate from a JSON escape)."""
    try:
        print(text, file=stream)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "utf-8"
        print(text.encode(encoding, "backslashreplace").decode(encoding, "replace"), file=stream)


def _out(text: str = "") -> None:
    _print(text, sys.stdout)


def _err(text: str) -> None:
    _print(text, sys.stderr)


def _store(args: argparse.Namespace) -> PipelineStore:
    from airflow_provider_logidata.store import PipelineStore

    return PipelineStore(args.pipelines_path)


def _author() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user name in this environment (e.g. a container without passwd entry)
        return None


def _dump(data: Any) -> str:
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only an escaped form is valid UTF-8
        text = json.dumps(data, indent=2, ensure_ascii=True) + "\n"
    return text


def _write_output(text: str, output: str | None, what: str) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {what} to {output}: {exc.strerror or exc}") from exc
    _err(f"wrote {what} to {output}")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [headers, *rows]:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


def _read_pipeline_file(file: str) -> tuple[Any, str | None, str | None]:
    """Read and decode a pipeline file: (data, read error, JSON error).

    At most ``[logidata] max_pipeline_bytes`` (+1) are read, so a huge file or a device never fills
    memory; decoding is bounded (security/jsonsafe.py), so no input ends in a traceback.
    """
    from airflow_provider_logidata import settings
    from airflow_provider_logidata.spec import load_json

    limit = settings.max_pipeline_bytes()
    try:
        if file == "-":
            content = sys.stdin.buffer.read(limit + 1)
        else:
            with open(file, "rb") as handle:
                content = handle.read(limit + 1)
    except OSError as exc:
        return None, f"cannot read the file: {exc.strerror or exc}", None
    if len(content) > limit:
        return (
            None,
            f"the file is larger than {limit:,} bytes, the most a pipeline may have "
            "([logidata] max_pipeline_bytes); nothing was read further",
            None,
        )
    if not content.strip():
        return None, None, "the file is empty: a pipeline is one JSON object"
    data, issue = load_json(content)
    if issue is not None:
        return None, None, issue.message
    return data, None, None


def _print_issues(label: str, issues: Sequence[SpecIssue], stream: Any) -> None:
    for issue in issues:
        print(f"{label}: {issue}", file=stream)


# ------------------------------------------------------------------------------------------ commands


def cmd_validate(args: argparse.Namespace) -> int:
    from airflow_provider_logidata.spec import validate_pipeline

    invalid = 0
    for file in args.files:
        data, read_error, json_error = _read_pipeline_file(file)
        if read_error:
            invalid += 1
            _err(f"{file}: {read_error}")
            continue
        if json_error:
            invalid += 1
            _out(f"{file}: {json_error}")
            continue
        try:
            issues = validate_pipeline(data).issues
        except Exception as exc:  # a validator bug on odd input fails this file, not the others
            invalid += 1
            _err(f"{file}: validation failed: {type(exc).__name__}: {exc}")
            continue
        if issues:
            invalid += 1
            _print_issues(file, issues, sys.stdout)
        else:
            status = data.get("status", "active") if isinstance(data, dict) else "active"
            _out(f"OK {file}" + (" (draft)" if status == "draft" else ""))
    if invalid:
        _err(f"{invalid} of {len(args.files)} file(s) invalid")
        return 1
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args)
    summaries = store.list()
    if args.json:
        sys.stdout.write(_dump([summary.to_dict() for summary in summaries]))
        return 0
    if not summaries:
        _err(f"no pipelines in {store.root}")
        return 0
    rows = [
        [
            s.id,
            s.status,
            str(s.version),
            "yes" if s.valid else f"no ({s.error_count} error{'s' if s.error_count != 1 else ''})",
            s.name,
        ]
        for s in summaries
    ]
    _out(_table(["ID", "STATUS", "VERSION", "VALID", "NAME"], rows))
    return 0


def _version_data(store: PipelineStore, pipeline_id: str, version: int | None) -> tuple[dict[str, Any], str]:
    """Data of the current or a given version, plus a 'version N etag E' description."""
    if version is None:
        stored = store.get(pipeline_id)
        return stored.data, f"version {stored.version} etag {stored.etag}"
    data = store.get_version(pipeline_id, version)
    etag = next((info.etag for info in store.history(pipeline_id) if info.version == version), "?")
    return data, f"version {version} etag {etag}"


def cmd_show(args: argparse.Namespace) -> int:
    store = _store(args)
    data, description = _version_data(store, args.id, args.version)
    sys.stdout.write(_dump(data))
    _err(f"pipeline {args.id} {description} ({store.location(args.id)})")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from airflow_provider_logidata.spec import SpecValidationError
    from airflow_provider_logidata.store import ConflictError, StoreError

    data, read_error, json_error = _read_pipeline_file(args.file)
    if read_error or json_error:
        raise CliError(f"{args.file}: {read_error or json_error}; nothing was imported")
    if not isinstance(data, dict):
        raise CliError(f"{args.file}: a pipeline must be a JSON object, found {type(data).__name__}")
    store = _store(args)
    try:
        if args.force:
            from airflow_provider_logidata.store import check_pipeline_id

            etag = store.current_etag(check_pipeline_id(data.get("id")))
            stored = store.save(data, expected_etag=etag, author=_author())
        else:
            stored = store.save(data, expected_etag=None, author=_author())
    except ConflictError as exc:
        if args.force:  # changed between reading the etag and saving: someone else is writing it
            raise CliError(f"{args.file}: {exc}") from exc
        version = f" (version {exc.current.version})" if exc.current is not None else ""
        raise CliError(
            f"{args.file}: pipeline {exc.pipeline_id} already exists in {store.root}{version}; "
            "use --force to save this file as its new version"
        ) from exc
    except StoreError as exc:
        raise CliError(f"{args.file}: {exc}") from exc
    except SpecValidationError as exc:
        _print_issues(args.file, exc.issues, sys.stderr)
        raise CliError(
            f"{args.file}: pipeline {exc.pipeline_id} is invalid and was not imported "
            '(set "status": "draft" to store it anyway)'
        ) from exc
    _out(f"imported {stored.id} as version {stored.version}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store = _store(args)
    data, _ = _version_data(store, args.id, args.version)
    _write_output(_dump(data), args.output, f"pipeline {args.id}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    store = _store(args)
    infos = store.history(args.id)
    if args.json:
        sys.stdout.write(_dump([info.to_dict() for info in infos]))
        return 0
    rows = [
        [
            str(info.version),
            info.saved_at.strftime("%Y-%m-%d %H:%M:%S UTC") if info.saved_at else "?",
            info.author or "-",
            info.etag,
            info.status,
        ]
        for info in infos
    ]
    _out(_table(["VERSION", "SAVED_AT", "AUTHOR", "ETAG", "STATUS"], rows))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    store = _store(args)
    etag = store.current_etag(args.id)
    stored = store.restore(args.id, args.version, expected_etag=etag, author=_author())
    _out(f"restored {args.id} version {args.version} as version {stored.version}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from airflow_provider_logidata.store import PipelineNotFound

    store = _store(args)
    etag = store.current_etag(args.id)
    if etag is None:
        raise PipelineNotFound(f"pipeline {args.id!r} not found in {store.root}", pipeline_id=args.id)
    store.delete(args.id, expected_etag=etag)
    last = store.history(args.id)[0].version
    trash = store.trash(args.id)
    where = f" (moved to {trash[-1]})" if trash else ""
    _out(f"deleted {args.id}{where}; undo with: {PROG} restore {args.id} {last}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    try:
        from airflow_provider_logidata.spec.schema import pipeline_json_schema
    except ImportError as exc:
        raise CliError(f"the pipeline JSON Schema is not available in this installation: {exc}") from exc
    _write_output(_dump(pipeline_json_schema()), args.output, "the pipeline JSON Schema")
    return 0


def _issue_text(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    from airflow_provider_logidata.spec import SpecIssue

    def text(key: str) -> str | None:
        value = error.get(key)
        return None if value is None else str(value)

    return str(SpecIssue(text("path") or "", text("message") or "?", text("found"), text("allowed")))


def cmd_report(args: argparse.Namespace) -> int:
    from airflow_provider_logidata import settings

    path = Path(args.path or settings.report_path())
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise CliError(
            f"no DAG factory report at {path} yet: it is written when Airflow's DAG processor first parses "
            "the LogiData DAG file (check that the provider's DAG file is in the dags folder)"
        ) from None
    except OSError as exc:
        raise CliError(f"cannot read the DAG factory report {path}: {exc.strerror or exc}") from exc
    from airflow_provider_logidata.security import jsonsafe

    try:
        report = jsonsafe.loads(content)
    except ValueError as exc:
        raise CliError(f"the DAG factory report {path} is not valid JSON: {exc}") from exc
    pipelines = report.get("pipelines") if isinstance(report, dict) else None
    if not isinstance(pipelines, list):
        raise CliError(f"the DAG factory report {path} has no 'pipelines' list")

    _out(f"DAG factory report generated at {report.get('generated_at', '?')} ({path})")
    counts: dict[str, int] = {}
    rows = []
    details: dict[int, list[str]] = {}
    for entry in pipelines:
        if not isinstance(entry, dict):
            continue
        status = str(entry.get("status", "?"))
        counts[status] = counts.get(status, 0) + 1
        rows.append([status, str(entry.get("id", "?")), str(entry.get("location", ""))])
        errors = entry.get("errors") or []
        if isinstance(errors, list) and errors:
            details[len(rows) - 1] = [_issue_text(error) for error in errors]
    if rows:
        lines = _table(["STATUS", "ID", "LOCATION"], rows).splitlines()
        _out(lines[0])
        for i, line in enumerate(lines[1:]):
            _out(line)
            for detail in details.get(i, []):
                _out(f"    - {detail}")
    errors_count = counts.get("error", 0)
    _out(
        f"{len(rows)} pipeline(s): {counts.get('loaded', 0)} loaded, {counts.get('draft', 0)} draft(s), "
        f"{errors_count} with errors"
    )
    if errors_count:
        _err(f"{errors_count} pipeline(s) failed to load")
        return 1
    return 0


def cmd_examples_install(args: argparse.Namespace) -> int:
    from airflow_provider_logidata import settings
    from airflow_provider_logidata.examples import install_examples

    # Under the default data folder, so the example pipelines pass the path policy ([logidata] allowed_paths).
    target = Path(args.target) if args.target else Path(settings.data_path()) / "examples"
    try:
        pipelines = install_examples(target)
    except OSError as exc:
        raise CliError(f"cannot install the example data into {target}: {exc.strerror or exc}") from exc
    store = _store(args)
    author = _author()
    for data in pipelines:
        pipeline_id = str(data.get("id"))
        stored = store.save(data, expected_etag=store.current_etag(pipeline_id), author=author)
        _out(f"installed example {stored.id} as version {stored.version}")
    _out(f"example data in {target / 'data'}, outputs go to {target / 'output'}")
    _out(f"pipelines stored in {store.root}")
    return 0


# ------------------------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Manage LogiData pipelines (JSON files that become Airflow DAGs)."
    )
    parser.add_argument(
        "--pipelines-path",
        metavar="PATH",
        default=None,
        help="folder or object-storage URI of the pipelines (default: [logidata] pipelines_path)",
    )
    # Also accepted after the sub-command; SUPPRESS keeps the global value when not given there.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--pipelines-path", metavar="PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        command.set_defaults(func=func)
        return command

    p = add("validate", cmd_validate, "check pipeline files without storing them")
    p.add_argument("files", nargs="+", metavar="FILE", help="pipeline JSON file ('-' for stdin)")

    p = add("list", cmd_list, "list stored pipelines")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = add("show", cmd_show, "print a stored pipeline as JSON")
    p.add_argument("id", metavar="ID")
    p.add_argument("--version", type=int, metavar="N", help="an older version (see 'history')")

    p = add("import", cmd_import, "validate a pipeline file and store it")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--force", action="store_true", help="save over an existing pipeline as a new version")

    p = add("export", cmd_export, "write a stored pipeline as JSON")
    p.add_argument("id", metavar="ID")
    p.add_argument("-o", "--output", metavar="FILE", help="file to write (default: stdout)")
    p.add_argument("--version", type=int, metavar="N", help="an older version (see 'history')")

    p = add("history", cmd_history, "list the saved versions of a pipeline, newest first")
    p.add_argument("id", metavar="ID")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = add("restore", cmd_restore, "save an old version of a pipeline as its newest version")
    p.add_argument("id", metavar="ID")
    p.add_argument("version", type=int, metavar="VERSION")

    p = add("delete", cmd_delete, "move a pipeline to the trash (its history is kept)")
    p.add_argument("id", metavar="ID")

    p = add("schema", cmd_schema, "print the JSON Schema of pipeline files")
    p.add_argument("-o", "--output", metavar="FILE", help="file to write (default: stdout)")

    p = add("report", cmd_report, "show what the DAG factory loaded and why pipelines failed")
    p.add_argument("--path", metavar="FILE", help="report file (default: [logidata] report_path)")

    examples = sub.add_parser("examples", help="example pipelines", parents=[common])
    examples_sub = examples.add_subparsers(dest="examples_command", metavar="COMMAND")
    p = examples_sub.add_parser(
        "install",
        help="copy the example data and store the example pipelines",
        description="copy the example data and store the example pipelines",
        parents=[common],
    )
    p.add_argument(
        "--target", metavar="DIR", help="where the data goes (default: $AIRFLOW_HOME/logidata/data/examples)"
    )
    p.set_defaults(func=cmd_examples_install)
    examples.set_defaults(func=None, _help=examples)
    parser.set_defaults(func=None, _help=parser)
    return parser


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    _err(str(code))
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error (argparse already printed it; code 2)
        return _exit_code(exc.code)
    if args.func is None:
        args._help.print_usage(sys.stderr)
        _err(f"{args._help.prog}: error: a command is required (see --help)")
        return 2

    from airflow_provider_logidata.spec.errors import SpecValidationError
    from airflow_provider_logidata.store.errors import StoreError

    try:
        return int(args.func(args))
    except CliError as exc:
        _err(f"{PROG}: error: {exc}")
        return exc.code
    except (StoreError, SpecValidationError) as exc:
        _err(f"{PROG}: error: {exc}")
        return 1
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        _err(f"{PROG}: error: {exc.strerror or exc}{where}")
        return 1
    except KeyboardInterrupt:
        _err(f"{PROG}: interrupted")
        return 130
    except Exception as exc:  # last resort: one line naming the problem, never a traceback
        if os.environ.get("LOGIDATA_DEBUG"):
            raise
        _err(
            f"{PROG}: error: {args.command} failed: {type(exc).__name__}: {exc} "
            "(set LOGIDATA_DEBUG=1 to see the traceback)"
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
