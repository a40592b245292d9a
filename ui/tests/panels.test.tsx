import { ChakraProvider, defaultSystem } from "@chakra-ui/react";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PreviewPanel } from "../src/preview/PreviewPanel";
import type { Preview, Suggestion } from "../src/preview/types";
import { SuggestPanel } from "../src/suggest/SuggestPanel";
import { spec } from "./fixtures";

const wrap = (ui: ReactNode) => render(<ChakraProvider value={defaultSystem}>{ui}</ChakraProvider>);

type Handler = (path: string, body: Record<string, unknown>) => { status: number; body: unknown };
let calls: { path: string; body: Record<string, unknown> }[] = [];

function serve(handler: Handler) {
  calls = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit) => {
      const path = url.replace(/^.*\/logidata\/api/, "");
      const body = init.body ? (JSON.parse(String(init.body)) as Record<string, unknown>) : {};
      calls.push({ path, body });
      const answer = handler(path, body);
      return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { "Content-Type": "application/json" } });
    }),
  );
}

beforeEach(() => window.localStorage.clear());
afterEach(() => vi.unstubAllGlobals());

function preview(rows: number, extra: Partial<Preview> = {}): Preview {
  return {
    node_id: "read",
    columns: [
      { name: "order_id", type: "BIGINT" },
      { name: "customer", type: "VARCHAR" },
    ],
    rows: Array.from({ length: rows }, (_, i) => [i, i % 3 ? "Ann" : "  Bob "]),
    truncated_cells: 0,
    profile: [
      { name: "order_id", type: "BIGINT", null_share: 0, distinct_estimate: rows, min: 0, max: rows - 1, top_values: [], histogram: { edges: [0, 500, 1000], counts: [500, 500] }, mean: 499.5, inferred: null },
      { name: "customer", type: "VARCHAR", null_share: 0.1, distinct_estimate: 2, min: "  Bob ", max: "Ann", top_values: [{ value: "Ann", count: 666 }, { value: "  Bob ", count: 334 }], histogram: null, mean: null, inferred: null },
    ],
    row_count_estimate: 5_000_000,
    sample_rows: rows,
    elapsed_ms: 87,
    engine: "etl",
    sql: null,
    cached: true,
    input: null,
    row_status: null,
    warnings: [],
    ...extra,
  };
}

describe("preview panel", () => {
  it("shows 1,000 rows through a virtual window, with header charts, timing and the cached marker", async () => {
    serve(() => ({ status: 200, body: preview(1000) }));
    const target = { spec: spec(), nodeId: "read" };
    wrap(<PreviewPanel target={target} nodes={target.spec.nodes} onSelectNode={() => undefined} />);
    const grid = await screen.findByTestId("preview-grid", {});
    expect(grid.getAttribute("data-rows")).toBe("1000");
    const rendered = grid.querySelectorAll("[data-row]").length;
    expect(rendered).toBeGreaterThan(0);
    expect(rendered).toBeLessThan(60);
    expect(screen.getByTestId("preview-cached")).toBeTruthy();
    expect(screen.getByTestId("preview-row-count").textContent).toMatch(/1000 rows of ~5M/);
    expect(screen.getByTestId("preview-elapsed").textContent).toBe("87 ms");
    expect(grid.querySelector("[data-column=order_id] [data-testid=chart-histogram] rect")).toBeTruthy();
    expect(grid.querySelectorAll("[data-column=customer] [data-testid=chart-top] rect")).toHaveLength(2);
    expect(grid.querySelector("[data-column=customer] [data-testid=null-bar]")?.getAttribute("data-null-share")).toBe("0.1");
    // Padded text is visible as dots.
    expect(grid.textContent).toContain("··Bob·");
    expect(calls[0]).toMatchObject({ path: "/preview", body: { node_id: "read", limit: 100, sampling: "head", seed: null } });

    fireEvent.click(screen.getByTestId("sampling-random"));
    await waitFor(() => expect(calls.at(-1)?.body).toMatchObject({ sampling: "random", seed: 1 }));
    fireEvent.click(screen.getByTestId("preview-tab-schema"));
    expect(screen.getByTestId("preview-schema").textContent).toContain("10%");
  });

  it("shows a transform's before/after with removed rows and changed cells", async () => {
    const columns = preview(0).columns;
    serve((_, body) => ({
      status: 200,
      body:
        body.node_id === "dedupe"
          ? preview(2, { node_id: "dedupe", rows: [[2, "Bob"], [1, " Ann"]], input: { columns, rows: [[1, " Ann"], [1, " Ann"], [2, "Bob"]] }, row_status: ["kept", "removed", "kept"] })
          : preview(3, { node_id: "tidy", rows: [[1, "Ann"], [2, "Bob"], [3, "Cy"]], input: { columns, rows: [[1, " Ann"], [2, "Bob"], [3, "Cy "]] }, row_status: ["changed", "kept", "changed"] }),
    }));
    const target = { spec: spec(), nodeId: "dedupe" };
    const { unmount } = wrap(<PreviewPanel target={target} nodes={target.spec.nodes} onSelectNode={() => undefined} />);
    await screen.findByTestId("preview-grid", {});
    expect(screen.getByTestId("preview-diff-summary").textContent).toBe("1 removed · 0 changed rows");
    fireEvent.click(screen.getByTestId("preview-tab-diff"));
    const removed = screen.getByTestId("preview-diff").querySelector("[data-status=removed]") as HTMLElement;
    expect(removed.style.textDecoration).toBe("line-through");
    // Kept rows show their input values even though deduplicate reordered its output.
    expect(screen.getByTestId("preview-diff").querySelector("[data-row='0']")?.textContent).toContain("·Ann");
    fireEvent.click(screen.getByTestId("diff-changes-only"));
    expect(screen.getByTestId("preview-diff").getAttribute("data-rows")).toBe("1");
    unmount();

    wrap(<PreviewPanel target={{ spec: spec(), nodeId: "tidy" }} nodes={spec().nodes} onSelectNode={() => undefined} />);
    await screen.findByTestId("preview-grid", {});
    fireEvent.click(screen.getByTestId("preview-tab-diff"));
    const changed = screen.getByTestId("preview-diff").querySelectorAll("[data-status=changed]");
    expect(changed).toHaveLength(2);
    expect(changed[0].querySelector("s")?.textContent).toBe("·Ann");
    expect(changed[0].textContent).toContain("Ann");
  });

  it("shows the answer's warnings, e.g. a connection logging in as a superuser, and none when there are none", async () => {
    const warning = "source.postgres node 'read': the connection 'warehouse' logs in to PostgreSQL as 'postgres', a superuser: ...";
    serve(() => ({ status: 200, body: preview(3, { warnings: [warning] }) }));
    const target = { spec: spec(), nodeId: "read" };
    const { unmount } = wrap(<PreviewPanel target={target} nodes={target.spec.nodes} onSelectNode={() => undefined} />);
    const box = await screen.findByTestId("preview-warnings", {});
    expect(screen.getAllByTestId("preview-warning").map((w) => w.textContent)).toEqual([`⚠ ${warning}`]);
    expect(box.textContent).toContain("a superuser");
    expect(screen.getByTestId("preview-grid").getAttribute("data-rows")).toBe("3"); // the data still shows
    unmount();

    serve(() => ({ status: 200, body: preview(3) }));
    wrap(<PreviewPanel target={{ spec: spec(), nodeId: "read" }} nodes={spec().nodes} onSelectNode={() => undefined} />);
    await screen.findByTestId("preview-grid", {});
    expect(screen.queryByTestId("preview-warnings")).toBeNull();
  });

  it("maps a 422 to the node and field and lets the user jump there; says when a preview timed out", async () => {
    serve(() => ({ status: 422, body: { detail: "node 'dedupe' is not configured", errors: [{ path: "nodes[1].config.columns", message: "required", code: "missing" }] } }));
    const select = vi.fn();
    const target = { spec: spec(), nodeId: "tidy" };
    const { unmount } = wrap(<PreviewPanel target={target} nodes={target.spec.nodes} onSelectNode={select} />);
    const issue = await screen.findByTestId("preview-issue", {});
    // Where to look, not the message again: that is at the field and on the node.
    expect(issue.textContent).toBe("Shown at: dedupe");
    fireEvent.click(screen.getByRole("button", { name: "dedupe" }));
    expect(select).toHaveBeenCalledWith("dedupe");
    unmount();

    serve(() => ({ status: 504, body: { detail: "preview of node 'read' timed out after 10 s (source.postgres 'orders' still running); raise [logidata] preview_timeout or add a filter" } }));
    wrap(<PreviewPanel target={{ spec: spec(), nodeId: "read" }} nodes={spec().nodes} onSelectNode={select} />);
    const box = await screen.findByTestId("preview-error", {});
    expect(box.getAttribute("data-status")).toBe("504");
    expect(box.textContent).toMatch(/The preview timed out.*raise \[logidata\] preview_timeout/);
  });
});

const suggestion = (id: string, extra: Partial<Suggestion> = {}): Suggestion => ({
  id,
  rule: "exact_duplicates",
  title: "Remove 2 exact duplicate rows",
  evidence: "2 of 10 sampled rows are exact duplicates",
  confidence: 0.95,
  severity: "high",
  columns: [],
  confidence_reason: "every column compared",
  nodes: [{ module: "deduplicate", config: {}, label: "Remove duplicates", input_port: null, extra_inputs: {} }],
  effect: { rows_before: 10, rows_after: 8, cells_changed: 0, summary: "2 rows removed", columns_before: [], columns_after: [], examples: [] },
  ...extra,
});

describe("suggestion panel", () => {
  it("lists suggestions, applies after a positive check, and stores dismissals for the pipeline", async () => {
    let checkStatus = 200;
    serve((path, body) => {
      if (path === "/pipelines/orders/dismissed-suggestions") return { status: 200, body: { ids: typeof body.id === "string" ? [body.id] : [] } };
      if (path === "/suggest") return { status: 200, body: { node_id: "read", sample_rows: 10, elapsed_ms: 12, suggestions: [suggestion("dup"), suggestion("pad", { rule: "padded_text", title: "Trim customer", columns: ["customer"] })] } };
      if (path === "/suggest/check") return checkStatus === 200 ? { status: 200, body: { ok: true } } : { status: 422, body: { detail: "column 'customer' no longer exists upstream", errors: [] } };
      return { status: 404, body: { detail: "?" } };
    });
    const onApply = vi.fn();
    const onPreview = vi.fn();
    wrap(<SuggestPanel pipelineId="orders" spec={spec()} nodeId="read" readOnly={false} llm={false} onApply={onApply} onPreviewEffect={onPreview} />);
    await waitFor(() => expect(screen.getAllByTestId("suggestion")).toHaveLength(2));
    expect(screen.getAllByTestId("suggestion-effect")[0].textContent).toBe("10 → 8 rows");
    expect(screen.queryByTestId("describe-step")).toBeNull();

    fireEvent.click(screen.getAllByTestId("suggestion-apply")[0]);
    await waitFor(() => expect(onApply).toHaveBeenCalledWith([{ module: "deduplicate", config: {}, label: "Remove duplicates", inputPort: null, extraInputs: {} }]));
    expect(calls.find((c) => c.path === "/suggest/check")?.body).toMatchObject({ node_id: "read", suggestion: { id: "dup" } });

    checkStatus = 422;
    fireEvent.click(screen.getAllByTestId("suggestion-apply")[1]);
    expect((await screen.findByTestId("suggestion-refused")).textContent).toBe("Cannot apply: column 'customer' no longer exists upstream");
    expect(onApply).toHaveBeenCalledTimes(1);

    fireEvent.click(screen.getAllByTestId("suggestion-preview")[0]);
    expect(onPreview).toHaveBeenCalledWith([{ module: "deduplicate", config: {}, label: "Remove duplicates", inputPort: null, extraInputs: {} }], "Remove 2 exact duplicate rows");

    fireEvent.click(screen.getAllByTestId("suggestion-dismiss")[0]);
    expect(screen.getAllByTestId("suggestion")).toHaveLength(1);
    await waitFor(() => expect(calls.find((c) => c.path === "/pipelines/orders/dismissed-suggestions" && c.body.id)?.body).toEqual({ id: "dup" }));
  });

  it("sends the dismissed ids and offers 'Describe a step' only with an LLM", async () => {
    serve((path) =>
      path === "/suggest"
        ? { status: 200, body: { node_id: "read", sample_rows: 10, elapsed_ms: 1, suggestions: [suggestion("dup")] } }
        : path === "/pipelines/orders/dismissed-suggestions"
          ? { status: 200, body: { ids: ["dup"] } }
          : { status: 200, body: { nodes: [{ module: "filter", config: { condition: "amount > 100" } }], errors: [{ path: "nodes[0].config.condition", message: "unknown column amount", code: "c" }], explanation: "Filter rows" } },
    );
    const onApply = vi.fn();
    wrap(<SuggestPanel pipelineId="orders" spec={spec()} nodeId="read" readOnly={false} llm onApply={onApply} onPreviewEffect={() => undefined} />);
    await screen.findByTestId("suggest-empty", {});
    expect(calls.find((c) => c.path === "/suggest")?.body.dismissed).toEqual(["dup"]);
    const box = screen.getByTestId("describe-step");
    fireEvent.change(box.querySelector("textarea") as HTMLTextAreaElement, { target: { value: "keep orders above 100" } });
    fireEvent.click(screen.getByRole("button", { name: "Propose" }));
    const answer = await screen.findByTestId("describe-answer");
    expect(answer.textContent).toMatch(/unknown column amount.*cannot be applied/);
    expect(screen.queryAllByRole("button", { name: "Apply" })).toHaveLength(0);
  });
});
