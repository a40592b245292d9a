"""Column lineage read from the real SQL of the built-in modules' DuckDB builders.

Each module's builder is called exactly as a preview calls it (``preview.execute.run_transform``): over
small Arrow tables registered as ``input_0``, ``input_1``... in a fresh DuckDB. The SQL it returns is
described by DuckDB (the output columns) and run, then its lineage is checked. Temporary views and tables
a builder creates are recorded from the statements it sends through its context.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_logidata.engine import builders, duck
from airflow_provider_logidata.engine.configs import validate_config
from airflow_provider_logidata.engine.multi import MultiInput
from airflow_provider_logidata.engine.transforms import TransformContext
from airflow_provider_logidata.schema import lineage
from airflow_provider_logidata.schema.lineage import (
    ColumnSource,
    SqlLineage,
    column_lineage,
    sql_lineage,
    temp_views,
)
from airflow_provider_logidata.schema.lineage_graph import (
    Origin,
    carry,
    chain_lineage,
    compose,
    dataset_lineage,
)

ORDERS = {
    "id": [1, 2, 2, 3],
    "Price": [1.5, None, 2.0, 4.0],
    "quantity": [1, 2, 3, 4],
    "Customer Name": [" ann ", "bob", "bob", "cy"],
    "city": ["a", None, "b", "b"],
    "day": ["2024-01-02", "2024-01-03", "2024-01-03", " "],
    "status": ["a", "b", "c", "a"],
}
CUSTOMERS = {"customer_id": [1, 2], "city": ["x", "y"], "segment": ["s", "t"]}
ORDER_COLUMNS = list(ORDERS)


@dataclass
class RecordingContext(TransformContext):
    """The context builders get, keeping the temporary views and tables they create."""

    created: list[str] = field(default_factory=list)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if sql.lstrip().upper().startswith("CREATE"):
            self.created.append(sql)
        return super().rows(sql)


@dataclass
class Built:
    plans: dict[str, str]
    relations: dict[str, list[str]]
    outputs: dict[str, list[str]]
    views: dict[str, str]

    def lineage(self, port: str = "out") -> SqlLineage:
        return column_lineage(self.plans[port], self.relations, self.outputs[port], views=self.views)


def build(
    module: str,
    config: dict[str, Any],
    inputs: dict[str, Any],
    *,
    ports: list[str | None] | None = None,
    rescan_is_cheap: bool = False,
) -> Built:
    """The module's SQL per port over ``inputs`` ({upstream ref: columns}), as a preview builds it."""
    con = duck.sample_connection("256MB")
    try:
        names = [duck.input_name(index) for index in range(len(inputs))]
        for name, data in zip(names, inputs.values(), strict=True):
            con.register(name, pa.table(data))
        con.execute("SET enable_external_access = false")
        context = RecordingContext(
            con=con,
            module=module,
            node_id="node",
            config=validate_config(module, config, "node"),
            log=logging.getLogger("test_lineage"),
            rescan_is_cheap=rescan_is_cheap,
        )
        if (step := builders.step(module)) is not None:
            plans = {"out": step.build(context, names[0], duck.describe(con, names[0]))}
        else:
            build_multi = builders.multi(module)
            assert build_multi is not None
            plans = build_multi(
                context,
                [
                    MultiInput(
                        ref=ref,
                        relation=names[index],
                        columns=duck.describe(con, names[index]),
                        port=(ports or [None] * len(inputs))[index],
                    )
                    for index, ref in enumerate(inputs)
                ],
            )
        outputs = {
            port: [str(row[0]) for row in con.execute(f"DESCRIBE {sql}").fetchall()]
            for port, sql in plans.items()
        }
        for sql in plans.values():
            con.sql(sql).fetchall()  # the SQL really runs
        relations = {name: [column for column, _ in duck.describe(con, name)] for name in names}
        return Built(plans, relations, outputs, temp_views(context.created))
    finally:
        con.close()


def identity(relation: str, column: str) -> tuple[ColumnSource, ...]:
    return (ColumnSource(relation, column, "direct", "IDENTITY"),)


def assert_passed_through(found: SqlLineage, columns: list[str], relation: str = "input_0") -> None:
    for column in columns:
        assert found.columns[column] == identity(relation, column), column


# --- one module at a time ------------------------------------------------------------------------------


def test_select_columns_rename_and_cast() -> None:
    built = build(
        "select_columns",
        {
            "columns": [{"name": "id"}, {"name": "price", "rename": "unit price", "cast": "decimal"}],
            "keep_other_columns": True,
        },
        {"orders": ORDERS},
    )
    found = built.lineage()
    assert list(found.columns) == ["id", "unit price", "quantity", "Customer Name", "city", "day", "status"]
    assert found.columns["unit price"] == (ColumnSource("input_0", "Price", "direct", "TRANSFORMATION"),)
    assert_passed_through(found, ["id", "quantity", "Customer Name", "city", "day", "status"])
    assert found.dataset == () and not found.unknown
    # the plain pairs, as the design-time schema check reads them
    plain = sql_lineage(built.plans["out"], built.relations, built.outputs["out"])
    assert plain["unit price"] == [("input_0", "Price")]


def test_derive_column_from_two_columns_and_from_a_derived_one() -> None:
    built = build(
        "derive_column",
        {
            "columns": [
                {"name": "value", "expression": "price * quantity"},
                {"name": "double", "expression": "value * 2"},
                {"name": "city", "expression": "upper(city)"},
            ]
        },
        {"orders": ORDERS},
    )
    pairs = built.lineage().pairs()
    assert pairs["value"] == [("input_0", "Price"), ("input_0", "quantity")]
    assert pairs["double"] == [("input_0", "Price"), ("input_0", "quantity")]  # through the nested SELECT
    assert built.lineage().columns["city"] == (ColumnSource("input_0", "city", "direct", "TRANSFORMATION"),)
    assert pairs["id"] == [("input_0", "id")]


def test_fill_nulls_with_statistics_and_a_constant() -> None:
    built = build(
        "fill_nulls",
        {"fills": [{"column": "Price", "strategy": "mean"}, {"column": "city", "value": "?"}]},
        {"orders": ORDERS},
    )
    found = built.lineage()
    assert found.pairs()["Price"] == [("input_0", "Price")]
    assert {source.subtype for source in found.columns["Price"]} == {"TRANSFORMATION", "AGGREGATION"}
    assert found.pairs()["city"] == [("input_0", "city")]
    assert_passed_through(found, ["id", "quantity", "Customer Name", "day", "status"])


def test_clean_text_and_parse_dates_rewrite_their_columns_in_place() -> None:
    cleaned = build("clean_text", {"columns": ["Customer Name"], "case": "title"}, {"orders": ORDERS})
    found = cleaned.lineage()
    assert found.columns["Customer Name"] == (
        ColumnSource("input_0", "Customer Name", "direct", "TRANSFORMATION"),
    )
    assert_passed_through(found, ["id", "Price", "city", "day"])

    parsed = build(
        "parse_dates", {"columns": ["day"], "formats": ["%Y-%m-%d"], "on_error": "null"}, {"orders": ORDERS}
    )
    found = parsed.lineage()
    assert found.pairs()["day"] == [("input_0", "day")]
    assert_passed_through(found, ["id", "Price", "city", "status"])


def test_map_values_case_and_large_mapping() -> None:
    built = build(
        "map_values",
        {"column": "status", "mapping": {"a": "Active", "b": "Blocked"}, "target_column": "status_label"},
        {"orders": ORDERS},
    )
    found = built.lineage()
    assert found.pairs()["status_label"] == [("input_0", "status")]
    assert set(found.columns["status_label"]) == {
        ColumnSource("input_0", "status", "indirect", "CONDITIONAL"),  # CASE status WHEN ...
        ColumnSource("input_0", "status", "direct", "TRANSFORMATION"),  # ELSE status
    }
    assert_passed_through(found, ORDER_COLUMNS)

    mapping = {str(index): f"label {index}" for index in range(100)}  # a MAP lookup, not a CASE
    large = build("map_values", {"column": "id", "mapping": mapping, "default": "null"}, {"orders": ORDERS})
    assert large.lineage().pairs()["id"] == [("input_0", "id")]


@pytest.mark.parametrize("cheap", [False, True])
def test_deduplicate_on_every_column(cheap: bool) -> None:
    found = build("deduplicate", {}, {"orders": ORDERS}, rescan_is_cheap=cheap).lineage()
    assert_passed_through(found, ORDER_COLUMNS)
    if cheap:  # hashes of the whole row decide which rows go through
        assert ColumnSource("input_0", "Customer Name", "indirect", "FILTER") in found.dataset


def test_deduplicate_on_a_key_groups_by_it() -> None:
    found = build("deduplicate", {"columns": ["id"], "keep": "last"}, {"orders": ORDERS}).lineage()
    assert_passed_through(found, ORDER_COLUMNS)
    assert found.dataset == (ColumnSource("input_0", "id", "indirect", "GROUP_BY"),)


def test_aggregate_group_by_and_sum() -> None:
    built = build(
        "aggregate",
        {
            "group_by": ["city"],
            "aggregations": [{"column": "Price", "function": "sum", "as": "revenue"}, {"function": "count"}],
        },
        {"orders": ORDERS},
    )
    found = built.lineage()
    assert built.outputs["out"] == ["city", "revenue", "count"]
    assert found.columns["city"] == identity("input_0", "city")
    assert found.columns["revenue"] == (ColumnSource("input_0", "Price", "direct", "AGGREGATION"),)
    assert found.columns["count"] == () and "count" not in found.unknown  # count(*): no column, known
    assert set(found.dataset) == {
        ColumnSource("input_0", "city", "indirect", "GROUP_BY"),
        ColumnSource("input_0", "city", "indirect", "SORT"),
    }


def test_join_with_left_and_right_keys_and_columns_from_both_sides() -> None:
    built = build(
        "join",
        {"how": "left", "left_on": ["id"], "right_on": ["customer_id"]},
        {"orders": ORDERS, "customers": CUSTOMERS},
        ports=["left", "right"],
    )
    found = built.lineage()
    assert found.columns["id"] == identity("input_0", "id")
    assert found.columns["customer_id"] == identity("input_1", "customer_id")
    assert found.columns["city"] == identity("input_0", "city")
    assert found.columns["city_right"] == identity("input_1", "city")  # the clash got the suffix
    assert found.columns["segment"] == identity("input_1", "segment")
    assert set(found.dataset) == {
        ColumnSource("input_0", "id", "indirect", "JOIN"),
        ColumnSource("input_1", "customer_id", "indirect", "JOIN"),
    }


def test_full_join_on_a_shared_key_takes_it_from_both_sides() -> None:
    built = build(
        "join",
        {"how": "full", "on": ["city"]},
        {"orders": ORDERS, "customers": CUSTOMERS},
        ports=["left", "right"],
    )
    assert built.lineage().pairs()["city"] == [("input_0", "city"), ("input_1", "city")]


@pytest.mark.parametrize("distinct", [False, True])
def test_union_by_name(distinct: bool) -> None:
    built = build("union", {"distinct": distinct}, {"orders": ORDERS, "customers": CUSTOMERS})
    if distinct:
        assert list(built.views) == ["__logidata_union"]  # followed through the builder's view
    pairs = built.lineage().pairs()
    assert pairs["city"] == [("input_0", "city"), ("input_1", "city")]
    assert pairs["Price"] == [("input_0", "Price")]
    assert pairs["segment"] == [("input_1", "segment")]


def test_sort_keeps_columns_and_orders_by_its_keys() -> None:
    found = build("sort", {"by": [{"column": "Price", "descending": True}]}, {"orders": ORDERS}).lineage()
    assert list(found.columns) == ORDER_COLUMNS  # the row number helper is not an output
    assert_passed_through(found, ORDER_COLUMNS)
    assert found.dataset == (ColumnSource("input_0", "Price", "indirect", "SORT"),)


def test_filter_rows_condition_is_row_level() -> None:
    found = build(
        "filter_rows", {"condition": "quantity > 1 AND status <> 'x'"}, {"orders": ORDERS}
    ).lineage()
    assert_passed_through(found, ORDER_COLUMNS)
    assert found.dataset == (
        ColumnSource("input_0", "quantity", "indirect", "FILTER"),
        ColumnSource("input_0", "status", "indirect", "FILTER"),
    )


@pytest.mark.parametrize("condition", ["quantity > 1", "random() < quantity"])
def test_route_both_ports(condition: str) -> None:
    built = build("route", {"condition": condition}, {"orders": ORDERS})
    if "random" in condition:
        assert list(built.views) == ["__logidata_route"]  # volatile: evaluated once into a table
    for port in ("matched", "unmatched"):
        found = built.lineage(port)
        assert list(found.columns) == ORDER_COLUMNS, port
        assert_passed_through(found, ORDER_COLUMNS)
        assert found.dataset == (ColumnSource("input_0", "quantity", "indirect", "FILTER"),)


def test_quality_check_quarantine_out_and_rejected() -> None:
    built = build(
        "quality_check",
        {
            "checks": [
                {"type": "not_null", "column": "Price"},
                {"type": "range", "column": "quantity", "min": 2},
            ],
            "action": "quarantine",
        },
        {"orders": ORDERS},
    )
    out, rejected = built.lineage("out"), built.lineage("rejected")
    assert list(out.columns) == ORDER_COLUMNS
    assert_passed_through(out, ORDER_COLUMNS)
    assert_passed_through(rejected, ORDER_COLUMNS)
    # the reason says which checks failed: it comes from the checked columns, through the flags table
    assert set(rejected.columns["_rejected_reason"]) == {
        ColumnSource("input_0", "Price", "indirect", "CONDITIONAL"),
        ColumnSource("input_0", "quantity", "indirect", "CONDITIONAL"),
    }
    expected = {
        ColumnSource("input_0", "Price", "indirect", "FILTER"),
        ColumnSource("input_0", "quantity", "indirect", "FILTER"),
    }
    assert set(out.dataset) == expected and set(rejected.dataset) == expected


def test_quality_check_warn_passes_everything() -> None:
    built = build(
        "quality_check",
        {"checks": [{"type": "not_null", "column": "Price"}], "action": "warn"},
        {"orders": ORDERS},
    )
    assert_passed_through(built.lineage("out"), ORDER_COLUMNS)
    rejected = built.lineage("rejected")
    assert rejected.columns["_rejected_reason"] == () and not rejected.unknown  # a typed NULL


def test_sql_module_user_query_with_a_cte() -> None:
    query = (
        'WITH big AS (SELECT o.id, o.price * o.quantity AS amount, c.segment, o."Customer Name" AS who '
        "FROM orders o JOIN customers c ON o.id = c.customer_id WHERE o.status <> 'x') "
        "SELECT segment, sum(amount) AS total, max(who) AS last_customer FROM big GROUP BY segment"
    )
    built = build("sql", {"query": query}, {"orders": ORDERS, "customers": CUSTOMERS})
    assert set(built.views) == {"orders", "customers"}  # the inputs under their upstream names
    found = built.lineage()
    assert found.columns["segment"] == identity("input_1", "segment")
    assert found.columns["total"] == (
        ColumnSource("input_0", "Price", "direct", "AGGREGATION"),
        ColumnSource("input_0", "quantity", "direct", "AGGREGATION"),
    )
    assert found.columns["last_customer"] == (
        ColumnSource("input_0", "Customer Name", "direct", "AGGREGATION"),
    )
    assert set(found.dataset) == {
        ColumnSource("input_1", "segment", "indirect", "GROUP_BY"),
        ColumnSource("input_0", "id", "indirect", "JOIN"),
        ColumnSource("input_1", "customer_id", "indirect", "JOIN"),
        ColumnSource("input_0", "status", "indirect", "FILTER"),
    }


# --- SQL constructs ------------------------------------------------------------------------------------

INPUTS = {"input_0": ["A", "b", "Odd Col!", "k", "t"], "input_1": ["a", "c"]}


def test_stars_exclude_replace_rename_and_quoted_names() -> None:
    found = column_lineage(
        'SELECT * EXCLUDE (b) REPLACE (coalesce(a, 0) AS a) RENAME ("odd col!" AS odd) FROM input_0',
        INPUTS,
        ["A", "odd", "k", "t"],
    )
    assert found.columns == {
        "A": (ColumnSource("input_0", "A", "direct", "TRANSFORMATION"),),
        "odd": identity("input_0", "Odd Col!"),  # spelled as the input spells it
        "k": identity("input_0", "k"),
        "t": identity("input_0", "t"),
    }


def test_using_key_comes_from_both_sides() -> None:
    found = column_lineage(
        "SELECT * FROM input_0 JOIN input_1 USING (a)", INPUTS, ["A", "b", "Odd Col!", "k", "t", "c"]
    )
    assert found.pairs()["A"] == [("input_0", "A"), ("input_1", "a")]
    assert found.columns["c"] == identity("input_1", "c")
    assert set(found.dataset) == {
        ColumnSource("input_0", "A", "indirect", "JOIN"),
        ColumnSource("input_1", "a", "indirect", "JOIN"),
    }


def test_window_partition_and_order_are_indirect_sources_of_their_column() -> None:
    found = column_lineage(
        "SELECT k, row_number() OVER (PARTITION BY k ORDER BY t) AS rn, "
        "sum(b) OVER (PARTITION BY k) AS running FROM input_0 QUALIFY rn = 1",
        INPUTS,
        ["k", "rn", "running"],
    )
    assert found.columns["rn"] == (
        ColumnSource("input_0", "k", "indirect", "WINDOW"),
        ColumnSource("input_0", "t", "indirect", "WINDOW"),
    )
    assert found.pairs()["rn"] == [("input_0", "k"), ("input_0", "t")]  # plain pairs keep them
    assert found.columns["running"] == (
        ColumnSource("input_0", "b", "direct", "AGGREGATION"),
        ColumnSource("input_0", "k", "indirect", "WINDOW"),
    )
    # QUALIFY on the alias: the window's columns filter the rows
    assert set(found.dataset) == {
        ColumnSource("input_0", "k", "indirect", "FILTER"),
        ColumnSource("input_0", "t", "indirect", "FILTER"),
    }


def test_case_lateral_alias_subqueries_and_duckdb_names() -> None:
    found = column_lineage(
        "SELECT CASE WHEN b > 0 THEN trim(\"Odd Col!\") ELSE 'x' END AS y, b + 1 AS b1, b1 * k AS b2, "
        "count(*), (SELECT max(c) FROM input_1 WHERE input_1.a = input_0.a) AS top, 1 AS one "
        "FROM input_0 GROUP BY ALL ORDER BY 2",
        INPUTS,
        ["y", "b1", "b2", "count_star()", "top", "one"],
    )
    assert found.columns["y"] == (
        ColumnSource("input_0", "b", "indirect", "CONDITIONAL"),
        ColumnSource("input_0", "Odd Col!", "direct", "TRANSFORMATION"),
    )
    assert found.pairs()["b2"] == [("input_0", "b"), ("input_0", "k")]  # b1 is an earlier alias
    assert found.columns["count_star()"] == ()  # matched by position: DuckDB named it
    assert found.pairs()["top"] == [("input_1", "c")]  # a correlated scalar subquery
    assert found.columns["one"] == () and not found.unknown
    assert ColumnSource("input_0", "b", "indirect", "SORT") in found.dataset  # ORDER BY 2 is b1


def test_union_all_positional_and_ctes() -> None:
    found = column_lineage(
        "WITH x AS (SELECT a AS v, c FROM input_1) SELECT k AS v, b FROM input_0 UNION ALL SELECT v, c FROM x",
        INPUTS,
        ["v", "b"],
    )
    assert found.pairs() == {
        "v": [("input_0", "k"), ("input_1", "a")],
        "b": [("input_0", "b"), ("input_1", "c")],
    }


def test_views_are_followed_to_the_inputs() -> None:
    views = temp_views(
        [
            "CREATE TEMP VIEW flagged AS SELECT *, b > 1 AS big FROM input_0",
            "CREATE TEMP TABLE twice AS SELECT * EXCLUDE (big), big AND k = 1 AS hot FROM flagged",
            "SET lock_configuration = true",
        ]
    )
    assert list(views) == ["flagged", "twice"]
    found = column_lineage("SELECT A, hot FROM twice WHERE hot", INPUTS, ["A", "hot"], views=views)
    assert found.pairs() == {"A": [("input_0", "A")], "hot": [("input_0", "b"), ("input_0", "k")]}
    assert set(found.dataset) == {
        ColumnSource("input_0", "b", "indirect", "FILTER"),
        ColumnSource("input_0", "k", "indirect", "FILTER"),
    }


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT nonsense(", "a parse error"),
        ("SELECT * FROM mystery", "a relation not given"),
        ("SELECT COLUMNS('a.*') FROM input_0", "COLUMNS()"),
        ("INSERT INTO input_0 VALUES (1)", "not a query"),
        ("SELECT i FROM range(3) t(i)", "a table function"),
    ],
)
def test_sql_it_cannot_analyse_gives_unknown_columns(
    sql: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_logidata.schema.lineage"):
        found = column_lineage(sql, INPUTS, ["q"])
        plain = sql_lineage(sql, INPUTS, ["q"])
    assert found.columns == {"q": ()} and found.unknown == {"q"}, why
    assert plain == {"q": []}
    assert "lineage" in caplog.text


def test_one_unknown_column_leaves_the_others_known() -> None:
    found = column_lineage("SELECT b, m.x AS x FROM input_0, mystery AS m", INPUTS, ["b", "x"])
    assert found.columns["b"] == identity("input_0", "b")
    assert found.unknown == {"x"}


def test_analysis_is_cached_and_leaves_the_cached_parse_alone() -> None:
    sql = "SELECT * REPLACE (b * 2 AS b) FROM input_0 WHERE k > 1"
    first = column_lineage(sql, INPUTS, ["A", "b", "Odd Col!", "k", "t"])
    text = lineage._parse(sql, "duckdb").sql(dialect="duckdb")
    assert column_lineage(sql, INPUTS, ["A", "b", "Odd Col!", "k", "t"]) == first
    assert column_lineage(sql, {"input_0": ["b", "k"]}, ["b", "k"]).pairs() == {
        "b": [("input_0", "b")],
        "k": [("input_0", "k")],
    }
    assert lineage._parse(sql, "duckdb").sql(dialect="duckdb") == text


# --- through several nodes ----------------------------------------------------------------------------


def test_compose_through_a_pipeline_graph() -> None:
    """orders -> select_columns (rename) -> join with customers -> aggregate: back to the sources."""
    selected = build(
        "select_columns",
        {"columns": [{"name": "id", "rename": "order_id"}, {"name": "Price"}, {"name": "quantity"}]},
        {"orders": ORDERS},
    )
    renamed = {"order_id": ORDERS["id"], "Price": ORDERS["Price"], "quantity": ORDERS["quantity"]}
    joined = build(
        "join",
        {"how": "inner", "left_on": ["order_id"], "right_on": ["customer_id"]},
        {"pick": renamed, "customers": CUSTOMERS},
        ports=["left", "right"],
    )
    joined_data = {name: [1] for name in joined.outputs["out"]}
    totals = build(
        "aggregate",
        {"group_by": ["segment"], "aggregations": [{"column": "Price", "function": "sum", "as": "revenue"}]},
        {"joined": joined_data},
    )
    graph = {
        ("pick", "out"): selected.lineage().columns,
        ("joined", "out"): joined.lineage().columns,
        ("totals", "out"): totals.lineage().columns,
    }
    edges = {
        "pick": {"input_0": ("orders", "out")},
        "joined": {"input_0": ("pick", "out"), "input_1": ("customers", "out")},
        "totals": {"input_0": ("joined", "out")},
    }
    traces = compose(graph, edges, "totals")
    assert traces["revenue"].sources == (Origin("orders", "out", "Price", "direct", "AGGREGATION"),)
    assert traces["revenue"].upstream == {
        ("totals", "out"): ("revenue",),
        ("joined", "out"): ("Price",),
        ("pick", "out"): ("Price",),
        ("orders", "out"): ("Price",),
    }
    assert traces["segment"].sources == (Origin("customers", "out", "segment"),)
    renamed_id = compose(graph, edges, "joined", columns=["order_id"])["order_id"]
    assert renamed_id.sources == (Origin("orders", "out", "id"),)
    assert renamed_id.upstream[("pick", "out")] == ("order_id",)

    # plain pairs work too (each counts as a direct identity)
    plain = {
        key: {name: [(s[0], s[1]) for s in sources] for name, sources in value.items()}
        for key, value in graph.items()
    }
    assert compose(plain, edges, "totals", columns=["revenue"])["revenue"].sources == (
        Origin("orders", "out", "Price"),
    )


def test_compose_stops_at_unknown_and_unwired_relations() -> None:
    graph: dict[tuple[str, str], dict[str, Any]] = {
        ("b", "out"): {"x": [("input_0", "x")], "y": [], "z": [("stray", "z")]},
    }
    traces = compose(graph, {"b": {"input_0": ("a", "out")}}, "b")
    assert traces["x"].sources == (Origin("a", "out", "x"),)
    assert traces["y"].sources == () and traces["y"].upstream == {("b", "out"): ("y",)}
    assert traces["z"].sources == ()


def test_run_time_lineage_through_a_chain_and_a_join() -> None:
    """What a task would carry in its staging handle: columns back to the source datasets' columns."""
    con = duck.sample_connection("256MB")
    try:
        con.register("input_0", pa.table(ORDERS))
        relation = "input_0"
        steps: list[tuple[str, list[str], str]] = []
        chain: list[tuple[str, dict[str, Any]]] = [
            ("filter_rows", {"condition": "quantity > 1"}),
            ("select_columns", {"columns": [{"name": "id", "rename": "order_id"}, {"name": "Price"}]}),
            ("derive_column", {"columns": [{"name": "net", "expression": "Price * 0.8"}]}),
        ]
        for index, (module, config) in enumerate(chain):
            context = TransformContext(
                con=con,
                module=module,
                node_id=f"n{index}",
                config=validate_config(module, config, "n"),
                log=logging.getLogger("t"),
            )
            columns = duck.describe(con, relation)
            step = builders.step(module)
            assert step is not None
            sql = step.build(context, relation, columns)
            con.execute(f"CREATE TEMP VIEW step_{index} AS {sql}")
            steps.append((relation, [name for name, _ in columns], sql))
            relation = f"step_{index}"
        output = [name for name, _ in duck.describe(con, relation)]
    finally:
        con.close()
    source = dataset_lineage("file://", "/data/orders.csv", ORDER_COLUMNS)
    chained = chain_lineage(steps, output, source)
    assert chained == {
        "datasets": [["file://", "/data/orders.csv"]],
        "columns": {
            "order_id": [[0, "id", "direct", "IDENTITY"]],
            "Price": [[0, "Price", "direct", "IDENTITY"]],
            "net": [[0, "Price", "direct", "TRANSFORMATION"]],
        },
        "dataset": [[0, "quantity", "indirect", "FILTER"]],
    }
    assert chain_lineage(steps, output, None) is None  # nothing to carry from an input without lineage

    customers = dataset_lineage("postgres://db:5432", "shop.public.customers", list(CUSTOMERS))
    joined = carry(
        "SELECT l.*, r.segment FROM input_0 AS l JOIN input_1 AS r ON l.order_id = r.customer_id",
        {"input_0": (output, chained), "input_1": (list(CUSTOMERS), customers)},
        [*output, "segment"],
    )
    assert joined is not None
    assert joined["datasets"] == [
        ["file://", "/data/orders.csv"],
        ["postgres://db:5432", "shop.public.customers"],
    ]
    assert joined["columns"]["segment"] == [[1, "segment", "direct", "IDENTITY"]]
    assert joined["columns"]["net"] == [[0, "Price", "direct", "TRANSFORMATION"]]
    assert joined["dataset"] == [
        [0, "quantity", "indirect", "FILTER"],
        [0, "id", "indirect", "JOIN"],
        [1, "customer_id", "indirect", "JOIN"],
    ]
    assert carry("SELECT nonsense(", {"input_0": (output, chained)}, ["x"]) == {
        "datasets": [["file://", "/data/orders.csv"]],
        "columns": {"x": []},
        "dataset": [[0, "quantity", "indirect", "FILTER"]],
    }


# --- cost ----------------------------------------------------------------------------------------------


def test_a_30_column_select_and_a_50_node_chain_are_cheap() -> None:
    """Measured on a 2-core machine shared with other work: 2 ms for the SELECT and about 50 ms for the
    50 nodes (half of it parsing); the bounds leave room for a loaded machine."""
    columns = {f"Col {index}": [index] for index in range(30)}
    built = build(
        "select_columns",
        {
            "columns": [
                {"name": name, "rename": f"c{i}", "cast": "string" if i % 2 else None}
                for i, name in enumerate(columns)
            ]
        },
        {"t": columns},
    )
    column_lineage(built.plans["out"], built.relations, built.outputs["out"])  # imports sqlglot's dialect
    lineage._analyse.cache_clear()
    lineage._parse.cache_clear()
    started = time.process_time()
    found = column_lineage(built.plans["out"], built.relations, built.outputs["out"])
    single = time.process_time() - started
    assert found.columns["c1"] == (ColumnSource("input_0", "Col 1", "direct", "TRANSFORMATION"),)
    assert single < 0.1

    names = list(columns)
    nodes: dict[tuple[str, str], Any] = {}
    edges: dict[str, dict[str, tuple[str, str]]] = {}
    started = time.process_time()
    for index in range(50):
        relation = f"step_{index - 1}" if index else "input_0"
        sql = (
            f'SELECT * REPLACE (trim("Col {index % 30}") AS "Col {index % 30}"), "Col 1" * {index} AS "x{index}" '
            f'FROM {relation} WHERE "Col {index % 7}" IS NOT NULL'
        )
        output = [*names, f"x{index}"]
        nodes[(f"n{index}", "out")] = sql_lineage(sql, {relation: names}, output)
        edges[f"n{index}"] = {relation: (f"n{index - 1}", "out") if index else ("source", "out")}
        names = output
    traces = compose(nodes, edges, "n49")
    chain = time.process_time() - started
    assert traces["Col 29"].sources == (Origin("source", "out", "Col 29"),)
    assert traces["x49"].sources == (Origin("source", "out", "Col 1"),)
    assert chain < 1.0


def test_star_then_an_expression_duckdb_names_is_matched_by_position() -> None:
    found = column_lineage(
        "SELECT *, b * 2 FROM input_0", INPUTS, ["A", "b", "Odd Col!", "k", "t", "(b * 2)"]
    )
    assert found.columns["(b * 2)"] == (ColumnSource("input_0", "b", "direct", "TRANSFORMATION"),)
    assert found.columns["t"] == identity("input_0", "t")
