/** Central finite differences of a loss's value, to check the gradient it returns. */
import { expect } from "vitest";
import type { LossAndGrad } from "../../src/losses/index.js";
import { dataOf } from "../../src/core/pytree.js";

/**
 * Asserts that `loss(x).grad` matches the central differences of `loss(x).value`, element by
 * element: `|fd_j - g_j| <= 1e-6 * max_k |g_k| + 16 eps |value| / h`. The first term is the
 * check itself, relative to the gradient's largest element; the second bounds the rounding of
 * the difference quotient (each value rounded within a few ulps: `8 eps |value|` for the two,
 * over `2h`, with a margin of 4), which is all that is left where the gradient is 0 in real
 * arithmetic (uniform labels on equal logits). The step is `h = 1e-5 * max(1, |x_j|)`; its
 * truncation error (`h^2 f''' / 6`) is below 1e-9 for the losses tested here.
 */
export function expectGradientMatchesFiniteDifferences(
  x: Float64Array,
  loss: (x: Float64Array) => LossAndGrad<Float64Array>,
): void {
  const grad = dataOf(loss(x).grad);
  let largest = 0;
  for (const g of grad) largest = Math.max(largest, Math.abs(g));
  for (let j = 0; j < x.length; j++) {
    const h = 1e-5 * Math.max(1, Math.abs(x[j]!));
    const plus = Float64Array.from(x);
    const minus = Float64Array.from(x);
    plus[j] = x[j]! + h;
    minus[j] = x[j]! - h;
    const up = loss(plus).value;
    const down = loss(minus).value;
    const fd = (up - down) / (plus[j]! - minus[j]!);
    const error = Math.abs(fd - grad[j]!);
    const rounding = (16 * Number.EPSILON * Math.max(Math.abs(up), Math.abs(down))) / h;
    if (!(error <= 1e-6 * largest + rounding))
      expect.fail(`element ${j}: finite difference ${fd}, gradient ${grad[j]} (largest ${largest})`);
  }
}
