// Follow Airflow's own light/dark choice, live. Airflow 3 keeps it (next-themes) in localStorage `theme`
// ("light", "dark" or "system") and shows it as a `dark`/`light` class on its <html>; older Chakra-based
// UIs used `chakra-ui-color-mode`. The builder is served on Airflow's origin, inside Airflow's page (an
// iframe) or in a tab of its own: it reads the class Airflow's page shows when it can see that page (exactly
// what the user sees, "system" resolved), else the stored choice, else the OS preference.
import { useSyncExternalStore } from "react";
import { browserStorage } from "./storage";

export const COLOR_MODE_KEY = "theme";
export const LEGACY_COLOR_MODE_KEY = "chakra-ui-color-mode";
export type ColorMode = "light" | "dark";

type MatchMedia = (q: string) => { matches: boolean };

/** Airflow's page's <html> when the builder runs inside it (same origin), else null. */
export function airflowRoot(win: Window | null = typeof window !== "undefined" ? window : null): HTMLElement | null {
  try {
    if (!win || win.parent === win) return null;
    return win.parent.document.documentElement;
  } catch {
    return null; // another origin: its page cannot be read
  }
}

function shown(root: HTMLElement | null): ColorMode | null {
  if (root?.classList.contains("dark")) return "dark";
  if (root?.classList.contains("light")) return "light";
  return null;
}

export function preferredColorMode(
  storage: Pick<Storage, "getItem"> | null = browserStorage(),
  matchMedia: MatchMedia | null = typeof window !== "undefined" && window.matchMedia ? window.matchMedia.bind(window) : null,
  root: HTMLElement | null = airflowRoot(),
): ColorMode {
  const onPage = shown(root);
  if (onPage) return onPage;
  for (const key of [COLOR_MODE_KEY, LEGACY_COLOR_MODE_KEY]) {
    const stored = storage?.getItem(key);
    if (stored === "light" || stored === "dark") return stored;
    if (stored === "system") break;
  }
  return matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}


/** Chakra v3 keys its `_dark` styles on a `dark` class on an ancestor. */
export function applyColorMode(mode: ColorMode, root: HTMLElement = document.documentElement): void {
  root.classList.toggle("dark", mode === "dark");
  root.classList.toggle("light", mode === "light");
  root.style.colorScheme = mode;
}

/** Calls `callback` whenever the mode may have changed: Airflow's page switching its class (the toggle in
 * its user menu), the stored choice changed in another tab, or the OS preference. */
export function subscribeColorMode(callback: () => void, root: HTMLElement | null = airflowRoot()): () => void {
  const media = window.matchMedia?.("(prefers-color-scheme: dark)");
  window.addEventListener("storage", callback);
  media?.addEventListener?.("change", callback);
  const observer = root && typeof MutationObserver !== "undefined" ? new MutationObserver(callback) : null;
  if (root) observer?.observe(root, { attributes: true, attributeFilter: ["class"] });
  return () => {
    window.removeEventListener("storage", callback);
    media?.removeEventListener?.("change", callback);
    observer?.disconnect();
  };
}

export function useColorMode(): ColorMode {
  return useSyncExternalStore((cb) => subscribeColorMode(cb), () => preferredColorMode(), () => "light");
}
