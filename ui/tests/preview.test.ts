import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api/client";
import { beforeAfter, shownValue } from "../src/preview/diff";
import { columnWidth, compactNumber, formatCell, formatElapsed, formatNumber, formatShare, shortType, showPadding } from "../src/preview/format";
import { headerChart, histogramBars, nullBarWidth, topValueShares } from "../src/preview/histogram";
import { describeFailure } from "../src/preview/PreviewPanel";
import type { ColumnProfile } from "../src/preview/types";
import { visibleRange } from "../src/preview/VirtualGrid";
import { effectLine, refusalText } from "../src/suggest/SuggestPanel";
import { spec } from "./fixtures";

describe("cell formatting", () => {
  it("keeps null, empty and text apart and makes padding visible", () => {
    expect(formatCell(null)).toMatchObject({ text: "null", kind: "null" });
    expect(formatCell(undefined).kind).toBe("null");
    expect(formatCell("")).toMatchObject({ text: "(empty)", kind: "empty" });
    expect(formatCell("Alice")).toMatchObject({ text: "Alice", kind: "text", padded: false });
    expect(formatCell("  Alice ")).toMatchObject({ text: "··Alice·", padded: true, title: '"  Alice "' });
    expect(showPadding("\tA b ")).toBe("·A b·");
    expect(showPadding("   ")).toBe("···");
  });
  it("marks binary placeholders, cut text and nested values", () => {
    expect(formatCell("<binary 123 bytes>").kind).toBe("binary");
    const long = `${"x".repeat(200)}…`;
    expect(formatCell(long).kind).toBe("truncated");
    expect(formatCell(long).title).toMatch(/cut at 200 characters/);
    expect(formatCell({ a: [1, 2] })).toMatchObject({ text: '{"a":[1,2]}', kind: "json" });
    expect(formatCell(true)).toMatchObject({ text: "true", kind: "boolean" });
  });
  it("formats numbers compactly and right-aligned", () => {
    expect(formatCell(42)).toMatchObject({ text: "42", kind: "number", align: "right" });
    expect(formatNumber(3.14159265)).toBe("3.14159");
    expect(formatNumber(0.1 + 0.2)).toBe("0.3");
    expect(formatNumber(1e20)).toBe("1.000e+20");
    expect(formatNumber(0.00001234)).toBe("1.234e-5");
    expect(compactNumber(999)).toBe("999");
    expect(compactNumber(1234)).toBe("1.2k");
    expect(compactNumber(5_000_000)).toBe("5M");
    expect(formatShare(0)).toBe("0%");
    expect(formatShare(0.001)).toBe("<1%");
    expect(formatShare(0.25)).toBe("25%");
    expect(formatShare(0.999)).toBe(">99%");
    expect(formatElapsed(42.4)).toBe("42 ms");
    expect(formatElapsed(1520)).toBe("1.52 s");
  });
  it("shortens engine type names and sizes columns by content within bounds", () => {
    expect(shortType("VARCHAR")).toBe("text");
    expect(shortType("BIGINT")).toBe("int");
    expect(shortType("DECIMAL(18,2)")).toBe("decimal");
    expect(shortType("TIMESTAMP WITH TIME ZONE")).toBe("timestamp");
    expect(shortType("STRUCT(a INT)")).toBe("struct(a int)");
    expect(columnWidth("id", ["1", "2"])).toBe(72);
    expect(columnWidth("id", ["x".repeat(500)])).toBe(320);
    expect(columnWidth("customer", ["Alice Smith"])).toBeGreaterThan(columnWidth("customer", ["Al"]));
  });
});

describe("header charts", () => {
  const profile = (p: Partial<ColumnProfile>): ColumnProfile => ({ name: "c", type: "BIGINT", null_share: 0, distinct_estimate: 3, min: 0, max: 10, top_values: [], histogram: null, mean: null, inferred: null, ...p });

  it("scales histogram bars to the highest bin and keeps small bins visible", () => {
    const bars = histogramBars({ edges: [0, 1, 2, 3, 4], counts: [10, 0, 1, 5] }, 80, 20);
    expect(bars).toHaveLength(4);
    expect(bars.map((b) => b.x)).toEqual([0, 20, 40, 60]);
    expect(bars[0]).toMatchObject({ height: 20, y: 0, width: 19 });
    expect(bars[1].height).toBe(0);
    expect(bars[2].height).toBe(2);
    expect(bars[2].y).toBe(18);
    expect(bars[3].height).toBe(10);
    expect(bars[0].label).toBe("0 – 1: 10");
    // 1 of 1,000: still a pixel.
    expect(histogramBars({ edges: [0, 1, 2], counts: [1000, 1] }, 20, 20)[1].height).toBe(1);
    // Malformed (edges must be counts + 1) and empty histograms draw nothing.
    expect(histogramBars({ edges: [0, 1], counts: [1, 2] }, 20, 20)).toEqual([]);
    expect(histogramBars({ edges: [0], counts: [] }, 20, 20)).toEqual([]);
  });

  it("turns top values into shares with an 'other' remainder", () => {
    const shares = topValueShares(profile({ top_values: [{ value: "DE", count: 60 }, { value: null, count: 20 }] }), 100);
    expect(shares).toEqual([
      { label: "DE", count: 60, share: 0.6 },
      { label: "null", count: 20, share: 0.2 },
      { label: "other", count: 20, share: 0.2 },
    ]);
    expect(topValueShares(profile({ top_values: [{ value: "a", count: 5 }] }), 5)).toHaveLength(1);
  });

  it("chooses the chart per column and sizes the null bar", () => {
    expect(headerChart(profile({ histogram: { edges: [0, 1], counts: [3] } }))).toBe("histogram");
    expect(headerChart(profile({ type: "VARCHAR", top_values: [{ value: "a", count: 1 }] }))).toBe("top");
    expect(headerChart(profile({}))).toBe("none");
    expect(headerChart(undefined)).toBe("none");
    expect(nullBarWidth(0, 100)).toBe(0);
    expect(nullBarWidth(0.0001, 100)).toBe(2);
    expect(nullBarWidth(0.5, 100)).toBe(50);
    expect(nullBarWidth(1.2, 100)).toBe(100);
  });
});

describe("before/after", () => {
  const input = {
    columns: [
      { name: "id", type: "BIGINT" },
      { name: "name", type: "VARCHAR" },
    ],
    rows: [
      [1, " Ann "],
      [1, " Ann "],
      [2, "Bob"],
    ],
  };
  it("maps row i to row i for row-preserving steps and marks changed cells", () => {
    const diff = beforeAfter({
      columns: [
        { name: "id", type: "BIGINT" },
        { name: "name", type: "VARCHAR" },
        { name: "n", type: "BIGINT" },
      ],
      rows: [
        [1, "Ann", 1],
        [1, "Ann", 1],
        [2, "Bob", 1],
      ],
      input,
      row_status: ["changed", "changed", "kept"],
    });
    expect(diff?.columns).toEqual([
      { name: "id", change: "same" },
      { name: "name", change: "same" },
      { name: "n", change: "added" },
    ]);
    expect(diff?.rows[0].cells.map((c) => c.changed)).toEqual([false, true, false]);
    expect(diff?.rows[0].cells[1]).toEqual({ before: " Ann ", after: "Ann", changed: true });
    expect(diff?.rows[2].cells[2]).toEqual({ before: undefined, after: 1, changed: false });
    expect(diff && shownValue(diff.rows[2], 2)).toBe(1);
    expect(diff && shownValue(diff.rows[0], 1)).toBe("Ann");
    expect(diff).toMatchObject({ removed: 0, changed: 2, changedCells: 2 });
  });
  it("shows input values for filtering steps, which may reorder the rows they keep", () => {
    const diff = beforeAfter({
      columns: input.columns,
      rows: [
        [2, "Bob"],
        [1, " Ann "],
      ],
      input,
      row_status: ["kept", "removed", "kept"],
    });
    expect(diff?.rows.map((r) => r.status)).toEqual(["kept", "removed", "kept"]);
    expect(diff && [0, 1, 2].map((r) => shownValue(diff.rows[r], 0))).toEqual([1, 1, 2]);
    expect(diff?.rows.flatMap((r) => r.cells).some((c) => c.changed)).toBe(false);
    expect(diff).toMatchObject({ removed: 1, changed: 0, changedCells: 0 });
  });
  it("is absent without a matched input", () => {
    expect(beforeAfter({ columns: [], rows: [], input: null, row_status: null })).toBeNull();
    expect(beforeAfter({ columns: input.columns, rows: [], input, row_status: ["kept"] })).toBeNull();
  });
});

describe("grid windowing", () => {
  it("renders only the rows in view plus a margin", () => {
    expect(visibleRange(0, 240, 24, 1000)).toEqual([0, 18]);
    expect(visibleRange(24 * 500, 240, 24, 1000)).toEqual([492, 518]);
    expect(visibleRange(24 * 995, 240, 24, 1000)).toEqual([987, 1000]);
    expect(visibleRange(0, 240, 24, 0)).toEqual([0, 0]);
  });
});

describe("preview and suggestion errors", () => {
  const nodes = spec().nodes;
  it("places 422 issues on nodes and fields", () => {
    const e = new ApiError(422, {
      detail: "node 'dedupe' is not configured",
      errors: [
        { path: "nodes[1].config.columns", message: "unknown column 'x'", code: "x", node_id: null },
        { path: "schedule", message: "bad cron", code: "y", node_id: null },
      ],
    });
    const f = describeFailure(e, nodes);
    expect(f.title).toMatch(/not configured correctly/);
    expect(f.issues).toEqual([
      { nodeId: "dedupe", field: "config.columns", message: "unknown column 'x'" },
      { nodeId: null, field: "schedule", message: "bad cron" },
    ]);
  });
  it("explains timeouts, overload and other failures", () => {
    const timeout = describeFailure(new ApiError(504, { detail: "preview of node 'read' timed out after 10 s" }), nodes);
    expect(timeout.title).toBe("The preview timed out");
    expect(timeout.message).toMatch(/timed out after 10 s/);
    expect(describeFailure(new ApiError(429, { detail: "busy" }), nodes)).toMatchObject({ retry: true, title: expect.stringMatching(/Too many previews/) });
    expect(describeFailure(new Error("boom"), nodes)).toMatchObject({ title: "Preview failed", message: "boom" });
  });
  it("words a refused apply and a suggestion's effect", () => {
    const refused = new ApiError(422, { detail: "the suggestion no longer fits", errors: [{ path: "nodes[4].config.columns", message: "column 'email' is gone", code: "c" }] });
    expect(refusalText(refused)).toBe("the suggestion no longer fits — column 'email' is gone");
    expect(effectLine({ rows_before: 10000, rows_after: 9688, cells_changed: 0, summary: "", columns_before: [], columns_after: [], examples: [] })).toBe("10,000 → 9,688 rows");
    expect(effectLine({ rows_before: 100, rows_after: 100, cells_changed: 37, summary: "", columns_before: [], columns_after: [], examples: [] })).toBe("100 → 100 rows · 37 cells changed");
  });
});
