// One pipeline node on the canvas: module, label, ports, problem counts (and, when selected, the node's
// own messages: field messages stay under their fields), a column lineage passing through it, and (after
// a run) its state and row counts. A node whose module is not installed still renders, as a "broken
// node" with the reason.
import { Badge, Box, HStack, Stack, Text } from "@chakra-ui/react";
import { Handle, type NodeProps, Position } from "@xyflow/react";
import { memo } from "react";
import { STATE_PALETTE, stateLabel } from "../components";
import { type FlowNode, LINEAGE_COLOUR } from "../graph/convert";
import { isWarning } from "../graph/errors";
import type { LineageMark } from "../graph/lineage";
import { DEFAULT_SOURCE_PORT, DEFAULT_TARGET_HANDLE } from "../graph/model";
import { useT } from "../i18n";
import { nodeLevelIssues } from "./issues";

export const NODE_WIDTH = 200;

const CATEGORY_PALETTE: Record<string, string> = { source: "teal", transform: "blue", destination: "purple" };
const CATEGORY_GLYPH: Record<string, string> = { source: "⇥", transform: "⚙", destination: "⤓" };

export function formatRows(n: number | null | undefined): string {
  if (n === null || n === undefined) return "–";
  return n >= 10_000 ? `${(n / 1000).toFixed(n >= 100_000 ? 0 : 1)}k` : String(n);
}

function portOffsets(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${((i + 1) * 100) / (count + 1)}%`);
}

function LineageColumns({ marks }: { marks: LineageMark[] }) {
  const t = useT();
  return (
    <Stack gap="0" mt="1" data-testid="node-lineage" title={t("Columns on the chosen column's path")}>
      {marks.map((m) => (
        <Text
          key={`${m.port}.${m.column}`}
          fontFamily="mono"
          truncate
          fontWeight={m.kind === "selected" ? "bold" : "normal"}
          fontStyle={m.kind === "indirect" ? "italic" : undefined}
          data-column={m.column}
          data-kind={m.kind}
          style={{ color: LINEAGE_COLOUR }}
        >
          {m.kind === "indirect" ? "⋯ " : "⇢ "}
          {m.column}
          {m.port !== DEFAULT_SOURCE_PORT ? ` (${m.port})` : ""}
        </Text>
      ))}
    </Stack>
  );
}

function NodeCardImpl({ data, selected }: NodeProps<FlowNode>) {
  const t = useT();
  const { node, module, issues, run, lineage, dimmed, engine } = data;
  const errors = issues.filter((i) => !isWarning(i));
  const warnings = issues.filter(isWarning);
  const broken = module === null;
  const category = module?.category ?? "unknown";
  const palette = CATEGORY_PALETTE[category] ?? "red";
  const inputs = broken
    ? [DEFAULT_TARGET_HANDLE]
    : module.input_ports?.length
      ? module.input_ports
      : category === "source" || module.max_inputs === 0
        ? []
        : [DEFAULT_TARGET_HANDLE];
  const outputs = broken ? [DEFAULT_SOURCE_PORT] : (module.outputs ?? []);
  const state = run?.state ?? null;
  const stateColour = state ? `${STATE_PALETTE[state] ?? "gray"}.solid` : null;
  const borderColor = broken || errors.length ? "red.solid" : warnings.length ? "orange.solid" : (stateColour ?? "border.emphasized");
  // The node's own messages (no form field shows them), on the card while it is selected.
  const own = selected ? nodeLevelIssues(issues, module, node.config) : [];
  const title = node.label || module?.label || node.module;

  return (
    <Box
      data-testid="node-card"
      data-node-id={node.id}
      data-state={state ?? undefined}
      data-broken={broken || undefined}
      data-lineage={lineage ? "on" : undefined}
      w={`${NODE_WIDTH}px`}
      bg="bg.panel"
      borderWidth={stateColour ? "3px" : "2px"}
      borderColor={borderColor}
      borderRadius="md"
      opacity={dimmed ? 0.45 : 1}
      boxShadow={selected ? "0 0 0 3px var(--chakra-colors-blue-focus-ring, #3b82f6)" : lineage ? `0 0 0 3px ${LINEAGE_COLOUR}` : "sm"}
      position="relative"
      fontSize="xs"
    >
      {inputs.map((port, i) => (
        <Handle
          key={`in-${port}`}
          id={port}
          type="target"
          position={Position.Left}
          style={{ top: portOffsets(inputs.length)[i], width: 10, height: 10 }}
          data-port={port}
        />
      ))}
      <HStack px="2" py="1" gap="2" bg={`${palette}.subtle`} borderTopRadius="md">
        <Text aria-hidden fontSize="sm">
          {broken ? "⚠" : (CATEGORY_GLYPH[category] ?? "•")}
        </Text>
        <Text fontWeight="semibold" fontSize="sm" truncate flex="1" title={title}>
          {title}
        </Text>
        {errors.length > 0 && (
          <Badge colorPalette="red" variant="solid" size="xs" data-testid="node-error-badge" data-count={errors.length} title={t("Select the node to see them at their fields (or here)")}>
            {t.plural(errors.length, "{count} error", "{count} errors")}
          </Badge>
        )}
        {warnings.length > 0 && (
          <Badge colorPalette="orange" variant="solid" size="xs" data-testid="node-warning-badge" data-count={warnings.length} title={t("Select the node to read the warnings")}>
            {t.plural(warnings.length, "{count} warning", "{count} warnings")}
          </Badge>
        )}
      </HStack>
      <Box px="2" py="1">
        <Text color="fg.muted" truncate>
          {node.id} · {module?.label ?? node.module}
        </Text>
        {broken && (
          <Text color="fg.error" data-testid="broken-node">
            {t("Unknown module “{module}”: install it or replace this node.", { module: node.module })}
          </Text>
        )}
        {own.length > 0 && (
          <Stack gap="0.5" mt="1" data-testid="node-messages">
            {own.map((issue, i) => (
              <Text key={i} color={isWarning(issue) ? "fg.warning" : "fg.error"} data-testid="node-message" data-severity={isWarning(issue) ? "warning" : "error"} title={issue.path} whiteSpace="normal">
                {issue.message}
              </Text>
            ))}
          </Stack>
        )}
        {engine?.engine === "postgres" && (
          <Badge mt="1" colorPalette="cyan" variant="subtle" size="xs" data-testid="node-engine" data-engine="postgres" title={t("A run executes this node as SQL inside PostgreSQL: its rows never leave the database")}>
            {t("in PostgreSQL")}
          </Badge>
        )}
        {engine?.engine === "engine" && engine.reason && (
          <Badge mt="1" colorPalette="gray" variant="subtle" size="xs" data-testid="node-engine" data-engine="engine" title={engine.reason}>
            {t("in the engine: why?")}
          </Badge>
        )}
        {lineage && <LineageColumns marks={lineage} />}
        {run && (
          <HStack gap="1" mt="1" data-testid="node-run">
            <Badge colorPalette={STATE_PALETTE[state ?? ""] ?? "gray"} variant="solid" size="xs">
              {state ? stateLabel(state, t) : t("no status")}
            </Badge>
            <Text data-testid="node-rows" title={t("rows in → rows out")}>
              {t("{rowsIn} → {rowsOut} rows", { rowsIn: formatRows(run.rows_in), rowsOut: formatRows(run.rows_out) })}
            </Text>
            {run.seconds !== null && run.seconds !== undefined && <Text color="fg.muted">{run.seconds.toFixed(1)} s</Text>}
          </HStack>
        )}
        {(inputs.length > 1 || outputs.length > 1) && (
          <HStack justify="space-between" color="fg.muted" fontSize="2xs" mt="1">
            <Text>{inputs.length > 1 ? inputs.join(" / ") : ""}</Text>
            <Text>{outputs.length > 1 ? outputs.join(" / ") : ""}</Text>
          </HStack>
        )}
      </Box>
      {outputs.map((port, i) => (
        <Handle
          key={`out-${port}`}
          id={port}
          type="source"
          position={Position.Right}
          style={{ top: portOffsets(outputs.length)[i], width: 10, height: 10 }}
          data-port={port}
        />
      ))}
    </Box>
  );
}

export const NodeCard = memo(NodeCardImpl);
