// Airflow's accent colour: read from its page or its UI configuration, applied as the builder's `brand`.
import { afterEach, describe, expect, it, vi } from "vitest";
import { accentFromConfig, accentFromPage, accentVariable, applyAccent, followAirflowAccent, isColour } from "../src/accent";

afterEach(() => {
  applyAccent(null);
  vi.unstubAllGlobals();
});

describe("Airflow's accent colour", () => {
  it("accepts colours and nothing that could smuggle anything else into a style", () => {
    for (const ok of ["oklch(0.5 0.1 20)", "#0af", "#00aaff80", "rgb(1, 2, 3)", "hsl(10 50% 40% / 0.5)"]) expect(isColour(ok)).toBe(true);
    for (const bad of ["red; background: url(x)", "url(javascript:1)", "var(--x)", "expression(alert(1))", "oklch(0.5 0.1 20)}body{", "", 3, null])
      expect(isColour(bad)).toBe(false);
  });

  it("reads the brand shades of Airflow's [api] theme and ignores the rest", () => {
    const config = { theme: { tokens: { colors: { brand: { "500": { value: "oklch(0.637 0.237 25.331)" }, "600": { value: "url(x)" }, "999": { value: "#fff" } } } } } };
    expect(accentFromConfig(config)).toEqual({ "500": "oklch(0.637 0.237 25.331)" });
    expect(accentFromConfig({ theme: null })).toBeNull();
    expect(accentFromConfig(null)).toBeNull();
  });

  it("reads what Airflow's page shows through its CSS variables", () => {
    const root = document.createElement("html");
    root.style.setProperty("--chakra-colors-brand-600", "oklch(0.577 0.245 27.325)");
    document.body.appendChild(root);
    try {
      expect(accentFromPage(root)).toEqual({ "600": "oklch(0.577 0.245 27.325)" });
    } finally {
      root.remove();
    }
    expect(accentFromPage(null)).toBeNull();
  });

  it("applies the configured shades as the builder's brand variables, from Airflow's UI configuration", async () => {
    const fetcher = vi.fn(async () => new Response(JSON.stringify({ theme: { tokens: { colors: { brand: { "600": { value: "#aa0000" } } } } } }), { status: 200 }));
    await followAirflowAccent(fetcher as unknown as typeof fetch);
    expect(fetcher).toHaveBeenCalledWith("/ui/config", expect.objectContaining({ credentials: "include" }));
    expect(document.documentElement.style.getPropertyValue(accentVariable("600"))).toBe("#aa0000");
    const failing = vi.fn(async () => new Response("{}", { status: 401 }));
    await followAirflowAccent(failing as unknown as typeof fetch);
    expect(document.documentElement.style.getPropertyValue(accentVariable("600"))).toBe("");
  });
});

describe("Airflow's address prefix", () => {
  it("is what precedes /logidata/ui", async () => {
    const { airflowPrefix } = await import("../src/accent");
    expect(airflowPrefix("/logidata/ui/")).toBe("");
    expect(airflowPrefix("/airflow/logidata/ui/index.html")).toBe("/airflow");
    expect(airflowPrefix("/")).toBe("");
  });
});
