import { ChakraProvider, defaultSystem } from "@chakra-ui/react";
import { fireEvent, render, screen, within } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it, vi } from "vitest";
import type { JsonSchema } from "../src/api/types";
import { SchemaForm, type SchemaFormProps } from "../src/form/SchemaForm";
import { fieldErrors } from "../src/graph/errors";
import { mod } from "./fixtures";

function Harness(props: Omit<SchemaFormProps, "value" | "onChange"> & { initial?: Record<string, unknown>; spy?: (v: Record<string, unknown>) => void }) {
  const [value, setValue] = useState<Record<string, unknown>>(props.initial ?? {});
  return (
    <ChakraProvider value={defaultSystem}>
      <SchemaForm
        {...props}
        value={value}
        onChange={(v) => {
          setValue(v);
          props.spy?.(v);
        }}
      />
    </ChakraProvider>
  );
}

const field = (path: string) => document.querySelector(`[data-field="${path}"]`) as HTMLElement;

describe("schema-driven form", () => {
  it("renders every field of a real module with titles, required marks and defaults", () => {
    render(<Harness schema={mod("source.file").config_schema as JsonSchema} />);
    expect(within(field("path")).getByText("Path")).toBeTruthy();
    expect(field("path").querySelector("input")?.required).toBe(true);
    expect((field("format").querySelector("select") as HTMLSelectElement).selectedOptions[0].textContent).toBe("auto");
    // Nested $ref model rendered inline with its own fields.
    expect(field("csv.delimiter")).toBeTruthy();
    expect((field("csv.delimiter").querySelector("input") as HTMLInputElement).placeholder).toBe(",");
  });

  it("writes typed values and removes cleared ones", () => {
    const spy = vi.fn();
    render(<Harness schema={mod("source.file").config_schema as JsonSchema} spy={spy} />);
    fireEvent.change(field("path").querySelector("input") as HTMLInputElement, { target: { value: "/data/a.csv" } });
    expect(spy).toHaveBeenLastCalledWith({ path: "/data/a.csv" });
    fireEvent.change(field("format").querySelector("select") as HTMLSelectElement, { target: { value: "1" } });
    expect(spy).toHaveBeenLastCalledWith({ path: "/data/a.csv", format: "csv" });
    fireEvent.change(field("csv.delimiter").querySelector("input") as HTMLInputElement, { target: { value: ";" } });
    expect(spy).toHaveBeenLastCalledWith({ path: "/data/a.csv", format: "csv", csv: { delimiter: ";" } });
    fireEvent.change(field("path").querySelector("input") as HTMLInputElement, { target: { value: "" } });
    expect(spy).toHaveBeenLastCalledWith({ format: "csv", csv: { delimiter: ";" } });
  });

  it("parses numbers and keeps invalid text for the server to report", () => {
    const spy = vi.fn();
    const schema: JsonSchema = { type: "object", properties: { n: { type: "integer" }, x: { type: "number" } } };
    render(<Harness schema={schema} spy={spy} />);
    fireEvent.change(field("n").querySelector("input") as HTMLInputElement, { target: { value: "42" } });
    expect(spy).toHaveBeenLastCalledWith({ n: 42 });
    fireEvent.change(field("x").querySelector("input") as HTMLInputElement, { target: { value: "1.5" } });
    expect(spy).toHaveBeenLastCalledWith({ n: 42, x: 1.5 });
    fireEvent.change(field("n").querySelector("input") as HTMLInputElement, { target: { value: "4x" } });
    expect(spy).toHaveBeenLastCalledWith({ n: "4x", x: 1.5 });
  });

  it("edits lists of columns with suggestions from the upstream schema", () => {
    const spy = vi.fn();
    render(<Harness schema={mod("deduplicate").config_schema as JsonSchema} spy={spy} context={{ columns: ["order_id", "customer"] }} />);
    fireEvent.click(screen.getByText("+ order_id"));
    expect(spy).toHaveBeenLastCalledWith({ columns: ["order_id"] });
    fireEvent.click(screen.getByRole("button", { name: "add Columns" }));
    fireEvent.change(document.querySelector('[name="config.columns.1"]') as HTMLInputElement, { target: { value: "amount" } });
    expect(spy).toHaveBeenLastCalledWith({ columns: ["order_id", "amount"] });
    fireEvent.click(screen.getByRole("button", { name: "remove Columns 1" }));
    expect(spy).toHaveBeenLastCalledWith({ columns: ["amount"] });
    // Suggestions only offer columns not chosen yet.
    expect(screen.queryByText("+ amount")).toBeNull();
    expect(screen.getByText("+ customer")).toBeTruthy();
  });

  it("edits lists of objects (fill_nulls fills)", () => {
    const spy = vi.fn();
    render(<Harness schema={mod("fill_nulls").config_schema as JsonSchema} spy={spy} />);
    fireEvent.click(screen.getByRole("button", { name: /\+ Add fills/i }));
    expect(spy).toHaveBeenLastCalledWith({ fills: [{}] });
    fireEvent.change(document.querySelector('[name="config.fills.0.column"]') as HTMLInputElement, { target: { value: "amount" } });
    expect(spy).toHaveBeenLastCalledWith({ fills: [{ column: "amount" }] });
  });

  it("offers only connections of the field's types", () => {
    const connections = [
      { conn_id: "warehouse", conn_type: "postgres", description: null },
      { conn_id: "lake", conn_type: "aws", description: "S3" },
    ];
    const spy = vi.fn();
    render(<Harness schema={mod("source.postgres").config_schema as JsonSchema} spy={spy} context={{ connections }} />);
    const select = field("conn_id").querySelector("select") as HTMLSelectElement;
    const options = [...select.options].map((o) => o.value);
    expect(options).toEqual(["", "warehouse"]);
    fireEvent.change(select, { target: { value: "warehouse" } });
    expect(spy).toHaveBeenLastCalledWith({ conn_id: "warehouse" });
  });

  it("shows validation errors on the field they name", () => {
    const errors = fieldErrors([
      { path: "nodes[0].config.path", message: "Field required", node_id: "n" },
      { path: "nodes[0].config.csv.delimiter", message: "String should have at most 1 character", node_id: "n" },
    ]);
    render(<Harness schema={mod("source.file").config_schema as JsonSchema} errors={errors} />);
    expect(within(field("path")).getByText("Field required")).toBeTruthy();
    expect(within(field("csv.delimiter")).getByText("String should have at most 1 character")).toBeTruthy();
    expect(field("path").querySelector("input")?.getAttribute("aria-invalid")).toBe("true");
    expect(within(field("format")).queryByTestId("field-error")).toBeNull();
  });

  it("is read-only for viewers", () => {
    render(<Harness schema={mod("deduplicate").config_schema as JsonSchema} initial={{ columns: ["a"] }} context={{ readOnly: true }} />);
    expect((document.querySelector('[name="config.columns.0"]') as HTMLInputElement).readOnly).toBe(true);
    expect(screen.queryByRole("button", { name: "add Columns" })).toBeNull();
    expect((field("keep").querySelector("select") as HTMLSelectElement).disabled).toBe(true);
  });
});
