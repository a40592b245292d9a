// Two versions of a pipeline drawn as one graph: the newer version where it stands, plus what the older one
// had and the newer lost, as ghosts where they used to be. Pure (no React) so the marks are unit-tested; the
// API's changes decide which nodes count as changed, since only the server knows which keys are defaults.
import type { Change, Spec, SpecEdge, SpecNode } from "../api/types";
import { specToGraph } from "../graph/convert";
import { layeredLayout, needsLayout, ROW_GAP } from "../graph/layout";
import { DEFAULT_SOURCE_PORT, edgeId, type Graph, type XY } from "../graph/model";

export type NodeMark = "added" | "removed" | "changed" | "same";
export type EdgeMark = "added" | "removed" | "same";

export interface DiffNode {
  id: string;
  module: string;
  label: string | null;
  position: XY;
  mark: NodeMark;
  /** How many of the node's fields differ (config keys count one each); 0 unless `changed`. */
  changedFields: number;
}

export interface DiffEdge {
  id: string;
  edge: SpecEdge;
  mark: EdgeMark;
}

export interface DiffGraph {
  nodes: DiffNode[];
  edges: DiffEdge[];
}

/** The change list as the dialog shows it: pipeline settings, then node by node, then the connections. */
export interface NodeGroup {
  node: string;
  module: string | null;
  /** `added`/`removed` when the whole node came or went, else `changed`. */
  action: Change["action"];
  changes: Change[];
}

export interface GroupedChanges {
  pipeline: Change[];
  nodes: NodeGroup[];
  edges: Change[];
}

// Edges compare as the server compares them: an omitted source port is `out`, an omitted target port none.
const normalEdge = (e: SpecEdge): SpecEdge => ({ ...e, source_port: e.source_port || DEFAULT_SOURCE_PORT, target_port: e.target_port || null });

function positionsOf(graph: Graph): Map<string, XY> {
  if (needsLayout(graph)) return new Map(Object.entries(layeredLayout(graph)));
  return new Map(graph.nodes.map((n) => [n.id, n.position ?? { x: 0, y: 0 }]));
}

// A node removed and another added in its place would hide each other: the ghost moves down until free.
const GHOST_CLEARANCE = 60;
function freeSpot(at: XY, taken: XY[]): XY {
  let spot = at;
  for (let tries = 0; tries < 20 && taken.some((p) => Math.abs(p.x - spot.x) < GHOST_CLEARANCE * 3 && Math.abs(p.y - spot.y) < GHOST_CLEARANCE); tries += 1) {
    spot = { x: spot.x, y: spot.y + ROW_GAP / 2 };
  }
  return spot;
}

export function fieldChangesByNode(changes: Change[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of changes) {
    if (c.kind === "node" && c.node && c.field !== null) counts.set(c.node, (counts.get(c.node) ?? 0) + 1);
  }
  return counts;
}

/** The union of `older` and `newer` with every node and edge marked; `changes` is the API's diff between them. */
export function diffGraph(older: Spec, newer: Spec, changes: Change[]): DiffGraph {
  const before = specToGraph(older);
  const after = specToGraph(newer);
  const afterIds = new Set(after.nodes.map((n) => n.id));
  const beforeIds = new Set(before.nodes.map((n) => n.id));
  const ghosts: SpecNode[] = before.nodes.filter((n) => !afterIds.has(n.id));
  const fieldCounts = fieldChangesByNode(changes);

  const beforeEdges = new Map(before.edges.map((e) => [edgeId(normalEdge(e)), normalEdge(e)]));
  const afterEdges = new Map(after.edges.map((e) => [edgeId(normalEdge(e)), normalEdge(e)]));

  // Without saved positions in the newer version the whole union is laid out, ghosts included.
  const union: Graph = { nodes: [...after.nodes, ...ghosts], edges: [...afterEdges.values(), ...beforeEdges.values()] };
  const laidOut = needsLayout(after) ? positionsOf(union) : null;
  const afterPositions = laidOut ?? positionsOf(after);
  const beforePositions = laidOut ?? positionsOf(before);

  const nodes: DiffNode[] = after.nodes.map((n) => {
    const count = fieldCounts.get(n.id) ?? 0;
    const mark: NodeMark = !beforeIds.has(n.id) ? "added" : count > 0 ? "changed" : "same";
    return { id: n.id, module: n.module, label: n.label ?? null, position: afterPositions.get(n.id) ?? { x: 0, y: 0 }, mark, changedFields: mark === "changed" ? count : 0 };
  });
  const taken = nodes.map((n) => n.position);
  for (const n of ghosts) {
    const position = laidOut ? (beforePositions.get(n.id) ?? { x: 0, y: 0 }) : freeSpot(beforePositions.get(n.id) ?? { x: 0, y: 0 }, taken);
    taken.push(position);
    nodes.push({ id: n.id, module: n.module, label: n.label ?? null, position, mark: "removed", changedFields: 0 });
  }

  const drawn = new Set(nodes.map((n) => n.id));
  const edges: DiffEdge[] = [];
  for (const [id, edge] of afterEdges) edges.push({ id, edge, mark: beforeEdges.has(id) ? "same" : "added" });
  for (const [id, edge] of beforeEdges) if (!afterEdges.has(id)) edges.push({ id, edge, mark: "removed" });
  // An edge naming a node neither version has (a broken draft) cannot be drawn.
  return { nodes, edges: edges.filter((e) => drawn.has(e.edge.source) && drawn.has(e.edge.target)) };
}

export function groupChanges(changes: Change[]): GroupedChanges {
  const groups = new Map<string, NodeGroup>();
  const grouped: GroupedChanges = { pipeline: [], nodes: [], edges: [] };
  for (const c of changes) {
    if (c.kind === "pipeline") grouped.pipeline.push(c);
    else if (c.kind === "edge") grouped.edges.push(c);
    else if (c.node) {
      let group = groups.get(c.node);
      if (!group) {
        group = { node: c.node, module: c.module, action: "changed", changes: [] };
        groups.set(c.node, group);
        grouped.nodes.push(group);
      }
      if (c.field === null) group.action = c.action;
      group.changes.push(c);
    }
  }
  return grouped;
}
