// Hosts the preview and suggestion panels under the canvas and connects them to the editor: what the
// preview shows (the selected node, or a suggestion's effect on a temporary pipeline) and Apply.
import { Box, Button, Flex, HStack, Text } from "@chakra-ui/react";
import { useReactFlow } from "@xyflow/react";
import { type Dispatch, useCallback, useEffect, useMemo, useState } from "react";
import type { Spec } from "../api/types";
import { graphToSpec } from "../graph/convert";
import { insertAfter, type NewStep } from "../graph/insert";
import { useT } from "../i18n";
import type { Graph } from "../graph/model";
import type { Action } from "../graph/reducer";
import { SuggestPanel } from "../suggest/SuggestPanel";
import { PreviewPanel, type PreviewTarget } from "./PreviewPanel";

/** The spec without canvas positions: moving a node must not re-run its preview. */
export function semanticKey(spec: Spec): string {
  return JSON.stringify({ ...spec, nodes: spec.nodes.map(({ position: _p, ...n }) => n) });
}

function useStableSpec(spec: Spec): Spec {
  const key = semanticKey(spec);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  return useMemo(() => spec, [key]);
}

interface Props {
  pipelineId: string;
  spec: Spec;
  graph: Graph;
  selectedId: string | null;
  readOnly: boolean;
  llm: boolean;
  dispatch: Dispatch<Action>;
  /** The selected node and those upstream with validation errors (their previews cannot run). */
  blockedBy?: string[];
  /** Open or folded to its title bar: the editor remembers it per user (``layout/panels``). */
  open: boolean;
  onToggle: () => void;
}

export function DataPanels({ pipelineId, spec, graph, selectedId, readOnly, llm, dispatch, blockedBy, open, onToggle }: Props) {
  const t = useT();
  const stable = useStableSpec(spec);
  const [effect, setEffect] = useState<PreviewTarget | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const flow = useReactFlow();

  // A suggestion's effect preview ends when the selection or the pipeline changes.
  useEffect(() => {
    setEffect(null);
    setNotice(null);
  }, [selectedId, stable]);

  const nodeTarget = useMemo<PreviewTarget | null>(() => (selectedId && !readOnly ? { spec: stable, nodeId: selectedId } : null), [selectedId, stable, readOnly]);

  const onApply = useCallback(
    (steps: NewStep[]) => {
      if (!selectedId) return;
      dispatch({ type: "insertAfter", after: selectedId, steps });
      // The inserted nodes push the rest right: bring the whole graph back into view once drawn.
      requestAnimationFrame(() => requestAnimationFrame(() => void flow.fitView({ padding: 0.2, maxZoom: 1.2, duration: 200 })));
    },
    [selectedId, dispatch, flow],
  );
  const onPreviewEffect = useCallback(
    (steps: NewStep[], title: string) => {
      if (!selectedId) return;
      const inserted = insertAfter(graph, selectedId, steps);
      if ("error" in inserted) {
        setNotice(inserted.error);
        return;
      }
      const temp = graphToSpec({ ...stable, nodes: [], edges: [] }, inserted.graph);
      setEffect({ spec: temp, nodeId: inserted.ids[inserted.ids.length - 1], effectOf: title });
    },
    [selectedId, graph, stable],
  );

  return (
    <Box borderTopWidth="1px" flexShrink={0} h={open ? "min(320px, 40vh)" : "auto"} display="flex" flexDirection="column" data-testid="data-panels">
      <HStack px="2" py="0.5" bg="bg.subtle" fontSize="xs" borderBottomWidth={open ? "1px" : "0"}>
        <Text fontWeight="semibold">{t("Data")}</Text>
        {readOnly && <Text color="fg.muted">{t("previews need edit access (they read real data through connections)")}</Text>}
        {notice && (
          <Text color="red.fg" data-testid="data-notice">
            {notice}
          </Text>
        )}
        <Box flex="1" />
        <Button size="2xs" variant="ghost" onClick={onToggle} data-testid="data-panels-toggle" aria-expanded={open}>
          {open ? t("hide") : t("show")}
        </Button>
      </HStack>
      {open && (
        <Flex flex="1" minH="0">
          <Box flex="1" minW="0">
            <PreviewPanel
              target={effect ?? nodeTarget}
              nodes={(effect?.spec ?? stable).nodes}
              onSelectNode={(id) => dispatch({ type: "select", nodes: [id] })}
              onBack={() => setEffect(null)}
              blockedBy={effect ? undefined : blockedBy}
            />
          </Box>
          <Box w="340px" flexShrink={0} borderLeftWidth="1px" minH="0">
            <SuggestPanel pipelineId={pipelineId} spec={stable} nodeId={selectedId} readOnly={readOnly} llm={llm} onApply={onApply} onPreviewEffect={onPreviewEffect} blockedBy={blockedBy} />
          </Box>
        </Flex>
      )}
    </Box>
  );
}
