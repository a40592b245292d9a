/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The bundle ships inside the Python wheel as package data and is served by the plugin at /logidata/ui/,
// so asset URLs must be relative (`base: "./"`) and the output goes straight into the package.
const outDir = fileURLToPath(new URL("../airflow_provider_logidata/ui_dist", import.meta.url));

export default defineConfig({
  base: "./",
  plugins: [react()],
  build: {
    outDir,
    emptyOutDir: true,
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      output: {
        // Long-lived vendor chunks: the editor's React Flow is only fetched when a pipeline is opened.
        manualChunks(id: string) {
          if (id.includes("node_modules/@xyflow")) return "flow";
          if (id.includes("node_modules/@chakra-ui") || id.includes("node_modules/@ark-ui") || id.includes("node_modules/@zag-js") || id.includes("node_modules/@emotion") || id.includes("node_modules/@pandacss")) return "chakra";
          if (id.includes("node_modules/react") || id.includes("node_modules/scheduler")) return "react";
          return undefined;
        },
      },
    },
  },
  server: {
    // `npm run dev` against a local Airflow (make demo): the API and login live on the api-server.
    proxy: {
      "/logidata/api": "http://127.0.0.1:8080",
      "/auth": "http://127.0.0.1:8080",
    },
  },
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.{ts,tsx}"],
    setupFiles: ["tests/setup.ts"],
    css: false,
    // No test may fail because a loaded 2-core machine is slow (the typegen check, which starts a Node
    // process, timed out at vitest's default 5 s during a fresh-clone `make test`): no per-test or hook
    // limit; `make test` as a whole has CI's.
    testTimeout: 0,
    hookTimeout: 0,
  },
});
