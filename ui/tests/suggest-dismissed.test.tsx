import { ChakraProvider, defaultSystem } from "@chakra-ui/react";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Suggestion } from "../src/preview/types";
import { dismissedLabel, SuggestPanel } from "../src/suggest/SuggestPanel";
import { legacyKey } from "../src/suggest/dismissed";
import { spec } from "./fixtures";

const wrap = (ui: ReactNode) => render(<ChakraProvider value={defaultSystem}>{ui}</ChakraProvider>);

interface Call {
  method: string;
  path: string;
  body: Record<string, unknown>;
}
type Answer = { status: number; body: unknown };
let calls: Call[] = [];

/** The builder API over fetch: the dismissal routes keep `stored` (null: unknown pipeline), /suggest answers. */
function serveApi(suggestions: Suggestion[], options: { stored?: string[] | null; fail?: (call: Call) => Answer | null } = {}) {
  calls = [];
  let stored = options.stored === undefined ? [] : options.stored;
  const base = "/pipelines/orders/dismissed-suggestions";
  const handle = (call: Call): Answer => {
    const failed = options.fail?.(call);
    if (failed) return failed;
    if (call.path === "/suggest") {
      // Like the server: the request's ids and the stored ones are left out.
      const hidden = new Set([...((call.body.dismissed as string[]) ?? []), ...(stored ?? [])]);
      return { status: 200, body: { node_id: "read", sample_rows: 10, elapsed_ms: 5, suggestions: suggestions.filter((x) => !hidden.has(x.id)) } };
    }
    if (call.path.startsWith(base)) {
      if (stored === null) return { status: 404, body: { detail: "pipeline 'orders' not found", errors: [] } };
      if (call.method === "POST") stored = [...stored.filter((x) => x !== call.body.id), String(call.body.id)];
      if (call.method === "DELETE") stored = stored.filter((x) => x !== decodeURIComponent(call.path.slice(base.length + 1)));
      return { status: 200, body: { ids: stored } };
    }
    return { status: 404, body: { detail: "?", errors: [] } };
  };
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit) => {
      const call = { method: init.method ?? "GET", path: url.replace(/^.*\/logidata\/api/, ""), body: init.body ? (JSON.parse(String(init.body)) as Record<string, unknown>) : {} };
      calls.push(call);
      const answer = handle(call);
      return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { "Content-Type": "application/json" } });
    }),
  );
  return { stored: () => stored };
}

const suggestion = (id: string, title: string): Suggestion => ({
  id,
  rule: id.split(":")[0],
  title,
  evidence: "evidence",
  confidence: 0.9,
  severity: "high",
  columns: [],
  confidence_reason: "",
  nodes: [{ module: "deduplicate", config: {}, label: "Remove duplicates", input_port: null, extra_inputs: {} }],
  effect: null,
});

const DUP = suggestion("exact_duplicates", "Remove 2 exact duplicate rows");
const PAD = suggestion("padded_text:a/b", "Trim a/b");

function panel(readOnly = false) {
  return wrap(<SuggestPanel pipelineId="orders" spec={spec()} nodeId="read" readOnly={readOnly} llm={false} onApply={() => undefined} onPreviewEffect={() => undefined} />);
}

const shown = () => screen.queryAllByTestId("suggestion").map((el) => el.getAttribute("data-suggestion-id"));

beforeEach(() => window.localStorage.clear());
afterEach(() => vi.unstubAllGlobals());

describe("dismissed suggestions in the panel", () => {
  it("hides what the server has, dismisses with POST, and shows and restores dismissed ones", async () => {
    const server = serveApi([DUP, PAD], { stored: ["exact_duplicates"] });
    panel();
    await waitFor(() => expect(shown()).toEqual(["padded_text:a/b"]));
    expect(calls[0]).toEqual({ method: "GET", path: "/pipelines/orders/dismissed-suggestions", body: {} });
    expect(calls.find((c) => c.path === "/suggest")?.body.dismissed).toEqual(["exact_duplicates"]);

    fireEvent.click(screen.getByTestId("suggestion-dismiss"));
    expect(shown()).toEqual([]);
    await waitFor(() => expect(server.stored()).toEqual(["exact_duplicates", "padded_text:a/b"]));
    expect(calls.at(-1)).toEqual({ method: "POST", path: "/pipelines/orders/dismissed-suggestions", body: { id: "padded_text:a/b" } });

    const toggle = screen.getByTestId("dismissed-toggle");
    expect(toggle.textContent).toBe("Show dismissed (2)");
    fireEvent.click(toggle);
    const items = within(screen.getByTestId("dismissed-list")).getAllByTestId("dismissed-item");
    // Newest first; titled when this answer had it (the server left the other one out: its id).
    expect(items.map((i) => i.textContent)).toEqual(["Trim a/bRestore", "exact duplicatesRestore"]);
    fireEvent.click(within(items[0]).getByTestId("dismissed-restore"));
    expect(shown()).toEqual(["padded_text:a/b"]);
    await waitFor(() => expect(server.stored()).toEqual(["exact_duplicates"]));
    expect(calls.at(-1)).toMatchObject({ method: "DELETE", path: "/pipelines/orders/dismissed-suggestions/padded_text%3Aa%2Fb" });
    expect(screen.getByTestId("dismissed-toggle").textContent).toBe("Hide dismissed (1)");

    // Restoring one that is not in the answer asks for suggestions again, once the server has it back.
    const asked = calls.filter((c) => c.path === "/suggest").length;
    fireEvent.click(screen.getByTestId("dismissed-restore"));
    await waitFor(() => expect(shown()).toEqual(["exact_duplicates", "padded_text:a/b"]));
    expect(server.stored()).toEqual([]);
    expect(calls.filter((c) => c.path === "/suggest")).toHaveLength(asked + 1);
    expect(screen.queryByTestId("dismissed-toggle")).toBeNull();
    expect(screen.queryByTestId("dismiss-error")).toBeNull();
  });

  it("puts a suggestion back with a message when the server refuses the dismissal", async () => {
    serveApi([DUP, PAD], {
      fail: (c) => (c.method === "POST" && c.path.startsWith("/pipelines/") ? { status: 500, body: { detail: "pipeline store error: disk full", errors: [] } } : null),
    });
    panel();
    await waitFor(() => expect(shown()).toHaveLength(2));
    fireEvent.click(screen.getAllByTestId("suggestion-dismiss")[0]);
    expect(shown()).toEqual(["padded_text:a/b"]);
    const message = await screen.findByTestId("dismiss-error");
    expect(message.textContent).toContain("Could not dismiss the suggestion: pipeline store error: disk full");
    expect(shown()).toEqual(["exact_duplicates", "padded_text:a/b"]);
    fireEvent.click(within(message).getByRole("button", { name: "Close the message" }));
    expect(screen.queryByTestId("dismiss-error")).toBeNull();
  });

  it("keeps dismissals on the page for a pipeline the server does not have", async () => {
    serveApi([DUP, PAD], { stored: null });
    panel();
    await waitFor(() => expect(shown()).toHaveLength(2));
    fireEvent.click(screen.getAllByTestId("suggestion-dismiss")[0]);
    expect(shown()).toEqual(["padded_text:a/b"]);
    fireEvent.click(screen.getByTestId("dismissed-toggle"));
    expect(screen.getByTestId("dismissed-list").textContent).toContain("dismissals last for this page only");
    expect(calls.filter((c) => c.method !== "GET" && c.path !== "/suggest")).toEqual([]);
    expect(screen.queryByTestId("dismiss-error")).toBeNull();
    expect(window.localStorage.length).toBe(0);
  });

  it("moves dismissals an older builder kept in this browser to the server", async () => {
    window.localStorage.setItem(legacyKey("orders"), JSON.stringify(["padded_text:a/b"]));
    const server = serveApi([DUP, PAD]);
    panel();
    await waitFor(() => expect(window.localStorage.getItem(legacyKey("orders"))).toBeNull());
    expect(server.stored()).toEqual(["padded_text:a/b"]);
    await waitFor(() => expect(shown()).toEqual(["exact_duplicates"]));
  });

  it("labels ids the answer does not explain by their rule and columns", () => {
    expect(dismissedLabel("exact_duplicates")).toBe("exact duplicates");
    expect(dismissedLabel("padded_text:customer,city")).toBe("padded text: customer,city");
    expect(dismissedLabel("spelling_variants:city:0123456789")).toBe("spelling variants: city");
  });

  it("asks nothing for read-only users", async () => {
    serveApi([DUP]);
    panel(true);
    expect(screen.getByTestId("suggest-panel").textContent).toContain("need edit access");
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(calls).toEqual([]);
  });
});
