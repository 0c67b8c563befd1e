/**
 * Optimizers that step by the sign of the gradient: signSGD, Signum and Rprop, each a `chain`
 * of building blocks with optax's defaults.
 *
 * @module
 */
import type { GradientTransformation, ScalarOrSchedule, ShapesState } from "../core/base.js";
import { chain } from "../combinators/chain.js";
import { positional } from "./standard.js";
import { ema, type EmaState } from "../transforms/accumulation.js";
import { scale, scaleByLearningRate, type ScaleByScheduleState } from "../transforms/scaling.js";
import {
  RPROP_KEYS,
  scaleByRprop,
  scaleBySign,
  type RpropOptions,
  type ScaleByRpropState,
} from "../transforms/sign.js";
import { DECAY, asFactory, checkNumber, checkScalarOrSchedule, readOptions } from "../core/validate.js";

/**
 * signSGD (Bernstein et al., 2018; Balles et al., 2020): {@link scaleBySign} then the learning
 * rate, as optax's `sign_sgd`.
 *
 * `p' = p - lr * sign(g)`
 *
 * @example
 * ```ts
 * import { signSgd, applyUpdates } from "gradtx";
 * const opt = signSgd(0.1);
 * let x = Float64Array.of(1, -2, 0);
 * const [u] = opt.update(x.map((v) => 2 * v), opt.init(x), x);
 * x = applyUpdates(x, u); // [0.9, -1.9, 0]
 * ```
 * @since 0.3.0
 */
export function signSgd(
  learningRate: ScalarOrSchedule,
): GradientTransformation<[ShapesState, ShapesState | ScaleByScheduleState]> {
  checkScalarOrSchedule("signSgd", "learningRate", learningRate);
  return asFactory("signSgd", () => chain(scaleBySign(), scaleByLearningRate(learningRate)));
}

/**
 * Signum (Bernstein et al., 2018): the sign of a moving average of the gradient, as optax's
 * `signum`: `ema(beta, { debias: false })`, {@link scaleBySign}, then the learning rate.
 *
 * `m' = beta m + (1 - beta) g,   p' = p - lr * sign(m')`
 *
 * The average is not debiased (its sign would not change). optax's `accumulator_dtype` is not
 * offered: the average has the params' dtype.
 *
 * @example
 * ```ts
 * import { signum } from "gradtx";
 * const opt = signum(1e-3, { beta: 0.95 });
 * ```
 * @since 0.3.0
 */
export function signum(
  learningRate: ScalarOrSchedule,
  options?: { readonly beta?: number } | null,
): GradientTransformation<[EmaState, ShapesState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("signum", options, ["beta"], { hint: positional("signum", "beta", "beta: 0.9") });
  checkScalarOrSchedule("signum", "learningRate", learningRate);
  const beta = checkNumber("signum", "beta", options.beta ?? 0.9, DECAY);
  return asFactory("signum", () =>
    chain(ema(beta, { debias: false }), scaleBySign(), scaleByLearningRate(learningRate)),
  );
}

/**
 * Rprop (Riedmiller and Braun, 1993): {@link scaleByRprop} then `scale(-1)`, as optax's `rprop`.
 * The learning rate is each element's first step size, and a number (it seeds the state).
 *
 * `stepSize' = clip(stepSize * (same sign ? etaPlus : etaMinus), minStepSize, maxStepSize),  p' = p - stepSize' sign(g)` (no step after a flip)
 *
 * Rprop is meant for full-batch gradients: it reacts to every sign flip, so noise shrinks its steps.
 *
 * @example
 * ```ts
 * import { rprop, applyUpdates } from "gradtx";
 * const opt = rprop(0.1);
 * let x = Float64Array.of(1, -2);
 * const [u] = opt.update(x.map((v) => 2 * v), opt.init(x), x);
 * x = applyUpdates(x, u); // [0.9, -1.9]
 * ```
 * @since 0.3.0
 */
export function rprop(
  learningRate: number,
  options?: RpropOptions | null,
): GradientTransformation<[ScaleByRpropState, ShapesState]> {
  options = readOptions("rprop", options, RPROP_KEYS, {
    hint: positional("rprop", "eta_minus, eta_plus, min_step_size, max_step_size", "etaMinus: 0.5, etaPlus: 1.2"),
  });
  const o = options;
  return asFactory("rprop", () => chain(scaleByRprop(learningRate, o), scale(-1)));
}
