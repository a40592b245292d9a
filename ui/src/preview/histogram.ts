// Geometry of the tiny charts in each column header, as pure functions (tested without a DOM): bars of
// a numeric histogram, shares of the top values, the null bar.
import { formatCell } from "./format";
import type { ColumnProfile, Histogram } from "./types";

export interface Bar {
  x: number;
  y: number;
  width: number;
  height: number;
  label: string;
}

/** Bars scaled to the highest bin; a non-empty bin is always at least 1 px tall so outliers stay visible. */
export function histogramBars(hist: Histogram, width: number, height: number, gap = 1): Bar[] {
  const n = hist.counts.length;
  if (!n || hist.edges.length !== n + 1) return [];
  const top = Math.max(...hist.counts);
  const slot = width / n;
  return hist.counts.map((count, i) => {
    const h = top > 0 ? (count / top) * height : 0;
    const barH = count > 0 ? Math.max(1, h) : 0;
    return {
      x: i * slot,
      y: height - barH,
      width: Math.max(1, slot - gap),
      height: barH,
      label: `${rangeLabel(hist.edges[i], hist.edges[i + 1])}: ${count}`,
    };
  });
}

function rangeLabel(lo: number, hi: number): string {
  return `${formatCell(lo).text} – ${formatCell(hi).text}`;
}

export interface ValueShare {
  label: string;
  count: number;
  share: number;
}

/** Top values as shares of the sampled rows, with an "other" remainder when the top values do not cover them. */
export function topValueShares(profile: Pick<ColumnProfile, "top_values">, sampleRows: number): ValueShare[] {
  const shares: ValueShare[] = profile.top_values.map((t) => ({
    label: formatCell(t.value).text,
    count: t.count,
    share: sampleRows > 0 ? t.count / sampleRows : 0,
  }));
  const covered = shares.reduce((s, v) => s + v.count, 0);
  if (sampleRows > covered && shares.length) shares.push({ label: "other", count: sampleRows - covered, share: (sampleRows - covered) / sampleRows });
  return shares;
}

/** Which chart a header shows: numeric histogram when the API sent one, else top values, else nothing. */
export function headerChart(profile: ColumnProfile | undefined): "histogram" | "top" | "none" {
  if (!profile) return "none";
  if (profile.histogram && profile.histogram.counts.length) return "histogram";
  return profile.top_values.length ? "top" : "none";
}

/** Null share as a bar width in px (never 0 px when some values are null, so 1 null in 10,000 shows). */
export function nullBarWidth(share: number, width: number): number {
  if (share <= 0) return 0;
  return Math.min(width, Math.max(2, Math.round(share * width)));
}
