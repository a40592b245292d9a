"""The suggestion engine around the rules: ranking, dismissing, effects, checks, clustering helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import base_rows, padded, table, typos

from airflow_provider_logidata.suggest import check_suggestion, suggest
from airflow_provider_logidata.suggest.cluster import cluster_values, fingerprint, ngram_fingerprint
from airflow_provider_logidata.suggest.effect import ProposalError, apply_nodes
from airflow_provider_logidata.suggest.model import ProposedNode, Suggestion
from airflow_provider_logidata.suggest.registry import RULES, register_rule
from airflow_provider_logidata.suggest.rules.names import snake_case, snake_names
from airflow_provider_logidata.suggest.rules.personal import iban_valid
from airflow_provider_logidata.suggest.sample import open_connection


def _dirty() -> pa.Table:
    import random

    rows = base_rows(11, 500)
    rows = padded(rows, 0.1, random.Random(1))
    rows = rows + [dict(r) for r in rows[:40]]
    return table(rows)


def test_ranked_by_severity_then_confidence_and_dismissable() -> None:
    found = suggest(_dirty())
    keys = [s.rank_key() for s in found]
    assert keys == sorted(keys, reverse=True)
    assert found[0].rule == "exact_duplicates"
    assert found[0].effect is not None and found[0].effect.rows_after == found[0].effect.rows_before - 40
    again = suggest(_dirty(), dismissed=[found[0].id])
    assert found[0].id not in {s.id for s in again}
    assert {s.id for s in again} == {s.id for s in found} - {found[0].id}


def test_ids_are_stable_between_runs() -> None:
    assert [s.id for s in suggest(_dirty())] == [s.id for s in suggest(_dirty())]


def test_effect_counts_changed_cells_with_examples() -> None:
    t = pa.table({"city": [" Paris", "Lyon", "Nice  x"], "n": [1, 2, 3]})
    (item,) = suggest(t, only=["padded_text"])
    assert item.effect is not None
    assert (item.effect.rows_before, item.effect.rows_after, item.effect.cells_changed) == (3, 3, 2)
    assert {"column": "city", "before": " Paris", "after": "Paris"} in item.effect.examples


def test_a_rule_proposing_an_invalid_node_is_dropped_not_shown() -> None:
    @register_rule("broken_for_test", "proposes a node the engine refuses")
    def broken(sample: object) -> list[Suggestion]:
        node = ProposedNode("fill_nulls", {"fills": [{"column": "missing", "strategy": "median"}]}, "bad")
        return [Suggestion("broken", "broken_for_test", "t", "1 of 1", 0.9, "r", "high", [], [node])]

    @register_rule("crashing_for_test", "raises")
    def crashing(sample: object) -> list[Suggestion]:
        raise RuntimeError("boom")

    try:
        found = suggest(pa.table({"a": [1, 2, 3]}))
        assert "broken" not in {s.id for s in found}
    finally:
        RULES.pop("broken_for_test")
        RULES.pop("crashing_for_test")


def test_check_refuses_a_suggestion_whose_columns_changed() -> None:
    t = pa.table({"city": [" Paris", "Lyon"], "n": [1, 2]})
    (item,) = suggest(t, only=["padded_text"])
    assert check_suggestion(t, item.as_dict()) is None
    renamed = t.rename_columns(["town", "n"])
    reason = check_suggestion(renamed, item.as_dict(), node_id="clean")
    assert reason is not None and "'city'" in reason and "town" in reason and "node 'clean'" in reason
    # The column is there but no longer text: the node itself is refused by the engine, with why.
    retyped = pa.table({"city": [1, 2], "n": [1, 2]})
    reason = check_suggestion(retyped, item.as_dict(), node_id="clean")
    assert reason is not None and "not text" in reason


def test_apply_nodes_refuses_unknown_modules_and_bad_configs() -> None:
    t = pa.table({"a": [1]})
    with pytest.raises(ProposalError, match="unknown module"):
        apply_nodes(t, [ProposedNode("nope", {}, "x")])
    with pytest.raises(ProposalError, match="invalid config"):
        apply_nodes(t, [ProposedNode("deduplicate", {"keep": "middle"}, "x")])


def test_fingerprints() -> None:
    assert fingerprint("Saint-Étienne") == fingerprint("saint etienne") == fingerprint("Etienne, Saint")
    assert ngram_fingerprint("New York") == ngram_fingerprint("newyork")


def test_clustering_maps_rare_typos_to_the_frequent_spelling_only() -> None:
    counts = {"bordeaux": 300, "bordeau": 4, "nice": 200, "nile": 150, "toulouse": 250, "tolouse": 3}
    con = open_connection()
    try:
        clusters = {c.canonical: set(c.members) for c in cluster_values(counts, con)}
    finally:
        con.close()
    assert clusters == {"bordeaux": {"bordeau"}, "toulouse": {"tolouse"}}  # nice/nile: both frequent


def test_typos_mapping_targets_the_canonical_spelling() -> None:
    import random

    t = table(typos(base_rows(3, 1000), 0.05, random.Random(2)))
    (item,) = suggest(t, only=["spelling_variants"])
    mapping = item.nodes[0].config["mapping"]
    assert set(mapping.values()) <= {"Paris", "Lyon", "Marseille", "Toulouse", "Bordeaux", "Strasbourg",
                                     "Nantes", "Montpellier", "Rennes", "Grenoble", "Dijon", "Angers",
                                     "Brest", "Limoges", "Amiens"}  # fmt: skip


def test_snake_case_names() -> None:
    assert snake_case(" Amount ($)") == "amount"
    assert snake_case("customerId") == "customer_id"
    assert snake_case("HTTPStatus") == "http_status"
    assert snake_case("2nd Address") == "c_2nd_address"
    assert snake_names(["Order ID", "order_id"]) == {"Order ID": "order_id_2"}


def test_iban_check_digits() -> None:
    assert iban_valid("FR14 2004 1010 0505 0001 3M02 606")
    assert not iban_valid("FR15 2004 1010 0505 0001 3M02 606")


def test_personal_data_uses_md5_for_elt_pipelines() -> None:
    from airflow_provider_logidata.suggest import PipelineContext

    t = pa.table({"email": [f"u{i}@example.com" for i in range(20)]})
    etl = suggest(t, only=["personal_data"])
    elt = suggest(t, only=["personal_data"], pipeline=PipelineContext(engine="elt"))
    assert etl[0].nodes[0].config["columns"][0]["expression"] == 'sha256("email")'
    assert elt[0].nodes[0].config["columns"][0]["expression"] == 'md5("email")'


def test_ten_thousand_rows_are_handled() -> None:
    """A full-size sample (latency is measured by `make bench`, section suggest)."""
    import random

    rows = padded(base_rows(9, 10_000), 0.05, random.Random(3))
    found = suggest(table(rows))
    assert any(item.rule == "padded_text" for item in found), [item.rule for item in found]


def test_odd_tables_give_no_errors() -> None:
    import datetime as dt
    import decimal

    assert suggest(pa.table({})) == []
    assert suggest(pa.table({"a": pa.array([], pa.int64())})) == []
    odd = pa.table(
        {
            "l": [[1, 2], [3], None] * 20,
            "s": [{"x": 1}, {"x": 2}, None] * 20,
            "bin": [b"a", b"b", None] * 20,
            "d": [decimal.Decimal("1.50"), None, decimal.Decimal("2.25")] * 20,
            "ts": [dt.datetime(2024, 1, 1), None, dt.datetime(2024, 1, 2)] * 20,
            'quote"name': ["a", "b", "c"] * 20,
        }
    )
    found = {s.rule for s in suggest(odd)}
    assert {"exact_duplicates", "messy_names", "nulls"} <= found


def test_check_refuses_nodes_that_read_files() -> None:
    t = pa.table({"a": [1, 2]})
    for condition in ("len(read_text('/etc/passwd')) > 0", "a IN (SELECT 1)"):
        suggestion = {
            "columns": ["a"],
            "nodes": [{"module": "filter_rows", "config": {"condition": condition}}],
        }
        reason = check_suggestion(t, suggestion)
        assert reason is not None and "not allowed" in reason


@pytest.mark.parametrize(
    ("values", "cast"),
    [
        (["43.57", "30.90", "12.00", "7.25", "1.10"], "decimal"),
        (["3", "14", "-2", "7", "1"], "integer"),
        (["3.5", "14.25", "0.125", "7", "1e3"], "float"),
        (["true", "false", "yes", "no", "true"], "boolean"),
    ],
)
def test_number_casts_keep_the_values(values: list[str], cast: str) -> None:
    (item,) = suggest(pa.table({"v": values}), only=["numbers_as_text"])
    (column,) = item.nodes[0].config["columns"]
    assert column == {"name": "v", "cast": cast}


def test_codes_with_leading_zeros_stay_text() -> None:
    assert (
        suggest(pa.table({"zip": ["01234", "75001", "13001", "06000", "69001"]}), only=["numbers_as_text"])
        == []
    )
