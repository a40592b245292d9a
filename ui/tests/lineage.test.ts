import { describe, expect, it } from "vitest";
import type { NodeSchema, NodeSchemas } from "../src/api/types";
import { lineagePath, originsOf } from "../src/graph/lineage";
import { edgeId } from "../src/graph/model";

type Origin = [node: string, column: string, kind?: "direct" | "indirect"];
function schema(node_id: string, columns: string[], lineage?: Record<string, Origin[]>): NodeSchema {
  return {
    node_id,
    status: "known",
    reason: null,
    ports: { out: columns.map((name) => ({ name, type: "VARCHAR" })) },
    lineage: lineage
      ? { out: Object.fromEntries(Object.entries(lineage).map(([c, os]) => [c, os.map(([n, col, kind]) => ({ node_id: n, port: "out", column: col, kind: kind ?? "direct" }))])) }
      : {},
  };
}
const edge = (source: string, target: string) => ({ source, target, source_port: "out", target_port: null });

// read -> tidy -> total -> write; other is a second source joined nowhere.
const edges = [edge("read", "tidy"), edge("tidy", "total"), edge("total", "write"), edge("other", "total")];
const schemas: NodeSchemas = {
  read: schema("read", ["amount", "status", "country"]),
  other: schema("other", ["rate"]),
  tidy: schema("tidy", ["amount", "status", "country"], { amount: [["read", "amount"]], status: [["read", "status"]], country: [["read", "country"]] }),
  total: schema("total", ["country", "paid"], {
    country: [["tidy", "country"]],
    paid: [["tidy", "amount"], ["other", "rate"], ["tidy", "status", "indirect"]],
  }),
  write: schema("write", ["country", "paid"]), // a destination: no lineage, passes its input through
};

describe("column lineage path", () => {
  it("walks upstream from an output column, through every origin, to the sources", () => {
    const path = lineagePath(schemas, edges, { nodeId: "total", port: "out", column: "paid" });
    expect(path.nodes.get("total")).toEqual([{ column: "paid", port: "out", kind: "selected" }]);
    expect(path.nodes.get("tidy")).toEqual([
      { column: "amount", port: "out", kind: "direct" },
      { column: "status", port: "out", kind: "indirect" },
    ]);
    // status only decides the value: what it comes from is indirect too.
    expect(path.nodes.get("read")).toEqual([
      { column: "amount", port: "out", kind: "direct" },
      { column: "status", port: "out", kind: "indirect" },
    ]);
    expect(path.nodes.get("other")).toEqual([{ column: "rate", port: "out", kind: "direct" }]);
    expect(path.edges).toEqual(new Set([edgeId(edges[0]), edgeId(edges[1]), edgeId(edges[3]), edgeId(edges[2])]));
    // Downstream: the destination passes the column through.
    expect(path.nodes.get("write")).toEqual([{ column: "paid", port: "out", kind: "direct" }]);
  });

  it("walks downstream from a source column to every column computed from it", () => {
    const path = lineagePath(schemas, edges, { nodeId: "read", port: "out", column: "amount" });
    expect([...path.nodes.keys()].sort()).toEqual(["read", "tidy", "total", "write"]);
    expect(path.nodes.get("total")).toEqual([{ column: "paid", port: "out", kind: "direct" }]);
    expect(path.nodes.has("other")).toBe(false);
    expect(path.edges.has(edgeId(edges[3]))).toBe(false);
  });

  it("leaves unrelated nodes and edges off the path", () => {
    const path = lineagePath(schemas, edges, { nodeId: "tidy", port: "out", column: "country" });
    expect([...path.nodes.keys()].sort()).toEqual(["read", "tidy", "total", "write"]);
    expect(path.nodes.get("total")).toEqual([{ column: "country", port: "out", kind: "direct" }]);
    expect(path.nodes.get("read")).toEqual([{ column: "country", port: "out", kind: "direct" }]);
  });

  it("finds a pass-through node's origins by name and stops at sources and constants", () => {
    expect(originsOf(schemas, edges, "write", "out", "PAID")).toEqual([{ node_id: "total", port: "out", column: "paid", kind: "direct" }]);
    expect(originsOf(schemas, edges, "read", "out", "amount")).toEqual([]);
    const withConstant = { ...schemas, tidy: schema("tidy", ["one"], { one: [] }) };
    expect(originsOf(withConstant, edges, "tidy", "out", "one")).toEqual([]);
    expect(originsOf(schemas, edges, "missing", "out", "x")).toEqual([]);
  });
});
