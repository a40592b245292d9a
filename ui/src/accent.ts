// Airflow's accent ("brand") colour, followed by the builder. Airflow 3.2+ lets an admin set it
// (`[api] theme`: eleven OKLCH shades 50–950); Airflow's own buttons, links and checkboxes use it. The builder
// uses it for the same things, through the `brand` palette of its Chakra system (system.ts), whose shades
// are CSS variables set here: read from Airflow's page when the builder is its same-origin iframe (exactly
// what the user sees), else from Airflow's UI configuration (`GET /ui/config`, its `theme`).
import { airflowRoot } from "./theme";

export const BRAND_SHADES = ["50", "100", "200", "300", "400", "500", "600", "700", "800", "900", "950"] as const;
export type Shade = (typeof BRAND_SHADES)[number];
export type Accent = Partial<Record<Shade, string>>;

/** Airflow's default brand shades (Airflow 3.3), used until (or unless) the configured ones are known. */
export const AIRFLOW_BRAND: Record<Shade, string> = {
  "50": "oklch(0.98 0.006 248.717)",
  "100": "oklch(0.962 0.012 249.460)",
  "200": "oklch(0.923 0.023 255.082)",
  "300": "oklch(0.865 0.039 252.420)",
  "400": "oklch(0.705 0.066 256.378)",
  "500": "oklch(0.575 0.08 257.759)",
  "600": "oklch(0.469 0.084 257.657)",
  "700": "oklch(0.399 0.084 257.850)",
  "800": "oklch(0.324 0.072 260.329)",
  "900": "oklch(0.259 0.062 265.566)",
  "950": "oklch(0.179 0.05 265.487)",
};

export const accentVariable = (shade: Shade): string => `--logidata-brand-${shade}`;

// A colour and nothing else: the value goes into a CSS variable, so anything that is not plainly a colour
// (a url(), an expression, another property) is ignored rather than applied.
const COLOUR = /^(?:#[0-9a-f]{3,8}|(?:oklch|oklab|rgb|rgba|hsl|hsla|lch|lab)\(\s*[-0-9.%\s,/a-z]*\))$/i;

export function isColour(value: unknown): value is string {
  return typeof value === "string" && value.length <= 100 && COLOUR.test(value.trim()) && !/url|expression|var/i.test(value);
}

/** The brand shades Airflow's page shows (its Chakra CSS variables), or null when it cannot be read. */
export function accentFromPage(root: HTMLElement | null = airflowRoot()): Accent | null {
  if (!root) return null;
  try {
    const style = root.ownerDocument.defaultView?.getComputedStyle(root);
    if (!style) return null;
    const accent: Accent = {};
    for (const shade of BRAND_SHADES) {
      const value = style.getPropertyValue(`--chakra-colors-brand-${shade}`).trim();
      if (isColour(value)) accent[shade] = value;
    }
    return Object.keys(accent).length ? accent : null;
  } catch {
    return null;
  }
}

/** The brand shades of Airflow's `[api] theme` as its UI configuration answers them (null: none set). */
export function accentFromConfig(config: unknown): Accent | null {
  const brand = (config as { theme?: { tokens?: { colors?: { brand?: Record<string, { value?: unknown }> } } } } | null)?.theme?.tokens?.colors?.brand;
  if (!brand || typeof brand !== "object") return null;
  const accent: Accent = {};
  for (const shade of BRAND_SHADES) {
    const value = brand[shade]?.value;
    if (isColour(value)) accent[shade] = value.trim();
  }
  return Object.keys(accent).length ? accent : null;
}

export function applyAccent(accent: Accent | null, root: HTMLElement = document.documentElement): void {
  for (const shade of BRAND_SHADES) {
    const value = accent?.[shade];
    if (value) root.style.setProperty(accentVariable(shade), value);
    else root.style.removeProperty(accentVariable(shade));
  }
}

/** Airflow's own address prefix (empty at the root): the builder is served at `<prefix>/logidata/ui/`. */
export function airflowPrefix(pathname: string = window.location.pathname): string {
  const match = /^(.*)\/logidata\/ui(?:\/.*)?$/.exec(pathname);
  return match ? match[1] : "";
}

/** Follow Airflow's accent: from its page at once, else from its UI configuration once it answers. */
export async function followAirflowAccent(fetcher: typeof fetch = fetch): Promise<Accent | null> {
  const fromPage = accentFromPage();
  if (fromPage) {
    applyAccent(fromPage);
    return fromPage;
  }
  try {
    const response = await fetcher(`${airflowPrefix()}/ui/config`, { credentials: "include", headers: { Accept: "application/json" } });
    const accent = response.ok ? accentFromConfig(await response.json()) : null;
    applyAccent(accent);
    return accent;
  } catch {
    return null; // no Airflow UI configuration here (the builder alone): its default blue stays
  }
}
