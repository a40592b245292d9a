// Forms that follow the config: a field shows only where it applies (x-logidata-when, x-logidata-when-remote),
// and a field holding a value always shows.
import { ChakraProvider, defaultSystem } from "@chakra-ui/react";
import { fireEvent, render } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import type { JsonSchema } from "../src/api/types";
import { SchemaForm } from "../src/form/SchemaForm";
import { applies, isRemotePath, objectFields } from "../src/form/schema";

// destination.file's config as the API publishes it (the parts that matter here).
const SCHEMA: JsonSchema = {
  type: "object",
  required: ["path"],
  properties: {
    path: { type: "string", title: "Path", "x-logidata-widget": "path" },
    format: { type: "string", enum: ["parquet", "csv"], default: "parquet", title: "Format" },
    compression: { type: "string", enum: ["zstd", "none"], default: "zstd", "x-logidata-when": { format: ["parquet"] } },
    delimiter: { type: "string", default: ",", "x-logidata-when": { format: ["csv"] } },
    header: { type: "boolean", default: true, "x-logidata-when": { format: ["csv"] } },
    conn_id: { anyOf: [{ type: "string" }, { type: "null" }], default: null, "x-logidata-when-remote": "path" },
  },
};

function Harness({ initial }: { initial: Record<string, unknown> }) {
  const [value, setValue] = useState(initial);
  return (
    <ChakraProvider value={defaultSystem}>
      <SchemaForm schema={SCHEMA} value={value} onChange={setValue} />
    </ChakraProvider>
  );
}

const shown = () => [...document.querySelectorAll("[data-field]")].map((el) => el.getAttribute("data-field"));

describe("fields that apply", () => {
  const fields = objectFields(SCHEMA, SCHEMA);
  const get = (key: string) => fields.find((f) => f.key === key)!;

  it("decides from the sibling's value, else its default", () => {
    expect(applies(get("compression"), {}, fields)).toBe(true); // format defaults to parquet
    expect(applies(get("delimiter"), {}, fields)).toBe(false);
    expect(applies(get("delimiter"), { format: "csv" }, fields)).toBe(true);
    expect(applies(get("compression"), { format: "csv" }, fields)).toBe(false);
    expect(applies(get("compression"), { format: "csv", compression: "none" }, fields)).toBe(true); // set: shown
    expect(applies(get("delimiter"), { format: "parquet", delimiter: "," }, fields)).toBe(false); // the default
  });

  it("shows a storage connection for object-storage paths only, or once set", () => {
    expect(isRemotePath("s3://bucket/key")).toBe(true);
    expect(isRemotePath("/data/x.csv")).toBe(false);
    expect(applies(get("conn_id"), { path: "/data/out.parquet" }, fields)).toBe(false);
    expect(applies(get("conn_id"), { path: "s3://bucket/out.parquet" }, fields)).toBe(true);
    expect(applies(get("conn_id"), { path: "/data/out.parquet", conn_id: "minio" }, fields)).toBe(true);
  });

  it("the form follows the format as it changes", () => {
    render(<Harness initial={{ path: "/data/out.parquet" }} />);
    expect(shown()).toEqual(["path", "format", "compression"]);
    fireEvent.change(document.querySelector('[data-field="format"] select') as HTMLSelectElement, { target: { value: "1" } }); // csv
    expect(shown()).toEqual(["path", "format", "delimiter", "header"]);
    fireEvent.change(document.querySelector('[data-field="path"] input') as HTMLInputElement, { target: { value: "s3://b/out.csv" } });
    expect(shown()).toEqual(["path", "format", "delimiter", "header", "conn_id"]);
  });
});
