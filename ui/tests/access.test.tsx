// Per-pipeline access: the editor asks GET /me?pipeline_id=<id> and follows its can_edit (read-only
// canvas) and can_run (Run now), not the general answer, as auth managers with per-DAG grants need.
import { ChakraProvider, defaultSystem } from "@chakra-ui/react";
import { fireEvent, render, renderHook, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Access, readOnlyText, runTitle, usePipelineAccess } from "../src/api/access";
import { api } from "../src/api/client";
import EditorPage from "../src/pages/EditorPage";
import { type ApiCall, stubApi } from "./api-stub";
import { MODULES, spec } from "./fixtures";

let calls: ApiCall[] = [];

/** The builder API over fetch for pipeline `orders`; `me` answers /me?pipeline_id=orders (a number: that status). */
function serveApi(me: { can_edit: boolean; can_run: boolean } | number, pipeline: { status?: "draft" | "active"; dagFound?: boolean } = {}) {
  calls = [];
  const doc = spec({ status: pipeline.status ?? "active" });
  const answer = (call: ApiCall): { status: number; body: unknown } => {
    if (call.path === "/me?pipeline_id=orders") {
      return typeof me === "number" ? { status: me, body: { detail: "boom", errors: [] } } : { status: 200, body: { username: "u", llm: false, ...me } };
    }
    if (call.path === "/me") return { status: 200, body: { username: "u", can_edit: false, can_run: false, llm: false } };
    if (call.path === "/pipelines/orders") return { status: 200, body: { pipeline: doc, etag: "e1", version: 3, saved_at: "2024-05-01T12:00:00Z", errors: [] } };
    if (call.path === "/modules") return { status: 200, body: { modules: MODULES } };
    if (call.path === "/connections") return { status: 403, body: { detail: "Forbidden: no connection read", errors: [] } };
    if (call.path.startsWith("/pipelines/orders/runs?")) return { status: 200, body: { dag_found: pipeline.dagFound ?? true, runs: [] } };
    if (call.path === "/pipelines/orders/runs" && call.method === "POST") return { status: 201, body: { dag_id: "orders", run_id: "manual__1", state: "queued", unpaused: false } };
    return { status: 404, body: { detail: `unexpected ${call.method} ${call.path}`, errors: [] } };
  };
  stubApi(answer, calls);
}

function editor(general: Access) {
  return render(
    <ChakraProvider value={defaultSystem}>
      <EditorPage pipelineId="orders" canEdit={general.canEdit} canRun={general.canRun} />
    </ChakraProvider>,
  );
}

const runButton = async () => (await screen.findByRole("button", { name: "Run now" })) as HTMLButtonElement;

afterEach(() => vi.unstubAllGlobals());

describe("GET /me", () => {
  it("asks for one pipeline with pipeline_id, for DAGs in general without", async () => {
    serveApi({ can_edit: true, can_run: false });
    expect(await api.me("orders")).toMatchObject({ can_edit: true, can_run: false });
    expect(await api.me()).toMatchObject({ can_edit: false, can_run: false });
    await api.me("a&b").catch(() => undefined);
    expect(calls.map((c) => c.path)).toEqual(["/me?pipeline_id=orders", "/me", "/me?pipeline_id=a%26b"]);
  });
});

describe("usePipelineAccess", () => {
  it("follows the pipeline's answer over the general one", async () => {
    serveApi({ can_edit: true, can_run: false });
    const { result } = renderHook(() => usePipelineAccess("orders", { canEdit: false, canRun: true }));
    expect(result.current).toBeNull();
    await waitFor(() => expect(result.current).toEqual({ canEdit: true, canRun: false }));
  });

  it("falls back to the general answer when the API does not answer", async () => {
    serveApi(500);
    const { result } = renderHook(() => usePipelineAccess("orders", { canEdit: false, canRun: true }));
    await waitFor(() => expect(result.current).toEqual({ canEdit: false, canRun: true }));
  });
});

describe("texts", () => {
  const base = { pipelineId: "team_b_x", status: "active", dirty: false, dagFound: true };
  it("name the missing permission first", () => {
    expect(runTitle({ ...base, access: { canEdit: true, canRun: false } })).toBe(
      "Your Airflow role may not trigger runs of DAG 'team_b_x': running it needs DAG run create permission on it",
    );
    expect(runTitle({ ...base, access: { canEdit: false, canRun: true } })).toBe("Trigger a DAG run now");
    expect(runTitle({ ...base, status: "draft", access: { canEdit: false, canRun: true } })).toMatch(/someone who may edit/);
    expect(runTitle({ ...base, status: "draft", access: { canEdit: true, canRun: true } })).toBe("Save as active first: drafts have no DAG");
    expect(runTitle({ ...base, dagFound: false, access: { canEdit: true, canRun: true } })).toBe("Waiting for Airflow to parse the DAG");
    expect(readOnlyText("team_b_x", { canEdit: false, canRun: true })).toMatch(/may view and run this pipeline but not change it \(that needs DAG edit permission on DAG 'team_b_x'\)/);
    expect(readOnlyText("x", { canEdit: false, canRun: false })).toMatch(/not change or run it \(that needs DAG edit and DAG run create permission/);
  });
});

describe("the editor", () => {
  it("is editable and runnable when the pipeline's DAG allows it, although DAGs in general do not", async () => {
    serveApi({ can_edit: true, can_run: true });
    editor({ canEdit: false, canRun: false });
    expect(await screen.findByRole("button", { name: "Save draft" })).toBeTruthy();
    expect(screen.queryByTestId("read-only-banner")).toBeNull();
    const run = await runButton();
    await waitFor(() => expect(run.disabled).toBe(false));
    expect(run.title).toBe("Trigger a DAG run now");
    fireEvent.click(run);
    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.path === "/pipelines/orders/runs")).toBe(true));
    expect(calls.find((c) => c.method === "POST" && c.path === "/pipelines/orders/runs")?.body).toEqual({ conf: {}, unpause: true });
    expect(calls[0].path).toBe("/me?pipeline_id=orders");
  });

  it("is read-only but runs a DAG the user may only trigger, without unpausing it", async () => {
    serveApi({ can_edit: false, can_run: true });
    editor({ canEdit: true, canRun: true });
    const banner = await screen.findByTestId("read-only-banner");
    expect(banner.textContent).toMatch(/may view and run this pipeline but not change it/);
    expect(screen.queryByRole("button", { name: "Save draft" })).toBeNull();
    const run = await runButton();
    await waitFor(() => expect(run.disabled).toBe(false));
    fireEvent.click(run);
    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.path === "/pipelines/orders/runs")).toBe(true));
    expect(calls.find((c) => c.method === "POST" && c.path === "/pipelines/orders/runs")?.body).toEqual({ conf: {}, unpause: false });
    expect((await screen.findByTestId("editor-message")).textContent).toMatch(/Run manual__1 queued\. If the DAG is paused/);
  });

  it("disables Run now naming the missing permission", async () => {
    serveApi({ can_edit: true, can_run: false });
    editor({ canEdit: true, canRun: true });
    const run = await runButton();
    await waitFor(() => expect(run.title).toMatch(/may not trigger runs of DAG 'orders': running it needs DAG run create permission/));
    expect(run.disabled).toBe(true);
    expect(screen.queryByTestId("read-only-banner")).toBeNull();
  });

  it("shows a viewer the banner naming both permissions, and no Run now", async () => {
    serveApi({ can_edit: false, can_run: false });
    editor({ canEdit: true, canRun: true });
    expect((await screen.findByTestId("read-only-banner")).textContent).toMatch(/not change or run it \(that needs DAG edit and DAG run create permission on DAG 'orders'\)/);
    expect(screen.queryByRole("button", { name: "Run now" })).toBeNull();
  });

  it("keeps the general answer when the pipeline's cannot be had", async () => {
    serveApi(500);
    editor({ canEdit: true, canRun: false });
    expect(await screen.findByRole("button", { name: "Save draft" })).toBeTruthy();
    expect((await runButton()).disabled).toBe(true);
  });
});
