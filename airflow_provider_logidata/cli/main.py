"""The ``logidata`` command: validate, import, export and manage stored pipelines.

This file wires the commands (cli/pipelines.py, cli/reports.py, cli/examples.py) into argparse and turns
failures into one line and an exit code. Nothing heavy is imported at module level (no Airflow, no
pydantic) so ``logidata --help`` is instant; each command imports what it needs.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from airflow_provider_logidata.cli import examples, pipelines, reports, staging
from airflow_provider_logidata.cli.common import PROG, CliError, err

if TYPE_CHECKING:
    from collections.abc import Callable


# ------------------------------------------------------------------------------------------ parser


def _add_command(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    func: Callable[[argparse.Namespace], int],
    help_text: str,
    common: argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    command = group.add_parser(name, help=help_text, description=help_text, parents=[common])
    command.set_defaults(func=func)
    return command


def _add_id(command: argparse.ArgumentParser) -> None:
    command.add_argument("id", metavar="ID")


def _add_json(command: argparse.ArgumentParser) -> None:
    command.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _add_message(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "-m", "--message", metavar="TEXT", help="what changed and why, shown by 'history' (one line)"
    )


def _add_output(command: argparse.ArgumentParser) -> None:
    command.add_argument("-o", "--output", metavar="FILE", help="file to write (default: stdout)")


def _add_version(command: argparse.ArgumentParser) -> None:
    command.add_argument("--version", type=int, metavar="N", help="an older version (see 'history')")


def _needs_command(parser: argparse.ArgumentParser) -> None:
    """Without a sub-command, main() prints this parser's usage and an error (argparse would accept it)."""
    parser.set_defaults(func=None, _help=parser)


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
        return _add_command(sub, name, func, help_text, common)

    p = add("validate", pipelines.cmd_validate, "check pipeline files without storing them")
    p.add_argument("files", nargs="+", metavar="FILE", help="pipeline JSON file ('-' for stdin)")
    reach = p.add_mutually_exclusive_group()
    reach.add_argument(
        "--connect",
        action="store_true",
        help="also read PostgreSQL, object-storage and HTTP sources through their Airflow connections to "
        "check every column (default: local files only)",
    )
    reach.add_argument("--no-sources", action="store_true", help="read no source: check the structure only")

    _add_json(add("list", pipelines.cmd_list, "list stored pipelines"))

    p = add("show", pipelines.cmd_show, "print a stored pipeline as JSON")
    _add_id(p)
    _add_version(p)

    p = add("import", pipelines.cmd_import, "validate a pipeline file and store it")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--force", action="store_true", help="save over an existing pipeline as a new version")
    _add_message(p)
    p.add_argument(
        "--connect",
        action="store_true",
        help="check an active pipeline's columns against every source through its connection (default: "
        "local files only)",
    )

    p = add("export", pipelines.cmd_export, "write a stored pipeline as JSON")
    _add_id(p)
    _add_output(p)
    _add_version(p)

    p = add("history", pipelines.cmd_history, "list the saved versions of a pipeline, newest first")
    _add_id(p)
    _add_json(p)

    p = add("restore", pipelines.cmd_restore, "save an old version of a pipeline as its newest version")
    _add_id(p)
    p.add_argument("version", type=int, metavar="VERSION")
    _add_message(p)

    p = add(
        "diff",
        pipelines.cmd_diff,
        "what changed between two versions of a pipeline (nodes, edges, fields; canvas moves ignored)",
    )
    _add_id(p)
    p.add_argument("old", type=int, metavar="OLD", help="the older version")
    p.add_argument("new", type=int, metavar="NEW", nargs="?", help="the newer version (default: current)")
    _add_json(p)

    _add_json(add("deleted", pipelines.cmd_deleted, "list deleted pipelines that 'restore' can bring back"))

    _add_id(add("delete", pipelines.cmd_delete, "move a pipeline to the trash (its history is kept)"))

    _add_output(add("schema", reports.cmd_schema, "print the JSON Schema of pipeline files"))

    p = add("report", reports.cmd_report, "show what the DAG factory loaded and why pipelines failed")
    p.add_argument("--path", metavar="FILE", help="report file (default: [logidata] report_path)")

    examples_parser = sub.add_parser("examples", help="example pipelines", parents=[common])
    examples_sub = examples_parser.add_subparsers(dest="examples_command", metavar="COMMAND")
    p = _add_command(
        examples_sub,
        "install",
        examples.cmd_examples_install,
        "copy the example data and store the example pipelines",
        common,
    )
    p.add_argument(
        "--target", metavar="DIR", help="where the data goes (default: $AIRFLOW_HOME/logidata/data/examples)"
    )
    _needs_command(examples_parser)

    staging_parser = sub.add_parser(
        "staging", help="the staging area runs hand data through", parents=[common]
    )
    staging_sub = staging_parser.add_subparsers(dest="staging_command", metavar="COMMAND")
    p = _add_command(
        staging_sub,
        "gc",
        staging.cmd_staging_gc,
        "remove the run folders failed or killed runs left, by the age of their newest file",
        common,
    )
    p.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 7d, 12h, 30m, 2w")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    p.add_argument(
        "--staging-path", metavar="URI", help="the staging root (default: [logidata] staging_path)"
    )
    _add_json(p)
    _needs_command(staging_parser)
    _needs_command(parser)
    return parser


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    err(str(code))
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error (argparse already printed it; code 2)
        return _exit_code(exc.code)
    if args.func is None:
        args._help.print_usage(sys.stderr)
        err(f"{args._help.prog}: error: a command is required (see --help)")
        return 2

    from airflow_provider_logidata.spec.errors import SpecValidationError
    from airflow_provider_logidata.store.errors import StoreError

    try:
        return int(args.func(args))
    except CliError as exc:
        err(f"{PROG}: error: {exc}")
        return exc.code
    except (StoreError, SpecValidationError) as exc:
        err(f"{PROG}: error: {exc}")
        return 1
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        err(f"{PROG}: error: {exc.strerror or exc}{where}")
        return 1
    except KeyboardInterrupt:
        err(f"{PROG}: interrupted")
        return 130
    except Exception as exc:  # last resort: one line naming the problem, never a traceback
        if os.environ.get("LOGIDATA_DEBUG"):
            raise
        err(
            f"{PROG}: error: {args.command} failed: {type(exc).__name__}: {exc} "
            "(set LOGIDATA_DEBUG=1 to see the traceback)"
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
