// Run with `node --disallow-code-generation-from-strings`: the Node twin of a page whose
// Content-Security-Policy has no 'unsafe-eval'. gradtx must load and train (pure, donated and
// compiled) with `eval` and `new Function` refused, the way a browser refuses them under that CSP.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { adam, applyUpdates, chain, clipByGlobalNorm, compile, donate, lookahead, slowParams, tree } from "gradtx";

assert.throws(() => new Function("return 1"), EvalError, "run this smoke with --disallow-code-generation-from-strings");

const opt = chain(clipByGlobalNorm(1), lookahead(adam(0.1), { syncPeriod: 3 }));
const start = { w: Float32Array.of(1, 2, 3, 4), b: Float64Array.of(-1) };
let params = start;
let state = opt.init(params);
for (let step = 1; step <= 6; step++) {
  const [updates, next] = opt.update(tree.scale(2, params), donate(state), params);
  params = applyUpdates(params, updates);
  state = next;
}
assert.deepEqual(Array.from(params.w), Array.from(slowParams(state).w), "synced after step 6");

const run = compile(opt, start);
for (let step = 1; step <= 6; step++) run.step(tree.scale(2, run.params));
assert.deepEqual(Array.from(run.params.w), Array.from(params.w), "compiled gives the same bits");
assert.deepEqual(Array.from(run.params.b), Array.from(params.b));
run.dispose();

// The CommonJS build too.
const cjs = createRequire(import.meta.url)("gradtx");
const again = cjs.compile(cjs.chain(cjs.clipByGlobalNorm(1), cjs.lookahead(cjs.adam(0.1), { syncPeriod: 3 })), start);
for (let step = 1; step <= 6; step++) again.step(cjs.tree.scale(2, again.params));
assert.deepEqual(Array.from(again.params.w), Array.from(params.w), "the CommonJS build gives the same bits");
console.log("no-eval smoke: gradtx loads and trains without code generation from strings");
