// Column names known at design time, for the column pickers. Only what a node's config states for sure is
// used (a source's declared columns, a projection's output); otherwise the pickers accept free text.
import type { SpecNode } from "../api/types";
import type { Graph } from "./model";

type Known = string[] | null;
/** How a module changes the columns flowing through it; null means "cannot tell without the data". */
type ColumnRule = (config: Record<string, unknown>, inputs: Known[]) => Known;

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
const passThrough: ColumnRule = (_c, inputs) => inputs[0] ?? null;
const union = (lists: Known[]): Known =>
  lists.some((l) => l === null) ? null : [...new Set(lists.flatMap((l) => l ?? []))];

const RULES: Record<string, ColumnRule> = {
  "source.file": (c) => {
    const cols = strings(c.columns);
    return cols.length ? cols : null;
  },
  deduplicate: passThrough,
  clean_text: passThrough,
  filter_rows: passThrough,
  sort: passThrough,
  fill_nulls: passThrough,
  parse_dates: passThrough,
  map_values: passThrough,
  quality_check: passThrough,
  route: passThrough,
  union: (_c, inputs) => union(inputs),
  derive_column: (c, inputs) => {
    const base = inputs[0];
    if (!base) return null;
    const derived = Array.isArray(c.columns)
      ? c.columns.map((d) => (d && typeof d === "object" ? (d as Record<string, unknown>).name : null)).filter((x): x is string => typeof x === "string")
      : [];
    return [...new Set([...base, ...derived])];
  },
  select_columns: (c) => {
    const raw = Array.isArray(c.columns) ? c.columns : [];
    const names = raw
      .map((x) => (typeof x === "string" ? x : x && typeof x === "object" ? ((x as Record<string, unknown>).rename ?? (x as Record<string, unknown>).name) : null))
      .filter((x): x is string => typeof x === "string" && x.length > 0);
    return names.length ? names : null;
  },
};

/** A function giving each node's output columns by the rules above (null when unknown), memoised. */
function ruleOutputs(graph: Graph): (nodeId: string) => Known {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const memo = new Map<string, Known>();
  const visiting = new Set<string>();
  const outputOf = (node: SpecNode): Known => {
    if (memo.has(node.id)) return memo.get(node.id) as Known;
    if (visiting.has(node.id)) return null;
    visiting.add(node.id);
    const inputs = graph.edges.filter((e) => e.target === node.id).map((e) => byId.get(e.source)).filter((n): n is SpecNode => Boolean(n)).map(outputOf);
    const rule = RULES[node.module];
    const result = rule ? rule(node.config ?? {}, inputs) : null;
    visiting.delete(node.id);
    memo.set(node.id, result);
    return result;
  };
  return (nodeId) => {
    const node = byId.get(nodeId);
    return node ? outputOf(node) : null;
  };
}

/** Columns leaving `nodeId` as far as its config (and its inputs') states them, or null when unknown. */
export function outputColumns(graph: Graph, nodeId: string): string[] | null {
  return ruleOutputs(graph)(nodeId);
}

/** Columns arriving at `nodeId` (union over its inputs), or null when unknown. */
export function upstreamColumns(graph: Graph, nodeId: string): string[] | null {
  const outputOf = ruleOutputs(graph);
  const incoming = graph.edges.filter((e) => e.target === nodeId && graph.nodes.some((n) => n.id === e.source));
  if (!incoming.length) return null;
  return union(incoming.map((e) => outputOf(e.source)));
}
