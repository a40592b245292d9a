// The pipeline's own settings (everything but nodes and edges), as JSON Schema so the same form renderer
// draws them and messages can name their fields by title.
import type { JsonSchema, Spec } from "../api/types";
import { t as translateNow, type Translate } from "../i18n";

/** Pipeline-level settings, described as JSON Schema so the same form renderer draws them; built per call
 * so its titles and help are in the language shown now. */
export function pipelineSettingsSchema(t: Translate = translateNow): JsonSchema {
  return {
    type: "object",
    required: ["name"],
    properties: {
      name: { type: "string", title: t("Name") },
      description: { type: "string", "x-logidata-widget": "text", title: t("Description"), description: t("Markdown; becomes the DAG docs.") },
      owner: { type: "string", title: t("Owner") },
      tags: { type: "array", items: { type: "string" }, title: t("Tags") },
      schedule: {
        anyOf: [{ type: "string" }, { type: "null" }],
        title: t("Schedule"),
        description: t("Cron (0 6 * * *) or a preset (@daily, @hourly, @once); empty: manual runs only."),
      },
      start_date: { anyOf: [{ type: "string" }, { type: "null" }], title: t("Start date"), description: t("YYYY-MM-DD or an ISO date-time (UTC).") },
      catchup: { type: "boolean", title: t("Catch up"), default: false, description: t("Run missed intervals since the start date.") },
      retries: { type: "integer", title: t("Retries"), default: 0 },
      retry_delay: { type: "number", title: t("Retry delay (s)"), description: t("Seconds (or an ISO 8601 duration in the JSON, e.g. PT5M).") },
      fuse: {
        type: "string",
        enum: ["none", "chains", "paths"],
        title: t("Fuse"),
        default: "none",
        description: t(
          "Fewer tasks. chains: each linear run of transforms in one task. paths: also a file source → transforms → PostgreSQL or file destination in one task, nothing staged.",
        ),
      },
      engine: { type: "string", enum: ["auto", "etl", "elt"], title: t("Engine"), default: "auto", description: t("auto pushes PostgreSQL-only paths down as SQL (ELT).") },
    },
  };
}

/** The settings the form shows (the spec's other keys: id, status, ... are not edited there). */
const SETTINGS = new Set(Object.keys(pipelineSettingsSchema().properties as object));

export type PipelineMeta = Omit<Spec, "nodes" | "edges">;

/** The settings field a pipeline-wide issue names (`schedule`, `tags[0]` → `tags`), or null. */
export function settingsField(path: string): string | null {
  const head = path.split(/[.[]/)[0];
  return head && SETTINGS.has(head) ? head : null;
}
