"""The commands on stored pipelines: validate, list, show, import, export, history, restore, delete.

Nothing heavy at module level (the parser imports this file for ``logidata --help``); each command
imports what it needs.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from airflow_provider_logidata.cli.common import (
    PROG,
    CliError,
    author,
    dump,
    err,
    open_store,
    out,
    table,
    warn_pack_errors,
    write_output,
)

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from airflow_provider_logidata.schema.sources import Reach
    from airflow_provider_logidata.spec import SpecIssue
    from airflow_provider_logidata.store import PipelineStore


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


def cmd_validate(args: argparse.Namespace) -> int:
    """Structure, then every node's columns and SQL: local files are read to learn their columns;
    ``--connect`` also reads PostgreSQL tables, object storage and HTTP APIs through their connections."""
    from airflow_provider_logidata.schema.check import check_pipeline
    from airflow_provider_logidata.schema.messages import describe

    warn_pack_errors()
    reach: Reach = "all" if args.connect else "none" if args.no_sources else "local"
    invalid = 0
    for file in args.files:
        data, read_error, json_error = _read_pipeline_file(file)
        if read_error:
            invalid += 1
            err(f"{file}: {read_error}")
            continue
        if json_error:
            invalid += 1
            out(f"{file}: {json_error}")
            continue
        try:
            result = check_pipeline(data, reach=reach)
        except Exception as exc:  # a validator bug on odd input fails this file, not the others
            invalid += 1
            err(f"{file}: validation failed: {type(exc).__name__}: {exc}")
            continue
        for issue in result.errors:
            print(f"{file}: {describe(issue, data)}", file=sys.stdout)
        for issue in result.warnings:  # a source not readable here may be readable where the DAG runs
            print(f"{file}: {describe(issue, data)}", file=sys.stderr)
        if result.errors:
            invalid += 1
        else:
            status = data.get("status", "active") if isinstance(data, dict) else "active"
            out(f"OK {file}" + (" (draft)" if status == "draft" else ""))
    if invalid:
        err(f"{invalid} of {len(args.files)} file(s) invalid")
        return 1
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = open_store(args)
    summaries = store.list()
    if args.json:
        sys.stdout.write(dump([summary.to_dict() for summary in summaries]))
        return 0
    if not summaries:
        err(f"no pipelines in {store.root}")
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
    out(table(["ID", "STATUS", "VERSION", "VALID", "NAME"], rows))
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
    store = open_store(args)
    data, description = _version_data(store, args.id, args.version)
    sys.stdout.write(dump(data))
    err(f"pipeline {args.id} {description} ({store.location(args.id)})")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from airflow_provider_logidata.spec import SpecValidationError
    from airflow_provider_logidata.store import ConflictError, StoreError

    data, read_error, json_error = _read_pipeline_file(args.file)
    if read_error or json_error:
        raise CliError(f"{args.file}: {read_error or json_error}; nothing was imported")
    if not isinstance(data, dict):
        raise CliError(f"{args.file}: a pipeline must be a JSON object, found {type(data).__name__}")
    _runnable_if_active(args.file, data, "all" if args.connect else "local")
    store = open_store(args)
    try:
        if args.force:
            from airflow_provider_logidata.store import check_pipeline_id

            etag = store.current_etag(check_pipeline_id(data.get("id")))
            stored = store.save(data, expected_etag=etag, author=author(), message=args.message)
        else:
            stored = store.save(data, expected_etag=None, author=author(), message=args.message)
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
    out(f"imported {stored.id} as version {stored.version}")
    return 0


def _runnable_if_active(file: str, data: dict[str, Any], reach: Reach) -> None:
    """An active pipeline is imported only when its columns and SQL check out against the sources this
    machine reaches (local files; ``--connect``: every source), as the builder's save refuses it."""
    from airflow_provider_logidata.schema.check import check_pipeline
    from airflow_provider_logidata.schema.messages import describe
    from airflow_provider_logidata.spec import validate_pipeline

    if data.get("status", "active") == "draft" or not validate_pipeline(data).ok:
        return  # a draft is stored as it is; the store refuses a broken structure with its own message
    result = check_pipeline(data, reach=reach, lineage=False)
    for issue in result.warnings:
        print(f"{file}: {describe(issue, data)}", file=sys.stderr)
    if result.errors:
        for issue in result.errors:
            print(f"{file}: {describe(issue, data)}", file=sys.stderr)
        raise CliError(
            f"{file}: pipeline {data.get('id')} does not run as written and was not imported "
            '(set "status": "draft" to store it anyway)'
        )


def cmd_export(args: argparse.Namespace) -> int:
    store = open_store(args)
    data, _ = _version_data(store, args.id, args.version)
    write_output(dump(data), args.output, f"pipeline {args.id}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    store = open_store(args)
    infos = store.history(args.id)
    if args.json:
        sys.stdout.write(dump([info.to_dict() for info in infos]))
        return 0
    rows = [
        [
            str(info.version),
            info.saved_at.strftime("%Y-%m-%d %H:%M:%S UTC") if info.saved_at else "?",
            info.author or "-",
            info.etag,
            info.status,
            info.message or "",
        ]
        for info in infos
    ]
    out(table(["VERSION", "SAVED_AT", "AUTHOR", "ETAG", "STATUS", "MESSAGE"], rows))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from airflow_provider_logidata.spec.diff import diff_text

    new, diff = open_store(args).diff(args.id, args.old, args.new)
    if args.json:
        changes = [change.to_dict() for change in diff.changes]
        sys.stdout.write(dump({"from_version": args.old, "to_version": new, "changes": changes}))
        return 0
    out(f"{args.id}: version {args.old} → {new}")
    out(diff_text(diff))
    return 0


def cmd_deleted(args: argparse.Namespace) -> int:
    store = open_store(args)
    items = store.deleted()
    if args.json:
        sys.stdout.write(dump([item.to_dict() for item in items]))
        return 0
    rows = [
        [
            item.id,
            item.name or "",
            str(item.last_version),
            item.deleted_at.strftime("%Y-%m-%d %H:%M:%S UTC") if item.deleted_at else "?",
        ]
        for item in items
    ]
    out(table(["ID", "NAME", "LAST_VERSION", "DELETED_AT"], rows))
    if items:
        out(f"bring one back with: {PROG} restore <id> <last_version>")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    store = open_store(args)
    etag = store.current_etag(args.id)
    stored = store.restore(args.id, args.version, expected_etag=etag, author=author(), message=args.message)
    out(f"restored {args.id} version {args.version} as version {stored.version}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from airflow_provider_logidata.store import PipelineNotFound

    store = open_store(args)
    etag = store.current_etag(args.id)
    if etag is None:
        raise PipelineNotFound(f"pipeline {args.id!r} not found in {store.root}", pipeline_id=args.id)
    store.delete(args.id, expected_etag=etag)
    last = store.history(args.id)[0].version
    trash = store.trash(args.id)
    where = f" (moved to {trash[-1]})" if trash else ""
    out(f"deleted {args.id}{where}; undo with: {PROG} restore {args.id} {last}")
    return 0
