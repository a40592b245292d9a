"""``logidata staging gc``: remove what failed or killed runs left in the staging area."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from airflow_provider_logidata.cli.common import CliError, dump, out

if TYPE_CHECKING:
    import argparse


def cmd_staging_gc(args: argparse.Namespace) -> int:
    from airflow_provider_logidata.engine.staging_gc import collect, parse_age

    try:
        age = parse_age(args.older_than)
    except ValueError as exc:
        raise CliError(f"--older-than: {exc}") from None
    say = None if args.json else out
    try:
        taken = collect(age, root=args.staging_path, dry_run=args.dry_run, say=say)
    except OSError as exc:
        raise CliError(
            f"cannot collect staging under {args.staging_path or '[logidata] staging_path'}: {exc}"
        ) from exc
    if args.json:
        sys.stdout.write(dump({"dry_run": args.dry_run, "runs": [run.to_dict() for run in taken]}))
        return 0
    size = sum(run.bytes for run in taken)
    verb = "would free" if args.dry_run else "freed"
    out(f"{len(taken)} run folder(s) older than {args.older_than}; {verb} {size:,} bytes")
    return 0
