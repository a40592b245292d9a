// "Unsaved changes" means the pipeline differs from the version last loaded or saved, whatever the way
// there: undoing back to the saved graph, or typing a value and deleting it again, is not a change.
import type { Spec } from "../api/types";

/** A pipeline's content as one string: keys sorted, absent (undefined) fields dropped. */
export function specKey(spec: Spec): string {
  return stableJson(spec);
}

export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v as Record<string, unknown>).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}
