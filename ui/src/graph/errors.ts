// Validation issues point into the spec (`nodes[2].config.columns`); the canvas needs them per node and
// per form field.
import type { Issue, SpecNode } from "../api/types";

export type IssueTarget =
  | { kind: "node"; index: number; field: string }
  | { kind: "edge"; index: number; field: string }
  | { kind: "pipeline"; field: string };

/** `nodes[2].config.csv.delimiter` → node 2, field `config.csv.delimiter`; `items[0]` → `items.0`. */
export function parseIssuePath(path: string): IssueTarget {
  const normalised = path.replace(/\[(\d+)\]/g, ".$1").replace(/^\./, "");
  const [head, index, ...rest] = normalised.split(".");
  if ((head === "nodes" || head === "edges") && index !== undefined && /^\d+$/.test(index)) {
    return { kind: head === "nodes" ? "node" : "edge", index: Number(index), field: rest.join(".") };
  }
  return { kind: "pipeline", field: normalised };
}

/** Issues per node id: the API's `node_id` wins, else the `nodes[i]` index of the spec that was checked. */
export function issuesByNode(issues: Issue[], nodes: SpecNode[]): Map<string, Issue[]> {
  const byNode = new Map<string, Issue[]>();
  for (const issue of issues) {
    let id = issue.node_id ?? null;
    if (!id) {
      const target = parseIssuePath(issue.path);
      if (target.kind === "node") id = nodes[target.index]?.id ?? null;
    }
    if (id) byNode.set(id, [...(byNode.get(id) ?? []), issue]);
  }
  return byNode;
}

/** Issues that belong to no node: pipeline settings, or edges (shown in the problems list). */
export function pipelineIssues(issues: Issue[], nodes: SpecNode[]): Issue[] {
  const placed = issuesByNode(issues, nodes);
  const onNodes = new Set([...placed.values()].flat());
  return issues.filter((i) => !onNodes.has(i));
}

/** True for a warning (a source whose columns could not be read): shown, never blocking a save. */
export const isWarning = (issue: Issue): boolean => issue.severity === "warning";

/** `checks[1].column` → `checks.1.column`: the dotted paths the config form uses. */
export const dottedField = (field: string): string => field.replace(/\[(\d+)\]/g, ".$1").replace(/^\./, "");

/**
 * The config field an issue names, as a dotted form path (`columns.0`, `csv.delimiter`): the API's
 * `field` first, else read from the JSON path (`nodes[2].config.columns[0]`). `""`: the node as a whole;
 * `@module`: a key of the node outside its config.
 */
export function issueField(issue: Issue): string {
  if (issue.field) return dottedField(issue.field);
  const target = parseIssuePath(issue.path);
  const field = target.kind === "pipeline" ? "" : target.field;
  return field === "" || field === "config" ? "" : field.startsWith("config.") ? field.slice("config.".length) : `@${field}`;
}

/** What a form field shows for one issue: the plain message, the JSON path as a muted detail. */
export interface FieldMessage {
  message: string;
  path?: string;
  severity?: "error" | "warning";
}

/**
 * Messages per config field for one node's issues: keys are dotted paths inside `config`
 * (`columns`, `csv.delimiter`, `fills.0.value`); issues about the node itself go under "".
 */
export function fieldErrors(nodeIssues: Issue[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const issue of nodeIssues) (out[issueField(issue)] ??= []).push(issue.message);
  return out;
}

/** As `fieldErrors`, keeping each issue's path and severity for the form to show. */
export function fieldIssues(nodeIssues: Issue[]): Record<string, FieldMessage[]> {
  const out: Record<string, FieldMessage[]> = {};
  for (const issue of nodeIssues) (out[issueField(issue)] ??= []).push({ message: issue.message, path: issue.path, severity: isWarning(issue) ? "warning" : "error" });
  return out;
}

/** Errors that a field at `path` shows: its own, plus those of array items it renders inline. */
export function errorsAt<M>(errors: Record<string, M[]>, path: string, includeChildren: boolean): M[] {
  const own = errors[path] ?? [];
  if (!includeChildren) return own;
  const prefix = `${path}.`;
  return [...own, ...Object.entries(errors).filter(([k]) => k.startsWith(prefix)).flatMap(([, v]) => v)];
}

/**
 * Errors of a union item seen through its variant: Pydantic names the tag in the path
 * (`checks.0.not_null.column`), the form does not (`checks.0.column`).
 */
export function untagErrors<M>(errors: Record<string, M[]>, itemPath: string, tag: string): Record<string, M[]> {
  const tagged = `${itemPath}.${tag}`;
  const out: Record<string, M[]> = {};
  for (const [key, messages] of Object.entries(errors)) {
    const plain = key === tagged ? itemPath : key.startsWith(`${tagged}.`) ? `${itemPath}${key.slice(tagged.length)}` : key;
    out[plain] = [...(out[plain] ?? []), ...messages];
  }
  return out;
}
