// The toolbar's problem count and the list under it. The list always holds the pipeline-wide problems
// that no field shows (they have nowhere else to be); opened from the count, it also names every node
// problem as `Node label › Field title: message` (its JSON path in the tooltip), a click selecting it.
import { Badge, Box, Button, HStack, Stack, Text } from "@chakra-ui/react";
import type { Issue } from "../api/types";
import { useT } from "../i18n";
import type { IssueLine } from "./issues";

export function ProblemCount({ lines, open, onToggle }: { lines: IssueLine[]; open: boolean; onToggle: () => void }) {
  const t = useT();
  const errors = lines.filter((l) => !l.warning).length;
  const warnings = lines.length - errors;
  if (!lines.length) return null;
  return (
    <Button size="2xs" variant="ghost" px="1" onClick={onToggle} aria-expanded={open} title={open ? t("Hide the list of problems") : t("List every problem")} data-testid="problems-toggle">
      {errors > 0 && (
        <Badge colorPalette="red" data-testid="issue-count" data-count={errors}>
          {t.plural(errors, "{count} problem", "{count} problems")}
        </Badge>
      )}
      {warnings > 0 && (
        <Badge colorPalette="orange" data-testid="warning-count" data-count={warnings}>
          {t.plural(warnings, "{count} warning", "{count} warnings")}
        </Badge>
      )}
    </Button>
  );
}

interface ListProps {
  lines: IssueLine[];
  /** Pipeline-wide problems no settings field shows: listed even while the list is closed. */
  loose: Issue[];
  open: boolean;
  onSelect: (nodeId: string | null) => void;
  onClose: () => void;
}

export function ProblemList({ lines, loose, open, onSelect, onClose }: ListProps) {
  const t = useT();
  const looseSet = new Set(loose);
  const shown = open ? lines : lines.filter((l) => looseSet.has(l.issue));
  if (!shown.length) return null;
  return (
    <Box px="3" py="1" borderBottomWidth="1px" bg="bg.subtle" fontSize="xs" maxH="40" overflowY="auto" data-testid="problems-list" data-open={open || undefined}>
      <Stack gap="0.5">
        {shown.map((line, i) => (
          <HStack key={i} gap="1" align="start" data-testid="problem" data-node-id={line.nodeId ?? undefined} data-severity={line.warning ? "warning" : "error"}>
            <Text color={line.warning ? "fg.warning" : "fg.error"} aria-hidden>
              {line.warning ? "⚠" : "●"}
            </Text>
            <Text flex="1" title={line.issue.path || undefined}>
              {line.nodeId || open ? (
                <Button variant="plain" size="xs" h="auto" p="0" minW="0" fontWeight="semibold" textDecoration="underline" onClick={() => onSelect(line.nodeId)}>
                  {line.where}
                </Button>
              ) : (
                <Text as="span" fontWeight="semibold">
                  {line.where}
                </Text>
              )}
              {t(": {message}", { message: line.issue.message })}
            </Text>
          </HStack>
        ))}
      </Stack>
      {open && (
        <Button size="2xs" variant="ghost" mt="1" onClick={onClose}>
          {t("hide")}
        </Button>
      )}
    </Box>
  );
}
