// Dismissed suggestions are remembered per pipeline in this browser (localStorage) and sent to the API as
// `dismissed`, so a rejected idea stays gone across reloads without the server storing user preferences.
const PREFIX = "logidata.dismissed.";
/** Oldest ids are forgotten beyond this, so a long-lived pipeline cannot grow the entry without bound. */
export const MAX_DISMISSED = 500;

type KV = Pick<Storage, "getItem" | "setItem">;

function defaultStorage(): KV | null {
  try {
    return typeof window !== "undefined" ? window.localStorage : null;
  } catch {
    return null;
  }
}

export function dismissedKey(pipelineId: string): string {
  return `${PREFIX}${pipelineId}`;
}

export function loadDismissed(pipelineId: string, storage: KV | null = defaultStorage()): string[] {
  try {
    const parsed: unknown = JSON.parse(storage?.getItem(dismissedKey(pipelineId)) ?? "[]");
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

/** Adds `id` (once) and returns the new list; storage failures (private mode, quota) keep it in memory only. */
export function dismiss(pipelineId: string, id: string, storage: KV | null = defaultStorage()): string[] {
  const current = loadDismissed(pipelineId, storage).filter((x) => x !== id);
  const next = [...current, id].slice(-MAX_DISMISSED);
  try {
    storage?.setItem(dismissedKey(pipelineId), JSON.stringify(next));
  } catch {
    // ignore: dismissal still applies for this page view
  }
  return next;
}

export function undismissAll(pipelineId: string, storage: KV | null = defaultStorage()): string[] {
  try {
    storage?.setItem(dismissedKey(pipelineId), "[]");
  } catch {
    // ignore
  }
  return [];
}
