"""quality_check inside PostgreSQL (issue 14): the same verdict, the same ``out`` and ``rejected`` rows
and types, the same messages as the ETL engine, table-driven over every kind of row check and action,
against a real PostgreSQL; a failing check fails the task before anything is loaded."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.integration.test_elt_branches import _ok, _table

pytestmark = pytest.mark.integration

# Duplicates, nulls, values out of range, text that sorts differently by code point ('é' > 'z', as DuckDB
# compares) than in a language collation, a time zone, an earlier node's _rejected_reason.
CHECKED = """
CREATE TABLE checked (
    id int, code text, status text, amount numeric(8,2), qty bigint, day date, ts timestamptz,
    flag boolean, name text, _rejected_reason text
);
INSERT INTO checked VALUES
    (1, 'A1', 'ok', 10.50, 1, '2024-01-05', '2024-01-05 10:00+00', true, 'alice', NULL),
    (2, 'A2', 'late', 99.99, 2, '2024-06-30', '2024-06-30 23:30+02', false, 'bob', 'earlier'),
    (3, 'A2', 'lost', 100.01, 3, '2023-12-31', '2024-12-31 23:59:59+00', NULL, 'zoe', NULL),
    (4, NULL, NULL, NULL, NULL, NULL, NULL, true, NULL, NULL),
    (5, 'B7', 'ok', -0.01, 2, '2025-01-01', '2025-01-01 00:00+01', false, 'élodie', NULL),
    (6, 'B8', 'OK', 0.00, 5, '2024-02-29', '2024-02-29 12:00+00', true, 'Émile', NULL),
    (7, 'B9', 'late', 100.00, 2, '2024-12-31', '2023-12-31 23:00-02', false, 'z', NULL),
    (8, 'C1', 'ok', 5.25, 4, '2024-03-01', '2024-03-01 00:00+00', true, 'Zack', NULL)
"""

KINDS: list[dict[str, Any]] = [
    {"type": "not_null", "column": "code"},
    {"type": "unique", "column": "code"},
    {"type": "accepted_values", "column": "status", "values": ["ok", "late"]},
    {"type": "range", "column": "amount", "min": 0, "max": 100},
    {"type": "range", "column": "day", "min": "2024-01-01", "max": "2024-12-31"},
    {"type": "range", "column": "ts", "max": "2024-12-31 23:00:00+00"},
    {"type": "range", "column": "name", "max": "z"},
    {"type": "accepted_values", "column": "qty", "values": [1, "1.5", 4], "name": "known qty"},
    {"type": "accepted_values", "column": "flag", "values": [True]},
    {"type": "row_count_between", "min": 1, "max": 100},
]

CASES: dict[str, dict[str, Any]] = {
    "warn-every-kind": {"checks": KINDS, "action": "warn"},
    "quarantine-every-kind": {"checks": KINDS, "action": "quarantine"},
    "quarantine-with-keys": {"checks": KINDS[:4], "action": "quarantine", "keys": ["id"]},
    "quarantine-only-a-row-count": {
        "checks": [{"type": "row_count_between", "max": 3, "on_quarantine": "warn"}],
        "action": "quarantine",
    },
    "fail-but-every-row-passes": {
        "checks": [{"type": "not_null", "column": "id"}, {"type": "unique", "column": "id"}],
        "action": "fail",
    },
    # an editor's values are untrusted: quotes stay inside literals
    "quarantine-quoted-values": {
        "checks": [
            {"type": "accepted_values", "column": "status", "values": ["ok", "x'); DROP TABLE checked; --"]},
            {"type": "range", "column": "name", "min": "b'--", "name": "it's a name"},
        ],
        "action": "quarantine",
    },
    "quarantine-nothing-fails": {
        "checks": [{"type": "range", "column": "qty", "min": 1}],
        "action": "quarantine",
    },
}


def _checked(pid: str, conn_id: str, engine: str, suffix: str, config: dict[str, Any]) -> dict[str, Any]:
    """checked -> quality_check -> {out: a table, rejected: another table}."""
    nodes: list[dict[str, Any]] = [
        {"id": "rows", "module": "source.postgres", "config": {"conn_id": conn_id, "table": "checked"}},
        {"id": "check", "module": "quality_check", "config": copy.deepcopy(config)},
        {
            "id": "write_out",
            "module": "destination.postgres",
            "config": {"conn_id": conn_id, "table": f"out_{suffix}", "mode": "replace"},
        },
        {
            "id": "write_rejected",
            "module": "destination.postgres",
            "config": {"conn_id": conn_id, "table": f"rejected_{suffix}", "mode": "replace"},
        },
    ]
    edges = [
        {"source": "rows", "target": "check"},
        {"source": "check", "source_port": "out", "target": "write_out"},
        {"source": "check", "source_port": "rejected", "target": "write_rejected"},
    ]
    return {"id": pid, "engine": engine, "nodes": nodes, "edges": edges}


def _warnings(dag_run: Any, task_id: str) -> list[str]:
    ti = next(t for t in dag_run.get_task_instances() if t.task_id == task_id)
    return [str(line) for line in (ti.xcom_pull(task_ids=task_id) or {}).get("warnings", [])]


@pytest.mark.parametrize("case", list(CASES))
def test_checks_give_the_etl_engines_rows_and_types(
    run_pipeline: Any, pg: Any, pg_conn_id: str, case: str
) -> None:
    pg.execute(CHECKED)
    config = CASES[case]
    dag_run, _dag = run_pipeline(
        _checked(f"qc_etl_{case}".replace("-", "_"), pg_conn_id, "etl", "etl", config)
    )
    _ok(dag_run)
    dag_run, dag = run_pipeline(
        _checked(f"qc_elt_{case}".replace("-", "_"), pg_conn_id, "elt", "elt", config)
    )
    _ok(dag_run)
    assert len(dag.tasks) == 1  # the check and both tables: one task inside PostgreSQL
    for table in ("out", "rejected"):
        assert _table(pg, f"{table}_elt") == _table(pg, f"{table}_etl"), table
    if case == "quarantine-every-kind":
        reasons = dict(pg.execute("SELECT id, _rejected_reason FROM rejected_elt").fetchall())
        assert reasons[3] == (
            "unique(code); accepted_values(status); range(amount); range(day); range(ts); range(name); "
            "known qty"
        )
        # qty 2 is accepted ('1.5' reads as 2); the earlier node's reason is replaced
        assert reasons[2] == "unique(code); accepted_values(flag)"
        assert "range(name)" in reasons[5] and "range(name)" in reasons[6]  # 'é', 'É' > 'z' by code point
        assert [row[0] for row in pg.execute("SELECT id FROM out_elt").fetchall()] == [1, 8]


def _preview_error(data: dict[str, Any], node: str) -> str:
    from airflow_provider_logidata.engine.errors import LogiDataTaskError
    from airflow_provider_logidata.preview.execute import run_plan
    from airflow_provider_logidata.preview.plan import plan_preview

    with pytest.raises(LogiDataTaskError) as caught:
        run_plan(plan_preview(data, node, limit=100))
    return str(caught.value)


def test_a_failing_check_gives_the_etl_engines_message(pg: Any, pg_conn_id: str) -> None:
    pg.execute(CHECKED)
    config = {"checks": KINDS, "action": "fail", "keys": ["id"]}
    etl = _preview_error(_checked("qc_msg_etl", pg_conn_id, "etl", "m", config), "write_out")
    elt = _preview_error(_checked("qc_msg_elt", pg_conn_id, "auto", "m", config), "write_out")
    assert elt == etl
    assert "9 of 10 check(s) failed on 8 row(s)" in elt and "unique(code): 2 row(s) fail" in elt, elt


def test_a_failing_check_fails_the_task_and_loads_nothing(
    run_pipeline: Any, pg: Any, pg_conn_id: str
) -> None:
    pg.execute(CHECKED)
    pg.execute("CREATE TABLE out_f (id int); INSERT INTO out_f VALUES (42)")
    config = {"checks": [{"type": "not_null", "column": "code"}], "action": "fail"}
    dag_run, dag = run_pipeline(_checked("qc_fails", pg_conn_id, "auto", "f", config))
    assert [t.task_id for t in dag.tasks] == ["write_rejected"]
    assert str(dag_run.state) == "failed"
    assert pg.execute("SELECT * FROM out_f").fetchall() == [(42,)]
    assert pg.execute("SELECT to_regclass('public.rejected_f')").fetchone()[0] is None


def test_a_quarantine_evaluates_once_for_both_outputs(run_pipeline: Any, pg: Any, pg_conn_id: str) -> None:
    """A check over a volatile value still puts every row in exactly one table."""
    pg.execute(CHECKED)
    config = {"checks": [{"type": "range", "column": "amount", "max": 50}], "action": "quarantine"}
    spec = _checked("qc_volatile", pg_conn_id, "auto", "v", config)
    spec["nodes"].insert(
        1,
        {
            "id": "noisy",
            "module": "derive_column",
            "config": {"columns": [{"name": "amount", "expression": "CAST(random() * 100 AS DECIMAL(8,2))"}]},
        },
    )
    spec["edges"][0] = {"source": "rows", "target": "noisy"}
    spec["edges"].insert(1, {"source": "noisy", "target": "check"})
    dag_run, dag = run_pipeline(spec)
    _ok(dag_run)
    assert len(dag.tasks) == 1
    ti = next(t for t in dag_run.get_task_instances() if t.task_id == dag.tasks[0].task_id)
    assert "logidata_check_" in ti.xcom_pull(task_ids=dag.tasks[0].task_id)["sql"]
    ids = [r[0] for r in pg.execute("SELECT id FROM out_v UNION ALL SELECT id FROM rejected_v").fetchall()]
    assert sorted(ids) == list(range(1, 9))
    assert pg.execute("SELECT count(*) FROM out_v WHERE amount > 50").fetchone()[0] == 0


def test_a_regex_check_keeps_the_node_in_the_engine(run_pipeline: Any, pg: Any, pg_conn_id: str) -> None:
    pg.execute(CHECKED)
    config = {
        "checks": [{"type": "regex", "column": "code", "pattern": "A[0-9]"}],
        "action": "quarantine",
    }
    dag_run, dag = run_pipeline(_checked("qc_regex", pg_conn_id, "auto", "r", config))
    _ok(dag_run)
    assert len(dag.tasks) > 1
    rejected = [row[0] for row in pg.execute("SELECT code FROM rejected_r").fetchall()]
    assert rejected == ["B7", "B8", "B9", "C1"]  # the null code passes


def test_a_value_that_does_not_fit_the_column_gives_the_etl_engines_message(pg: Any, pg_conn_id: str) -> None:
    pg.execute(CHECKED)
    config = {"checks": [{"type": "range", "column": "day", "min": "2024-02-30"}], "action": "warn"}
    etl = _preview_error(_checked("qc_unfit_etl", pg_conn_id, "etl", "u", config), "write_out")
    elt = _preview_error(_checked("qc_unfit_elt", pg_conn_id, "auto", "u", config), "write_out")
    assert elt == etl and "'2024-02-30'" in elt, elt
