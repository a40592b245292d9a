"""parse_dates pushed down to PostgreSQL gives the ETL engine's (DuckDB's strptime) results exactly.

Two levels, both against the real throw-away PostgreSQL: whole pipelines run with engine etl and engine
elt load the same rows with the same column types (and fail alike); and, many more values at less cost,
the PostgreSQL parsing function the builder creates reads every value of a table of formats and tricky
texts as DuckDB's ``try_strptime`` does.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

pytestmark = pytest.mark.integration

# (id, text) rows of table raw; ids order the comparisons.
DATE_TEXTS = [
    "2024-03-01",
    " 2024-3-1 ",  # surrounding white space, one-digit month and day
    "\u00a02024-03-02\t",  # Unicode white space around
    "2024-13-01",  # month 13
    "2024-00-10",
    "2024-02-30",  # no such day
    "2024-02-29",  # leap year
    "2023-02-29",  # not a leap year
    "1900-02-29",  # not a leap year (century)
    "2000-02-29",  # leap year (400)
    "2024-04-31",
    "01/03/2024",
    "1/3/2024",
    "31/12/1999",
    "01-mar-2024",
    "01-MAR-2024",
    "1-Sept-2024",  # %b takes three letters: no match
    "March 5, 2024",
    "march  5,  2024",  # a run of spaces matches a space of the format
    "MARCH 5,2024",  # the format's space needs one
    "20240301",
    "2024031",  # %Y%m%d: 2024, 03, 1
    "24-03-01",  # %Y takes fewer digits: year 24
    "2024-03-01x",
    "2024-03-01 10:20",  # a longer text than the format
    "n/a",
    "",
    "   ",
    None,
    "epoch",  # DuckDB reads 'epoch' whatever the format
    "2024\u00a003-01",
    "0-03-01",
    "0000-02-29",
]
DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d-%b-%Y", "%B %d, %Y", "%Y%m%d"]

TIMESTAMP_TEXTS = [
    "2024-03-01 10:20:30",
    "2024-03-01 10:20:30.5",  # a fraction is read as the digits after the point
    "2024-03-01 10:20:30.000001",
    "2024-03-01 10:20:30.123456",
    "2024-03-01 10:20:30.1234567",  # %f takes six digits at most
    "2024-03-01 10:20:30.",
    "2024-03-01 1:2:3",
    "2024-03-01 24:00:00",
    "2024-03-01 23:60:00",
    "2024-03-01 23:59:60",
    "2024-03-01T08:15:00",
    "2024-03-01t08:15:00",  # literals are case-sensitive
    "01/03/24 12:00 AM",  # midnight
    "01/03/24 12:00 PM",  # noon
    "01/03/24 12:30 am",
    "1/3/69 1:05 pm",  # %y 69 is 1969
    "01/03/68 11:59 PM",  # %y 68 is 2068
    "01/03/24 13:00 PM",  # %I is 1-12
    "01/03/24 00:00 AM",
    "01/03/24 9:00 P.M.",
    "2024-060",  # day of the year: 29 February
    "2023-060",
    "2024-366",
    "2023-366",
    "2024-000",
    "10:20",  # a time alone: 1900-01-01
    "Fri 01 Mar 2024 07:08:09",  # %c would be ISO; %a ... is read and not checked
    "Sat 01 Mar 2024 07:08:09",
    "2024-02-29 23:59:59.999999",
    "",
    None,
    "soon",
]
TIMESTAMP_FORMATS = [
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%d/%m/%y %I:%M %p",
    "%Y-%j",
    "%H:%M",
    "%a %d %b %Y %X",
]


def spec(pid: str, conn_id: str, engine: str, table: str, config: dict[str, Any]) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"id": "read", "module": "source.postgres", "config": {"conn_id": conn_id, "table": "raw"}},
        {"id": "parse", "module": "parse_dates", "config": config},
        {
            "id": "write",
            "module": "destination.postgres",
            "config": {"conn_id": conn_id, "table": table, "mode": "replace"},
        },
    ]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"id": pid, "engine": engine, "nodes": nodes, "edges": edges}


def load_texts(pg: Any, texts: list[str | None]) -> None:
    pg.execute("CREATE TABLE raw (id int, v text, w varchar(40))")
    with pg.cursor() as cur:
        cur.executemany("INSERT INTO raw VALUES (%s, %s, %s)", [(i, t, t) for i, t in enumerate(texts)])


def load_typed(pg: Any) -> None:
    """Columns that already hold dates and timestamps, and numbers parsed from their text."""
    pg.execute(
        "CREATE TABLE raw (id int, d date, ts timestamp(3), tz timestamptz, n bigint, amount numeric(12,2), "
        "t time, ok boolean, v text)"
    )
    pg.execute(
        "INSERT INTO raw VALUES"
        " (1, '2024-03-01', '2024-03-01 10:20:30.123', '2024-03-01 23:30:00+02', 20240301, 20240301.00,"
        " '10:20:30', true, '20240301'),"
        " (2, '1999-12-31', '1999-12-31 23:59:59.999', '2000-01-01 00:30:00-05', 19991231, 1.50,"
        " '23:59:59.5', false, NULL),"
        " (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ''),"
        " (4, '2024-02-29', '2024-02-29 00:00:00', '2024-02-29 00:00:00+00', 2024031, 0.00, '00:00:00', true,"
        " ' 2024-02-29 ')"
    )


def run_both(
    run_pipeline: Any, pg: Any, pg_conn_id: str, name: str, config: dict[str, Any]
) -> dict[str, Any]:
    """Run the pipeline with each engine; the destination's rows (by id) and column types, or None when
    the run failed."""
    results: dict[str, Any] = {}
    for engine in ("etl", "elt"):
        pid = f"parse_dates_{name}_{engine}"
        dag_run, dag = run_pipeline(spec(pid, pg_conn_id, engine, f"out_{engine}", config))
        if engine == "elt":
            assert [t.task_id for t in dag.tasks] == ["write"]
        else:
            assert [t.task_id for t in dag.tasks] == ["read", "parse", "write"]
        results[engine + "_state"] = str(dag_run.state)
        if str(dag_run.state) != "success":
            continue
        types = pg.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position",
            (f"out_{engine}",),
        ).fetchall()
        results[engine + "_types"] = types
        # As text: Python's dates have no year 0 (1 BC) and no infinity.
        texts = ", ".join(f'CAST("{column}" AS text)' for column, _ in types)
        results[engine] = pg.execute(f'SELECT {texts} FROM "out_{engine}" ORDER BY id').fetchall()
    return results


CASES = [
    pytest.param(
        "texts",
        DATE_TEXTS,
        {"columns": ["v", "w"], "formats": DATE_FORMATS, "target": "date", "on_error": "null"},
        id="dates",
    ),
    pytest.param(
        "texts",
        DATE_TEXTS,
        {"columns": ["v"], "formats": DATE_FORMATS, "target": "timestamp", "on_error": "null"},
        id="dates-to-timestamps",
    ),
    pytest.param(
        "texts",
        TIMESTAMP_TEXTS,
        {"columns": ["w", "v"], "formats": TIMESTAMP_FORMATS, "target": "timestamp", "on_error": "null"},
        id="timestamps",
    ),
    pytest.param(
        "texts",
        TIMESTAMP_TEXTS,
        {
            "columns": ["v"],
            "formats": list(reversed(TIMESTAMP_FORMATS)),
            "target": "date",
            "on_error": "null",
        },
        id="timestamps-to-dates-other-order",
    ),
    pytest.param(
        "typed",
        None,
        {
            "columns": ["d", "ts", "tz", "n", "amount", "t", "ok", "v"],
            "formats": ["%Y%m%d", "%H:%M:%S", "%H:%M:%S.%f", "%Y%m%d.00"],
            "target": "timestamp",
            "on_error": "null",
        },
        id="typed-columns-to-timestamps",
    ),
    pytest.param(
        "typed",
        None,
        {"columns": ["d", "ts", "tz", "n", "v"], "formats": ["%Y%m%d", "%Y-%m-%d"], "target": "date"},
        id="typed-columns-to-dates-fail-mode",
    ),
    pytest.param(
        "texts",
        ["2024-03-01", " 1/3/2024", "", None, "   ", "2024-02-29"],
        {"columns": ["v"], "formats": ["%Y-%m-%d", "%d/%m/%Y"], "on_error": "fail"},
        id="fail-mode-all-valid",
    ),
]


@pytest.mark.parametrize(("table", "texts", "config"), CASES)
def test_etl_and_elt_agree(
    run_pipeline: Any, pg: Any, pg_conn_id: str, table: str, texts: Any, config: dict[str, Any]
) -> None:
    if table == "typed":
        load_typed(pg)
    else:
        load_texts(pg, texts)
    results = run_both(run_pipeline, pg, pg_conn_id, "agree", config)
    assert results["etl_state"] == results["elt_state"] == "success", results
    assert results["elt_types"] == results["etl_types"]
    assert results["elt"] == results["etl"]
    target = "date" if config.get("target", "date") == "date" else "timestamp without time zone"
    for column, data_type in results["elt_types"]:
        if column in config["columns"]:
            assert data_type == target
    if table == "texts":
        assert any(row[1] is not None for row in results["elt"])  # some values parse
        if config["on_error"] == "null" and config["columns"] == ["v", "w"]:
            assert any(
                row[1] is None and text not in (None, "")
                for row, text in zip(results["elt"], texts, strict=True)
            )


def test_a_value_no_format_matches_fails_both_engines(run_pipeline: Any, pg: Any, pg_conn_id: str) -> None:
    load_texts(pg, ["2024-03-01", "2024-02-30", "03/01/2024", "", "2024-02-30", "soon", None])
    pg.execute("CREATE TABLE out_etl (id int, v date); INSERT INTO out_etl VALUES (42, '2000-01-01')")
    pg.execute("CREATE TABLE out_elt (id int, v date); INSERT INTO out_elt VALUES (42, '2000-01-01')")
    config = {"columns": ["v"], "formats": ["%Y-%m-%d"]}
    results = run_both(run_pipeline, pg, pg_conn_id, "fails", config)
    assert results["etl_state"] == results["elt_state"] == "failed"
    for engine in ("etl", "elt"):
        assert pg.execute(f"SELECT * FROM out_{engine}").fetchall() == [(42, dt.date(2000, 1, 1))]
    # The ELT engine's message, from the engine itself (the same code the task ran), is the ETL one's.
    message = run_elt_error(pg_conn_id, config)
    assert message == (
        "parse_dates node 'parse': column 'v': 4 value(s) match none of the formats %Y-%m-%d, "
        "e.g. '2024-02-30', '03/01/2024', 'soon'. Add a format that matches, fix the data upstream, or set "
        "on_error to 'null' to turn such values into nulls"
    )
    assert pg.execute("SELECT * FROM out_elt").fetchall() == [(42, dt.date(2000, 1, 1))]


def run_elt_error(conn_id: str, config: dict[str, Any]) -> str:
    from airflow_provider_logidata.engine.elt import EltStep, run_elt
    from airflow_provider_logidata.engine.errors import LogiDataTaskError
    from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig
    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig
    from airflow_provider_logidata.modules.transforms.parse_dates import ParseDatesConfig

    with pytest.raises(LogiDataTaskError) as raised:
        run_elt(
            "read",
            PostgresSourceConfig.model_validate({"conn_id": conn_id, "table": "raw"}),
            [EltStep("parse", "parse_dates", ParseDatesConfig.model_validate(config))],
            "write",
            PostgresDestinationConfig.model_validate(
                {"conn_id": conn_id, "table": "out_elt", "mode": "replace"}
            ),
        )
    return str(raised.value)


class RecordingLog:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, msg: str, /) -> None:
        self.lines.append(("info", msg))

    def warning(self, msg: str, /) -> None:
        self.lines.append(("warning", msg))


def test_on_error_null_logs_the_count(pg: Any, pg_conn_id: str) -> None:
    from airflow_provider_logidata.engine.elt import EltStep, run_elt
    from airflow_provider_logidata.modules.destinations.postgres import PostgresDestinationConfig
    from airflow_provider_logidata.modules.sources.postgres import PostgresSourceConfig
    from airflow_provider_logidata.modules.transforms.parse_dates import ParseDatesConfig

    load_texts(pg, ["2024-03-01", "2024-02-30", "", "x", None])
    log = RecordingLog()
    config = {"columns": ["v"], "formats": ["%Y-%m-%d", "%d.%m.%Y"], "on_error": "null"}
    result = run_elt(
        "read",
        PostgresSourceConfig.model_validate({"conn_id": pg_conn_id, "table": "raw"}),
        [EltStep("parse", "parse_dates", ParseDatesConfig.model_validate(config))],
        "write",
        PostgresDestinationConfig.model_validate({"conn_id": pg_conn_id, "table": "out", "mode": "replace"}),
        log=log,  # type: ignore[arg-type]
    )
    assert result["rows"] == 5
    assert (
        "warning",
        "parse_dates node 'parse': 2 value(s) in column 'v' match none of the formats %Y-%m-%d, %d.%m.%Y; "
        "they become null (on_error = null)",
    ) in log.lines
    assert pg.execute("SELECT v FROM out ORDER BY id").fetchall() == [(dt.date(2024, 3, 1),), *[(None,)] * 4]


# --- the parsing function, value by value against DuckDB's try_strptime --------------------------------

TRICKY = [
    "2024'; DROP TABLE t; --",
    "$logidata$ 2024 \\d",
    "2024-03-01",
    "2024-3-1",
    "2024-003-01",
    "24-03-01",
    "0-03-01",
    "0-02-29",
    "12024-03-01",
    "-2024-03-01",
    "2024-13-01",
    "2024-02-29",
    "2023-02-29",
    "2024-02-30",
    "\v2024-03-01\v",
    "2024- 3-01",
    "20240301",
    "2024031",
    "131",
    "1132",
    "01-Mar-2024",
    "01-mAR-2024",
    "01-March-2024",
    "01-Sept-2024",
    "Tuesday, March 5 2024",
    "Tue 05 Mar 2024 10:20:30",
    "2024-060",
    "060/2024",
    "2024 Mar 060",
    "2024 10 060",
    "2023 366",
    "1 PM",
    "12 AM",
    "0 PM",
    "13 PM",
    "12:30:45.5 pm",
    "10:20:30.000001",
    "10:20:30.1234567",
    "01/03/69",
    "01/03/68",
    "01/03/4",
    "100% 2024",
    "2024年03月01日",
    "infinity",
    "-Infinity",
    "EPOCH \v",
    "inf",
    "2024 03 01",
    "2024\t \n03 01",
    "202403 01",
]
FORMATS = [
    "%Y-%m-%d",
    "%Y%m%d",
    "%m%d",
    "%d-%b-%Y",
    "%d-%B-%Y",
    "%A, %B %-d %Y",
    "%a %d %h %Y %T",
    "%Y-%j",
    "%j/%Y",
    "%Y %b %j",
    "%Y %d %j",
    "%Y %j",
    "%I %p",
    "%H %p",
    "%I:%M:%S.%f %p",
    "%H:%M:%S.%f",
    "%H:%M:%S.%g",
    "%d/%m/%y",
    "100%% %Y",
    "%Y年%m月%d日",
    "%Y %m %d",
    " %Y",
    "%Y-%m-%d %H",
    # an editor's format is untrusted: quotes, the function body's dollar quote and backslashes stay text
    "%Y'; DROP TABLE t; --",
    "$logidata$ %Y \\d",
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_postgres_function_reads_as_duckdb(pg: Any, fmt: str) -> None:
    import duckdb

    from airflow_provider_logidata.engine.dialects import postgres_strptime

    name = "test_parse_dates_fn"
    pg.execute(postgres_strptime._FIELDS_CREATE)
    pg.execute(postgres_strptime.parse_function_sql(name, [postgres_strptime.pg_format(fmt)]))
    got = pg.execute(
        f"SELECT CAST(pg_temp.{name}(v) AS text) FROM unnest(%s::text[]) WITH ORDINALITY AS t(v, i) ORDER BY i",
        (TRICKY,),
    ).fetchall()
    duck = duckdb.connect()
    expected = duck.execute(
        "SELECT CAST(CAST(try_strptime(v, ?) AS TIMESTAMP) AS VARCHAR) FROM unnest(?::VARCHAR[]) "
        "WITH ORDINALITY AS t(v, i) ORDER BY i",
        [fmt, TRICKY],
    ).fetchall()
    assert [normal(row[0]) for row in got] == [normal(row[0]) for row in expected]
    assert any(row[0] is not None for row in expected) or fmt == " %Y"


def normal(text: str | None) -> str | None:
    """DuckDB's and PostgreSQL's text of one timestamp alike ('0001-03-01 (BC) 10:00:00' and
    '0001-03-01 10:00:00 BC'; fractions without trailing zeros)."""
    if text is None or "infinity" in text:
        return text
    bc = "BC" in text
    text = text.replace(" (BC)", "").replace(" BC", "")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + (" BC" if bc else "")
