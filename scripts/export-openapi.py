#!/usr/bin/env python3
"""Write the builder API's OpenAPI document to ui/openapi.json (sorted keys, so diffs stay small).

The UI generates its TypeScript types from that file (`cd ui && npm run typegen`). `--check` exits 1
when the committed file is stale instead of writing it.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "ui" / "openapi.json"


def render() -> str:
    # Airflow's own imports warn about their dependencies (httpx, ...); nothing to act on here.
    warnings.simplefilter("ignore")
    from airflow_provider_logidata.api.app import openapi_document

    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=TARGET, help=f"default: {TARGET}")
    parser.add_argument("--check", action="store_true", help="fail when the file differs, write nothing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run scripts/export-openapi.py", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
