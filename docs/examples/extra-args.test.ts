/**
 * The example of docs/extra-args.md: reduceOnPlateau in a training loop with a hand-written
 * gradient, the loss handed to update as extra.value. It runs as part of `npm test`.
 */
import { describe, expect, it } from "vitest";
import { applyUpdates, chain, compile, reduceOnPlateau, sgd } from "gradtx";

/** f(x) = sum(x^2), and its gradient 2x, written by hand. */
const loss = (x: Float64Array): number => x.reduce((s, v) => s + v * v, 0);
const grad = (x: Float64Array): Float64Array => x.map((v) => 2 * v);

// A learning rate of 1 is too large for this curvature: x -> x - 2x = -x, so the loss bounces
// between the same two points and never improves. After `patience` such steps the scale halves,
// and the step with learning rate 0.5 lands on the minimum.
const optimizer = chain(sgd(1), reduceOnPlateau({ factor: 0.5, patience: 3 }));

describe("reduceOnPlateau in a training loop", () => {
  it("halves the step once the loss stops improving", () => {
    let x = Float64Array.of(1, 2, 3);
    let state = optimizer.init(x);
    const losses: number[] = [];
    for (let step = 0; step < 6; step++) {
      const value = loss(x);
      losses.push(value);
      const [updates, next] = optimizer.update(grad(x), state, x, { value });
      x = applyUpdates(x, updates);
      state = next;
    }
    // 14 is the best value; three more 14s are a plateau of 3 = patience: the fourth step is halved.
    expect(losses).toEqual([14, 14, 14, 14, 0, 0]);
    expect(Array.from(x)).toEqual([0, 0, 0]);
    expect(state[1].scale).toBe(0.5);
    expect(state[1].bestValue).toBe(0);
  });

  it("runs the same in a compiled loop: the scale is one more number of the fused pass", () => {
    const run = compile(optimizer, Float64Array.of(1, 2, 3));
    for (let step = 0; step < 6; step++) {
      const x = run.params;
      run.grads.set(grad(x));
      run.step(undefined, { value: loss(x) });
    }
    expect(Array.from(run.params)).toEqual([0, 0, 0]);
    expect(run.reason).toBeUndefined(); // no part ran as plain TypeScript
    run.dispose();
  });
});
