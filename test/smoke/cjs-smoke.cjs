// Requires the built package under plain Node from CommonJS, the way a user's CommonJS program
// does: through the package name and the `require` conditions of its exports map. Then imports
// the ESM build in the same process and checks that both builds give the same numbers, bit for
// bit, and that an error of one is `instanceof GradTxError` of the other.
"use strict";
const assert = require("node:assert/strict");
const { sep } = require("node:path");
const ndarray = require("ndarray");
const gradtx = require("gradtx");
const laws = require("gradtx/laws");
const losses = require("gradtx/losses");

assert.ok(require.resolve("gradtx").endsWith(`${sep}dist${sep}cjs${sep}index.js`), require.resolve("gradtx"));
assert.ok(require.resolve("gradtx/laws").endsWith(`${sep}dist${sep}cjs${sep}laws${sep}index.js`));
assert.ok(require.resolve("gradtx/losses").endsWith(`${sep}dist${sep}cjs${sep}losses${sep}index.js`));

/** A few steps of clipped Adam inside Lookahead on f(x) = sum(x^2), with the given build. */
function train(g) {
  const opt = g.chain(g.clipByGlobalNorm(1), g.lookahead(g.adam(0.1), { syncPeriod: 3 }));
  let params = {
    w: ndarray(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]),
    b: Float64Array.of(-1, 0.5),
    s: Float32Array.of(0.25),
  };
  let state = opt.init(params);
  for (let step = 1; step <= 7; step++) {
    const grads = g.tree.scale(2, params);
    const [updates, next] = opt.update(grads, state, params);
    params = g.applyUpdates(params, updates);
    state = next;
  }
  return { params, slow: g.slowParams(state), norm: g.tree.globalNorm(params) };
}
const flat = (g, t) => g.tree.leaves(t).map((leaf) => Array.from(leaf.data ?? leaf));

const fromRequire = train(gradtx);
const start = Math.hypot(1, 2, 3, 4, 5, 6, 1, 0.5, 0.25);
assert.ok(fromRequire.norm < start, "the loss went down");
assert.ok(fromRequire.params.w.data instanceof Float32Array && fromRequire.params.b instanceof Float64Array);
assert.deepEqual(fromRequire.params.w.shape, [2, 3], "an ndarray leaf stays an ndarray of its shape");

assert.throws(() => gradtx.adam(-1), gradtx.GradTxError);
assert.equal(gradtx.safeFactory(gradtx.adam)(-1)._tag, "Left", "the fp-ts face works under require");
laws.checkLookaheadSync({ numRuns: 5 });
/** The loss of logits (2, 0, 0) for class 0, and its gradient, with the given build of gradtx/losses. */
const lossOf = (l) => l.softmaxCrossEntropyWithIntegerLabels(ndarray(Float32Array.of(2, 0, 0), [1, 3]), [0]);
const loss = lossOf(losses);
assert.ok(Math.abs(loss.value - Math.log(1 + 2 * Math.exp(-2))) < 1e-6, "softmax cross entropy under require");
assert.ok(loss.grad.data instanceof Float32Array && loss.grad.shape.join() === "1,3");

(async () => {
  const esm = await import("gradtx");
  assert.notEqual(esm.adam, gradtx.adam, "import gave the ESM build, a second copy");
  const fromImport = train(esm);
  assert.deepEqual(flat(gradtx, fromRequire.params), flat(esm, fromImport.params), "same fast weights");
  assert.deepEqual(flat(gradtx, fromRequire.slow), flat(esm, fromImport.slow), "same slow weights");
  assert.equal(fromRequire.norm, fromImport.norm);
  const esmLosses = await import("gradtx/losses");
  assert.deepEqual(Array.from(lossOf(esmLosses).grad.data), Array.from(loss.grad.data), "same loss gradient");

  // The two copies' errors are each other's GradTxError; other errors are not.
  assert.throws(() => gradtx.adam(-1), esm.GradTxError);
  assert.throws(() => esm.adam(-1), gradtx.GradTxError);
  assert.ok(!(new Error("x") instanceof gradtx.GradTxError));
  console.log(
    "CommonJS smoke test ok: require('gradtx'), require('gradtx/laws') and require('gradtx/losses') work, with the ESM build's numbers",
  );
})().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
