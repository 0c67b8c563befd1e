import { adam, applyUpdates, chain, clipByGlobalNorm, lookahead, slowParams, type PyTree } from "gradtx";

declare function lossAndGrads(params: PyTree, batch: number): { loss: number; grads: PyTree };
declare function evaluate(params: PyTree): number;

const optimizer = chain(clipByGlobalNorm(1), lookahead(adam(1e-3), { syncPeriod: 5, alpha: 0.5 }));

let params: PyTree = { w: new Float32Array(784 * 64).map(() => Math.random() * 0.05), b: new Float32Array(64) };
let state = optimizer.init(params); // holds Adam's moments, the slow weights and the step counter

for (let step = 0; step < 1000; step++) {
  const { grads } = lossAndGrads(params, step); // your autodiff, any pytree shaped like params
  const [updates, next] = optimizer.update(grads, state, params); // pure: nothing is mutated
  params = applyUpdates(params, updates); // new arrays, params' dtype
  state = next;
}

console.log("fast weights:", evaluate(params));
console.log("slow weights:", evaluate(slowParams(state))); // what Lookahead reports, and what you ship
