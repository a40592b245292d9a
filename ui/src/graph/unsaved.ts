// Edits are never lost: while a pipeline has unsaved changes, they are kept in this browser (localStorage,
// per pipeline) and offered back when the pipeline is opened again: after a reload, a crash, or a session
// that expired (Airflow's login in between). Saving, or undoing back to the saved version, drops the copy.
import type { Spec } from "../api/types";
import { browserStorage } from "../storage";

export interface UnsavedCopy {
  spec: Spec; // the whole pipeline as edited
  version: number; // the saved version the edit started from
  keptAt: string; // ISO time of the last edit kept
}

const PREFIX = "logidata.unsaved.";
type Store = Pick<Storage, "getItem" | "setItem" | "removeItem">;


export function keepUnsaved(id: string, copy: UnsavedCopy, store: Store | null = browserStorage()): void {
  try {
    store?.setItem(PREFIX + id, JSON.stringify(copy));
  } catch {
    // Storage full or refused (private mode): the editor still works, only the safety net is missing.
  }
}

export function readUnsaved(id: string, store: Store | null = browserStorage()): UnsavedCopy | null {
  try {
    const raw = store?.getItem(PREFIX + id);
    if (!raw) return null;
    const copy = JSON.parse(raw) as UnsavedCopy;
    const valid = copy && typeof copy === "object" && copy.spec && Array.isArray(copy.spec.nodes) && typeof copy.version === "number";
    return valid ? copy : null;
  } catch {
    return null; // unreadable: as if there were none
  }
}

export function dropUnsaved(id: string, store: Store | null = browserStorage()): void {
  try {
    store?.removeItem(PREFIX + id);
  } catch {
    // nothing kept, nothing to drop
  }
}
