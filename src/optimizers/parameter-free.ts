/**
 * optax.contrib's parameter-free optimizers that are chains of building blocks: DoG, DoWG and
 * COCOB, with optax's defaults. (D-Adaptation and Prodigy are single kernels, in
 * `transforms/dadapt.ts`.)
 *
 * @module
 */
import type { GradientTransformation, ScalarOrSchedule, ShapesState } from "../core/base.js";
import { chain, identity } from "../combinators/chain.js";
import { addDecayedWeights, type Mask } from "../transforms/adding.js";
import { COCOB_KEYS, scaleByCocob, type CocobOptions, type ScaleByCocobState } from "../transforms/cocob.js";
import {
  scaleByDog,
  scaleByDowg,
  type DogInitStep,
  type ScaleByDogState,
  type ScaleByDowgState,
} from "../transforms/distance.js";
import { scaleByLearningRate, type ScaleByScheduleState } from "../transforms/scaling.js";
import { asFactory, checkScalarOrSchedule, readOptions } from "../core/validate.js";

/** The weight decay DoG and DoWG may add before their rescaling: none when it is omitted or null. */
interface DistanceDecayOptions {
  /** Weight decay added to the gradient (`g + weightDecay p`), >= 0; omitted or null adds none. */
  readonly weightDecay?: number | null;
  /** Which leaves to decay (default all). */
  readonly mask?: Mask;
}

/** Options of {@link dog} (optax's names, camelCased). @since 0.3.0 */
export interface DogOptions extends DistanceDecayOptions {
  /** See {@link ScaleByDogOptions.initStep}. Default `["heuristic", 1e-6]`. */
  readonly initStep?: DogInitStep;
  /** Added to the sum of squared gradient norms, >= 0. Default 1e-8. */
  readonly eps?: number;
}

/** Options of {@link dowg} (optax's names, camelCased). @since 0.3.0 */
export interface DowgOptions extends DistanceDecayOptions {
  /** The initial guess of the squared distance to the solution, > 0. Default: `eps`. */
  readonly initEstimSqDist?: number | null;
  /** Added to the root in the step size's denominator, > 0. Default 1e-4. */
  readonly eps?: number;
}

/** Options of {@link cocob} (optax's names, camelCased). @since 0.3.0 */
export interface CocobOptimizerOptions extends CocobOptions {
  /** Weight decay added to the gradient (`g + weightDecay p`), >= 0. Default 0. */
  readonly weightDecay?: number;
  /** Which leaves to decay (default all). */
  readonly mask?: Mask;
}

/** The decay step of DoG's and DoWG's chains: optax's `identity()` when there is none. */
const decayOrIdentity = (weightDecay: number | null | undefined, mask: Mask | undefined) =>
  weightDecay === undefined || weightDecay === null
    ? identity()
    : addDecayedWeights(weightDecay, mask === undefined ? {} : { mask });

/**
 * DoG's and DoWG's chain, from their options as `readOptions` read them: the optional decay,
 * the rescaling `rescale` builds from the options that are its own, then the learning rate.
 */
function distanceChain<O extends DistanceDecayOptions, S>(
  where: string,
  learningRate: ScalarOrSchedule,
  options: O,
  rescale: (own: O) => GradientTransformation<S>,
): GradientTransformation<[ShapesState, S, ShapesState | ScaleByScheduleState]> {
  checkScalarOrSchedule(where, "learningRate", learningRate);
  const { weightDecay, mask, ...own } = options;
  return asFactory(where, () =>
    chain(decayOrIdentity(weightDecay, mask), rescale(own as O), scaleByLearningRate(learningRate)),
  ) as GradientTransformation<[ShapesState, S, ShapesState | ScaleByScheduleState]>;
}

/**
 * DoG, Distance over Gradients (Ivgi et al., 2023), as optax.contrib's `dog`: optional weight
 * decay, {@link scaleByDog}, then the learning rate (default 1, a multiplier or a schedule of
 * the adapted step):
 *
 * ```
 * r_t = max(r_eps, max_{k <= t} ||x_k - x_0||),   G_t = sum_{k <= t} ||g_k||^2
 * x_{t+1} = x_t - lr * r_t / sqrt(G_t + eps) * g_t
 * ```
 *
 * The default first step is `["heuristic", 1e-6]`: `r_eps = 1e-6 (1 + ||x_0||)`, so `init` needs
 * the real params. The authors recommend averaging the iterates. The chain always has three
 * parts (optax's `identity()` stands in for the decay when there is none), so the state is a
 * triple as optax's.
 *
 * @param learningRate A multiplier of DoG's step, or a schedule of it; default 1.
 * @example
 * ```ts
 * import { applyUpdates, dog } from "gradtx";
 * const opt = dog(1, { initStep: ["learning_rate", 0.1] });
 * let x = Float64Array.of(1, 2, 3);
 * const [u, state] = opt.update(x.map((v) => 2 * v), opt.init(x), x);
 * x = applyUpdates(x, u);
 * // The first step is plain gradient descent at 0.1.
 * // x ≈ [0.8, 1.6, 2.4]
 * ```
 * @since 0.3.0
 */
export function dog(
  learningRate: ScalarOrSchedule = 1,
  options?: DogOptions | null,
): GradientTransformation<[ShapesState, ScaleByDogState, ShapesState | ScaleByScheduleState]> {
  const read = readOptions("dog", options, ["initStep", "eps", "weightDecay", "mask"], {
    hint: 'optax\'s dog(learning_rate, init_step, eps, weight_decay, mask) is dog(1, { initStep: ["heuristic", 1e-6], eps: 1e-8 })',
  });
  return distanceChain("dog", learningRate, read, ({ initStep, eps }) =>
    scaleByDog({ initStep: initStep ?? ["heuristic", 1e-6], ...(eps === undefined ? {} : { eps }) }),
  );
}

/**
 * DoWG, Distance over Weighted Gradients (Khaled et al., 2023), as optax.contrib's `dowg`:
 * optional weight decay, {@link scaleByDowg}, then the learning rate (default 1):
 *
 * ```
 * d2_t = max(d2_{t-1}, ||x_t - x_0||^2),   W_t = W_{t-1} + d2_t ||g_t||^2
 * x_{t+1} = x_t - lr * d2_t / (sqrt(W_t) + eps) * g_t
 * ```
 *
 * As {@link dog}'s, the state is a triple (optax's `identity()` where there is no decay).
 *
 * @param learningRate A multiplier of DoWG's step, or a schedule of it; default 1.
 * @example
 * ```ts
 * import { applyUpdates, dowg } from "gradtx";
 * const opt = dowg();
 * let x = Float64Array.of(1, 2, 3);
 * const [u] = opt.update(x.map((v) => 2 * v), opt.init(x), x);
 * x = applyUpdates(x, u);
 * // The squared distance starts at eps (1e-4), so the first step size is 1e-4 / (1e-2 ||g|| + 1e-4).
 * // x ≈ [1 - 2e-4 / (0.02 * Math.sqrt(14) + 1e-4), 2 - 4e-4 / (0.02 * Math.sqrt(14) + 1e-4), 3 - 6e-4 / (0.02 * Math.sqrt(14) + 1e-4)]
 * ```
 * @since 0.3.0
 */
export function dowg(
  learningRate: ScalarOrSchedule = 1,
  options?: DowgOptions | null,
): GradientTransformation<[ShapesState, ScaleByDowgState, ShapesState | ScaleByScheduleState]> {
  const read = readOptions("dowg", options, ["initEstimSqDist", "eps", "weightDecay", "mask"], {
    hint: "optax's dowg(learning_rate, init_estim_sq_dist, eps, weight_decay, mask) is dowg(1, { eps: 1e-4 })",
  });
  return distanceChain("dowg", learningRate, read, (own) => scaleByDowg(own));
}

/**
 * COCOB-Backprop (Orabona and Tommasi, 2017), as optax.contrib's `cocob`: weight decay (default
 * 0, always in the chain as in optax), the learning rate applied to the gradient without flipping
 * its sign, then {@link scaleByCocob}, whose update is the whole move:
 *
 * ```
 * c = lr (g + weightDecay p)
 * L' = max(L, |c|),   G' = G + |c|,   R' = max(R - c (p - p0), 0),   theta' = theta - c
 * p' = p0 + theta' / (L' max(G' + L', alpha L')) (L' + R')
 * ```
 *
 * The learning rate (default 1) only rescales the gradient COCOB sees; `alpha` (default 100)
 * bounds the first bets: the first step moves each coordinate by `lr |c| / (alpha |c|)` at most.
 *
 * @param learningRate A multiplier of the gradient, or a schedule of it; default 1.
 * @example
 * ```ts
 * import { applyUpdates, cocob } from "gradtx";
 * const opt = cocob();
 * let x = Float64Array.of(1, -2);
 * const [u] = opt.update(Float64Array.of(2, -4), opt.init(x), x);
 * x = applyUpdates(x, u);
 * // The first bet is -g / (alpha |g|): each coordinate moves by 1 / 100 against its gradient.
 * // x ≈ [0.99, -1.99]
 * ```
 * @since 0.3.0
 */
export function cocob(
  learningRate: ScalarOrSchedule = 1,
  options?: CocobOptimizerOptions | null,
): GradientTransformation<[ShapesState, ShapesState | ScaleByScheduleState, ScaleByCocobState]> {
  options = readOptions("cocob", options, [...COCOB_KEYS, "weightDecay", "mask"], {
    hint: "optax's cocob(learning_rate, alpha, eps, weight_decay, mask) is cocob(1, { alpha: 100, eps: 1e-8, weightDecay: 0 })",
  });
  checkScalarOrSchedule("cocob", "learningRate", learningRate);
  const { weightDecay, mask, ...rest } = options;
  return asFactory("cocob", () =>
    chain(
      addDecayedWeights(weightDecay ?? 0, mask === undefined ? {} : { mask }),
      scaleByLearningRate(learningRate, { flipSign: false }),
      scaleByCocob(rest),
    ),
  );
}
