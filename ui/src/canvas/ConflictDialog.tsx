// A save that lost a race (409): show both versions and let the user choose, never silently overwrite.
import { Box, Button, CloseButton, Code, Dialog, HStack, Portal, SimpleGrid, Stack, Text } from "@chakra-ui/react";
import { specFromDocument } from "../api/document";
import type { Conflict, Spec } from "../api/types";
import { formatDate } from "../components";
import { t as translateNow, type Translate, useT } from "../i18n";

export function summarize(mine: Spec, theirs: Spec, t: Translate = translateNow): string[] {
  const lines: string[] = [];
  const ids = (s: Spec) => new Set((s.nodes ?? []).map((n) => n.id));
  const a = ids(mine);
  const b = ids(theirs);
  const onlyMine = [...a].filter((id) => !b.has(id));
  const onlyTheirs = [...b].filter((id) => !a.has(id));
  if (onlyMine.length) lines.push(t("Only in yours: {nodes}", { nodes: onlyMine.join(", ") }));
  if (onlyTheirs.length) lines.push(t("Only in the current version: {nodes}", { nodes: onlyTheirs.join(", ") }));
  const differs = (key: "config" | "label") =>
    (mine.nodes ?? []).filter((n) => {
      const other = (theirs.nodes ?? []).find((o) => o.id === n.id);
      return other && JSON.stringify(other[key] ?? null) !== JSON.stringify(n[key] ?? null);
    });
  const configured = differs("config");
  const labelled = differs("label");
  if (configured.length) lines.push(t("Configured differently: {nodes}", { nodes: configured.map((n) => n.id).join(", ") }));
  if (labelled.length) lines.push(t("Labelled differently: {nodes}", { nodes: labelled.map((n) => n.id).join(", ") }));
  const [ea, eb] = [(mine.edges ?? []).length, (theirs.edges ?? []).length];
  if (ea !== eb) lines.push(t("Connections: yours {yours}, current {current}", { yours: ea, current: eb }));
  if (!lines.length) lines.push(t("The graphs match; settings may differ."));
  return lines;
}

interface Props {
  conflict: Conflict | null;
  /** What this editor tried to save (the 409 body carries it too, unless the server dropped it). */
  mine: Spec;
  busy: boolean;
  onOverwrite: () => void;
  onTakeTheirs: () => void;
  onClose: () => void;
}

export function ConflictDialog({ conflict, mine, busy, onOverwrite, onTakeTheirs, onClose }: Props) {
  const t = useT();
  if (!conflict) return null;
  const current = conflict.current;
  const yours = conflict.yours ?? mine;
  return (
    <Dialog.Root open onOpenChange={(e) => !e.open && onClose()} size="xl" placement="center" scrollBehavior="inside">
      <Portal>
        <Dialog.Backdrop />
        <Dialog.Positioner>
          <Dialog.Content data-testid="conflict-dialog">
            <Dialog.Header>
              <Dialog.Title>{t("Someone saved this pipeline while you were editing")}</Dialog.Title>
            </Dialog.Header>
            <Dialog.Body>
              <Stack gap="3">
                <Text fontSize="sm">
                  {conflict.detail}{" "}
                  {current
                    ? t("The current version is {version}, saved {date}.", { version: current.version, date: formatDate(current.saved_at) })
                    : t("The pipeline was deleted meanwhile; overwriting stores yours again.")}
                </Text>
                {current && (
                  <Box fontSize="sm">
                    {summarize(specFromDocument(yours), specFromDocument(current.pipeline), t).map((l) => (
                      <Text key={l}>• {l}</Text>
                    ))}
                  </Box>
                )}
                <SimpleGrid columns={2} gap="3">
                  <Stack gap="1">
                    <Text fontWeight="semibold">{t("Yours")}</Text>
                    <Code as="pre" fontSize="2xs" p="2" maxH="50vh" overflow="auto" data-testid="conflict-yours">
                      {JSON.stringify(yours, null, 2)}
                    </Code>
                  </Stack>
                  <Stack gap="1">
                    <Text fontWeight="semibold">{current ? t("Current (version {version})", { version: current.version }) : t("Current: deleted")}</Text>
                    <Code as="pre" fontSize="2xs" p="2" maxH="50vh" overflow="auto" data-testid="conflict-current">
                      {current ? JSON.stringify(current.pipeline, null, 2) : "—"}
                    </Code>
                  </Stack>
                </SimpleGrid>
              </Stack>
            </Dialog.Body>
            <Dialog.Footer>
              <HStack>
                <Button variant="outline" onClick={onTakeTheirs} disabled={busy || !current}>
                  {t("Take theirs")}
                </Button>
                <Button colorPalette="red" onClick={onOverwrite} loading={busy}>
                  {t("Overwrite with mine")}
                </Button>
              </HStack>
            </Dialog.Footer>
            <Dialog.CloseTrigger asChild>
              <CloseButton size="sm" />
            </Dialog.CloseTrigger>
          </Dialog.Content>
        </Dialog.Positioner>
      </Portal>
    </Dialog.Root>
  );
}
