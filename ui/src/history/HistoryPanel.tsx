// A pipeline's saved versions, newest first: who saved each and why, a comparison of any two (DiffView) and
// a restore that saves an old version as the newest one. A restore is a save: it checks the current etag
// like any save, so a version someone saved meanwhile is never silently replaced.
import { Badge, Box, Button, Center, CloseButton, HStack, Input, NativeSelect, Spinner, Stack, Text } from "@chakra-ui/react";
import { useCallback, useEffect, useMemo, useState } from "react";
import { api, ApiError } from "../api/client";
import type { Conflict, StoredPipeline, Version } from "../api/types";
import { ErrorBox, formatDate, statusLabel } from "../components";
import { latestGuard, runLatest } from "../graph/latest";
import { useT } from "../i18n";
import { DiffView } from "./DiffView";

/** The server's limit on a version's message. */
export const MESSAGE_MAX = 500;

interface Props {
  pipelineId: string;
  /** What the editor holds as saved: its version is marked current, its etag guards a restore. */
  current: StoredPipeline;
  readOnly: boolean;
  /** The editor has unsaved changes, which a restore replaces. */
  dirty: boolean;
  onRestored: (sp: StoredPipeline) => void;
  /** A restore lost a race (409); without it the conflict is shown as an error here. */
  onConflict?: (conflict: Conflict) => void;
  onClose: () => void;
}

interface Pair {
  from: number;
  to: number;
}

function conflictOf(error: unknown): Conflict | null {
  if (error instanceof ApiError && error.status === 409 && error.body && typeof error.body === "object" && "current" in error.body) return error.body as Conflict;
  return null;
}

function StatusBadge({ status }: { status: string }) {
  const t = useT();
  return (
    <Badge size="xs" colorPalette={status === "active" ? "green" : "gray"} data-status={status}>
      {statusLabel(status, t)}
    </Badge>
  );
}

function VersionSelect({ label, value, versions, onChange, testId }: { label: string; value: number; versions: Version[]; onChange: (n: number) => void; testId: string }) {
  return (
    <NativeSelect.Root size="xs" flex="1">
      <NativeSelect.Field aria-label={label} value={String(value)} onChange={(e) => onChange(Number(e.currentTarget.value))} data-testid={testId}>
        {versions.map((v) => (
          <option key={v.version} value={v.version}>
            {`v${v.version}`}
          </option>
        ))}
      </NativeSelect.Field>
      <NativeSelect.Indicator />
    </NativeSelect.Root>
  );
}

/** Pick any two versions; the row buttons cover the usual "this one against the current one". */
function ComparePicker({ versions, onCompare }: { versions: Version[]; onCompare: (pair: Pair) => void }) {
  const t = useT();
  const [pair, setPair] = useState<Pair>(() => ({ from: versions[1]?.version ?? versions[0].version, to: versions[0].version }));
  return (
    <Stack gap="1" p="2" borderWidth="1px" borderRadius="md" data-testid="history-compare-picker">
      <Text fontSize="xs" fontWeight="semibold">
        {t("Compare two versions")}
      </Text>
      <HStack gap="1" fontSize="xs">
        <Text>{t("From")}</Text>
        <VersionSelect label={t("From version")} value={pair.from} versions={versions} onChange={(from) => setPair((p) => ({ ...p, from }))} testId="history-compare-from" />
        <Text>{t("to")}</Text>
        <VersionSelect label={t("To version")} value={pair.to} versions={versions} onChange={(to) => setPair((p) => ({ ...p, to }))} testId="history-compare-to" />
        <Button size="xs" variant="outline" disabled={pair.from === pair.to} onClick={() => onCompare(pair)} data-testid="history-compare-selected">
          {t("Compare")}
        </Button>
      </HStack>
    </Stack>
  );
}

function RestoreForm({ version, busy, onRestore, onCancel }: { version: number; busy: boolean; onRestore: (message: string) => void; onCancel: () => void }) {
  const t = useT();
  const [message, setMessage] = useState("");
  return (
    <Stack gap="1" mt="1" data-testid="history-restore-form">
      <Input
        size="xs"
        placeholder={t("Why restore it? (optional)")}
        aria-label={t("Message for the restored version")}
        maxLength={MESSAGE_MAX}
        value={message}
        onChange={(e) => setMessage(e.currentTarget.value)}
        data-testid="history-restore-message"
      />
      <HStack gap="1">
        <Button size="xs" colorPalette="orange" loading={busy} onClick={() => onRestore(message)} data-testid="history-restore-confirm">
          {t("Restore version {version}", { version })}
        </Button>
        <Button size="xs" variant="ghost" disabled={busy} onClick={onCancel}>
          {t("Cancel")}
        </Button>
      </HStack>
    </Stack>
  );
}

interface RowProps {
  version: Version;
  isCurrent: boolean;
  /** What "Compare" on this row compares, null when there is nothing to compare it with. */
  compare: Pair | null;
  canRestore: boolean;
  restoring: boolean;
  busy: boolean;
  onCompare: (pair: Pair) => void;
  onAskRestore: () => void;
  onRestore: (message: string) => void;
  onCancelRestore: () => void;
}

function VersionRow({ version: v, isCurrent, compare, canRestore, restoring, busy, onCompare, onAskRestore, onRestore, onCancelRestore }: RowProps) {
  const t = useT();
  return (
    <Box p="2" borderWidth="1px" borderRadius="md" borderColor={isCurrent ? "blue.solid" : "border"} data-testid={`history-version-${v.version}`} data-current={isCurrent || undefined}>
      <HStack gap="2" fontSize="xs">
        <Text fontWeight="bold" fontSize="sm">{`v${v.version}`}</Text>
        {isCurrent && (
          <Badge size="xs" colorPalette="brand" variant="solid" data-testid="history-current">
            {t("current")}
          </Badge>
        )}
        <StatusBadge status={v.status} />
        <Box flex="1" />
        <Text color="fg.muted" title={t("Saved at")}>
          {formatDate(v.saved_at)}
        </Text>
      </HStack>
      <Text fontSize="xs" color="fg.muted" data-testid="history-author">
        {v.author ?? t("unknown author")}
      </Text>
      {v.message ? (
        <Text fontSize="sm" mt="1" whiteSpace="pre-wrap" wordBreak="break-word" data-testid="history-message">
          {v.message}
        </Text>
      ) : (
        <Text fontSize="xs" mt="1" color="fg.subtle" fontStyle="italic">
          {t("No message")}
        </Text>
      )}
      <HStack gap="1" mt="1.5">
        {compare && (
          <Button
            size="2xs"
            variant="outline"
            onClick={() => onCompare(compare)}
            title={isCurrent ? t("What this version changed since the one before") : t("Compare with the current version")}
            data-testid={`history-compare-${v.version}`}
          >
            {t("Compare")}
          </Button>
        )}
        {canRestore && !restoring && (
          <Button size="2xs" variant="outline" colorPalette="orange" disabled={busy} onClick={onAskRestore} title={t("Save this version again as the newest one")} data-testid={`history-restore-${v.version}`}>
            {t("Restore")}
          </Button>
        )}
      </HStack>
      {restoring && <RestoreForm version={v.version} busy={busy} onRestore={onRestore} onCancel={onCancelRestore} />}
    </Box>
  );
}

export function HistoryPanel({ pipelineId, current, readOnly, dirty, onRestored, onConflict, onClose }: Props) {
  const t = useT();
  const [versions, setVersions] = useState<Version[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [comparing, setComparing] = useState<Pair | null>(null);
  const [restoring, setRestoring] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const guard = useMemo(() => latestGuard(), []);

  const load = useCallback(() => runLatest(guard, () => api.history(pipelineId), setVersions, setError), [guard, pipelineId]);
  // Every save or restore gives the pipeline a new etag: the list then has a new version on top.
  useEffect(() => {
    void load();
  }, [load, current.etag]);

  const restore = async (version: number, message: string) => {
    // The confirm comes last so that a user who only opened the form is not asked anything.
    if (dirty && !window.confirm(t("Restoring version {version} replaces your unsaved changes. Restore it anyway?", { version }))) return;
    setBusy(true);
    setError(null);
    try {
      const sp = await api.restore(pipelineId, version, current.etag, message);
      setRestoring(null);
      onRestored(sp);
      void load();
    } catch (e) {
      const conflict = conflictOf(e);
      if (conflict && onConflict) {
        setRestoring(null);
        onConflict(conflict);
      } else setError(e);
    } finally {
      setBusy(false);
    }
  };

  const previousOf = (index: number): number | null => versions?.[index + 1]?.version ?? null;

  return (
    <Stack gap="2" h="100%" minH="0" data-testid="history-panel">
      <HStack>
        <Text fontWeight="semibold" flex="1">
          {t("History")}
        </Text>
        <CloseButton size="xs" aria-label={t("Close the history")} onClick={onClose} />
      </HStack>
      <ErrorBox error={error} />
      {versions === null && !error && (
        <Center py="4">
          <Spinner size="sm" />
        </Center>
      )}
      {versions !== null && versions.length === 0 && (
        <Text fontSize="sm" color="fg.muted">
          {t("No saved versions yet.")}
        </Text>
      )}
      {versions !== null && versions.length > 1 && <ComparePicker key={versions[0].version} versions={versions} onCompare={setComparing} />}
      <Stack gap="2" flex="1" minH="0" overflowY="auto">
        {versions?.map((v, i) => {
          const isCurrent = v.version === current.version;
          const previous = previousOf(i);
          const compare = isCurrent ? (previous === null ? null : { from: previous, to: v.version }) : { from: v.version, to: current.version };
          return (
            <VersionRow
              key={v.version}
              version={v}
              isCurrent={isCurrent}
              compare={compare}
              canRestore={!readOnly && !isCurrent}
              restoring={restoring === v.version}
              busy={busy}
              onCompare={setComparing}
              onAskRestore={() => setRestoring(v.version)}
              onRestore={(message) => void restore(v.version, message)}
              onCancelRestore={() => setRestoring(null)}
            />
          );
        })}
      </Stack>
      {comparing && <DiffView pipelineId={pipelineId} from={comparing.from} to={comparing.to} onClose={() => setComparing(null)} />}
    </Stack>
  );
}
