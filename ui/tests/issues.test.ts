import { describe, expect, it } from "vitest";
import type { Issue, JsonSchema } from "../src/api/types";
import { blockersOf, issueLines, looseIssues, nodeLevelIssues } from "../src/canvas/issues";
import { unknownReason } from "../src/canvas/OutputColumns";
import { issuesByNode } from "../src/graph/errors";
import { fieldTitles, unionOf } from "../src/form/schema";
import { COLUMN_MODULES, colMod } from "./fixtures";

const nodes = [
  { id: "read", module: "source.file", label: "Orders CSV", config: { path: "/data/orders.csv" } },
  { id: "drop", module: "filter_rows", label: "Drop test orders", config: { condition: "statsu <> 'test'" } },
  { id: "checks", module: "quality_check", label: null, config: { checks: [{ type: "not_null", column: "amount" }, { type: "range", column: "amout" }] } },
];

describe("issue placement and labels", () => {
  const condition: Issue = { path: "nodes[1].config.condition", field: "condition", message: "column 'statsu' does not exist in the input; did you mean 'status'?", node_id: "drop", severity: "error" };
  const check: Issue = { path: "nodes[2].config.checks[1].column", field: "checks[1].column", message: "column 'amout' does not exist", node_id: "checks", severity: "error" };
  const unread: Issue = { path: "nodes[0]", field: null, message: "cannot read the source's columns", node_id: "read", severity: "warning" };
  const unknownKey: Issue = { path: "nodes[2].config.checks[1].range.bogus", message: "unknown field 'bogus'", node_id: "checks" };
  const schedule: Issue = { path: "schedule", message: "not a cron expression", node_id: null };
  const edge: Issue = { path: "edges[0].target", message: "no node 'gone'", node_id: null };

  it("names a problem by node label and field title", () => {
    const all = [condition, check, unread, unknownKey, schedule, edge];
    const lines = issueLines(all, issuesByNode(all, nodes), nodes, COLUMN_MODULES);
    expect(lines.map((l) => `${l.where}: ${l.issue.message}`)).toEqual([
      "Drop test orders › Condition: column 'statsu' does not exist in the input; did you mean 'status'?",
      "Quality check › Checks #2 › Column: column 'amout' does not exist",
      "Quality check: unknown field 'bogus'",
      "Pipeline settings › Schedule: not a cron expression",
      "Pipeline: no node 'gone'",
      "Orders CSV: cannot read the source's columns",
    ]);
    expect(lines.map((l) => l.nodeId)).toEqual(["drop", "checks", "checks", null, null, "read"]);
  });

  it("keeps on the node card only what no form field shows", () => {
    expect(nodeLevelIssues([condition], colMod("filter_rows"), nodes[1].config)).toEqual([]);
    expect(nodeLevelIssues([check, unknownKey], colMod("quality_check"), nodes[2].config)).toEqual([unknownKey]);
    expect(nodeLevelIssues([unread], colMod("source.file"), nodes[0].config)).toEqual([unread]);
    // A module that is not installed has no form: everything is the node's.
    expect(nodeLevelIssues([condition], null, {})).toEqual([condition]);
    // Pipeline-wide: a setting's problem shows under the setting, the rest in the list.
    expect(looseIssues([schedule, edge])).toEqual([edge]);
  });
});

describe("pointing at problems instead of repeating them", () => {
  const edges = [
    { source: "read", target: "dedupe", source_port: "out", target_port: null },
    { source: "dedupe", target: "drop", source_port: "out", target_port: null },
    { source: "other", target: "drop", source_port: "out", target_port: null },
  ];
  const error = (node_id: string): Issue => ({ path: "", message: "bad", node_id });
  const warning = (node_id: string): Issue => ({ path: "", message: "unread", node_id, severity: "warning" });

  it("finds the node and the upstream nodes whose errors stop it, nearest first", () => {
    const byNode = new Map([
      ["read", [error("read")]],
      ["drop", [error("drop")]],
      ["other", [warning("other")]],
    ]);
    expect(blockersOf(edges, "drop", byNode)).toEqual(["drop", "read"]);
    expect(blockersOf(edges, "dedupe", byNode)).toEqual(["read"]);
    expect(blockersOf(edges, "other", byNode)).toEqual([]);
  });

  it("gives why columns are unknown only when no message of the node says it", () => {
    const base = { node_id: "read", ports: {}, lineage: {} };
    expect(unknownReason({ ...base, status: "unknown", reason: "cannot read the source's columns: gone" }, ["cannot read the source's columns: gone; nodes after it are not checked"])).toBe("Not known yet.");
    expect(unknownReason({ ...base, status: "unknown", reason: "the columns of an input are not known" }, [])).toBe("Not known yet: the columns of an input are not known.");
    expect(unknownReason({ ...base, status: "error", reason: "unknown column 'x' in condition" }, [])).toBe("Not known while this node has errors.");
  });
});

describe("schema helpers for column fields", () => {
  it("reads a quality check's tagged union and a join's ports", () => {
    const schema = colMod("quality_check").config_schema as JsonSchema;
    const items = ((schema.properties as JsonSchema).checks as JsonSchema).items as JsonSchema;
    const union = unionOf(items, schema);
    expect(union?.property).toBe("type");
    expect(union?.variants.map((v) => v.tag)).toEqual(["not_null", "unique", "accepted_values", "range", "regex", "row_count_between"]);
    expect(unionOf({ anyOf: [{ type: "string" }, { type: "null" }] }, {})).toBeNull();
  });

  it("titles a field path, through list items and union variants", () => {
    const join = colMod("join").config_schema as JsonSchema;
    expect(fieldTitles(join, "left_on[0]")).toEqual(["Left On #1"]);
    expect(fieldTitles(join, "suffixes.right")).toEqual(["Suffixes", "Right"]);
    const qc = colMod("quality_check").config_schema as JsonSchema;
    expect(fieldTitles(qc, "checks[0].pattern", { checks: [{ type: "regex" }] })).toEqual(["Checks #1", "Pattern"]);
    expect(fieldTitles(qc, "checks[0].not_null.column")).toEqual(["Checks #1", "Column"]);
    expect(fieldTitles(qc, "checks[0].nothing")).toBeNull();
    expect(fieldTitles(join, "")).toBeNull();
  });
});
