// The editor's side panels: folded and unfolded by the user, remembered per Airflow user and per layout
// (full page, or the compact DAG tab), and a save message stored with the version.
import { cleanup, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { layoutFor, panelsKey, readPanels, writePanels } from "../src/layout/panels";
import { type ApiCall, stubApi } from "./api-stub";
import { openEditor } from "./editor-harness";
import { MODULES, spec } from "./fixtures";

function serveApi(calls: ApiCall[] = []) {
  const doc = spec({ status: "draft" });
  return stubApi(({ method, path, body: sent }) => {
    if (path.startsWith("/me")) return { status: 200, body: { username: "u", can_edit: true, can_run: true, llm: false } };
    if (path === "/pipelines/orders" && method === "GET") return { status: 200, body: { pipeline: doc, etag: "e1", version: 3, saved_at: "2024-05-01T12:00:00Z", errors: [] } };
    if (path === "/pipelines/orders" && method === "PUT") {
      return { status: 200, body: { pipeline: sent.pipeline, etag: "e2", version: 4, saved_at: "2024-05-01T12:01:00Z", errors: [] } };
    }
    if (path === "/modules") return { status: 200, body: { modules: MODULES } };
    if (path === "/connections") return { status: 200, body: { connections: [] } };
    if (path.startsWith("/pipelines/orders/runs")) return { status: 200, body: { dag_found: false, runs: [] } };
    if (path === "/validate") return { status: 200, body: { valid: true, errors: [], warnings: [], schemas: {} } };
    return { status: 404, body: { detail: `unexpected ${method} ${path}`, errors: [] } };
  }, calls);
}

function memoryStorage(): Storage {
  const map = new Map<string, string>();
  return {
    get length() {
      return map.size;
    },
    clear: () => map.clear(),
    getItem: (k) => map.get(k) ?? null,
    key: (i) => [...map.keys()][i] ?? null,
    removeItem: (k) => void map.delete(k),
    setItem: (k, v) => void map.set(k, v),
  };
}

beforeEach(() => window.localStorage.clear());
afterEach(() => vi.unstubAllGlobals());

describe("remembered panels", () => {
  it("keeps each user's and each layout's choice apart; defaults open in full, closed in compact", () => {
    const storage = memoryStorage();
    expect(readPanels("ann", "full", storage)).toEqual({ palette: true, drawer: true, data: true });
    expect(readPanels("ann", "compact", storage)).toEqual({ palette: false, drawer: false, data: false });
    writePanels("ann", "full", { palette: false, drawer: true, data: false }, storage);
    expect(readPanels("ann", "full", storage)).toEqual({ palette: false, drawer: true, data: false });
    expect(readPanels("bob", "full", storage)).toEqual({ palette: true, drawer: true, data: true });
    expect(readPanels("ann", "compact", storage).palette).toBe(false);
  });

  it("reads a damaged entry as the defaults, field by field", () => {
    const storage = memoryStorage();
    storage.setItem(panelsKey("ann", "full"), "{oops");
    expect(readPanels("ann", "full", storage).palette).toBe(true);
    storage.setItem(panelsKey("ann", "full"), JSON.stringify({ palette: "no", data: false }));
    expect(readPanels("ann", "full", storage)).toEqual({ palette: true, drawer: true, data: false });
  });

  it("chooses the compact layout inside a DAG's tab and in a small window", () => {
    const frame = (path: string, width = 1600, height = 1000) => ({ innerWidth: width, innerHeight: height, parent: { location: { pathname: path } } }) as unknown as Window;
    expect(layoutFor(frame("/dags/orders/plugin/logidata-pipeline"))).toBe("compact");
    expect(layoutFor(frame("/plugin/logidata"))).toBe("full");
    expect(layoutFor(frame("/plugin/logidata", 1000))).toBe("compact");
    // Inside Airflow: a 1280 px window leaves the builder ~1216 px, a 1440 px one ~1376 px.
    expect(layoutFor(frame("/plugin/logidata", 1216, 680))).toBe("compact");
    expect(layoutFor(frame("/plugin/logidata", 1376, 860))).toBe("full");
    expect(layoutFor(frame("/plugin/logidata", 1600, 600))).toBe("compact");
  });

  it("folds the palette, the drawer and the data panel, and opens them folded after a reload", async () => {
    serveApi();
    await openEditor();
    fireEvent.click(screen.getByTestId("palette-hide"));
    fireEvent.click(screen.getByTestId("drawer-hide"));
    fireEvent.click(await screen.findByTestId("data-panels-toggle"));
    expect(screen.queryByTestId("palette")).toBeNull();
    expect(screen.queryByTestId("config-drawer")).toBeNull();
    expect(JSON.parse(window.localStorage.getItem(panelsKey("", "full")) ?? "{}")).toEqual({ palette: false, drawer: false, data: false });

    cleanup();
    await openEditor();
    expect(screen.queryByTestId("palette")).toBeNull();
    expect(screen.getByTestId("drawer-show")).toBeTruthy();
    expect((await screen.findByTestId("data-panels-toggle")).getAttribute("aria-expanded")).toBe("false");
    fireEvent.click(screen.getByTestId("palette-show"));
    fireEvent.click(screen.getByTestId("drawer-show"));
    expect(screen.getByTestId("palette")).toBeTruthy();
    expect(screen.getByTestId("config-drawer")).toBeTruthy();
  });
});

describe("the save message", () => {
  it("goes with the save and is cleared after it", async () => {
    const calls = serveApi();
    await openEditor();
    const schedule = document.querySelector('[data-field="schedule"] input') as HTMLInputElement;
    fireEvent.change(schedule, { target: { value: "@daily" } });
    const note = (await screen.findByTestId("save-message")) as HTMLInputElement;
    fireEvent.change(note, { target: { value: "run daily" } });
    fireEvent.click(screen.getByRole("button", { name: "Save draft" }));
    await waitFor(() => expect(calls.some((c) => c.method === "PUT")).toBe(true));
    expect(calls.find((c) => c.method === "PUT")?.body.message).toBe("run daily");
    await waitFor(() => expect(screen.queryByTestId("save-message")).toBeNull());
  });
});
