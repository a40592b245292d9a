// Pipeline documents in answers are what the store holds: a valid pipeline matches Spec, but a draft or a
// hand-written file may not (wrong types, missing keys; the answer's `errors` list the problems). The
// canvas needs a Spec shape, so it reads documents through these helpers instead of trusting the type.
import type { PipelineDocument, Spec } from "./types";

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The document as the editor uses it: every other key is kept as stored (saved back unchanged), nodes and
 * edges are lists of objects (anything else cannot be drawn; the server reports it), the id is text.
 */
export function specFromDocument(doc: PipelineDocument | Record<string, unknown>, fallbackId = ""): Spec {
  const nodes = Array.isArray(doc.nodes) ? doc.nodes.filter(isObject) : [];
  const edges = Array.isArray(doc.edges) ? doc.edges.filter(isObject) : [];
  const id = typeof doc.id === "string" ? doc.id : fallbackId;
  return { ...doc, id, nodes, edges } as unknown as Spec;
}

/** A stored document's status: only `"draft"` is a draft (the store validates everything else as active). */
export function documentStatus(doc: PipelineDocument | Record<string, unknown> | null | undefined): "draft" | "active" {
  return doc?.status === "draft" ? "draft" : "active";
}
