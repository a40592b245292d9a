import { describe, expect, it } from "vitest";
import { apiBase } from "../src/api/client";
import { summarize } from "../src/canvas/ConflictDialog";
import { groupModules } from "../src/canvas/Palette";
import { upstreamColumns } from "../src/graph/columns";
import { specToGraph } from "../src/graph/convert";
import { filterPipelines } from "../src/pages/PipelinesPage";
import { hrefFor, parseHash } from "../src/router";
import { airflowRoot, applyColorMode, COLOR_MODE_KEY, LEGACY_COLOR_MODE_KEY, preferredColorMode, subscribeColorMode } from "../src/theme";
import { MODULES, spec } from "./fixtures";

describe("routing and API base", () => {
  it("parses hash routes", () => {
    expect(parseHash("")).toEqual({ page: "list" });
    expect(parseHash("#/")).toEqual({ page: "list" });
    expect(parseHash("#/pipelines/orders_daily")).toEqual({ page: "pipeline", id: "orders_daily", node: null });
    expect(hrefFor({ page: "pipeline", id: "a b" })).toBe("#/pipelines/a%20b");
  });
  it("finds the API beside the UI under any prefix", () => {
    expect(apiBase("/logidata/ui/")).toBe("/logidata/api");
    expect(apiBase("/logidata/ui/index.html")).toBe("/logidata/api");
    expect(apiBase("/prefix/logidata/ui")).toBe("/prefix/logidata/api");
    expect(apiBase("/")).toBe("/logidata/api");
  });
});

describe("colour mode", () => {
  const storage = (values: Record<string, string>) => ({ getItem: (key: string) => values[key] ?? null });
  const media = (dark: boolean) => () => ({ matches: dark });
  const page = (cls: string) => {
    const el = document.createElement("html");
    if (cls) el.classList.add(cls);
    return el;
  };
  it("shows what Airflow's page shows when it runs inside it", () => {
    expect(preferredColorMode(storage({ theme: "light" }), media(false), page("dark"))).toBe("dark");
    expect(preferredColorMode(storage({ theme: "dark" }), media(true), page("light"))).toBe("light");
  });
  it("else Airflow 3's stored choice (key 'theme'), then the older Chakra key, then the OS", () => {
    expect(COLOR_MODE_KEY).toBe("theme");
    expect(preferredColorMode(storage({ theme: "dark" }), media(false), null)).toBe("dark");
    expect(preferredColorMode(storage({ theme: "light" }), media(true), page(""))).toBe("light");
    expect(preferredColorMode(storage({ theme: "system" }), media(true), null)).toBe("dark");
    expect(preferredColorMode(storage({ theme: "system", [LEGACY_COLOR_MODE_KEY]: "light" }), media(true), null)).toBe("dark");
    expect(preferredColorMode(storage({ [LEGACY_COLOR_MODE_KEY]: "dark" }), media(false), null)).toBe("dark");
    expect(preferredColorMode(storage({}), media(true), null)).toBe("dark");
    expect(preferredColorMode(storage({}), media(false), null)).toBe("light");
  });
  it("hears Airflow's page switch its class", async () => {
    const root = page("light");
    let calls = 0;
    const stop = subscribeColorMode(() => calls++, root);
    root.classList.replace("light", "dark");
    await Promise.resolve();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(calls).toBeGreaterThan(0);
    expect(preferredColorMode(storage({}), media(false), root)).toBe("dark");
    stop();
  });
  it("finds no page of Airflow's when the builder is the top window", () => {
    expect(airflowRoot(window)).toBeNull();
  });
  it("sets Chakra's class on the root", () => {
    const el = document.createElement("div");
    applyColorMode("dark", el);
    expect(el.classList.contains("dark")).toBe(true);
    applyColorMode("light", el);
    expect(el.classList.contains("dark")).toBe(false);
  });
});

describe("palette, list filter, conflict summary, upstream columns", () => {
  it("groups modules by category in source → transform → destination order and searches", () => {
    expect(groupModules(MODULES, "").map(([c]) => c)).toEqual(["source", "transform", "destination"]);
    const found = groupModules(MODULES, "dedup");
    expect(found).toHaveLength(1);
    expect(found[0][1].map((m) => m.name)).toEqual(["deduplicate"]);
    expect(groupModules(MODULES, "zzz")).toEqual([]);
  });

  it("filters pipelines by id, name, tag and status", () => {
    const p = (id: string, tags: string[], status = "active") => ({
      id, name: id.toUpperCase(), description: null, status, tags, etag: "e", version: 1, saved_at: null, node_count: 1, valid: true, error: null, last_run: null,
    });
    const all = [p("orders", ["sales"]), p("stock", [], "draft")];
    expect(filterPipelines(all, "SALES").map((x) => x.id)).toEqual(["orders"]);
    expect(filterPipelines(all, "draft").map((x) => x.id)).toEqual(["stock"]);
    expect(filterPipelines(all, " ")).toHaveLength(2);
  });

  it("summarises both sides of a conflict", () => {
    const mine = spec();
    const theirs = spec();
    theirs.nodes! = theirs.nodes!.filter((n) => n.id !== "tidy");
    theirs.nodes![1] = { ...theirs.nodes![1], config: { columns: ["customer"] } };
    const lines = summarize(mine, theirs);
    expect(lines).toContain("Only in yours: tidy");
    expect(lines).toContain("Configured differently: dedupe");
    theirs.nodes![0] = { ...theirs.nodes![0], label: "theirs" };
    expect(summarize(mine, theirs)).toContain("Labelled differently: read");
  });

  it("knows upstream columns where a config states them", () => {
    const graph = specToGraph(spec());
    expect(upstreamColumns(graph, "dedupe")).toEqual(["order_id", "customer", "amount"]);
    expect(upstreamColumns(graph, "write")).toEqual(["order_id", "customer", "amount"]);
    expect(upstreamColumns(graph, "read")).toBeNull();
    graph.nodes[0].config = { path: "x" };
    expect(upstreamColumns(graph, "tidy")).toBeNull();
  });
});
