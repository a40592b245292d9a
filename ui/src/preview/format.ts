// How preview cells read in the grid. The API already made values JSON-safe; here they become text that
// shows what matters when cleaning data: nulls distinct from empty strings, padding made visible, cut text
// and binary placeholders marked.
import { t as translateNow, type Translate } from "../i18n";
import type { Cell } from "./types";

export type CellKind = "null" | "empty" | "number" | "boolean" | "text" | "json" | "binary" | "truncated";

export interface FormattedCell {
  text: string;
  kind: CellKind;
  /** Leading/trailing whitespace (shown as `·`): the commonest invisible defect in text columns. */
  padded: boolean;
  /** Full value for the tooltip. */
  title: string;
  align: "left" | "right";
}

const BINARY = /^<binary \d+ bytes>$/;
const MAX_JSON = 200;

/** Leading and trailing spaces/tabs shown as middle dots; inner whitespace left alone. */
export function showPadding(text: string): string {
  const lead = /^\s*/.exec(text)?.[0] ?? "";
  const rest = text.slice(lead.length);
  const trail = /\s*$/.exec(rest)?.[0] ?? "";
  const core = rest.slice(0, rest.length - trail.length);
  return "·".repeat(lead.length) + core + "·".repeat(trail.length);
}

export function formatCell(value: Cell | undefined, t: Translate = translateNow): FormattedCell {
  if (value === null || value === undefined) return { text: "null", kind: "null", padded: false, title: "null", align: "left" };
  if (typeof value === "number") return { text: formatNumber(value), kind: "number", padded: false, title: String(value), align: "right" };
  if (typeof value === "boolean") return { text: String(value), kind: "boolean", padded: false, title: String(value), align: "left" };
  if (typeof value === "string") {
    if (value === "") return { text: t("(empty)"), kind: "empty", padded: false, title: t("empty string"), align: "left" };
    if (BINARY.test(value)) return { text: value, kind: "binary", padded: false, title: value, align: "left" };
    const padded = value.trim() !== value;
    const kind: CellKind = value.endsWith("…") && value.length > 200 ? "truncated" : "text";
    return {
      text: padded ? showPadding(value) : value,
      kind,
      padded,
      title: kind === "truncated" ? `${value}\n${t("(cut at 200 characters)")}` : JSON.stringify(value),
      align: "left",
    };
  }
  const json = JSON.stringify(value);
  return { text: json.length > MAX_JSON ? `${json.slice(0, MAX_JSON)}…` : json, kind: "json", padded: false, title: json, align: "left" };
}

/** Integers as they are; fractions with up to 6 significant decimals; huge/tiny numbers in exponent form. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return Math.abs(n) >= 1e15 ? n.toExponential(3) : String(n);
  const abs = Math.abs(n);
  if (abs >= 1e9 || abs < 1e-4) return n.toExponential(3);
  return String(Number(n.toPrecision(6)));
}

/** Short number for axis labels and counts: 1234 → "1.2k", 5_000_000 → "5M". */
export function compactNumber(n: number): string {
  const abs = Math.abs(n);
  const fmt = (v: number, unit: string) => `${Number(v.toFixed(v >= 100 ? 0 : 1))}${unit}`;
  if (abs >= 1e9) return fmt(n / 1e9, "G");
  if (abs >= 1e6) return fmt(n / 1e6, "M");
  if (abs >= 1e3) return fmt(n / 1e3, "k");
  return formatNumber(n);
}

export function formatShare(share: number): string {
  if (share <= 0) return "0%";
  if (share >= 1) return "100%";
  const pct = share * 100;
  return pct < 1 ? "<1%" : pct > 99 ? ">99%" : `${Math.round(pct)}%`;
}

export function formatElapsed(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** DuckDB/Arrow type names are long (`TIMESTAMP WITH TIME ZONE`, `DECIMAL(18,2)`): a compact label. */
export function shortType(type: string): string {
  const t = type.toUpperCase();
  const table: [RegExp, string][] = [
    [/^(VARCHAR|STRING|TEXT|LARGE_STRING|UTF8)/, "text"],
    [/^(BIGINT|INTEGER|INT|SMALLINT|TINYINT|HUGEINT|UBIGINT|UINTEGER|INT64|INT32|INT16|INT8)/, "int"],
    [/^(DOUBLE|FLOAT|REAL|FLOAT64|FLOAT32)/, "float"],
    [/^DECIMAL/, "decimal"],
    [/^TIMESTAMP/, "timestamp"],
    [/^DATE/, "date"],
    [/^TIME/, "time"],
    [/^(BOOLEAN|BOOL)/, "bool"],
    [/^(BLOB|BINARY|BYTEA)/, "binary"],
  ];
  return table.find(([re]) => re.test(t))?.[1] ?? type.toLowerCase();
}

/** Width in pixels a column gets: header and a sample of its cells, clamped so no column hogs the grid. */
export function columnWidth(name: string, cells: Iterable<string>, charPx = 7.2, min = 72, max = 320): number {
  let longest = name.length + 2;
  let seen = 0;
  for (const text of cells) {
    if (text.length > longest) longest = text.length;
    if (++seen >= 200) break;
  }
  return Math.round(Math.min(max, Math.max(min, longest * charPx + 16)));
}
