/**
 * Optimizers of the Adam lineage beyond `standard.ts`: AdaBelief, Yogi, Adan, NovoGrad, AdamaxW,
 * NAdamW, and optax.contrib's ADOPT and AdEMAMix, each a `chain` of building blocks with
 * optax's defaults.
 *
 * @module
 */
import type { GradientTransformation, ScalarOrSchedule, ShapesState } from "../core/base.js";
import { chain } from "../combinators/chain.js";
import { positional } from "./standard.js";
import { scaleByAdam, scaleByAdamax, type AdamOptions, type ScaleByAdamState } from "../transforms/adam.js";
import {
  ADEMAMIX_KEYS,
  scaleByAdemamix,
  type AdemamixOptions,
  type ScaleByAdemamixState,
} from "../transforms/ademamix.js";
import { addDecayedWeights, type Mask } from "../transforms/adding.js";
import { ADAN_KEYS, scaleByAdan, type AdanOptions, type ScaleByAdanState } from "../transforms/adan.js";
import { ADOPT_KEYS, scaleByAdopt, type AdoptOptions } from "../transforms/adopt.js";
import { BELIEF_KEYS, scaleByBelief, type BeliefOptions } from "../transforms/belief.js";
import {
  NOVOGRAD_KEYS,
  scaleByNovograd,
  type NovogradOptions,
  type ScaleByNovogradState,
} from "../transforms/novograd.js";
import { scaleByLearningRate, type ScaleByScheduleState } from "../transforms/scaling.js";
import { scaleByYogi } from "../transforms/yogi.js";
import { asFactory, checkScalarOrSchedule, readOptions } from "../core/validate.js";

/** Decoupled weight decay's options, as the Adam family's `W` variants take them. */
interface DecayOptions {
  /** Decoupled weight decay, >= 0, multiplied by the learning rate. */
  readonly weightDecay?: number;
  /** Which leaves to decay (default all). */
  readonly mask?: Mask;
}

/** `addDecayedWeights(weightDecay, { mask })`, the mask passed only when given. */
const decay = (weightDecay: number, mask: Mask | undefined) =>
  addDecayedWeights(weightDecay, mask === undefined ? {} : { mask });

/** Options of {@link adabelief}: {@link scaleByBelief}'s, plus optional weight decay. @since 0.3.0 */
export interface AdabeliefOptions extends BeliefOptions {
  /** Decoupled weight decay, >= 0, multiplied by the learning rate; omitted or null adds none. */
  readonly weightDecay?: number | null;
  /** Which leaves to decay (default all). */
  readonly weightDecayMask?: Mask;
}

/**
 * AdaBelief (Zhuang et al., 2020): {@link scaleByBelief}, optional decoupled weight decay, then
 * the learning rate, as optax's `adabelief`.
 *
 * ```
 * mu' = b1 mu + (1 - b1) g,   nu' = b2 nu + (1 - b2) (g - mu')^2 + epsRoot
 * p'  = p - lr * ((mu' / (1 - b1^t)) / (sqrt(nu' / (1 - b2^t)) + eps) + weightDecay p)
 * ```
 *
 * optax's `eps` and `epsRoot` are both 1e-16; the paper's are 1e-8 and 0. Without `weightDecay`
 * the chain has no decay step, so the state is a pair, as optax's.
 *
 * @example
 * ```ts
 * import { adabelief, applyUpdates } from "gradtx";
 * const opt = adabelief(0.1);
 * let x = Float64Array.of(1, 2, 3);
 * const [u] = opt.update(x.map((v) => 2 * v), opt.init(x), x);
 * x = applyUpdates(x, u);
 * // Each first step is lr * g / sqrt(0.001 (0.9 g)^2 / 0.001) = lr / 0.9.
 * // x ≈ [1 - 0.1 / 0.9, 2 - 0.1 / 0.9, 3 - 0.1 / 0.9]
 * ```
 * @since 0.3.0
 */
export function adabelief(
  learningRate: ScalarOrSchedule,
  options?: AdabeliefOptions | null,
): GradientTransformation<
  | [ScaleByAdamState, ShapesState | ScaleByScheduleState]
  | [ScaleByAdamState, ShapesState, ShapesState | ScaleByScheduleState]
> {
  options = readOptions("adabelief", options, [...BELIEF_KEYS, "weightDecay", "weightDecayMask"], {
    hint: positional("adabelief", "b1, b2, eps, eps_root", "b1: 0.9, b2: 0.999, eps: 1e-16, epsRoot: 1e-16"),
    aliases: { mask: "weightDecayMask" },
  });
  checkScalarOrSchedule("adabelief", "learningRate", learningRate);
  const { weightDecay, weightDecayMask, ...belief } = options;
  return asFactory("adabelief", () =>
    weightDecay === undefined || weightDecay === null
      ? chain(scaleByBelief(belief), scaleByLearningRate(learningRate))
      : chain(scaleByBelief(belief), decay(weightDecay, weightDecayMask), scaleByLearningRate(learningRate)),
  );
}

/**
 * Yogi (Zaheer et al., 2018): {@link scaleByYogi} then the learning rate, as optax's `yogi`
 * (`b1` 0.9, `b2` 0.999, `eps` 1e-3; the moments start at 1e-6).
 *
 * `nu' = nu - (1 - b2) sign(nu - g^2) g^2,   p' = p - lr * (mu' / (1 - b1^t)) / (sqrt(nu' / (1 - b2^t)) + eps)`
 *
 * optax's `yogi` takes `b1`, `b2` and `eps` only; `scaleByYogi` takes `epsRoot` and
 * `initialAccumulatorValue` too.
 *
 * @example
 * ```ts
 * import { yogi } from "gradtx";
 * const opt = yogi(1e-2);
 * ```
 * @since 0.3.0
 */
export function yogi(
  learningRate: ScalarOrSchedule,
  options?: { readonly b1?: number; readonly b2?: number; readonly eps?: number } | null,
): GradientTransformation<[ScaleByAdamState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("yogi", options, ["b1", "b2", "eps"], {
    hint: positional("yogi", "b1, b2, eps", "b1: 0.9, b2: 0.999, eps: 1e-3"),
  });
  checkScalarOrSchedule("yogi", "learningRate", learningRate);
  const o = options;
  return asFactory("yogi", () => chain(scaleByYogi(o), scaleByLearningRate(learningRate)));
}

/** Options of {@link adan}: {@link scaleByAdan}'s, plus weight decay and its mask. @since 0.3.0 */
export interface AdanOptimizerOptions extends AdanOptions, DecayOptions {}

/**
 * Adan (Xie et al., 2022): {@link scaleByAdan}, decoupled weight decay (default 0), then the
 * learning rate, as optax's `adan`. Its `epsRoot` defaults to 1e-8 (`scaleByAdan`'s to 0).
 *
 * `p' = p - lr * ((m^ + (1 - b2) v^) / (sqrt(n^ + epsRoot) + eps) + weightDecay p)`
 *
 * optax's weight decay is added to the update (then scaled by the learning rate), not the
 * paper's proximal division by `1 + lr weightDecay`.
 *
 * @example
 * ```ts
 * import { adan } from "gradtx";
 * const opt = adan(1e-3, { weightDecay: 0.02 });
 * ```
 * @since 0.3.0
 */
export function adan(
  learningRate: ScalarOrSchedule,
  options?: AdanOptimizerOptions | null,
): GradientTransformation<[ScaleByAdanState, ShapesState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("adan", options, [...ADAN_KEYS, "weightDecay", "mask"], {
    hint: positional("adan", "b1, b2, b3, eps, eps_root, weight_decay", "b1: 0.98, b2: 0.92, b3: 0.99"),
  });
  checkScalarOrSchedule("adan", "learningRate", learningRate);
  const { weightDecay = 0, mask, epsRoot = 1e-8, ...rest } = options;
  return asFactory("adan", () =>
    chain(scaleByAdan({ ...rest, epsRoot }), decay(weightDecay, mask), scaleByLearningRate(learningRate)),
  );
}

/**
 * NovoGrad (Ginsburg et al., 2019): {@link scaleByNovograd} then the learning rate, as optax's
 * `novograd` (`b1` 0.9, `b2` 0.25, `eps` 1e-6; `scaleByNovograd`'s `eps` is 1e-8).
 *
 * `nu' = b2 nu + (1 - b2) ||g||^2 (per leaf),  mu' = b1 mu + g / (sqrt(nu') + eps) + weightDecay p,  p' = p - lr mu'`
 *
 * @example
 * ```ts
 * import { novograd, applyUpdates } from "gradtx";
 * const opt = novograd(0.1);
 * let x = Float64Array.of(3, 4);
 * const [u] = opt.update(x.map((v) => 2 * v), opt.init(x), x);
 * x = applyUpdates(x, u);
 * // The first nu is ||g||^2 = 100: the step is 0.1 g / (10 + 1e-6).
 * // x ≈ [3 - 0.06, 4 - 0.08]
 * ```
 * @since 0.3.0
 */
export function novograd(
  learningRate: ScalarOrSchedule,
  options?: NovogradOptions | null,
): GradientTransformation<[ScaleByNovogradState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("novograd", options, NOVOGRAD_KEYS, {
    hint: positional("novograd", "b1, b2, eps, eps_root, weight_decay", "b1: 0.9, b2: 0.25, eps: 1e-6"),
  });
  checkScalarOrSchedule("novograd", "learningRate", learningRate);
  const { eps = 1e-6, ...rest } = options;
  return asFactory("novograd", () => chain(scaleByNovograd({ ...rest, eps }), scaleByLearningRate(learningRate)));
}

/** Options of {@link adamaxw}. @since 0.3.0 */
export interface AdamaxWOptions extends DecayOptions {
  /** Decay of the first moment. Default 0.9. */
  readonly b1?: number;
  /** Decay of the infinity norm. Default 0.999. */
  readonly b2?: number;
  /** Added inside the max. Default 1e-8. */
  readonly eps?: number;
}

/**
 * AdamaxW: {@link scaleByAdamax}, decoupled weight decay (default 1e-4), then the learning rate,
 * as optax's `adamaxw` (Loshchilov and Hutter's decoupling applied to Adamax).
 *
 * `p' = p - lr * ((mu' / (1 - b1^t)) / max(b2 nu, |g| + eps) + weightDecay p)`
 *
 * @example
 * ```ts
 * import { adamaxw } from "gradtx";
 * const opt = adamaxw(2e-3, { weightDecay: 0.01 });
 * ```
 * @since 0.3.0
 */
export function adamaxw(
  learningRate: ScalarOrSchedule,
  options?: AdamaxWOptions | null,
): GradientTransformation<[ScaleByAdamState, ShapesState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("adamaxw", options, ["b1", "b2", "eps", "weightDecay", "mask"], {
    hint: positional("adamaxw", "b1, b2, eps, weight_decay", "b1: 0.9, b2: 0.999, eps: 1e-8, weightDecay: 1e-4"),
  });
  checkScalarOrSchedule("adamaxw", "learningRate", learningRate);
  const { weightDecay = 1e-4, mask, ...rest } = options;
  return asFactory("adamaxw", () =>
    chain(scaleByAdamax(rest), decay(weightDecay, mask), scaleByLearningRate(learningRate)),
  );
}

/** Options of {@link nadamw}: AdamW's without `nesterov`, which is always on. @since 0.3.0 */
export interface NadamWOptions extends Omit<AdamOptions, "nesterov">, DecayOptions {}

/**
 * NAdamW: AdamW with Nesterov momentum, as optax's `nadamw` (`adamw(..., nesterov=True)`):
 * `scaleByAdam({ nesterov: true })`, decoupled weight decay (default 1e-4), the learning rate.
 *
 * `p' = p - lr * ((b1 mu' / (1 - b1^(t+1)) + (1 - b1) g / (1 - b1^t)) / (sqrt(nu' / (1 - b2^t) + epsRoot) + eps) + weightDecay p)`
 *
 * @example
 * ```ts
 * import { nadamw } from "gradtx";
 * const opt = nadamw(1e-3, { weightDecay: 0.01 });
 * ```
 * @since 0.3.0
 */
export function nadamw(
  learningRate: ScalarOrSchedule,
  options?: NadamWOptions | null,
): GradientTransformation<[ScaleByAdamState, ShapesState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("nadamw", options, ["b1", "b2", "eps", "epsRoot", "weightDecay", "mask"], {
    hint: positional("nadamw", "b1, b2, eps, eps_root, weight_decay", "b1: 0.9, weightDecay: 1e-4"),
    aliases: { nesterov: "nadamw is always Nesterov's; adamw(lr) is the other" },
  });
  checkScalarOrSchedule("nadamw", "learningRate", learningRate);
  const { weightDecay = 1e-4, mask, ...rest } = options;
  return asFactory("nadamw", () =>
    chain(scaleByAdam({ ...rest, nesterov: true }), decay(weightDecay, mask), scaleByLearningRate(learningRate)),
  );
}

/**
 * ADOPT (Taniguchi et al., 2024): {@link scaleByAdopt} then the learning rate, as
 * optax.contrib's `adopt` (`b1` 0.9, `b2` 0.9999, `eps` 1e-6, clipping at `count ** 0.25`).
 *
 * `r = clip(g / max(sqrt(nu), eps), ±count^0.25),  mu' = b1 mu + (1 - b1) r,  p' = p - lr mu'`
 *
 * Its first step leaves the params where they are: it only measures `g^2`.
 *
 * @example
 * ```ts
 * import { adopt } from "gradtx";
 * const opt = adopt(3e-3);
 * ```
 * @since 0.3.0
 */
export function adopt(
  learningRate: ScalarOrSchedule,
  options?: AdoptOptions | null,
): GradientTransformation<[ScaleByAdamState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("adopt", options, ADOPT_KEYS, {
    hint: positional("adopt", "b1, b2, eps", "b1: 0.9, b2: 0.9999, eps: 1e-6"),
  });
  checkScalarOrSchedule("adopt", "learningRate", learningRate);
  const o = options;
  return asFactory("adopt", () => chain(scaleByAdopt(o), scaleByLearningRate(learningRate)));
}

/** Options of {@link ademamix}: {@link scaleByAdemamix}'s, plus weight decay and its mask. @since 0.3.0 */
export interface AdemamixOptimizerOptions extends AdemamixOptions, DecayOptions {}

/**
 * AdEMAMix (Pagliardini et al., 2024): {@link scaleByAdemamix}, decoupled weight decay (default
 * 0), then the learning rate, as optax.contrib's `ademamix`. **Its `alpha` defaults to 5**, where
 * `scaleByAdemamix`'s is 6 (both optax's).
 *
 * `p' = p - lr * ((m1^ + alpha m2') / (sqrt(nu^ + epsRoot) + eps) + weightDecay p)`
 *
 * @example
 * ```ts
 * import { ademamix } from "gradtx";
 * const opt = ademamix(1e-3, { b3: 0.999 });
 * ```
 * @since 0.3.0
 */
export function ademamix(
  learningRate: ScalarOrSchedule,
  options?: AdemamixOptimizerOptions | null,
): GradientTransformation<[ScaleByAdemamixState, ShapesState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("ademamix", options, [...ADEMAMIX_KEYS, "weightDecay", "mask"], {
    hint: positional("ademamix", "b1, b2, b3, alpha", "b1: 0.9, b2: 0.999, b3: 0.9999, alpha: 5"),
  });
  checkScalarOrSchedule("ademamix", "learningRate", learningRate);
  const { weightDecay = 0, mask, alpha = 5, ...rest } = options;
  return asFactory("ademamix", () =>
    chain(scaleByAdemamix({ ...rest, alpha }), decay(weightDecay, mask), scaleByLearningRate(learningRate)),
  );
}
