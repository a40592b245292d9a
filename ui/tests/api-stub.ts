// The builder API as a test answers it: `fetch` stubbed, each call (its path relative to /logidata/api, its
// JSON body parsed) handed to `answer`.
import { vi } from "vitest";

export interface ApiCall {
  method: string;
  path: string;
  body: Record<string, unknown>;
}

export type ApiAnswer = { status: number; body: unknown };

/** Stub `fetch`; the calls made are appended to `calls` (returned). Undo with `vi.unstubAllGlobals()`. */
export function stubApi(answer: (call: ApiCall) => ApiAnswer | Promise<ApiAnswer>, calls: ApiCall[] = []): ApiCall[] {
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit) => {
      const call = { method: init.method ?? "GET", path: url.replace(/^.*\/logidata\/api/, ""), body: init.body ? (JSON.parse(String(init.body)) as Record<string, unknown>) : {} };
      calls.push(call);
      const { status, body } = await answer(call);
      return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    }),
  );
  return calls;
}
