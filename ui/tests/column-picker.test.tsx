import { ChakraProvider, defaultSystem } from "@chakra-ui/react";
import { fireEvent, render, screen, within } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it, vi } from "vitest";
import type { JsonSchema } from "../src/api/types";
import { filterChoices } from "../src/form/ColumnPicker";
import { SchemaForm, type SchemaFormProps } from "../src/form/SchemaForm";
import { fieldIssues } from "../src/graph/errors";
import type { InputColumns } from "../src/graph/inputColumns";
import { colMod } from "./fixtures";

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
const input = (name: string) => document.querySelector(`[name="config.${name}"]`) as HTMLInputElement;
const options = () => screen.queryAllByTestId("column-option").map((o) => `${o.dataset.column}:${o.dataset.type ?? ""}`);
const ORDERS: InputColumns = {
  ports: {
    "": [
      { name: "order_id", type: "BIGINT" },
      { name: "amount", type: "DOUBLE" },
      { name: "status", type: "VARCHAR" },
    ],
  },
  own: null,
};

describe("column pickers", () => {
  it("lists the input's columns with their types, picks one, and still takes free text", () => {
    const spy = vi.fn();
    render(<Harness schema={colMod("fill_nulls").config_schema as JsonSchema} initial={{ fills: [{}] }} spy={spy} context={{ columns: ORDERS }} />);
    fireEvent.focus(input("fills.0.column"));
    expect(options()).toEqual(["order_id:BIGINT", "amount:DOUBLE", "status:VARCHAR"]);
    expect(within(screen.getByTestId("column-options")).getByText("DOUBLE")).toBeTruthy();
    fireEvent.click(screen.getAllByTestId("column-option")[1]);
    expect(spy).toHaveBeenLastCalledWith({ fills: [{ column: "amount" }] });
    expect(screen.queryByTestId("column-options")).toBeNull();

    // Typing narrows the list; a name not in it is kept as typed (the server says what is wrong).
    fireEvent.change(input("fills.0.column"), { target: { value: "sta" } });
    expect(options()).toEqual(["status:VARCHAR"]);
    fireEvent.keyDown(input("fills.0.column"), { key: "Enter" });
    expect(spy).toHaveBeenLastCalledWith({ fills: [{ column: "status" }] });
    fireEvent.change(input("fills.0.column"), { target: { value: "not_there" } });
    expect(spy).toHaveBeenLastCalledWith({ fills: [{ column: "not_there" }] });
    expect(screen.queryByTestId("column-options")).toBeNull();
  });

  it("offers a join's left_on the left input's columns and right_on the right's", () => {
    const columns: InputColumns = {
      ports: { left: [{ name: "order_id", type: "BIGINT" }, { name: "customer_id", type: "BIGINT" }], right: [{ name: "id", type: "INTEGER" }] },
      own: null,
    };
    render(<Harness schema={colMod("join").config_schema as JsonSchema} initial={{ left_on: ["customer_id"], right_on: ["id"], on: ["x"] }} context={{ columns }} />);
    fireEvent.focus(input("left_on.0"));
    expect(options()).toEqual(["order_id:BIGINT", "customer_id:BIGINT"]);
    fireEvent.blur(input("left_on.0"));
    fireEvent.focus(input("right_on.0"));
    expect(options()).toEqual(["id:INTEGER"]);
    fireEvent.blur(input("right_on.0"));
    // `on` names a column of both inputs: none here.
    fireEvent.focus(input("on.0"));
    expect(options()).toEqual([]);
  });

  it("falls back to a plain text field when the input's columns are unknown", () => {
    render(<Harness schema={colMod("deduplicate").config_schema as JsonSchema} initial={{ columns: ["a"] }} context={{ columns: { ports: { "": null }, own: null } }} />);
    expect(screen.queryByTestId("column-picker")).toBeNull();
    expect(input("columns.0").value).toBe("a");
  });

  it("edits a list of quality checks (a tagged union) with a picker in each, errors under their field", () => {
    const spy = vi.fn();
    const errors = fieldIssues([
      { path: "nodes[2].config.checks[0].column", field: "checks[0].column", message: "column 'amout' does not exist in the input; did you mean 'amount'?", node_id: "q", severity: "error" },
    ]);
    render(<Harness schema={colMod("quality_check").config_schema as JsonSchema} initial={{ checks: [{ type: "not_null", column: "amout" }] }} spy={spy} errors={errors} context={{ columns: ORDERS }} />);
    const error = within(field("checks.0.column")).getByTestId("field-error");
    expect(error.textContent).toBe("column 'amout' does not exist in the input; did you mean 'amount'?");
    // The JSON path is a detail (tooltip), not the text.
    expect(error.getAttribute("title")).toBe("nodes[2].config.checks[0].column");
    expect(input("checks.0.column").getAttribute("aria-invalid")).toBe("true");

    fireEvent.focus(input("checks.0.column"));
    fireEvent.click(screen.getByText("amount"));
    expect(spy).toHaveBeenLastCalledWith({ checks: [{ type: "not_null", column: "amount" }] });
    // Another kind of check keeps the column and shows its own fields.
    fireEvent.change(input("checks.0.type"), { target: { value: "3" } });
    expect(spy).toHaveBeenLastCalledWith({ checks: [{ type: "range", column: "amount" }] });
    expect(field("checks.0.min")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "+ Add checks" }));
    expect(spy).toHaveBeenLastCalledWith({ checks: [{ type: "range", column: "amount" }, { type: "not_null" }] });
  });

  it("shows a list item's error under that item, and new names with the input's columns as suggestions", () => {
    const errors = fieldIssues([{ path: "nodes[1].config.columns[1]", field: "columns[1]", message: "column 'stauts' does not exist", node_id: "d", severity: "error" }]);
    render(<Harness schema={colMod("deduplicate").config_schema as JsonSchema} initial={{ columns: ["order_id", "stauts"] }} errors={errors} context={{ columns: ORDERS }} />);
    expect(within(field("columns.1")).getByTestId("field-error").textContent).toBe("column 'stauts' does not exist");
    expect(within(field("columns.0")).queryByTestId("field-error")).toBeNull();
    expect(field("columns").querySelectorAll("[data-testid=field-error]")).toHaveLength(1);
    // Suggestions carry the type too.
    expect(within(field("columns")).getByText("+ amount").textContent).toBe("+ amountDOUBLE");

    render(<Harness schema={colMod("select_columns").config_schema as JsonSchema} initial={{ columns: [{ name: "amount" }] }} context={{ columns: ORDERS }} />);
    const rename = input("columns.0.rename");
    const list = document.getElementById(rename.getAttribute("list") as string) as HTMLDataListElement;
    expect([...list.options].map((o) => o.value)).toEqual(["order_id", "amount", "status"]);
  });

  it("narrows choices by prefix first, then by substring", () => {
    const cols = ["customer_id", "id", "paid_at", "order_id"].map((name) => ({ name, type: null }));
    expect(filterChoices(cols, "id").map((c) => c.name)).toEqual(["id", "customer_id", "paid_at", "order_id"]);
    expect(filterChoices(cols, null)).toBe(cols);
    expect(filterChoices(cols, "  ")).toBe(cols);
  });
});
