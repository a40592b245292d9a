// Suggestions for the selected node: what looks wrong with its data, the evidence, the effect, and the
// fixing step(s) inserted after it with one (undoable) click. Dismissed ones stay hidden for the pipeline
// (stored on the server, see dismissed.ts) and can be shown and restored.
import { Badge, Box, Button, HStack, Spinner, Stack, Text, Textarea } from "@chakra-ui/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError } from "../api/client";
import type { Spec } from "../api/types";
import { errorText } from "../components";
import type { NewStep } from "../graph/insert";
import { formatCount, inEnglish, t as translateNow, type Translate, useT } from "../i18n";
import { previewApi } from "../preview/api";
import { formatCell, formatElapsed } from "../preview/format";
import type { Described, EffectExample, Suggestion, Suggestions } from "../preview/types";
import { useDismissed } from "./dismissed";

const DEBOUNCE_MS = 600;
const SEVERITY_PALETTE: Record<string, string> = { high: "red", medium: "orange", low: "gray" };
const SEVERITY_LABEL: Record<string, (t: Translate) => string> = { high: (t) => t("high"), medium: (t) => t("medium"), low: (t) => t("low") };

export function stepsOf(nodes: Suggestion["nodes"]): NewStep[] {
  return nodes.map((n) => ({ module: n.module, config: n.config, label: n.label ?? null, inputPort: n.input_port ?? null, extraInputs: n.extra_inputs ?? {} }));
}

/** "10,000 → 9,688 rows · 312 cells changed" */
export function effectLine(effect: Suggestion["effect"], t: Translate = translateNow): string {
  if (!effect) return t("effect not measured on the sample");
  const parts = [t("{before} → {after} rows", { before: formatCount(effect.rows_before, t.language), after: formatCount(effect.rows_after, t.language) })];
  if (effect.cells_changed) parts.push(t.plural(effect.cells_changed, "{count} cell changed", "{count} cells changed", { count: formatCount(effect.cells_changed, t.language) }));
  return parts.join(" · ");
}

/** Why an apply was refused, from the /suggest/check 422 (detail plus issue messages). */
export function refusalText(error: unknown): string {
  if (error instanceof ApiError) {
    const reasons = error.errors.map((e) => e.message).filter((m) => m && m !== error.detail);
    return [error.detail, ...reasons].join(" — ");
  }
  return errorText(error);
}

interface Props {
  pipelineId: string;
  spec: Spec;
  nodeId: string | null;
  readOnly: boolean;
  llm: boolean;
  onApply: (steps: NewStep[]) => void;
  onPreviewEffect: (steps: NewStep[], title: string) => void;
  /** Nodes (this one or upstream) whose validation errors stop the suggestions: a 422 points there. */
  blockedBy?: string[];
}

export function SuggestPanel({ pipelineId, spec, nodeId, readOnly, llm, onApply, onPreviewEffect, blockedBy = [] }: Props) {
  const t = useT();
  const dismissals = useDismissed(pipelineId, !readOnly);
  const dismissed = dismissals.ids;
  const [showDismissed, setShowDismissed] = useState(false);
  const [result, setResult] = useState<Suggestions | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [busy, setBusy] = useState<string | null>(null);
  const [refused, setRefused] = useState<Record<string, string>>({});
  const seq = useRef(0);
  // The latest ids for the next request, without re-asking when only the dismissals change.
  const dismissedNow = useRef(dismissed);
  dismissedNow.current = dismissed;

  // Bumped to ask again: the server leaves stored dismissals out, so a restored one needs a new answer.
  const [asked, setAsked] = useState(0);

  useEffect(() => setShowDismissed(false), [pipelineId]);

  useEffect(() => {
    setRefused({});
    if (!nodeId || readOnly) {
      setResult(null);
      setError(null);
      return;
    }
    const mine = ++seq.current;
    setLoading(true);
    const timer = setTimeout(() => {
      previewApi.suggest(spec, nodeId, dismissedNow.current).then(
        (r) => {
          if (mine !== seq.current) return;
          setResult(r);
          setError(null);
          setLoading(false);
        },
        (e: unknown) => {
          if (mine !== seq.current) return;
          setError(e);
          setLoading(false);
        },
      );
    }, DEBOUNCE_MS);
    return () => clearTimeout(timer);
    // Dismissing filters locally at once; the list is re-asked when the pipeline or node changes, or when a
    // restored suggestion is not in the current answer.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [spec, nodeId, readOnly, asked]);

  const { restore: restoreDismissed } = dismissals;
  const restore = useCallback(
    (id: string) => {
      const known = result?.suggestions.some((s) => s.id === id) ?? false;
      void restoreDismissed(id).then((ok) => {
        if (ok && !known) setAsked((n) => n + 1);
      });
    },
    [result, restoreDismissed],
  );

  const titles = useMemo(() => new Map((result?.suggestions ?? []).map((s) => [s.id, s.title])), [result]);

  const visible = useMemo(() => {
    if (!result || result.node_id !== nodeId) return [];
    const hidden = new Set(dismissed);
    return result.suggestions.filter((s) => !hidden.has(s.id));
  }, [result, nodeId, dismissed]);

  const apply = useCallback(
    async (s: Suggestion) => {
      if (!nodeId) return;
      setBusy(s.id);
      try {
        await previewApi.check(spec, nodeId, s);
        onApply(stepsOf(s.nodes));
      } catch (e) {
        setRefused((r) => ({ ...r, [s.id]: refusalText(e) }));
      } finally {
        setBusy(null);
      }
    },
    [spec, nodeId, onApply],
  );

  if (readOnly) {
    return (
      <Text p="3" fontSize="xs" color="fg.muted" data-testid="suggest-panel">
        {t("Suggestions need edit access to this pipeline.")}
      </Text>
    );
  }
  if (!nodeId) {
    return (
      <Text p="3" fontSize="xs" color="fg.muted" data-testid="suggest-panel">
        {t("Select a node to see suggestions for its data.")}
      </Text>
    );
  }
  return (
    <Stack gap="2" p="2" h="100%" overflowY="auto" data-testid="suggest-panel" data-node-id={nodeId} data-state={loading ? "loading" : error ? "error" : "ready"}>
      <HStack fontSize="xs">
        <Text fontWeight="semibold">{t("Suggestions")}</Text>
        {loading && <Spinner size="xs" />}
        {result && !loading && <Text color="fg.muted">{t("{elapsed} on {rows} rows", { elapsed: formatElapsed(result.elapsed_ms), rows: formatCount(result.sample_rows, t.language) })}</Text>}
        <Box flex="1" />
        {dismissed.length > 0 && (
          <Button size="2xs" variant="ghost" onClick={() => setShowDismissed((v) => !v)} aria-expanded={showDismissed} title={t("The suggestions dismissed for this pipeline")} data-testid="dismissed-toggle">
            {showDismissed ? t("Hide dismissed ({count})", { count: dismissed.length }) : t("Show dismissed ({count})", { count: dismissed.length })}
          </Button>
        )}
      </HStack>
      {dismissals.error && (
        <HStack fontSize="xs" color="red.fg" align="start" role="alert" data-testid="dismiss-error">
          <Text flex="1" whiteSpace="pre-wrap">
            {dismissals.error}
          </Text>
          <Button size="2xs" variant="ghost" onClick={dismissals.clearError} aria-label={t("Close the message")}>
            ×
          </Button>
        </HStack>
      )}
      {showDismissed && dismissed.length > 0 && (
        <DismissedList ids={dismissed} titles={titles} memoryOnly={dismissals.persistence === "memory"} onRestore={restore} />
      )}
      {error != null && (
        <Text fontSize="xs" color="red.fg" whiteSpace="pre-wrap" data-testid="suggest-error">
          {error instanceof ApiError && error.status === 422 && blockedBy.length
            ? // Not the messages again: they are at their fields and nodes.
              t("No suggestions until the problems of {nodes} are fixed.", { nodes: blockedBy.map((id) => spec.nodes.find((n) => n.id === id)?.label || id).join(", ") })
            : errorText(error)}
        </Text>
      )}
      {result && !loading && !visible.length && !error && (
        <Text fontSize="xs" color="fg.muted" data-testid="suggest-empty">
          {t("Nothing to suggest: the sample looks clean.")}
        </Text>
      )}
      {visible.map((s) => (
        <Box key={s.id} borderWidth="1px" borderRadius="md" p="2" fontSize="xs" data-testid="suggestion" data-suggestion-id={s.id} data-rule={s.rule}>
          <HStack gap="1" align="start">
            <Text fontWeight="semibold" flex="1">
              {s.title}
            </Text>
            <Badge size="xs" colorPalette={SEVERITY_PALETTE[s.severity] ?? "gray"}>
              {SEVERITY_LABEL[s.severity]?.(t) ?? s.severity}
            </Badge>
            <Badge size="xs" variant="outline" title={s.confidence_reason ? t("Confidence: {reason}", { reason: s.confidence_reason }) : t("Confidence")}>
              {Math.round(s.confidence * 100)}%
            </Badge>
          </HStack>
          <Text color="fg.muted" data-testid="suggestion-evidence">
            {s.evidence}
          </Text>
          {s.columns.length > 0 && (
            <HStack gap="1" wrap="wrap" mt="1">
              {s.columns.map((c) => (
                <Badge key={c} size="xs" variant="subtle" fontFamily="mono">
                  {c}
                </Badge>
              ))}
            </HStack>
          )}
          <Text mt="1" data-testid="suggestion-effect">
            {effectLine(s.effect, t)}
          </Text>
          {/* The server's summary (English) is left out when it only repeats the effect line. */}
          {s.effect?.summary && s.effect.summary !== effectLine(s.effect, inEnglish) && <Text color="fg.muted">{s.effect.summary}</Text>}
          {s.effect?.examples?.length ? (
            <Box mt="1" fontFamily="mono" data-testid="suggestion-examples">
              {(s.effect.examples as unknown as EffectExample[]).slice(0, 3).map((x, i) => (
                <Text key={i} truncate title={`${x.column}: ${formatCell(x.before).title} → ${formatCell(x.after).title}`}>
                  {x.column}: <s>{formatCell(x.before).text}</s> → {formatCell(x.after).text}
                </Text>
              ))}
            </Box>
          ) : null}
          <Text color="fg.muted" mt="1">
            {t("adds {steps}", { steps: s.nodes.map((n) => n.label || n.module).join(" → ") })}
          </Text>
          {refused[s.id] && (
            <Text color="red.fg" mt="1" data-testid="suggestion-refused">
              {t("Cannot apply: {reason}", { reason: refused[s.id] })}
            </Text>
          )}
          <HStack mt="1" gap="1">
            <Button size="2xs" colorPalette="brand" onClick={() => void apply(s)} loading={busy === s.id} data-testid="suggestion-apply">
              {t("Apply")}
            </Button>
            <Button size="2xs" variant="outline" onClick={() => onPreviewEffect(stepsOf(s.nodes), s.title)} data-testid="suggestion-preview">
              {t("Preview effect")}
            </Button>
            <Button size="2xs" variant="ghost" onClick={() => void dismissals.dismiss(s.id)} data-testid="suggestion-dismiss">
              {t("Dismiss")}
            </Button>
          </HStack>
        </Box>
      ))}
      {llm && <DescribeStep spec={spec} nodeId={nodeId} onApply={onApply} onPreviewEffect={onPreviewEffect} />}
    </Stack>
  );
}

/** "padded_text:customer,city:3f2a…" → "padded text: customer,city" (ids are `rule[:columns[:hash]]`). */
export function dismissedLabel(id: string): string {
  const [rule, columns] = id.split(":");
  return `${rule.replace(/_/g, " ")}${columns ? `: ${columns}` : ""}`;
}

/** The dismissed ids (titled when the current node suggested them), newest first, each with Restore. */
function DismissedList({ ids, titles, memoryOnly, onRestore }: { ids: string[]; titles: Map<string, string>; memoryOnly: boolean; onRestore: (id: string) => void }) {
  const t = useT();
  return (
    <Stack gap="1" borderWidth="1px" borderRadius="md" p="2" fontSize="xs" data-testid="dismissed-list">
      {memoryOnly && <Text color="fg.muted">{t("This pipeline is not saved: dismissals last for this page only.")}</Text>}
      {[...ids].reverse().map((id) => (
        <HStack key={id} gap="1" data-testid="dismissed-item" data-suggestion-id={id}>
          <Text flex="1" truncate title={id} color={titles.has(id) ? undefined : "fg.muted"}>
            {titles.get(id) ?? dismissedLabel(id)}
          </Text>
          <Button size="2xs" variant="outline" onClick={() => onRestore(id)} data-testid="dismissed-restore">
            {t("Restore")}
          </Button>
        </HStack>
      ))}
    </Stack>
  );
}

function DescribeStep({ spec, nodeId, onApply, onPreviewEffect }: { spec: Spec; nodeId: string; onApply: Props["onApply"]; onPreviewEffect: Props["onPreviewEffect"] }) {
  const t = useT();
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<Described | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setAnswer(null);
    setError(null);
  }, [nodeId]);
  const propose = async () => {
    setBusy(true);
    setError(null);
    try {
      setAnswer(await previewApi.describe(spec, nodeId, text.trim()));
    } catch (e) {
      setAnswer(null);
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const usable = answer && !answer.errors.length && answer.nodes.length > 0;
  return (
    <Stack gap="1" borderTopWidth="1px" pt="2" fontSize="xs" data-testid="describe-step">
      <Text fontWeight="semibold">{t("Describe a step")}</Text>
      <Textarea size="xs" rows={2} maxLength={2000} placeholder={t("e.g. keep only orders above 100 euros")} value={text} onChange={(e) => setText(e.currentTarget.value)} />
      <HStack>
        <Button size="2xs" onClick={() => void propose()} loading={busy} disabled={!text.trim()}>
          {t("Propose")}
        </Button>
      </HStack>
      {error != null && (
        <Text color="red.fg" whiteSpace="pre-wrap">
          {errorText(error)}
        </Text>
      )}
      {answer && (
        <Box borderWidth="1px" borderRadius="md" p="2" data-testid="describe-answer">
          {answer.explanation && <Text>{answer.explanation}</Text>}
          {answer.nodes.length > 0 && <Text color="fg.muted">{t("proposes {steps}", { steps: answer.nodes.map((n) => n.label || n.module).join(" → ") })}</Text>}
          {answer.errors.map((e, i) => (
            <Text key={i} color="red.fg">
              {e.path ? `${e.path}: ` : ""}
              {e.message}
            </Text>
          ))}
          {answer.errors.length > 0 && <Text color="red.fg">{t("The proposal is invalid and cannot be applied; rephrase and try again.")}</Text>}
          {usable && (
            <HStack mt="1" gap="1">
              <Button size="2xs" colorPalette="brand" onClick={() => onApply(stepsOf(answer.nodes))}>
                {t("Apply")}
              </Button>
              <Button size="2xs" variant="outline" onClick={() => onPreviewEffect(stepsOf(answer.nodes), t("described step"))}>
                {t("Preview effect")}
              </Button>
            </HStack>
          )}
        </Box>
      )}
    </Stack>
  );
}
