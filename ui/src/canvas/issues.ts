// Where each problem is shown, once: a config field's under that field (the form), a node's own on its
// card, a pipeline setting's under the setting, and the rest of the pipeline-wide ones in one list. The
// summary names them by node label and field title: `Drop test orders › Condition: column ...`.
import type { Issue, JsonSchema, Module, SpecEdge, SpecNode } from "../api/types";
import { fieldTitles } from "../form/schema";
import { isWarning, issueField } from "../graph/errors";
import { t as translateNow, type Translate } from "../i18n";
import { pipelineSettingsSchema, settingsField } from "./pipelineSettings";

/** The form field titles an issue of a node names, or null when its form has no such field. */
export function issueFieldTitles(issue: Issue, module: Module | null, config: unknown): string[] | null {
  const field = issueField(issue);
  if (!module || field === "" || field.startsWith("@")) return null;
  return fieldTitles(module.config_schema as JsonSchema, field, config);
}

/** The issues of a node its form cannot show under a field: the node's own (shown on its card). */
export function nodeLevelIssues(issues: Issue[], module: Module | null, config: unknown): Issue[] {
  return issues.filter((issue) => issueFieldTitles(issue, module, config) === null);
}

/** Pipeline-wide issues (no node) that no settings field shows: the one list under the toolbar. */
export function looseIssues(pipelineIssues: Issue[]): Issue[] {
  return pipelineIssues.filter((issue) => settingsField(issue.path) === null);
}

export const nodeTitle = (node: SpecNode, module: Module | null | undefined): string => node.label || module?.label || node.module;

export interface IssueLine {
  issue: Issue;
  /** `Drop test orders › Condition`, `Pipeline settings › Schedule`, or `Pipeline`. */
  where: string;
  /** The node to select to see it; null for pipeline-wide ones. */
  nodeId: string | null;
  warning: boolean;
}

/** Every issue labelled for the summary list; errors first, in the nodes' order. */
export function issueLines(issues: Issue[], byNode: Map<string, Issue[]>, nodes: SpecNode[], modules: Map<string, Module>, t: Translate = translateNow): IssueLine[] {
  const lines: IssueLine[] = [];
  const placed = new Set<Issue>();
  for (const node of nodes) {
    const module = modules.get(node.module) ?? null;
    for (const issue of byNode.get(node.id) ?? []) {
      placed.add(issue);
      const titles = issueFieldTitles(issue, module, node.config);
      lines.push({ issue, where: [nodeTitle(node, module), ...(titles ?? [])].join(" › "), nodeId: node.id, warning: isWarning(issue) });
    }
  }
  for (const issue of issues) {
    if (placed.has(issue)) continue;
    const setting = settingsField(issue.path);
    const title = setting ? fieldTitles(pipelineSettingsSchema(t), setting) : null;
    lines.push({ issue, where: title ? [t("Pipeline settings"), ...title].join(" › ") : t("Pipeline"), nodeId: null, warning: isWarning(issue) });
  }
  return [...lines.filter((l) => !l.warning), ...lines.filter((l) => l.warning)];
}

/**
 * The nodes whose errors stop `nodeId` from running: itself and the nodes upstream of it that have errors
 * (not warnings), nearest first. A preview or suggestion failing for them points there instead of
 * repeating their messages.
 */
export function blockersOf(edges: SpecEdge[], nodeId: string, byNode: Map<string, Issue[]>): string[] {
  const found: string[] = [];
  const seen = new Set([nodeId]);
  const queue = [nodeId];
  while (queue.length) {
    const id = queue.shift() as string;
    if ((byNode.get(id) ?? []).some((issue) => !isWarning(issue))) found.push(id);
    for (const edge of edges) {
      if (edge.target === id && !seen.has(edge.source)) {
        seen.add(edge.source);
        queue.push(edge.source);
      }
    }
  }
  return found;
}
