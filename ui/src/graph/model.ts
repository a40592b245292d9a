// The editor's graph is the spec's own node/edge lists: what is drawn is exactly what gets saved.
import type { SpecEdge, SpecNode } from "../api/types";

export interface Graph {
  nodes: SpecNode[];
  edges: SpecEdge[];
}

export interface XY {
  x: number;
  y: number;
}

export const DEFAULT_SOURCE_PORT = "out";
/** Handle id of the single unnamed input of modules without `input_ports`. */
export const DEFAULT_TARGET_HANDLE = "in";

export function edgeId(edge: SpecEdge): string {
  return `${edge.source}.${edge.source_port ?? DEFAULT_SOURCE_PORT}->${edge.target}.${edge.target_port ?? DEFAULT_TARGET_HANDLE}`;
}

export function positionOf(node: SpecNode): XY {
  return node.position ?? { x: 0, y: 0 };
}

/** Node ids become Airflow task ids: `source.file` → `source_file_1`, unique within the graph. */
export function newNodeId(module: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const base = module.replace(/[^A-Za-z0-9_-]/g, "_").replace(/^-/, "_") || "node";
  for (let i = 1; ; i += 1) {
    const candidate = `${base}_${i}`;
    if (!used.has(candidate)) return candidate;
  }
}

/** True when adding source → target would close a cycle (the target already reaches the source). */
export function createsCycle(graph: Graph, source: string, target: string): boolean {
  if (source === target) return true;
  const next = new Map<string, string[]>();
  for (const e of graph.edges) next.set(e.source, [...(next.get(e.source) ?? []), e.target]);
  const stack = [target];
  const seen = new Set<string>();
  while (stack.length) {
    const id = stack.pop() as string;
    if (id === source) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(next.get(id) ?? []));
  }
  return false;
}
