// The committed docs/playground/playground.js bundles gradtx: it must be this tree's build, or the
// page opened from the files runs an older gradtx. Checked here, with no browser, so that a change
// to src/ without `npm run playground -- --build` fails `npm test` and not only the browser checks.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildPlayground } from "../../docs/playground/build.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const out = mkdtempSync(join(tmpdir(), "gradtx-playground-"));
try {
  await buildPlayground(out);
  const fresh = readFileSync(join(out, "playground.js"));
  const committed = readFileSync(join(root, "docs", "playground", "playground.js"));
  assert.ok(
    fresh.equals(committed),
    "docs/playground/playground.js differs from a fresh build: run npm run playground -- --build",
  );
} finally {
  rmSync(out, { recursive: true, force: true });
}
console.log("playground smoke ok: the committed playground.js is this tree's build");
