"""Which DuckDB SQL a pushed-down step cannot run inside PostgreSQL with the same result.

Asked by the ELT planner (``dag_factory.elt_plan``, through ``ModuleDef.elt_refusal``) while the DAG
processor parses, so it is a light text check, not a parse: a step whose expression uses such a function
runs in the ETL engine instead, where it means what the user wrote. A run never finds out too late.
"""

from __future__ import annotations

import re

# DuckDB functions sqlglot writes for PostgreSQL with another meaning: TRY_CAST becomes a CAST that fails
# where DuckDB gives null (and DuckDB rounds '2.5' to 3 as an integer).
_DUCKDB_ONLY = re.compile(r"\b(try_cast)\s*\(", re.IGNORECASE)
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


def duckdb_only(expression: str, what: str) -> str | None:
    """Why ``expression`` (DuckDB SQL, named ``what`` in the message) stays in the ETL engine, or None."""
    found = _DUCKDB_ONLY.search(_QUOTED.sub("''", expression))
    if found is None:
        return None
    name = found.group(1).upper()
    return f"{what} uses {name}, which PostgreSQL has no exact form of, so it runs in the engine"
