// Graph edits as a pure reducer so undo/redo, copy/paste and keyboard shortcuts are testable without a DOM.
import type { SpecEdge, SpecNode } from "../api/types";
import { t } from "../i18n";
import { insertAfter, type NewStep } from "./insert";
import { createsCycle, edgeId, type Graph, newNodeId, type XY } from "./model";

const HISTORY_LIMIT = 100;
const PASTE_OFFSET = 40;

export interface EditorState {
  graph: Graph;
  selectedNodes: string[];
  selectedEdges: string[];
  past: Graph[];
  future: Graph[];
  clipboard: Graph | null;
  /** Snapshot taken when a drag starts; committed to history once when it ends. */
  dragStart: Graph | null;
  /** Consecutive edits with the same key (typing in one node's form) make one undo step. */
  coalesceKey: string | null;
  /** Why the last edit was refused (cycle, duplicate edge, input limit); shown by the canvas. */
  notice: string | null;
  /** Bumped on every graph change that should be saved. */
  revision: number;
}

export type Action =
  | { type: "load"; graph: Graph }
  | { type: "addNode"; module: string; position: XY; config?: Record<string, unknown>; id?: string }
  | {
      type: "connect";
      edge: SpecEdge;
      /** Inputs the target port accepts (null: unlimited). */
      maxInputs: number | null;
    }
  | { type: "deleteSelection" }
  | { type: "deleteNodes"; ids: string[] }
  | { type: "deleteEdges"; ids: string[] }
  | { type: "select"; nodes: string[]; edges?: string[] }
  | { type: "setConfig"; id: string; config: Record<string, unknown> }
  | { type: "setLabel"; id: string; label: string | null }
  | { type: "beginDrag" }
  | { type: "move"; positions: Record<string, XY> }
  | { type: "endDrag" }
  | { type: "setPositions"; positions: Record<string, XY> }
  | { type: "undo" }
  | { type: "redo" }
  | { type: "copy" }
  | { type: "paste" }
  /** Chain new nodes after `after` (a suggestion's fix), rewiring its consumers; one undo step. */
  | { type: "insertAfter"; after: string; steps: NewStep[] }
  | { type: "clearNotice" };

export function initialState(graph: Graph = { nodes: [], edges: [] }): EditorState {
  return {
    graph,
    selectedNodes: [],
    selectedEdges: [],
    past: [],
    future: [],
    clipboard: null,
    dragStart: null,
    coalesceKey: null,
    notice: null,
    revision: 0,
  };
}

/** Apply a graph change as one undo step (or merge it into the previous one when `key` repeats). */
function commit(state: EditorState, graph: Graph, extra: Partial<EditorState> = {}, key: string | null = null): EditorState {
  const merge = key !== null && key === state.coalesceKey;
  const past = merge ? state.past : [...state.past, state.graph].slice(-HISTORY_LIMIT);
  return { ...state, ...extra, graph, past, future: [], coalesceKey: key, notice: null, revision: state.revision + 1 };
}

/** Why a connection is refused when the target input is full: one sentence per case, so each language
 * can order its words. */
function tooManyInputs(node: string, port: string | null, max: number): string {
  if (port === null) {
    if (max === 0) return t("{node} takes no inputs; remove a connection first.", { node });
    return t.plural(max, "{node} takes at most {count} input; remove a connection first.", "{node} takes at most {count} inputs; remove a connection first.", { node });
  }
  if (max === 0) return t('input "{port}" of {node} takes no inputs; remove a connection first.', { node, port });
  return t.plural(
    max,
    'input "{port}" of {node} takes at most {count} input; remove a connection first.',
    'input "{port}" of {node} takes at most {count} inputs; remove a connection first.',
    { node, port },
  );
}

function refuse(state: EditorState, notice: string): EditorState {
  return { ...state, notice, coalesceKey: null };
}

function withPositions(graph: Graph, positions: Record<string, XY>): Graph {
  return {
    ...graph,
    nodes: graph.nodes.map((n) => (positions[n.id] ? { ...n, position: { ...positions[n.id] } } : n)),
  };
}

function removeNodes(graph: Graph, ids: Set<string>): Graph {
  return {
    nodes: graph.nodes.filter((n) => !ids.has(n.id)),
    edges: graph.edges.filter((e) => !ids.has(e.source) && !ids.has(e.target)),
  };
}

function samePorts(a: SpecEdge, b: SpecEdge): boolean {
  return edgeId(a) === edgeId(b);
}

export function reducer(state: EditorState, action: Action): EditorState {
  switch (action.type) {
    case "load":
      return initialState(action.graph);

    case "addNode": {
      const id = action.id ?? newNodeId(action.module, state.graph.nodes.map((n) => n.id));
      if (state.graph.nodes.some((n) => n.id === id)) return refuse(state, t('A node named "{id}" already exists.', { id }));
      const node: SpecNode = { id, module: action.module, label: null, config: { ...(action.config ?? {}) }, position: { ...action.position } };
      return commit(state, { ...state.graph, nodes: [...state.graph.nodes, node] }, { selectedNodes: [id], selectedEdges: [] });
    }

    case "connect": {
      const edge: SpecEdge = { ...action.edge, source_port: action.edge.source_port ?? "out", target_port: action.edge.target_port ?? null };
      const { graph } = state;
      if (!graph.nodes.some((n) => n.id === edge.source) || !graph.nodes.some((n) => n.id === edge.target)) {
        return refuse(state, t("Both ends of a connection must be nodes on the canvas."));
      }
      if (graph.edges.some((e) => samePorts(e, edge))) return refuse(state, t("These ports are already connected."));
      if (createsCycle(graph, edge.source, edge.target)) {
        return refuse(state, t("Connecting {source} → {target} would make a cycle; pipelines flow one way.", { source: edge.source, target: edge.target }));
      }
      const inputs = graph.edges.filter((e) => e.target === edge.target && (e.target_port ?? null) === (edge.target_port ?? null));
      if (action.maxInputs !== null && inputs.length >= action.maxInputs) {
        return refuse(state, tooManyInputs(edge.target, edge.target_port ?? null, action.maxInputs));
      }
      return commit(state, { ...graph, edges: [...graph.edges, edge] });
    }

    case "deleteSelection": {
      if (!state.selectedNodes.length && !state.selectedEdges.length) return state;
      const nodes = new Set(state.selectedNodes);
      const edges = new Set(state.selectedEdges);
      const graph = removeNodes(state.graph, nodes);
      return commit(state, { ...graph, edges: graph.edges.filter((e) => !edges.has(edgeId(e))) }, { selectedNodes: [], selectedEdges: [] });
    }

    case "deleteNodes": {
      const ids = new Set(action.ids);
      if (!state.graph.nodes.some((n) => ids.has(n.id))) return state;
      return commit(state, removeNodes(state.graph, ids), {
        selectedNodes: state.selectedNodes.filter((id) => !ids.has(id)),
      });
    }

    case "deleteEdges": {
      const ids = new Set(action.ids);
      if (!state.graph.edges.some((e) => ids.has(edgeId(e)))) return state;
      return commit(state, { ...state.graph, edges: state.graph.edges.filter((e) => !ids.has(edgeId(e))) }, {
        selectedEdges: state.selectedEdges.filter((id) => !ids.has(id)),
      });
    }

    case "select":
      return { ...state, selectedNodes: action.nodes, selectedEdges: action.edges ?? [], coalesceKey: null };

    case "setConfig":
      return commit(
        state,
        { ...state.graph, nodes: state.graph.nodes.map((n) => (n.id === action.id ? { ...n, config: action.config } : n)) },
        {},
        `config:${action.id}`,
      );

    case "setLabel":
      return commit(
        state,
        { ...state.graph, nodes: state.graph.nodes.map((n) => (n.id === action.id ? { ...n, label: action.label } : n)) },
        {},
        `label:${action.id}`,
      );

    case "beginDrag":
      return { ...state, dragStart: state.dragStart ?? state.graph, coalesceKey: null };

    case "move":
      // Transient: every pointer move during a drag; history is written once by endDrag.
      return { ...state, graph: withPositions(state.graph, action.positions) };

    case "endDrag": {
      const before = state.dragStart;
      if (!before) return state;
      const moved = before.nodes.some((n, i) => {
        const now = state.graph.nodes[i];
        return !now || now.position?.x !== n.position?.x || now.position?.y !== n.position?.y;
      });
      if (!moved) return { ...state, dragStart: null };
      return {
        ...state,
        dragStart: null,
        past: [...state.past, before].slice(-HISTORY_LIMIT),
        future: [],
        coalesceKey: null,
        revision: state.revision + 1,
      };
    }

    case "setPositions":
      return commit(state, withPositions(state.graph, action.positions));

    case "undo": {
      const previous = state.past[state.past.length - 1];
      if (!previous) return state;
      return {
        ...state,
        graph: previous,
        past: state.past.slice(0, -1),
        future: [state.graph, ...state.future],
        coalesceKey: null,
        notice: null,
        revision: state.revision + 1,
        selectedNodes: state.selectedNodes.filter((id) => previous.nodes.some((n) => n.id === id)),
        selectedEdges: [],
      };
    }

    case "redo": {
      const [next, ...rest] = state.future;
      if (!next) return state;
      return {
        ...state,
        graph: next,
        past: [...state.past, state.graph].slice(-HISTORY_LIMIT),
        future: rest,
        coalesceKey: null,
        notice: null,
        revision: state.revision + 1,
        selectedNodes: state.selectedNodes.filter((id) => next.nodes.some((n) => n.id === id)),
        selectedEdges: [],
      };
    }

    case "copy": {
      const ids = new Set(state.selectedNodes);
      if (!ids.size) return state;
      return {
        ...state,
        clipboard: {
          nodes: state.graph.nodes.filter((n) => ids.has(n.id)).map((n) => structuredClone(n)),
          edges: state.graph.edges.filter((e) => ids.has(e.source) && ids.has(e.target)).map((e) => ({ ...e })),
        },
      };
    }

    case "paste": {
      const clip = state.clipboard;
      if (!clip || !clip.nodes.length) return state;
      const taken = state.graph.nodes.map((n) => n.id);
      const renamed = new Map<string, string>();
      const nodes = clip.nodes.map((n) => {
        const id = newNodeId(n.module, [...taken, ...renamed.values()]);
        renamed.set(n.id, id);
        const p = n.position ?? { x: 0, y: 0 };
        return { ...structuredClone(n), id, position: { x: p.x + PASTE_OFFSET, y: p.y + PASTE_OFFSET } };
      });
      const edges = clip.edges.map((e) => ({ ...e, source: renamed.get(e.source) as string, target: renamed.get(e.target) as string }));
      // Pasting again offsets again, so repeated pastes never stack exactly on top of each other.
      const clipboard = { nodes: nodes.map((n) => structuredClone(n)), edges: clip.edges.map((e) => ({ ...e, source: renamed.get(e.source) as string, target: renamed.get(e.target) as string })) };
      return commit(
        state,
        { nodes: [...state.graph.nodes, ...nodes], edges: [...state.graph.edges, ...edges] },
        { selectedNodes: nodes.map((n) => n.id), selectedEdges: [], clipboard },
      );
    }

    case "insertAfter": {
      const result = insertAfter(state.graph, action.after, action.steps);
      if ("error" in result) return refuse(state, result.error);
      return commit(state, result.graph, { selectedNodes: [result.ids[result.ids.length - 1]], selectedEdges: [] });
    }

    case "clearNotice":
      return { ...state, notice: null };
  }
}

export const canUndo = (s: EditorState): boolean => s.past.length > 0;
export const canRedo = (s: EditorState): boolean => s.future.length > 0;
