import { describe, expect, it } from "vitest";
import type { JsonSchema } from "../src/api/types";
import { describeField, missingRequired, objectFields, setKey } from "../src/form/schema";
import { mod } from "./fixtures";

describe("JSON Schema field descriptions", () => {
  it("describes Pydantic's output for a real module (source.file)", () => {
    const schema = mod("source.file").config_schema as JsonSchema;
    const fields = Object.fromEntries(objectFields(schema, schema).map((f) => [f.key, f]));
    expect(fields.path).toMatchObject({ kind: "string", required: true, widget: "path" });
    expect(fields.format).toMatchObject({ kind: "enum", enumValues: ["auto", "csv", "parquet", "jsonl"], default: "auto" });
    expect(fields.csv.kind).toBe("object"); // $ref to CsvOptions resolved
    expect(fields.infer_types).toMatchObject({ kind: "boolean", default: true });
    expect(fields.columns).toMatchObject({ kind: "stringArray", nullable: true, widget: "columns" });
  });

  it("finds connection widgets and their connection types", () => {
    const schema = mod("source.postgres").config_schema as JsonSchema;
    const conn = objectFields(schema, schema).find((f) => f.key === "conn_id");
    expect(conn).toMatchObject({ kind: "string", widget: "connection", connTypes: ["postgres"] });
    const listed = describeField("c", { type: "string", "x-logidata-widget": "connection", "x-logidata-conn-types": ["aws", "s3"] }, {}, true);
    expect(listed.connTypes).toEqual(["aws", "s3"]);
  });

  it("classifies every supported kind", () => {
    const root: JsonSchema = {
      $defs: { Fill: { type: "object", properties: { column: { type: "string" }, value: {} }, required: ["column"] } },
      type: "object",
      properties: {
        s: { type: "string" },
        n: { type: "number" },
        i: { type: "integer" },
        b: { type: "boolean" },
        e: { enum: ["a", "b"] },
        list: { type: "array", items: { type: "string" } },
        objects: { type: "array", items: { $ref: "#/$defs/Fill" } },
        nested: { $ref: "#/$defs/Fill", description: "kept sibling" },
        optional: { anyOf: [{ type: "integer" }, { type: "null" }], default: null },
        either: { anyOf: [{ type: "string" }, { type: "integer" }] },
        map: { type: "object", additionalProperties: { type: "string" } },
      },
      required: ["s"],
    };
    const kinds = Object.fromEntries(objectFields(root, root).map((f) => [f.key, f.kind]));
    expect(kinds).toEqual({
      s: "string",
      n: "number",
      i: "integer",
      b: "boolean",
      e: "enum",
      list: "stringArray",
      objects: "objectArray",
      nested: "object",
      optional: "integer",
      either: "json",
      map: "json",
    });
    const fields = objectFields(root, root);
    expect(fields.find((f) => f.key === "nested")?.description).toBe("kept sibling");
    expect(fields.find((f) => f.key === "optional")).toMatchObject({ nullable: true, hasDefault: true, default: null });
    expect(missingRequired(root, { s: "" })).toEqual(["s"]);
    expect(missingRequired(root, { s: "x" })).toEqual([]);
  });

  it("setKey removes keys for undefined so model defaults apply", () => {
    const v = { a: 1, b: 2 };
    expect(setKey(v, "a", undefined)).toEqual({ b: 2 });
    expect(setKey(v, "c", 3)).toEqual({ a: 1, b: 2, c: 3 });
    expect(v).toEqual({ a: 1, b: 2 });
  });
});
