import { describe, expect, it } from "vitest";
import type { Spec } from "../src/api/types";
import { graphToSpec, specToGraph } from "../src/graph/convert";
import { type Action, initialState, reducer } from "../src/graph/reducer";
import { specKey, stableJson } from "../src/graph/saved";
import { spec } from "./fixtures";

const keyOf = (graph: ReturnType<typeof specToGraph>) => specKey(graphToSpec({ ...spec(), nodes: [], edges: [] } as Spec, graph));

describe("unsaved changes: the pipeline differs from the saved version", () => {
  it("ignores key order and absent fields", () => {
    expect(stableJson({ b: 1, a: { d: undefined, c: [2, { z: 1, y: 2 }] } })).toBe(stableJson({ a: { c: [2, { y: 2, z: 1 }] }, b: 1 }));
    expect(stableJson({ a: 1 })).not.toBe(stableJson({ a: 2 }));
  });

  it("is clean again after undoing back to the saved graph, or editing a value back", () => {
    const loaded = reducer(initialState(), { type: "load", graph: specToGraph(spec()) });
    const saved = keyOf(loaded.graph);
    const node = loaded.graph.nodes[0];
    const edit: Action = { type: "setConfig", id: node.id, config: { ...node.config, note: "changed" } };
    const edited = reducer(loaded, edit);
    expect(keyOf(edited.graph)).not.toBe(saved);
    expect(keyOf(reducer(edited, { type: "undo" }).graph)).toBe(saved);
    // typed and typed back: another edit, the same content
    const back = reducer(edited, { type: "setConfig", id: node.id, config: { ...node.config } });
    expect(back.revision).toBeGreaterThan(loaded.revision);
    expect(keyOf(back.graph)).toBe(saved);
  });

  it("counts a moved node (its position is saved with the pipeline)", () => {
    const loaded = reducer(initialState(), { type: "load", graph: specToGraph(spec()) });
    const id = loaded.graph.nodes[0].id;
    const moved = reducer(loaded, { type: "setPositions", positions: { [id]: { x: 999, y: 999 } } });
    expect(keyOf(moved.graph)).not.toBe(keyOf(loaded.graph));
  });
});
