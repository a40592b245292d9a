// Follow Airflow's own light/dark choice: its Chakra UI stores it in localStorage `chakra-ui-color-mode`
// (same origin as this iframe, so we can read it and hear its changes); otherwise the OS preference.
import { useSyncExternalStore } from "react";

export const COLOR_MODE_KEY = "chakra-ui-color-mode";
export type ColorMode = "light" | "dark";

export function preferredColorMode(
  storage: Pick<Storage, "getItem"> | null = safeStorage(),
  matchMedia: ((q: string) => { matches: boolean }) | null = typeof window !== "undefined" && window.matchMedia ? window.matchMedia.bind(window) : null,
): ColorMode {
  const stored = storage?.getItem(COLOR_MODE_KEY);
  if (stored === "light" || stored === "dark") return stored;
  return matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function safeStorage(): Storage | null {
  try {
    return typeof window !== "undefined" ? window.localStorage : null;
  } catch {
    return null;
  }
}

/** Chakra v3 keys its `_dark` styles on a `dark` class on an ancestor. */
export function applyColorMode(mode: ColorMode, root: HTMLElement = document.documentElement): void {
  root.classList.toggle("dark", mode === "dark");
  root.classList.toggle("light", mode === "light");
  root.style.colorScheme = mode;
}

function subscribe(callback: () => void): () => void {
  const media = window.matchMedia?.("(prefers-color-scheme: dark)");
  window.addEventListener("storage", callback);
  media?.addEventListener?.("change", callback);
  return () => {
    window.removeEventListener("storage", callback);
    media?.removeEventListener?.("change", callback);
  };
}

export function useColorMode(): ColorMode {
  return useSyncExternalStore(subscribe, () => preferredColorMode(), () => "light");
}
