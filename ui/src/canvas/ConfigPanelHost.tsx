// Chooses what the drawer shows and wires its edits into the reducer.
import type { Dispatch } from "react";
import type { Issue, Module, SpecNode } from "../api/types";
import type { ConnectionChoices } from "../form/SchemaForm";
import { upstreamColumns } from "../graph/columns";
import type { Graph } from "../graph/model";
import type { Action } from "../graph/reducer";
import { pipelineIssues } from "../graph/errors";
import { NodePanel, PipelinePanel, type PipelineMeta } from "./ConfigPanel";

interface Props {
  node: SpecNode | null;
  module: Module | null;
  graph: Graph;
  issues: Issue[];
  nodeIssues: Issue[];
  meta: PipelineMeta;
  readOnly: boolean;
  connections: ConnectionChoices;
  dispatch: Dispatch<Action>;
  onMeta: (meta: PipelineMeta) => void;
}

export function ConfigPanel({ node, module, graph, issues, nodeIssues, meta, readOnly, connections, dispatch, onMeta }: Props) {
  if (node) {
    return (
      <NodePanel
        key={node.id}
        node={node}
        module={module}
        issues={nodeIssues}
        readOnly={readOnly}
        connections={connections}
        columns={upstreamColumns(graph, node.id)}
        onConfig={(config) => dispatch({ type: "setConfig", id: node.id, config })}
        onLabel={(label) => dispatch({ type: "setLabel", id: node.id, label })}
        onDelete={() => dispatch({ type: "deleteNodes", ids: [node.id] })}
      />
    );
  }
  return <PipelinePanel meta={meta} issues={pipelineIssues(issues, graph.nodes)} readOnly={readOnly} onChange={onMeta} />;
}
