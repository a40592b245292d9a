// The right-hand drawer: the selected node's form (generated from its module's config schema) with each
// problem under its field, and its output columns; or the pipeline's own settings when nothing is
// selected. A node's own messages (no field) are on its card, not here.
import { Alert, Badge, Box, Button, Code, Field, Heading, Input, Separator, Stack, Text } from "@chakra-ui/react";
import { useMemo } from "react";
import type { Issue, JsonSchema, Module, NodeSchema, SpecNode } from "../api/types";
import { fieldIssues, type FieldMessage } from "../graph/errors";
import type { InputColumns } from "../graph/inputColumns";
import type { LineageStart } from "../graph/lineage";
import { type ConnectionChoices, SchemaForm } from "../form/SchemaForm";
import { OutputColumns } from "./OutputColumns";
import { categoryLabel } from "./Palette";
import { useT } from "../i18n";
import { type PipelineMeta, pipelineSettingsSchema, settingsField } from "./pipelineSettings";

export { type PipelineMeta, pipelineSettingsSchema } from "./pipelineSettings";

interface NodePanelProps {
  node: SpecNode;
  module: Module | null;
  issues: Issue[];
  readOnly: boolean;
  connections: ConnectionChoices;
  columns: InputColumns | string[] | null;
  /** The node's output columns as the server computed them (undefined: not checked yet). */
  schema?: NodeSchema | null;
  lineage?: LineageStart | null;
  onLineage?: (start: LineageStart | null) => void;
  onRefreshColumns?: () => void;
  refreshing?: boolean;
  onConfig: (config: Record<string, unknown>) => void;
  onLabel: (label: string | null) => void;
  onDelete: () => void;
  /** The pipeline being edited: the path picker lists data locations with its DAG's permissions. */
  pipelineId?: string;
}

export function NodePanel(props: NodePanelProps) {
  const { node, module, issues, readOnly, connections, columns, onConfig, onLabel, onDelete, pipelineId } = props;
  const t = useT();
  const errors = fieldIssues(issues);
  return (
    <Stack gap="3" data-testid="node-panel" data-node-id={node.id}>
      <Box>
        <Heading size="sm">{node.label || module?.label || node.module}</Heading>
        <Text fontSize="xs" color="fg.muted">
          {node.id} · {node.module} {module && <Badge size="xs">{categoryLabel(module.category, t)}</Badge>}
        </Text>
        {module?.description && (
          <Text fontSize="xs" mt="1">
            {module.description}
          </Text>
        )}
      </Box>
      <Field.Root disabled={readOnly}>
        <Field.Label fontSize="sm">{t("Label")}</Field.Label>
        <Input size="sm" name="node-label" value={node.label ?? ""} readOnly={readOnly} placeholder={module?.label ?? node.module} onChange={(e) => onLabel(e.target.value || null)} />
      </Field.Root>
      {module ? (
        <SchemaForm
          schema={module.config_schema as JsonSchema}
          value={(node.config ?? {}) as Record<string, unknown>}
          onChange={onConfig}
          errors={errors}
          context={{ connections, columns, readOnly, pipelineId }}
        />
      ) : (
        <Stack gap="2" data-testid="broken-node-panel">
          <Alert.Root status="error" size="sm">
            <Alert.Indicator />
            <Alert.Description>
              {t("Module “{module}” is not installed in this Airflow. Install the package that provides it, or delete this node and add a replacement; its configuration is kept below.", { module: node.module })}
            </Alert.Description>
          </Alert.Root>
          <Code as="pre" whiteSpace="pre-wrap" fontSize="xs" p="2">
            {JSON.stringify(node.config ?? {}, null, 2)}
          </Code>
        </Stack>
      )}
      {module && props.onLineage && (
        <>
          <Separator />
          <OutputColumns
            nodeId={node.id}
            schema={props.schema}
            active={props.lineage ?? null}
            onLineage={props.onLineage}
            onRefresh={module.category === "source" && !readOnly ? props.onRefreshColumns : undefined}
            refreshing={props.refreshing}
            messages={issues.map((i) => i.message)}
          />
        </>
      )}
      {module?.docs && (
        <details>
          <summary style={{ cursor: "pointer", fontSize: "0.8rem" }}>{t("Documentation")}</summary>
          <Text fontSize="xs" whiteSpace="pre-wrap" mt="1">
            {module.docs}
          </Text>
        </details>
      )}
      {!readOnly && (
        <Button size="xs" variant="outline" colorPalette="red" alignSelf="start" onClick={onDelete}>
          {t("Delete node")}
        </Button>
      )}
    </Stack>
  );
}

/** Pipeline settings; issues naming a setting show under it (the others are in the editor's list). */
export function PipelinePanel({ meta, issues, readOnly, onChange }: { meta: PipelineMeta; issues: Issue[]; readOnly: boolean; onChange: (meta: PipelineMeta) => void }) {
  const t = useT();
  const schema = useMemo(() => pipelineSettingsSchema(t), [t]);
  const errors: Record<string, FieldMessage[]> = {};
  for (const issue of issues) {
    if (settingsField(issue.path) === null) continue;
    (errors[issue.path.replace(/\[(\d+)\]/g, ".$1")] ??= []).push({ message: issue.message, path: issue.path, severity: issue.severity === "warning" ? "warning" : "error" });
  }
  return (
    <Stack gap="3" data-testid="pipeline-panel">
      <Box>
        <Heading size="sm">{t("Pipeline settings")}</Heading>
        <Text fontSize="xs" color="fg.muted">
          {t("{id} · select a node to configure it", { id: meta.id })}
        </Text>
      </Box>
      <SchemaForm
        schema={schema}
        value={meta as unknown as Record<string, unknown>}
        onChange={(next) => onChange({ ...(next as unknown as PipelineMeta), id: meta.id, spec_version: meta.spec_version, status: meta.status })}
        errors={errors}
        context={{ readOnly }}
      />
    </Stack>
  );
}
