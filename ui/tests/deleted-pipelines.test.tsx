// Deleted pipelines under the pipeline list: listed from the trash, brought back with no etag.
import { ChakraProvider, defaultSystem } from "@chakra-ui/react";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { DeletedPipeline } from "../src/api/types";
import { DeletedPipelines } from "../src/pages/DeletedPipelines";
import { type ApiAnswer, stubApi } from "./api-stub";
import { spec } from "./fixtures";

const TRASH: DeletedPipeline[] = [
  { id: "orders", name: "Orders", last_version: 7, deleted_at: "2024-05-03T10:00:00Z", author: "ann" },
  { id: "legacy", name: null, last_version: 2, deleted_at: null, author: null },
];

function serve(restore: ApiAnswer = { status: 200, body: { pipeline: spec(), etag: "e8", version: 8, saved_at: "2024-05-04T10:00:00Z", errors: [] } }) {
  return stubApi(({ method, path }) => {
    if (path === "/trash") return { status: 200, body: { pipelines: TRASH } };
    if (path === "/pipelines/orders/restore" && method === "POST") return restore;
    return { status: 404, body: { detail: `unexpected ${method} ${path}`, errors: [] } };
  });
}

function open(canEdit: boolean) {
  const onRestored = vi.fn();
  render(
    <ChakraProvider value={defaultSystem}>
      <DeletedPipelines canEdit={canEdit} onRestored={onRestored} />
    </ChakraProvider>,
  );
  return { onRestored };
}

async function expand() {
  const toggle = screen.getByTestId("deleted-pipelines-toggle");
  await waitFor(() => expect(toggle.textContent).toContain("Deleted pipelines (2)"));
  fireEvent.click(toggle);
}

afterEach(() => vi.unstubAllGlobals());

describe("deleted pipelines", () => {
  it("lists the trash, collapsed until opened: name, last version, deletion date and who saved it", async () => {
    serve();
    open(true);
    expect(screen.getByTestId("deleted-pipelines")).toBeTruthy();
    await expand();
    const row = screen.getByTestId("deleted-orders");
    expect(row.textContent).toContain("Orders");
    expect(row.textContent).toContain("v7");
    expect(row.textContent).toMatch(/2024-05-03 \d\d:00:00/);
    expect(row.textContent).toContain("ann");
    expect(screen.getByTestId("deleted-legacy").textContent).toContain("legacy");
  });

  it("restores the last version with expected_etag null, then drops the row and tells the page", async () => {
    const calls = serve();
    const { onRestored } = open(true);
    await expand();
    fireEvent.click(within(screen.getByTestId("deleted-orders")).getByTestId("restore-deleted-orders"));
    await waitFor(() => expect(onRestored).toHaveBeenCalledWith("orders"));
    expect(calls.find((c) => c.path === "/pipelines/orders/restore")?.body).toEqual({ version: 7, expected_etag: null });
    expect(screen.queryByTestId("deleted-orders")).toBeNull();
    expect(screen.getByTestId("deleted-pipelines-toggle").textContent).toContain("Deleted pipelines (1)");
  });

  it("shows why a restore failed", async () => {
    serve({ status: 409, body: { detail: "pipeline 'orders' exists again", errors: [], current: null, yours: null } });
    const { onRestored } = open(true);
    await expand();
    fireEvent.click(screen.getByTestId("restore-deleted-orders"));
    expect((await screen.findByTestId("error-box")).textContent).toContain("exists again");
    expect(onRestored).not.toHaveBeenCalled();
    expect(screen.getByTestId("deleted-orders")).toBeTruthy();
  });

  it("offers no restore without edit rights", async () => {
    serve();
    open(false);
    await expand();
    expect(screen.getByTestId("deleted-orders")).toBeTruthy();
    expect(screen.queryByTestId("restore-deleted-orders")).toBeNull();
  });
});
