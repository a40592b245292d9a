"""The ELT builders are written against ``SqlDialect``; PostgreSQL's SQL lives in its dialect file only.

A second warehouse must be one more dialect file: these tests keep PostgreSQL's spelling out of the
modules' files (their code, not their prose) and check that what the planner refuses is asked of the
dialect. The builders' results against a real PostgreSQL are the ELT parity suite's
(``tests/integration/test_elt_parity.py``).
"""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import pytest

from airflow_provider_logidata.engine.dialects import DIALECTS, dialect
from airflow_provider_logidata.engine.dialects.base import SqlDialect
from airflow_provider_logidata.engine.dialects.postgres import PostgresDialect
from airflow_provider_logidata.modules.registry import registry

TRANSFORMS = Path(__file__).parents[3] / "airflow_provider_logidata" / "modules" / "transforms"

# What only PostgreSQL's SQL (or its driver) says; each has a dialect method or attribute instead.
POSTGRES_ONLY = (
    "pg_temp",  # ctx.function, ctx.temp_table
    "COLLATE",  # d.ordered
    "psycopg",  # ctx.probe, ctx.rows, ctx.describe
    "pg_error",
    "pg_connect",
    "jsonb",  # d.keyed_lookup
    "plpgsql",  # d.try_cast, d.strptime, d.double_to_decimal
    "double precision",  # d.double
    "time zone",  # d.timestamp, d.utc
    "percentile_cont",  # d.median
    "TEMPORARY TABLE",  # ctx.temp_table
    "bool_and",  # d.boolean_min_max
    "string_agg",  # d.title_case
    "regexp_matches",
    "to_postgres",  # d.translate
    "PostgreSQL",  # d.label, in messages
)


def _code(path: Path) -> str:
    """The file's code without comments and docstrings (prose may name PostgreSQL)."""
    kept: list[str] = []
    previous = tokenize.NEWLINE
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if token.type == tokenize.COMMENT:
            continue
        docstring = token.type == tokenize.STRING and previous in (tokenize.NEWLINE, tokenize.INDENT)
        if token.type not in (tokenize.NL, tokenize.DEDENT):
            previous = token.type if token.type != tokenize.STRING or docstring else tokenize.OP
        if not docstring:
            kept.append(token.string)
    return " ".join(kept)


def test_the_code_reader_drops_prose_and_keeps_sql() -> None:
    """The scan below would pass vacuously if ``_code`` dropped every string."""
    code = _code(TRANSFORMS / "fill_nulls.py")
    assert "coalesce(" in code and "SELECT" in code
    assert "PostgreSQL's float8-to-numeric cast" not in code  # a docstring


@pytest.mark.parametrize("path", sorted(TRANSFORMS.glob("*.py")), ids=lambda p: p.name)
def test_module_files_write_no_postgresql(path: Path) -> None:
    code = _code(path)
    found = [word for word in POSTGRES_ONLY if word in code]
    assert not found, f"{path.name} spells {found}: ask ctx.dialect (engine/dialects/base.py) instead"


def test_every_builtin_elt_builder_is_named_and_declared_once() -> None:
    built = {d.name for d in registry() if d.category == "transform" and d.elt is not None}
    assert built == {
        "aggregate",
        "clean_text",
        "deduplicate",
        "derive_column",
        "fill_nulls",
        "filter_rows",
        "join",
        "map_values",
        "parse_dates",
        "quality_check",
        "route",
        "select_columns",
        "sort",
        "union",
    }
    for name in built:
        source = (TRANSFORMS / f"{name}.py").read_text()
        assert "def build_elt(" in source, name


def test_dialects_by_name() -> None:
    postgres = dialect("postgres")
    assert isinstance(postgres, PostgresDialect) and postgres.sqlglot == "postgres"
    assert dialect("postgres") is postgres
    assert set(DIALECTS) == {"postgres"}
    with pytest.raises(ValueError, match=r"no ELT dialect 'snowflake'; known: postgres"):
        dialect("snowflake")


def test_a_dialect_must_implement_everything_the_builders_ask() -> None:
    class Partial(SqlDialect):
        name = "partial"

    with pytest.raises(TypeError, match="abstract"):
        Partial()  # type: ignore[abstract]


class _Warehouse(PostgresDialect):
    """Another database, as far as what it can run as DuckDB does is concerned."""

    name = "warehouse"
    label = "Warehouse"
    re2 = True

    def strptime_refusal(self, formats: list[str]) -> str | None:
        return "Warehouse reads no strptime format"

    def expression_refusal(self, expression: str, what: str) -> str | None:
        return f"{what} is not for Warehouse" if "random" in expression else None


@pytest.mark.parametrize(
    ("module", "config", "postgres", "warehouse"),
    [
        ("quality_check", {"checks": [{"type": "regex", "column": "a", "pattern": "^x"}]}, "RE2", None),
        ("parse_dates", {"columns": ["d"], "formats": ["%Y-%m-%d"]}, None, "no strptime"),
        ("parse_dates", {"columns": ["d"], "formats": ["%G"]}, "ISO year", "no strptime"),
        ("filter_rows", {"condition": "random() < 0.5"}, None, "not for Warehouse"),
        ("filter_rows", {"condition": "TRY_CAST(a AS INTEGER) > 1"}, "TRY_CAST", None),
        ("route", {"condition": "TRY_CAST(a AS INTEGER) > 1"}, "TRY_CAST", None),
        ("derive_column", {"columns": [{"name": "r", "expression": "random()"}]}, None, "not for Warehouse"),
    ],
)
def test_what_runs_inside_the_database_is_the_dialects_call(
    module: str, config: dict[str, object], postgres: str | None, warehouse: str | None
) -> None:
    """Each refusal comes from the dialect asked: the same config is refused by one and not the other.
    (route had no refusal before: a TRY_CAST in its condition became a failing CAST in PostgreSQL.)"""
    definition = registry()[module]
    assert definition.elt_refusal is not None
    model = definition.config_model.model_validate(config)
    for asked, expected in ((dialect("postgres"), postgres), (_Warehouse(), warehouse)):
        reason = definition.elt_refusal(model, asked)
        assert (reason is None) == (expected is None), (asked.name, reason)
        assert expected is None or expected in str(reason)
