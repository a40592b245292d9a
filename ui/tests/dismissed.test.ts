import { act, renderHook, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api/client";
import { type DismissedRemote, legacyKey, readLegacy, useDismissed, withId, withoutId } from "../src/suggest/dismissed";

/** A server keeping ids per pipeline; `fail` makes the next calls of one kind fail with that status. */
function fakeServer(initial: Record<string, string[]> = {}) {
  const data = new Map(Object.entries(initial));
  const calls: string[] = [];
  const fail: Partial<Record<"list" | "add" | "remove", number>> = {};
  const check = (kind: "list" | "add" | "remove", pipelineId: string) => {
    const status = fail[kind];
    if (status) throw new ApiError(status, { detail: `${kind} failed (${status})`, errors: [] });
    if (!data.has(pipelineId)) throw new ApiError(404, { detail: `pipeline '${pipelineId}' not found`, errors: [] });
  };
  const remote: DismissedRemote = {
    list: async (p) => {
      calls.push(`list ${p}`);
      check("list", p);
      return [...(data.get(p) ?? [])];
    },
    add: async (p, id) => {
      calls.push(`add ${p} ${id}`);
      check("add", p);
      data.set(p, withId(data.get(p) ?? [], id));
      return [...(data.get(p) ?? [])];
    },
    remove: async (p, id) => {
      calls.push(`remove ${p} ${id}`);
      check("remove", p);
      data.set(p, withoutId(data.get(p) ?? [], id));
      return [...(data.get(p) ?? [])];
    },
  };
  return { remote, data, calls, fail };
}

function memoryStorage(initial: Record<string, string> = {}) {
  const data = new Map(Object.entries(initial));
  return { getItem: (k: string) => data.get(k) ?? null, removeItem: (k: string) => void data.delete(k), data };
}

describe("dismissed suggestion helpers", () => {
  it("keep each id once, newest last", () => {
    expect(withId(["a", "b"], "a")).toEqual(["b", "a"]);
    expect(withId([], "a")).toEqual(["a"]);
    expect(withoutId(["a", "b"], "a")).toEqual(["b"]);
    expect(withoutId(["a"], "zz")).toEqual(["a"]);
  });

  it("read the old browser entries defensively", () => {
    expect(readLegacy("p", memoryStorage({ [legacyKey("p")]: "{not json" }))).toEqual([]);
    expect(readLegacy("p", memoryStorage({ [legacyKey("p")]: JSON.stringify(["a", 1, null, "", "b"]) }))).toEqual(["a", "b"]);
    expect(readLegacy("p", null)).toEqual([]);
    const failing = { getItem: () => { throw new Error("denied"); }, removeItem: () => undefined };
    expect(readLegacy("p", failing)).toEqual([]);
  });
});

describe("useDismissed", () => {
  it("loads the pipeline's ids from the server and stores changes there", async () => {
    const server = fakeServer({ orders: ["dup"] });
    const storage = memoryStorage();
    const { result } = renderHook(() => useDismissed("orders", true, server.remote, storage));
    expect(result.current.persistence).toBe("loading");
    await waitFor(() => expect(result.current.persistence).toBe("server"));
    expect(result.current.ids).toEqual(["dup"]);

    act(() => {
      void result.current.dismiss("pad");
    });
    expect(result.current.ids).toEqual(["dup", "pad"]); // at once, before the server answers
    await waitFor(() => expect(server.data.get("orders")).toEqual(["dup", "pad"]));
    act(() => {
      void result.current.restore("dup");
    });
    expect(result.current.ids).toEqual(["pad"]);
    await waitFor(() => expect(server.data.get("orders")).toEqual(["pad"]));
    expect(result.current.error).toBeNull();
    expect(server.calls).toEqual(["list orders", "add orders pad", "remove orders dup"]);
  });

  it("undoes a change the server refuses and says why", async () => {
    const server = fakeServer({ orders: ["dup"] });
    const { result } = renderHook(() => useDismissed("orders", true, server.remote, memoryStorage()));
    await waitFor(() => expect(result.current.persistence).toBe("server"));
    server.fail.add = 500;
    act(() => {
      void result.current.dismiss("pad");
    });
    expect(result.current.ids).toEqual(["dup", "pad"]);
    await waitFor(() => expect(result.current.ids).toEqual(["dup"]));
    expect(result.current.error).toBe("Could not dismiss the suggestion: add failed (500)");

    server.fail.remove = 403;
    act(() => {
      void result.current.restore("dup");
    });
    expect(result.current.ids).toEqual([]);
    await waitFor(() => expect(result.current.ids).toEqual(["dup"]));
    expect(result.current.error).toBe("Could not restore the suggestion: remove failed (403)");
    act(() => result.current.clearError());
    expect(result.current.error).toBeNull();
    expect(server.data.get("orders")).toEqual(["dup"]);

    // The promise tells the caller whether the change holds.
    let held: boolean | undefined;
    await act(async () => {
      held = await result.current.restore("dup");
    });
    expect(held).toBe(false);
    server.fail.remove = undefined;
    await act(async () => {
      held = await result.current.restore("dup");
    });
    expect(held).toBe(true);
    expect(server.data.get("orders")).toEqual([]);
  });

  it("keeps dismissals in memory for a pipeline the server does not know", async () => {
    const server = fakeServer();
    const { result } = renderHook(() => useDismissed("unsaved", true, server.remote, memoryStorage()));
    await waitFor(() => expect(result.current.persistence).toBe("memory"));
    act(() => {
      void result.current.dismiss("dup");
    });
    expect(result.current.ids).toEqual(["dup"]);
    act(() => {
      void result.current.restore("dup");
    });
    expect(result.current.ids).toEqual([]);
    expect(result.current.error).toBeNull();
    expect(server.calls).toEqual(["list unsaved"]);
  });

  it("keeps a dismissal for the page when the pipeline was deleted meanwhile", async () => {
    const server = fakeServer({ orders: [] });
    const { result } = renderHook(() => useDismissed("orders", true, server.remote, memoryStorage()));
    await waitFor(() => expect(result.current.persistence).toBe("server"));
    server.data.delete("orders");
    act(() => {
      void result.current.dismiss("dup");
    });
    await waitFor(() => expect(result.current.persistence).toBe("memory"));
    expect(result.current.ids).toEqual(["dup"]);
    expect(result.current.error).toBeNull();
  });

  it("says when the list cannot be loaded, and still stores dismissals", async () => {
    const server = fakeServer({ orders: ["old"] });
    server.fail.list = 500;
    const { result } = renderHook(() => useDismissed("orders", true, server.remote, memoryStorage()));
    await waitFor(() => expect(result.current.error).toBe("Cannot load the dismissed suggestions: list failed (500)"));
    act(() => {
      void result.current.dismiss("dup");
    });
    await waitFor(() => expect(server.data.get("orders")).toEqual(["old", "dup"]));
  });

  it("moves the old browser entries to the server once, then forgets them", async () => {
    const server = fakeServer({ orders: ["dup"] });
    const storage = memoryStorage({ [legacyKey("orders")]: JSON.stringify(["dup", "pad", "case"]) });
    const { result, unmount } = renderHook(() => useDismissed("orders", true, server.remote, storage));
    expect(result.current.ids).toEqual(["dup", "pad", "case"]); // hidden before the server answers
    await waitFor(() => expect(storage.data.has(legacyKey("orders"))).toBe(false));
    expect(server.data.get("orders")).toEqual(["dup", "pad", "case"]);
    expect(server.calls).toEqual(["list orders", "add orders pad", "add orders case"]);
    expect(result.current.ids).toEqual(["dup", "pad", "case"]);
    unmount();

    // A failed move keeps the browser entry for the next open.
    const again = fakeServer({ other: [] });
    again.fail.add = 500;
    const kept = memoryStorage({ [legacyKey("other")]: JSON.stringify(["x"]) });
    const second = renderHook(() => useDismissed("other", true, again.remote, kept));
    await waitFor(() => expect(again.calls).toEqual(["list other", "add other x"]));
    await waitFor(() => expect(second.result.current.persistence).toBe("server"));
    expect(kept.data.has(legacyKey("other"))).toBe(true);
    expect(second.result.current.ids).toEqual(["x"]);
  });

  it("asks nothing when disabled (read-only users) and reloads for another pipeline", async () => {
    const server = fakeServer({ a: ["one"], b: ["two"] });
    const { result, rerender } = renderHook(({ id, enabled }) => useDismissed(id, enabled, server.remote, memoryStorage()), {
      initialProps: { id: "a", enabled: false },
    });
    await Promise.resolve();
    expect(server.calls).toEqual([]);
    expect(result.current.ids).toEqual([]);
    rerender({ id: "a", enabled: true });
    await waitFor(() => expect(result.current.ids).toEqual(["one"]));
    rerender({ id: "b", enabled: true });
    await waitFor(() => expect(result.current.ids).toEqual(["two"]));
  });
});
