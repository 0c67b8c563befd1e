// npm run test:browser: gradtx in headless Chromium (the system's, never a downloaded one).
//
// Bundles the test page with esbuild against the package's build, serves it on 127.0.0.1 under
// the CSP gradtx must load under (script-src 'self' 'wasm-unsafe-eval'), once with and once
// without cross-origin isolation, and checks:
// - the pure, donated and compiled (1 and 2 threads) paths give the bits Node gives in this run;
// - nothing breaks the CSP, and a violation would be caught (the page's own probe is);
// - run.threads is 2 on the isolated page, where a Web Worker runs its share, and 1 without;
//   the worker script is found with no URL given, and one that does not load counts 1 thread.
// Then the playground (test/browser/playground.mjs). Exits non-zero on any failure.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import * as gradtx from "gradtx";
import { runPaths } from "./problem.mjs";
import { serve } from "../../docs/playground/serve.mjs";
import { checkPlayground } from "./playground.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const out = join(root, "dist-browser", "test");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let failures = 0;
const check = async (name, body) => {
  try {
    await body();
    console.log(`ok   ${name}`);
  } catch (error) {
    failures++;
    console.log(`FAIL ${name}\n     ${String(error?.message ?? error).replaceAll("\n", "\n     ")}`);
  }
};

// The page and the worker script, bundled from the package build as a user's bundler would.
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const common = { bundle: true, format: "esm", target: "es2022", logLevel: "warning", absWorkingDir: root };
await build({ ...common, entryPoints: [join(here, "page.mjs")], outfile: join(out, "page.js") });
await build({
  ...common,
  stdin: { contents: 'import "gradtx/worker";', resolveDir: root, sourcefile: "worker.mjs" },
  outfile: join(out, "worker.js"),
});
copyFileSync(join(here, "index.html"), join(out, "index.html"));
copyFileSync(join(here, "csp-listener.js"), join(out, "csp-listener.js"));

const expected = await runPaths(gradtx);
const isolated = await serve(out, { isolated: true });
const plain = await serve(out, { isolated: false });
const profile = mkdtempSync(join(tmpdir(), "gradtx-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: FLAGS,
});

/** Opens `url`, waits for the page's result, and returns it with the console errors and CSP violations. */
async function visit(url, ready = () => globalThis.testResult !== undefined) {
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(ready, undefined, { timeout: 120_000 });
  return { page, errors };
}

try {
  for (const [name, server, threads] of [
    ["isolated", isolated, 2],
    ["not isolated", plain, 1],
  ]) {
    const { page, errors } = await visit(server.url);
    const result = await page.evaluate(() => globalThis.testResult);
    await check(`${name} page: runs to the end`, () => assert.equal(result.error, undefined, result.error));
    if (result.error !== undefined) continue;
    await check(`${name} page: crossOriginIsolated is ${threads === 2}`, () =>
      assert.equal(result.isolated, threads === 2),
    );
    for (const path of Object.keys(expected))
      await check(`${name} page: ${path} gives Node's bits (${expected[path].hash})`, () =>
        assert.deepEqual(
          { hash: result.paths[path].hash, head: result.paths[path].head },
          { hash: expected[path].hash, head: expected[path].head },
        ),
      );
    await check(`${name} page: compiled with 2 threads asked and no worker URL runs on ${threads}`, () =>
      assert.equal(result.paths["compiled, 2 threads"].threads, threads),
    );
    for (const [variant, count] of [
      ["given", threads],
      ["missing", 1],
    ])
      await check(
        `${name} page: with the worker URL ${variant}, 2 threads asked run on ${count}, with Node's bits`,
        () => {
          assert.equal(result[variant]["compiled, 2 threads"].threads, count);
          for (const path of Object.keys(expected)) assert.equal(result[variant][path].hash, expected[path].hash, path);
        },
      );
    await check(`${name} page: compiled runs generated WebAssembly`, () =>
      assert.equal(result.paths["compiled, 1 thread"].backend, "wasm"),
    );
    if (threads === 2)
      await check("isolated page: a Web Worker ran its half of every step on the shared memory", () =>
        assert.deepEqual(result.pool, { started: true, workerSegments: 3, correct: true }),
      );
    const violations = await page.evaluate(() => globalThis.violations.slice());
    await check(`${name} page: no CSP violation, no console error`, () => {
      assert.deepEqual(violations, []);
      assert.deepEqual(errors, []);
    });
    // The page's probe compiles a string: the CSP must block it, and the listeners must see it.
    // (From a task of the page's own: code that the test driver evaluates may compile strings.)
    await page.evaluate(() => setTimeout(() => (globalThis.probed = globalThis.probeEval()), 0));
    await page.waitForFunction(() => globalThis.probed !== undefined);
    const probe = await page.evaluate(() => globalThis.probed);
    await page.waitForFunction(() => globalThis.violations.length > 0, undefined, { timeout: 10_000 }).catch(() => {});
    const caught = await page.evaluate(() => globalThis.violations.slice());
    await check(`${name} page: a string compiled as code is blocked, and the violation is caught`, () => {
      assert.equal(probe, "blocked: EvalError");
      assert.equal(caught.length, 1, caught.join("; "));
      assert.match(caught[0], /script-src/);
    });
    await page.close();
  }
  await checkPlayground({ visit, check, root, gradtx });
} finally {
  await context.close();
  isolated.server.close();
  plain.server.close();
  rmSync(profile, { recursive: true, force: true });
}

if (failures > 0) {
  console.log(`${failures} browser check(s) failed`);
  process.exit(1);
}
console.log("browser tests ok");
