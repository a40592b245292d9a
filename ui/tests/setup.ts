// jsdom lacks a few browser APIs Chakra UI and React Flow touch.
import { cleanup, configure } from "@testing-library/react";
import { afterEach } from "vitest";

afterEach(() => cleanup());

// No wall-clock limit a loaded 2-core machine can hit (vite.config.ts sets vitest's own to none): findBy and
// waitFor poll until what they wait for appears; only a test that would fail anyway waits this long.
export const ASYNC_UTIL_TIMEOUT_MS = 2 * 60 * 1000;
configure({ asyncUtilTimeout: ASYNC_UTIL_TIMEOUT_MS });

const inBrowser = typeof window !== "undefined";
// A desktop window (jsdom's default 1024 × 768 is the builder's compact layout, panels folded).
if (inBrowser) {
  Object.defineProperty(window, "innerWidth", { writable: true, configurable: true, value: 1600 });
  Object.defineProperty(window, "innerHeight", { writable: true, configurable: true, value: 1000 });
}
if (inBrowser && !window.matchMedia) {
  Object.defineProperty(window, "matchMedia", {
    writable: true,
    value: (query: string) => ({
      matches: false,
      media: query,
      onchange: null,
      addListener: () => undefined,
      removeListener: () => undefined,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
      dispatchEvent: () => false,
    }),
  });
}
class ResizeObserverStub {
  observe(): void {}
  unobserve(): void {}
  disconnect(): void {}
}
(globalThis as { ResizeObserver?: unknown }).ResizeObserver ??= ResizeObserverStub;
if (inBrowser && !Element.prototype.scrollTo) Element.prototype.scrollTo = () => undefined;
