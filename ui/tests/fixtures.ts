import type { Module, Spec } from "../src/api/types";
import columnData from "./fixtures/column-modules.json";
import data from "./fixtures/modules.json";

/** A slice of the real module catalog (exported from the Python registry) as GET /modules returns it. */
export const MODULES = data.modules as unknown as Module[];
export const moduleMap = new Map(MODULES.map((m) => [m.name, m]));
export const mod = (name: string): Module => {
  const m = moduleMap.get(name);
  if (!m) throw new Error(`fixture has no module ${name}`);
  return m;
};

/**
 * Modules as the catalog describes them since design-time column checks (`x-logidata-widget: column` /
 * `new-column`, a join's `x-logidata-port`, quality checks as a tagged union), exported from the registry.
 */
export const COLUMN_MODULES = new Map((columnData.modules as unknown as Module[]).map((m) => [m.name, m]));
export const colMod = (name: string): Module => {
  const m = COLUMN_MODULES.get(name);
  if (!m) throw new Error(`column fixture has no module ${name}`);
  return m;
};

export function spec(partial: Partial<Spec> = {}): Spec {
  return {
    spec_version: 1,
    id: "orders",
    name: "Orders",
    description: "",
    owner: "me",
    tags: [],
    schedule: null,
    start_date: "2024-01-01",
    catchup: false,
    retries: 1,
    retry_delay: 60,
    params: {},
    status: "draft",
    fuse: "none",
    fuse_chains: false,
    engine: "auto",
    nodes: [
      { id: "read", module: "source.file", label: "Orders CSV", config: { path: "/data/orders.csv", format: "csv", columns: ["order_id", "customer", "amount"] }, position: { x: 10, y: 20 } },
      { id: "dedupe", module: "deduplicate", label: null, config: { columns: ["order_id"] }, position: { x: 300, y: 25 } },
      { id: "tidy", module: "clean_text", label: null, config: {}, position: { x: 590, y: 30 } },
      { id: "write", module: "destination.file", label: null, config: { path: "/out/orders.parquet" }, position: { x: 880, y: 35 } },
    ],
    edges: [
      { source: "read", target: "dedupe", source_port: "out", target_port: null },
      { source: "dedupe", target: "tidy", source_port: "out", target_port: null },
      { source: "tidy", target: "write", source_port: "out", target_port: null },
    ],
    ...partial,
  };
}
