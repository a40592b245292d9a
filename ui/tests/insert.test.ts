import { describe, expect, it } from "vitest";
import { specToGraph } from "../src/graph/convert";
import { INSERT_SPACING, insertAfter, type InsertResult } from "../src/graph/insert";
import { type EditorState, initialState, reducer } from "../src/graph/reducer";
import { spec } from "./fixtures";

function ok(result: InsertResult) {
  if ("error" in result) throw new Error(result.error);
  return result;
}
const loaded = (): EditorState => reducer(initialState(), { type: "load", graph: specToGraph(spec()) });
const wires = (s: EditorState) => s.graph.edges.map((e) => `${e.source}>${e.target}${e.target_port ? `.${e.target_port}` : ""}`).sort();

describe("insert steps after a node", () => {
  it("chains the new nodes after the node and rewires its consumers through them", () => {
    const s = reducer(loaded(), {
      type: "insertAfter",
      after: "read",
      steps: [
        { module: "deduplicate", config: {}, label: "Remove duplicates" },
        { module: "clean_text", config: { columns: ["customer"], trim: true } },
      ],
    });
    expect(s.graph.nodes.map((n) => n.id)).toEqual(["read", "dedupe", "tidy", "write", "deduplicate_1", "clean_text_1"]);
    expect(wires(s)).toEqual(["clean_text_1>dedupe", "dedupe>tidy", "deduplicate_1>clean_text_1", "read>deduplicate_1", "tidy>write"]);
    expect(s.graph.nodes[4]).toMatchObject({ module: "deduplicate", label: "Remove duplicates", position: { x: 10 + INSERT_SPACING, y: 20 } });
    expect(s.graph.nodes[5].config).toEqual({ columns: ["customer"], trim: true });
    // Downstream nodes move right to make room; the anchor stays.
    expect(s.graph.nodes[0].position).toEqual({ x: 10, y: 20 });
    expect(s.graph.nodes[1].position).toEqual({ x: 300 + 2 * INSERT_SPACING, y: 25 });
    expect(s.graph.nodes[3].position).toEqual({ x: 880 + 2 * INSERT_SPACING, y: 35 });
    // The last inserted node is selected, so its preview shows the fixed data.
    expect(s.selectedNodes).toEqual(["clean_text_1"]);
  });

  it("is one undo step, and redo brings it back", () => {
    const before = loaded();
    const s = reducer(before, { type: "insertAfter", after: "dedupe", steps: [{ module: "clean_text", config: {} }, { module: "deduplicate", config: {} }] });
    expect(s.past).toHaveLength(1);
    expect(s.revision).toBe(before.revision + 1);
    const undone = reducer(s, { type: "undo" });
    expect(undone.graph).toEqual(before.graph);
    expect(undone.selectedNodes).toEqual([]);
    expect(reducer(undone, { type: "redo" }).graph).toEqual(s.graph);
  });

  it("appends after a node with no consumers and leaves other output ports alone", () => {
    const graph = {
      nodes: [
        { id: "r", module: "route", label: null, config: {}, position: { x: 0, y: 0 } },
        { id: "a", module: "clean_text", label: null, config: {}, position: { x: 300, y: 0 } },
      ],
      edges: [{ source: "r", target: "a", source_port: "high", target_port: null }],
    };
    const out = ok(insertAfter(graph, "r", [{ module: "deduplicate", config: {} }]));
    expect(out.ids).toEqual(["deduplicate_1"]);
    expect(out.graph.edges).toEqual([
      { source: "r", target: "a", source_port: "high", target_port: null },
      { source: "r", target: "deduplicate_1", source_port: "out", target_port: null },
    ]);
    // The route's branch is not downstream of the main port, but it is downstream of the node: it shifts too.
    expect(out.graph.nodes[1].position?.x).toBe(300 + INSERT_SPACING);
    // Config is copied, not shared with the suggestion object.
    const config = { columns: ["x"] };
    const copy = ok(insertAfter(graph, "a", [{ module: "deduplicate", config }]));
    expect(copy.graph.nodes[2].config).toEqual(config);
    expect(copy.graph.nodes[2].config).not.toBe(config);
  });

  it("keeps a join's named input port when rewiring", () => {
    const graph = {
      nodes: [
        { id: "a", module: "source.file", label: null, config: {}, position: { x: 0, y: 0 } },
        { id: "j", module: "join", label: null, config: {}, position: { x: 300, y: 0 } },
      ],
      edges: [{ source: "a", target: "j", source_port: "out", target_port: "left" }],
    };
    const out = ok(insertAfter(graph, "a", [{ module: "deduplicate", config: {} }]));
    expect(out.graph.edges).toContainEqual({ source: "deduplicate_1", target: "j", source_port: "out", target_port: "left" });
  });

  it("refuses with a reason when the node is gone, and changes nothing", () => {
    const s = loaded();
    const refused = reducer(s, { type: "insertAfter", after: "nope", steps: [{ module: "deduplicate", config: {} }] });
    expect(refused.graph).toBe(s.graph);
    expect(refused.notice).toMatch(/nope.*no longer on the canvas/);
    expect(insertAfter(s.graph, "read", [])).toEqual({ error: "Nothing to insert." });
  });

  it("wires a suggested join: the node feeds its named port, an existing node the other", () => {
    const graph = {
      nodes: [
        { id: "orders", module: "source.file", label: null, config: {}, position: { x: 0, y: 0 } },
        { id: "customers", module: "source.file", label: null, config: {}, position: { x: 0, y: 200 } },
        { id: "write", module: "destination.file", label: null, config: {}, position: { x: 300, y: 0 } },
      ],
      edges: [{ source: "orders", target: "write", source_port: "out", target_port: null }],
    };
    const out = ok(insertAfter(graph, "orders", [{ module: "join", config: { on: ["customer_id"] }, inputPort: "left", extraInputs: { right: "customers" } }]));
    expect(out.graph.edges).toEqual([
      { source: "orders", target: "join_1", source_port: "out", target_port: "left" },
      { source: "customers", target: "join_1", source_port: "out", target_port: "right" },
      { source: "join_1", target: "write", source_port: "out", target_port: null },
    ]);
    // An extra input from downstream would close a cycle; a vanished one cannot be wired.
    expect(insertAfter(graph, "orders", [{ module: "join", config: {}, extraInputs: { right: "write" } }])).toEqual({ error: expect.stringMatching(/downstream \(a cycle\)/) });
    expect(insertAfter(graph, "orders", [{ module: "join", config: {}, extraInputs: { right: "gone" } }])).toEqual({ error: expect.stringMatching(/"gone", which is no longer on the canvas/) });
  });
});
