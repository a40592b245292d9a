"""``logidata examples install``: the example data on disk and the example pipelines in the store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_logidata.cli.common import CliError, author, open_store, out

if TYPE_CHECKING:
    import argparse


def cmd_examples_install(args: argparse.Namespace) -> int:
    from airflow_provider_logidata import settings
    from airflow_provider_logidata.examples import install_examples

    # Under the default data folder, so the example pipelines pass the path policy ([logidata] allowed_paths).
    target = Path(args.target) if args.target else Path(settings.data_path()) / "examples"
    try:
        pipelines = install_examples(target)
    except OSError as exc:
        raise CliError(f"cannot install the example data into {target}: {exc.strerror or exc}") from exc
    store = open_store(args)
    saved_by = author()
    for data in pipelines:
        pipeline_id = str(data.get("id"))
        stored = store.save(data, expected_etag=store.current_etag(pipeline_id), author=saved_by)
        out(f"installed example {stored.id} as version {stored.version}")
    out(f"example data in {target / 'data'}, outputs go to {target / 'output'}")
    out(f"pipelines stored in {store.root}")
    return 0
