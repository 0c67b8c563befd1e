/**
 * Lion (Chen et al., 2023): the sign of an interpolation between the update and its moving
 * average. The learning rate is applied elsewhere (`scaleByLearningRate`), as in optax.
 *
 * @module
 */
import type { GradientTransformation } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { add, mul, sign } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import type { PyTree } from "../core/pytree.js";
import { checkNumber, readOptions } from "../core/validate.js";

/** The state of {@link scaleByLion}. @since 0.1.0 */
export interface ScaleByLionState {
  /** Moving average of the updates (decay `b2`). */
  readonly mu: PyTree;
}

/**
 * Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"), as optax's
 * `scale_by_lion`: the sign of an interpolation between the update and its moving average.
 *
 * ```
 * u'  = sign((1 - b1) u + b1 mu)
 * mu' = (1 - b2) u + b2 mu
 * ```
 *
 * @example
 * ```ts
 * import { scaleByLion } from "gradtx";
 * const tx = scaleByLion();
 * const [u] = tx.update(Float64Array.of(-3, 0.5), tx.init(Float64Array.of(0, 0))); // u = [-1, 1]
 * ```
 * @since 0.1.0
 */
export function scaleByLion(
  options: { readonly b1?: number; readonly b2?: number } | null = {},
): GradientTransformation<ScaleByLionState> {
  options = readOptions("scaleByLion", options, ["b1", "b2"], {
    hint: "optax's scale_by_lion(b1, b2) is scaleByLion({ b1: 0.9, b2: 0.99 })",
  });
  const where = "scaleByLion";
  const b1 = checkNumber(where, "b1", options.b1 ?? 0.9, { min: 0, max: 1 });
  const b2 = checkNumber(where, "b2", options.b2 ?? 0.99, { min: 0, max: 1 });
  return elementwise<ScaleByLionState>(
    declare({
      name: where,
      slots: { mu: 0 },
      hyper: { b1, b2 },
      scalars: (h) => ({ a1: 1 - h.b1, a2: 1 - h.b2 }),
      body: ({ x, mu }, s) => ({
        update: sign(add(mul(s.a1, x), mul(s.b1, mu))),
        mu: add(mul(s.a2, x), mul(s.b2, mu)),
      }),
    }),
  );
}
