import { describe, expect, it } from "vitest";
import { apiBase } from "../src/api/client";
import { summarize } from "../src/canvas/ConflictDialog";
import { groupModules } from "../src/canvas/Palette";
import { upstreamColumns } from "../src/graph/columns";
import { specToGraph } from "../src/graph/convert";
import { filterPipelines } from "../src/pages/PipelinesPage";
import { hrefFor, parseHash } from "../src/router";
import { applyColorMode, COLOR_MODE_KEY, preferredColorMode } from "../src/theme";
import { MODULES, spec } from "./fixtures";

describe("routing and API base", () => {
  it("parses hash routes", () => {
    expect(parseHash("")).toEqual({ page: "list" });
    expect(parseHash("#/")).toEqual({ page: "list" });
    expect(parseHash("#/pipelines/orders_daily")).toEqual({ page: "pipeline", id: "orders_daily" });
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
  const storage = (v: string | null) => ({ getItem: () => v });
  const media = (dark: boolean) => () => ({ matches: dark });
  it("prefers Airflow's stored choice, then the OS", () => {
    expect(preferredColorMode(storage("dark"), media(false))).toBe("dark");
    expect(preferredColorMode(storage("light"), media(true))).toBe("light");
    expect(preferredColorMode(storage(null), media(true))).toBe("dark");
    expect(preferredColorMode(storage("system"), media(false))).toBe("light");
    expect(COLOR_MODE_KEY).toBe("chakra-ui-color-mode");
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
