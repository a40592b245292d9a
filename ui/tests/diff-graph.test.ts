import { describe, expect, it } from "vitest";
import type { Change, SpecEdge } from "../src/api/types";
import { diffGraph, groupChanges } from "../src/history/diffGraph";
import { spec } from "./fixtures";

const change = (partial: Partial<Change> & Pick<Change, "kind" | "action" | "text">): Change => ({ node: null, field: null, before: null, after: null, edge: null, module: null, ...partial });

// v1: read → dedupe → tidy → write. v2: dedupe removed (read → tidy), filter added after tidy, write's path changed, tidy moved.
const older = spec();
const newer = spec({
  nodes: [
    older.nodes[0],
    { ...older.nodes[2], position: { x: 400, y: 300 } },
    { id: "keep", module: "filter", label: "Big orders", config: { condition: "amount > 100" }, position: { x: 300, y: 25 } },
    { ...older.nodes[3], config: { path: "/out/orders.csv", format: "csv" } },
  ],
  edges: [
    { source: "read", target: "tidy", source_port: "out", target_port: null },
    { source: "tidy", target: "keep", source_port: "out", target_port: null },
    { source: "keep", target: "write", source_port: "out", target_port: null },
  ],
});
const changes: Change[] = [
  change({ kind: "pipeline", action: "changed", field: "schedule", before: null, after: "@daily", text: "~ pipeline schedule: null → \"@daily\"" }),
  change({ kind: "node", action: "removed", node: "dedupe", module: "deduplicate", text: "- node dedupe (deduplicate)" }),
  change({ kind: "node", action: "added", node: "keep", module: "filter", text: "+ node keep (filter)" }),
  change({ kind: "node", action: "changed", node: "write", module: "destination.file", field: "config.path", text: "~ node write: config.path" }),
  change({ kind: "node", action: "added", node: "write", module: "destination.file", field: "config.format", text: "+ node write: config.format = \"csv\"" }),
  change({ kind: "edge", action: "removed", edge: { source: "read", source_port: "out", target: "dedupe", target_port: null }, text: "- edge read → dedupe" }),
];

describe("the union graph of two versions", () => {
  const graph = diffGraph(older, newer, changes);
  const node = (id: string) => graph.nodes.find((n) => n.id === id);

  it("marks added, removed, changed (with the number of changed fields) and unchanged nodes", () => {
    expect(node("keep")).toMatchObject({ mark: "added", changedFields: 0 });
    expect(node("dedupe")).toMatchObject({ mark: "removed", module: "deduplicate" });
    expect(node("write")).toMatchObject({ mark: "changed", changedFields: 2 });
    // Moved, not changed: positions are not compared.
    expect(node("tidy")).toMatchObject({ mark: "same", changedFields: 0 });
    expect(node("read")?.mark).toBe("same");
    expect(graph.nodes).toHaveLength(5);
  });

  it("places the newer version's nodes where they stand and a removed node where it was, off any node in its place", () => {
    expect(node("tidy")?.position).toEqual({ x: 400, y: 300 });
    // dedupe stood at (300, 25), where keep stands now: the ghost moves down.
    const ghost = node("dedupe")?.position;
    expect(ghost?.x).toBe(300);
    expect(ghost?.y).toBeGreaterThan(25 + 59);
  });

  it("marks edges added, removed and kept, an omitted port as the server reads it", () => {
    const marks = Object.fromEntries(graph.edges.map((e) => [`${e.edge.source}>${e.edge.target}`, e.mark]));
    expect(marks).toEqual({
      "read>tidy": "added",
      "tidy>keep": "added",
      "keep>write": "added",
      "read>dedupe": "removed",
      "dedupe>tidy": "removed",
      "tidy>write": "removed",
    });
    const same = diffGraph(spec({ edges: [{ source: "read", target: "dedupe", source_port: "out", target_port: null }] }), spec({ edges: [{ source: "read", target: "dedupe" } as SpecEdge] }), []);
    expect(same.edges.map((e) => e.mark)).toEqual(["same"]);
  });

  it("lays out versions saved without positions, ghosts included", () => {
    const strip = (s: ReturnType<typeof spec>) => ({ ...s, nodes: s.nodes.map(({ position: _p, ...n }) => n) });
    const laid = diffGraph(strip(older), strip(newer), changes);
    const xs = new Set(laid.nodes.map((n) => `${n.position.x},${n.position.y}`));
    expect(xs.size).toBe(laid.nodes.length);
    expect(laid.nodes.find((n) => n.id === "read")?.position.x).toBe(0);
  });

  it("drops an edge to a node neither version has", () => {
    const broken = spec({ edges: [{ source: "read", target: "ghost", source_port: "out", target_port: null }] });
    expect(diffGraph(broken, broken, []).edges).toEqual([]);
  });
});

describe("the change list's groups", () => {
  it("puts pipeline settings first, then each node's changes, then the edges", () => {
    const grouped = groupChanges(changes);
    expect(grouped.pipeline.map((c) => c.field)).toEqual(["schedule"]);
    expect(grouped.nodes.map((g) => [g.node, g.action, g.changes.length])).toEqual([
      ["dedupe", "removed", 1],
      ["keep", "added", 1],
      ["write", "changed", 2],
    ]);
    expect(grouped.edges).toHaveLength(1);
  });
});
