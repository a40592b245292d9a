// The selected node's output columns with their types, as the server computed them without running.
// Clicking a column shows its lineage on the canvas (click again or Escape to clear); a source can read
// its columns again (a file or table changed since they were remembered).
import { Box, Button, HStack, Stack, Text } from "@chakra-ui/react";
import type { NodeSchema } from "../api/types";
import type { LineageStart } from "../graph/lineage";
import { t as translateNow, type Translate, useT } from "../i18n";

interface Props {
  nodeId: string;
  /** undefined: not checked yet; null: the check has nothing for this node (its config does not parse). */
  schema: NodeSchema | null | undefined;
  active: LineageStart | null;
  onLineage: (start: LineageStart | null) => void;
  /** Sources only: read the columns again. */
  onRefresh?: () => void;
  refreshing?: boolean;
  /** The node's problem messages: a reason one of them already gives is not repeated. */
  messages?: string[];
}

/** Why the columns are not known, unless an error of the node (shown at its field or card) says it. */
export function unknownReason(schema: NodeSchema, messages: string[], t: Translate = translateNow): string {
  if (schema.status === "error") return t("Not known while this node has errors.");
  const reason = schema.reason ?? "";
  // The reason is the server's, in its words.
  return reason && !messages.some((m) => m.includes(reason)) ? t("Not known yet: {reason}.", { reason }) : t("Not known yet.");
}

export function OutputColumns({ nodeId, schema, active, onLineage, onRefresh, refreshing = false, messages = [] }: Props) {
  const t = useT();
  const ports = schema?.status === "known" ? Object.entries(schema.ports) : [];
  return (
    <Stack gap="1" data-testid="output-columns" data-status={schema === undefined ? "pending" : (schema?.status ?? "unknown")}>
      <HStack justify="space-between">
        <Text fontSize="sm" fontWeight="medium">
          {t("Output columns")}
        </Text>
        {onRefresh && (
          <Button size="2xs" variant="ghost" onClick={onRefresh} loading={refreshing} data-testid="refresh-columns" title={t("Read the source's columns again (the server remembers them for a while)")}>
            ↻ {t("Refresh source columns")}
          </Button>
        )}
      </HStack>
      {schema === undefined && (
        <Text fontSize="xs" color="fg.muted">
          {t("Checking…")}
        </Text>
      )}
      {schema === null && (
        <Text fontSize="xs" color="fg.muted" data-testid="columns-unknown">
          {t("Not known until the node is configured.")}
        </Text>
      )}
      {schema && schema.status !== "known" && (
        <Text fontSize="xs" color="fg.muted" data-testid="columns-unknown">
          {unknownReason(schema, messages, t)}
        </Text>
      )}
      {ports.map(([port, columns]) => (
        <Box key={port} data-port={port}>
          {ports.length > 1 && (
            <Text fontSize="xs" color="fg.muted" mt="1">
              {port}
            </Text>
          )}
          {columns.length === 0 && (
            <Text fontSize="xs" color="fg.muted">
              {t("no columns")}
            </Text>
          )}
          {columns.map((c) => {
            const on = active?.nodeId === nodeId && active.port === port && active.column === c.name;
            return (
              <HStack
                key={c.name}
                as="button"
                w="full"
                px="1.5"
                py="0.5"
                gap="2"
                borderRadius="sm"
                fontSize="xs"
                textAlign="start"
                cursor="pointer"
                bg={on ? "orange.subtle" : undefined}
                _hover={{ bg: on ? "orange.subtle" : "bg.muted" }}
                aria-pressed={on}
                title={on ? t("Click again (or Escape) to clear") : t("Show where this column comes from and goes")}
                data-testid="output-column"
                data-column={c.name}
                data-port={port}
                onClick={() => onLineage(on ? null : { nodeId, port, column: c.name })}
              >
                <Text flex="1" truncate fontFamily="mono">
                  {c.name}
                </Text>
                <Text color="fg.muted" fontFamily="mono" data-testid="output-column-type">
                  {c.type}
                </Text>
              </HStack>
            );
          })}
        </Box>
      ))}
    </Stack>
  );
}
