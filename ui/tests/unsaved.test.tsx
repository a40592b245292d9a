// Unsaved edits kept in this browser and offered back when the pipeline is opened again.
import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { dropUnsaved, keepUnsaved, readUnsaved } from "../src/graph/unsaved";
import { stubApi } from "./api-stub";
import { openEditor } from "./editor-harness";
import { MODULES, spec } from "./fixtures";

function serveApi(version = 3) {
  const doc = spec({ status: "draft" });
  return stubApi(({ method, path, body: sent }) => {
    if (path.startsWith("/me")) return { status: 200, body: { username: "u", can_edit: true, can_run: true, llm: false } };
    if (path === "/pipelines/orders" && method === "GET") return { status: 200, body: { pipeline: doc, etag: "e1", version, saved_at: "2024-05-01T12:00:00Z", errors: [] } };
    if (path === "/pipelines/orders" && method === "PUT") {
      return { status: 200, body: { pipeline: sent.pipeline, etag: "e2", version: version + 1, saved_at: "2024-05-01T12:01:00Z", errors: [] } };
    }
    if (path === "/modules") return { status: 200, body: { modules: MODULES } };
    if (path === "/connections") return { status: 200, body: { connections: [] } };
    if (path.startsWith("/pipelines/orders/runs")) return { status: 200, body: { dag_found: false, runs: [] } };
    if (path === "/validate") return { status: 200, body: { valid: true, errors: [], warnings: [], schemas: {} } };
    return { status: 404, body: { detail: `unexpected ${method} ${path}`, errors: [] } };
  });
}

const version = () => screen.getByTestId("pipeline-version").textContent ?? "";
const schedule = () => document.querySelector('[data-field="schedule"] input') as HTMLInputElement;

beforeEach(() => window.localStorage.clear());
afterEach(() => vi.unstubAllGlobals());

describe("the unsaved copy in this browser", () => {
  it("stores, reads and drops a copy per pipeline; an unreadable one is none", () => {
    const store = new Map<string, string>();
    const fake = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v), removeItem: (k: string) => void store.delete(k) };
    keepUnsaved("a", { spec: spec(), version: 2, keptAt: "2024-05-01T12:00:00Z" }, fake);
    expect(readUnsaved("a", fake)?.version).toBe(2);
    expect(readUnsaved("b", fake)).toBeNull();
    store.set("logidata.unsaved.b", "{not json");
    expect(readUnsaved("b", fake)).toBeNull();
    dropUnsaved("a", fake);
    expect(readUnsaved("a", fake)).toBeNull();
  });

  it("keeps an edit while it is unsaved, follows it, and drops it once saved", async () => {
    serveApi();
    await openEditor();
    fireEvent.change(schedule(), { target: { value: "@daily" } });
    await waitFor(() => expect(readUnsaved("orders")?.spec.schedule).toBe("@daily"));
    expect(readUnsaved("orders")?.version).toBe(3);
    const name = document.querySelector('[data-field="name"] input') as HTMLInputElement;
    fireEvent.change(name, { target: { value: "Orders 2" } });
    await waitFor(() => expect(readUnsaved("orders")?.spec.name).toBe("Orders 2"));
    fireEvent.click(screen.getByRole("button", { name: "Save draft" }));
    await waitFor(() => expect(version()).not.toMatch(/unsaved/));
    await waitFor(() => expect(readUnsaved("orders")).toBeNull());
  });

  it("offers the kept edit back on opening: restore puts it on the canvas as unsaved", async () => {
    serveApi(4);
    keepUnsaved("orders", { spec: spec({ status: "draft", schedule: "@hourly" }), version: 3, keptAt: "2024-05-01T12:00:00Z" });
    await openEditor();
    const banner = await screen.findByTestId("unsaved-kept");
    expect(banner.textContent).toMatch(/kept unsaved changes to orders from 2024-05-01 \d\d:00:00, made on version 3/);
    expect(banner.textContent).toMatch(/saved since \(now version 4\)/);
    expect(version()).not.toMatch(/unsaved/);
    fireEvent.click(screen.getByRole("button", { name: "Restore" }));
    await waitFor(() => expect(version()).toMatch(/unsaved changes/));
    expect(schedule().value).toBe("@hourly");
    expect(screen.queryByTestId("unsaved-kept")).toBeNull();
  });

  it("discards a kept edit when asked", async () => {
    serveApi();
    keepUnsaved("orders", { spec: spec({ status: "draft", schedule: "@hourly" }), version: 3, keptAt: "2024-05-01T12:00:00Z" });
    await openEditor();
    fireEvent.click(await screen.findByRole("button", { name: "Discard" }));
    expect(readUnsaved("orders")).toBeNull();
    expect(screen.queryByTestId("unsaved-kept")).toBeNull();
    expect(version()).not.toMatch(/unsaved/);
  });
});
