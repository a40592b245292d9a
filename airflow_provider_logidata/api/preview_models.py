"""Request and answer shapes of ``POST /preview`` (``docs/preview-api.md``); conventions as in ``models``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from airflow_provider_logidata.api.models import PipelineDoc, _Request, _Response

# A JSON-safe cell: null, boolean, number, text (dates, decimals, binary, long text), or nested JSON.
Cell = Any


class PreviewBody(_Request):
    pipeline: PipelineDoc = Field(description="The pipeline document, saved or not.")
    node_id: str = Field(min_length=1, max_length=200, description="The node whose output to preview.")
    limit: int = Field(100, ge=1, le=1000, description="Rows to return.")
    sampling: Literal["head", "random"] = Field("head", description="First rows, or a random sample.")
    # DuckDB's REPEATABLE takes 0 .. 2**63-1; anything else was a parser error (500) in the worker.
    seed: int | None = Field(
        None,
        ge=0,
        le=2**63 - 1,
        description="Seed of a random sample (repeatable where the source allows).",
    )


class PreviewColumn(_Response):
    name: str
    type: str = Field(description="Engine (DuckDB) type name.")


class TopValue(_Response):
    value: Cell
    count: int


class Histogram(_Response):
    edges: list[float] = Field(description="11 bin edges, lowest first.")
    counts: list[int] = Field(description="10 bin counts.")


class ColumnProfile(_Response):
    name: str
    type: str
    null_share: float
    distinct_estimate: int
    min: Cell
    max: Cell
    top_values: list[TopValue]
    histogram: Histogram | None
    mean: float | None
    inferred: Literal["integer", "number", "date", "timestamp", "boolean"] | None = Field(
        description="For text columns: the type every non-blank value reads as."
    )


class PreviewInput(_Response):
    columns: list[PreviewColumn]
    rows: list[list[Cell]]


class Preview(_Response):
    node_id: str
    columns: list[PreviewColumn]
    rows: list[list[Cell]]
    truncated_cells: int
    profile: list[ColumnProfile]
    row_count_estimate: int | None
    sample_rows: int
    elapsed_ms: float
    engine: Literal["etl", "elt"]
    sql: str | None
    cached: bool
    input: PreviewInput | None
    row_status: list[Literal["kept", "removed", "changed"]] | None
    warnings: list[str] = Field(
        default_factory=list,
        description="Things the preview noticed that the pipeline's author should fix, e.g. a PostgreSQL "
        "connection that logs in as a superuser.",
    )
