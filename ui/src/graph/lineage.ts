// Column-level lineage on the canvas: from one output column of one node, the columns it comes from
// (upstream, following `/validate`'s `schemas[node].lineage[port][column]`) and the columns computed from
// it (downstream: nodes whose lineage points at it), with the edges between them.
import type { ColumnOrigin, NodeSchemas, SpecEdge } from "../api/types";
import { DEFAULT_SOURCE_PORT, edgeId } from "./model";

export interface LineageStart {
  nodeId: string;
  port: string;
  column: string;
}

/** A column named on a highlighted node: the chosen one, or one it comes from or flows into. */
export interface LineageMark {
  column: string;
  port: string;
  /** selected: the clicked column; direct: the value flows; indirect: it only filters, groups or orders. */
  kind: "selected" | "direct" | "indirect";
}

export interface LineagePath {
  nodes: Map<string, LineageMark[]>;
  edges: Set<string>;
}

const sourcePort = (edge: SpecEdge): string => edge.source_port ?? DEFAULT_SOURCE_PORT;
const key = (nodeId: string, port: string, column: string): string => JSON.stringify([nodeId, port, column]);

/**
 * Where an output column comes from. A node's own lineage when it has some for that port (an empty list:
 * a constant, or not analysable); a node without lineage for the port that has inputs (a destination)
 * passes its input columns through, so the same-named input column is its origin.
 */
export function originsOf(schemas: NodeSchemas, edges: SpecEdge[], nodeId: string, port: string, column: string): ColumnOrigin[] {
  const schema = schemas[nodeId];
  if (!schema) return [];
  const declared = schema.lineage?.[port];
  if (declared) return declared[column] ?? [];
  const found: ColumnOrigin[] = [];
  for (const edge of edges) {
    if (edge.target !== nodeId) continue;
    const upstream = schemas[edge.source]?.ports?.[sourcePort(edge)] ?? [];
    const match = upstream.find((c) => c.name === column) ?? upstream.find((c) => c.name.toLowerCase() === column.toLowerCase());
    if (match) found.push({ node_id: edge.source, port: sourcePort(edge), column: match.name, kind: "direct" });
  }
  return found;
}

function addMark(path: LineagePath, nodeId: string, mark: LineageMark): void {
  const marks = path.nodes.get(nodeId) ?? [];
  const same = marks.find((m) => m.column === mark.column && m.port === mark.port);
  if (!same) path.nodes.set(nodeId, [...marks, mark]);
  // A column reached both ways counts as direct.
  else if (same.kind === "indirect" && mark.kind === "direct") path.nodes.set(nodeId, marks.map((m) => (m === same ? mark : m)));
}

function linkEdges(path: LineagePath, edges: SpecEdge[], from: string, fromPort: string, to: string): void {
  for (const edge of edges) if (edge.source === from && sourcePort(edge) === fromPort && edge.target === to) path.edges.add(edgeId(edge));
}

/** The nodes (with the columns named on them) and edges a column's values pass through. */
export function lineagePath(schemas: NodeSchemas, edges: SpecEdge[], start: LineageStart): LineagePath {
  const path: LineagePath = { nodes: new Map(), edges: new Set() };
  addMark(path, start.nodeId, { column: start.column, port: start.port, kind: "selected" });

  // Upstream: follow origins; once a step is indirect, everything above it is too.
  type Step = LineageStart & { indirect: boolean };
  const up: Step[] = [{ ...start, indirect: false }];
  const seenUp = new Set([key(start.nodeId, start.port, start.column)]);
  while (up.length) {
    const step = up.shift() as Step;
    for (const origin of originsOf(schemas, edges, step.nodeId, step.port, step.column)) {
      const indirect = step.indirect || origin.kind === "indirect";
      addMark(path, origin.node_id, { column: origin.column, port: origin.port, kind: indirect ? "indirect" : "direct" });
      linkEdges(path, edges, origin.node_id, origin.port, step.nodeId);
      const k = key(origin.node_id, origin.port, origin.column);
      if (!seenUp.has(k)) {
        seenUp.add(k);
        up.push({ nodeId: origin.node_id, port: origin.port, column: origin.column, indirect });
      }
    }
  }

  // Downstream: every output column whose origins name the current one.
  const consumers = new Map<string, { nodeId: string; port: string; column: string; indirect: boolean }[]>();
  for (const schema of Object.values(schemas)) {
    for (const [port, columns] of Object.entries(schema.ports ?? {})) {
      for (const column of columns) {
        for (const origin of originsOf(schemas, edges, schema.node_id, port, column.name)) {
          const k = key(origin.node_id, origin.port, origin.column);
          consumers.set(k, [...(consumers.get(k) ?? []), { nodeId: schema.node_id, port, column: column.name, indirect: origin.kind === "indirect" }]);
        }
      }
    }
  }
  const down: Step[] = [{ ...start, indirect: false }];
  const seenDown = new Set([key(start.nodeId, start.port, start.column)]);
  while (down.length) {
    const step = down.shift() as Step;
    for (const next of consumers.get(key(step.nodeId, step.port, step.column)) ?? []) {
      const indirect = step.indirect || next.indirect;
      addMark(path, next.nodeId, { column: next.column, port: next.port, kind: indirect ? "indirect" : "direct" });
      linkEdges(path, edges, step.nodeId, step.port, next.nodeId);
      const k = key(next.nodeId, next.port, next.column);
      if (!seenDown.has(k)) {
        seenDown.add(k);
        down.push({ ...next, indirect });
      }
    }
  }
  return path;
}
