// Spec ⇄ React Flow. React Flow is only a view: positions and connections are read back into the spec's
// own node/edge lists, and nothing else in the spec is touched.
import type { Connection as FlowConnection, Edge, EdgeMarker, MarkerType, Node } from "@xyflow/react";
import type { Issue, Module, NodeEngine, NodeRun, Spec, SpecEdge, SpecNode } from "../api/types";
import type { LineageMark, LineagePath } from "./lineage";
import { DEFAULT_SOURCE_PORT, DEFAULT_TARGET_HANDLE, edgeId, type Graph } from "./model";

export interface NodeData extends Record<string, unknown> {
  node: SpecNode;
  /** null: the module is not installed (a "broken node"). */
  module: Module | null;
  /** Errors and warnings of the node (the card counts them and, when selected, shows the node-level ones). */
  issues: Issue[];
  run: NodeRun | null;
  readOnly: boolean;
  /** While a column's lineage is shown: the columns named on this node, or null when it is off the path. */
  lineage: LineageMark[] | null;
  /** A lineage is shown and this node is not on it. */
  dimmed: boolean;
  /** Where a run executes the node (from `/validate`), null when not known (an invalid pipeline). */
  engine: NodeEngine | null;
}

export type FlowNode = Node<NodeData, "logidata">;

export interface FlowContext {
  modules: Map<string, Module>;
  issues?: Map<string, Issue[]>;
  runNodes?: Record<string, NodeRun>;
  selected?: string[];
  selectedEdges?: string[];
  readOnly?: boolean;
  /** A column's path through the graph (graph/lineage.ts), highlighted on nodes and edges. */
  lineage?: LineagePath | null;
  engines?: Record<string, NodeEngine>;
}

export function specToGraph(spec: Spec): Graph {
  return {
    nodes: (spec.nodes ?? []).map((n) => ({ ...n, config: n.config ?? {}, position: n.position ?? { x: 0, y: 0 } })),
    edges: (spec.edges ?? []).map((e) => ({ ...e, source_port: e.source_port ?? DEFAULT_SOURCE_PORT, target_port: e.target_port ?? null })),
  };
}

export function graphToSpec(base: Spec, graph: Graph): Spec {
  return {
    ...base,
    nodes: graph.nodes.map((n) => ({ ...n, position: { x: Math.round(n.position?.x ?? 0), y: Math.round(n.position?.y ?? 0) } })),
    edges: graph.edges.map((e) => ({ ...e })),
  };
}

export function toFlowNodes(graph: Graph, ctx: FlowContext): FlowNode[] {
  const selected = new Set(ctx.selected ?? []);
  return graph.nodes.map((node) => ({
    id: node.id,
    type: "logidata",
    position: { x: node.position?.x ?? 0, y: node.position?.y ?? 0 },
    selected: selected.has(node.id),
    draggable: !ctx.readOnly,
    connectable: !ctx.readOnly,
    deletable: !ctx.readOnly,
    data: {
      node,
      module: ctx.modules.get(node.module) ?? null,
      issues: ctx.issues?.get(node.id) ?? [],
      run: ctx.runNodes?.[node.id] ?? null,
      readOnly: Boolean(ctx.readOnly),
      lineage: ctx.lineage?.nodes.get(node.id) ?? null,
      dimmed: Boolean(ctx.lineage && !ctx.lineage.nodes.has(node.id)),
      engine: ctx.engines?.[node.id] ?? null,
    },
  }));
}

export const LINEAGE_COLOUR = "#d97706";

// MarkerType.ArrowClosed, named here so that this module needs no React Flow code at run time.
const ARROW: EdgeMarker = { type: "arrowclosed" as MarkerType, width: 18, height: 18 };

/** The ports an edge joins when they say something: a multi-output node's port (matched, rejected, ...)
 * and a multi-input node's (left, right). */
export function portLabel(edge: SpecEdge): string | undefined {
  const from = edge.source_port && edge.source_port !== DEFAULT_SOURCE_PORT ? edge.source_port : null;
  const to = edge.target_port && edge.target_port !== DEFAULT_TARGET_HANDLE ? edge.target_port : null;
  if (from && to) return `${from} → ${to}`;
  if (to) return `→ ${to}`;
  return from ?? undefined;
}

// A source's width plus a short gap: a target closer than that is "behind" the output handle.
const NODE_SPAN = 220;

/**
 * The edges whose target does not sit to the right of their source (a graph laid out on several rows, or
 * a node dragged back). A curve between a right-hand output and a left-hand input that lies behind it
 * loops around both nodes; these are drawn as right-angled steps instead.
 */
export function backwardEdges(graph: Graph): string[] {
  const x = new Map(graph.nodes.map((n) => [n.id, n.position?.x ?? 0]));
  return graph.edges.filter((e) => (x.get(e.target) ?? 0) < (x.get(e.source) ?? 0) + NODE_SPAN).map(edgeId);
}

export function toFlowEdges(
  graph: Graph,
  ctx: Pick<FlowContext, "selectedEdges" | "runNodes" | "readOnly" | "lineage"> & { backward?: ReadonlySet<string> } = {},
): Edge[] {
  const selected = new Set(ctx.selectedEdges ?? []);
  return graph.edges.map((edge) => {
    const running = ctx.runNodes?.[edge.source]?.state === "running";
    const onPath = ctx.lineage?.edges.has(edgeId(edge)) ?? false;
    const lineage = ctx.lineage ? { className: onPath ? "lineage-edge" : "lineage-dimmed", style: onPath ? { stroke: LINEAGE_COLOUR, strokeWidth: 3 } : { opacity: 0.35 } } : {};
    return {
      ...lineage,
      id: edgeId(edge),
      source: edge.source,
      target: edge.target,
      sourceHandle: edge.source_port ?? DEFAULT_SOURCE_PORT,
      targetHandle: edge.target_port ?? DEFAULT_TARGET_HANDLE,
      selected: selected.has(edgeId(edge)),
      animated: running,
      deletable: !ctx.readOnly,
      label: portLabel(edge),
      // Which way the rows flow, readable at the default zoom (React Flow draws thin arrowless lines).
      markerEnd: ARROW,
      ...(ctx.backward?.has(edgeId(edge)) ? { type: "smoothstep" } : {}),
      ...(ctx.lineage ? {} : { style: { strokeWidth: 1.5 } }),
    };
  });
}

/** Read a drawn graph back: positions from React Flow, everything else from the spec node it carries. */
export function fromFlow(nodes: FlowNode[], edges: Edge[]): Graph {
  return {
    nodes: nodes.map((n) => ({ ...n.data.node, position: { x: n.position.x, y: n.position.y } })),
    edges: edges.map((e) => connectionToEdge({ source: e.source, target: e.target, sourceHandle: e.sourceHandle ?? null, targetHandle: e.targetHandle ?? null })),
  };
}

export function connectionToEdge(c: FlowConnection): SpecEdge {
  return {
    source: c.source,
    target: c.target,
    source_port: c.sourceHandle || DEFAULT_SOURCE_PORT,
    target_port: !c.targetHandle || c.targetHandle === DEFAULT_TARGET_HANDLE ? null : c.targetHandle,
  };
}

/** Inputs a target port accepts: a named port takes one edge, the default port the module's max_inputs. */
export function maxInputsFor(module: Module | undefined, targetPort: string | null): number | null {
  if (!module) return null;
  if (targetPort) return 1;
  return module.max_inputs ?? null;
}
