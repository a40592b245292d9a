// The builder speaks the language Airflow's UI speaks: i18next's stored choice (`i18nextLng`), else Airflow's
// page's <html lang>, else the browser's; French for any `fr`, English for anything else; live.
import { ChakraProvider } from "@chakra-ui/react";
import { act, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import { isSingular, LANGUAGE_KEY, languageOf, preferredLanguage, subscribeLanguage, t, translate } from "../src/i18n";
import EditorPage from "../src/pages/EditorPage";
import { system } from "../src/system";
import { stubApi } from "./api-stub";
import { openEditor } from "./editor-harness";
import { MODULES, spec } from "./fixtures";

const storage = (values: Record<string, string>) => ({ getItem: (key: string) => values[key] ?? null });
const page = (lang: string | null) => {
  const el = document.createElement("html");
  if (lang !== null) el.setAttribute("lang", lang);
  return el;
};
const browser = (...languages: string[]) => ({ language: languages[0] ?? "", languages });

/** Airflow's language menu, as this frame hears it: i18next writes the choice, another document fires. */
function airflowChooses(language: string): void {
  act(() => {
    window.localStorage.setItem(LANGUAGE_KEY, language);
    window.dispatchEvent(new StorageEvent("storage", { key: LANGUAGE_KEY, newValue: language }));
  });
}

function serveApi() {
  const doc = spec({ status: "draft" });
  return stubApi(({ method, path }) => {
    if (path.startsWith("/me")) return { status: 200, body: { username: "u", can_edit: true, can_run: true, llm: false } };
    if (path === "/pipelines" && method === "GET") return { status: 200, body: { pipelines: [] } };
    if (path === "/trash") return { status: 200, body: { pipelines: [] } };
    if (path === "/pipelines/orders" && method === "GET") return { status: 200, body: { pipeline: doc, etag: "e1", version: 3, saved_at: "2024-05-01T12:00:00Z", errors: [] } };
    if (path === "/modules") return { status: 200, body: { modules: MODULES } };
    if (path === "/connections") return { status: 200, body: { connections: [] } };
    if (path.startsWith("/pipelines/orders/runs")) return { status: 200, body: { dag_found: false, runs: [] } };
    if (path === "/validate") return { status: 200, body: { valid: true, errors: [], warnings: [], schemas: {} } };
    return { status: 404, body: { detail: `unexpected ${method} ${path}`, errors: [] } };
  });
}

beforeEach(() => window.localStorage.clear());
afterEach(() => {
  window.localStorage.clear();
  vi.unstubAllGlobals();
});

describe("the language shown", () => {
  it.each([
    ["fr", "fr"],
    ["fr-CA", "fr"],
    ["FR_fr", "fr"],
    ["en", "en"],
    ["en-GB", "en"],
    ["de", "en"],
    ["zh-TW", "en"],
    ["french", "en"],
  ])("shows Airflow's choice %s as %s", (stored, shown) => {
    // The stored choice wins over the page and the browser, whatever they say.
    expect(preferredLanguage(storage({ [LANGUAGE_KEY]: stored }), page("fr"), browser("fr-FR"))).toBe(shown);
    expect(preferredLanguage(storage({ [LANGUAGE_KEY]: stored }), null, browser("en-US"))).toBe(shown);
  });

  it("without a stored choice: Airflow's page's <html lang>, then the browser's languages", () => {
    expect(preferredLanguage(storage({}), page("fr-FR"), browser("en-US"))).toBe("fr");
    expect(preferredLanguage(storage({}), page("en"), browser("fr"))).toBe("en");
    expect(preferredLanguage(storage({}), page(""), browser("fr-BE", "en"))).toBe("fr");
    expect(preferredLanguage(storage({}), page(null), browser("de-DE", "fr"))).toBe("en");
    expect(preferredLanguage(storage({}), null, browser("fr"))).toBe("fr");
    expect(preferredLanguage(storage({ [LANGUAGE_KEY]: "" }), null, browser("fr"))).toBe("fr");
    expect(preferredLanguage(storage({}), null, { language: "fr-CH" })).toBe("fr");
    expect(preferredLanguage(storage({}), null, null)).toBe("en");
    expect(preferredLanguage(null, null, null)).toBe("en");
  });

  it("does without a storage that refuses to be read (a sandboxed frame)", () => {
    const refusing = {
      getItem: (): string | null => {
        throw new DOMException("denied", "SecurityError");
      },
    };
    expect(preferredLanguage(refusing, null, browser("fr"))).toBe("fr");
  });

  it("reads tags as i18next writes them", () => {
    expect(languageOf("fr")).toBe("fr");
    expect(languageOf(" fr-CA ")).toBe("fr");
    expect(languageOf("fra")).toBe("en");
    expect(languageOf("")).toBeNull();
    expect(languageOf(null)).toBeNull();
  });

  it("is this browser's own by default: jsdom's English, or Airflow's stored French", () => {
    expect(preferredLanguage()).toBe("en");
    window.localStorage.setItem(LANGUAGE_KEY, "fr");
    expect(preferredLanguage()).toBe("fr");
  });

  it("hears a stored choice change and Airflow's page changing its <html lang>", async () => {
    const root = page("en");
    let calls = 0;
    const stop = subscribeLanguage(() => calls++, root);
    window.dispatchEvent(new StorageEvent("storage", { key: LANGUAGE_KEY, newValue: "fr" }));
    expect(calls).toBe(1);
    root.setAttribute("lang", "fr");
    await waitFor(() => expect(calls).toBe(2));
    expect(preferredLanguage(storage({}), root, browser("en"))).toBe("fr");
    stop();
    window.dispatchEvent(new StorageEvent("storage", { key: LANGUAGE_KEY, newValue: "en" }));
    expect(calls).toBe(2);
  });
});

describe("translating", () => {
  it("fills placeholders in either language and falls back to the English text", () => {
    expect(translate("en", "Saved version {version} as {status}.", { version: 4, status: "draft" })).toBe("Saved version 4 as draft.");
    expect(translate("fr", "Saved version {version} as {status}.", { version: 4, status: "brouillon" })).toBe("Version 4 enregistrée en brouillon.");
    expect(translate("fr", "A text nobody translated {x}", { x: 1 })).toBe("A text nobody translated 1");
    expect(translate("fr", "Delete {id}?", { id: "{id}" })).toBe("Supprimer {id}\u202f?");
  });

  it("counts as each language does: French takes the singular for 0 and 1", () => {
    expect([0, 1, 2].map((n) => isSingular("en", n))).toEqual([false, true, false]);
    expect([0, 1, 2].map((n) => isSingular("fr", n))).toEqual([true, true, false]);
    expect(t.plural(0, "{count} problem", "{count} problems")).toBe("0 problems");
    window.localStorage.setItem(LANGUAGE_KEY, "fr");
    expect(t.plural(0, "{count} problem", "{count} problems")).toBe("0 problème");
    expect(t.plural(1, "{count} problem", "{count} problems")).toBe("1 problème");
    expect(t.plural(3, "{count} problem", "{count} problems")).toBe("3 problèmes");
    expect(t.language).toBe("fr");
  });
});

describe("the builder in Airflow's language", () => {
  it("turns French the moment Airflow does", async () => {
    serveApi();
    await openEditor();
    expect(document.querySelector("[data-testid=pipeline-status]")?.textContent).toBe("draft");
    airflowChooses("fr");
    await screen.findByRole("button", { name: "Enregistrer le brouillon" });
    expect(screen.getByRole("button", { name: "Annuler" })).toBeTruthy();
    expect(screen.getByTestId("pipeline-status").textContent).toBe("brouillon");
  });

  it("opens the editor in French when Airflow is in French, and turns English when Airflow does", async () => {
    serveApi();
    window.localStorage.setItem(LANGUAGE_KEY, "fr");
    render(
      <ChakraProvider value={system}>
        <EditorPage pipelineId="orders" canEdit canRun />
      </ChakraProvider>,
    );
    await screen.findByRole("button", { name: "Enregistrer le brouillon" });
    expect(screen.getByRole("button", { name: "Enregistrer et activer" })).toBeTruthy();
    expect(screen.getByTestId("pipeline-status").textContent).toBe("brouillon");
    expect(screen.getByRole("link", { name: "← Pipelines" })).toBeTruthy();
    expect(screen.getByText("Paramètres du pipeline")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Save draft" })).toBeNull();

    airflowChooses("en-US");
    await screen.findByRole("button", { name: "Save draft" });
    expect(screen.getByTestId("pipeline-status").textContent).toBe("draft");
    expect(screen.getByText("Pipeline settings")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Enregistrer le brouillon" })).toBeNull();

    airflowChooses("fr");
    await screen.findByRole("button", { name: "Enregistrer le brouillon" });
  });

  it("sets its own <html lang> and follows the list page along", async () => {
    serveApi();
    window.localStorage.setItem(LANGUAGE_KEY, "fr-FR");
    render(
      <ChakraProvider value={system}>
        <App />
      </ChakraProvider>,
    );
    await screen.findByRole("button", { name: "Nouveau pipeline" });
    expect(document.documentElement.lang).toBe("fr");
    expect(screen.getByPlaceholderText("Rechercher par nom, id, tag ou statut")).toBeTruthy();

    airflowChooses("de");
    await screen.findByRole("button", { name: "New pipeline" });
    expect(document.documentElement.lang).toBe("en");
  });
});
