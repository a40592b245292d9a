// Inserting steps after a node (a suggestion's fix, a described step): the new nodes form a chain fed by
// the node's main output, the node's former consumers are rewired to the chain's end, and everything
// downstream shifts right so the new nodes get room on the canvas.
import type { SpecEdge, SpecNode } from "../api/types";
import { t } from "../i18n";
import { DEFAULT_SOURCE_PORT, type Graph, newNodeId, positionOf } from "./model";

export const INSERT_SPACING = 290;

export interface NewStep {
  module: string;
  config: Record<string, unknown>;
  label?: string | null;
  /** The new node's input fed by the previous step (a join's "left"); null: its only input. */
  inputPort?: string | null;
  /** Further inputs from nodes already on the canvas: port → node id (a join's "right"). */
  extraInputs?: Record<string, string>;
}

export type InsertResult = { graph: Graph; ids: string[] } | { error: string };

/** Nodes reachable from `start` (excluded) along edges. */
function downstream(graph: Graph, start: string): Set<string> {
  const next = new Map<string, string[]>();
  for (const e of graph.edges) next.set(e.source, [...(next.get(e.source) ?? []), e.target]);
  const seen = new Set<string>();
  const stack = [...(next.get(start) ?? [])];
  while (stack.length) {
    const id = stack.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(next.get(id) ?? []));
  }
  return seen;
}

/**
 * The graph with `steps` chained after node `after` on its main (`out`) port; returns the new ids too.
 * Edges from other output ports (a route's branches) stay where they are. Refused (with the reason) when
 * `after` is gone or an extra input would come from a missing node or from downstream (a cycle).
 */
export function insertAfter(graph: Graph, after: string, steps: NewStep[]): InsertResult {
  const anchor = graph.nodes.find((n) => n.id === after);
  if (!anchor) return { error: t('Cannot insert after "{after}": the node is no longer on the canvas.', { after }) };
  if (!steps.length) return { error: t("Nothing to insert.") };
  const moved = downstream(graph, after);
  for (const step of steps) {
    for (const [port, source] of Object.entries(step.extraInputs ?? {})) {
      if (!graph.nodes.some((n) => n.id === source)) return { error: t('Cannot insert {module}: its input "{port}" comes from "{source}", which is no longer on the canvas.', { module: step.module, port, source }) };
      if (moved.has(source)) return { error: t('Cannot insert {module} after "{after}": its input "{port}" comes from "{source}", which is downstream (a cycle).', { module: step.module, after, port, source }) };
    }
  }
  const taken = graph.nodes.map((n) => n.id);
  const ids: string[] = [];
  const origin = positionOf(anchor);
  const added: SpecNode[] = steps.map((step, i) => {
    const id = newNodeId(step.module, [...taken, ...ids]);
    ids.push(id);
    return {
      id,
      module: step.module,
      label: step.label ?? null,
      config: structuredClone(step.config ?? {}),
      position: { x: origin.x + (i + 1) * INSERT_SPACING, y: origin.y },
    };
  });
  const isMain = (e: SpecEdge) => e.source === after && (e.source_port ?? DEFAULT_SOURCE_PORT) === DEFAULT_SOURCE_PORT;
  const last = ids[ids.length - 1];
  const shift = steps.length * INSERT_SPACING;
  const nodes = graph.nodes.map((n) => (moved.has(n.id) ? { ...n, position: { x: positionOf(n).x + shift, y: positionOf(n).y } } : n));
  const chain: SpecEdge[] = ids.flatMap((id, i) => [
    { source: i === 0 ? after : ids[i - 1], target: id, source_port: DEFAULT_SOURCE_PORT, target_port: steps[i].inputPort ?? null },
    ...Object.entries(steps[i].extraInputs ?? {}).map(([port, source]) => ({ source, target: id, source_port: DEFAULT_SOURCE_PORT, target_port: port })),
  ]);
  const edges = graph.edges.flatMap((e) => (isMain(e) ? [] : [e]));
  const rewired = graph.edges.filter(isMain).map((e) => ({ ...e, source: last, source_port: DEFAULT_SOURCE_PORT }));
  return { graph: { nodes: [...nodes, ...added], edges: [...edges, ...chain, ...rewired] }, ids };
}
