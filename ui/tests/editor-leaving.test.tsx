// Edits are not lost by leaving: with unsaved changes, "← Pipelines" and closing the tab ask first; "Save
// draft" on an active pipeline asks, saying its DAG leaves Airflow.
import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type ApiCall, stubApi } from "./api-stub";
import { openEditor } from "./editor-harness";
import { MODULES, spec } from "./fixtures";

function serveApi(status: "draft" | "active") {
  const calls: ApiCall[] = [];
  const doc = spec({ status });
  const answer = (call: ApiCall): { status: number; body: unknown } => {
    if (call.path.startsWith("/me")) return { status: 200, body: { username: "u", can_edit: true, can_run: true, llm: false } };
    if (call.path === "/pipelines/orders" && call.method === "GET") return { status: 200, body: { pipeline: doc, etag: "e1", version: 3, saved_at: "2024-05-01T12:00:00Z", errors: [] } };
    if (call.path === "/pipelines/orders" && call.method === "PUT") {
      return { status: 200, body: { pipeline: call.body.pipeline, etag: "e2", version: 4, saved_at: "2024-05-01T12:01:00Z", errors: [] } };
    }
    if (call.path === "/modules") return { status: 200, body: { modules: MODULES } };
    if (call.path === "/connections") return { status: 200, body: { connections: [] } };
    if (call.path.startsWith("/pipelines/orders/runs")) return { status: 200, body: { dag_found: false, runs: [] } };
    if (call.path === "/validate") return { status: 200, body: { valid: true, errors: [], warnings: [], schemas: {} } };
    return { status: 404, body: { detail: `unexpected ${call.method} ${call.path}`, errors: [] } };
  };
  stubApi(answer, calls);
  return calls;
}

const edit = () =>
  fireEvent.change(document.querySelector('[data-field="schedule"] input') as HTMLInputElement, { target: { value: "@daily" } });
const puts = (calls: ApiCall[]) => calls.filter((c) => c.method === "PUT");
const unloadPrevented = () => {
  const event = new Event("beforeunload", { cancelable: true });
  window.dispatchEvent(event);
  return event.defaultPrevented;
};

afterEach(() => vi.unstubAllGlobals());

describe("leaving the editor", () => {
  it("asks before 'Save draft' takes an active pipeline's DAG out of Airflow", async () => {
    const calls = serveApi("active");
    const confirm = vi.fn(() => false);
    vi.stubGlobal("confirm", confirm);
    await openEditor();
    fireEvent.click(screen.getByRole("button", { name: "Save draft" }));
    expect(confirm).toHaveBeenCalledOnce();
    expect(String(confirm.mock.calls[0])).toMatch(/orders is active\. Saved as a draft, its DAG leaves Airflow/);
    expect(puts(calls)).toEqual([]);
    expect(screen.getByTestId("pipeline-status").textContent).toBe("active");
    confirm.mockReturnValue(true);
    fireEvent.click(screen.getByRole("button", { name: "Save draft" }));
    await waitFor(() => expect(puts(calls)).toHaveLength(1));
    expect((puts(calls)[0].body.pipeline as { status: string }).status).toBe("draft");
  });

  it("saves a draft as a draft without asking", async () => {
    const calls = serveApi("draft");
    const confirm = vi.fn(() => false);
    vi.stubGlobal("confirm", confirm);
    await openEditor();
    fireEvent.click(screen.getByRole("button", { name: "Save draft" }));
    await waitFor(() => expect(puts(calls)).toHaveLength(1));
    expect(confirm).not.toHaveBeenCalled();
  });

  it("asks before '← Pipelines' and tab close drop unsaved changes, and only then", async () => {
    serveApi("draft");
    const confirm = vi.fn(() => false);
    vi.stubGlobal("confirm", confirm);
    await openEditor();
    const back = screen.getByRole("link", { name: "← Pipelines" });
    expect(fireEvent.click(back)).toBe(true); // not cancelled: nothing to lose
    expect(confirm).not.toHaveBeenCalled();
    expect(unloadPrevented()).toBe(false);

    edit();
    await waitFor(() => expect(screen.getByTestId("pipeline-version").textContent).toMatch(/unsaved changes/));
    expect(fireEvent.click(back)).toBe(false); // cancelled: the user stays
    expect(String(confirm.mock.calls[0])).toMatch(/Leave orders without saving\?/);
    expect(unloadPrevented()).toBe(true);
    confirm.mockReturnValue(true);
    expect(fireEvent.click(back)).toBe(true);
  });
});
