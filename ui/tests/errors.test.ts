import { describe, expect, it } from "vitest";
import { errorsAt, fieldErrors, issuesByNode, parseIssuePath, pipelineIssues } from "../src/graph/errors";
import { spec } from "./fixtures";

describe("validation issue paths", () => {
  it("parses node, edge and pipeline paths", () => {
    expect(parseIssuePath("nodes[2].config.columns")).toEqual({ kind: "node", index: 2, field: "config.columns" });
    expect(parseIssuePath("nodes[0].config.fills[1].value")).toEqual({ kind: "node", index: 0, field: "config.fills.1.value" });
    expect(parseIssuePath("edges[3].target")).toEqual({ kind: "edge", index: 3, field: "target" });
    expect(parseIssuePath("nodes[1]")).toEqual({ kind: "node", index: 1, field: "" });
    expect(parseIssuePath("schedule")).toEqual({ kind: "pipeline", field: "schedule" });
    expect(parseIssuePath("")).toEqual({ kind: "pipeline", field: "" });
  });

  it("maps issues to nodes by node_id first, else by index", () => {
    const nodes = spec().nodes!;
    const byId = { path: "nodes[0].config.path", message: "a", node_id: "write" };
    const byIndex = { path: "nodes[2].config.case", message: "b", node_id: null };
    const pipeline = { path: "schedule", message: "c", node_id: null };
    const outOfRange = { path: "nodes[9].module", message: "d", node_id: null };
    const map = issuesByNode([byId, byIndex, pipeline, outOfRange], nodes);
    expect(map.get("write")).toEqual([byId]);
    expect(map.get("tidy")).toEqual([byIndex]);
    expect(map.size).toBe(2);
    expect(pipelineIssues([byId, byIndex, pipeline, outOfRange], nodes)).toEqual([pipeline, outOfRange]);
  });

  it("maps issues to config fields", () => {
    const errors = fieldErrors([
      { path: "nodes[1].config.columns", message: "need a list", node_id: "dedupe" },
      { path: "nodes[1].config.columns[0]", message: "too long", node_id: "dedupe" },
      { path: "nodes[1].config.csv.delimiter", message: "one character", node_id: "dedupe" },
      { path: "nodes[1].config", message: "bad config", node_id: "dedupe" },
      { path: "nodes[1].module", message: "unknown module", node_id: "dedupe" },
    ]);
    expect(errors).toEqual({
      columns: ["need a list"],
      "columns.0": ["too long"],
      "csv.delimiter": ["one character"],
      "": ["bad config"],
      "@module": ["unknown module"],
    });
    expect(errorsAt(errors, "columns", true)).toEqual(["need a list", "too long"]);
    expect(errorsAt(errors, "columns", false)).toEqual(["need a list"]);
    expect(errorsAt(errors, "csv", false)).toEqual([]);
  });
});
