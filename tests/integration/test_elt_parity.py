"""ETL/ELT parity, table-driven: every transform with a PostgreSQL builder, and graphs of them (joins,
unions, chains after them), run once with engine etl (DuckDB over staged Parquet) and once with engine
elt (one SQL statement inside PostgreSQL) over the same awkward seed data; both must write the same
columns, with the same PostgreSQL types, and the same rows (nulls included).

Each case is a pipeline ``source.postgres -> steps -> destination.postgres (mode replace)`` (or a small
graph with two sources); the elt DAG must be the one ``write`` task, whose result says it ran in
PostgreSQL.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from typing import Any

import pytest

pytestmark = pytest.mark.integration

Step = tuple[str, dict[str, Any]]

# NULLs in every column, an exact duplicate row (id 1), key duplicates (id 2), mixed case, unicode and
# white space (NBSP, tab, newline, runs of spaces), an empty string, numbers held as text, NaN.
SEED = """
CREATE TABLE raw (
    id integer, name text, city text, qty integer, big bigint, price numeric(10,2),
    ratio double precision, active boolean, day date, ts timestamp, tstz timestamptz, code text, note text
);
INSERT INTO raw VALUES
 (1, '  Alice   MARTIN ', 'Paris', 3, 10000000000, 10.50, 0.5, true, '2024-01-15',
  '2024-01-15 08:30:00', '2024-01-15 08:30:00+00', '10', 'first'),
 (2, 'bob smith', 'paris', 7, -5, 7.25, -1.25, false, '2023-12-31',
  '2023-12-31 23:59:59.123456', '2023-12-31 23:59:59.5+02', ' 12 ', ''),
 (1, '  Alice   MARTIN ', 'Paris', 3, 10000000000, 10.50, 0.5, true, '2024-01-15',
  '2024-01-15 08:30:00', '2024-01-15 08:30:00+00', '10', 'first'),
 (3, NULL, 'BERLIN', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, E' Zo\u00eb\u00a0 \u00c9LAN ', 'Z\u00fcrich', 0, 0, 0.00, 0, true, '2000-02-29',
  '2000-02-29 12:00:00', '2000-02-29 12:00:00-05', '2.5', '\u00fcmlaut'),
 (5, '\u00c9COLE \u00e9lan', 'z\u00fcrich', 12, 42, 99999999.99, 1e10, false, '1999-12-31',
  '1999-12-31 00:00:00', '1999-12-31 00:00:00+00', 'abc', NULL),
 (6, '', NULL, 5, 7, -3.10, 2.5, NULL, '2024-02-01', NULL, '2024-02-01 10:00:00+00', '-3', 'x'),
 (NULL, 'ghost', 'Berlin', 2, 1, 1.00, NULL, true, NULL, '2024-03-01 00:00:00', NULL, '', 'nobody'),
 (2, 'Bob  Smith', 'Paris', 7, -5, 7.25, 3.75, true, '2024-01-15',
  '2024-01-01 00:00:00', '2024-01-01 00:00:00+00', '12', 'second bob'),
 (7, E'tab\\there\\nnewline', 'Paris', 4, 2, 2.50, -0.5, false, '2024-06-30',
  '2024-06-30 18:45:00', '2024-06-30 18:45:00+00', '007', 'tabs'),
 (8, 'stra\u00dfe \u01c6 \ufb01 \u0130 \u01c5x', 'BERLIN', 1, 3, 0.01, 'NaN', true, '2024-01-15',
  '2024-01-15 08:30:00', '2024-01-15 08:30:00+00', '1e3', NULL),
 (9, 'eve', 'Berlin', 5, 4, 4.00, 2.5, false, '2023-05-05',
  '2023-05-05 05:05:05', '2023-05-05 05:05:05+00', '2.5', 'eve');
CREATE TABLE cities (city text, country text, pop integer, since date);
INSERT INTO cities VALUES
 ('Paris', 'FR', 2100000, '1900-01-01'), ('paris', 'fr', 1, NULL), ('BERLIN', 'DE', 3600000, '1990-10-03'),
 ('Berlin', 'DE', 3600000, '1990-10-03'), ('Z\u00fcrich', 'CH', 420000, NULL), (NULL, 'XX', NULL, NULL),
 ('Paris', 'FR-bis', 5, '2000-01-01'), ('Rome', 'IT', 2800000, '1871-02-03');
CREATE TABLE more (ID integer, name text, city text, qty bigint, price numeric(12,3), code integer);
INSERT INTO more VALUES
 (1, '  Alice   MARTIN ', 'Paris', 3, 10.500, 10), (10, 'new  one', 'Lyon', NULL, 1.125, NULL),
 (NULL, NULL, NULL, NULL, NULL, NULL), (11, '', 'paris', 9, -2.000, -7), (10, 'new  one', 'Lyon', NULL, 1.125, NULL);
"""


def chain(*steps: Step) -> list[Step]:
    return list(steps)


# --- one module at a time (each after source.postgres 'raw', before destination.postgres) --------------

MODULE_CASES = [
    # aggregate
    pytest.param(
        chain(
            (
                "aggregate",
                {
                    "group_by": ["city"],
                    "aggregations": [
                        {"function": "count"},
                        {"column": "name", "function": "count"},
                        {"column": "name", "function": "count_distinct"},
                        {"column": "qty", "function": "sum"},
                        {"column": "big", "function": "sum"},
                        {"column": "price", "function": "sum"},
                        {"column": "qty", "function": "avg"},
                        {"column": "price", "function": "avg"},
                        {"column": "name", "function": "min"},
                        {"column": "note", "function": "max"},
                        {"column": "day", "function": "max"},
                        {"column": "ts", "function": "min"},
                        {"column": "tstz", "function": "max"},
                        {"column": "active", "function": "sum"},
                        {"column": "active", "function": "avg"},
                        {"column": "active", "function": "min"},
                        {"column": "active", "function": "max", "as": "any_active"},
                    ],
                },
            )
        ),
        id="aggregate-by-city-every-function",
    ),
    pytest.param(
        chain(
            (
                "aggregate",
                {
                    "group_by": ["active", "day"],
                    "aggregations": [
                        {"column": "code", "function": "count_distinct", "as": "codes"},
                        {"column": "ratio", "function": "sum"},
                        {"column": "ratio", "function": "min"},
                        {"column": "price", "function": "max"},
                        {"column": "big", "function": "avg"},
                    ],
                },
            )
        ),
        id="aggregate-two-keys-doubles",
    ),
    pytest.param(
        chain(
            (
                "aggregate",
                {
                    "aggregations": [
                        {"function": "count", "as": "rows"},
                        {"column": "city", "function": "count_distinct"},
                        {"column": "price", "function": "sum"},
                        {"column": "city", "function": "min"},
                        {"column": "city", "function": "max"},
                        {"column": "day", "function": "min"},
                    ]
                },
            )
        ),
        id="aggregate-whole-input",
    ),
    pytest.param(chain(("aggregate", {"group_by": ["city", "active"]})), id="aggregate-keys-only"),
    # clean_text
    pytest.param(chain(("clean_text", {"case": "lower"})), id="clean-all-lower"),
    pytest.param(
        chain(("clean_text", {"columns": ["name", "city", "code"], "case": "title", "empty_as_null": True})),
        id="clean-title-empty-null",
    ),
    pytest.param(
        chain(
            (
                "clean_text",
                {"columns": ["city", "note"], "case": "upper", "trim": False, "collapse_spaces": False},
            )
        ),
        id="clean-upper-only",
    ),
    pytest.param(
        chain(("clean_text", {"columns": ["name"], "case": "upper"})),
        id="clean-upper-sharp-s",
    ),
    pytest.param(chain(("clean_text", {"columns": ["name"], "case": "lower"})), id="clean-lower-dotted-i"),
    pytest.param(chain(("clean_text", {"columns": ["name"], "case": "title"})), id="clean-title-unicode"),
    pytest.param(
        chain(("clean_text", {"columns": ["name"], "collapse_spaces": False, "empty_as_null": True})),
        id="clean-trim-only",
    ),
    pytest.param(
        chain(("clean_text", {"columns": ["name", "note"], "trim": False})), id="clean-collapse-only"
    ),
    # deduplicate
    pytest.param(chain(("deduplicate", {})), id="dedupe-all-columns"),
    pytest.param(chain(("deduplicate", {"columns": ["id"]})), id="dedupe-id-first"),
    pytest.param(
        chain(("deduplicate", {"columns": ["city", "active"], "keep": "last"})), id="dedupe-keys-last"
    ),
    pytest.param(
        chain(
            ("sort", {"by": [{"column": "ts", "descending": True, "nulls": "first"}]}),
            ("deduplicate", {"columns": ["day"], "keep": "last"}),
        ),
        id="dedupe-after-sort",
    ),
    # derive_column
    pytest.param(
        chain(
            (
                "derive_column",
                {
                    "columns": [
                        {"name": "amount", "expression": "qty * price"},
                        {"name": "half", "expression": "ratio / 2"},
                        {"name": "quarter", "expression": "id / 4"},
                        {"name": "whole", "expression": "id // 4"},
                        {"name": "left_over", "expression": "qty % 4"},
                        {"name": "rounded", "expression": "round(price, 1)"},
                        {"name": "bigger", "expression": "big + qty"},
                        {"name": "plus_amount", "expression": "amount + 1"},
                    ]
                },
            )
        ),
        id="derive-numbers",
    ),
    pytest.param(
        chain(
            (
                "derive_column",
                {
                    "columns": [
                        {
                            "name": "cents",
                            "expression": "CAST(CASE WHEN ratio = 'NaN' THEN NULL ELSE ratio * 1.255 END "
                            "AS DECIMAL(18,2))",
                        },
                        {"name": "whole", "expression": "CAST(price * 1.005 AS DECIMAL(10,0))"},
                        {"name": "plain", "expression": "CAST(qty AS DECIMAL(8,2))"},
                    ]
                },
            )
        ),
        id="derive-decimal-casts",
    ),
    pytest.param(
        chain(
            (
                "derive_column",
                {
                    "columns": [
                        {"name": "shout", "expression": "upper(city) || lower(note)"},
                        {"name": "label", "expression": "coalesce(city, '?') || '-' || CAST(id AS VARCHAR)"},
                        {"name": "size", "expression": "length(name)"},
                        {"name": "head", "expression": "substr(name, 1, 3)"},
                        {
                            "name": "kind",
                            "expression": "CASE WHEN qty > 4 THEN 'many' WHEN qty IS NULL "
                            "THEN NULL ELSE 'few' END",
                        },
                        {"name": "name", "expression": "lower(trim(name))"},
                    ]
                },
            )
        ),
        id="derive-text-replace",
    ),
    pytest.param(
        chain(
            (
                "derive_column",
                {
                    "columns": [
                        {"name": "busy", "expression": "qty > 4 AND active"},
                        {"name": "next_day", "expression": "day + 1"},
                        {"name": "year", "expression": "year(day)"},
                        {"name": "month_start", "expression": "date_trunc('month', ts)"},
                        {"name": "ts_day", "expression": "CAST(ts AS DATE)"},
                        {"name": "flag", "expression": "NOT coalesce(active, false)"},
                    ]
                },
            )
        ),
        id="derive-dates-booleans",
    ),
    pytest.param(
        chain(
            (
                "derive_column",
                {
                    "columns": [
                        {"name": "city_qty", "expression": "sum(qty) OVER (PARTITION BY city)"},
                        {
                            "name": "price_rank",
                            "expression": "dense_rank() OVER (ORDER BY price DESC NULLS LAST)",
                        },
                        {"name": "share", "expression": "qty / nullif(city_qty, 0)"},
                    ]
                },
            )
        ),
        id="derive-window",
    ),
    pytest.param(
        chain(("derive_column", {"columns": [{"name": "shout", "expression": "upper(name)"}]})),
        id="derive-upper-sharp-s",
    ),
    pytest.param(
        chain(
            (
                "derive_column",
                {
                    "columns": [
                        {"name": "quiet", "expression": "lower(upper(name)) || upper(coalesce(city, ''))"}
                    ]
                },
            )
        ),
        id="derive-nested-case",
    ),
    # TRY_CAST keeps a step in the ETL engine (modules.pushdown; tests/unit/modules/test_pushdown.py).
    # fill_nulls
    pytest.param(
        chain(
            (
                "fill_nulls",
                {
                    "fills": [
                        {"column": "name", "value": "n/a"},
                        {"column": "qty", "value": 0},
                        {"column": "price", "value": 1.5},
                        {"column": "ratio", "value": -1},
                        {"column": "active", "value": False},
                        {"column": "day", "value": "2000-01-01"},
                        {"column": "ts", "value": "2000-01-01 12:00:00"},
                        {"column": "city", "value": 42},
                    ]
                },
            )
        ),
        id="fill-constants",
    ),
    pytest.param(
        chain(
            (
                "fill_nulls",
                {
                    "fills": [
                        {"column": "qty", "strategy": "mean"},
                        {"column": "price", "strategy": "median"},
                        {"column": "city", "strategy": "mode"},
                        {"column": "day", "strategy": "min"},
                        {"column": "ts", "strategy": "max"},
                        {"column": "big", "strategy": "median"},
                        {"column": "note", "strategy": "mode"},
                        {"column": "note", "value": "none"},
                        {"column": "code", "strategy": "mode"},
                        {"column": "ratio", "strategy": "mode"},
                        {"column": "name", "strategy": "min"},
                        {"column": "tstz", "strategy": "max"},
                    ]
                },
            )
        ),
        id="fill-statistics",
    ),
    pytest.param(
        chain(
            ("filter_rows", {"condition": "id IN (3, 7, 8)"}),
            (
                "fill_nulls",
                {
                    "fills": [
                        {"column": "qty", "strategy": "mean"},
                        {"column": "big", "strategy": "median"},
                        {"column": "ratio", "strategy": "median"},
                        {"column": "active", "strategy": "mode"},
                    ]
                },
            ),
        ),
        id="fill-half-way-statistics",
    ),
    pytest.param(
        chain(
            ("filter_rows", {"condition": "id IN (3, 7, 8)"}),
            ("fill_nulls", {"fills": [{"column": "price", "strategy": "mean"}]}),
        ),
        id="fill-decimal-mean-half-way",
    ),
    # filter_rows
    pytest.param(chain(("filter_rows", {"condition": "qty > 3 OR qty IS NULL"})), id="filter-or-null"),
    pytest.param(
        chain(("filter_rows", {"condition": "upper(name) LIKE '%ẞ%' OR lower(city) = 'zürich'"})),
        id="filter-unicode-case",
    ),
    # text compares by code point in both engines, whatever the database's collation
    pytest.param(
        chain(("filter_rows", {"condition": "city < 'b' OR name BETWEEN 'a' AND 'n' OR code >= 'Z'"})),
        id="filter-text-order",
    ),
    pytest.param(
        chain(
            (
                "derive_column",
                {
                    "columns": [
                        {"name": "late", "expression": "greatest(city, name) > 'a'"},
                        {"name": "top", "expression": "max(city) OVER ()"},
                        {"name": "rank", "expression": "row_number() OVER (ORDER BY city, id)"},
                    ]
                },
            )
        ),
        id="derive-text-order",
    ),
    pytest.param(
        chain(("filter_rows", {"condition": "NOT (city = 'Paris') AND active IS NOT FALSE"})),
        id="filter-not-with-nulls",
    ),
    pytest.param(
        chain(
            (
                "filter_rows",
                {
                    "condition": "(name ILIKE '%a%' OR price BETWEEN 1 AND 10) AND day >= DATE '2000-01-01' "
                    "AND code IN ('10', '-3', '12', ' 12 ', '007') AND ratio IS DISTINCT FROM 3.75"
                },
            )
        ),
        id="filter-like-between-in",
    ),
    pytest.param(
        chain(("filter_rows", {"condition": "note <> '' AND (name IS NULL OR name <> 'eve')"})),
        id="filter-empty-versus-null",
    ),
    pytest.param(
        chain(("filter_rows", {"condition": "ts < TIMESTAMP '2024-01-01 00:00:00' OR length(name) = 0"})),
        id="filter-timestamp-length",
    ),
    # map_values
    pytest.param(
        chain(
            ("map_values", {"column": "city", "mapping": {"Paris": "PAR", "paris": "par", "Zürich": "ZRH"}})
        ),
        id="map-text-keep",
    ),
    pytest.param(
        chain(
            (
                "map_values",
                {
                    "column": "id",
                    "mapping": {"1": "one", "02": "two"},
                    "default": "value",
                    "default_value": "other",
                },
            )
        ),
        id="map-number-to-text-default",
    ),
    pytest.param(
        chain(("map_values", {"column": "qty", "mapping": {"3": "three", "7": "seven"}})),
        id="map-number-keep-as-text",
    ),
    pytest.param(
        chain(
            (
                "map_values",
                {
                    "column": "active",
                    "mapping": {"true": 1, "false": 0.5},
                    "default": "null",
                    "target_column": "w",
                },
            )
        ),
        id="map-boolean-to-numbers-null",
    ),
    pytest.param(
        chain(
            (
                "map_values",
                {
                    "column": "code",
                    "mapping": {**{str(i): i * 10 for i in range(100)}, "abc": None},
                    "default": "value",
                    "default_value": -1,
                    "target_column": "code_n",
                },
            )
        ),
        id="map-large-lookup",
    ),
    pytest.param(
        chain(("map_values", {"column": "day", "mapping": {"2024-01-15": "2025-01-01", "2000-02-29": None}})),
        id="map-dates",
    ),
    # select_columns
    pytest.param(
        chain(
            (
                "select_columns",
                {
                    "columns": [
                        {"name": "id", "cast": "string"},
                        {"name": "code", "rename": "code_int", "cast": "integer"},
                        {"name": "qty", "cast": "float"},
                        {"name": "price", "cast": "float", "rename": "price_f"},
                        {"name": "day", "cast": "timestamp"},
                        {"name": "ts", "cast": "date"},
                        {"name": "active", "cast": "string"},
                    ],
                    "on_error": "null",
                },
            )
        ),
        id="select-casts-renames",
    ),
    pytest.param(
        chain(
            (
                "select_columns",
                {
                    "columns": [
                        {"name": "NOTE", "rename": "remark"},
                        {"name": "code", "cast": "decimal"},
                        {"name": "qty", "cast": "decimal", "rename": "qty_d"},
                        {"name": "price", "cast": "string"},
                        {"name": "day", "cast": "string"},
                    ],
                    "keep_other_columns": True,
                    "on_error": "null",
                },
            )
        ),
        id="select-keep-others-decimal",
    ),
    pytest.param(
        chain(
            ("filter_rows", {"condition": "code IS NULL OR code <> 'abc'"}),
            (
                "select_columns",
                {
                    "columns": [
                        {"name": "code", "cast": "float", "rename": "code_f"},
                        {"name": "note", "cast": "boolean"},
                        {"name": "name", "cast": "date", "rename": "name_day"},
                        {"name": "big", "cast": "integer"},
                    ],
                    "on_error": "null",
                },
            ),
        ),
        id="select-text-casts-null",
    ),
    pytest.param(
        chain(
            (
                "filter_rows",
                {"condition": "code IS NULL OR code IN ('10', ' 12 ', '12', '-3', '007', '2.5')"},
            ),
            (
                "select_columns",
                {
                    "columns": [
                        {"name": "id"},
                        {"name": "code", "cast": "integer"},
                        {"name": "qty", "cast": "string", "rename": "qty_text"},
                        {"name": "tstz"},
                    ]
                },
            ),
        ),
        id="select-casts-on-error-fail",
    ),
    # sort (then a step that depends on the order)
    pytest.param(
        chain(
            (
                "sort",
                {
                    "by": [
                        {"column": "city", "nulls": "first"},
                        {"column": "qty", "descending": True, "nulls": "last"},
                    ]
                },
            ),
            ("deduplicate", {"columns": ["city"]}),
        ),
        id="sort-nulls-first-then-dedupe",
    ),
    pytest.param(
        chain(
            (
                "sort",
                {
                    "by": [
                        {"column": "name", "descending": True, "nulls": "first"},
                        {"column": "ratio", "nulls": "last"},
                    ]
                },
            ),
            ("deduplicate", {"columns": ["active"], "keep": "last"}),
        ),
        id="sort-text-desc-then-dedupe-last",
    ),
    pytest.param(
        chain(
            ("sort", {"by": [{"column": "tstz", "nulls": "last"}, {"column": "price", "descending": True}]}),
            ("filter_rows", {"condition": "price IS NOT NULL"}),
            ("deduplicate", {"columns": ["day"]}),
        ),
        id="sort-then-filter-then-dedupe",
    ),
]


def linear_spec(conn_id: str, steps: list[Step]) -> dict[str, Any]:
    """source 'raw' -> steps -> write, as nodes and edges (without id and engine)."""
    nodes: list[dict[str, Any]] = [
        {"id": "read", "module": "source.postgres", "config": {"conn_id": conn_id, "table": "raw"}}
    ]
    seen: dict[str, int] = {}
    for module, config in steps:
        seen[module] = seen.get(module, 0) + 1
        node_id = module if seen[module] == 1 else f"{module}_{seen[module]}"
        nodes.append({"id": node_id, "module": module, "config": config})
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise([*nodes, {"id": "write"}])]
    return {"nodes": nodes, "edges": edges}


def _normal(value: Any) -> Any:
    """NaN equals NaN for the comparison (Python's NaN never equals itself)."""
    return "NaN" if isinstance(value, float) and math.isnan(value) else value


def run_both(run_pipeline: Any, pg: Any, conn_id: str, case: str, graph: dict[str, Any]) -> dict[str, Any]:
    """Run ``graph`` (nodes and edges before 'write') with engine etl then elt; the two tables' columns,
    types and rows (ordered by every column, nulls first)."""
    results: dict[str, Any] = {}
    for engine in ("etl", "elt"):
        table = f"out_{engine}"
        pid = f"parity_{re.sub(r'[^a-z0-9_]', '_', case)}_{engine}"
        write = {
            "id": "write",
            "module": "destination.postgres",
            "config": {"conn_id": conn_id, "table": table, "mode": "replace"},
        }
        spec = {"id": pid, "engine": engine, "nodes": [*graph["nodes"], write], "edges": graph["edges"]}
        dag_run, dag = run_pipeline(spec)
        states = {t.task_id: str(t.state) for t in dag_run.get_task_instances()}
        assert str(dag_run.state) == "success", (engine, states)
        if engine == "elt":
            assert [t.task_id for t in dag.tasks] == ["write"]
            ti = next(t for t in dag_run.get_task_instances() if t.task_id == "write")
            result = ti.xcom_pull(task_ids="write")
            assert result["engine"] == "elt", result
        types = pg.execute(
            "SELECT column_name, data_type, numeric_precision, numeric_scale, datetime_precision "
            "FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            (table,),
        ).fetchall()
        order = ", ".join(f"{i + 1} NULLS FIRST" for i in range(len(types)))
        rows = pg.execute(f'SELECT * FROM "{table}" ORDER BY {order}').fetchall()
        results[engine] = {"types": types, "rows": [tuple(map(_normal, row)) for row in rows]}
    return results


def assert_same(results: dict[str, Any]) -> None:
    etl, elt = results["etl"], results["elt"]
    assert [t[0] for t in elt["types"]] == [t[0] for t in etl["types"]], "column names"
    assert elt["types"] == etl["types"], "column types"
    if elt["rows"] != etl["rows"]:
        etl_rows, elt_rows = Counter(etl["rows"]), Counter(elt["rows"])
        pytest.fail(
            f"rows differ ({len(etl['rows'])} etl, {len(elt['rows'])} elt); only in etl: "
            f"{sorted(map(repr, etl_rows - elt_rows))}; only in elt: {sorted(map(repr, elt_rows - etl_rows))}"
        )


@pytest.fixture
def seeded(pg: Any) -> Any:
    """The seed tables in this test's fresh database."""
    pg.execute(SEED)
    return pg


@pytest.mark.parametrize("steps", MODULE_CASES)
def test_each_module_gives_the_same_table(
    run_pipeline: Any, seeded: Any, pg_conn_id: str, steps: list[Step], request: pytest.FixtureRequest
) -> None:
    case = request.node.callspec.id
    results = run_both(run_pipeline, seeded, pg_conn_id, case, linear_spec(pg_conn_id, steps))
    assert_same(results)
    assert results["etl"]["rows"], "the case loads rows"


# On a language collation (most servers: en_US.UTF-8, ICU) PostgreSQL orders 'a' before 'B'; DuckDB and
# the pushed SQL order text by code point. The cases that order or compare text run there too.
ORDERING = re.compile(r"order|sort|aggregate|dedup|mode|title|upper|lower|route")


@pytest.fixture
def icu_conn_id(postgres_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    import uuid

    from tests.pg import CONN_ID

    name = f"icu_{uuid.uuid4().hex[:12]}"
    with postgres_server.connect(autocommit=True) as con:
        con.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'"
        )
    with postgres_server.connect(name, autocommit=True) as con:
        assert con.execute("SELECT 'a' < 'B'").fetchone() == (True,)  # a language order, not code points
        con.execute(SEED)
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", postgres_server.airflow_conn(name))
        yield CONN_ID, con
    with postgres_server.connect(autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("steps", [case for case in MODULE_CASES if ORDERING.search(str(case.id))])
def test_text_orders_by_code_point_on_a_language_collation(
    run_pipeline: Any, icu_conn_id: Any, steps: list[Step], request: pytest.FixtureRequest
) -> None:
    conn_id, con = icu_conn_id
    case = "icu_" + request.node.callspec.id
    assert_same(run_both(run_pipeline, con, conn_id, case, linear_spec(conn_id, steps)))


# --- graphs: two sources, joins and unions, with steps before and after them ---------------------------

Node = tuple[str, str, dict[str, Any]]  # (id, module, config); a source's config names only its table
Edge = tuple[str, str] | tuple[str, str, str]  # (source, target[, target port]); the last node feeds 'write'

AGGREGATE_BY_COUNTRY = (
    "aggregate",
    {
        "group_by": ["country"],
        "aggregations": [
            {"function": "count"},
            {"column": "name", "function": "count_distinct"},
            {"column": "qty", "function": "sum"},
            {"column": "price", "function": "avg"},
            {"column": "pop", "function": "max"},
            {"column": "day", "function": "min"},
        ],
    },
)


def graph(nodes: list[Node], edges: list[Edge]) -> dict[str, Any]:
    return {"nodes": nodes, "edges": edges}


GRAPH_CASES = [
    pytest.param(
        graph(
            [
                ("raw", "source", {"table": "raw"}),
                ("cities", "source", {"table": "cities"}),
                ("joined", "join", {"on": ["city"]}),
                ("dedupe", "deduplicate", {"columns": ["id", "country"]}),
                ("agg", *AGGREGATE_BY_COUNTRY),
            ],
            [
                ("raw", "joined", "left"),
                ("cities", "joined", "right"),
                ("joined", "dedupe"),
                ("dedupe", "agg"),
            ],
        ),
        id="join-inner-dedupe-aggregate",
    ),
    pytest.param(
        graph(
            [
                ("raw", "source", {"table": "raw"}),
                ("cities", "source", {"table": "cities"}),
                ("joined", "join", {"how": "left", "on": ["city"]}),
                ("dedupe", "deduplicate", {"columns": ["id", "country", "pop"], "keep": "last"}),
                ("agg", *AGGREGATE_BY_COUNTRY),
            ],
            [
                ("raw", "joined", "left"),
                ("cities", "joined", "right"),
                ("joined", "dedupe"),
                ("dedupe", "agg"),
            ],
        ),
        id="join-left-dedupe-last-aggregate",
    ),
    pytest.param(
        graph(
            [
                ("raw", "source", {"table": "raw"}),
                ("cities", "source", {"table": "cities"}),
                ("joined", "join", {"how": "left", "on": ["city"]}),
                ("dedupe", "deduplicate", {"columns": ["id"]}),
            ],
            [("raw", "joined", "left"), ("cities", "joined", "right"), ("joined", "dedupe")],
        ),
        id="join-left-dedupe-first-by-order",  # the pushed join keeps the ETL order: dedupe observes it
    ),
    pytest.param(
        graph(
            [
                ("raw", "source", {"table": "raw"}),
                ("cities", "source", {"table": "cities"}),
                ("big_cities", "filter_rows", {"condition": "pop > 100 AND country <> 'FR-bis'"}),
                ("joined", "join", {"how": "left", "on": ["city"]}),
                (
                    "pick",
                    "select_columns",
                    {
                        "columns": [
                            {"name": "id"},
                            {"name": "city"},
                            {"name": "country"},
                            {"name": "pop"},
                            {"name": "since", "cast": "string"},
                        ]
                    },
                ),
            ],
            [
                ("raw", "joined", "left"),
                ("cities", "big_cities"),
                ("big_cities", "joined", "right"),
                ("joined", "pick"),
            ],
        ),
        id="join-right-side-filtered",
    ),
    pytest.param(
        graph(
            [
                ("cities", "source", {"table": "cities"}),
                ("raw", "source", {"table": "raw"}),
                ("cleaned", "clean_text", {"columns": ["city"], "case": "lower"}),
                ("lowered", "clean_text", {"columns": ["city"], "case": "lower"}),
                (
                    "joined",
                    "join",
                    {
                        "how": "full",
                        "left_on": ["city"],
                        "right_on": ["city"],
                        "suffixes": {"left": "_c", "right": "_r"},
                    },
                ),
                (
                    "agg",
                    "aggregate",
                    {"group_by": ["city_c", "city_r"], "aggregations": [{"function": "count"}]},
                ),
            ],
            [
                ("cities", "cleaned"),
                ("raw", "lowered"),
                ("cleaned", "joined", "left"),
                ("lowered", "joined", "right"),
                ("joined", "agg"),
            ],
        ),
        id="join-full-left-on-right-on-suffixes",
    ),
    pytest.param(
        graph(
            [
                ("raw", "source", {"table": "raw"}),
                ("more", "source", {"table": "more"}),
                ("joined", "join", {"how": "right", "on": ["id", "name"]}),
                ("fill", "fill_nulls", {"fills": [{"column": "qty", "value": -1}]}),
            ],
            [("raw", "joined", "left"), ("more", "joined", "right"), ("joined", "fill")],
        ),
        id="join-right-two-keys",
    ),
    pytest.param(
        graph(
            [
                ("raw", "source", {"table": "raw"}),
                ("more", "source", {"table": "more"}),
                ("both", "union", {}),
                ("keep", "filter_rows", {"condition": "qty > 2 OR code IS NULL OR code = '-7'"}),
            ],
            [("raw", "both"), ("more", "both"), ("both", "keep")],
        ),
        id="union-all-then-filter",
    ),
    pytest.param(
        graph(
            [
                ("more", "source", {"table": "more"}),
                ("raw", "source", {"table": "raw"}),
                ("slim", "select_columns", {"columns": [{"name": "id"}, {"name": "name"}, {"name": "city"}]}),
                ("both", "union", {"distinct": True}),
                ("keep", "filter_rows", {"condition": "id IS NULL OR id < 10"}),
            ],
            [("more", "both"), ("raw", "slim"), ("slim", "both"), ("both", "keep")],
        ),
        id="union-distinct-then-filter",
    ),
    pytest.param(
        graph(
            [
                ("raw", "source", {"table": "raw"}),
                ("more", "source", {"table": "more"}),
                ("both", "union", {}),
                (
                    "clean",
                    "clean_text",
                    {"columns": ["name", "city"], "case": "lower", "empty_as_null": True},
                ),
                ("derive", "derive_column", {"columns": [{"name": "amount", "expression": "qty * price"}]}),
                ("named", "map_values", {"column": "city", "mapping": {"paris": "Paris", "lyon": "Lyon"}}),
                ("dedupe", "deduplicate", {"columns": ["id"], "keep": "last"}),
                ("order", "sort", {"by": [{"column": "amount", "descending": True, "nulls": "first"}]}),
                ("first_per_city", "deduplicate", {"columns": ["city"]}),
                (
                    "pick",
                    "select_columns",
                    {
                        "columns": [
                            {"name": "city"},
                            {"name": "id"},
                            {"name": "amount", "cast": "float"},
                            {"name": "code"},
                        ]
                    },
                ),
            ],
            [
                ("raw", "both"),
                ("more", "both"),
                ("both", "clean"),
                ("clean", "derive"),
                ("derive", "named"),
                ("named", "dedupe"),
                ("dedupe", "order"),
                ("order", "first_per_city"),
                ("first_per_city", "pick"),
            ],
        ),
        id="union-then-chain",
    ),
    pytest.param(
        graph(
            [
                ("raw", "source", {"table": "raw"}),
                ("more", "source", {"table": "more"}),
                ("cities", "source", {"table": "cities"}),
                ("both", "union", {"distinct": True}),
                ("joined", "join", {"on": ["city"]}),
                ("agg", *AGGREGATE_BY_COUNTRY),
            ],
            [
                ("raw", "both"),
                ("more", "both"),
                ("both", "joined", "left"),
                ("cities", "joined", "right"),
                ("joined", "agg"),
            ],
        ),
        id="union-then-join-aggregate",
    ),
]


def graph_spec(conn_id: str, nodes: list[Node], edges: list[Edge]) -> dict[str, Any]:
    """The nodes (sources on ``conn_id``) and edges before 'write'; the last node feeds 'write'."""
    out_nodes = [
        {"id": node_id, "module": "source.postgres", "config": {"conn_id": conn_id, **config}}
        if module == "source"
        else {"id": node_id, "module": module, "config": config}
        for node_id, module, config in nodes
    ]
    out_edges = [
        {"source": edge[0], "target": edge[1], **({"target_port": edge[2]} if len(edge) == 3 else {})}
        for edge in edges
    ]
    out_edges.append({"source": nodes[-1][0], "target": "write"})
    return {"nodes": out_nodes, "edges": out_edges}


@pytest.mark.parametrize("case", GRAPH_CASES)
def test_each_graph_gives_the_same_table(
    run_pipeline: Any, seeded: Any, pg_conn_id: str, case: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    spec = graph_spec(pg_conn_id, case["nodes"], case["edges"])
    results = run_both(run_pipeline, seeded, pg_conn_id, request.node.callspec.id, spec)
    assert_same(results)
    assert results["etl"]["rows"], "the graph loads rows"


@pytest.mark.parametrize("pg_type", ["numeric(10,2)", "numeric(12,3)", "numeric(18,0)"])
def test_a_decimal_mean_is_duckdbs_on_many_samples(pg: Any, pg_type: str) -> None:
    """fill_nulls' mean of a DECIMAL column, in its type: 300 random samples, many means near a half."""
    import random

    import duckdb

    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.logs import log
    from airflow_provider_logidata.modules.transforms.fill_nulls import _decimal_mean

    scale = int(pg_type.partition(",")[2].rstrip(")"))
    duck_type = pg_type.replace("numeric", "DECIMAL")
    rng = random.Random(14)
    samples = [
        [rng.randint(-(10**7), 10**7) / 10**scale for _ in range(rng.randint(1, 6))] for _ in range(300)
    ]
    samples += [[2.50, 0.01], [1.25, 1.26], [-2.50, -0.01]]
    duck = duckdb.connect()
    ctx = EltContext(con=pg, module="fill_nulls", node_id="f", config=None, log=log)  # type: ignore[arg-type]
    for values in samples:
        texts = [f"{value:.{scale}f}" for value in values]
        relation = f"(SELECT CAST(unnest(ARRAY[{', '.join(texts)}]) AS {pg_type}) AS v)"
        (got,) = pg.execute(f"SELECT {_decimal_mean(ctx, relation, 'v', pg_type)}").fetchone()
        (expected,) = duck.execute(
            f"SELECT CAST(avg(v) AS {duck_type}) FROM (SELECT CAST(unnest(?::VARCHAR[]) AS {duck_type}) AS v)",
            [texts],
        ).fetchone()
        assert got == expected, texts


def test_a_double_cast_to_decimal_is_duckdbs_on_many_samples(pg: Any) -> None:
    """CAST(<double> AS DECIMAL(p,s)) pushed down: DuckDB's rounding (on the double), not PostgreSQL's
    float8-to-numeric cast (15 significant digits: 1.255 becomes 1.26 there, 1.25 in DuckDB)."""
    import random

    import duckdb

    from airflow_provider_logidata.engine.dialects.postgres import to_postgres
    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.logs import log

    rng = random.Random(15)
    values = [1.255, 2.675, 0.125, -0.125, 1.005, 0.045, 9.995, 1e-20, -0.5, 0.5, 123456.785, None]
    values += [rng.uniform(-1000, 1000) for _ in range(300)]
    values += [round(rng.uniform(-100, 100), 3) for _ in range(300)]  # many exact-looking halves
    texts = ["NULL" if v is None else repr(v) for v in values]
    pg.execute(f"CREATE TEMP TABLE doubles AS SELECT unnest(ARRAY[{', '.join(texts)}]::float8[]) AS v")
    duck = duckdb.connect()
    for target in ("DECIMAL(12,2)", "DECIMAL(18,0)", "DECIMAL(10,3)", "DECIMAL"):
        ctx = EltContext(con=pg, module="derive_column", node_id="d", config=None, log=log)  # type: ignore[arg-type]
        pushed = to_postgres(ctx, f"CAST(v AS {target})", "doubles")
        assert "logidata_f8_decimal" in pushed
        got = [row[0] for row in pg.execute(f"SELECT {pushed} FROM doubles AS s").fetchall()]
        expected = [
            row[0]
            for row in duck.execute(
                f"SELECT CAST(v AS {target}) FROM (SELECT unnest(?::DOUBLE[]) AS v)", [values]
            ).fetchall()
        ]
        assert got == expected, target
    # An integer or a decimal operand keeps PostgreSQL's own (exact) cast.
    ctx = EltContext(con=pg, module="derive_column", node_id="d", config=None, log=log)  # type: ignore[arg-type]
    assert "logidata_f8_decimal" not in to_postgres(
        ctx, "CAST(CAST(v AS BIGINT) AS DECIMAL(12,2))", "doubles"
    )
    # NaN fails, as DuckDB's cast does.
    import psycopg

    with pytest.raises(psycopg.Error, match="Could not cast value NaN"):
        pg.execute("SELECT pg_temp.logidata_f8_decimal('NaN', 2)")


def test_real_and_huge_double_casts_to_decimal_are_duckdbs(pg: Any) -> None:
    """A REAL operand is widened to double first (DuckDB's FLOAT-to-DECIMAL cast computes on the double
    too, checked here), and a scaled value past bigint becomes numeric exactly (its binary mantissa times
    a power of two), where PostgreSQL's float8-to-numeric cast keeps 15 digits."""
    import random

    import duckdb

    from airflow_provider_logidata.engine.dialects.postgres import to_postgres
    from airflow_provider_logidata.engine.elt_context import EltContext
    from airflow_provider_logidata.engine.logs import log

    rng = random.Random(16)
    duck = duckdb.connect()

    def compare(pg_type: str, duck_type: str, values: list[float | None], targets: list[str]) -> None:
        texts = ["NULL" if v is None else repr(v) for v in values]
        pg.execute(
            f"DROP TABLE IF EXISTS casts; CREATE TEMP TABLE casts AS SELECT unnest(ARRAY[{', '.join(texts)}]::{pg_type}[]) AS v"
        )
        for target in targets:
            ctx = EltContext(con=pg, module="derive_column", node_id="d", config=None, log=log)  # type: ignore[arg-type]
            pushed = to_postgres(ctx, f"CAST(v AS {target})", "casts")
            assert "logidata_f8_decimal" in pushed
            got = [row[0] for row in pg.execute(f"SELECT {pushed} FROM casts AS s").fetchall()]
            expected = [
                row[0]
                for row in duck.execute(
                    f"SELECT CAST(CAST(v AS {duck_type}) AS {target}) FROM (SELECT unnest(?::DOUBLE[]) AS v)",
                    [values],
                ).fetchall()
            ]
            assert got == expected, (pg_type, target)

    reals = [1.255, 2.675, 0.125, -0.125, 1.005, 9.995, -0.5, 123456.785, None]
    reals += [rng.uniform(-1000, 1000) for _ in range(400)] + [
        round(rng.uniform(-100, 100), 3) for _ in range(400)
    ]
    # as float4 holds them: DuckDB reads the same float4 values
    reals = [
        None if v is None else float(duck.execute("SELECT CAST(? AS FLOAT)", [v]).fetchone()[0])
        for v in reals
    ]
    compare("real", "FLOAT", reals, ["DECIMAL(12,2)", "DECIMAL(18,0)", "DECIMAL(10,3)", "DECIMAL"])
    huge = [9.5e18, -9.5e18, 2.0**63, 2.0**64 + 2048, 1.2345678901234567e20, -7.7e25, 3.3e30, 1e37]
    huge += [rng.uniform(1e19, 1e30) * rng.choice([1, -1]) for _ in range(300)]
    compare("float8", "DOUBLE", huge, ["DECIMAL(38,0)"])
    compare("float8", "DOUBLE", [v / 1e4 for v in huge if abs(v) < 1e33], ["DECIMAL(38,4)"])
