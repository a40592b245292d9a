// The pipeline's own settings (everything but nodes and edges), as JSON Schema so the same form renderer
// draws them and messages can name their fields by title.
import type { JsonSchema, Spec } from "../api/types";

/** Pipeline-level settings, described as JSON Schema so the same form renderer draws them. */
export const PIPELINE_SETTINGS_SCHEMA: JsonSchema = {
  type: "object",
  required: ["name"],
  properties: {
    name: { type: "string", title: "Name" },
    description: { type: "string", "x-logidata-widget": "text", title: "Description", description: "Markdown; becomes the DAG docs." },
    owner: { type: "string", title: "Owner" },
    tags: { type: "array", items: { type: "string" }, title: "Tags" },
    schedule: {
      anyOf: [{ type: "string" }, { type: "null" }],
      title: "Schedule",
      description: "Cron (0 6 * * *) or a preset (@daily, @hourly, @once); empty: manual runs only.",
    },
    start_date: { anyOf: [{ type: "string" }, { type: "null" }], title: "Start date", description: "YYYY-MM-DD or an ISO date-time (UTC)." },
    catchup: { type: "boolean", title: "Catch up", default: false, description: "Run missed intervals since the start date." },
    retries: { type: "integer", title: "Retries", default: 0 },
    retry_delay: { type: "number", title: "Retry delay (s)", description: "Seconds (or an ISO 8601 duration in the JSON, e.g. PT5M)." },
    fuse: {
      type: "string",
      enum: ["none", "chains", "paths"],
      title: "Fuse",
      default: "none",
      description:
        "Fewer tasks. chains: each linear run of transforms in one task. paths: also a file source → transforms → PostgreSQL or file destination in one task, nothing staged.",
    },
    engine: { type: "string", enum: ["auto", "etl", "elt"], title: "Engine", default: "auto", description: "auto pushes PostgreSQL-only paths down as SQL (ELT)." },
  },
};

export type PipelineMeta = Omit<Spec, "nodes" | "edges">;

/** The settings field a pipeline-wide issue names (`schedule`, `tags[0]` → `tags`), or null. */
export function settingsField(path: string): string | null {
  const head = path.split(/[.[]/)[0];
  return head && head in (PIPELINE_SETTINGS_SCHEMA.properties as object) ? head : null;
}
