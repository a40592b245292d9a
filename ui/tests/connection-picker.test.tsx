// The connection picker when the user may not list connections (Airflow's User role lacks connection
// read permission, so GET /connections answers 403): a typed id and a short note, never a broken form.
import { ChakraProvider, defaultSystem } from "@chakra-ui/react";
import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../src/api/client";
import type { JsonSchema } from "../src/api/types";
import { connectionsUnavailable, SchemaForm, type SchemaFormProps } from "../src/form/SchemaForm";
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

const postgres = () => mod("source.postgres").config_schema as JsonSchema;
const field = (path: string) => document.querySelector(`[data-field="${path}"]`) as HTMLElement;
const forbidden = new ApiError(403, { detail: "Forbidden: your Airflow role may not read connections", errors: [] });

describe("connection picker without connection read permission", () => {
  it("explains a 403 as a missing permission and anything else as a failure", () => {
    expect(connectionsUnavailable(forbidden).unavailable).toMatch(/may not list connections: type the connection id/);
    const down = connectionsUnavailable(new ApiError(500, { detail: "store down", errors: [] }));
    expect(down.unavailable).toMatch(/could not be loaded \(store down\): type the connection id/);
    expect(connectionsUnavailable(new TypeError("offline")).unavailable).toMatch(/offline/);
  });

  it("takes a typed connection id and keeps the rest of the form working", () => {
    const spy = vi.fn();
    render(<Harness schema={postgres()} spy={spy} context={{ connections: connectionsUnavailable(forbidden) }} />);
    expect(field("conn_id").querySelector("select")).toBeNull();
    const input = field("conn_id").querySelector("input") as HTMLInputElement;
    expect(input.placeholder).toBe("postgres connection id");
    expect(screen.getByTestId("connection-note").textContent).toMatch(/may not list connections/);
    fireEvent.change(input, { target: { value: "warehouse" } });
    expect(spy).toHaveBeenLastCalledWith({ conn_id: "warehouse" });
    fireEvent.change(input, { target: { value: "" } });
    expect(spy).toHaveBeenLastCalledWith({});
    // Other fields of the same form still render and edit.
    expect(document.querySelectorAll("[data-field]").length).toBeGreaterThan(1);
  });

  it("shows a stored id as it is and is read-only for viewers", () => {
    render(
      <Harness
        schema={postgres()}
        initial={{ conn_id: "legacy_pg" }}
        context={{ connections: connectionsUnavailable(forbidden), readOnly: true }}
      />,
    );
    const input = field("conn_id").querySelector("input") as HTMLInputElement;
    expect(input.value).toBe("legacy_pg");
    expect(input.readOnly).toBe(true);
  });

  it("still offers the list when connections load", () => {
    const connections = [{ conn_id: "warehouse", conn_type: "postgres", description: null }];
    render(<Harness schema={postgres()} context={{ connections }} />);
    expect(field("conn_id").querySelector("select")).toBeTruthy();
    expect(screen.queryByTestId("connection-note")).toBeNull();
  });
});
