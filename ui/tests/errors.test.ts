import { describe, expect, it } from "vitest";
import { errorsAt, fieldErrors, fieldIssues, issueField, issuesByNode, parseIssuePath, pipelineIssues, untagErrors } from "../src/graph/errors";
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

  it("maps an issue to its form field by the API's field first, else by its path", () => {
    const column = { path: "nodes[3].config.checks[1].column", field: "checks[1].column", message: "column 'x' does not exist", node_id: "q", severity: "error" as const };
    expect(issueField(column)).toBe("checks.1.column");
    expect(issueField({ path: "nodes[3].config.condition", field: "condition", message: "m", node_id: "f" })).toBe("condition");
    // No field from the API (a refused save, a stored pipeline): read from the JSON path.
    expect(issueField({ path: "nodes[0].config.left_on[0]", message: "m", node_id: "j" })).toBe("left_on.0");
    // The node as a whole (a source that cannot be read) and keys outside the config.
    expect(issueField({ path: "nodes[0]", field: null, message: "cannot read", node_id: "read", severity: "warning" })).toBe("");
    expect(issueField({ path: "nodes[0].module", message: "unknown module", node_id: "read" })).toBe("@module");

    expect(fieldIssues([column, { path: "nodes[0]", message: "cannot read", node_id: "q", severity: "warning" }])).toEqual({
      "checks.1.column": [{ message: "column 'x' does not exist", path: "nodes[3].config.checks[1].column", severity: "error" }],
      "": [{ message: "cannot read", path: "nodes[0]", severity: "warning" }],
    });
  });

  it("reads a union item's errors without Pydantic's tag in the path", () => {
    const errors = fieldErrors([
      { path: "nodes[1].config.checks[0].not_null.column", message: "required", node_id: "q" },
      { path: "nodes[1].config.checks[0]", message: "bad check", node_id: "q" },
      { path: "nodes[1].config.checks[1].range.min", message: "number", node_id: "q" },
    ]);
    expect(untagErrors(errors, "checks.0", "not_null")).toEqual({ "checks.0.column": ["required"], "checks.0": ["bad check"], "checks.1.range.min": ["number"] });
  });
});

