// A grid column header: name, type, a mini-histogram (numeric) or top-values bar, and the null share.
import { useT } from "../i18n";
import { formatShare, shortType } from "./format";
import { headerChart, histogramBars, nullBarWidth, topValueShares } from "./histogram";
import type { ColumnProfile } from "./types";

export const HEADER_HEIGHT = 66;
const CHART_H = 18;
const PALETTE = ["blue", "teal", "purple", "orange", "cyan"];

export function ColumnHeader({ name, type, profile, sampleRows, width }: { name: string; type: string; profile?: ColumnProfile; sampleRows: number; width: number }) {
  const t = useT();
  const w = Math.max(20, width - 12);
  const chart = headerChart(profile);
  const nullShare = profile?.null_share ?? 0;
  return (
    <div data-testid="column-header" data-column={name} style={{ fontFamily: "var(--chakra-fonts-body)", lineHeight: "16px" }}>
      <div style={{ fontWeight: 600, overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }} title={name}>
        {name}
      </div>
      <div style={{ fontSize: 10, color: "var(--chakra-colors-fg-muted)", whiteSpace: "nowrap", overflow: "hidden" }} title={type}>
        {shortType(type)}
        {profile?.inferred ? ` → ${profile.inferred}?` : ""}
      </div>
      <svg width={w} height={CHART_H} data-testid={`chart-${chart}`} aria-hidden style={{ display: "block", marginTop: 2 }}>
        {chart === "histogram" &&
          profile?.histogram &&
          histogramBars(profile.histogram, w, CHART_H).map((b, i) => (
            <rect key={i} x={b.x} y={b.y} width={b.width} height={b.height} fill="var(--chakra-colors-blue-solid)" opacity={0.75}>
              <title>{b.label}</title>
            </rect>
          ))}
        {chart === "top" &&
          profile &&
          (() => {
            let x = 0;
            return topValueShares(profile, sampleRows).map((v, i) => {
              const width = v.share * w;
              // The remainder comes after the top values; a value that reads "other" is still a value.
              const rest = i >= profile.top_values.length;
              const label = rest ? t("other") : v.label;
              const rect = (
                <rect key={i} x={x} y={4} width={Math.max(0, width - 1)} height={CHART_H - 8} fill={rest ? "var(--chakra-colors-border-emphasized)" : `var(--chakra-colors-${PALETTE[i % PALETTE.length]}-solid)`} opacity={0.7}>
                  <title>{`${label}: ${v.count} (${formatShare(v.share)})`}</title>
                </rect>
              );
              x += width;
              return rect;
            });
          })()}
      </svg>
      <div title={t("null: {share}", { share: formatShare(nullShare) })} data-testid="null-bar" data-null-share={nullShare} style={{ height: 3, width: w, background: "var(--chakra-colors-green-muted)", marginTop: 2, position: "relative" }}>
        <div style={{ position: "absolute", left: 0, top: 0, height: 3, width: nullBarWidth(nullShare, w), background: "var(--chakra-colors-red-solid)" }} />
      </div>
    </div>
  );
}
