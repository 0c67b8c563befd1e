/**
 * Transformations that deal with NaNs in the updates.
 *
 * @module
 */
import type { GradientTransformation } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { constant, ne, select } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";

/** The state of {@link zeroNans}. @since 0.1.0 */
export interface ZeroNansState {
  /** Per leaf, in canonical (sorted-key) order: whether the last update held a NaN there. */
  readonly foundNan: readonly boolean[];
}

/**
 * Replaces NaNs in the updates by 0 and records, per leaf, whether it found any, as optax's
 * `zero_nans`. Infinities pass through. The flags are a plain boolean array in leaf order
 * (booleans are not pytree leaves).
 *
 * `u' = isNaN(u) ? 0 : u`
 *
 * @example
 * ```ts
 * import { zeroNans } from "gradtx";
 * const tx = zeroNans();
 * const [u, s] = tx.update({ a: Float64Array.of(NaN, 1) }, tx.init({ a: new Float64Array(2) }));
 * // u = { a: [0, 1] }; s.foundNan = [true]
 * ```
 * @since 0.1.0
 */
export function zeroNans(): GradientTransformation<ZeroNansState> {
  return elementwise<ZeroNansState>(
    declare({
      name: "zeroNans",
      // Per leaf, the number of NaNs (a sum of ones, exact): a leaf without any passes as it is.
      reductions: { nans: { over: "leaf", of: ({ x }) => [select(ne(x, x), 1, 0), constant(1)] } },
      scalars: (_, __, { nans }) => ({ nans }),
      identity: (s) => s.nans === 0,
      record: { name: "foundNan", initial: false, of: (s) => s.nans > 0 },
      body: ({ x }) => ({ update: select(ne(x, x), 0, x) }),
    }),
  );
}
