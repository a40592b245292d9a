// The editor's history panel: versions with their messages, a comparison drawn on its own canvas, restore.
import { ChakraProvider, defaultSystem } from "@chakra-ui/react";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Change, Conflict, StoredPipeline, Version } from "../src/api/types";
import { HistoryPanel } from "../src/history/HistoryPanel";
import { type ApiAnswer, type ApiCall, stubApi } from "./api-stub";
import { spec } from "./fixtures";

const VERSIONS: Version[] = [
  { version: 3, etag: "e3", saved_at: "2024-05-03T10:00:00Z", author: "ann", status: "active", message: "Filter big orders" },
  { version: 2, etag: "e2", saved_at: "2024-05-02T10:00:00Z", author: "bob", status: "draft", message: null },
  { version: 1, etag: "e1", saved_at: "2024-05-01T10:00:00Z", author: null, status: "draft", message: "First draft" },
];

const v1 = spec();
const v3 = spec({
  nodes: [v1.nodes[0], { id: "keep", module: "filter", label: null, config: { condition: "amount > 100" }, position: { x: 300, y: 200 } }, v1.nodes[2], { ...v1.nodes[3], config: { path: "/out/orders.csv" } }],
  edges: [
    { source: "read", target: "keep", source_port: "out", target_port: null },
    { source: "keep", target: "tidy", source_port: "out", target_port: null },
    { source: "tidy", target: "write", source_port: "out", target_port: null },
  ],
});
const change = (partial: Partial<Change> & Pick<Change, "kind" | "action" | "text">): Change => ({ node: null, field: null, before: null, after: null, edge: null, module: null, ...partial });
const CHANGES: Change[] = [
  change({ kind: "pipeline", action: "changed", field: "status", text: '~ pipeline status: "draft" → "active"' }),
  change({ kind: "node", action: "removed", node: "dedupe", module: "deduplicate", text: "- node dedupe (deduplicate)" }),
  change({ kind: "node", action: "added", node: "keep", module: "filter", text: "+ node keep (filter)" }),
  change({ kind: "node", action: "changed", node: "write", module: "destination.file", field: "config.path", text: '~ node write: config.path: "/out/orders.parquet" → "/out/orders.csv"' }),
  change({ kind: "edge", action: "removed", edge: { source: "read", source_port: "out", target: "dedupe", target_port: null }, text: "- edge read → dedupe" }),
  change({ kind: "edge", action: "added", edge: { source: "read", source_port: "out", target: "keep", target_port: null }, text: "+ edge read → keep" }),
];

const current: StoredPipeline = { pipeline: v3, etag: "e3", version: 3, saved_at: "2024-05-03T10:00:00Z", errors: [] };
const restored: StoredPipeline = { pipeline: spec({ status: "draft" }), etag: "e4", version: 4, saved_at: "2024-05-04T10:00:00Z", errors: [] };

function serve(restore: (call: ApiCall) => ApiAnswer = () => ({ status: 200, body: restored })): ApiCall[] {
  return stubApi((call) => {
    const { method, path } = call;
    if (path === "/pipelines/orders/history") return { status: 200, body: { versions: VERSIONS } };
    if (path === "/pipelines/orders/versions/1") return { status: 200, body: { pipeline: v1, version: 1 } };
    if (path === "/pipelines/orders/versions/2") return { status: 200, body: { pipeline: v1, version: 2 } };
    if (path === "/pipelines/orders/versions/3") return { status: 200, body: { pipeline: v3, version: 3 } };
    if (path === "/pipelines/orders/diff?from_version=1&to_version=3") return { status: 200, body: { from_version: 1, to_version: 3, changes: CHANGES, text: "" } };
    if (path.startsWith("/pipelines/orders/diff")) return { status: 200, body: { from_version: 0, to_version: 0, changes: [], text: "no changes" } };
    if (path === "/pipelines/orders/restore" && method === "POST") return restore(call);
    return { status: 404, body: { detail: `unexpected ${method} ${path}`, errors: [] } };
  });
}

interface Options {
  readOnly?: boolean;
  dirty?: boolean;
  onConflict?: (c: Conflict) => void;
}

function open(options: Options = {}) {
  const onRestored = vi.fn();
  render(
    <ChakraProvider value={defaultSystem}>
      <HistoryPanel pipelineId="orders" current={current} readOnly={options.readOnly ?? false} dirty={options.dirty ?? false} onRestored={onRestored} onConflict={options.onConflict} onClose={() => undefined} />
    </ChakraProvider>,
  );
  return { onRestored };
}

beforeEach(() => window.localStorage.clear());
afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe("the history panel", () => {
  it("lists the versions newest first with their authors and messages, the current one marked", async () => {
    serve();
    open();
    const top = await screen.findByTestId("history-version-3");
    const rows = within(screen.getByTestId("history-panel")).getAllByTestId(/^history-version-\d+$/);
    expect(rows.map((r) => r.getAttribute("data-testid"))).toEqual(["history-version-3", "history-version-2", "history-version-1"]);
    expect(top.getAttribute("data-current")).toBe("true");
    expect(within(top).getByTestId("history-current")).toBeTruthy();
    expect(top.textContent).toContain("Filter big orders");
    expect(top.textContent).toContain("ann");
    expect(top.textContent).toMatch(/2024-05-03 \d\d:00:00/);
    const oldest = screen.getByTestId("history-version-1");
    expect(oldest.getAttribute("data-current")).toBeNull();
    expect(oldest.textContent).toContain("First draft");
    expect(screen.getByTestId("history-version-2").textContent).toContain("bob");
    // The current version cannot be restored; the others can.
    expect(screen.queryByTestId("history-restore-3")).toBeNull();
    expect(screen.getByTestId("history-restore-1")).toBeTruthy();
  });

  it("hides restoring from a reader", async () => {
    serve();
    open({ readOnly: true });
    await screen.findByTestId("history-version-1");
    expect(screen.queryByTestId("history-restore-1")).toBeNull();
    expect(screen.getByTestId("history-compare-1")).toBeTruthy();
  });

  it("compares a version with the current one: the change list grouped and the nodes marked on the diff canvas", async () => {
    const calls = serve();
    open();
    fireEvent.click(await screen.findByTestId("history-compare-1"));
    const view = await screen.findByTestId("diff-view");
    await within(view).findByTestId("diff-canvas");
    expect(calls.some((c) => c.path === "/pipelines/orders/diff?from_version=1&to_version=3")).toBe(true);
    const lines = within(view).getAllByTestId("diff-change").map((l) => l.textContent);
    expect(lines).toEqual(CHANGES.map((c) => c.text));
    expect(view.textContent).toContain("Pipeline settings");
    const mark = (id: string) => within(view).getByTestId(`diff-node-${id}`).getAttribute("data-diff");
    await waitFor(() => expect(mark("keep")).toBe("added"));
    expect(mark("dedupe")).toBe("removed");
    expect(mark("write")).toBe("changed");
    expect(mark("read")).toBe("same");
    expect(within(view).getByTestId("diff-node-write").textContent).toContain("1 field");
    // Choosing a node's group selects it on the canvas.
    fireEvent.click(within(within(view).getByTestId("diff-group-write")).getByRole("button"));
    await waitFor(() => expect(within(view).getByTestId("diff-node-write").closest(".react-flow__node")?.classList.contains("selected")).toBe(true));
  });

  it("compares any two versions picked, and says so when only the canvas moved", async () => {
    const calls = serve();
    open();
    await screen.findByTestId("history-compare-picker");
    fireEvent.change(screen.getByTestId("history-compare-from"), { target: { value: "1" } });
    fireEvent.change(screen.getByTestId("history-compare-to"), { target: { value: "2" } });
    fireEvent.click(screen.getByTestId("history-compare-selected"));
    const view = await screen.findByTestId("diff-view");
    expect(await within(view).findByText("No changes (moves on the canvas are not compared)")).toBeTruthy();
    expect(calls.some((c) => c.path === "/pipelines/orders/diff?from_version=1&to_version=2")).toBe(true);
  });

  it("restores a version with the current etag and a message, after asking when there are unsaved changes", async () => {
    const calls = serve();
    const confirm = vi.spyOn(window, "confirm").mockReturnValueOnce(false).mockReturnValueOnce(true);
    const { onRestored } = open({ dirty: true });
    fireEvent.click(await screen.findByTestId("history-restore-1"));
    fireEvent.change(screen.getByTestId("history-restore-message"), { target: { value: "Back to the first draft" } });
    fireEvent.click(screen.getByTestId("history-restore-confirm"));
    expect(confirm).toHaveBeenCalledTimes(1);
    expect(confirm.mock.calls[0][0]).toMatch(/unsaved changes/);
    expect(calls.some((c) => c.path === "/pipelines/orders/restore")).toBe(false);

    fireEvent.click(screen.getByTestId("history-restore-confirm"));
    await waitFor(() => expect(onRestored).toHaveBeenCalledWith(restored));
    expect(calls.find((c) => c.path === "/pipelines/orders/restore")?.body).toEqual({ version: 1, expected_etag: "e3", message: "Back to the first draft" });
    expect(screen.queryByTestId("history-restore-form")).toBeNull();
  });

  it("restores without asking when nothing is unsaved, and sends no blank message", async () => {
    const calls = serve();
    const confirm = vi.spyOn(window, "confirm");
    const { onRestored } = open();
    fireEvent.click(await screen.findByTestId("history-restore-2"));
    fireEvent.click(screen.getByTestId("history-restore-confirm"));
    await waitFor(() => expect(onRestored).toHaveBeenCalled());
    expect(confirm).not.toHaveBeenCalled();
    expect(calls.find((c) => c.path === "/pipelines/orders/restore")?.body).toEqual({ version: 2, expected_etag: "e3" });
  });

  const CONFLICT: Conflict = { detail: "pipeline 'orders' changed since you loaded it", errors: [], current: restored, yours: null };

  it("hands a 409 to onConflict", async () => {
    serve(() => ({ status: 409, body: CONFLICT }));
    const onConflict = vi.fn();
    const { onRestored } = open({ onConflict });
    fireEvent.click(await screen.findByTestId("history-restore-1"));
    fireEvent.click(screen.getByTestId("history-restore-confirm"));
    await waitFor(() => expect(onConflict).toHaveBeenCalledWith(CONFLICT));
    expect(onRestored).not.toHaveBeenCalled();
  });

  it("shows a 409 as an error without onConflict", async () => {
    serve(() => ({ status: 409, body: CONFLICT }));
    const { onRestored } = open();
    fireEvent.click(await screen.findByTestId("history-restore-1"));
    fireEvent.click(screen.getByTestId("history-restore-confirm"));
    expect((await screen.findByTestId("error-box")).textContent).toContain("changed since you loaded it");
    expect(onRestored).not.toHaveBeenCalled();
  });
});
