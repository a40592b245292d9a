// The builder's texts in English and French. The English text is the key (gettext style), so the code
// reads as the UI does and a text missing from a catalog still shows, in English:
//   t("Save draft")
//   t("Saved version {version} as {status}.", { version, status })
//   t.plural(count, "{count} problem", "{count} problems")
// Components take `t` from `useT()`, which re-renders them when Airflow's language changes; code outside
// components (reducer notices, helpers building messages) imports `t` itself, which reads the language
// when called. Only literal keys: tests/i18n-catalog.test.ts finds them in the source and checks that the
// French catalog has each, with the same placeholders.
import { useMemo } from "react";
import { FR, FR_STATES } from "./fr";
import { type Language, preferredLanguage, useLanguage } from "./language";

export { applyLanguage, type Language, LANGUAGE_KEY, LANGUAGES, languageOf, preferredLanguage, subscribeLanguage, useLanguage } from "./language";

/** Values for a text's `{name}` placeholders. */
export type Params = Record<string, string | number>;

export interface Translate {
  (english: string, params?: Params): string;
  /** `one` or `other` as `count` asks in this language (French: 0 and 1 are singular), `{count}` filled. */
  plural(count: number, one: string, other: string, params?: Params): string;
  /** The language it translates into (for numbers written its way). */
  readonly language: Language;
}

const CATALOGS: Record<Language, Readonly<Record<string, string>> | null> = { en: null, fr: FR };

/** `{name}` placeholders filled from `params`; an unknown one stays as written, visible rather than lost. */
export function fill(text: string, params?: Params): string {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
}

export function translate(language: Language, english: string, params?: Params): string {
  return fill(CATALOGS[language]?.[english] ?? english, params);
}

const STATE_NAMES: Record<Language, Readonly<Record<string, string>> | null> = { en: null, fr: FR_STATES };

/** An Airflow task or run state (`up_for_retry`) as Airflow's UI in `language` names it; in English, and for
 * a state the table does not know, the state itself (what the builder always showed). */
export function stateName(state: string, language: Language = preferredLanguage()): string {
  return STATE_NAMES[language]?.[state] ?? state;
}

/** Whether `count` takes the singular: English only for 1, French for 0 and 1 ("0 problème"). */
export function isSingular(language: Language, count: number): boolean {
  return language === "fr" ? Math.abs(count) < 2 : count === 1;
}

/** The locale numbers are written in (`10,000` / `10 000`). */
export const numberLocale = (language: Language): string => (language === "fr" ? "fr-FR" : "en-US");

function translator(language: () => Language): Translate {
  const plural = (count: number, one: string, other: string, params?: Params) => {
    const lang = language();
    return translate(lang, isSingular(lang, count) ? one : other, { count, ...params });
  };
  const bound = Object.assign((english: string, params?: Params) => translate(language(), english, params), { plural });
  return Object.defineProperty(bound, "language", { get: language, enumerable: true }) as Translate;
}

/** Translates in the language Airflow shows now: for code outside components. */
export const t: Translate = translator(() => preferredLanguage());

/** The English texts themselves: to compare with what the server wrote (it writes English). */
export const inEnglish: Translate = translator(() => "en");

/** A whole number as the current language writes it (`10,000`, `10 000`). */
export function formatCount(n: number, language: Language = preferredLanguage()): string {
  return n.toLocaleString(numberLocale(language));
}

/** `t` bound to the language of this render; the component re-renders when Airflow's language changes. */
export function useT(): Translate {
  const language = useLanguage();
  return useMemo(() => translator(() => language), [language]);
}
