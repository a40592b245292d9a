// The preview/suggestion routes, on the builder API's fetch wrapper (same cookie auth and error type).
import { request } from "../api/client";
import type { Spec } from "../api/types";
import type { Described, Preview, PreviewRequest, Suggestion, Suggestions } from "./types";

export const previewApi = {
  preview: (body: PreviewRequest) => request<Preview>("POST", "/preview", body),
  suggest: (pipeline: Spec, nodeId: string, dismissed: string[], sampleRows?: number) =>
    request<Suggestions>("POST", "/suggest", {
      pipeline,
      node_id: nodeId,
      dismissed,
      ...(sampleRows ? { sample_rows: sampleRows } : {}),
    }),
  check: (pipeline: Spec, nodeId: string, suggestion: Suggestion) =>
    request<{ ok: boolean }>("POST", "/suggest/check", { pipeline, node_id: nodeId, suggestion }),
  describe: (pipeline: Spec, nodeId: string, text: string) =>
    request<Described>("POST", "/describe", { pipeline, node_id: nodeId, text }),
};
