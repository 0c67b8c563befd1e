/**
 * Transformations that keep the params inside a set once the update is applied.
 *
 * @module
 */
import type { GradientTransformation, ShapesState } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { add, lt, neg, select } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";

/**
 * Modifies the updates so that no param goes below zero once they are applied, as optax's
 * `keep_params_nonnegative`: where `p + u < 0` the update becomes `-p`, taking the param to 0.
 * `params` are required. Params that start negative are not moved up to 0 unless a step would
 * take them lower still.
 *
 * `u' = p + u < 0 ? -p : u`
 *
 * @example
 * ```ts
 * import { keepParamsNonnegative } from "gradtx";
 * const tx = keepParamsNonnegative();
 * const p = Float64Array.of(1, 2);
 * const [u] = tx.update(Float64Array.of(-3, -1), tx.init(p), p); // u = [-1, -1]
 * ```
 * @since 0.3.0
 */
export function keepParamsNonnegative(): GradientTransformation<ShapesState> {
  return elementwise<ShapesState>(
    declare({
      name: "keepParamsNonnegative",
      readsParams: true,
      body: ({ x, p }) => ({ update: select(lt(add(p, x), 0), neg(p), x) }),
    }),
  );
}
