// The panel under the canvas: the selected node's data (virtualized grid with per-column charts), its
// schema/profile, a before/after view for transforms, the SQL that ran, warnings (a superuser
// connection, ...), and errors mapped to nodes.
import { Badge, Box, Button, HStack, NativeSelect, Spinner, Stack, Text } from "@chakra-ui/react";
import { type CSSProperties, Fragment, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError } from "../api/client";
import type { Issue, Spec, SpecNode } from "../api/types";
import { errorText } from "../components";
import { issuesByNode, parseIssuePath } from "../graph/errors";
import { t as translateNow, type Translate, useT } from "../i18n";
import { previewApi } from "./api";
import { ColumnHeader, HEADER_HEIGHT } from "./ColumnHeader";
import { beforeAfter, type Diff, shownValue } from "./diff";
import { columnWidth, compactNumber, type FormattedCell, formatCell, formatElapsed, formatShare, shortType } from "./format";
import type { Cell, Preview, Sampling } from "./types";
import { type GridCell, VirtualGrid } from "./VirtualGrid";

export interface PreviewTarget {
  spec: Spec;
  nodeId: string;
  /** Set when previewing a suggestion's effect on a temporary pipeline (nothing applied yet). */
  effectOf?: string;
}

type Tab = "data" | "schema" | "diff" | "sql";
const TABS: Tab[] = ["data", "schema", "diff", "sql"];
const TAB_TITLE: Record<Tab, (t: Translate) => string> = { data: (t) => t("Data"), schema: (t) => t("Schema"), diff: (t) => t("Before/after"), sql: (t) => t("SQL") };
const SAMPLING_TITLE: Record<Sampling, (t: Translate) => string> = { head: (t) => t("head"), random: (t) => t("random") };
const DEBOUNCE_MS = 350;
const RETRY_429_MS = 2000;
const LIMITS = [100, 250, 500, 1000];

const cellStyle: Record<FormattedCell["kind"], CSSProperties> = {
  null: { color: "var(--chakra-colors-fg-subtle)", fontStyle: "italic" },
  empty: { color: "var(--chakra-colors-fg-subtle)", fontStyle: "italic" },
  number: { textAlign: "right" },
  boolean: {},
  text: {},
  json: { color: "var(--chakra-colors-purple-fg)" },
  binary: { color: "var(--chakra-colors-fg-muted)", fontStyle: "italic" },
  truncated: {},
};
const PADDED: CSSProperties = { background: "var(--chakra-colors-orange-subtle)" };

export function gridCell(value: Cell | undefined, t: Translate = translateNow): GridCell {
  const f = formatCell(value, t);
  return { content: f.text, title: f.title, style: f.padded ? { ...cellStyle[f.kind], ...PADDED } : cellStyle[f.kind] };
}

/** A preview failure as the panel explains it: validation issues placed on nodes/fields, or one message. */
export interface PreviewFailure {
  title: string;
  message: string;
  issues: { nodeId: string | null; field: string; message: string }[];
  retry: boolean;
}

export function describeFailure(error: unknown, nodes: SpecNode[], t: Translate = translateNow): PreviewFailure {
  if (error instanceof ApiError) {
    const placed = issuesByNode(error.errors, nodes);
    const nodeOf = new Map<Issue, string>();
    placed.forEach((list, id) => list.forEach((i) => nodeOf.set(i, id)));
    const issues = error.errors.map((i) => {
      const target = parseIssuePath(i.path);
      return { nodeId: nodeOf.get(i) ?? null, field: target.kind === "pipeline" ? target.field : target.field || "(node)", message: i.message };
    });
    const byStatus: Record<number, string> = {
      403: t("Previews need edit access to this pipeline (they read real data through its connections)."),
      404: t("Unknown node"),
      422: t("This node (or a step before it) is not configured correctly"),
      429: t("Too many previews are running at once"),
      504: t("The preview timed out"),
      507: t("The preview needed too much memory"),
    };
    return { title: byStatus[error.status] ?? t("Preview failed (HTTP {status})", { status: error.status || "—" }), message: error.detail, issues, retry: error.status === 429 };
  }
  return { title: t("Preview failed"), message: errorText(error), issues: [], retry: false };
}

const NO_IDS: string[] = [];

export function PreviewPanel({
  target,
  nodes,
  onSelectNode,
  onBack,
  blockedBy = NO_IDS,
}: {
  target: PreviewTarget | null;
  nodes: SpecNode[];
  onSelectNode: (id: string) => void;
  onBack?: () => void;
  /** Nodes (this one or upstream) whose validation errors stop the preview: a 422 points there. */
  blockedBy?: string[];
}) {
  const t = useT();
  const [sampling, setSampling] = useState<Sampling>("head");
  const [limit, setLimit] = useState(100);
  const [tab, setTab] = useState<Tab>("data");
  const [result, setResult] = useState<Preview | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [tick, setTick] = useState(0);
  const [seed, setSeed] = useState(1);
  const seq = useRef(0);
  const retries = useRef(0);
  const lastNode = useRef<string | null>(null);

  const refresh = useCallback(() => {
    retries.current = 0;
    setTick((t) => t + 1);
  }, []);

  useEffect(() => {
    if (!target) {
      setResult(null);
      setError(null);
      return;
    }
    const mine = ++seq.current;
    // Another node's error must not linger over this one while its preview loads.
    if (lastNode.current !== target.nodeId) setError(null);
    lastNode.current = target.nodeId;
    setLoading(true);
    const timer = setTimeout(
      () => {
        previewApi.preview({ pipeline: target.spec, node_id: target.nodeId, limit, sampling, seed: sampling === "random" ? seed : null }).then(
          (p) => {
            if (mine !== seq.current) return;
            retries.current = 0;
            setResult(p);
            setError(null);
            setLoading(false);
          },
          (e: unknown) => {
            if (mine !== seq.current) return;
            setError(e);
            setLoading(false);
            // A busy server (429) is retried a few times before the message stays.
            if (e instanceof ApiError && e.status === 429 && retries.current < 3) {
              retries.current += 1;
              setTimeout(() => mine === seq.current && setTick((t) => t + 1), RETRY_429_MS);
            }
          },
        );
      },
      tick === 0 ? DEBOUNCE_MS : 0,
    );
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [target, limit, sampling, seed, tick]);

  const sameNode = result && target && result.node_id === target.nodeId;
  const shown = sameNode ? result : null;
  const diff = useMemo(() => (shown ? beforeAfter(shown) : null), [shown]);
  const activeTab: Tab = tab === "diff" && !diff ? "data" : tab === "sql" && !shown?.sql ? "data" : tab;
  const failure = error ? describeFailure(error, nodes, t) : null;
  // The problems are already shown at their fields and nodes: a failure caused by them says where, once.
  const blocked = error instanceof ApiError && error.status === 422 && blockedBy.length > 0;
  const pointTo = blocked ? blockedBy : failure?.issues.length ? [...new Set(failure.issues.map((i) => i.nodeId))] : [];

  if (!target) {
    return (
      <Box p="3" color="fg.muted" fontSize="sm" data-testid="preview-panel" data-state="idle">
        {t("Select a node to preview its data.")}
      </Box>
    );
  }

  return (
    <Stack gap="0" h="100%" data-testid="preview-panel" data-node-id={target.nodeId} data-state={loading ? "loading" : error ? "error" : shown ? "ready" : "idle"}>
      <HStack px="2" py="1" gap="2" borderBottomWidth="1px" fontSize="xs" wrap="wrap">
        {target.effectOf ? (
          <>
            <Badge colorPalette="purple" data-testid="effect-preview">
              {t("Effect of “{title}” — not applied", { title: target.effectOf })}
            </Badge>
            {onBack && (
              <Button size="2xs" variant="ghost" onClick={onBack}>
                {t("back to node")}
              </Button>
            )}
          </>
        ) : (
          <Text fontWeight="semibold" fontFamily="mono" maxW="160px" truncate title={t("Preview of {node}", { node: target.nodeId })}>
            {target.nodeId}
          </Text>
        )}
        {TABS.map((name) => (
          <Button
            key={name}
            size="2xs"
            variant={activeTab === name ? "solid" : "ghost"}
            disabled={(name === "diff" && !diff) || (name === "sql" && !shown?.sql)}
            onClick={() => setTab(name)}
            data-testid={`preview-tab-${name}`}
            title={name === "diff" && !diff ? t("Before/after needs a transform with one input") : undefined}
          >
            {TAB_TITLE[name](t)}
          </Button>
        ))}
        <Box flex="1" />
        <HStack gap="0" title={t("Which rows the sources read")}>
          {(["head", "random"] as Sampling[]).map((s) => (
            <Button key={s} size="2xs" variant={sampling === s ? "subtle" : "ghost"} onClick={() => setSampling(s)} data-testid={`sampling-${s}`}>
              {SAMPLING_TITLE[s](t)}
            </Button>
          ))}
        </HStack>
        {sampling === "random" && (
          <Button size="2xs" variant="ghost" onClick={() => setSeed((x) => x + 1)} title={t("Draw another random sample")}>
            {t("reshuffle")}
          </Button>
        )}
        <NativeSelect.Root size="xs" width="88px">
          <NativeSelect.Field aria-label={t("Row limit")} data-testid="preview-limit" value={String(limit)} onChange={(e) => setLimit(Number(e.currentTarget.value))}>
            {LIMITS.map((l) => (
              <option key={l} value={l}>
                {t("{count} rows", { count: l })}
              </option>
            ))}
          </NativeSelect.Field>
          <NativeSelect.Indicator />
        </NativeSelect.Root>
        <Button size="2xs" variant="outline" onClick={refresh} loading={loading} data-testid="preview-refresh" title={t("Run the preview again")} aria-label={t("Refresh")}>
          ↻
        </Button>
      </HStack>
      {shown && (
        <HStack px="2" py="0.5" gap="3" fontSize="xs" color="fg.muted" borderBottomWidth="1px" data-testid="preview-stats">
          <Text data-testid="preview-row-count">
            {shown.row_count_estimate !== null
              ? t("{rows} rows of ~{estimate} · {columns} columns", { rows: shown.rows.length, estimate: compactNumber(shown.row_count_estimate), columns: shown.columns.length })
              : t("{rows} rows · {columns} columns", { rows: shown.rows.length, columns: shown.columns.length })}
          </Text>
          <Text data-testid="preview-elapsed">{formatElapsed(shown.elapsed_ms)}</Text>
          {shown.cached && (
            <Badge size="xs" colorPalette="gray" data-testid="preview-cached" title={t("Served from the preview cache (same upstream steps and sampling)")}>
              {t("cached")}
            </Badge>
          )}
          <Badge size="xs" variant="outline">
            {shown.engine.toUpperCase()}
          </Badge>
          {shown.truncated_cells > 0 && <Text>{t("{count} long cells cut (ends with …)", { count: shown.truncated_cells })}</Text>}
          {diff && (
            <Text data-testid="preview-diff-summary">
              {t("{removed} removed · {changed} changed rows", { removed: diff.removed, changed: diff.changed })}
            </Text>
          )}
          {loading && <Spinner size="xs" />}
        </HStack>
      )}
      {shown && (shown.warnings ?? []).length > 0 && (
        // Things to fix that did not stop the preview, e.g. a connection logging in as a superuser.
        <Box px="2" py="1" bg="orange.subtle" color="orange.fg" fontSize="xs" borderBottomWidth="1px" data-testid="preview-warnings">
          {shown.warnings.map((warning, k) => (
            <Text key={k} data-testid="preview-warning" whiteSpace="pre-wrap">
              ⚠ {warning}
            </Text>
          ))}
        </Box>
      )}
      {failure && (
        <Box px="2" py="1" bg="red.subtle" color="red.fg" fontSize="xs" data-testid="preview-error" data-status={error instanceof ApiError ? error.status : 0}>
          <Text fontWeight="semibold">{failure.title}</Text>
          {!pointTo.length && <Text whiteSpace="pre-wrap">{failure.message}</Text>}
          {pointTo.length > 0 && (
            // The messages themselves are shown once, at their fields and nodes: here only where to look.
            <Text data-testid="preview-issue">
              {t("Shown at:")}{" "}
              {pointTo.map((id, k) => (
                <Fragment key={id ?? ""}>
                  {k > 0 && ", "}
                  {id ? (
                    <Button size="2xs" variant="plain" color="red.fg" textDecoration="underline" px="0" h="auto" onClick={() => onSelectNode(id)}>
                      {nodes.find((n) => n.id === id)?.label || id}
                    </Button>
                  ) : (
                    t("the pipeline's problem list")
                  )}
                </Fragment>
              ))}
            </Text>
          )}
          {failure.retry && <Text>{t("Retrying shortly…")}</Text>}
        </Box>
      )}
      <Box flex="1" minH="0" position="relative">
        {!shown && loading && (
          <Box p="3">
            <Spinner size="sm" />
          </Box>
        )}
        {shown && activeTab === "data" && <DataGrid preview={shown} />}
        {shown && activeTab === "schema" && <SchemaTable preview={shown} />}
        {shown && activeTab === "diff" && diff && <DiffGrid diff={diff} />}
        {shown && activeTab === "sql" && shown.sql && (
          <Box as="pre" p="2" fontSize="xs" overflow="auto" h="100%" data-testid="preview-sql" fontFamily="mono" whiteSpace="pre-wrap">
            {shown.sql}
          </Box>
        )}
      </Box>
    </Stack>
  );
}

function useWidths(names: string[], rows: Cell[][], index: (name: string) => number): number[] {
  return useMemo(
    () =>
      names.map((name) => {
        const i = index(name);
        const texts = (function* () {
          for (const row of rows) yield formatCell(i >= 0 ? row[i] : undefined).text;
        })();
        return Math.max(110, columnWidth(name, texts));
      }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [names, rows],
  );
}

function DataGrid({ preview }: { preview: Preview }) {
  const t = useT();
  const names = useMemo(() => preview.columns.map((c) => c.name), [preview]);
  const widths = useWidths(names, preview.rows, (n) => names.indexOf(n));
  const profiles = useMemo(() => new Map(preview.profile.map((p) => [p.name, p])), [preview]);
  const columns = useMemo(
    () =>
      preview.columns.map((c, i) => ({
        key: c.name,
        width: widths[i],
        header: <ColumnHeader name={c.name} type={c.type} profile={profiles.get(c.name)} sampleRows={preview.sample_rows || preview.rows.length} width={widths[i]} />,
      })),
    [preview, widths, profiles],
  );
  const cell = useCallback((r: number, c: number) => gridCell(preview.rows[r][c], t), [preview, t]);
  if (!preview.rows.length) {
    return (
      <Stack h="100%">
        <Box h={`${HEADER_HEIGHT + 2}px`} flexShrink={0}>
          <VirtualGrid columns={columns} rowCount={0} headerHeight={HEADER_HEIGHT} cell={cell} testId="preview-grid" />
        </Box>
        <Text px="2" fontSize="xs" color="fg.muted">
          {t("No rows.")}
        </Text>
      </Stack>
    );
  }
  return <VirtualGrid columns={columns} rowCount={preview.rows.length} headerHeight={HEADER_HEIGHT} cell={cell} testId="preview-grid" />;
}

const STATUS_STYLE: Record<string, CSSProperties | undefined> = {
  removed: { textDecoration: "line-through", background: "var(--chakra-colors-red-subtle)", color: "var(--chakra-colors-red-fg)" },
  changed: undefined,
  kept: undefined,
};

function DiffGrid({ diff }: { diff: Diff }) {
  const t = useT();
  const [changesOnly, setChangesOnly] = useState(false);
  const numbered = useMemo(() => diff.rows.map((row, i) => ({ ...row, n: i + 1 })), [diff]);
  const rows = useMemo(() => (changesOnly ? numbered.filter((r) => r.status !== "kept") : numbered), [numbered, changesOnly]);
  const columns = useMemo(
    () =>
      diff.columns.map((c) => ({
        key: c.name,
        width: 160,
        header: (
          <div style={{ fontWeight: 600 }}>
            <span style={c.change === "dropped" ? { textDecoration: "line-through" } : undefined}>{c.name}</span>
            {c.change !== "same" && <div style={{ fontSize: 10, fontWeight: 400 }}>{c.change === "added" ? t("added") : t("dropped")}</div>}
          </div>
        ),
      })),
    [diff, t],
  );
  const cell = useCallback(
    (r: number, c: number): GridCell => {
      const row = rows[r];
      const d = row.cells[c];
      if (row.status === "removed") return { content: formatCell(d.before, t).text, title: t("removed by this step") };
      if (d.changed) {
        const before = formatCell(d.before, t).text;
        const after = formatCell(d.after, t).text;
        return {
          content: (
            <>
              <s style={{ opacity: 0.6 }}>{before}</s> {after}
            </>
          ),
          title: `${t("before: {value}", { value: before })}\n${t("after: {value}", { value: after })}`,
          style: { background: "var(--chakra-colors-yellow-subtle)" },
        };
      }
      return gridCell(shownValue(row, c), t);
    },
    [rows, t],
  );
  return (
    <Stack gap="0" h="100%">
      <HStack px="2" py="0.5" fontSize="xs" color="fg.muted" borderBottomWidth="1px">
        <Text>
          {diff.changed === 0 && diff.removed > 0
            ? t("Input rows of this step: struck through = removed, highlighted = changed (kept rows are unchanged; the step may reorder them).")
            : t("Input rows of this step: struck through = removed, highlighted = changed.")}
        </Text>
        <Box flex="1" />
        <Button size="2xs" variant={changesOnly ? "subtle" : "ghost"} onClick={() => setChangesOnly((v) => !v)} data-testid="diff-changes-only">
          {t("changes only")}
        </Button>
      </HStack>
      <Box flex="1" minH="0">
        <VirtualGrid
          columns={columns}
          rowCount={rows.length}
          headerHeight={40}
          cell={cell}
          rowStyle={(r) => STATUS_STYLE[rows[r].status]}
          rowAttrs={(r) => ({ "data-status": rows[r].status })}
          rowLabel={(r) => rows[r].n}
          testId="preview-diff"
        />
      </Box>
    </Stack>
  );
}

function SchemaTable({ preview }: { preview: Preview }) {
  const t = useT();
  const profiles = new Map(preview.profile.map((p) => [p.name, p]));
  const th: CSSProperties = { textAlign: "left", padding: "2px 8px", position: "sticky", top: 0, background: "var(--chakra-colors-bg-subtle)" };
  const td: CSSProperties = { padding: "2px 8px", borderTop: "1px solid var(--chakra-colors-border)", whiteSpace: "nowrap", maxWidth: 240, overflow: "hidden", textOverflow: "ellipsis" };
  return (
    <Box overflow="auto" h="100%" fontSize="xs" data-testid="preview-schema">
      <table style={{ borderCollapse: "collapse", width: "100%" }}>
        <thead>
          <tr>
            {[t("column"), t("type"), t("inferred"), t("null"), t("distinct"), t("min"), t("max"), t("mean"), t("top values")].map((h) => (
              <th key={h} style={th}>
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {preview.columns.map((c) => {
            const p = profiles.get(c.name);
            return (
              <tr key={c.name} data-column={c.name}>
                <td style={{ ...td, fontWeight: 600 }}>{c.name}</td>
                <td style={td} title={c.type}>
                  {shortType(c.type)}
                </td>
                <td style={td}>{p?.inferred ?? ""}</td>
                <td style={td}>{p ? formatShare(p.null_share) : ""}</td>
                <td style={td}>{p ? compactNumber(p.distinct_estimate) : ""}</td>
                <td style={td}>{p ? formatCell(p.min).text : ""}</td>
                <td style={td}>{p ? formatCell(p.max).text : ""}</td>
                <td style={td}>{p?.mean != null ? formatCell(p.mean).text : ""}</td>
                <td style={td} title={p?.top_values.map((top) => `${formatCell(top.value).text}: ${top.count}`).join("\n")}>
                  {p?.top_values
                    .slice(0, 3)
                    .map((top) => `${formatCell(top.value).text} (${top.count})`)
                    .join(", ")}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </Box>
  );
}
