// The canvas page: loads a pipeline, edits it through the graph reducer, validates as you go (problems at
// their fields and nodes, every node's columns for the pickers and the lineage), saves (draft/active, with
// conflict handling), runs it and overlays the run's per-node state and row counts.
import "@xyflow/react/dist/style.css";
import { Alert, Badge, Box, Button, Center, Flex, HStack, IconButton, Input, Link, Separator, Spinner, Stack, Text } from "@chakra-ui/react";
import {
  Background,
  Controls,
  type Edge,
  type EdgeChange,
  MiniMap,
  type NodeChange,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
} from "@xyflow/react";
import { lazy, memo, Suspense, useCallback, useDeferredValue, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { readOnlyText, runTitle, usePipelineAccess } from "../api/access";
import { api, ApiError } from "../api/client";
import { documentStatus, specFromDocument } from "../api/document";
import type { Conflict, Issue, Module, NodeSchemas, Run, Spec, StoredPipeline, Validation } from "../api/types";
import { ConfigPanel } from "../canvas/ConfigPanelHost";
import { blockersOf, issueLines, looseIssues } from "../canvas/issues";
import { ProblemCount, ProblemList } from "../canvas/Problems";
import { ConflictDialog } from "../canvas/ConflictDialog";
import { flowAriaLabels } from "../canvas/flowLabels";
import { type ConnectionChoices, connectionsUnavailable } from "../form/SchemaForm";
import { NODE_WIDTH, NodeCard } from "../canvas/NodeCard";
import { DRAG_MIME, Palette } from "../canvas/Palette";
import type { PipelineMeta } from "../canvas/ConfigPanel";
import { ACTIVE_STATES, ErrorBox, errorText, formatDate, StateBadge, statusLabel, TopLink } from "../components";
import { backwardEdges, connectionToEdge, type FlowNode, graphToSpec, maxInputsFor, specToGraph, toFlowEdges, toFlowNodes } from "../graph/convert";
import { issuesByNode, pipelineIssues } from "../graph/errors";
import { latestGuard, runLatest } from "../graph/latest";
import { type LineageStart, lineagePath } from "../graph/lineage";
import { layeredLayout, needsLayout } from "../graph/layout";
import type { Graph, XY } from "../graph/model";
import { canRedo, canUndo, initialState, reducer } from "../graph/reducer";
import { specKey } from "../graph/saved";
import { dropUnsaved, keepUnsaved, readUnsaved, type UnsavedCopy } from "../graph/unsaved";
import { HistoryPanel } from "../history/HistoryPanel";
import { useT } from "../i18n";
import { inDagTab, usePanels } from "../layout/panels";
import { Rail } from "../layout/Rail";
import { hrefFor, replaceRoute } from "../router";
import { useColorMode } from "../theme";

const NODE_TYPES = { logidata: NodeCard };
// Preview and suggestions: their own chunk, fetched while the canvas draws.
// Memoised: while a node is dragged the editor re-renders every frame, the panels need not.
const DataPanels = lazy(() => import("../preview/DataPanels").then((m) => ({ default: memo(m.DataPanels) })));
const DrawerPanel = memo(ConfigPanel);
const NO_ISSUES: Issue[] = [];
const POLL_MS = 2000;
const VALIDATE_DEBOUNCE_MS = 400;

/** What the last validation said: problems apart by severity, and every node's output columns. */
interface Checked {
  errors: Issue[];
  warnings: Issue[];
  schemas: NodeSchemas;
  /** Where a run executes each node (inside PostgreSQL or in the engine) and why a pushdown stopped. */
  engines: Validation["engines"];
  /** False until `/validate` answered once (before that, the stored pipeline's own errors). */
  checked: boolean;
}

const uncheckedWith = (errors: Issue[]): Checked => ({ errors, warnings: [], schemas: {}, engines: {}, checked: false });
const fromValidation = (v: Validation): Checked => ({ errors: v.errors, warnings: v.warnings ?? [], schemas: v.schemas ?? {}, engines: v.engines ?? {}, checked: true });

// A small margin: the fitted zoom decides whether node texts can be read (tests/browser/test_workspace.py).
const FIT = { padding: 0.08, maxZoom: 1.2 };

function splitSpec(spec: Spec): { meta: PipelineMeta; graph: Graph } {
  const { nodes: _n, edges: _e, ...meta } = spec;
  const graph = specToGraph(spec);
  if (needsLayout(graph)) {
    const positions = layeredLayout(graph);
    graph.nodes = graph.nodes.map((n) => ({ ...n, position: positions[n.id] }));
  }
  return { meta, graph };
}

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
}

/** `canEdit` / `canRun`: the general answer of `GET /me`, used only if the pipeline's own cannot be had. */
type EditorProps = {
  pipelineId: string;
  canEdit: boolean;
  canRun: boolean;
  llm?: boolean;
  /** The node the address names (`#/pipelines/<id>/nodes/<node>`): selected on opening. */
  node?: string | null;
  /** Airflow's user name: the panels' layout is remembered per user. */
  username?: string;
};

export default function EditorPage(props: EditorProps) {
  return (
    <ReactFlowProvider>
      <Editor {...props} />
    </ReactFlowProvider>
  );
}

function Editor({ pipelineId, canEdit, canRun, llm = false, node = null, username = "" }: EditorProps) {
  const t = useT();
  const ariaLabels = useMemo(() => flowAriaLabels(t), [t]);
  const mode = useColorMode();
  const { layout, panels, toggle: togglePanel } = usePanels(username);
  // In the DAG's tab, Airflow's own header names the pipeline: the builder's header does not repeat it.
  const [dagTab] = useState(() => inDagTab());
  // A message the next save stores with its version (shown in the history).
  const [note, setNote] = useState("");
  const [historyOpen, setHistoryOpen] = useState(false);
  const [showReadOnly, setShowReadOnly] = useState(true);
  const toggleData = useCallback(() => togglePanel("data"), [togglePanel]);
  const flow = useReactFlow();
  const wrapper = useRef<HTMLDivElement>(null);
  // Fit once for a loaded graph; an empty canvas keeps its viewport so the first drop stays put.
  const initialFit = useRef<boolean | null>(null);

  const [modules, setModules] = useState<Module[] | null>(null);
  const [connections, setConnections] = useState<ConnectionChoices>(null);
  const [stored, setStored] = useState<StoredPipeline | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [meta, setMeta] = useState<PipelineMeta | null>(null);
  const [state, dispatch] = useReducer(reducer, undefined, () => initialState());
  // The content of the version last loaded or saved (``specKey``): "unsaved changes" compares with it.
  const [savedKey, setSavedKey] = useState<string | null>(null);
  // Unsaved changes this browser kept from an earlier visit, offered back (``graph/unsaved``).
  const [recovered, setRecovered] = useState<UnsavedCopy | null>(null);
  const [validation, setValidation] = useState<Checked>(() => uncheckedWith([]));
  const [refreshing, setRefreshing] = useState(false);
  const [lineage, setLineage] = useState<LineageStart | null>(null);
  const [problemsOpen, setProblemsOpen] = useState(false);
  // Validation answers may arrive out of order: only the newest request's answer is applied.
  const validations = useRef(latestGuard());
  // `run`: the run a "Run ... started" message is about; the message goes once that run has ended.
  const [message, setMessage] = useState<{ status: "error" | "success" | "info" | "warning"; text: string; run?: string } | null>(null);
  const [saving, setSaving] = useState(false);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [runs, setRuns] = useState<Run[]>([]);
  const [dagFound, setDagFound] = useState<boolean | null>(null);
  const [pendingRun, setPendingRun] = useState<string | null>(null);
  // Runs of earlier versions (those known when this version was saved): their overlay would describe a
  // graph that is no longer the pipeline's.
  const [staleRuns, setStaleRuns] = useState<ReadonlySet<string>>(() => new Set());
  const [measured, setMeasured] = useState<Record<string, { width: number; height: number }>>({});

  // Airflow's permissions on this pipeline's DAG (per-DAG grants), asked while the pipeline loads.
  const access = usePipelineAccess(pipelineId, { canEdit, canRun });
  const readOnly = !access?.canEdit;
  const moduleMap = useMemo(() => new Map((modules ?? []).map((m) => [m.name, m])), [modules]);

  /** Show a stored version; returns its content's key (``specKey``), the one "unsaved changes" compares with. */
  const applyStored = useCallback((sp: StoredPipeline): string => {
    const { meta: m, graph } = splitSpec(specFromDocument(sp.pipeline));
    setStored(sp);
    setMeta(m);
    dispatch({ type: "load", graph });
    const key = specKey(graphToSpec({ ...m, nodes: [], edges: [] } as Spec, graph));
    setSavedKey(key);
    setValidation(uncheckedWith(sp.errors ?? []));
    setLineage(null);
    return key;
  }, []);

  // Load the pipeline, the module catalog and the connections (for pickers) in parallel.
  useEffect(() => {
    let live = true;
    Promise.all([api.pipeline(pipelineId), api.modules()]).then(
      ([sp, ms]) => {
        if (!live) return;
        setModules(ms);
        const savedAs = applyStored(sp);
        // Unsaved changes kept from an earlier visit (a reload, a crash, an expired session) are offered back.
        const kept = readUnsaved(pipelineId);
        if (kept && specKey(kept.spec) !== savedAs) setRecovered(kept);
        else if (kept) dropUnsaved(pipelineId);
      },
      (e: unknown) => live && setLoadError(e),
    );
    api.connections().then(
      (cs) => live && setConnections(cs),
      // A pipeline editor may lack connection read permission: the pickers then take a typed id.
      (e: unknown) => live && setConnections(connectionsUnavailable(e)),
    );
    return () => {
      live = false;
    };
  }, [pipelineId, applyStored]);

  const spec = useMemo(() => (meta ? graphToSpec({ ...meta, nodes: [], edges: [] } as Spec, state.graph) : null), [meta, state.graph]);
  // A drag changes the graph every frame. What only reads it (validation, previews, the drawer while
  // dragging, whether it differs from the saved version) follows a deferred copy, so React renders the
  // canvas first and the rest when it has time.
  const deferredGraph = useDeferredValue(state.graph);
  const deferredSpec = useDeferredValue(spec);
  const currentKey = useMemo(() => (deferredSpec ? specKey(deferredSpec) : null), [deferredSpec]);
  const dirty = savedKey !== null && currentKey !== null && currentKey !== savedKey;
  // Keep the unsaved graph in this browser (after the edits settle); drop it once nothing is unsaved. A
  // copy offered back stays until it is restored or discarded.
  const pendingCopy = useRef<UnsavedCopy | null>(null);
  const flushCopy = useCallback(() => {
    if (pendingCopy.current) keepUnsaved(pipelineId, pendingCopy.current);
    pendingCopy.current = null;
  }, [pipelineId]);
  useEffect(() => {
    if (recovered || savedKey === null || !deferredSpec || !stored) return;
    if (!dirty) {
      pendingCopy.current = null;
      dropUnsaved(pipelineId);
      return;
    }
    pendingCopy.current = { spec: deferredSpec, version: stored.version, keptAt: new Date().toISOString() };
    const timer = setTimeout(flushCopy, 300);
    return () => clearTimeout(timer);
  }, [dirty, deferredSpec, savedKey, stored, recovered, pipelineId, flushCopy]);
  // What is still pending is written when the editor goes (a 401 replaces it, the user navigates) or the
  // page is hidden or unloaded.
  useEffect(() => {
    window.addEventListener("pagehide", flushCopy);
    return () => {
      window.removeEventListener("pagehide", flushCopy);
      flushCopy();
    };
  }, [flushCopy]);
  const dragging = state.dragStart != null;
  const onMeta = useCallback((m: PipelineMeta) => {
    setMeta(m);
  }, []);

  // Validate on open and after every edit (debounced): problems appear at their fields and nodes before
  // saving, and every node's columns feed the pickers and the lineage. A stale answer is dropped.
  const validate = useCallback(
    (pipeline: Spec, refresh = false) => runLatest(validations.current, () => api.validate(pipeline, { refresh }), (v) => setValidation(fromValidation(v))),
    [],
  );
  useEffect(() => {
    if (!deferredSpec || readOnly) return;
    const timer = setTimeout(() => void validate(deferredSpec), VALIDATE_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [deferredSpec, readOnly, validate]);
  const refreshColumns = useCallback(() => {
    if (!spec) return;
    setRefreshing(true);
    void validate(spec, true).finally(() => setRefreshing(false));
  }, [spec, validate]);

  // Runs: fetched on open, then every 2 s while a run is active, one was just started, or an active
  // pipeline's DAG is not parsed yet.
  const latest = runs[0] ?? null;
  const active = Boolean(latest && ACTIVE_STATES.has(latest.state ?? ""));
  const waitingForDag = meta?.status === "active" && dagFound === false;
  const refreshRuns = useCallback(() => {
    api.runs(pipelineId).then(
      (r) => {
        setRuns(r.runs);
        setDagFound(r.dag_found);
        setPendingRun((p) => (p && r.runs.some((run) => run.run_id === p) ? null : p));
      },
      () => undefined,
    );
  }, [pipelineId]);
  useEffect(refreshRuns, [refreshRuns]);
  useEffect(() => {
    if (!active && !pendingRun && !waitingForDag) return;
    const timer = setInterval(refreshRuns, POLL_MS);
    return () => clearInterval(timer);
  }, [active, pendingRun, waitingForDag, refreshRuns]);

  const issues = useMemo(() => [...validation.errors, ...validation.warnings], [validation]);
  const nodeIssues = useMemo(() => issuesByNode(issues, deferredGraph.nodes), [issues, deferredGraph.nodes]);
  const problemLines = useMemo(() => issueLines(issues, nodeIssues, deferredGraph.nodes, moduleMap, t), [issues, nodeIssues, deferredGraph.nodes, moduleMap, t]);
  const loose = useMemo(() => looseIssues(pipelineIssues(issues, deferredGraph.nodes)), [issues, deferredGraph.nodes]);
  // The list closes with its last problem, so the next problem does not open it unasked.
  useEffect(() => {
    if (!problemLines.length) setProblemsOpen(false);
  }, [problemLines.length]);
  const selectedId = state.selectedNodes.length === 1 ? state.selectedNodes[0] : null;
  const blockedBy = useMemo(() => (selectedId ? blockersOf(deferredGraph.edges, selectedId, nodeIssues) : []), [selectedId, deferredGraph.edges, nodeIssues]);
  const path = useMemo(() => (lineage ? lineagePath(validation.schemas, deferredGraph.edges, lineage) : null), [lineage, validation.schemas, deferredGraph.edges]);
  const stale = Boolean(latest && staleRuns.has(latest.run_id));
  const showRun = latest && !stale && (!dirty || active) ? latest : null;
  const messageRun = message?.run;
  useEffect(() => {
    const run = messageRun ? runs.find((r) => r.run_id === messageRun) : undefined;
    if (run && !ACTIVE_STATES.has(run.state ?? "")) setMessage((m) => (m?.run === messageRun ? null : m));
  }, [runs, messageRun]);

  // React Flow node objects are rebuilt only for nodes whose inputs changed, so a 200-node canvas stays
  // smooth while one node is dragged.
  const cache = useRef(new Map<string, { key: unknown[]; node: FlowNode }>());
  const nodes = useMemo(() => {
    const fresh = toFlowNodes(state.graph, {
      modules: moduleMap,
      issues: nodeIssues,
      runNodes: showRun?.nodes,
      selected: state.selectedNodes,
      readOnly,
      lineage: path,
      engines: validation.engines,
    });
    const next = new Map<string, { key: unknown[]; node: FlowNode }>();
    const out = fresh.map((n, i) => {
      const specNode = state.graph.nodes[i];
      const key = [specNode, n.selected, n.data.module, n.data.issues.length ? n.data.issues : null, n.data.run, readOnly, measured[n.id], n.data.lineage, n.data.dimmed, n.data.engine];
      const old = cache.current.get(n.id);
      const same = old && old.key.length === key.length && old.key.every((k, j) => k === key[j]);
      const node = same ? old.node : { ...n, measured: measured[n.id] };
      next.set(n.id, { key, node });
      return node;
    });
    cache.current = next;
    return out;
  }, [state.graph, moduleMap, nodeIssues, showRun, state.selectedNodes, readOnly, measured, path]);
  // A move keeps the edge list (same array): edges are rebuilt only when they, selection or runs change.
  const graphEdges = state.graph.edges;
  // Which edges run backwards (drawn as steps): recomputed on a move, but the edges only when it changes.
  const backwardKey = backwardEdges(state.graph).join("\n");
  const backward = useMemo(() => new Set(backwardKey ? backwardKey.split("\n") : []), [backwardKey]);
  const edges = useMemo(
    () => toFlowEdges({ nodes: [], edges: graphEdges }, { selectedEdges: state.selectedEdges, runNodes: showRun?.nodes, readOnly, lineage: path, backward }),
    [graphEdges, state.selectedEdges, showRun, readOnly, path, backward],
  );

  const onNodesChange = useCallback(
    (changes: NodeChange<FlowNode>[]) => {
      const positions: Record<string, XY> = {};
      let selection: Set<string> | null = null;
      const dims: Record<string, { width: number; height: number }> = {};
      for (const c of changes) {
        if (c.type === "position" && c.position && !readOnly) positions[c.id] = c.position;
        else if (c.type === "dimensions" && c.dimensions) dims[c.id] = { width: c.dimensions.width, height: c.dimensions.height };
        else if (c.type === "select") {
          selection ??= new Set(state.selectedNodes);
          if (c.selected) selection.add(c.id);
          else selection.delete(c.id);
        }
      }
      if (Object.keys(dims).length) setMeasured((m) => ({ ...m, ...dims }));
      if (Object.keys(positions).length) dispatch({ type: "move", positions });
      if (selection) dispatch({ type: "select", nodes: [...selection], edges: state.selectedEdges });
    },
    [readOnly, state.selectedNodes, state.selectedEdges],
  );

  const onEdgesChange = useCallback(
    (changes: EdgeChange<Edge>[]) => {
      let selection: Set<string> | null = null;
      for (const c of changes) {
        if (c.type === "select") {
          selection ??= new Set(state.selectedEdges);
          if (c.selected) selection.add(c.id);
          else selection.delete(c.id);
        }
      }
      if (selection) dispatch({ type: "select", nodes: state.selectedNodes, edges: [...selection] });
    },
    [state.selectedNodes, state.selectedEdges],
  );

  const addModule = useCallback(
    (module: Module, at?: XY) => {
      let position = at;
      if (!position) {
        const rect = wrapper.current?.getBoundingClientRect();
        const centre = rect ? { x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 } : { x: 300, y: 200 };
        position = flow.screenToFlowPosition(centre);
        position = { x: position.x - NODE_WIDTH / 2 + (state.graph.nodes.length % 5) * 20, y: position.y - 30 + (state.graph.nodes.length % 5) * 20 };
      }
      dispatch({ type: "addNode", module: module.name, position: { x: Math.round(position.x), y: Math.round(position.y) } });
    },
    [flow, state.graph.nodes.length],
  );

  // Keyboard: undo/redo, copy/paste, delete — not while typing in a form field.
  useEffect(() => {
    if (readOnly) return;
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e.target)) return;
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && key === "z") dispatch({ type: e.shiftKey ? "redo" : "undo" });
      else if (mod && key === "y") dispatch({ type: "redo" });
      else if (mod && key === "c") dispatch({ type: "copy" });
      else if (mod && key === "v") dispatch({ type: "paste" });
      else if (e.key === "Delete" || e.key === "Backspace") dispatch({ type: "deleteSelection" });
      else return;
      e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [readOnly]);
  // Escape clears a shown lineage (outside form fields: there it closes a column list).
  useEffect(() => {
    if (!lineage) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && !isTyping(e.target)) setLineage(null);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [lineage]);

  const save = useCallback(
    async (status: "draft" | "active", overwriteEtag?: string) => {
      if (!spec || !stored) return;
      const body: Spec = { ...spec, status };
      setSaving(true);
      setMessage(null);
      try {
        const sp = await api.update(body, overwriteEtag ?? stored.etag, note.trim() || undefined);
        setStored(sp);
        setNote("");
        const savedAs = documentStatus(sp.pipeline);
        setMeta((m) => (m ? { ...m, status: savedAs } : m));
        setSavedKey(specKey({ ...body, status: savedAs }));
        setStaleRuns(new Set(runs.map((r) => r.run_id)));
        // The problems stay those of the last validation: saving changed the status only, and that change
        // validates again.
        setConflict(null);
        const saved = { version: sp.version, status: statusLabel(savedAs, t) };
        setMessage({
          status: sp.errors?.length ? "warning" : "success",
          text: sp.errors?.length
            ? t.plural(sp.errors.length, "Saved version {version} as {status} with {count} problem.", "Saved version {version} as {status} with {count} problems.", saved)
            : t("Saved version {version} as {status}.", saved),
        });
        if (savedAs === "active") refreshRuns();
      } catch (e) {
        if (e instanceof ApiError && e.status === 409 && e.body && typeof e.body === "object" && "current" in e.body) {
          setConflict(e.body as Conflict);
        } else if (e instanceof ApiError && e.status === 422) {
          // Refused as active: the answer's errors go where validation errors go (fields, nodes, the
          // pipeline list); the edit stays as it is, unsaved.
          const refused = e.errors;
          if (refused.length) {
            // Newer than any validation still on its way.
            validations.current.issue();
            setValidation((v) => ({ ...v, errors: refused.filter((i) => i.severity !== "warning") }));
          }
          setMessage({
            status: "error",
            text: refused.length
              ? t.plural(
                  refused.length,
                  "Not saved: {count} problem, shown at its field or node. A pipeline with problems can be saved as a draft.",
                  "Not saved: {count} problems, shown at their fields and nodes. A pipeline with problems can be saved as a draft.",
                )
              : t("Not saved: some problems, shown at their fields and nodes. A pipeline with problems can be saved as a draft."),
          });
        } else {
          setMessage({ status: "error", text: errorText(e) });
        }
      } finally {
        setSaving(false);
      }
    },
    [spec, stored, runs, refreshRuns, note, t],
  );

  // The pipeline was deleted while we edited: "overwrite with mine" stores it again.
  const recreate = useCallback(
    async (status: "draft" | "active") => {
      if (!spec) return;
      setSaving(true);
      try {
        const sp = await api.create({ ...spec, status });
        applyStored(sp);
        setConflict(null);
        setMessage({ status: "success", text: t("Stored again as version {version}.", { version: sp.version }) });
      } catch (e) {
        setMessage({ status: "error", text: errorText(e) });
      } finally {
        setSaving(false);
      }
    },
    [spec, applyStored, t],
  );

  // Closing the tab (or reloading) with unsaved changes asks first, as the browser lets a page ask.
  useEffect(() => {
    if (!dirty) return;
    const ask = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = "";
    };
    window.addEventListener("beforeunload", ask);
    return () => window.removeEventListener("beforeunload", ask);
  }, [dirty]);
  const leave = useCallback(
    (e: { preventDefault: () => void }) => {
      if (dirty && !window.confirm(t("Leave {pipeline} without saving? Your unsaved changes will be lost.", { pipeline: pipelineId }))) e.preventDefault();
    },
    [dirty, pipelineId, t],
  );
  const saveDraft = useCallback(() => {
    const question = t(
      "{pipeline} is active. Saved as a draft, its DAG leaves Airflow (no more scheduled runs) until the pipeline is activated again; its past runs stay in Airflow. Save as draft?",
      { pipeline: pipelineId },
    );
    if (meta?.status === "active" && !window.confirm(question)) return;
    void save("draft");
  }, [meta?.status, pipelineId, save, t]);

  const restoreKept = useCallback(() => {
    if (!recovered) return;
    const { meta: m, graph } = splitSpec(recovered.spec);
    setMeta(m);
    dispatch({ type: "load", graph });
    setRecovered(null);
    setMessage({ status: "info", text: t("Your unsaved changes are back on the canvas; save them to keep them.") });
  }, [recovered, t]);
  const discardKept = useCallback(() => {
    dropUnsaved(pipelineId);
    setRecovered(null);
  }, [pipelineId]);
  // A version restored from the history is the pipeline now: the canvas shows it, earlier runs are stale.
  const onRestored = useCallback(
    (sp: StoredPipeline) => {
      applyStored(sp);
      dropUnsaved(pipelineId);
      setRecovered(null);
      setStaleRuns(new Set(runs.map((r) => r.run_id)));
      setMessage({ status: "success", text: t("Restored: the pipeline is now version {version} ({status}).", { version: sp.version, status: statusLabel(documentStatus(sp.pipeline), t) }) });
      requestAnimationFrame(() => void flow.fitView(FIT));
    },
    [applyStored, pipelineId, runs, flow, t],
  );

  const mayUnpause = Boolean(access?.canEdit);
  const runNow = useCallback(async () => {
    setMessage(null);
    try {
      // Unpausing a paused DAG needs DAG edit permission: without it the run is queued, the DAG stays paused.
      const created = await api.run(pipelineId, mayUnpause);
      setPendingRun(created.run_id);
      setMessage({
        run: created.run_id,
        status: "info",
        text: mayUnpause
          ? t("Run {run} started.", { run: created.run_id })
          : t("Run {run} queued. If the DAG is paused it waits until someone with DAG edit permission unpauses it.", { run: created.run_id }),
      });
      refreshRuns();
    } catch (e) {
      setMessage({ status: "error", text: errorText(e) });
    }
  }, [pipelineId, mayUnpause, refreshRuns, t]);

  // Until the user pans or zooms, the canvas keeps the whole graph in view as its size changes: the data
  // panel mounting after the first fit, a banner, the window or Airflow's tab being resized. (The first
  // fit ran before the panels settled, leaving nodes at the bottom edge, or below it in the DAG tab.)
  const autoFit = useRef(true);
  const graphRef = useRef(state.graph); // the graph as it is now, for callbacks that outlive a render
  graphRef.current = state.graph;
  const loaded = Boolean(stored && meta && modules && access);
  useEffect(() => {
    const el = wrapper.current;
    if (!loaded || !el || typeof ResizeObserver === "undefined") return;
    let frame = 0;
    const observer = new ResizeObserver(() => {
      if (!autoFit.current || !graphRef.current.nodes.length) return;
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => void flow.fitView(FIT));
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      cancelAnimationFrame(frame);
    };
  }, [loaded, flow]);

  // The selected node is in the address (a link to it can be shared): the address selects it on opening
  // (or when it changes: Back, a bookmark), a selection changes the address.
  const urlApplied = useRef(false);
  useEffect(() => {
    if (!loaded) return;
    if (node && node !== selectedId && graphRef.current.nodes.some((n) => n.id === node)) dispatch({ type: "select", nodes: [node], edges: [] });
    urlApplied.current = true;
    // selectedId is read, not followed: the other effect writes the selection into the address.
  }, [loaded, node]);
  useEffect(() => {
    if (urlApplied.current && (node ?? null) !== selectedId) replaceRoute({ page: "pipeline", id: pipelineId, node: selectedId });
  }, [selectedId]);

  const autoLayout = useCallback(() => {
    dispatch({ type: "setPositions", positions: layeredLayout(state.graph) });
    requestAnimationFrame(() => flow.fitView({ ...FIT, duration: 200 }));
  }, [state.graph, flow]);

  if (loadError) {
    return (
      <Stack p="4">
        <Link href={hrefFor({ page: "list" })}>← {t("Pipelines")}</Link>
        <ErrorBox error={loadError} title={t("Cannot open pipeline {pipeline}", { pipeline: pipelineId })} />
      </Stack>
    );
  }
  if (!stored || !meta || !modules || !spec || !access) {
    return (
      <Center h="100vh">
        <Spinner />
      </Center>
    );
  }

  initialFit.current ??= state.graph.nodes.length > 0;
  const selectedNode = state.selectedNodes.length === 1 ? (state.graph.nodes.find((n) => n.id === state.selectedNodes[0]) ?? null) : null;
  // While dragging, the drawer shows the deferred node (only its position changes); otherwise the live
  // one, so form fields never lag behind typing.
  const panelGraph = dragging ? deferredGraph : state.graph;
  const panelNode = selectedNode ? (panelGraph.nodes.find((n) => n.id === selectedNode.id) ?? selectedNode) : null;
  const drawer = (
    <Box w={layout === "full" ? "340px" : "100%"} h="100%" flexShrink={0} borderLeftWidth="1px" display="flex" flexDirection="column" minH="0" data-testid="config-drawer">
      <HStack px="2" py="1" borderBottomWidth="1px" bg="bg.subtle" gap="1">
        <Button size="2xs" variant={historyOpen ? "ghost" : "subtle"} onClick={() => setHistoryOpen(false)} aria-pressed={!historyOpen} data-testid="drawer-configure">
          {selectedNode ? t("Configure") : t("Settings")}
        </Button>
        <Button size="2xs" variant={historyOpen ? "subtle" : "ghost"} onClick={() => setHistoryOpen(true)} aria-pressed={historyOpen} data-testid="history-open">
          {t("History")}
        </Button>
        <Box flex="1" />
        <IconButton size="2xs" variant="ghost" aria-label={t("Hide the panel")} title={t("Hide the panel")} onClick={() => togglePanel("drawer", false)} data-testid="drawer-hide">
          ›
        </IconButton>
      </HStack>
      <Box flex="1" minH="0" p="3" overflowY="auto">
        {historyOpen ? (
          <HistoryPanel pipelineId={pipelineId} current={stored} readOnly={readOnly} dirty={dirty} onRestored={onRestored} onConflict={setConflict} onClose={() => setHistoryOpen(false)} />
        ) : (
          <DrawerPanel
            node={panelNode}
            module={panelNode ? (moduleMap.get(panelNode.module) ?? null) : null}
            graph={panelGraph}
            issues={issues}
            nodeIssues={panelNode ? (nodeIssues.get(panelNode.id) ?? NO_ISSUES) : NO_ISSUES}
            schemas={validation.schemas}
            checked={validation.checked}
            lineage={lineage}
            meta={meta}
            readOnly={readOnly}
            connections={connections}
            refreshing={refreshing}
            dispatch={dispatch}
            onMeta={onMeta}
            onLineage={setLineage}
            onRefreshColumns={refreshColumns}
          />
        )}
      </Box>
    </Box>
  );
  const runnable = access.canRun && meta.status === "active" && !dirty && dagFound === true;
  const runHint = runTitle({ pipelineId, access, status: meta.status, dirty, dagFound });

  return (
    <Flex direction="column" h="100vh" data-testid="editor" data-pipeline={pipelineId}>
      <HStack px="3" py="2" borderBottomWidth="1px" gap="2" wrap="wrap" bg="bg.subtle">
        {!dagTab && (
          <>
            <Link href={hrefFor({ page: "list" })} fontSize="sm" onClick={leave}>
              ← {t("Pipelines")}
            </Link>
            <Separator orientation="vertical" h="5" />
            <Text fontWeight="semibold">{meta.name || meta.id}</Text>
          </>
        )}
        <Badge colorPalette={meta.status === "active" ? "blue" : "gray"} data-testid="pipeline-status">
          {statusLabel(meta.status, t)}
        </Badge>
        <Text fontSize="xs" color="fg.muted" data-testid="pipeline-version">
          v{stored.version}
          {dirty ? ` · ${t("unsaved changes")}` : ""}
        </Text>
        {meta.status === "active" && (
          <Badge colorPalette={dagFound ? "green" : "yellow"} variant="subtle" data-testid="dag-status">
            {dagFound ? (
              <TopLink href={`/dags/${encodeURIComponent(pipelineId)}`} title={t("Open the DAG in Airflow")}>
                {t("DAG in Airflow")}
              </TopLink>
            ) : (
              t("waiting for Airflow to parse the DAG")
            )}
          </Badge>
        )}
        <ProblemCount lines={problemLines} open={problemsOpen} onToggle={() => setProblemsOpen((o) => !o)} />
        <Box flex="1" />
        {readOnly && (
          <Badge colorPalette="gray" variant="outline" data-testid="read-only" title={readOnlyText(pipelineId, access)} cursor="pointer" onClick={() => setShowReadOnly(true)}>
            {t("read-only")}
          </Badge>
        )}
        {!readOnly && (
          <>
            <Button size="xs" variant="ghost" onClick={() => dispatch({ type: "undo" })} disabled={!canUndo(state)} title={t("Undo (Ctrl+Z)")}>
              {t("Undo")}
            </Button>
            <Button size="xs" variant="ghost" onClick={() => dispatch({ type: "redo" })} disabled={!canRedo(state)} title={t("Redo (Ctrl+Shift+Z)")}>
              {t("Redo")}
            </Button>
            <Button size="xs" variant="ghost" onClick={autoLayout} title={t("Arrange the graph left to right")}>
              {t("Auto-layout")}
            </Button>
          </>
        )}
        <Button size="xs" variant="ghost" onClick={() => flow.fitView({ padding: 0.2, duration: 200 })} title={t("Zoom to fit")}>
          {t("Fit")}
        </Button>
        {!readOnly && (
          <>
            {dirty && (
              <Input
                size="xs"
                w="44"
                maxLength={500}
                placeholder={t("What changed? (optional)")}
                aria-label={t("What changed (stored with the version)")}
                value={note}
                onChange={(e) => setNote(e.target.value)}
                data-testid="save-message"
              />
            )}
            <Button size="xs" variant="outline" onClick={saveDraft} loading={saving}>
              {t("Save draft")}
            </Button>
            <Button size="xs" colorPalette="brand" onClick={() => void save("active")} loading={saving}>
              {t("Save & activate")}
            </Button>
          </>
        )}
        {/* A viewer (neither permission) has the banner's explanation instead. */}
        {(!readOnly || access.canRun) && (
          <Button size="xs" colorPalette="green" onClick={() => void runNow()} disabled={!runnable} title={runHint}>
            {t("Run now")}
          </Button>
        )}
      </HStack>
      {latest && (
        <HStack px="3" py="1" gap="2" fontSize="xs" borderBottomWidth="1px" data-testid="run-bar">
          <Text>{t("Last run")}</Text>
          <StateBadge state={latest.state} />
          <TopLink href={`/dags/${encodeURIComponent(pipelineId)}/runs/${encodeURIComponent(latest.run_id)}`} color="fg.muted" title={t("Open this run in Airflow")}>
            {latest.run_id}
          </TopLink>
          {active && <Spinner size="xs" />}
          {stale && !active && <Text color="fg.muted" data-testid="run-stale">{t("(a run of an earlier version: not shown on the canvas)")}</Text>}
          {!stale && dirty && !active && <Text color="fg.muted">{t("(overlay hidden while the graph has unsaved changes)")}</Text>}
        </HStack>
      )}
      <Flex flex="1" minH="0">
        {!readOnly &&
          (panels.palette ? (
            <Palette modules={modules} onAdd={(m) => addModule(m)} onHide={() => togglePanel("palette", false)} />
          ) : (
            <Rail side="left" label={t("Modules")} onOpen={() => togglePanel("palette", true)} testId="palette-show" />
          ))}
        <Flex direction="column" flex="1" minW="0">
          <Box flex="1" minH="0" position="relative">
            <Box
              h="100%"
              ref={wrapper}
              data-testid="canvas"
              onDragOver={(e) => {
                if (readOnly) return;
                e.preventDefault();
                e.dataTransfer.dropEffect = "move";
              }}
              onDrop={(e) => {
                if (readOnly) return;
                e.preventDefault();
                const name = e.dataTransfer.getData(DRAG_MIME) || e.dataTransfer.getData("text/plain");
                const module = moduleMap.get(name);
                if (!module) return;
                const p = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
                addModule(module, { x: p.x - NODE_WIDTH / 2, y: p.y - 25 });
              }}
            >
              <ReactFlow<FlowNode, Edge>
                nodes={nodes}
                edges={edges}
                nodeTypes={NODE_TYPES}
                colorMode={mode}
                ariaLabelConfig={ariaLabels}
                onNodesChange={onNodesChange}
                onEdgesChange={onEdgesChange}
                onNodeDragStart={() => dispatch({ type: "beginDrag" })}
                onNodeDragStop={() => dispatch({ type: "endDrag" })}
                onSelectionDragStart={() => dispatch({ type: "beginDrag" })}
                onSelectionDragStop={() => dispatch({ type: "endDrag" })}
                onConnect={(c) => {
                  const edge = connectionToEdge(c);
                  const target = state.graph.nodes.find((n) => n.id === edge.target);
                  dispatch({ type: "connect", edge, maxInputs: maxInputsFor(target ? moduleMap.get(target.module) : undefined, edge.target_port ?? null) });
                }}
                onPaneClick={() => dispatch({ type: "select", nodes: [], edges: [] })}
                nodesDraggable={!readOnly}
                nodesConnectable={!readOnly}
                elementsSelectable
                deleteKeyCode={null}
                selectionKeyCode="Shift"
                multiSelectionKeyCode={["Meta", "Control"]}
                fitView={initialFit.current}
                fitViewOptions={FIT}
                onMoveStart={(event) => {
                  // A pan or zoom by the user (not a fit): from now on the viewport is theirs.
                  if (event) autoFit.current = false;
                }}
                minZoom={0.1}
                proOptions={{ hideAttribution: true }}
              >
                <Background gap={20} />
                <Controls showInteractive={false} />
                {state.graph.nodes.length > 12 && <MiniMap pannable zoomable />}
              </ReactFlow>
            </Box>
            {/* Messages float over the top of the canvas: they come and go without moving the layout. */}
            <Stack position="absolute" top="2" left="50%" transform="translateX(-50%)" w="min(760px, calc(100% - 16px))" gap="1.5" zIndex="5" pointerEvents="none" data-testid="editor-banners">
              {readOnly && showReadOnly && (
                <Alert.Root status="neutral" size="sm" boxShadow="md" pointerEvents="auto" data-testid="read-only-banner">
                  <Alert.Description flex="1" fontSize="xs">
                    {readOnlyText(pipelineId, access)}
                  </Alert.Description>
                  <Button size="2xs" variant="ghost" onClick={() => setShowReadOnly(false)}>
                    {t("dismiss")}
                  </Button>
                </Alert.Root>
              )}
              {recovered && !readOnly && (
                <Alert.Root status="warning" size="sm" boxShadow="md" pointerEvents="auto" data-testid="unsaved-kept">
                  <Alert.Indicator />
                  <Alert.Description flex="1">
                    {t("This browser kept unsaved changes to {pipeline} from {date}, made on version {version}.", { pipeline: pipelineId, date: formatDate(recovered.keptAt), version: recovered.version })}
                    {recovered.version !== stored.version
                      ? ` ${t("The pipeline has been saved since (now version {version}): restored, your changes replace it when you save.", { version: stored.version })}`
                      : ""}
                  </Alert.Description>
                  <Button size="2xs" colorPalette="orange" onClick={restoreKept}>
                    {t("Restore")}
                  </Button>
                  <Button size="2xs" variant="ghost" onClick={discardKept}>
                    {t("Discard")}
                  </Button>
                </Alert.Root>
              )}
              {(message || state.notice) && (
                <Alert.Root status={state.notice ? "warning" : (message?.status ?? "info")} size="sm" boxShadow="md" pointerEvents="auto" data-testid="editor-message">
                  <Alert.Indicator />
                  <Alert.Description flex="1" whiteSpace="pre-wrap">
                    {state.notice ?? message?.text}
                  </Alert.Description>
                  <Button size="2xs" variant="ghost" onClick={() => (state.notice ? dispatch({ type: "clearNotice" }) : setMessage(null))}>
                    {t("dismiss")}
                  </Button>
                </Alert.Root>
              )}
              <Box pointerEvents="auto" boxShadow={problemLines.length ? "md" : undefined} borderRadius="l2" overflow="hidden">
                <ProblemList
                  lines={problemLines}
                  loose={loose}
                  open={problemsOpen && problemLines.length > 0}
                  onClose={() => setProblemsOpen(false)}
                  onSelect={(id) => {
                    dispatch({ type: "select", nodes: id ? [id] : [], edges: [] });
                    if (id) flow.fitView({ nodes: [{ id }], padding: 0.6, maxZoom: 1.2, duration: 200 });
                  }}
                />
              </Box>
            </Stack>
            {layout === "compact" && panels.drawer && drawer && (
              // Compact: the drawer floats over the canvas instead of narrowing it.
              <Box position="absolute" top="0" right="0" bottom="0" w="min(340px, 90%)" bg="bg" boxShadow="lg" zIndex="6" display="flex" flexDirection="column">
                {drawer}
              </Box>
            )}
          </Box>
          <Suspense fallback={null}>
            <DataPanels
              pipelineId={pipelineId}
              spec={deferredSpec ?? spec}
              graph={deferredGraph}
              selectedId={selectedNode?.id ?? null}
              readOnly={readOnly}
              llm={llm}
              dispatch={dispatch}
              blockedBy={blockedBy}
              open={panels.data}
              onToggle={toggleData}
            />
          </Suspense>
        </Flex>
        {layout === "full" && panels.drawer && drawer}
        {!panels.drawer && <Rail side="right" label={historyOpen ? t("History") : selectedNode ? t("Configure {node}", { node: selectedNode.label || selectedNode.id }) : t("Settings")} onOpen={() => togglePanel("drawer", true)} testId="drawer-show" />}
      </Flex>
      <ConflictDialog
        conflict={conflict}
        mine={spec}
        busy={saving}
        onClose={() => setConflict(null)}
        onOverwrite={() => {
          if (!conflict) return;
          const status = documentStatus(conflict.yours ?? spec);
          if (conflict.current) void save(status, conflict.current.etag);
          else void recreate(status);
        }}
        onTakeTheirs={() => {
          if (!conflict?.current) return;
          applyStored(conflict.current);
          setConflict(null);
          setMessage({ status: "info", text: t("Loaded the current version {version}; your changes were discarded.", { version: conflict.current.version }) });
        }}
      />
    </Flex>
  );
}
