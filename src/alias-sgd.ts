/**
 * Variants of SGD beyond `alias.ts`: noisy SGD, each a `chain` of building blocks with optax's
 * defaults.
 *
 * @module
 */
import type { GradientTransformation, ScalarOrSchedule, ShapesState } from "./base.js";
import { chain } from "./combine.js";
import { positional } from "./alias.js";
import { ADD_NOISE_KEYS, addNoise, type AddNoiseOptions, type AddNoiseState } from "./transforms/noise.js";
import { scaleByLearningRate, type ScaleByScheduleState } from "./transforms/scaling.js";
import { asFactory, checkScalarOrSchedule, readOptions } from "./validate.js";

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
