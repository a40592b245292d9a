// The builder speaks the language Airflow's UI speaks, live. Airflow 3 uses i18next with its browser
// detector, which keeps the chosen language in localStorage `i18nextLng` ("fr", "fr-CA", "en", "zh-TW"):
// the builder is served on Airflow's origin, so it reads the same entry. Where there is none yet, Airflow's
// page's <html lang> (when the builder is its same-origin iframe), then the browser's own preference.
// The builder has English and French; every other language gets English, as Airflow's untranslated texts do.
import { useSyncExternalStore } from "react";
import { browserStorage } from "../storage";
import { airflowRoot } from "../theme";

export type Language = "en" | "fr";
export const LANGUAGES: readonly Language[] = ["en", "fr"];
export const LANGUAGE_KEY = "i18nextLng";

type NavigatorLanguages = Pick<Navigator, "language"> & { languages?: readonly string[] };

/** The builder's language for a BCP 47 tag (`fr`, `fr-CA`, `fr_FR` → French), null for no tag at all. */
export function languageOf(tag: string | null | undefined): Language | null {
  const text = tag?.trim().toLowerCase();
  if (!text) return null;
  return /^fr(?:[-_]|$)/.test(text) ? "fr" : "en";
}

function stored(storage: Pick<Storage, "getItem"> | null): string | null {
  try {
    return storage?.getItem(LANGUAGE_KEY) ?? null;
  } catch {
    return null; // storage refused (a sandboxed frame): as if nothing were chosen
  }
}

function browserNavigator(): NavigatorLanguages | null {
  return typeof navigator !== "undefined" ? navigator : null;
}

/** Each source is only looked at when the ones before it have no answer: `t` outside components asks this
 * on every call, and the stored choice almost always answers. (`undefined`: this browser's own.) */
export function preferredLanguage(
  storage?: Pick<Storage, "getItem"> | null,
  parentRoot?: HTMLElement | null,
  nav?: NavigatorLanguages | null,
): Language {
  const chosen = languageOf(stored(storage === undefined ? browserStorage() : storage));
  if (chosen) return chosen;
  const root = parentRoot === undefined ? airflowRoot() : parentRoot;
  const page = languageOf(root?.getAttribute("lang"));
  if (page) return page;
  const browser = nav === undefined ? browserNavigator() : nav;
  return languageOf(browser?.languages?.[0] ?? browser?.language) ?? "en";
}

/** Calls `callback` whenever the language may have changed: Airflow's language menu writes `i18nextLng`
 * (a `storage` event here, whether Airflow's page holds this frame or is another tab) and may set its
 * page's <html lang>; the browser's preference changing fires `languagechange`. */
export function subscribeLanguage(callback: () => void, root: HTMLElement | null = airflowRoot()): () => void {
  window.addEventListener("storage", callback);
  window.addEventListener("languagechange", callback);
  const observer = root && typeof MutationObserver !== "undefined" ? new MutationObserver(callback) : null;
  if (root) observer?.observe(root, { attributes: true, attributeFilter: ["lang"] });
  return () => {
    window.removeEventListener("storage", callback);
    window.removeEventListener("languagechange", callback);
    observer?.disconnect();
  };
}

export function useLanguage(): Language {
  return useSyncExternalStore((cb) => subscribeLanguage(cb), () => preferredLanguage(), () => "en");
}

/** Screen readers, spell checkers and hyphenation read the page's own <html lang>. */
export function applyLanguage(language: Language, root: HTMLElement = document.documentElement): void {
  root.lang = language;
}
