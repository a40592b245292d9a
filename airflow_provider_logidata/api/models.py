"""Request and response shapes of the builder API (the UI's TypeScript types are generated from them).

Request bodies are strict (``extra="forbid"``) so a misspelt field is a 422 naming it, never ignored.
Pipeline documents travel as plain JSON objects: a draft may be anything the store accepts, and a stored
pipeline whose modules were removed must still load; the OpenAPI document still types them as ``Spec``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from airflow_provider_logidata.store.layout import MAX_MESSAGE_LENGTH

SPEC_REF = "#/components/schemas/Spec"
DOCUMENT_REF = "#/components/schemas/PipelineDocument"
# Placeholder replaced by ``{"$ref": SPEC_REF}`` (or DOCUMENT_REF) when the OpenAPI document is built
# (pydantic cannot emit a reference to a schema it does not generate itself).
SPEC_MARKER = "x-logidata-spec"

# A pipeline document sent by the client: validated by the spec validator (so drafts may be
# incomplete), documented as Spec (what a client should send).
PipelineDoc = Annotated[dict[str, Any], WithJsonSchema({"type": "object", SPEC_MARKER: "spec"})]
# A pipeline document in an answer: what the store holds. A draft or a hand-written file need not match
# Spec (wrong types, unknown keys, over-long texts are kept for the user to fix, listed in ``errors``),
# so answers promise only a JSON object with the keys the canvas needs (see convert.with_defaults).
StoredDoc = Annotated[dict[str, Any], WithJsonSchema({"type": "object", SPEC_MARKER: "document"})]


def _utc(value: dt.datetime) -> dt.datetime:
    """Naive times are UTC (Airflow's and the store's convention); answers always carry the offset."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


# A point in time in an answer: RFC 3339 in UTC (``2024-05-01T12:00:00Z``), never a naive local time.
Timestamp = Annotated[dt.datetime, AfterValidator(_utc)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    # Fields with defaults are still always present in answers: mark them required for the TS types.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


# ---------------------------------------------------------------- errors


class Issue(_Response):
    """One problem: where (JSON path inside the pipeline document or the request), what, which node."""

    # node_id is always present (null for pipeline-wide problems); found/allowed only when known.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"required": ["path", "message", "node_id"]})

    path: str
    message: str
    node_id: str | None = None
    found: str | None = None
    allowed: str | None = None
    field: str | None = Field(
        None, description="The node's config field at fault, e.g. condition or checks[0].column."
    )
    severity: Literal["error", "warning"] = Field(
        "error", description="A warning (a source whose columns could not be read) does not block saving."
    )


class Error(_Response):
    detail: str
    errors: list[Issue] = Field(default_factory=list)


# ---------------------------------------------------------------- pipelines


class StoredPipeline(_Response):
    pipeline: StoredDoc = Field(
        description="The stored document; it matches Spec when `errors` is empty (drafts may not)."
    )
    etag: str
    version: int
    saved_at: Timestamp | None
    errors: list[Issue] = Field(description="Current validation issues; empty when the pipeline is valid.")


class Conflict(Error):
    current: StoredPipeline | None = Field(
        description="What is stored now (null when it was deleted meanwhile or is unreadable)."
    )
    yours: dict[str, Any] | None = Field(
        description="The document you tried to save, as sent (null for a delete or a restore)."
    )


class RunBrief(_Response):
    run_id: str
    state: str | None
    start_date: Timestamp | None
    end_date: Timestamp | None


class PipelineSummary(_Response):
    id: str
    name: str
    description: str | None
    status: str
    tags: list[str]
    etag: str
    version: int
    saved_at: Timestamp | None
    node_count: int
    valid: bool
    error: str | None
    last_run: RunBrief | None


class PipelineList(_Response):
    pipelines: list[PipelineSummary]


VersionMessage = Annotated[
    str | None,
    Field(
        None,
        max_length=MAX_MESSAGE_LENGTH,
        description="What changed and why, shown in the history (one line; optional).",
    ),
]


class SaveBody(_Request):
    pipeline: PipelineDoc
    message: VersionMessage = None


class UpdateBody(_Request):
    pipeline: PipelineDoc
    expected_etag: str = Field(min_length=1, description="The etag you loaded; a stale one is a 409.")
    message: VersionMessage = None


class DuplicateBody(_Request):
    new_id: str = Field(min_length=1, max_length=200)
    name: str | None = Field(None, max_length=200)


class RestoreBody(_Request):
    version: int = Field(ge=1)
    expected_etag: str | None = Field(
        None, description="Etag of the current version; null recreates a deleted pipeline."
    )
    message: VersionMessage = None


class Version(_Response):
    version: int
    etag: str
    saved_at: Timestamp | None
    author: str | None
    status: str
    message: str | None = None


class History(_Response):
    versions: list[Version]


class DeletedPipelineOut(_Response):
    id: str
    name: str | None
    last_version: int = Field(description="The version a restore brings back.")
    deleted_at: Timestamp | None
    author: str | None = Field(description="Who saved that version (the store does not record deletes).")


class DeletedList(_Response):
    pipelines: list[DeletedPipelineOut]


class ChangeOut(_Response):
    kind: Literal["pipeline", "node", "edge"]
    action: Literal["added", "removed", "changed"]
    node: str | None = Field(description="The node's id, for node changes.")
    field: str | None = Field(description="Dotted path inside the node or pipeline, e.g. `config.sep`.")
    before: Any
    after: Any
    edge: dict[str, str | None] | None = Field(description="source, source_port, target, target_port.")
    module: str | None
    text: str = Field(description="The change as one line, as `logidata diff` prints it.")


class VersionDiff(_Response):
    from_version: int
    to_version: int
    changes: list[ChangeOut]
    text: str


class VersionDocument(_Response):
    pipeline: StoredDoc
    version: int


class ColumnOut(_Response):
    name: str
    type: str = Field(description="DuckDB's type name, as the engine binds it.")


class ColumnOriginOut(_Response):
    node_id: str
    port: str
    column: str
    kind: Literal["direct", "indirect"] = "direct"


class NodeSchemaOut(_Response):
    """A node's output columns per port, known without running it."""

    node_id: str
    status: Literal["known", "unknown", "error"]
    reason: str | None = Field(None, description="Why the columns are unknown, or what is wrong.")
    ports: dict[str, list[ColumnOut]] = Field(default_factory=dict)
    lineage: dict[str, dict[str, list[ColumnOriginOut]]] = Field(
        default_factory=dict, description="port -> output column -> the upstream columns it comes from."
    )


class NodeEngineOut(_Response):
    """Where a run executes the node: inside PostgreSQL (ELT) or in the engine, and why not pushed down."""

    engine: Literal["postgres", "engine"]
    reason: str | None = None


class ValidateBody(_Request):
    pipeline: PipelineDoc
    read_sources: bool = Field(
        True,
        description="Read each source's columns (files, tables, first API page) through its connection, "
        "to check every node's columns; false: structure only.",
    )
    refresh: bool = Field(False, description="Read the sources again instead of using remembered columns.")


class Validation(_Response):
    valid: bool
    errors: list[Issue]
    warnings: list[Issue] = Field(default_factory=list)
    schemas: dict[str, NodeSchemaOut] = Field(
        default_factory=dict, description="Per node id: its output columns, as far as they are known."
    )
    engines: dict[str, NodeEngineOut] = Field(
        default_factory=dict,
        description="Per node id of a valid pipeline: where a run executes it (ELT pushdown or the engine).",
    )


# ---------------------------------------------------------------- runs


class RunBody(_Request):
    conf: dict[str, Any] = Field(default_factory=dict, description="DAG run conf (the DAG's params).")
    unpause: bool = Field(
        True, description="Unpause the DAG if it is paused, so the run starts (as Airflow's trigger form)."
    )


class RunCreated(_Response):
    dag_id: str
    run_id: str
    state: str
    unpaused: bool = Field(False, description="True when the DAG was paused and this request unpaused it.")


class NodeRun(_Response):
    task_id: str
    state: str | None
    rows_in: int | None
    rows_out: int | None
    seconds: float | None
    engine: Literal["etl", "elt"] | None


class Run(RunBrief):
    nodes: dict[str, NodeRun]


class RunList(_Response):
    dag_found: bool
    runs: list[Run]


# ---------------------------------------------------------------- palette, connections, user


class Module(_Response):
    name: str
    category: Literal["source", "transform", "destination"]
    label: str
    description: str
    icon: str
    min_inputs: int
    max_inputs: int | None
    input_ports: list[str]
    outputs: list[str]
    config_schema: dict[str, Any]
    docs: str
    pack: str = Field(
        "", description="The distribution (module pack) that installed the module; empty for a built-in one."
    )


class ModulePackError(_Response):
    """A module pack, or one module of it, that was not loaded: the other modules are unaffected."""

    distribution: str = Field(description="The installed distribution that declares the entry point.")
    entry_point: str = Field(description="The entry point's name in the 'logidata.modules' group.")
    message: str = Field(description="Why it was not loaded, and what to fix.")


class ModuleList(_Response):
    modules: list[Module]
    pack_errors: list[ModulePackError] = Field(
        default_factory=list, description="Installed module packs that failed to load."
    )


class Connection(_Response):
    conn_id: str
    conn_type: str
    description: str | None


class ConnectionList(_Response):
    connections: list[Connection]


class Me(_Response):
    """The logged-in user and what the builder may offer them.

    ``GET /me?pipeline_id=<id>`` answers ``can_edit`` / ``can_run`` for that DAG, as the routes decide
    them, so auth managers with per-DAG grants (FAB, Keycloak, ...) get a canvas that matches what the
    API accepts; without ``pipeline_id`` they are the answers for DAGs in general.
    """

    username: str
    can_edit: bool = Field(
        description=(
            "DAG edit (PUT) permission: on the pipeline's dag_id when pipeline_id was given (may save, "
            "preview, suggest; else the canvas is read-only), else on DAGs in general (may create pipelines)."
        )
    )
    can_run: bool = Field(
        description=(
            "DAG run create permission (what Airflow's trigger endpoint checks): on the pipeline's dag_id "
            "when pipeline_id was given (Run now), else on DAGs in general."
        )
    )
    llm: bool = Field(False, description="A logidata_llm connection exists: Describe a step is available.")
