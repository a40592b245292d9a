// Layered left-to-right DAG layout: longest-path layers, then a few barycentre sweeps to cut crossings.
// Good enough for ETL graphs (mostly chains with a few joins) and free of a layout dependency.
import type { Graph, XY } from "./model";

export const LAYER_GAP = 280;
export const ROW_GAP = 130;

export function layeredLayout(graph: Graph, origin: XY = { x: 0, y: 0 }): Record<string, XY> {
  const ids = graph.nodes.map((n) => n.id);
  const known = new Set(ids);
  const preds = new Map<string, string[]>(ids.map((id) => [id, []]));
  const succs = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of graph.edges) {
    if (!known.has(e.source) || !known.has(e.target)) continue;
    preds.get(e.target)?.push(e.source);
    succs.get(e.source)?.push(e.target);
  }

  // Longest path from any source (Kahn order); nodes caught in a cycle (invalid graphs) go last.
  const layer = new Map<string, number>();
  const indegree = new Map(ids.map((id) => [id, preds.get(id)?.length ?? 0]));
  const queue = ids.filter((id) => indegree.get(id) === 0);
  while (queue.length) {
    const id = queue.shift() as string;
    const l = Math.max(0, ...(preds.get(id) ?? []).map((p) => (layer.get(p) ?? -1) + 1));
    layer.set(id, l);
    for (const s of succs.get(id) ?? []) {
      indegree.set(s, (indegree.get(s) ?? 1) - 1);
      if (indegree.get(s) === 0) queue.push(s);
    }
  }
  const maxLayer = Math.max(-1, ...layer.values());
  for (const id of ids) if (!layer.has(id)) layer.set(id, maxLayer + 1);

  const layers: string[][] = [];
  for (const id of ids) {
    const l = layer.get(id) as number;
    (layers[l] ??= []).push(id);
  }
  const order = new Map<string, number>();
  layers.forEach((row) => row?.forEach((id, i) => order.set(id, i)));
  const barycentre = (id: string, neighbours: Map<string, string[]>): number => {
    const ns = neighbours.get(id) ?? [];
    return ns.length ? ns.reduce((sum, n) => sum + (order.get(n) ?? 0), 0) / ns.length : (order.get(id) ?? 0);
  };
  for (let sweep = 0; sweep < 4; sweep += 1) {
    const down = sweep % 2 === 0;
    const sequence = down ? layers.slice(1) : layers.slice(0, -1).reverse();
    for (const row of sequence) {
      if (!row) continue;
      const keyed = row.map((id) => [id, barycentre(id, down ? preds : succs)] as const);
      keyed.sort((a, b) => a[1] - b[1]);
      keyed.forEach(([id], i) => order.set(id, i));
      row.splice(0, row.length, ...keyed.map(([id]) => id));
    }
  }

  const tallest = Math.max(1, ...layers.map((row) => row?.length ?? 0));
  const positions: Record<string, XY> = {};
  layers.forEach((row, l) => {
    if (!row) return;
    const offset = ((tallest - row.length) * ROW_GAP) / 2;
    row.forEach((id, i) => {
      positions[id] = { x: origin.x + l * LAYER_GAP, y: origin.y + offset + i * ROW_GAP };
    });
  });
  return positions;
}

/** Nodes saved without a position (hand-written JSON) get laid out; placed nodes stay where they are. */
export function needsLayout(graph: Graph): boolean {
  return graph.nodes.length > 1 && graph.nodes.every((n) => !n.position || (n.position.x === 0 && n.position.y === 0));
}
