// @vitest-environment node
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

describe("generated API types", () => {
  it("src/api/schema.d.ts is fresh (npm run typegen regenerates it from openapi.json)", () => {
    const script = fileURLToPath(new URL("../scripts/typegen-check.mjs", import.meta.url));
    expect(() => execFileSync(process.execPath, [script], { stdio: "pipe" })).not.toThrow();
  });
});
