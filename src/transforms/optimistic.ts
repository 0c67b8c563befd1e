/**
 * Optimistic gradients (Mokhtari et al., 2019; Daskalakis et al., 2017): the update leans on
 * the current gradient and away from the previous one, for saddle-point problems where plain
 * descent cycles.
 *
 * @module
 */
import type { GradientTransformation } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { gt, mul, select, sub } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import type { PyTree } from "../core/pytree.js";
import { checkNumber, readOptions } from "../core/validate.js";

/** The state of {@link scaleByOptimisticGradient}. @since 0.3.0 */
export interface ScaleByOptimisticGradientState {
  /** Steps taken: 0 stands for optax's `is_initial_step`. */
  readonly count: number;
  /** The update the previous step received (params' dtype). */
  readonly previousGradient: PyTree;
}

/** Options of {@link scaleByOptimisticGradient} (optax's names). @since 0.3.0 */
export interface OptimisticGradientOptions {
  /** The weight of the current gradient. Default 1. */
  readonly alpha?: number;
  /** The weight of the negative momentum, the change since the previous gradient. Default 1. */
  readonly beta?: number;
}

/**
 * Generalized optimistic gradients, as optax's `scale_by_optimistic_gradient`.
 *
 * ```
 * prev = count = 0 ? g : previousGradient
 * u'   = (alpha + beta) g - beta prev
 * previousGradient' = g
 * ```
 *
 * On the first step there is no previous gradient and the current one stands in for it, so the
 * update is `alpha g` (optax since its issue 1082). optax keeps a boolean `is_initial_step`;
 * gradtx keeps the step count, which says the same and is what every counted state holds.
 *
 * @example
 * ```ts
 * import { scaleByOptimisticGradient } from "gradtx";
 * const tx = scaleByOptimisticGradient();
 * const s0 = tx.init(Float64Array.of(0));
 * const [u1, s1] = tx.update(Float64Array.of(3), s0); // u1 = [3]
 * const [u2] = tx.update(Float64Array.of(1), s1); // u2 = [-1]
 * ```
 * @since 0.3.0
 */
export function scaleByOptimisticGradient(
  options: OptimisticGradientOptions | null = {},
): GradientTransformation<ScaleByOptimisticGradientState> {
  options = readOptions("scaleByOptimisticGradient", options, ["alpha", "beta"], {
    hint: "optax's scale_by_optimistic_gradient(alpha, beta) is scaleByOptimisticGradient({ alpha: 1, beta: 1 })",
  });
  const where = "scaleByOptimisticGradient";
  const alpha = checkNumber(where, "alpha", options.alpha ?? 1);
  const beta = checkNumber(where, "beta", options.beta ?? 1);
  return elementwise<ScaleByOptimisticGradientState>(
    declare({
      name: where,
      slots: { previousGradient: 0 },
      counted: true,
      hyper: { alpha, beta },
      scalars: (h, count) => ({ first: count === 0 ? 1 : 0, weight: h.alpha + h.beta }),
      body: ({ x, previousGradient }, s) => {
        const previous = select(gt(s.first, 0), x, previousGradient);
        return { update: sub(mul(s.weight, x), mul(s.beta, previous)), previousGradient: x };
      },
    }),
  );
}
