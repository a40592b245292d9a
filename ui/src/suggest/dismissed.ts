// Dismissed suggestions belong to the saved pipeline: the server keeps them (GET/POST/DELETE
// /pipelines/{id}/dismissed-suggestions) so every user and browser sees the same list, and /suggest leaves
// them out. Changes show at once and are undone, with a message, when the server refuses them. A pipeline
// the server does not know (not saved, or deleted meanwhile) keeps its dismissals for this page only.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError } from "../api/client";
import { errorText } from "../components";
import { t } from "../i18n";
import { browserStorage } from "../storage";

/** The server side, injectable for tests. Each call answers the pipeline's ids after the change. */
export interface DismissedRemote {
  list(pipelineId: string): Promise<string[]>;
  add(pipelineId: string, suggestionId: string): Promise<string[]>;
  remove(pipelineId: string, suggestionId: string): Promise<string[]>;
}

export const serverRemote: DismissedRemote = {
  list: (pipelineId) => api.dismissedSuggestions(pipelineId),
  add: (pipelineId, suggestionId) => api.dismissSuggestion(pipelineId, suggestionId),
  remove: (pipelineId, suggestionId) => api.restoreSuggestion(pipelineId, suggestionId),
};

/** Earlier builders kept dismissals in this browser under this key; they move to the server once. */
const LEGACY_PREFIX = "logidata.dismissed.";

type KV = Pick<Storage, "getItem" | "removeItem">;


export function legacyKey(pipelineId: string): string {
  return `${LEGACY_PREFIX}${pipelineId}`;
}

/** Ids a previous builder stored in this browser (empty when none, unreadable or corrupt). */
export function readLegacy(pipelineId: string, storage: KV | null = browserStorage()): string[] {
  try {
    const parsed: unknown = JSON.parse(storage?.getItem(legacyKey(pipelineId)) ?? "[]");
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === "string" && x !== "") : [];
  } catch {
    return [];
  }
}

export function dropLegacy(pipelineId: string, storage: KV | null = browserStorage()): void {
  try {
    storage?.removeItem(legacyKey(pipelineId));
  } catch {
    // ignore: the next open tries again, and the server skips ids it already has
  }
}

/** `id` as the newest entry, once. */
export function withId(ids: readonly string[], id: string): string[] {
  return [...ids.filter((x) => x !== id), id];
}

export function withoutId(ids: readonly string[], id: string): string[] {
  return ids.filter((x) => x !== id);
}

/** `server`: persisted for everyone; `memory`: this page only (the server does not know the pipeline). */
export type Persistence = "loading" | "server" | "memory";

export interface DismissedState {
  ids: string[];
  persistence: Persistence;
  /** Why the last change (or the load) failed; the change was undone. */
  error: string | null;
  /** Both apply at once; the promise tells whether the change holds (stored, or kept for this page). */
  dismiss(id: string): Promise<boolean>;
  restore(id: string): Promise<boolean>;
  clearError(): void;
}

type Edit = (ids: readonly string[], id: string) => string[];

const notFound = (e: unknown) => e instanceof ApiError && e.status === 404;

/**
 * Dismissed suggestion ids of `pipelineId`, loaded from the server when `enabled` (the panel is usable),
 * plus ids found under the old localStorage key, which are moved to the server and then removed.
 */
export function useDismissed(
  pipelineId: string,
  enabled: boolean,
  remote: DismissedRemote = serverRemote,
  storage: KV | null = browserStorage(),
): DismissedState {
  const [ids, setIds] = useState<string[]>([]);
  const [persistence, setPersistence] = useState<Persistence>("loading");
  const [error, setError] = useState<string | null>(null);
  // Callbacks read the current mode without being recreated; `generation` drops answers for another pipeline.
  const mode = useRef<Persistence>("loading");
  const generation = useRef(0);
  // Only the pipeline and `enabled` restart the load: a caller passing new objects each render must not.
  const io = useRef({ remote, storage });
  io.current = { remote, storage };

  const setMode = useCallback((next: Persistence) => {
    mode.current = next;
    setPersistence(next);
  }, []);

  useEffect(() => {
    const mine = ++generation.current;
    const live = () => mine === generation.current;
    setIds([]);
    setError(null);
    setMode("loading");
    if (!enabled) return;
    const { remote, storage } = io.current;
    const legacy = readLegacy(pipelineId, storage);
    // Hidden at once, whatever the server answers: they were dismissed before.
    if (legacy.length) setIds(legacy);
    remote.list(pipelineId).then(
      async (stored) => {
        if (!live()) return;
        setIds((current) => [...stored, ...current.filter((x) => !stored.includes(x))]);
        setMode("server");
        const missing = legacy.filter((x) => !stored.includes(x));
        try {
          for (const id of missing) await remote.add(pipelineId, id);
          dropLegacy(pipelineId, storage);
        } catch {
          // Kept in this browser: the next open tries again.
        }
      },
      (e: unknown) => {
        if (!live()) return;
        if (notFound(e)) {
          setMode("memory");
          return;
        }
        // Dismissing still tries the server; only the stored list is unknown.
        setMode("server");
        setError(t("Cannot load the dismissed suggestions: {error}", { error: errorText(e) }));
      },
    );
    return () => {
      generation.current += 1;
    };
  }, [pipelineId, enabled, setMode]);

  const change = useCallback(
    (id: string, apply: Edit, undo: Edit, send: () => Promise<string[]>, failed: (error: string) => string): Promise<boolean> => {
      setError(null);
      setIds((current) => apply(current, id));
      if (mode.current === "memory") return Promise.resolve(true);
      const mine = generation.current;
      return send().then(
        () => mine === generation.current,
        (e: unknown) => {
          if (mine !== generation.current) return false;
          if (notFound(e)) {
            // The pipeline is gone from the server (deleted meanwhile): keep the change for this page.
            setMode("memory");
            return true;
          }
          setIds((current) => undo(current, id));
          setError(failed(errorText(e)));
          return false;
        },
      );
    },
    [setMode],
  );

  const dismiss = useCallback(
    (id: string) => change(id, withId, withoutId, () => io.current.remote.add(pipelineId, id), (error) => t("Could not dismiss the suggestion: {error}", { error })),
    [change, pipelineId],
  );
  const restore = useCallback(
    (id: string) => change(id, withoutId, withId, () => io.current.remote.remove(pipelineId, id), (error) => t("Could not restore the suggestion: {error}", { error })),
    [change, pipelineId],
  );
  const clearError = useCallback(() => setError(null), []);

  return { ids, persistence, error, dismiss, restore, clearError };
}
