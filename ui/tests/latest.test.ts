import { describe, expect, it } from "vitest";
import { latestGuard, runLatest } from "../src/graph/latest";

/** A promise the test settles by hand, to answer requests in any order. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("stale-response guard", () => {
  it("only the newest ticket is current", () => {
    const guard = latestGuard();
    const a = guard.issue();
    expect(guard.isLatest(a)).toBe(true);
    const b = guard.issue();
    expect(guard.isLatest(a)).toBe(false);
    expect(guard.isLatest(b)).toBe(true);
  });

  it("drops an older answer arriving after a newer one", async () => {
    const guard = latestGuard();
    const applied: string[] = [];
    const first = deferred<string>();
    const second = deferred<string>();
    const one = runLatest(guard, () => first.promise, (v) => applied.push(v));
    const two = runLatest(guard, () => second.promise, (v) => applied.push(v));
    second.resolve("newer");
    await two;
    first.resolve("older");
    await one;
    expect(applied).toEqual(["newer"]);
  });

  it("applies answers arriving in order, and reports only the newest failure", async () => {
    const guard = latestGuard();
    const applied: string[] = [];
    const failed: unknown[] = [];
    await runLatest(guard, async () => "a", (v) => applied.push(v));
    await runLatest(guard, async () => "b", (v) => applied.push(v));
    expect(applied).toEqual(["a", "b"]);

    const stale = deferred<string>();
    const pending = runLatest(guard, () => stale.promise, (v) => applied.push(v), (e) => failed.push(e));
    await runLatest(guard, () => Promise.reject(new Error("down")), (v) => applied.push(v), (e) => failed.push(e));
    stale.reject(new Error("stale"));
    await pending;
    expect(failed.map((e) => (e as Error).message)).toEqual(["down"]);
  });
});
