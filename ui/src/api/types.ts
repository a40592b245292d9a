// Names the UI uses for the API's shapes. Everything is derived from the generated `schema.d.ts`
// (from ui/openapi.json), so a contract change shows up as a type error here and nowhere else.
import type { components } from "./schema";

type Schemas = components["schemas"];

/**
 * A problem, per node and config field. `severity` is optional here: the answers of `/validate` always
 * carry it, but the issues of a refused save (`Error.errors`) and of a stored pipeline leave it out for
 * an error. Read it with `isWarning` (graph/errors.ts).
 */
export type Issue = Omit<Schemas["Issue"], "severity"> & { severity?: Schemas["Issue"]["severity"] };
export type Me = Schemas["Me"];
export type Module = Schemas["Module"];
export type Spec = Schemas["Spec"];
/** A pipeline document as stored (answers): see api/document.ts before using it as a Spec. */
export type PipelineDocument = Schemas["PipelineDocument"];
export type SpecNode = Schemas["SpecNode"];
export type SpecEdge = Schemas["SpecEdge"];
export type StoredPipeline = Schemas["StoredPipeline"];
export type PipelineSummary = Schemas["PipelineSummary"];
export type Conflict = Schemas["Conflict"];
export type Validation = Schemas["Validation"];
/** A node's output columns per port (DuckDB types) and their column-level lineage, known without running. */
export type NodeSchema = Schemas["NodeSchemaOut"];
export type ColumnOut = Schemas["ColumnOut"];
export type ColumnOrigin = Schemas["ColumnOriginOut"];
/** Where a run executes a node: inside PostgreSQL (ELT pushdown) or in the engine, and why not pushed. */
export type NodeEngine = Schemas["NodeEngineOut"];
/** Per node id, as `/validate` answers (`Validation.schemas`). */
export type NodeSchemas = Validation["schemas"];
export type Run = Schemas["Run"];
export type NodeRun = Schemas["NodeRun"];
export type RunList = Schemas["RunList"];
export type RunCreated = Schemas["RunCreated"];
export type Connection = Schemas["Connection"];
export type ApiErrorBody = Schemas["Error"];
export type DismissedSuggestions = Schemas["DismissedSuggestions"];
/** One saved version in a pipeline's history (`GET /pipelines/{id}/history`, newest first). */
export type Version = Schemas["Version"];
export type History = Schemas["History"];
/** One saved version's document: read it with `specFromDocument` (api/document.ts). */
export type VersionDocument = Schemas["VersionDocument"];
/** What changed between two versions; canvas moves are not changes. */
export type VersionDiff = Schemas["VersionDiff"];
export type Change = Schemas["ChangeOut"];
/** A deleted pipeline, restorable with `api.restore(id, last_version, null)`. */
export type DeletedPipeline = Schemas["DeletedPipelineOut"];
export type DeletedList = Schemas["DeletedList"];

/** A JSON Schema object as found in `Module.config_schema` (kept loose: it is data, not a contract). */
export type JsonSchema = { [key: string]: unknown };
