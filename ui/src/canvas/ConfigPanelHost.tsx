// Chooses what the drawer shows and wires its edits into the reducer.
import type { Dispatch } from "react";
import type { Issue, Module, NodeSchemas, SpecNode } from "../api/types";
import type { ConnectionChoices } from "../form/SchemaForm";
import { inputColumns } from "../graph/inputColumns";
import type { LineageStart } from "../graph/lineage";
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
  /** Every node's output columns from the last validation (`{}` before the first answer). */
  schemas: NodeSchemas;
  /** False until the first validation answered: the columns are "being checked", not unknown. */
  checked: boolean;
  lineage: LineageStart | null;
  meta: PipelineMeta;
  readOnly: boolean;
  connections: ConnectionChoices;
  refreshing: boolean;
  dispatch: Dispatch<Action>;
  onMeta: (meta: PipelineMeta) => void;
  onLineage: (start: LineageStart | null) => void;
  onRefreshColumns: () => void;
}

export function ConfigPanel(props: Props) {
  const { node, module, graph, issues, nodeIssues, schemas, meta, readOnly, connections, dispatch, onMeta } = props;
  if (node) {
    return (
      <NodePanel
        pipelineId={meta.id}
        key={node.id}
        node={node}
        module={module}
        issues={nodeIssues}
        readOnly={readOnly}
        connections={connections}
        columns={inputColumns(graph, schemas, node.id)}
        schema={props.checked ? (schemas[node.id] ?? null) : undefined}
        lineage={props.lineage}
        onLineage={readOnly ? undefined : props.onLineage}
        onRefreshColumns={props.onRefreshColumns}
        refreshing={props.refreshing}
        onConfig={(config) => dispatch({ type: "setConfig", id: node.id, config })}
        onLabel={(label) => dispatch({ type: "setLabel", id: node.id, label })}
        onDelete={() => dispatch({ type: "deleteNodes", ids: [node.id] })}
      />
    );
  }
  return <PipelinePanel meta={meta} issues={pipelineIssues(issues, graph.nodes)} readOnly={readOnly} onChange={onMeta} />;
}
