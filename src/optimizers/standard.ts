/**
 * The optimizers most used, as optax's core aliases: SGD, Adam and its close kin, RMSprop,
 * Adagrad, Adadelta, Lion, LAMB and Ranger, each a `chain` of building blocks with optax's
 * defaults.
 *
 * @module
 */
import type { ShapesState, GradientTransformation, ScalarOrSchedule } from "../core/base.js";
import { chain, identity } from "../combinators/chain.js";
import { addDecayedWeights, type Mask } from "../transforms/adding.js";
import { trace, type TraceState } from "../transforms/accumulation.js";
import { lookahead, type LookaheadState } from "../lookahead/lookahead.js";
import {
  scaleByAdadelta,
  scaleByRms,
  scaleByRss,
  scaleByStddev,
  type RmsOptions,
  type ScaleByAdadeltaState,
  type ScaleByRmsState,
  type ScaleByRssState,
  type ScaleByStddevState,
} from "../transforms/rms.js";
import { scaleByLion, type ScaleByLionState } from "../transforms/lion.js";
import {
  scaleByAdam,
  scaleByAdamax,
  scaleByAmsgrad,
  scaleByRAdam,
  type AdamOptions,
  type RAdamOptions,
  type ScaleByAdamState,
  type ScaleByAmsgradState,
} from "../transforms/adam.js";
import { scaleByLearningRate, scaleByTrustRatio, type ScaleByScheduleState } from "../transforms/scaling.js";
import { asFactory, checkNumber, checkScalarOrSchedule, readOptions } from "../core/validate.js";

/** The keys of Adam's options, shared by the Adam family's aliases. */
export const ADAM_KEYS = ["b1", "b2", "eps", "epsRoot", "nesterov"] as const;
/** Adam's keys without `nesterov`. */
const ADAM_KEYS_NO_NESTEROV = ["b1", "b2", "eps", "epsRoot"] as const;

/** What to write instead of optax's positional arguments after the learning rate. */
export const positional = (name: string, optax: string, gradtx: string): string =>
  `optax's ${name}(lr, ${optax}) is ${name}(lr, { ${gradtx} })`;

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
 * // f(x) = sum(x^2), whose gradient is 2x
 * const [u, next] = opt.update(x.map((v) => 2 * v), state, x);
 * x = applyUpdates(x, u); // [0.8, 1.6, 2.4]
 * state = next;
 * ```
 * @since 0.1.0
 */
export function sgd(
  learningRate: ScalarOrSchedule,
  options?: { readonly momentum?: number | null; readonly nesterov?: boolean } | null,
): GradientTransformation<[ShapesState | TraceState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("sgd", options, ["momentum", "nesterov"], {
    hint: positional("sgd", "momentum", "momentum: 0.9"),
  });
  checkScalarOrSchedule("sgd", "learningRate", learningRate);
  const { momentum, nesterov = false } = options;
  return asFactory("sgd", () => {
    if (momentum === undefined || momentum === null) {
      if (nesterov) checkNumber("sgd", "momentum (required with nesterov)", momentum);
      return chain(identity(), scaleByLearningRate(learningRate));
    }
    // Checked here, under its own name: trace calls it decay.
    checkNumber("sgd", "momentum", momentum, { min: 0 });
    return chain(trace(momentum, { nesterov }), scaleByLearningRate(learningRate));
  });
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
 *   x = applyUpdates(x, u);
 *   state = next;
 * }
 * // x ≈ [0.508, 1.503, 2.502] (±1e-3): each coordinate moved by about 0.1 per step
 * ```
 * @since 0.1.0
 */
export function adam(
  learningRate: ScalarOrSchedule,
  options?: AdamOptions | null,
): GradientTransformation<[ScaleByAdamState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("adam", options, ADAM_KEYS, {
    hint: positional("adam", "b1, b2, eps", "b1: 0.9, b2: 0.999, eps: 1e-8"),
    aliases: { amsgrad: "AMSGrad is amsgrad(lr)" },
  });
  checkScalarOrSchedule("adam", "learningRate", learningRate);
  const o = options;
  return asFactory("adam", () => chain(scaleByAdam(o), scaleByLearningRate(learningRate)));
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
export function adamw(
  learningRate: ScalarOrSchedule,
  options?: AdamWOptions | null,
): GradientTransformation<[ScaleByAdamState, ShapesState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("adamw", options, [...ADAM_KEYS, "weightDecay", "mask"], {
    hint: positional("adamw", "b1, b2, eps, eps_root, weight_decay", "b1: 0.9, weightDecay: 1e-4"),
  });
  checkScalarOrSchedule("adamw", "learningRate", learningRate);
  const { weightDecay = 1e-4, mask, ...adamOptions } = options;
  return asFactory("adamw", () =>
    chain(
      scaleByAdam(adamOptions),
      addDecayedWeights(weightDecay, mask === undefined ? {} : { mask }),
      scaleByLearningRate(learningRate),
    ),
  );
}

/**
 * NAdam (Dozat, 2016): Adam with Nesterov momentum, as optax's `nadam`
 * (`scaleByAdam({ nesterov: true })` then the learning rate).
 *
 * `p' = p - lr * (b1 mu' / (1 - b1^(t+1)) + (1 - b1) g / (1 - b1^t)) / (sqrt(nu' / (1 - b2^t) + epsRoot) + eps)`
 *
 * PyTorch's `NAdam` adds a momentum-decay schedule (`momentum_decay` 4e-3) that optax and
 * gradtx do not.
 *
 * @example
 * ```ts
 * import { nadam } from "gradtx";
 * const opt = nadam(1e-3);
 * ```
 * @since 0.1.0
 */
export function nadam(
  learningRate: ScalarOrSchedule,
  options?: Omit<AdamOptions, "nesterov"> | null,
): GradientTransformation<[ScaleByAdamState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("nadam", options, ADAM_KEYS_NO_NESTEROV, {
    hint: positional("nadam", "b1, b2, eps", "b1: 0.9, b2: 0.999, eps: 1e-8"),
    aliases: { nesterov: "nadam is always Nesterov's; adam(lr) is the other" },
  });
  checkScalarOrSchedule("nadam", "learningRate", learningRate);
  const o = options;
  return asFactory("nadam", () => chain(scaleByAdam({ ...o, nesterov: true }), scaleByLearningRate(learningRate)));
}

/**
 * RAdam (Liu et al., 2020): {@link scaleByRAdam} then the learning rate, optax's defaults
 * (`b1` 0.9, `b2` 0.999, `eps` 1e-8, `threshold` 5).
 *
 * @example
 * ```ts
 * import { radam } from "gradtx";
 * const opt = radam(1e-3);
 * ```
 * @since 0.1.0
 */
export function radam(
  learningRate: ScalarOrSchedule,
  options?: RAdamOptions | null,
): GradientTransformation<[ScaleByAdamState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("radam", options, [...ADAM_KEYS, "threshold"], {
    hint: positional("radam", "b1, b2, eps, eps_root, threshold", "b1: 0.9, threshold: 5"),
  });
  checkScalarOrSchedule("radam", "learningRate", learningRate);
  const o = options;
  return asFactory("radam", () => chain(scaleByRAdam(o), scaleByLearningRate(learningRate)));
}

/**
 * Adamax (Kingma and Ba, 2014): {@link scaleByAdamax} then the learning rate.
 *
 * @example
 * ```ts
 * import { adamax } from "gradtx";
 * const opt = adamax(2e-3);
 * ```
 * @since 0.1.0
 */
export function adamax(
  learningRate: ScalarOrSchedule,
  options?: { readonly b1?: number; readonly b2?: number; readonly eps?: number } | null,
): GradientTransformation<[ScaleByAdamState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("adamax", options, ["b1", "b2", "eps"], {
    hint: positional("adamax", "b1, b2, eps", "b1: 0.9, b2: 0.999, eps: 1e-8"),
  });
  checkScalarOrSchedule("adamax", "learningRate", learningRate);
  const o = options;
  return asFactory("adamax", () => chain(scaleByAdamax(o), scaleByLearningRate(learningRate)));
}

/**
 * AMSGrad (Reddi et al., 2018): {@link scaleByAmsgrad} then the learning rate.
 *
 * @example
 * ```ts
 * import { amsgrad } from "gradtx";
 * const opt = amsgrad(1e-3);
 * ```
 * @since 0.1.0
 */
export function amsgrad(
  learningRate: ScalarOrSchedule,
  options?: Omit<AdamOptions, "nesterov"> | null,
): GradientTransformation<[ScaleByAmsgradState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("amsgrad", options, ADAM_KEYS_NO_NESTEROV, {
    hint: positional("amsgrad", "b1, b2, eps", "b1: 0.9, b2: 0.999, eps: 1e-8"),
  });
  checkScalarOrSchedule("amsgrad", "learningRate", learningRate);
  const o = options;
  return asFactory("amsgrad", () => chain(scaleByAmsgrad(o), scaleByLearningRate(learningRate)));
}

/** Options of {@link rmsprop}. @since 0.1.0 */
export interface RmspropOptions extends RmsOptions {
  /** Divide by the moving standard deviation instead of the root mean square. Default false. */
  readonly centered?: boolean;
  /** Momentum applied after the learning rate, >= 0; omitted keeps no trace. */
  readonly momentum?: number | null;
  /** Nesterov momentum. Default false. */
  readonly nesterov?: boolean;
}

/**
 * RMSprop (Tieleman and Hinton, 2012), as optax's `rmsprop`: {@link scaleByRms} (or
 * {@link scaleByStddev} when `centered`), the learning rate, then optional momentum.
 *
 * ```
 * nu' = decay nu + (1 - decay) g^2
 * u   = -lr g / sqrt(nu' + eps)           (centered: g / sqrt(nu' - mu'^2 + eps))
 * trace' = u + momentum trace, p' = p + trace'
 * ```
 *
 * **Differs from PyTorch's `RMSprop`**: optax and gradtx put `eps` inside the square root
 * (`epsInSqrt: false` gives PyTorch's `sqrt(nu) + eps`), and PyTorch's default decay (`alpha`)
 * is 0.99, not 0.9. TensorFlow.js's `rmsprop` also adds eps inside the root. `epsInSqrt` and
 * `biasCorrection` apply with `centered` too, as in optax since 0.2.4.
 *
 * @example
 * ```ts
 * import { rmsprop } from "gradtx";
 * const opt = rmsprop(1e-3, { decay: 0.9, momentum: 0.9, centered: true });
 * ```
 * @since 0.1.0
 */
export function rmsprop(
  learningRate: ScalarOrSchedule,
  options?: RmspropOptions | null,
): GradientTransformation<
  [ScaleByRmsState | ScaleByStddevState, ShapesState | ScaleByScheduleState, ShapesState | TraceState]
> {
  options = readOptions(
    "rmsprop",
    options,
    ["decay", "eps", "initialScale", "epsInSqrt", "biasCorrection", "centered", "momentum", "nesterov"],
    {
      hint: positional("rmsprop", "decay, eps", "decay: 0.9, eps: 1e-8"),
      // PyTorch's RMSprop calls the decay alpha; Keras calls it rho.
      aliases: { alpha: "decay", rho: "decay" },
    },
  );
  checkScalarOrSchedule("rmsprop", "learningRate", learningRate);
  const { centered = false, momentum, nesterov = false, ...rms } = options;
  return asFactory("rmsprop", () => {
    // As optax since 0.2.4, centered takes epsInSqrt and biasCorrection too.
    const scaling = centered ? scaleByStddev(rms) : scaleByRms(rms);
    // Checked here, under its own name: trace calls it decay.
    if (momentum !== undefined && momentum !== null) checkNumber("rmsprop", "momentum", momentum, { min: 0 });
    const tail = momentum === undefined || momentum === null ? identity() : trace(momentum, { nesterov });
    return chain(scaling, scaleByLearningRate(learningRate), tail);
  });
}

/**
 * Adagrad (Duchi et al., 2011): {@link scaleByRss} then the learning rate.
 *
 * `s' = s + g^2,  p' = p - lr g / sqrt(s' + eps)`
 *
 * **Differs from PyTorch's `Adagrad`**: the accumulator starts at 0.1 (optax, TensorFlow), not
 * 0, and `eps` 1e-7 sits inside the root (PyTorch: 1e-10 outside).
 *
 * @example
 * ```ts
 * import { adagrad } from "gradtx";
 * const opt = adagrad(0.1);
 * ```
 * @since 0.1.0
 */
export function adagrad(
  learningRate: ScalarOrSchedule,
  options?: { readonly initialAccumulatorValue?: number; readonly eps?: number } | null,
): GradientTransformation<[ScaleByRssState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("adagrad", options, ["initialAccumulatorValue", "eps"], {
    hint: positional("adagrad", "initial_accumulator_value, eps", "initialAccumulatorValue: 0.1, eps: 1e-7"),
  });
  checkScalarOrSchedule("adagrad", "learningRate", learningRate);
  const o = options;
  return asFactory("adagrad", () => chain(scaleByRss(o), scaleByLearningRate(learningRate)));
}

/**
 * Adadelta (Zeiler, 2012), as optax's `adadelta`: weight decay (coupled, added to the
 * gradient), {@link scaleByAdadelta}, then the learning rate (default 1, the paper's).
 *
 * @example
 * ```ts
 * import { adadelta } from "gradtx";
 * const opt = adadelta(1, { rho: 0.9, eps: 1e-6 });
 * ```
 * @since 0.1.0
 */
export function adadelta(
  learningRate: ScalarOrSchedule = 1,
  options?: {
    readonly rho?: number;
    readonly eps?: number;
    readonly weightDecay?: number;
    readonly mask?: Mask;
  } | null,
): GradientTransformation<[ShapesState, ScaleByAdadeltaState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("adadelta", options, ["rho", "eps", "weightDecay", "mask"], {
    hint: positional("adadelta", "rho, eps, weight_decay", "rho: 0.9, eps: 1e-6"),
  });
  checkScalarOrSchedule("adadelta", "learningRate", learningRate);
  const { weightDecay = 0, mask, ...rest } = options;
  return asFactory("adadelta", () =>
    chain(
      addDecayedWeights(weightDecay, mask === undefined ? {} : { mask }),
      scaleByAdadelta(rest),
      scaleByLearningRate(learningRate),
    ),
  );
}

/**
 * Lion (Chen et al., 2023): {@link scaleByLion}, decoupled weight decay (default 1e-3, as
 * optax), then the learning rate. Use a learning rate 3-10x smaller than AdamW's.
 *
 * `p' = p - lr * (sign((1 - b1) g + b1 mu) + weightDecay p)`
 *
 * @example
 * ```ts
 * import { lion } from "gradtx";
 * const opt = lion(1e-4);
 * ```
 * @since 0.1.0
 */
export function lion(
  learningRate: ScalarOrSchedule,
  options?: { readonly b1?: number; readonly b2?: number; readonly weightDecay?: number; readonly mask?: Mask } | null,
): GradientTransformation<[ScaleByLionState, ShapesState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("lion", options, ["b1", "b2", "weightDecay", "mask"], {
    hint: positional("lion", "b1, b2, weight_decay", "b1: 0.9, b2: 0.99, weightDecay: 1e-3"),
  });
  checkScalarOrSchedule("lion", "learningRate", learningRate);
  const { weightDecay = 1e-3, mask, ...rest } = options;
  return asFactory("lion", () =>
    chain(
      scaleByLion(rest),
      addDecayedWeights(weightDecay, mask === undefined ? {} : { mask }),
      scaleByLearningRate(learningRate),
    ),
  );
}

/** Options of {@link lamb}. @since 0.1.0 */
export interface LambOptions extends Omit<AdamOptions, "nesterov"> {
  /** Decoupled weight decay, >= 0. Default 0. */
  readonly weightDecay?: number;
  /** Which leaves to decay (default all). */
  readonly mask?: Mask;
}

/**
 * LAMB (You et al., 2020), as optax's `lamb`: Adam (eps 1e-6), weight decay, a per-leaf trust
 * ratio, then the learning rate.
 *
 * `p' = p - lr * (||p|| / ||r||) r,   r = adam_update + weightDecay p`  (per leaf)
 *
 * @example
 * ```ts
 * import { lamb } from "gradtx";
 * const opt = lamb(1e-3, { weightDecay: 0.01 });
 * ```
 * @since 0.1.0
 */
export function lamb(
  learningRate: ScalarOrSchedule,
  options?: LambOptions | null,
): GradientTransformation<[ScaleByAdamState, ShapesState, ShapesState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("lamb", options, [...ADAM_KEYS_NO_NESTEROV, "weightDecay", "mask"], {
    hint: positional("lamb", "b1, b2, eps, eps_root, weight_decay", "b1: 0.9, eps: 1e-6, weightDecay: 0"),
  });
  checkScalarOrSchedule("lamb", "learningRate", learningRate);
  const { weightDecay = 0, mask, eps = 1e-6, ...adamOnly } = options;
  return asFactory("lamb", () =>
    chain(
      scaleByAdam({ ...adamOnly, eps }),
      addDecayedWeights(weightDecay, mask === undefined ? {} : { mask }),
      scaleByTrustRatio(),
      scaleByLearningRate(learningRate),
    ),
  );
}

/** Options of {@link ranger}: RAdam's, and Lookahead's `syncPeriod` and `alpha`. @since 0.1.0 */
export interface RangerOptions extends RAdamOptions {
  /** Lookahead's k. Default 6 (Ranger's). */
  readonly syncPeriod?: number;
  /** Lookahead's slow step size. Default 0.5. */
  readonly alpha?: number;
}

/**
 * Ranger: Lookahead over RAdam, the pairing popularised by Less Wright's "Ranger" optimizer
 * (2019), which combined the two papers. Its defaults are Ranger's: `syncPeriod` 6 and `alpha`
 * 0.5 for Lookahead, RAdam with `b1` 0.95 and `b2` 0.999, `eps` 1e-5 and learning rate 1e-3;
 * the original also centralizes gradients, which gradtx does not.
 *
 * `ranger(lr) = lookahead(radam(lr, { b1: 0.95, eps: 1e-5 }), { syncPeriod: 6, alpha: 0.5 })`
 *
 * @example
 * ```ts
 * import { ranger } from "gradtx";
 * const opt = ranger(1e-3);
 * ```
 * @since 0.1.0
 */
export function ranger(
  learningRate: ScalarOrSchedule = 1e-3,
  options?: RangerOptions | null,
): GradientTransformation<LookaheadState<[ScaleByAdamState, ShapesState | ScaleByScheduleState]>> {
  options = readOptions("ranger", options, [...ADAM_KEYS, "threshold", "syncPeriod", "alpha"]);
  checkScalarOrSchedule("ranger", "learningRate", learningRate);
  const { syncPeriod = 6, alpha = 0.5, b1 = 0.95, eps = 1e-5, ...rest } = options;
  return asFactory("ranger", () => lookahead(radam(learningRate, { ...rest, b1, eps }), { syncPeriod, alpha }));
}
