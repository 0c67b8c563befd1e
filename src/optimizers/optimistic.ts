/**
 * Optimistic optimizers for saddle-point problems (GANs, min-max games): optimistic gradient
 * descent and optimistic Adam, each a `chain` of building blocks with optax's defaults.
 *
 * @module
 */
import type { GradientTransformation, ScalarOrSchedule, ShapesState } from "../core/base.js";
import { chain } from "../combinators/chain.js";
import { ADAM_KEYS, positional } from "./standard.js";
import { scaleByAdam, type AdamOptions, type ScaleByAdamState } from "../transforms/adam.js";
import {
  scaleByOptimisticGradient,
  type OptimisticGradientOptions,
  type ScaleByOptimisticGradientState,
} from "../transforms/optimistic.js";
import { scaleByLearningRate, type ScaleByScheduleState } from "../transforms/scaling.js";
import { asFactory, checkScalarOrSchedule, readOptions } from "../core/validate.js";

/**
 * Optimistic gradient descent (Mokhtari, Ozdaglar and Pattathil, 2019): {@link
 * scaleByOptimisticGradient} then the learning rate, as optax's `optimistic_gradient_descent`.
 *
 * `p' = p - lr * ((alpha + beta) g - beta gPrev)`  (the first step: `gPrev = g`)
 *
 * optax types `alpha` and `beta` as schedules but passes them to a transformation that takes
 * numbers; gradtx takes numbers.
 *
 * @example
 * ```ts
 * import { optimisticGradientDescent, applyUpdates } from "gradtx";
 * const opt = optimisticGradientDescent(0.1);
 * let x = Float64Array.of(1, 2, 3);
 * let state = opt.init(x);
 * for (let i = 0; i < 2; i++) {
 *   const [u, next] = opt.update(x.map((v) => 2 * v), state, x);
 *   x = applyUpdates(x, u);
 *   state = next;
 * }
 * // Step 1 is x - 0.2 x = 0.8 x; step 2 is 0.8 x - 0.1 (2 * 1.6 x - 2 x) = 0.68 x.
 * // x ≈ [0.68, 1.36, 2.04]
 * ```
 * @since 0.3.0
 */
export function optimisticGradientDescent(
  learningRate: ScalarOrSchedule,
  options?: OptimisticGradientOptions | null,
): GradientTransformation<[ScaleByOptimisticGradientState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("optimisticGradientDescent", options, ["alpha", "beta"], {
    hint: positional("optimisticGradientDescent", "alpha, beta", "alpha: 1, beta: 1"),
  });
  checkScalarOrSchedule("optimisticGradientDescent", "learningRate", learningRate);
  const o = options;
  return asFactory("optimisticGradientDescent", () =>
    chain(scaleByOptimisticGradient(o), scaleByLearningRate(learningRate)),
  );
}

/** Options of {@link optimisticAdam}: Adam's (Nesterov on by default) and the optimism. @since 0.3.0 */
export interface OptimisticAdamOptions extends AdamOptions, OptimisticGradientOptions {}

/**
 * Optimistic Adam (Daskalakis et al., 2017, "Training GANs with Optimism"), as optax's
 * `optimistic_adam_v2`: {@link scaleByAdam} (**Nesterov by default**), {@link
 * scaleByOptimisticGradient} on Adam's output, then the learning rate.
 *
 * `r = adam_update(g),  p' = p - lr * ((alpha + beta) r - beta rPrev)`  (the first step: `rPrev = r`)
 *
 * optax's older `optimistic_adam` has another interface; gradtx follows `_v2`. optax's
 * `mu_dtype` is not offered.
 *
 * @example
 * ```ts
 * import { optimisticAdam } from "gradtx";
 * const opt = optimisticAdam(1e-3, { beta: 0.5 });
 * ```
 * @since 0.3.0
 */
export function optimisticAdam(
  learningRate: ScalarOrSchedule,
  options?: OptimisticAdamOptions | null,
): GradientTransformation<[ScaleByAdamState, ScaleByOptimisticGradientState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("optimisticAdam", options, [...ADAM_KEYS, "alpha", "beta"], {
    hint: positional("optimisticAdam", "b1, b2, eps", "alpha: 1, beta: 1, b1: 0.9"),
  });
  checkScalarOrSchedule("optimisticAdam", "learningRate", learningRate);
  const { alpha = 1, beta = 1, nesterov = true, ...adam } = options;
  return asFactory("optimisticAdam", () =>
    chain(
      scaleByAdam({ ...adam, nesterov }),
      scaleByOptimisticGradient({ alpha, beta }),
      scaleByLearningRate(learningRate),
    ),
  );
}
