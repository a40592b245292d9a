import { describe, expect, it } from "vitest";
import { backwardEdges, connectionToEdge, fromFlow, graphToSpec, maxInputsFor, portLabel, specToGraph, toFlowEdges, toFlowNodes } from "../src/graph/convert";
import type { Graph } from "../src/graph/model";
import { moduleMap, mod, spec } from "./fixtures";

describe("spec <-> React Flow", () => {
  it("carries where each node runs, from /validate's engines", () => {
    const graph = specToGraph(spec());
    const engines = { read: { engine: "postgres" as const, reason: null }, dedupe: { engine: "engine" as const, reason: "not pushed into PostgreSQL: a branch" } };
    const nodes = toFlowNodes(graph, { modules: moduleMap, engines });
    expect(nodes[0].data.engine).toEqual({ engine: "postgres", reason: null });
    expect(nodes[1].data.engine?.reason).toContain("a branch");
    expect(toFlowNodes(graph, { modules: moduleMap })[0].data.engine).toBeNull();
  });

  it("round-trips nodes, edges and positions", () => {
    const original = spec();
    const graph = specToGraph(original);
    const nodes = toFlowNodes(graph, { modules: moduleMap });
    const edges = toFlowEdges(graph);
    expect(nodes.map((n) => n.position)).toEqual(original.nodes!.map((n) => n.position));
    expect(nodes[0]).toMatchObject({ id: "read", type: "logidata", data: { module: { name: "source.file" } } });
    expect(edges[0]).toMatchObject({ source: "read", target: "dedupe", sourceHandle: "out", targetHandle: "in" });

    const back = graphToSpec(original, fromFlow(nodes, edges));
    expect(back).toEqual(original);
  });

  it("keeps moved positions (rounded) and every other spec field", () => {
    const original = spec({ tags: ["x"], schedule: "@daily" });
    const nodes = toFlowNodes(specToGraph(original), { modules: moduleMap });
    nodes[1] = { ...nodes[1], position: { x: 412.6, y: -7.2 } };
    const back = graphToSpec(original, fromFlow(nodes, toFlowEdges(specToGraph(original))));
    expect(back.nodes![1].position).toEqual({ x: 413, y: -7 });
    expect(back.nodes![1].config).toEqual(original.nodes![1].config);
    expect(back.schedule).toBe("@daily");
    expect(back.tags).toEqual(["x"]);
  });

  it("fills defaults for hand-written specs without ports or positions", () => {
    const s = spec();
    const raw = { ...s, nodes: s.nodes!.map(({ position: _p, ...n }) => n), edges: [{ source: "read", target: "dedupe" }] } as unknown as typeof s;
    const graph = specToGraph(raw);
    expect(graph.nodes[0].position).toEqual({ x: 0, y: 0 });
    expect(graph.edges[0]).toEqual({ source: "read", target: "dedupe", source_port: "out", target_port: null });
  });

  it("maps named ports both ways", () => {
    expect(connectionToEdge({ source: "a", target: "j", sourceHandle: "unmatched", targetHandle: "left" })).toEqual({
      source: "a",
      target: "j",
      source_port: "unmatched",
      target_port: "left",
    });
    expect(connectionToEdge({ source: "a", target: "b", sourceHandle: null, targetHandle: "in" })).toEqual({
      source: "a",
      target: "b",
      source_port: "out",
      target_port: null,
    });
    const graph = { nodes: [], edges: [{ source: "r", target: "j", source_port: "matched", target_port: "right" }] };
    expect(toFlowEdges(graph)[0]).toMatchObject({ sourceHandle: "matched", targetHandle: "right", label: "matched → right" });
  });

  it("draws edges with arrowheads and labels the ports that say something", () => {
    const edge = (source_port: string, target_port: string | null) => ({ source: "a", target: "b", source_port, target_port });
    const [plain] = toFlowEdges({ nodes: [], edges: [edge("out", null)] });
    expect(plain.markerEnd).toMatchObject({ type: "arrowclosed" });
    expect(plain.label).toBeUndefined();
    expect(portLabel(edge("rejected", null))).toBe("rejected");
    expect(portLabel(edge("out", "left"))).toBe("→ left");
    expect(portLabel(edge("out", "in"))).toBeUndefined();
  });

  it("unknown modules become broken nodes instead of failing", () => {
    const s = spec();
    s.nodes![1] = { ...s.nodes![1], module: "gone.module" };
    const nodes = toFlowNodes(specToGraph(s), { modules: moduleMap });
    expect(nodes[1].data.module).toBeNull();
    expect(nodes[1].data.node.module).toBe("gone.module");
  });

  it("carries selection, run state, issues and read-only into node data", () => {
    const graph = specToGraph(spec());
    const issue = { path: "nodes[1].config.columns", message: "bad", node_id: "dedupe" };
    const nodes = toFlowNodes(graph, {
      modules: moduleMap,
      selected: ["tidy"],
      issues: new Map([["dedupe", [issue]]]),
      runNodes: { read: { task_id: "read", state: "success", rows_in: null, rows_out: 10, seconds: 0.5, engine: "etl" } },
      readOnly: true,
    });
    expect(nodes[2].selected).toBe(true);
    expect(nodes[1].data.issues).toEqual([issue]);
    expect(nodes[0].data.run?.rows_out).toBe(10);
    expect(nodes.every((n) => n.draggable === false && n.connectable === false)).toBe(true);
  });

  it("limits inputs per port", () => {
    expect(maxInputsFor(mod("deduplicate"), null)).toBe(1);
    expect(maxInputsFor(mod("join"), "left")).toBe(1);
    expect(maxInputsFor(undefined, null)).toBeNull();
  });
});

describe("edges that run backwards", () => {
  it("are the ones whose target does not sit right of the source, drawn as steps", () => {
    const graph: Graph = {
      nodes: [
        { id: "a", module: "m", label: null, config: {}, position: { x: 0, y: 0 } },
        { id: "b", module: "m", label: null, config: {}, position: { x: 240, y: 0 } },
        { id: "c", module: "m", label: null, config: {}, position: { x: 0, y: 170 } },
        { id: "d", module: "m", label: null, config: {}, position: { x: 100, y: 300 } },
      ],
      edges: [
        { source: "a", target: "b", source_port: "out", target_port: null },
        { source: "b", target: "c", source_port: "out", target_port: null },
        { source: "c", target: "d", source_port: "out", target_port: null },
      ],
    };
    const backward = backwardEdges(graph);
    expect(backward).toHaveLength(2); // b → c goes back left; c → d sits under c's output
    const types = toFlowEdges(graph, { backward: new Set(backward) }).map((e) => e.type ?? "default");
    expect(types).toEqual(["default", "smoothstep", "smoothstep"]);
  });
});
