import { adam, applyUpdates, chain, clipByGlobalNorm, lookahead, slowParams } from "gradtx";

interface Params {
  w: Float32Array;
  b: Float32Array;
}
declare function lossAndGrads(params: Params, batch: number): { loss: number; grads: Params };
declare function evaluate(params: Params): number;

const optimizer = chain(clipByGlobalNorm(1), lookahead(adam(1e-3), { syncPeriod: 5, alpha: 0.5 }));

let params: Params = { w: new Float32Array(784 * 64).map(() => Math.random() * 0.05), b: new Float32Array(64) };
let state = optimizer.init(params); // holds Adam's moments, the slow weights and the step counter

for (let step = 0; step < 1000; step++) {
  const { grads } = lossAndGrads(params, step); // your autodiff, any pytree shaped like params
  const [updates, next] = optimizer.update(grads, state, params); // pure: nothing is mutated
  params = applyUpdates(params, updates); // a new Params: new arrays, params' dtype
  state = next;
}

console.log("fast weights:", evaluate(params));
console.log("slow weights:", evaluate(slowParams<Params>(state))); // what Lookahead reports, and what you ship
