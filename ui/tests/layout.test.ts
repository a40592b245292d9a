import { describe, expect, it } from "vitest";
import { LAYER_GAP, layeredLayout, needsLayout } from "../src/graph/layout";
import type { Graph } from "../src/graph/model";

const g = (edges: [string, string][], extra: string[] = []): Graph => {
  const ids = [...new Set([...edges.flat(), ...extra])];
  return {
    nodes: ids.map((id) => ({ id, module: "m", label: null, config: {}, position: { x: 0, y: 0 } })),
    edges: edges.map(([source, target]) => ({ source, target, source_port: "out", target_port: null })),
  };
};

describe("layered layout", () => {
  it("puts each node one layer right of its furthest input", () => {
    const p = layeredLayout(g([["a", "b"], ["b", "c"], ["a", "c"], ["c", "d"]]));
    expect([p.a.x, p.b.x, p.c.x, p.d.x]).toEqual([0, LAYER_GAP, 2 * LAYER_GAP, 3 * LAYER_GAP]);
  });

  it("stacks parallel branches and keeps every node distinct", () => {
    const p = layeredLayout(g([["s1", "j"], ["s2", "j"], ["j", "w"]], ["lonely"]));
    expect(p.s1.x).toBe(p.s2.x);
    expect(p.s1.y).not.toBe(p.s2.y);
    const keys = Object.values(p).map((xy) => `${xy.x},${xy.y}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("survives cycles (invalid graphs) without looping", () => {
    const p = layeredLayout(g([["a", "b"], ["b", "a"], ["c", "a"]]));
    expect(Object.keys(p).sort()).toEqual(["a", "b", "c"]);
  });

  it("lays out only specs that carry no positions", () => {
    expect(needsLayout(g([["a", "b"]]))).toBe(true);
    const placed = g([["a", "b"]]);
    placed.nodes[1].position = { x: 5, y: 0 };
    expect(needsLayout(placed)).toBe(false);
  });

  it("lays out 200 nodes in layers without overlaps", () => {
    const edges: [string, string][] = [];
    for (let i = 1; i < 200; i += 1) edges.push([`n${Math.floor((i - 1) / 2)}`, `n${i}`]);
    const p = layeredLayout(g(edges));
    expect(Object.keys(p)).toHaveLength(200);
    const spots = new Set(Object.values(p).map((xy) => `${xy.x},${xy.y}`));
    expect(spots.size).toBe(200);
    for (const [a, b] of edges) expect(p[b].x).toBeGreaterThan(p[a].x);
  });
});
