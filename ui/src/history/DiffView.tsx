// Two versions side by side in one picture: the union graph on the left, the server's change list on the
// right. The list is the server's (`GET /diff`: the same code as `logidata diff`), so the builder never
// disagrees with the CLI on what changed; the documents are fetched only to draw the graph.
import { Badge, Box, Button, Center, CloseButton, Dialog, Flex, Portal, Spinner, Stack, Text } from "@chakra-ui/react";
import { type ReactNode, useEffect, useMemo, useState } from "react";
import { api } from "../api/client";
import { specFromDocument } from "../api/document";
import type { Change, VersionDiff, VersionDocument } from "../api/types";
import { ErrorBox } from "../components";
import { useT } from "../i18n";
import { DiffCanvas } from "./DiffCanvas";
import { diffGraph, groupChanges, type NodeGroup } from "./diffGraph";

interface Loaded {
  diff: VersionDiff;
  from: VersionDocument;
  to: VersionDocument;
}

const ACTION_PALETTE: Record<Change["action"], string> = { added: "green", removed: "red", changed: "orange" };

function ChangeLine({ change }: { change: Change }) {
  return (
    <Text data-testid="diff-change" data-action={change.action} fontFamily="mono" fontSize="xs" whiteSpace="pre-wrap" wordBreak="break-word" color={`${ACTION_PALETTE[change.action]}.fg`}>
      {change.text}
    </Text>
  );
}

function ActionBadge({ action }: { action: Change["action"] }) {
  const t = useT();
  if (action === "added") return <Badge colorPalette="green" size="xs">{t("added")}</Badge>;
  if (action === "removed") return <Badge colorPalette="red" size="xs">{t("removed")}</Badge>;
  return <Badge colorPalette="orange" size="xs">{t("changed")}</Badge>;
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Stack gap="1">
      <Text fontWeight="semibold" fontSize="sm">
        {title}
      </Text>
      {children}
    </Stack>
  );
}

function NodeChanges({ group, focused, onFocus }: { group: NodeGroup; focused: boolean; onFocus: () => void }) {
  const t = useT();
  return (
    <Box borderWidth="1px" borderRadius="md" borderColor={focused ? "blue.solid" : "border"} data-testid={`diff-group-${group.node}`}>
      <Button variant="ghost" size="xs" w="full" justifyContent="flex-start" gap="2" onClick={onFocus} title={t("Show this node on the canvas")}>
        <Text fontWeight="semibold" truncate>
          {group.node}
        </Text>
        {group.module && (
          <Text color="fg.muted" fontFamily="mono" truncate>
            {group.module}
          </Text>
        )}
        <ActionBadge action={group.action} />
      </Button>
      <Stack gap="0.5" px="2" pb="1.5">
        {group.changes.map((c, i) => (
          <ChangeLine key={i} change={c} />
        ))}
      </Stack>
    </Box>
  );
}

function ChangeList({ diff, focus, onFocus }: { diff: VersionDiff; focus: string | null; onFocus: (id: string) => void }) {
  const t = useT();
  const grouped = useMemo(() => groupChanges(diff.changes), [diff]);
  if (!diff.changes.length) {
    return (
      <Text color="fg.muted" fontSize="sm" data-testid="diff-empty">
        {t("No changes (moves on the canvas are not compared)")}
      </Text>
    );
  }
  return (
    <Stack gap="4">
      {grouped.pipeline.length > 0 && (
        <Section title={t("Pipeline settings")}>
          {grouped.pipeline.map((c, i) => (
            <ChangeLine key={i} change={c} />
          ))}
        </Section>
      )}
      {grouped.nodes.length > 0 && (
        <Section title={t("Nodes")}>
          {grouped.nodes.map((g) => (
            <NodeChanges key={g.node} group={g} focused={g.node === focus} onFocus={() => onFocus(g.node)} />
          ))}
        </Section>
      )}
      {grouped.edges.length > 0 && (
        <Section title={t("Connections")}>
          {grouped.edges.map((c, i) => (
            <ChangeLine key={i} change={c} />
          ))}
        </Section>
      )}
    </Stack>
  );
}

function Legend() {
  const t = useT();
  return (
    <Flex gap="2" fontSize="xs" wrap="wrap" color="fg.muted">
      <Badge colorPalette="green" size="xs">{t("added")}</Badge>
      <Badge colorPalette="red" size="xs" variant="outline" borderStyle="dashed">{t("removed")}</Badge>
      <Badge colorPalette="orange" size="xs">{t("changed")}</Badge>
      <Badge size="xs" variant="outline">{t("unchanged")}</Badge>
    </Flex>
  );
}

interface Props {
  pipelineId: string;
  /** The older side of the comparison (what is drawn as removed ghosts). */
  from: number;
  /** The newer side (drawn where its nodes stand). */
  to: number;
  onClose: () => void;
}

export function DiffView({ pipelineId, from, to, onClose }: Props) {
  const t = useT();
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [focus, setFocus] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    setLoaded(null);
    setError(null);
    setFocus(null);
    Promise.all([api.diff(pipelineId, from, to), api.version(pipelineId, from), api.version(pipelineId, to)]).then(
      ([diff, fromDoc, toDoc]) => live && setLoaded({ diff, from: fromDoc, to: toDoc }),
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [pipelineId, from, to]);

  const graph = useMemo(
    () => (loaded ? diffGraph(specFromDocument(loaded.from.pipeline, pipelineId), specFromDocument(loaded.to.pipeline, pipelineId), loaded.diff.changes) : null),
    [loaded, pipelineId],
  );

  return (
    <Dialog.Root open onOpenChange={(e) => !e.open && onClose()} placement="center">
      <Portal>
        <Dialog.Backdrop />
        <Dialog.Positioner>
          <Dialog.Content data-testid="diff-view" w="92vw" maxW="92vw" h="85vh" maxH="85vh">
            <Dialog.Header>
              <Dialog.Title>{t("Changes from version {from} to version {to}", { from, to })}</Dialog.Title>
            </Dialog.Header>
            <Dialog.Body display="flex" flexDirection="column" gap="2" minH="0" pb="4">
              <ErrorBox error={error} title={t("The comparison could not be loaded")} />
              {!loaded && !error && (
                <Center flex="1">
                  <Spinner />
                </Center>
              )}
              {loaded && graph && (
                <Flex flex="1" minH="0" gap="3" direction={{ base: "column", md: "row" }}>
                  <Stack flex="1" minW="0" minH="0" gap="2">
                    <Legend />
                    <Box flex="1" minH="240px">
                      <DiffCanvas graph={graph} focus={focus} onSelect={setFocus} />
                    </Box>
                  </Stack>
                  <Box w={{ base: "full", md: "380px" }} flexShrink={0} overflowY="auto" minH="0" data-testid="diff-changes">
                    <ChangeList diff={loaded.diff} focus={focus} onFocus={setFocus} />
                  </Box>
                </Flex>
              )}
            </Dialog.Body>
            <Dialog.CloseTrigger asChild>
              <CloseButton size="sm" aria-label={t("Close the comparison")} />
            </Dialog.CloseTrigger>
          </Dialog.Content>
        </Dialog.Positioner>
      </Portal>
    </Dialog.Root>
  );
}
