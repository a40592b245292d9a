import { describe, expect, it } from "vitest";
import type { NodeSchema, NodeSchemas } from "../src/api/types";
import { inputColumns, offeredColumns } from "../src/graph/inputColumns";
import type { Graph } from "../src/graph/model";

const known = (node_id: string, ports: Record<string, [string, string][]>): NodeSchema => ({
  node_id,
  status: "known",
  reason: null,
  ports: Object.fromEntries(Object.entries(ports).map(([p, cols]) => [p, cols.map(([name, type]) => ({ name, type }))])),
  lineage: {},
});
const node = (id: string, module: string, config: Record<string, unknown> = {}) => ({ id, module, label: null, config, position: { x: 0, y: 0 } });
const edge = (source: string, target: string, target_port: string | null = null, source_port = "out") => ({ source, target, source_port, target_port });

describe("which input columns a field offers", () => {
  const graph: Graph = {
    nodes: [node("orders", "source.file"), node("customers", "source.file"), node("join", "join"), node("keep", "filter_rows")],
    edges: [edge("orders", "join", "left"), edge("customers", "join", "right"), edge("join", "keep")],
  };
  const schemas: NodeSchemas = {
    orders: known("orders", { out: [["order_id", "BIGINT"], ["customer_id", "BIGINT"], ["amount", "DOUBLE"]] }),
    customers: known("customers", { out: [["customer_id", "BIGINT"], ["name", "VARCHAR"]] }),
    join: known("join", { out: [["order_id", "BIGINT"], ["customer_id", "BIGINT"], ["amount", "DOUBLE"], ["name", "VARCHAR"]] }),
  };

  it("offers a join's left_on the left input only, right_on the right, and on the columns of both", () => {
    const input = inputColumns(graph, schemas, "join");
    expect(offeredColumns(input, "left")).toEqual([
      { name: "order_id", type: "BIGINT" },
      { name: "customer_id", type: "BIGINT" },
      { name: "amount", type: "DOUBLE" },
    ]);
    expect(offeredColumns(input, "right")?.map((c) => c.name)).toEqual(["customer_id", "name"]);
    expect(offeredColumns(input, null)).toEqual([{ name: "customer_id", type: "BIGINT" }]);
  });

  it("offers the single input's columns with their types", () => {
    expect(offeredColumns(inputColumns(graph, schemas, "keep"), null)?.map((c) => `${c.name}:${c.type}`)).toEqual([
      "order_id:BIGINT",
      "customer_id:BIGINT",
      "amount:DOUBLE",
      "name:VARCHAR",
    ]);
  });

  it("falls back to the config rules (names only), then to nothing", () => {
    const g: Graph = {
      nodes: [node("read", "source.file", { path: "/x.csv", columns: ["a", "b"] }), node("dedupe", "deduplicate"), node("py", "python"), node("after", "sort")],
      edges: [edge("read", "dedupe"), edge("dedupe", "py"), edge("py", "after")],
    };
    expect(offeredColumns(inputColumns(g, {}, "dedupe"), null)).toEqual([
      { name: "a", type: null },
      { name: "b", type: null },
    ]);
    // The server's answer wins over the rules.
    const fromServer = { read: known("read", { out: [["a", "INTEGER"], ["b", "VARCHAR"]] }) };
    expect(offeredColumns(inputColumns(g, fromServer, "dedupe"), null)?.[0]).toEqual({ name: "a", type: "INTEGER" });
    // A python node's output is unknown to both: a plain text field.
    expect(offeredColumns(inputColumns(g, {}, "after"), null)).toBeNull();
    // An unknown schema is not used (status unknown), the rules are.
    const unknown: NodeSchemas = { read: { ...known("read", {}), status: "unknown", reason: "not read" } };
    expect(offeredColumns(inputColumns(g, unknown, "dedupe"), null)?.map((c) => c.name)).toEqual(["a", "b"]);
  });

  it("unions the inputs of one port, and offers a source its own columns", () => {
    const g: Graph = { nodes: [node("a", "source.file"), node("b", "source.file"), node("u", "union")], edges: [edge("a", "u"), edge("b", "u")] };
    const s: NodeSchemas = { a: known("a", { out: [["x", "INTEGER"]] }), b: known("b", { out: [["x", "BIGINT"], ["y", "VARCHAR"]] }) };
    expect(offeredColumns(inputColumns(g, s, "u"), null)).toEqual([
      { name: "x", type: "INTEGER" },
      { name: "y", type: "VARCHAR" },
    ]);
    expect(offeredColumns(inputColumns(g, s, "a"), null)).toEqual([{ name: "x", type: "INTEGER" }]);
    // A port nothing is connected to offers nothing; an unknown input makes its port unknown.
    expect(offeredColumns(inputColumns(g, s, "u"), "left")).toBeNull();
    expect(offeredColumns(inputColumns(g, { a: s.a }, "u"), null)).toBeNull();
  });

  it("takes a plain list of names as is", () => {
    expect(offeredColumns(["a"], "left")).toEqual([{ name: "a", type: null }]);
    expect(offeredColumns(null, null)).toBeNull();
  });
});
