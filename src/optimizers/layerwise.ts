/**
 * Optimizers that scale each layer's step by the size of its params: LARS and Fromage, each a
 * `chain` of building blocks with optax's defaults.
 *
 * @module
 */
import type { GradientTransformation, ScalarOrSchedule, ShapesState } from "../core/base.js";
import { chain } from "../combinators/chain.js";
import { positional } from "./standard.js";
import { masked, type MaskedState } from "../combinators/masked.js";
import { elementwise } from "../kernels/executor.js";
import { add, mul } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import { trace, type TraceState } from "../transforms/accumulation.js";
import { addDecayedWeights, type Mask } from "../transforms/adding.js";
import { scaleByLearningRate, scaleByTrustRatio, type ScaleByScheduleState } from "../transforms/scaling.js";
import { asFactory, checkBoolean, checkNumber, checkScalarOrSchedule, readOptions } from "../core/validate.js";

/** Options of {@link lars} (optax's names, camelCased). @since 0.3.0 */
export interface LarsOptions {
  /** Weight decay added before the trust ratio, >= 0. Default 0. */
  readonly weightDecay?: number;
  /** Which leaves to decay. Default all. */
  readonly weightDecayMask?: Mask;
  /** Multiplies the trust ratio, >= 0. Default 0.001. */
  readonly trustCoefficient?: number;
  /** Added to the update's norm in the ratio, >= 0. Default 0. */
  readonly eps?: number;
  /** Which leaves take the trust ratio. Default all. */
  readonly trustRatioMask?: Mask;
  /** Momentum, >= 0, applied after the learning rate. Default 0.9. */
  readonly momentum?: number;
  /** Nesterov momentum. Default false. */
  readonly nesterov?: boolean;
}

/**
 * LARS (You, Gitman and Ginsburg, 2017): weight decay, a per-leaf trust ratio on the leaves
 * `trustRatioMask` selects, the learning rate, then momentum, as optax's `lars`.
 *
 * ```
 * r = g + weightDecay p
 * r = trustCoefficient ||p|| / (||r|| + eps) * r      (per leaf; r unchanged where a norm is 0)
 * trace' = -lr r + momentum trace,   p' = p + trace'
 * ```
 *
 * Its trust coefficient is 0.001, so the step is about `lr / 1000` of each leaf's norm: LARS's
 * learning rates are large (the paper's are 2 to 30).
 *
 * @example
 * ```ts
 * import { lars } from "gradtx";
 * const opt = lars(1, { weightDecay: 1e-4, trustRatioMask: (path) => !path.endsWith(".b") });
 * ```
 * @since 0.3.0
 */
export function lars(
  learningRate: ScalarOrSchedule,
  options?: LarsOptions | null,
): GradientTransformation<[ShapesState, MaskedState<ShapesState>, ShapesState | ScaleByScheduleState, TraceState]> {
  options = readOptions(
    "lars",
    options,
    ["weightDecay", "weightDecayMask", "trustCoefficient", "eps", "trustRatioMask", "momentum", "nesterov"],
    { hint: positional("lars", "weight_decay, weight_decay_mask, trust_coefficient", "trustCoefficient: 0.001") },
  );
  checkScalarOrSchedule("lars", "learningRate", learningRate);
  const { weightDecay = 0, weightDecayMask = true, trustRatioMask = true, momentum = 0.9 } = options;
  const { trustCoefficient = 0.001, eps = 0, nesterov = false } = options;
  return asFactory("lars", () => {
    // Checked here, under its own name: trace calls it decay.
    checkNumber("lars", "momentum", momentum, { min: 0 });
    checkBoolean("lars", "nesterov", nesterov);
    return chain(
      addDecayedWeights(weightDecay, { mask: weightDecayMask }),
      masked(scaleByTrustRatio({ trustCoefficient, eps }), trustRatioMask),
      scaleByLearningRate(learningRate),
      trace(momentum, { nesterov }),
    );
  });
}

/**
 * Fromage (Bernstein et al., 2020, "On the distance between two neural networks and the
 * stability of learning"), as optax's `fromage`: a trust ratio with `minNorm`, the learning rate
 * times `1 / sqrt(1 + lr^2)`, and the params shrunk by the same factor.
 *
 * ```
 * c  = 1 / sqrt(1 + lr^2)
 * r  = max(||p||, minNorm) / max(||g||, minNorm) * g          (per leaf)
 * p' = p - lr c r + (c - 1) p  =  c (p - lr r)
 * ```
 *
 * optax adds the shrink with `add_decayed_weights(c - 1)`, a negative decay; gradtx's
 * `addDecayedWeights` takes none below 0, so the shrink is its own step here, with the same
 * arithmetic. A schedule gives `c` per step, read with the count before the step.
 *
 * @example
 * ```ts
 * import { fromage, applyUpdates } from "gradtx";
 * const opt = fromage(0.75);
 * let x = Float64Array.of(3, 4);
 * const [u] = opt.update(Float64Array.of(0, 2), opt.init(x), x);
 * x = applyUpdates(x, u);
 * // Here c = 1 / sqrt(1 + 0.5625) = 0.8, and r = (5 / 2) [0, 2] = [0, 5].
 * // x ≈ [0.8 * 3, 0.8 * (4 - 0.75 * 5)]
 * ```
 * @since 0.3.0
 */
export function fromage(
  learningRate: ScalarOrSchedule,
  options?: { readonly minNorm?: number } | null,
): GradientTransformation<[ShapesState, ShapesState | ScaleByScheduleState, ShapesState | ScaleByScheduleState]> {
  options = readOptions("fromage", options, ["minNorm"], { hint: positional("fromage", "min_norm", "minNorm: 1e-6") });
  checkScalarOrSchedule("fromage", "learningRate", learningRate);
  const minNorm = options.minNorm ?? 1e-6;
  const factor = (lr: number) => 1 / Math.sqrt(1 + lr * lr);
  const rate =
    typeof learningRate === "function"
      ? (count: number) => factor(learningRate(count)) * learningRate(count)
      : factor(learningRate) * learningRate;
  const shrink = elementwise<ShapesState | ScaleByScheduleState>(
    declare({
      name: "fromage",
      readsParams: true,
      counted: typeof learningRate === "function",
      scalars: (_, count) => ({
        shrink: (typeof learningRate === "function" ? factor(learningRate(count)) : factor(learningRate)) - 1,
      }),
      body: ({ x, p }, s) => ({ update: add(x, mul(s.shrink, p)) }),
    }),
  );
  return asFactory("fromage", () => chain(scaleByTrustRatio({ minNorm }), scaleByLearningRate(rate), shrink));
}
