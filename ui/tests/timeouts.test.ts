// @vitest-environment node
import { getConfig } from "@testing-library/dom";
import { describe, expect, it } from "vitest";
import config from "../vite.config";
import { ASYNC_UTIL_TIMEOUT_MS } from "./setup";

describe("no wall-clock limit a slow machine can hit", () => {
  it("vitest runs tests and hooks without a timeout", () => {
    expect(config.test?.testTimeout).toBe(0);
    expect(config.test?.hookTimeout).toBe(0);
  });

  it("findBy/waitFor wait minutes, not testing-library's default second", () => {
    expect(getConfig().asyncUtilTimeout).toBe(ASYNC_UTIL_TIMEOUT_MS);
    expect(ASYNC_UTIL_TIMEOUT_MS).toBeGreaterThanOrEqual(60_000);
  });
});
