// Imports the built package under plain Node (no vitest, no TypeScript), the way a user's
// ESM program does: through the package name and its exports map. Catches ESM traps vitest
// hides (CommonJS default imports, fp-ts paths, missing .js extensions).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ndarray from "ndarray";
import * as gradtx from "gradtx";
import * as laws from "gradtx/laws";
import { squaredError } from "gradtx/losses";

const { adam, applyUpdates, chain, clipByGlobalNorm, lookahead, slowParams, safeFactory, GradTxError, tree } = gradtx;

const opt = chain(clipByGlobalNorm(1), lookahead(adam(0.1), { syncPeriod: 5 }));
let params = { w: ndarray(Float32Array.of(1, 2, 3, 4), [2, 2]), b: Float64Array.of(-1) };
let state = opt.init(params);
for (let step = 1; step <= 10; step++) {
  const grads = tree.scale(2, params);
  const [updates, next] = opt.update(grads, state, params);
  params = applyUpdates(params, updates);
  state = next;
}
const flat = (t) => tree.leaves(t).flatMap((leaf) => Array.from(leaf.data ?? leaf));
assert.deepEqual(flat(params), flat(slowParams(state)), "fast == slow after the 10th step (a sync)");
assert.ok(tree.globalNorm(params) < Math.hypot(1, 2, 3, 4, 1), "the loss went down");
assert.equal(safeFactory(adam)(-1)._tag, "Left", "the fp-ts face works under Node ESM");
assert.throws(() => adam(-1), GradTxError);
laws.checkLookaheadSync({ numRuns: 5 });
// gradtx/losses: mean((p - t)^2) of (1, 2) against (0, 0) is 2.5, its gradient (1, 2).
const mse = squaredError(ndarray(Float64Array.of(1, 2), [2]), ndarray(Float64Array.of(0, 0), [2]));
assert.equal(mse.value, 2.5);
assert.deepEqual(Array.from(mse.grad.data), [1, 2]);

// The compiled path under plain Node: a module generated at run time, and a worker thread
// started from source text (no file to resolve), on shared memory. Both must give the pure path's
// float64 numbers; donation must give them bit for bit.
const { compile, donate } = gradtx;
const big = () => ({ w: Float64Array.from({ length: 70_000 }, (_, j) => Math.sin(j)), b: Float64Array.of(0.5, -0.5) });
let pureParams = big();
let pureState = opt.init(pureParams);
let donatedParams = big();
let donatedState = opt.init(donatedParams);
const run = compile(opt, big(), { threads: 2 });
assert.equal(run.backend, "wasm", run.reason);
for (let step = 1; step <= 6; step++) {
  const grads = tree.scale(2, pureParams);
  const [u, next] = opt.update(grads, pureState, pureParams);
  pureParams = applyUpdates(pureParams, u);
  pureState = next;
  const [du, dnext] = opt.update(grads, donate(donatedState), donatedParams);
  donatedParams = applyUpdates(donate(donatedParams), du);
  donatedState = dnext;
  run.step(grads);
}
run.dispose();
const want = flat(pureParams);
const worst = flat(run.params).reduce((w, x, i) => Math.max(w, Math.abs(x - want[i])), 0);
assert.ok(worst < 1e-12, `compiled on 2 threads is ${worst} from the pure path`);
assert.deepEqual(flat(donatedParams), flat(pureParams), "donation gives the pure numbers");

// Importing gradtx must not load fast-check: walk the static imports of dist/index.js.
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../dist");
const seen = new Set();
const visit = (file) => {
  if (seen.has(file)) return;
  seen.add(file);
  for (const [, spec] of readFileSync(file, "utf8").matchAll(/(?:import|export)[^"']*?from\s*["']([^"']+)["']/g)) {
    assert.ok(!spec.startsWith("fast-check"), `${file} imports ${spec}`);
    if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
  }
};
visit(resolve(root, "index.js"));
assert.ok(seen.size > 5);
console.log(
  `dist smoke test ok: the built package imports under plain Node, and its ${seen.size} modules load without fast-check`,
);
