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

/**
 * Messages per config field for one node's issues: keys are dotted paths inside `config`
 * (`columns`, `csv.delimiter`, `fills.0.value`); issues about the node itself go under "".
 */
export function fieldErrors(nodeIssues: Issue[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const issue of nodeIssues) {
    const target = parseIssuePath(issue.path);
    const field = target.kind === "pipeline" ? "" : target.field;
    const key = field === "config" ? "" : field.startsWith("config.") ? field.slice("config.".length) : `@${field}`;
    (out[key] ??= []).push(issue.message);
  }
  return out;
}

/** Errors that a field at `path` shows: its own, plus those of array items it renders inline. */
export function errorsAt(errors: Record<string, string[]>, path: string, includeChildren: boolean): string[] {
  const own = errors[path] ?? [];
  if (!includeChildren) return own;
  const prefix = `${path}.`;
  return [...own, ...Object.entries(errors).filter(([k]) => k.startsWith(prefix)).flatMap(([, v]) => v)];
}
