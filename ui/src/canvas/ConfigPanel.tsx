// The right-hand drawer: the selected node's form (generated from its module's config schema), or the
// pipeline's own settings when nothing is selected.
import { Alert, Badge, Box, Button, Code, Field, Heading, Input, Stack, Text } from "@chakra-ui/react";
import type { Issue, JsonSchema, Module, Spec, SpecNode } from "../api/types";
import { fieldErrors } from "../graph/errors";
import { type ConnectionChoices, SchemaForm } from "../form/SchemaForm";

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
    fuse_chains: { type: "boolean", title: "Fuse chains", default: false, description: "Run each linear run of transforms inside one task." },
    engine: { type: "string", enum: ["auto", "etl", "elt"], title: "Engine", default: "auto", description: "auto pushes PostgreSQL-only paths down as SQL (ELT)." },
  },
};

export type PipelineMeta = Omit<Spec, "nodes" | "edges">;

interface NodePanelProps {
  node: SpecNode;
  module: Module | null;
  issues: Issue[];
  readOnly: boolean;
  connections: ConnectionChoices;
  columns: string[] | null;
  onConfig: (config: Record<string, unknown>) => void;
  onLabel: (label: string | null) => void;
  onDelete: () => void;
}

export function NodePanel({ node, module, issues, readOnly, connections, columns, onConfig, onLabel, onDelete }: NodePanelProps) {
  const errors = fieldErrors(issues);
  const general = Object.entries(errors)
    .filter(([k]) => k === "" || k.startsWith("@"))
    .flatMap(([, v]) => v);
  return (
    <Stack gap="3" data-testid="node-panel" data-node-id={node.id}>
      <Box>
        <Heading size="sm">{node.label || module?.label || node.module}</Heading>
        <Text fontSize="xs" color="fg.muted">
          {node.id} · {node.module} {module && <Badge size="xs">{module.category}</Badge>}
        </Text>
        {module?.description && (
          <Text fontSize="xs" mt="1">
            {module.description}
          </Text>
        )}
      </Box>
      {general.length > 0 && (
        <Alert.Root status="error" size="sm">
          <Alert.Indicator />
          <Alert.Description>
            {general.map((m, i) => (
              <Text key={i}>{m}</Text>
            ))}
          </Alert.Description>
        </Alert.Root>
      )}
      <Field.Root disabled={readOnly}>
        <Field.Label fontSize="sm">Label</Field.Label>
        <Input size="sm" name="node-label" value={node.label ?? ""} readOnly={readOnly} placeholder={module?.label ?? node.module} onChange={(e) => onLabel(e.target.value || null)} />
      </Field.Root>
      {module ? (
        <SchemaForm
          schema={module.config_schema as JsonSchema}
          value={(node.config ?? {}) as Record<string, unknown>}
          onChange={onConfig}
          errors={errors}
          context={{ connections, columns, readOnly }}
        />
      ) : (
        <Stack gap="2" data-testid="broken-node-panel">
          <Alert.Root status="error" size="sm">
            <Alert.Indicator />
            <Alert.Description>
              Module “{node.module}” is not installed in this Airflow. Install the package that provides it, or delete this node and
              add a replacement; its configuration is kept below.
            </Alert.Description>
          </Alert.Root>
          <Code as="pre" whiteSpace="pre-wrap" fontSize="xs" p="2">
            {JSON.stringify(node.config ?? {}, null, 2)}
          </Code>
        </Stack>
      )}
      {module?.docs && (
        <details>
          <summary style={{ cursor: "pointer", fontSize: "0.8rem" }}>Documentation</summary>
          <Text fontSize="xs" whiteSpace="pre-wrap" mt="1">
            {module.docs}
          </Text>
        </details>
      )}
      {!readOnly && (
        <Button size="xs" variant="outline" colorPalette="red" alignSelf="start" onClick={onDelete}>
          Delete node
        </Button>
      )}
    </Stack>
  );
}

export function PipelinePanel({ meta, issues, readOnly, onChange }: { meta: PipelineMeta; issues: Issue[]; readOnly: boolean; onChange: (meta: PipelineMeta) => void }) {
  const errors: Record<string, string[]> = {};
  for (const issue of issues) (errors[issue.path.replace(/\[(\d+)\]/g, ".$1")] ??= []).push(issue.message);
  const known = new Set(Object.keys(PIPELINE_SETTINGS_SCHEMA.properties as object));
  const other = issues.filter((i) => !known.has(i.path.split(/[.[]/)[0]));
  return (
    <Stack gap="3" data-testid="pipeline-panel">
      <Box>
        <Heading size="sm">Pipeline settings</Heading>
        <Text fontSize="xs" color="fg.muted">
          {meta.id} · select a node to configure it
        </Text>
      </Box>
      {other.length > 0 && (
        <Alert.Root status="error" size="sm" data-testid="pipeline-problems">
          <Alert.Indicator />
          <Alert.Description>
            {other.map((i, n) => (
              <Text key={n}>
                {i.path ? <Code fontSize="2xs">{i.path}</Code> : null} {i.message}
              </Text>
            ))}
          </Alert.Description>
        </Alert.Root>
      )}
      <SchemaForm
        schema={PIPELINE_SETTINGS_SCHEMA}
        value={meta as unknown as Record<string, unknown>}
        onChange={(next) => onChange({ ...(next as unknown as PipelineMeta), id: meta.id, spec_version: meta.spec_version, status: meta.status })}
        errors={errors}
        context={{ readOnly }}
      />
    </Stack>
  );
}
