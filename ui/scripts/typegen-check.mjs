// Fails when src/api/schema.d.ts differs from a fresh generation from openapi.json (stale committed types).
// `npm run typegen` regenerates; the backend's exporter refreshes openapi.json from the FastAPI app.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tmp = mkdtempSync(join(tmpdir(), "logidata-typegen-"));
try {
  const fresh = join(tmp, "schema.d.ts");
  execFileSync(
    process.execPath,
    [join(root, "node_modules/openapi-typescript/bin/cli.js"), join(root, "openapi.json"), "-o", fresh],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const committed = readFileSync(join(root, "src/api/schema.d.ts"), "utf8");
  if (readFileSync(fresh, "utf8") !== committed) {
    console.error(
      "ui/src/api/schema.d.ts is stale: it differs from a fresh generation from ui/openapi.json.\n" +
        "Fix: cd ui && npm run typegen, then commit src/api/schema.d.ts.",
    );
    process.exit(1);
  }
  console.log("ui/src/api/schema.d.ts is up to date with ui/openapi.json");
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
