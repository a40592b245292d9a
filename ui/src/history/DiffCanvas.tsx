// The two compared versions drawn as one read-only graph (diffGraph.ts): added green, removed as dashed red
// ghosts, changed amber with the number of changed fields. Its own React Flow instance, so the editor's
// canvas behind the dialog keeps its viewport and selection.
import "@xyflow/react/dist/style.css";
import { Badge, Box, HStack, Text } from "@chakra-ui/react";
import { Background, Controls, type Edge, Handle, MarkerType, type Node, type NodeProps, Position, ReactFlow, ReactFlowProvider, useReactFlow } from "@xyflow/react";
import { memo, useEffect, useMemo } from "react";
import { flowAriaLabels } from "../canvas/flowLabels";
import { portLabel } from "../graph/convert";
import { useT } from "../i18n";
import { useColorMode } from "../theme";
import type { DiffEdge, DiffGraph, DiffNode, EdgeMark, NodeMark } from "./diffGraph";

type DiffFlowNode = Node<{ node: DiffNode }, "diff">;

const NODE_WIDTH = 190;
const FIT = { padding: 0.2, maxZoom: 1.2 };

const NODE_PALETTE: Record<NodeMark, string | null> = { added: "green", removed: "red", changed: "orange", same: null };
// Edge strokes are SVG: plain colours that read on both light and dark backgrounds.
const EDGE_COLOUR: Record<EdgeMark, string> = { added: "#16a34a", removed: "#dc2626", same: "#9ca3af" };

function MarkBadge({ node }: { node: DiffNode }) {
  const t = useT();
  if (node.mark === "added") return <Badge colorPalette="green" size="xs">{t("added")}</Badge>;
  if (node.mark === "removed") return <Badge colorPalette="red" size="xs">{t("removed")}</Badge>;
  if (node.mark === "changed") {
    return (
      <Badge colorPalette="orange" size="xs" title={t("Fields changed")} data-testid="diff-node-count">
        {t.plural(node.changedFields, "{count} field", "{count} fields")}
      </Badge>
    );
  }
  return null;
}

function DiffNodeCardImpl({ data, selected }: NodeProps<DiffFlowNode>) {
  const { node } = data;
  const palette = NODE_PALETTE[node.mark];
  const hidden = { opacity: 0, pointerEvents: "none" as const };
  return (
    <Box
      data-testid={`diff-node-${node.id}`}
      data-diff={node.mark}
      w={`${NODE_WIDTH}px`}
      px="2"
      py="1.5"
      fontSize="xs"
      borderRadius="md"
      borderWidth="2px"
      borderStyle={node.mark === "removed" ? "dashed" : "solid"}
      borderColor={palette ? `${palette}.solid` : "border.emphasized"}
      bg={palette ? `${palette}.subtle` : "bg.panel"}
      opacity={node.mark === "removed" ? 0.75 : 1}
      boxShadow={selected ? "0 0 0 3px var(--chakra-colors-blue-focus-ring, #3b82f6)" : "sm"}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} style={hidden} />
      <HStack gap="1">
        <Text fontWeight="semibold" truncate flex="1" title={node.id} textDecoration={node.mark === "removed" ? "line-through" : undefined}>
          {node.label || node.id}
        </Text>
        <MarkBadge node={node} />
      </HStack>
      <Text color="fg.muted" fontFamily="mono" truncate title={node.module}>
        {node.module}
      </Text>
      <Handle type="source" position={Position.Right} isConnectable={false} style={hidden} />
    </Box>
  );
}

const NODE_TYPES = { diff: memo(DiffNodeCardImpl) };

function toEdge({ id, edge, mark }: DiffEdge): Edge {
  const colour = EDGE_COLOUR[mark];
  return {
    id,
    source: edge.source,
    target: edge.target,
    label: portLabel(edge),
    markerEnd: { type: MarkerType.ArrowClosed, width: 18, height: 18, color: colour },
    style: { stroke: colour, strokeWidth: mark === "same" ? 1.5 : 2.5, strokeDasharray: mark === "removed" ? "6 4" : undefined },
    selectable: false,
    focusable: false,
    domAttributes: { "data-diff": mark } as Edge["domAttributes"],
  };
}

interface Props {
  graph: DiffGraph;
  /** The node to select and zoom to (chosen in the change list). */
  focus: string | null;
  onSelect?: (nodeId: string | null) => void;
}

function Canvas({ graph, focus, onSelect }: Props) {
  const flow = useReactFlow();
  const mode = useColorMode();
  const t = useT();
  const ariaLabels = useMemo(() => flowAriaLabels(t), [t]);
  const nodes = useMemo<DiffFlowNode[]>(
    () => graph.nodes.map((node) => ({ id: node.id, type: "diff", position: node.position, data: { node }, selected: node.id === focus, draggable: false, connectable: false, deletable: false })),
    [graph, focus],
  );
  const edges = useMemo(() => graph.edges.map(toEdge), [graph]);

  useEffect(() => {
    if (focus) void flow.fitView({ nodes: [{ id: focus }], padding: 0.6, maxZoom: 1.2, duration: 200 });
  }, [flow, focus]);

  return (
    <ReactFlow<DiffFlowNode, Edge>
      nodes={nodes}
      edges={edges}
      nodeTypes={NODE_TYPES}
      colorMode={mode}
      ariaLabelConfig={ariaLabels}
      nodesDraggable={false}
      nodesConnectable={false}
      edgesFocusable={false}
      elementsSelectable
      deleteKeyCode={null}
      onNodeClick={(_, node) => onSelect?.(node.id)}
      onPaneClick={() => onSelect?.(null)}
      fitView
      fitViewOptions={FIT}
      minZoom={0.1}
      proOptions={{ hideAttribution: true }}
    >
      <Background gap={20} />
      <Controls showInteractive={false} />
    </ReactFlow>
  );
}

export function DiffCanvas(props: Props) {
  return (
    <Box data-testid="diff-canvas" w="100%" h="100%" minH="0" borderWidth="1px" borderRadius="md" overflow="hidden">
      <ReactFlowProvider>
        <Canvas {...props} />
      </ReactFlowProvider>
    </Box>
  );
}
