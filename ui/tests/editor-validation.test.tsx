// The editor's validation loop: validate on open and after edits, keep only the newest answer, and show a
// refused activation's errors where validation errors go, keeping the edit.
import { ChakraProvider, defaultSystem } from "@chakra-ui/react";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import EditorPage from "../src/pages/EditorPage";
import { type ApiAnswer, type ApiCall, stubApi } from "./api-stub";
import { MODULES, spec } from "./fixtures";

/** The builder API for pipeline `orders`; `/validate` and `PUT` answers come from the test (maybe late). */
function serveApi(validate: (call: ApiCall, n: number) => Promise<ApiAnswer>, put?: (call: ApiCall) => ApiAnswer) {
  const calls: ApiCall[] = [];
  let validations = 0;
  const doc = spec({ status: "draft" });
  const answer = async (call: ApiCall): Promise<ApiAnswer> => {
    if (call.path.startsWith("/me")) return { status: 200, body: { username: "u", can_edit: true, can_run: true, llm: false } };
    if (call.path === "/pipelines/orders" && call.method === "GET") return { status: 200, body: { pipeline: doc, etag: "e1", version: 3, saved_at: "2024-05-01T12:00:00Z", errors: [] } };
    if (call.path === "/pipelines/orders" && call.method === "PUT" && put) return put(call);
    if (call.path === "/modules") return { status: 200, body: { modules: MODULES } };
    if (call.path === "/connections") return { status: 200, body: { connections: [] } };
    if (call.path.startsWith("/pipelines/orders/runs")) return { status: 200, body: { dag_found: false, runs: [] } };
    if (call.path === "/validate") return validate(call, (validations += 1));
    return { status: 404, body: { detail: `unexpected ${call.method} ${call.path}`, errors: [] } };
  };
  stubApi(answer, calls);
  return calls;
}

const validation = (message: string) => ({
  valid: false,
  errors: [{ path: "edges[0]", message, node_id: null, severity: "error" }],
  warnings: [],
  schemas: {},
});

function editor() {
  return render(
    <ChakraProvider value={defaultSystem}>
      <EditorPage pipelineId="orders" canEdit canRun />
    </ChakraProvider>,
  );
}

afterEach(() => vi.unstubAllGlobals());

describe("validation while drawing", () => {
  it("validates on open (reading sources) and after an edit, dropping an older answer that arrives late", async () => {
    let releaseFirst: (a: ApiAnswer) => void = () => undefined;
    const calls = serveApi((_call, n) =>
      n === 1 ? new Promise<ApiAnswer>((resolve) => (releaseFirst = resolve)) : Promise.resolve({ status: 200, body: validation("newer problem") }),
    );
    editor();
    await waitFor(() => expect(calls.some((c) => c.path === "/validate")).toBe(true));
    expect(calls.find((c) => c.path === "/validate")?.body).toMatchObject({ read_sources: true, refresh: false, pipeline: { id: "orders" } });

    // An edit of the pipeline settings validates again; that answer comes first.
    const name = document.querySelector('[data-field="name"] input') as HTMLInputElement;
    fireEvent.change(name, { target: { value: "Orders, renamed" } });
    const list = await screen.findByTestId("problems-list", {});
    await waitFor(() => expect(list.textContent).toContain("newer problem"));
    // The first request answers last: ignored.
    releaseFirst({ status: 200, body: validation("older problem") });
    await new Promise((r) => setTimeout(r, 50));
    expect(screen.getByTestId("problems-list").textContent).toContain("newer problem");
    expect(screen.getByTestId("problems-list").textContent).not.toContain("older problem");
    expect(calls.filter((c) => c.path === "/validate")).toHaveLength(2);
  });

  it("shows a refused activation's errors at their fields and keeps the edit; a draft still saves", async () => {
    const refused = { detail: "pipeline orders is invalid", errors: [{ path: "schedule", message: "'@sometimes' is not a cron expression or preset", node_id: null }] };
    const calls = serveApi(
      // Validation answers on open only: the refused save is what reports the problem here.
      (_call, n) => (n === 1 ? Promise.resolve({ status: 200, body: { valid: true, errors: [], warnings: [], schemas: {} } }) : new Promise<ApiAnswer>(() => undefined)),
      (call) =>
        (call.body.pipeline as { status: string }).status === "active"
          ? { status: 422, body: refused }
          : { status: 200, body: { pipeline: call.body.pipeline, etag: "e2", version: 4, saved_at: "2024-05-01T12:01:00Z", errors: [] } },
    );
    editor();
    await screen.findByRole("button", { name: "Save & activate" });
    // The validation on open must have been asked first: typing within its debounce would make the open's
    // (clean) answer the one that arrives after the refused save, however fast or slow the machine is.
    await waitFor(() => expect(calls.some((c) => c.path === "/validate")).toBe(true));
    fireEvent.change(document.querySelector('[data-field="schedule"] input') as HTMLInputElement, { target: { value: "@sometimes" } });
    fireEvent.click(screen.getByRole("button", { name: "Save & activate" }));
    expect((await screen.findByTestId("editor-message")).textContent).toMatch(/Not saved: 1 problem/);
    const field = document.querySelector('[data-field="schedule"]') as HTMLElement;
    const error = within(field).getByTestId("field-error");
    expect(error.textContent).toBe("'@sometimes' is not a cron expression or preset");
    expect(error.getAttribute("title")).toBe("schedule");
    expect((document.querySelector('[data-field="schedule"] input') as HTMLInputElement).value).toBe("@sometimes");
    expect(screen.getByTestId("pipeline-status").textContent).toBe("draft");
    expect(screen.getByTestId("pipeline-version").textContent).toMatch(/unsaved changes/);

    fireEvent.click(screen.getByRole("button", { name: "Save draft" }));
    await waitFor(() => expect(screen.getByTestId("editor-message").textContent).toMatch(/Saved version 4 as draft/));
    expect(calls.filter((c) => c.method === "PUT").map((c) => (c.body.pipeline as { schedule: string }).schedule)).toEqual(["@sometimes", "@sometimes"]);
  });
});
