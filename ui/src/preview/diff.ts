// The before/after view of a transform, from `row_status` per input row. Row-preserving steps map input
// row i to output row i ("kept"/"changed"); filtering steps (deduplicate, filter) only say which input
// rows survive ("kept", unchanged by definition, possibly reordered) and which were "removed". So only
// "changed" rows take their values from the output, and only row-preserving steps have them.
import type { Cell, Preview } from "./types";

export interface DiffColumn {
  name: string;
  /** "added": only in the output; "dropped": only in the input. */
  change: "same" | "added" | "dropped";
}

export interface DiffCell {
  before: Cell | undefined;
  after: Cell | undefined;
  changed: boolean;
}

/** What a diff cell shows when not highlighted: the input value where the input has the column. */
export function shownValue(row: DiffRow, index: number): Cell | undefined {
  const cell = row.cells[index];
  if (row.status === "changed") return cell.after !== undefined ? cell.after : cell.before;
  return cell.before !== undefined ? cell.before : cell.after;
}

export interface DiffRow {
  status: "kept" | "removed" | "changed";
  cells: DiffCell[];
}

export interface Diff {
  columns: DiffColumn[];
  rows: DiffRow[];
  removed: number;
  changed: number;
  changedCells: number;
}

function same(a: Cell | undefined, b: Cell | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  return typeof a === "object" || typeof b === "object" ? JSON.stringify(a) === JSON.stringify(b) : String(a) === String(b);
}

/** Null when the preview has no matched input (sources, multi-input nodes, unmatched rows). */
export function beforeAfter(preview: Pick<Preview, "columns" | "rows" | "input" | "row_status">): Diff | null {
  const input = preview.input;
  const status = preview.row_status;
  if (!input || !status || status.length !== input.rows.length) return null;
  const inNames = input.columns.map((c) => c.name);
  const outNames = preview.columns.map((c) => c.name);
  const columns: DiffColumn[] = [
    ...inNames.map((name) => ({ name, change: outNames.includes(name) ? ("same" as const) : ("dropped" as const) })),
    ...outNames.filter((n) => !inNames.includes(n)).map((name) => ({ name, change: "added" as const })),
  ];
  const inIndex = new Map(inNames.map((n, i) => [n, i]));
  const outIndex = new Map(outNames.map((n, i) => [n, i]));
  // Output rows line up with input rows only when nothing was removed (row-preserving steps).
  const aligned = !status.includes("removed") && preview.rows.length >= input.rows.length;
  let removed = 0;
  let changed = 0;
  let changedCells = 0;
  const rows: DiffRow[] = input.rows.map((row, r) => {
    const s = status[r];
    const out = aligned ? preview.rows[r] : undefined;
    if (s === "removed") removed += 1;
    const cells = columns.map((c): DiffCell => {
      const before = inIndex.has(c.name) ? row[inIndex.get(c.name) as number] : undefined;
      const after = out && outIndex.has(c.name) ? out[outIndex.get(c.name) as number] : undefined;
      const isChanged = s === "changed" && c.change === "same" && !same(before, after);
      if (isChanged) changedCells += 1;
      return { before, after, changed: isChanged };
    });
    if (s === "changed") changed += 1;
    return { status: s, cells };
  });
  return { columns, rows, removed, changed, changedCells };
}
