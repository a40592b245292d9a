"""engine.csv_pin: a CSV source sniffed once, read with the sniffed dialect and types written out, must
read exactly what DuckDB's sniffing ``read_csv`` reads (table-driven over awkward files), and fall back
to the sniffing call when anything is unexpected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from airflow_provider_logidata.engine.csv_pin import pinned_read
from airflow_provider_logidata.engine.sources import csv_options, reader_sql
from airflow_provider_logidata.engine.sql import quote_literal
from airflow_provider_logidata.modules.sources.file import FileSourceConfig


def _many(header: str, row: str, count: int) -> str:
    return header + "".join(row.format(i=i) for i in range(count))


CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("plain", "id,name,amount\n1,Ann,1.5\n2,Bob,\n3,,2\n", {}),
    ("semicolons and day-first dates", "a;b;c\n1;02/03/2024;x\n2;13/12/2023;y\n", {"delimiter": ";"}),
    ("timestamps", "t,v\n2024-01-02 10:11:12,1\n2024-01-03 00:00:00.5,2\n", {}),
    ("quoted delimiters and doubled quotes", 'a,b\n"x,y","say ""hi"""\n"",z\n', {}),
    ("CRLF line endings", "a,b\r\n1,x\r\n2,y\r\n", {}),
    ("no header", "1,x\n2,y\n", {"header": False}),
    ("custom nulls", "a,b\n1,NA\nNA,x\n", {"null_values": ["NA"]}),
    ("all text", "a,b\n001,2024-01-02\n2,x\n", {"infer_types": False}),
    ("unicode", "ville,montant\nZürich,1\n東京,2\nstraße,3\n", {}),
    ("single quote as quote char", "a,b\n'x,y',1\n'z',2\n", {"quote": "'"}),
    ("a type decided beyond the sample", _many("n,v\n", "{i},a\n", 30_000) + "1.5,b\n", {}),
    ("bools and big integers", "f,n\ntrue,9223372036854775807\nfalse,-1\n", {}),
]


def _config(path: Path, options: dict[str, Any]) -> FileSourceConfig:
    csv = {key: options[key] for key in ("delimiter", "header", "quote", "null_values") if key in options}
    extra = {"infer_types": options["infer_types"]} if "infer_types" in options else {}
    return FileSourceConfig.model_validate({"path": str(path), "format": "csv", "csv": csv, **extra})


def _read(con: duckdb.DuckDBPyConnection, call: str) -> tuple[list[Any], list[tuple[Any, ...]]] | str:
    try:
        result = con.execute(f"SELECT * FROM {call}")
        return [(d[0], str(d[1])) for d in result.description], result.fetchall()
    except duckdb.Error as error:
        return type(error).__name__


@pytest.mark.parametrize(("text", "options"), [(t, o) for _, t, o in CASES], ids=[c[0] for c in CASES])
def test_pinned_read_reads_what_the_sniffing_read_reads(
    tmp_path: Path, text: str, options: dict[str, Any]
) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode("utf-8"))
    config = _config(path, options)
    sniffing = reader_sql(config, "csv", [str(path)])
    with duckdb.connect() as con:
        pinned = pinned_read(con, quote_literal(str(path)), csv_options(config), sniffing)
        assert pinned is not None and "auto_detect=false" in pinned
        assert _read(con, pinned) == _read(con, sniffing)


def test_a_value_breaking_the_sniffed_type_fails_both_reads(tmp_path: Path) -> None:
    """Integers for the whole sample, then a word: both reads fail the same way (no value made null)."""
    path = tmp_path / "late.csv"
    path.write_text(_many("n\n", "{i}\n", 30_000) + "five\n")
    config = _config(path, {})
    sniffing = reader_sql(config, "csv", [str(path)])
    with duckdb.connect() as con:
        pinned = pinned_read(con, quote_literal(str(path)), csv_options(config), sniffing)
        assert pinned is not None
        failures = [_read(con, call) for call in (pinned, sniffing)]
        assert isinstance(failures[0], str) and failures[0] == failures[1]
        texts = []
        for call in (pinned, sniffing):
            with pytest.raises(duckdb.Error) as raised:
                con.execute(f"SELECT * FROM {call}").fetchall()
            texts.append(str(raised.value))
        # The task's message comes from the first line (engine.sources.source_read_error): the same.
        assert texts[0].splitlines()[0] == texts[1].splitlines()[0] and "five" in texts[0]


def test_a_file_name_with_quotes_stays_one_literal(tmp_path: Path) -> None:
    path = tmp_path / 'it\'s, "odd".csv'
    path.write_text("a\n1\n")
    config = _config(path, {})
    sniffing = reader_sql(config, "csv", [str(path)])
    with duckdb.connect() as con:
        pinned = pinned_read(con, quote_literal(str(path)), csv_options(config), sniffing)
        assert pinned is not None
        assert _read(con, pinned) == ([("a", "BIGINT")], [(1,)])


@pytest.mark.parametrize("text", ["", "\n\n"], ids=["empty", "blank lines"])
def test_a_file_the_sniff_cannot_read_keeps_the_sniffing_call(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(text)
    config = _config(path, {})
    sniffing = reader_sql(config, "csv", [str(path)])
    with duckdb.connect() as con:
        pinned = pinned_read(con, quote_literal(str(path)), csv_options(config), sniffing)
        assert pinned is None or _read(con, pinned) == _read(con, sniffing)


def test_a_missing_file_keeps_the_sniffing_call(tmp_path: Path) -> None:
    path = tmp_path / "gone.csv"
    config = _config(path, {})
    sniffing = reader_sql(config, "csv", [str(path)])
    with duckdb.connect() as con:
        assert pinned_read(con, quote_literal(str(path)), csv_options(config), sniffing) is None
