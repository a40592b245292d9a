"""Pipeline spec v1: the contract between the builder, the store, the DAG factory and the engine."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator
from pydantic_core import PydanticCustomError

SPEC_VERSION: Literal[1] = 1

# dag_id and task_id rules of Airflow (KEY_REGEX); node ids take no dots because Airflow reserves dotted
# task ids for task groups.
PIPELINE_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
NODE_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]*$"

SCHEDULE_PRESETS = (
    "@once",
    "@continuous",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@quarterly",
    "@yearly",
)

PipelineId = Annotated[str, Field(min_length=1, max_length=200, pattern=PIPELINE_ID_PATTERN)]
NodeId = Annotated[str, Field(min_length=1, max_length=200, pattern=NODE_ID_PATTERN)]
Port = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Position(_Strict):
    """Canvas position of a node; kept so the builder reopens the pipeline as it was drawn."""

    x: float = 0.0
    y: float = 0.0


class Node(_Strict):
    id: NodeId = Field(description="Unique within the pipeline; becomes the Airflow task_id.")
    module: str = Field(min_length=1, description="Name of a registered module, e.g. `source.file`.")
    label: str | None = Field(None, max_length=200, description="Display name on the canvas.")
    config: dict[str, Any] = Field(
        default_factory=dict, description="Validated by the module's own config model."
    )
    position: Position = Field(default_factory=Position)


class Edge(_Strict):
    source: NodeId = Field(description="Id of the node whose output flows along this edge.")
    target: NodeId = Field(description="Id of the node that reads it.")
    source_port: Port = Field("out", description="Output of the source node (for modules with several).")
    target_port: Port | None = Field(None, description="Named input of the target (joins: left/right).")


def _check_schedule(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if text.lower() in ("", "none", "null"):
        return None
    if text.startswith("@"):
        if text not in SCHEDULE_PRESETS:
            raise PydanticCustomError(
                "logidata", "unknown schedule preset", {"allowed": ", ".join(SCHEDULE_PRESETS)}
            )
        return text
    from croniter import croniter  # imported here: only pipelines with a cron schedule pay for it

    fields = text.split()
    if len(fields) != 5 or not croniter.is_valid(text):
        raise PydanticCustomError(
            "logidata",
            "invalid cron expression {cron}",
            {
                "cron": repr(text),
                "allowed": "5 fields 'minute hour day-of-month month day-of-week' such as "
                f"'0 6 * * *', a preset ({', '.join(SCHEDULE_PRESETS)}) or null",
            },
        )
    return text


class Pipeline(_Strict):
    """A pipeline document. Unknown keys are errors so that typos never pass silently."""

    spec_version: Literal[1] = Field(SPEC_VERSION, description="Version of this schema.")
    id: PipelineId = Field(description="Becomes the Airflow dag_id; must match the file name.")
    name: str = Field("", max_length=200, description="Display name (default: the id).")
    description: str = Field("", max_length=20_000, description="Markdown; shown as the DAG's docs.")
    owner: str = Field("airflow", min_length=1, max_length=100)
    tags: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default_factory=list)
    schedule: str | None = Field(
        None, description="Cron expression, preset (@daily, ...) or null for manual runs only."
    )
    start_date: Annotated[
        dt.datetime | None,
        # The validator takes a date ("2024-01-01", what the examples use) as well as a date-time.
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "format": "date-time"},
                    {"type": "string", "format": "date"},
                    {"type": "null"},
                ],
                "default": None,
            }
        ),
    ] = Field(
        None,
        description="First data interval: date or date-time (UTC unless a zone is given).",
    )
    catchup: bool = False
    retries: int = Field(0, ge=0, le=100)
    retry_delay: Annotated[
        dt.timedelta,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "number", "minimum": 0},
                    {"type": "string", "format": "duration"},
                ],
                "default": 300,
            }
        ),
    ] = Field(dt.timedelta(minutes=5), description="Seconds, or an ISO 8601 duration such as PT5M.")
    params: dict[str, Any] = Field(default_factory=dict, description="Airflow params of the DAG.")
    status: Literal["active", "draft"] = Field(
        "active", description="Drafts are stored but not turned into DAGs."
    )
    fuse: Literal["none", "chains", "paths"] = Field(
        "none",
        description="Tasks per node. none: one task per node. chains: each linear run of transforms "
        "in one task (no staging between them). paths: like chains, and a linear source.file -> "
        "transforms -> destination.postgres or destination.file path in one task, streaming from the "
        "reader into the load. The task log still reports rows and time per node.",
    )
    fuse_chains: bool = Field(
        False,
        description="Older form of fuse (true: chains); kept consistent with fuse, which wins when both "
        "are given.",
    )
    engine: Literal["auto", "etl", "elt"] = Field(
        "auto",
        description="Where transforms run. etl: in DuckDB over staged Parquet. auto: a linear "
        "source.postgres -> transforms -> destination.postgres path on one connection whose transforms "
        "all have a PostgreSQL builder runs as SQL inside PostgreSQL in one task (ELT, no rows leave the "
        "database); everything else as etl. elt: like auto, but a PostgreSQL destination that cannot be "
        "pushed down is an error naming the blocking node.",
    )
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _fuse_from_fuse_chains(cls, data: Any) -> Any:
        """``fuse_chains`` alone (documents written before ``fuse``): true means ``fuse: chains``."""
        if isinstance(data, dict) and "fuse" not in data and data.get("fuse_chains") is True:
            return {**data, "fuse": "chains"}
        return data

    @model_validator(mode="after")
    def _fuse_chains_from_fuse(self) -> Pipeline:
        """``fuse_chains`` always says whether transform chains are fused (``fuse`` chains or paths)."""
        self.fuse_chains = self.fuse != "none"
        return self

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return _check_schedule(value)

    @field_validator("retry_delay")
    @classmethod
    def _retry_delay(cls, value: dt.timedelta) -> dt.timedelta:
        if value < dt.timedelta(0):
            raise ValueError("retry_delay must not be negative")
        return value

    @property
    def fusion(self) -> Literal["none", "chains", "paths"]:
        """What the DAG factory fuses: ``fuse``, or ``chains`` for a model whose ``fuse_chains`` was set
        without validation (``model_copy(update={"fuse_chains": True})``)."""
        if self.fuse == "none" and self.fuse_chains:
            return "chains"
        return self.fuse

    @property
    def display_name(self) -> str:
        return self.name or self.id
