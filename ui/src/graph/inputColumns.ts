// What a column picker offers: the columns arriving at a node, per input port, with their types. From the
// server's design-time schemas (`/validate`'s `schemas`) when known, else from the config rules of
// graph/columns.ts (names only), else nothing (the picker is a plain text field).
import type { NodeSchemas, SpecEdge } from "../api/types";
import { outputColumns } from "./columns";
import { DEFAULT_SOURCE_PORT, type Graph } from "./model";

export interface ColumnChoice {
  name: string;
  /** DuckDB's type name; null when only the name is known. */
  type: string | null;
}

/**
 * The columns a node's config may name. `ports`: per input port (`""` is the unnamed default input, which
 * may take several edges, e.g. union) the columns arriving there, null when unknown. A node without
 * inputs (a source) offers its own output instead (`own`).
 */
export interface InputColumns {
  ports: Record<string, ColumnChoice[] | null>;
  own: ColumnChoice[] | null;
}

const DEFAULT_INPUT = "";

function choicesFromSchema(schemas: NodeSchemas, nodeId: string, port: string): ColumnChoice[] | null {
  const schema = schemas[nodeId];
  if (!schema || schema.status !== "known") return null;
  const columns = schema.ports[port];
  return columns ? columns.map((c) => ({ name: c.name, type: c.type })) : null;
}

/** Names once, the first type seen wins; null when any list is unknown. */
function unionOf(lists: (ColumnChoice[] | null)[]): ColumnChoice[] | null {
  if (lists.some((l) => l === null)) return null;
  const seen = new Map<string, ColumnChoice>();
  for (const choice of lists.flat() as ColumnChoice[]) if (!seen.has(choice.name)) seen.set(choice.name, choice);
  return [...seen.values()];
}

/** The columns arriving at `nodeId`, per input port; see `offeredColumns` for what one field offers. */
export function inputColumns(graph: Graph, schemas: NodeSchemas, nodeId: string): InputColumns {
  const known = new Set(graph.nodes.map((n) => n.id));
  const incoming = graph.edges.filter((e) => e.target === nodeId && known.has(e.source));
  let rules: ((id: string) => string[] | null) | null = null;
  const edgeColumns = (edge: SpecEdge): ColumnChoice[] | null => {
    const fromSchema = choicesFromSchema(schemas, edge.source, edge.source_port ?? DEFAULT_SOURCE_PORT);
    if (fromSchema) return fromSchema;
    rules ??= (id) => outputColumns(graph, id);
    const names = rules(edge.source);
    return names ? names.map((name) => ({ name, type: null })) : null;
  };
  const grouped = new Map<string, (ColumnChoice[] | null)[]>();
  for (const edge of incoming) {
    const port = edge.target_port ?? DEFAULT_INPUT;
    grouped.set(port, [...(grouped.get(port) ?? []), edgeColumns(edge)]);
  }
  const ports: Record<string, ColumnChoice[] | null> = {};
  for (const [port, lists] of grouped) ports[port] = unionOf(lists);
  const own = incoming.length ? null : choicesFromSchema(schemas, nodeId, DEFAULT_SOURCE_PORT);
  return { ports, own };
}

/**
 * The columns one field offers. `port`: the field's `x-logidata-port` (a join's `left_on` names the left
 * input's columns only); without one, the columns present on every input port (a join's `on`), as the
 * server checks them. A plain list of names (older callers) is offered as is, without types.
 */
export function offeredColumns(columns: InputColumns | readonly string[] | null | undefined, port: string | null): ColumnChoice[] | null {
  if (!columns) return null;
  if (isNameList(columns)) return columns.map((name) => ({ name, type: null }));
  const ports = Object.keys(columns.ports);
  if (!ports.length) return columns.own;
  if (port !== null) return port in columns.ports ? columns.ports[port] : null;
  const known = ports.map((p) => columns.ports[p]).filter((l): l is ColumnChoice[] => l !== null);
  if (!known.length) return null;
  const [first, ...rest] = known;
  return first.filter((c) => rest.every((other) => other.some((o) => o.name === c.name)));
}

function isNameList(columns: InputColumns | readonly string[]): columns is readonly string[] {
  return Array.isArray(columns);
}
