// The committed docs/playground/playground.js bundles gradtx: it must be this tree's build, or the
// page opened from the files runs an older gradtx. Checked here, with no browser, so that a change
// to src/ without `npm run playground -- --build` fails `npm test` and not only the browser checks.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildPlayground, isCommittedBuild } from "../../docs/playground/build.mjs";

const out = mkdtempSync(join(tmpdir(), "gradtx-playground-"));
try {
  await buildPlayground(out);
  assert.ok(
    isCommittedBuild(out),
    "docs/playground/playground.js differs from a fresh build: run npm run playground -- --build",
  );
} finally {
  rmSync(out, { recursive: true, force: true });
}
console.log("playground smoke ok: the committed playground.js is this tree's build");
