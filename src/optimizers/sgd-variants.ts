/**
 * Variants of SGD beyond `standard.ts`: noisy SGD and SGD with Polyak's step size, each a `chain` of
 * building blocks with optax's defaults.
 *
 * @module
 */
import type {
  GradientTransformation,
  GradientTransformationExtraArgs,
  ScalarOrSchedule,
  ShapesState,
} from "../core/base.js";
import { chain } from "../combinators/chain.js";
import { positional, sgd } from "./standard.js";
import { ADD_NOISE_KEYS, addNoise, type AddNoiseOptions, type AddNoiseState } from "../transforms/noise.js";
import type { TraceState } from "../transforms/accumulation.js";
import { POLYAK_KEYS, scaleByPolyak, type PolyakOptions } from "../transforms/norm-scaling.js";
import { scaleByLearningRate, type ScaleByScheduleState } from "../transforms/scaling.js";
import { asFactory, checkScalarOrSchedule, readOptions } from "../core/validate.js";

/**
 * SGD with annealed Gaussian gradient noise (Neelakantan et al., 2015): {@link addNoise} then
 * the learning rate, as optax's `noisy_sgd`.
 *
 * ```
 * t  = count + 1,   z ~ N(0, 1) per element
 * p' = p - lr * (g + sqrt(eta / t^gamma) * z)
 * ```
 *
 * Defaults as optax's: `eta` 0.01, `gamma` 0.55, `seed` 0. **The noise is not optax's for the
 * same seed**: gradtx draws it with its own counter-based generator (see {@link addNoise}), since
 * JAX's PRNG values cannot be matched; its statistics are the same.
 *
 * @param learningRate A number >= 0 or a schedule.
 * @param options `eta`, `gamma` and `seed`; see {@link AddNoiseOptions}.
 * @example
 * ```ts
 * import { applyUpdates, noisySgd } from "gradtx";
 * const opt = noisySgd(0.003, { seed: 0 });
 * let x = Float64Array.of(1, 2, 3);
 * let state = opt.init(x);
 * for (let i = 0; i < 5; i++) {
 *   const [u, next] = opt.update(x.map((v) => 2 * v), state, x);
 *   x = applyUpdates(x, u);
 *   state = next;
 * }
 * state[0].count; // 5
 * // Five steps of 0.6% each, shrink x by about 3% (optax's doctest: f from 14 to about 13.2).
 * // x ≈ [0.97, 1.94, 2.91] (±5e-3)
 * ```
 * @since 0.3.0
 */
export function noisySgd(
  learningRate: ScalarOrSchedule,
  options: AddNoiseOptions | null = {},
): GradientTransformation<[AddNoiseState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("noisySgd", options, ADD_NOISE_KEYS, {
    hint: positional("noisySgd", "eta, gamma, key", "eta: 0.01, gamma: 0.55, seed: 0"),
  });
  checkScalarOrSchedule("noisySgd", "learningRate", learningRate);
  const { eta = 0.01, gamma = 0.55, seed = 0 } = options;
  return asFactory("noisySgd", () => chain(addNoise({ eta, gamma, seed }), scaleByLearningRate(learningRate)));
}

/** Options of {@link polyakSgd}: {@link scaleByPolyak}'s, and `scaling`. @since 0.3.0 */
export interface PolyakSgdOptions extends PolyakOptions {
  /** The learning rate of the SGD step before the Polyak step, a number >= 0 or a schedule. Default 1. */
  readonly scaling?: ScalarOrSchedule;
}

/**
 * SGD with Polyak's step size (Loizou et al., 2021; Berrada et al., 2020): `sgd(scaling)` then
 * {@link scaleByPolyak}, as optax's `polyak_sgd`. It reads the loss at the params,
 * `update(g, state, params, { value })`.
 *
 * ```
 * v    = -scaling * g
 * step = ||v||^2 + eps <= 2^-23 ? 0 : min((value - fMin) / (||v||^2 + eps), maxLearningRate)
 * p'   = p + step * v                   (variant "sps+": the gap's positive part)
 * ```
 *
 * Defaults as optax's: `maxLearningRate` 1, `scaling` 1, `fMin` 0, `eps` 0, `variant` `"sps"`.
 * **A porting trap, optax's own:** its docstring calls the step `scaling * min(gap / ||g||^2,
 * maxLearningRate)`, but its code takes the norm of the already-scaled updates, so a `scaling`
 * other than 1 divides the step by it (`p' = p - min(gap / (scaling^2 ||g||^2), ...) scaling g`).
 * gradtx does what optax's code does. `fMin` must be a lower bound on the loss (0 for a model
 * that interpolates the data); a wrong one diverges or stalls.
 *
 * @param options see {@link PolyakSgdOptions}.
 * @example
 * ```ts
 * import { applyUpdates, polyakSgd } from "gradtx";
 * // optax's doctest: f(x) = sum(x^2) from [1, 2, 3]; each step is f / ||2x||^2 = 1/4, halving x.
 * const opt = polyakSgd();
 * let x = Float64Array.of(1, 2, 3);
 * let state = opt.init(x);
 * const losses: number[] = [];
 * for (let i = 0; i < 5; i++) {
 *   const value = x.reduce((s, v) => s + v * v, 0);
 *   const [u, next] = opt.update(x.map((v) => 2 * v), state, x, { value });
 *   x = applyUpdates(x, u);
 *   state = next;
 *   losses.push(x.reduce((s, v) => s + v * v, 0));
 * }
 * losses; // [3.5, 0.875, 0.21875, 0.0546875, 0.013671875]
 * ```
 * @since 0.3.0
 */
export function polyakSgd(
  options: PolyakSgdOptions | null = {},
): GradientTransformationExtraArgs<
  [[ShapesState | TraceState, ShapesState | ScaleByScheduleState], ShapesState],
  "value"
> {
  options = readOptions("polyakSgd", options, ["scaling", ...POLYAK_KEYS], {
    hint: "optax's polyak_sgd(max_learning_rate, scaling, f_min, eps, variant) is polyakSgd({ maxLearningRate: 1, fMin: 0 })",
  });
  const { scaling = 1, ...polyak } = options;
  checkScalarOrSchedule("polyakSgd", "scaling", scaling);
  return asFactory("polyakSgd", () => chain(sgd(scaling), scaleByPolyak(polyak)));
}
