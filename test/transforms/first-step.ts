/**
 * What the per-family first-step tests share: one step of a transformation from its initial
 * state, in float64 and in float32, on both backends, compared with values worked out by hand.
 */
import { expect } from "vitest";
import type { GradientTransformation, PyTree } from "../../src/index.js";
import { withBackend } from "../../src/kernels/backend.js";
import { dataOf, flatten } from "../../src/core/pytree.js";

export const backends = ["wasm", "js"] as const;
export const dtypes = ["float64", "float32"] as const;
export type Dtype = (typeof dtypes)[number];

/** `values` as a leaf of `dtype`. */
export const leaf = (dtype: Dtype, values: readonly number[]): Float32Array | Float64Array =>
  dtype === "float32" ? Float32Array.from(values) : Float64Array.from(values);

/** The elements of a leaf (or a tree's leaves in canonical order) as plain numbers. */
export const numbers = (tree: unknown): number[] =>
  flatten(tree as PyTree).leaves.flatMap((l) => Array.from(dataOf(l)));

/**
 * One step of `tx` from `tx.init(params)` on `backend`, with `g` and `params` (zeros by default)
 * as single leaves of `dtype`: the update's elements and the next state.
 */
export function firstStep<S>(
  backend: (typeof backends)[number],
  tx: GradientTransformation<S>,
  dtype: Dtype,
  g: readonly number[],
  params: readonly number[] = g.map(() => 0),
): { readonly u: number[]; readonly state: S; readonly update: PyTree } {
  return withBackend(backend, () => {
    const p = leaf(dtype, params);
    const [update, state] = tx.update(leaf(dtype, g), tx.init(p), p);
    expect(update, "the update keeps the leaf's dtype").toBeInstanceOf(
      dtype === "float32" ? Float32Array : Float64Array,
    );
    return { u: numbers(update), state, update };
  });
}

/**
 * Asserts `actual` is `expected` within `ulps` units in the last place of `dtype`, relative to
 * each expected element (so an expected 0 must come out as 0).
 */
export function expectNear(actual: readonly number[], expected: readonly number[], dtype: Dtype, ulps: number): void {
  expect(actual.length).toBe(expected.length);
  const eps = dtype === "float32" ? 2 ** -23 : 2 ** -52;
  actual.forEach((a, i) => {
    const e = expected[i]!;
    expect(Math.abs(a - e), `element ${i}: ${a} vs ${e} (${dtype}, ${ulps} ulps)`).toBeLessThanOrEqual(
      ulps * eps * Math.abs(e),
    );
  });
}
