/**
 * The second example of docs/extra-args.md: lbfgs on a full-batch least-squares problem with a
 * hand-written gradient, the line search's loss and gradient at the new params reused from the
 * state. It runs as part of `npm test`.
 */
import { describe, expect, it } from "vitest";
import { applyUpdates, lbfgs, type PyTree } from "gradtx";

// Fit w in y = X w: f(w) = 0.5 sum_i (x_i . w - y_i)^2 over four points, with y made from wTrue.
const X = [
  [1, 0, 2],
  [0, 1, 1],
  [1, 1, 0],
  [2, -1, 1],
];
const wTrue = [0.5, -1, 2];
const y = X.map((row) => row.reduce((s, a, j) => s + a * wTrue[j]!, 0));
const residuals = (w: Float64Array) => X.map((row, i) => row.reduce((s, a, j) => s + a * w[j]!, 0) - y[i]!);

/** The loss and its gradient X^T (X w - y), written by hand; the line search calls both. */
let evaluations = 0;
const loss = (w: PyTree): number => {
  evaluations++;
  return 0.5 * residuals(w as Float64Array).reduce((s, r) => s + r * r, 0);
};
const grad = (w: PyTree): Float64Array => {
  const r = residuals(w as Float64Array);
  return Float64Array.from(wTrue, (_, j) => X.reduce((s, row, i) => s + row[j]! * r[i]!, 0));
};

describe("lbfgs on a full-batch problem, with hand-written gradients", () => {
  it("finds the least-squares solution", () => {
    const solver = lbfgs(); // memorySize 10, a zoom line search of at most 20 steps
    let w = new Float64Array(3);
    let state = solver.init(w);
    let value = loss(w);
    let g = grad(w);
    for (let step = 0; step < 15; step++) {
      const [updates, next] = solver.update(g, state, w, { value, grad: g, valueFn: loss, gradFn: grad });
      w = applyUpdates(w, updates);
      state = next;
      // The line search has evaluated the loss and its gradient at the params it chose: the next
      // step reuses them (optax's value_and_grad_from_state) instead of computing them again.
      value = state[2].value;
      g = state[2].grad as Float64Array;
    }
    Array.from(w).forEach((wj, j) => expect(Math.abs(wj - wTrue[j]!)).toBeLessThan(1e-10));
    // One evaluation before the loop, and one by the line search at each of the 15 steps: its
    // first guess, a learning rate of 1, satisfies both Wolfe conditions every time.
    expect(evaluations).toBe(16);
    expect(value).toBe(loss(w)); // the value the state holds is the loss at the params
  });

  it("needs the loss and its gradient as functions: without them it says which is missing", () => {
    const solver = lbfgs();
    const w = new Float64Array(3);
    const extra = { value: loss(w), grad: grad(w), valueFn: loss } as never;
    expect(() => solver.update(grad(w), solver.init(w), w, extra)).toThrowError(
      expect.objectContaining({ code: "MISSING_EXTRA_ARG", message: expect.stringContaining("extra.gradFn") }),
    );
  });
});
