import { describe, expect, it } from "vitest";
import { specToGraph } from "../src/graph/convert";
import { edgeId } from "../src/graph/model";
import { type Action, canRedo, canUndo, type EditorState, initialState, reducer } from "../src/graph/reducer";
import { spec } from "./fixtures";

const run = (state: EditorState, ...actions: Action[]) => actions.reduce(reducer, state);
const ids = (s: EditorState) => s.graph.nodes.map((n) => n.id);

describe("graph edit reducer", () => {
  it("adds nodes with unique task-id-safe ids and selects the new node", () => {
    const s = run(
      initialState(),
      { type: "addNode", module: "source.file", position: { x: 1, y: 2 } },
      { type: "addNode", module: "source.file", position: { x: 3, y: 4 } },
      { type: "addNode", module: "deduplicate", position: { x: 5, y: 6 } },
    );
    expect(ids(s)).toEqual(["source_file_1", "source_file_2", "deduplicate_1"]);
    expect(s.graph.nodes[2].position).toEqual({ x: 5, y: 6 });
    expect(s.graph.nodes[2].config).toEqual({});
    expect(s.selectedNodes).toEqual(["deduplicate_1"]);
    expect(s.revision).toBe(3);
  });

  it("connects ports and refuses duplicates, cycles, self loops and full inputs with a reason", () => {
    let s = run(
      initialState(),
      { type: "addNode", module: "source.file", position: { x: 0, y: 0 } },
      { type: "addNode", module: "deduplicate", position: { x: 0, y: 0 } },
      { type: "addNode", module: "clean_text", position: { x: 0, y: 0 } },
    );
    const edge = (source: string, target: string) => ({ source, target, source_port: "out", target_port: null });
    s = run(s, { type: "connect", edge: edge("source_file_1", "deduplicate_1"), maxInputs: 1 });
    expect(s.graph.edges).toEqual([edge("source_file_1", "deduplicate_1")]);
    expect(s.notice).toBeNull();

    const dup = reducer(s, { type: "connect", edge: edge("source_file_1", "deduplicate_1"), maxInputs: 1 });
    expect(dup.graph).toBe(s.graph);
    expect(dup.notice).toMatch(/already connected/);

    s = run(s, { type: "connect", edge: edge("deduplicate_1", "clean_text_1"), maxInputs: 1 });
    const cycle = reducer(s, { type: "connect", edge: edge("clean_text_1", "source_file_1"), maxInputs: null });
    expect(cycle.graph).toBe(s.graph);
    expect(cycle.notice).toMatch(/cycle/);
    expect(reducer(s, { type: "connect", edge: edge("clean_text_1", "clean_text_1"), maxInputs: null }).notice).toMatch(/cycle/);

    const full = reducer(s, { type: "connect", edge: edge("source_file_1", "clean_text_1"), maxInputs: 1 });
    expect(full.graph).toBe(s.graph);
    expect(full.notice).toMatch(/clean_text_1 takes at most 1 input; remove a connection first/);
  });

  it("named ports are counted separately (a join's left and right)", () => {
    let s = run(
      initialState(),
      { type: "addNode", module: "source.file", position: { x: 0, y: 0 } },
      { type: "addNode", module: "source.file", position: { x: 0, y: 0 } },
      { type: "addNode", module: "join", position: { x: 0, y: 0 } },
    );
    s = run(
      s,
      { type: "connect", edge: { source: "source_file_1", target: "join_1", source_port: "out", target_port: "left" }, maxInputs: 1 },
      { type: "connect", edge: { source: "source_file_2", target: "join_1", source_port: "out", target_port: "right" }, maxInputs: 1 },
    );
    expect(s.graph.edges.map((e) => e.target_port)).toEqual(["left", "right"]);
  });

  it("deletes the selection (nodes take their edges along) and undo/redo restore it", () => {
    const loaded = reducer(initialState(), { type: "load", graph: specToGraph(spec()) });
    const selected = reducer(loaded, { type: "select", nodes: ["dedupe"] });
    const deleted = reducer(selected, { type: "deleteSelection" });
    expect(ids(deleted)).toEqual(["read", "tidy", "write"]);
    expect(deleted.graph.edges.map((e) => `${e.source}>${e.target}`)).toEqual(["tidy>write"]);
    expect(canUndo(deleted)).toBe(true);

    const undone = reducer(deleted, { type: "undo" });
    expect(undone.graph).toEqual(loaded.graph);
    expect(canRedo(undone)).toBe(true);
    const redone = reducer(undone, { type: "redo" });
    expect(redone.graph).toEqual(deleted.graph);
    expect(canRedo(redone)).toBe(false);

    // A new edit after undo drops the redo stack.
    const branched = reducer(undone, { type: "setLabel", id: "read", label: "x" });
    expect(canRedo(branched)).toBe(false);
  });

  it("deletes a selected edge only", () => {
    const loaded = reducer(initialState(), { type: "load", graph: specToGraph(spec()) });
    const id = edgeId(loaded.graph.edges[1]);
    const s = run(loaded, { type: "select", nodes: [], edges: [id] }, { type: "deleteSelection" });
    expect(s.graph.nodes).toHaveLength(4);
    expect(s.graph.edges.map(edgeId)).not.toContain(id);
  });

  it("typing in one node's form is one undo step", () => {
    const loaded = reducer(initialState(), { type: "load", graph: specToGraph(spec()) });
    const typed = run(
      loaded,
      { type: "setConfig", id: "write", config: { path: "/o" } },
      { type: "setConfig", id: "write", config: { path: "/ou" } },
      { type: "setConfig", id: "write", config: { path: "/out" } },
    );
    expect(typed.past).toHaveLength(1);
    expect(reducer(typed, { type: "undo" }).graph.nodes[3].config).toEqual({ path: "/out/orders.parquet" });
    // Another node starts a new step.
    expect(reducer(typed, { type: "setConfig", id: "tidy", config: { trim: false } }).past).toHaveLength(2);
  });

  it("a drag is one undo step however many moves it had", () => {
    const loaded = reducer(initialState(), { type: "load", graph: specToGraph(spec()) });
    const dragged = run(
      loaded,
      { type: "beginDrag" },
      { type: "move", positions: { read: { x: 50, y: 50 } } },
      { type: "move", positions: { read: { x: 80, y: 90 } } },
      { type: "endDrag" },
    );
    expect(dragged.graph.nodes[0].position).toEqual({ x: 80, y: 90 });
    expect(dragged.past).toHaveLength(1);
    expect(reducer(dragged, { type: "undo" }).graph.nodes[0].position).toEqual({ x: 10, y: 20 });
    // A click without movement leaves no history.
    expect(run(loaded, { type: "beginDrag" }, { type: "endDrag" }).past).toHaveLength(0);
  });

  it("copy/paste duplicates the selected nodes and the edges between them with fresh ids, offset", () => {
    const loaded = reducer(initialState(), { type: "load", graph: specToGraph(spec()) });
    const copied = run(loaded, { type: "select", nodes: ["dedupe", "tidy"] }, { type: "copy" });
    expect(copied.graph).toBe(loaded.graph);
    const pasted = reducer(copied, { type: "paste" });
    expect(ids(pasted)).toEqual(["read", "dedupe", "tidy", "write", "deduplicate_1", "clean_text_1"]);
    expect(pasted.graph.nodes[4].position).toEqual({ x: 340, y: 65 });
    expect(pasted.graph.nodes[4].config).toEqual({ columns: ["order_id"] });
    expect(pasted.graph.edges.at(-1)).toEqual({ source: "deduplicate_1", target: "clean_text_1", source_port: "out", target_port: null });
    expect(pasted.selectedNodes).toEqual(["deduplicate_1", "clean_text_1"]);
    // The copy is deep: editing the pasted node leaves the original alone.
    expect(pasted.graph.nodes[4].config).not.toBe(pasted.graph.nodes[1].config);

    const again = reducer(pasted, { type: "paste" });
    expect(ids(again).slice(6)).toEqual(["deduplicate_2", "clean_text_2"]);
    expect(again.graph.nodes[6].position).toEqual({ x: 380, y: 105 });
    expect(reducer(again, { type: "undo" }).graph).toEqual(pasted.graph);
  });

  it("paste with an empty clipboard and undo with no history change nothing", () => {
    const s = initialState();
    expect(reducer(s, { type: "paste" })).toBe(s);
    expect(reducer(s, { type: "undo" })).toBe(s);
    expect(reducer(s, { type: "redo" })).toBe(s);
    expect(reducer(s, { type: "deleteSelection" })).toBe(s);
  });
});
