// The path picker: the allowed data locations as the server lists them (its policy decides), folders
// opened on the server, a file or a folder written into the path field.
import { ChakraProvider } from "@chakra-ui/react";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { JsonSchema } from "../src/api/types";
import { folderOf } from "../src/form/LocationBrowser";
import { SchemaForm, withConnection } from "../src/form/SchemaForm";
import { system } from "../src/system";
import { type ApiCall, stubApi } from "./api-stub";

const SCHEMA: JsonSchema = {
  type: "object",
  required: ["path"],
  properties: { path: { type: "string", title: "Path", "x-logidata-widget": "path" } },
};

let latest: Record<string, unknown> = {};
function Harness({ initial, readOnly = false }: { initial: Record<string, unknown>; readOnly?: boolean }) {
  const [value, setValue] = useState(initial);
  latest = value;
  return (
    <ChakraProvider value={system}>
      <SchemaForm schema={SCHEMA} value={value} onChange={setValue} context={{ readOnly, pipelineId: "orders" }} />
    </ChakraProvider>
  );
}

const entry = (name: string, uri: string, kind: "file" | "directory", size: number | null = null) => ({ name, uri, kind, size, modified: null });

function serveLocations(calls: ApiCall[] = []) {
  return stubApi(({ path }) => {
    if (path.startsWith("/locations?")) {
      return {
        status: 200,
        body: {
          locations: [
            { kind: "local", uri: "/data", label: "Data folder", conn_id: null, browsable: true },
            { kind: "s3", uri: "s3://lake/raw", label: "s3://lake/raw", conn_id: "lake", browsable: true },
          ],
        },
      };
    }
    const uri = new URLSearchParams(path.split("?")[1]).get("uri");
    if (uri === "/data") return { status: 200, body: { uri: "/data", kind: "local", conn_id: null, parent: null, entries: [entry("in", "/data/in", "directory"), entry("a.csv", "/data/a.csv", "file", 2048)], truncated: false, limit: 1000 } };
    if (uri === "/data/in") return { status: 200, body: { uri: "/data/in", kind: "local", conn_id: null, parent: "/data", entries: [entry("b.csv", "/data/in/b.csv", "file", 10)], truncated: false, limit: 1000 } };
    if (uri === "s3://lake/raw") return { status: 200, body: { uri: "s3://lake/raw", kind: "s3", conn_id: "lake", parent: null, entries: [entry("c.parquet", "s3://lake/raw/c.parquet", "file", 5)], truncated: true, limit: 1 } };
    return { status: 400, body: { detail: `cannot browse: ${uri} is outside the allowed folders`, errors: [] } };
  }, calls);
}

afterEach(() => vi.unstubAllGlobals());

describe("the path picker", () => {
  it("browses the allowed roots and folders and writes the picked file into the field", async () => {
    const calls = serveLocations();
    render(<Harness initial={{}} />);
    fireEvent.click(screen.getByTestId("path-browse"));
    const dialog = await screen.findByTestId("location-browser");
    fireEvent.click(await within(dialog).findByText(/Data folder/));
    fireEvent.click(await within(dialog).findByText(/^📁 in$|in$/, { selector: "td" }));
    await waitFor(() => expect(within(dialog).getByTestId("location-current").textContent).toBe("/data/in"));
    fireEvent.click(within(dialog).getByText(/b\.csv/));
    fireEvent.click(within(dialog).getByTestId("location-pick"));
    await waitFor(() => expect(latest.path).toBe("/data/in/b.csv"));
    expect(screen.queryByTestId("location-browser")).toBeNull();
    // Permissions are the pipeline's DAG's: every listing names it.
    expect(calls.filter((c) => c.path.startsWith("/locations")).every((c) => c.path.includes("pipeline_id=orders"))).toBe(true);
  });

  it("opens at the field's folder, goes up, and can pick the folder itself", async () => {
    serveLocations();
    render(<Harness initial={{ path: "/data/in/b.csv" }} />);
    fireEvent.click(screen.getByTestId("path-browse"));
    const dialog = await screen.findByTestId("location-browser");
    await waitFor(() => expect(within(dialog).getByTestId("location-current").textContent).toBe("/data/in"));
    fireEvent.click(within(dialog).getByTestId("location-up"));
    await waitFor(() => expect(within(dialog).getByTestId("location-current").textContent).toBe("/data"));
    fireEvent.click(within(dialog).getByTestId("location-use-folder"));
    await waitFor(() => expect(latest.path).toBe("/data"));
  });

  it("writes an object picked through a connection with the connection in the URI, and says when a listing is cut", async () => {
    serveLocations();
    render(<Harness initial={{}} />);
    fireEvent.click(screen.getByTestId("path-browse"));
    const dialog = await screen.findByTestId("location-browser");
    fireEvent.click(await within(dialog).findByText(/s3:\/\/lake\/raw/, { selector: "button" }));
    fireEvent.dblClick(await within(dialog).findByText(/c\.parquet/));
    await waitFor(() => expect(latest.path).toBe("s3://lake@lake/raw/c.parquet"));
  });

  it("starts at the roots when the field's folder may not be browsed; a read-only form has no picker", async () => {
    serveLocations();
    render(<Harness initial={{ path: "/etc/x/passwd" }} />);
    fireEvent.click(screen.getByTestId("path-browse"));
    const dialog = await screen.findByTestId("location-browser");
    await within(dialog).findByText(/Data folder/);
    expect(within(dialog).queryByTestId("location-current")).toBeNull(); // /etc/x is not opened
    render(<Harness initial={{ path: "/data/a.csv" }} readOnly />);
    expect(screen.getAllByTestId("path-browse")).toHaveLength(1);
  });
});

describe("path helpers", () => {
  it("finds the folder of a path or URI", () => {
    expect(folderOf("/data/in/b.csv")).toBe("/data/in");
    expect(folderOf("s3://c@lake/raw/x.csv")).toBe("s3://c@lake/raw");
    expect(folderOf("s3://lake/x.csv")).toBeNull();
    expect(folderOf("x.csv")).toBeNull();
  });

  it("keeps the connection in the URI", () => {
    expect(withConnection("s3://lake/raw/c.parquet", "lake")).toBe("s3://lake@lake/raw/c.parquet");
    expect(withConnection("s3://other@lake/raw", "lake")).toBe("s3://other@lake/raw");
    expect(withConnection("/data/a.csv", "lake")).toBe("/data/a.csv");
    expect(withConnection("s3://lake/raw", null)).toBe("s3://lake/raw");
  });
});
