// A minimal virtualized grid: fixed row height, only the rows in view (plus a margin) are in the DOM, a
// sticky header. 1,000 preview rows scroll smoothly without a grid dependency in the bundle.
import { type CSSProperties, memo, type ReactNode, useCallback, useEffect, useRef, useState } from "react";

export interface GridColumn {
  key: string;
  width: number;
  header: ReactNode;
}

export interface GridCell {
  content: ReactNode;
  style?: CSSProperties;
  title?: string;
}

interface Props {
  columns: GridColumn[];
  rowCount: number;
  rowHeight?: number;
  headerHeight: number;
  cell: (row: number, col: number) => GridCell;
  rowStyle?: (row: number) => CSSProperties | undefined;
  rowAttrs?: (row: number) => Record<string, string>;
  /** The row number shown in the gutter (default: position + 1), e.g. the input row of a filtered view. */
  rowLabel?: (row: number) => number;
  testId?: string;
}

export const OVERSCAN = 8;

/** Rows [first, last) to render for a viewport: pure so the windowing is testable. */
export function visibleRange(scrollTop: number, viewport: number, rowHeight: number, rowCount: number, overscan = OVERSCAN): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(rowCount, Math.ceil((scrollTop + Math.max(viewport, rowHeight)) / rowHeight) + overscan);
  return [first, Math.max(first, last)];
}

const border = "1px solid var(--chakra-colors-border)";
const cellBase: CSSProperties = {
  boxSizing: "border-box",
  padding: "0 6px",
  overflow: "hidden",
  textOverflow: "ellipsis",
  whiteSpace: "pre",
  borderRight: border,
  flexShrink: 0,
};

function VirtualGridImpl({ columns, rowCount, rowHeight = 24, headerHeight, cell, rowStyle, rowAttrs, rowLabel, testId }: Props) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(400);
  const frame = useRef(0);

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setViewport(el.clientHeight || 400);
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // Reset to the top when a different result arrives (fewer rows than the old scroll position).
  useEffect(() => {
    if (ref.current && ref.current.scrollTop > rowCount * rowHeight) ref.current.scrollTop = 0;
  }, [rowCount, rowHeight]);

  const onScroll = useCallback(() => {
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(() => setScrollTop(ref.current?.scrollTop ?? 0));
  }, []);

  const totalWidth = columns.reduce((s, c) => s + c.width, 48);
  const [first, last] = visibleRange(scrollTop, viewport - headerHeight, rowHeight, rowCount);
  const rows: ReactNode[] = [];
  for (let r = first; r < last; r += 1) {
    rows.push(
      <div
        key={r}
        role="row"
        aria-rowindex={r + 2}
        data-row={r}
        {...rowAttrs?.(r)}
        style={{ position: "absolute", top: r * rowHeight, left: 0, height: rowHeight, width: totalWidth, display: "flex", lineHeight: `${rowHeight}px`, borderBottom: border, ...rowStyle?.(r) }}
      >
        <div style={{ ...cellBase, width: 48, textAlign: "right", color: "var(--chakra-colors-fg-subtle)" }}>{rowLabel ? rowLabel(r) : r + 1}</div>
        {columns.map((c, ci) => {
          const g = cell(r, ci);
          return (
            <div key={c.key} role="gridcell" title={g.title} style={{ ...cellBase, width: c.width, ...g.style }}>
              {g.content}
            </div>
          );
        })}
      </div>,
    );
  }

  return (
    <div ref={ref} onScroll={onScroll} role="grid" aria-rowcount={rowCount + 1} data-testid={testId} data-rows={rowCount} style={{ overflow: "auto", height: "100%", position: "relative", fontSize: 12, fontFamily: "var(--chakra-fonts-mono)" }}>
      <div role="row" style={{ position: "sticky", top: 0, zIndex: 1, display: "flex", width: totalWidth, height: headerHeight, background: "var(--chakra-colors-bg-subtle)", borderBottom: border }}>
        <div style={{ ...cellBase, width: 48 }} />
        {columns.map((c) => (
          <div key={c.key} role="columnheader" style={{ ...cellBase, width: c.width, whiteSpace: "normal", padding: "2px 6px" }}>
            {c.header}
          </div>
        ))}
      </div>
      <div style={{ position: "relative", height: rowCount * rowHeight, width: totalWidth }}>{rows}</div>
    </div>
  );
}

export const VirtualGrid = memo(VirtualGridImpl);
