/**
 * Complete optimizers, each a `chain` of building blocks with optax's defaults.
 *
 * @module
 */
import { identity, type GradientTransformation, type ScalarOrSchedule } from "./base.js";
import { chain } from "./combine.js";
import { addDecayedWeights, type Mask } from "./transforms/adding.js";
import { trace } from "./transforms/accumulation.js";
import { scaleByAdam, scaleByLearningRate, type AdamOptions } from "./transforms/scaling.js";
import { checkNumber, checkScalarOrSchedule } from "./validate.js";

/**
 * Stochastic gradient descent, with optional heavy-ball or Nesterov momentum (optax's `sgd`;
 * PyTorch's `SGD` with dampening 0, where the learning rate multiplies the whole trace).
 *
 * ```
 * trace' = g + momentum * trace
 * p'     = p - lr * trace'                 (nesterov: p - lr * (g + momentum * trace'))
 * ```
 *
 * @param learningRate A number >= 0 or a schedule.
 * @param options.momentum Momentum >= 0; omitted (the default) keeps no trace at all (the
 *   state is then `[{}, {}]`, as optax's).
 * @param options.nesterov Nesterov momentum (default false).
 * @example
 * ```ts
 * import { sgd, applyUpdates } from "gradtx";
 * const opt = sgd(0.1, { momentum: 0.9 });
 * let x = Float64Array.of(1, 2, 3);
 * let state = opt.init(x);
 * const [u, next] = opt.update(x.map((v) => 2 * v), state, x); // f(x) = sum(x^2)
 * x = applyUpdates(x, u) as Float64Array; // [0.8, 1.6, 2.4]
 * state = next;
 * ```
 * @since 0.1.0
 */
export function sgd(
  learningRate: ScalarOrSchedule,
  options: { readonly momentum?: number | null; readonly nesterov?: boolean } = {},
): GradientTransformation {
  checkScalarOrSchedule("sgd", "learningRate", learningRate);
  const { momentum, nesterov = false } = options;
  if (momentum === undefined || momentum === null) {
    if (nesterov) checkNumber("sgd", "momentum (required with nesterov)", momentum);
    return chain(identity(), scaleByLearningRate(learningRate)) as GradientTransformation;
  }
  return chain(trace(momentum, { nesterov }), scaleByLearningRate(learningRate)) as GradientTransformation;
}

/**
 * Adam (Kingma and Ba, 2014): {@link scaleByAdam} then {@link scaleByLearningRate}. Same
 * defaults as optax and PyTorch (`b1` 0.9, `b2` 0.999, `eps` 1e-8 outside the root).
 *
 * ```
 * mu' = b1 mu + (1 - b1) g,   nu' = b2 nu + (1 - b2) g^2,   t = count + 1
 * p'  = p - lr * (mu' / (1 - b1^t)) / (sqrt(nu' / (1 - b2^t) + epsRoot) + eps)
 * ```
 *
 * @example
 * ```ts
 * import { adam, applyUpdates } from "gradtx";
 * const opt = adam(0.1);
 * let x = Float64Array.of(1, 2, 3);
 * let state = opt.init(x);
 * for (let i = 0; i < 5; i++) {
 *   const [u, next] = opt.update(x.map((v) => 2 * v), state, x);
 *   x = applyUpdates(x, u) as Float64Array;
 *   state = next;
 * }
 * // each coordinate moved by about 0.1 per step: x ≈ [0.5, 1.5, 2.5]
 * ```
 * @since 0.1.0
 */
export function adam(learningRate: ScalarOrSchedule, options: AdamOptions = {}): GradientTransformation {
  checkScalarOrSchedule("adam", "learningRate", learningRate);
  return chain(scaleByAdam(options), scaleByLearningRate(learningRate)) as GradientTransformation;
}

/** Options of {@link adamw}: Adam's, plus the decay and its mask. @since 0.1.0 */
export interface AdamWOptions extends AdamOptions {
  /** Decoupled weight decay, >= 0. Default 1e-4 (optax's; PyTorch's AdamW defaults to 1e-2). */
  readonly weightDecay?: number;
  /** Which leaves to decay (default all). */
  readonly mask?: Mask;
}

/**
 * AdamW (Loshchilov and Hutter, 2019): Adam with decoupled weight decay, multiplied by the
 * learning rate as in optax and PyTorch.
 *
 * `p' = p - lr * (adam_update + weightDecay * p)`
 *
 * @example
 * ```ts
 * import { adamw } from "gradtx";
 * const opt = adamw(1e-3, { weightDecay: 0.01, mask: (path) => !path.endsWith(".b") });
 * ```
 * @since 0.1.0
 */
export function adamw(learningRate: ScalarOrSchedule, options: AdamWOptions = {}): GradientTransformation {
  checkScalarOrSchedule("adamw", "learningRate", learningRate);
  const { weightDecay = 1e-4, mask, ...adamOptions } = options;
  return chain(
    scaleByAdam(adamOptions),
    addDecayedWeights(weightDecay, mask === undefined ? {} : { mask }),
    scaleByLearningRate(learningRate),
  ) as GradientTransformation;
}
