import { describe, expect, it } from "vitest";
import { dismiss, dismissedKey, loadDismissed, MAX_DISMISSED, undismissAll } from "../src/suggest/dismissed";

function memoryStorage(initial: Record<string, string> = {}) {
  const data = new Map(Object.entries(initial));
  return { getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => void data.set(k, v), data };
}

describe("dismissed suggestions", () => {
  it("persist per pipeline, once each", () => {
    const store = memoryStorage();
    expect(loadDismissed("orders", store)).toEqual([]);
    expect(dismiss("orders", "exact_duplicates:*", store)).toEqual(["exact_duplicates:*"]);
    dismiss("orders", "padded_text:customer", store);
    dismiss("orders", "exact_duplicates:*", store);
    expect(loadDismissed("orders", store)).toEqual(["padded_text:customer", "exact_duplicates:*"]);
    expect(loadDismissed("other", store)).toEqual([]);
    expect(store.data.get(dismissedKey("orders"))).toBe(JSON.stringify(["padded_text:customer", "exact_duplicates:*"]));
    expect(undismissAll("orders", store)).toEqual([]);
    expect(loadDismissed("orders", store)).toEqual([]);
  });

  it("survive corrupt entries and failing storage", () => {
    expect(loadDismissed("p", memoryStorage({ [dismissedKey("p")]: "{not json" }))).toEqual([]);
    expect(loadDismissed("p", memoryStorage({ [dismissedKey("p")]: JSON.stringify(["a", 1, null, "b"]) }))).toEqual(["a", "b"]);
    const failing = { getItem: () => null, setItem: () => { throw new Error("quota"); } };
    expect(dismiss("p", "x", failing)).toEqual(["x"]);
    expect(loadDismissed("p", null)).toEqual([]);
  });

  it("forget the oldest beyond the cap", () => {
    const store = memoryStorage();
    for (let i = 0; i < MAX_DISMISSED + 5; i += 1) dismiss("p", `s${i}`, store);
    const ids = loadDismissed("p", store);
    expect(ids).toHaveLength(MAX_DISMISSED);
    expect(ids[0]).toBe("s5");
  });
});
