import { adam, applyUpdates, chain, clipByGlobalNorm, compile, donate, lookahead } from "gradtx";

type Params = { w: Float32Array; b: Float32Array };
declare function gradientsInto(params: Params, out: Params, step: number): void; // your backward pass

const optimizer = chain(clipByGlobalNorm(1), lookahead(adam(1e-3)));
const init: Params = { w: new Float32Array(784 * 64).map(() => Math.random() * 0.05), b: new Float32Array(64) };

// Compiled: one WebAssembly SIMD pass per leaf (plus one for the clip's norm) over buffers the
// optimizer owns, here on two threads. Nothing is allocated per step.
const run = compile(optimizer, init, { threads: 2 });
const params = run.params; // a Params of live views, updated in place by every step
const grads = run.grads; // write each gradient here, then step()
for (let step = 0; step < 1000; step++) {
  gradientsInto(params, grads, step);
  run.step();
}
const state = run.state(); // an ordinary pure state: serialize it, or go on with optimizer.update
run.dispose(); // ends the worker threads

// Pure, with donation: the pure loop's numbers bit for bit, in reused buffers.
let p: Params = { w: params.w.slice(), b: params.b.slice() };
let s = state;
const g: Params = { w: new Float32Array(784 * 64), b: new Float32Array(64) }; // reused too
for (let step = 1000; step < 2000; step++) {
  gradientsInto(p, g, step);
  const [updates, next] = optimizer.update(g, donate(s), p); // s is spent: its buffers hold next
  p = applyUpdates(donate(p), updates); // in place
  s = next;
}
