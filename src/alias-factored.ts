/**
 * Optimizers whose state follows the params' shapes: Adafactor (factored second moments) and SM3
 * (per-axis accumulators), each a chain of building blocks with optax's defaults.
 *
 * @module
 */
import type { GradientTransformation, ScalarOrSchedule, ShapesState } from "./base.js";
import { chain } from "./combine.js";
import { positional } from "./alias.js";
import { ema } from "./transforms/accumulation.js";
import { addDecayedWeights, type Mask } from "./transforms/adding.js";
import { clipByBlockRms } from "./transforms/clipping.js";
import { scaleByFactoredRms } from "./transforms/factored.js";
import { scaleBySm3, type ScaleBySm3State } from "./transforms/sm3.js";
import { scaleByParamBlockRms } from "./transforms/param-block.js";
import { scale, scaleByLearningRate } from "./transforms/scaling.js";
import { asFactory, checkBoolean, checkNumber, checkScalarOrSchedule, readOptions } from "./validate.js";

/** Options of {@link adafactor}: optax's keyword arguments, camelCased. @since 0.3.0 */
export interface AdafactorOptions {
  /** Factor the statistics only if the second largest dimension is at least this. Default 128. */
  readonly minDimSizeToFactor?: number;
  /** The exponent of the second moment's decay schedule `1 - (t + 1)^-decayRate`. Default 0.8. */
  readonly decayRate?: number;
  /** Subtracted from the step count in the schedule (the fine-tuning phase's first step). Default 0. */
  readonly decayOffset?: number;
  /** Multiply the step by each leaf's parameter RMS (at least 1e-3): the learning rate is relative. Default true. */
  readonly multiplyByParameterScale?: boolean;
  /** Clip each leaf's update to this RMS; `null` disables clipping. Default 1. */
  readonly clippingThreshold?: number | null;
  /** The decay of an (undebiased) moving average of the updates; `null`, the default, keeps none. */
  readonly momentum?: number | null;
  /** Weight decay added after the scaling (not multiplied by the learning rate); `null`, the default, adds none. */
  readonly weightDecayRate?: number | null;
  /** Added to the squared gradient. Default 1e-30. */
  readonly eps?: number;
  /** Whether to factor the second moments at all. Default true. */
  readonly factored?: boolean;
  /** Which leaves to decay (default all). */
  readonly weightDecayMask?: Mask;
}

const ADAFACTOR_KEYS = [
  "minDimSizeToFactor",
  "decayRate",
  "decayOffset",
  "multiplyByParameterScale",
  "clippingThreshold",
  "momentum",
  "weightDecayRate",
  "eps",
  "factored",
  "weightDecayMask",
] as const;

/**
 * Adafactor (Shazeer and Stern, 2018, "Adafactor: Adaptive Learning Rates with Sublinear Memory
 * Cost"), as optax's `adafactor`: the chain
 *
 * ```
 * scaleByFactoredRms({ factored, decayRate, stepOffset: decayOffset, minDimSizeToFactor, epsilon: eps })
 * clipByBlockRms(clippingThreshold)               unless clippingThreshold is null
 * scaleByLearningRate(lr, { flipSign: false })    unless learningRate is null or omitted
 * scaleByParamBlockRms()                          if multiplyByParameterScale: u * max(rms(p), 1e-3)
 * ema(momentum, { debias: false })                unless momentum is null
 * addDecayedWeights(weightDecayRate, { mask })    unless weightDecayRate is null
 * scale(-1)
 * ```
 *
 * so a step is `p' = p - lr * max(rms(p), 1e-3) * clip(g / sqrt(v^))` with `v^` the factored
 * estimate of `E[g^2]` ({@link scaleByFactoredRms}). The elementwise parts fuse with each other;
 * the factored rescaling runs as plain TypeScript before them. With `multiplyByParameterScale`
 * the learning rate is relative to the params' size, so Adafactor's are larger than Adam's (optax's
 * doctest uses 0.003 on `sum(x^2)`). Leaves are factored only from 128 by 128 up by default.
 * optax's `dtype_momentum` is not offered (the average has the params' dtype), and
 * `weightDecayRate` is a number, not a schedule.
 *
 * @param learningRate The step size, a number or a schedule; `null` or omitted leaves it out
 *   (the update is then the relative step itself, as optax's `learning_rate=None`).
 * @param options optax's keyword arguments, camelCased; see {@link AdafactorOptions}.
 * @example
 * ```ts
 * import { adafactor, applyUpdates } from "gradtx";
 * // optax's doctest: sum(x^2) from [1, 2, 3] with learning rate 0.003.
 * const opt = adafactor(0.003);
 * let x = Float64Array.of(1, 2, 3);
 * let state = opt.init(x);
 * for (let t = 0; t < 5; t++) {
 *   const [u, next] = opt.update(x.map((v) => 2 * v), state, x);
 *   x = applyUpdates(x, u);
 *   state = next;
 * }
 * // optax prints 1.36E+01 after the fifth step.
 * x.reduce((s, v) => s + v * v, 0).toExponential(2); // "1.36e+1"
 * ```
 * @since 0.3.0
 */
export function adafactor(
  learningRate?: ScalarOrSchedule | null,
  options?: AdafactorOptions | null,
): GradientTransformation {
  const where = "adafactor";
  options = readOptions(where, options, ADAFACTOR_KEYS, {
    hint: positional(
      where,
      "min_dim_size_to_factor, decay_rate, decay_offset, multiply_by_parameter_scale, clipping_threshold",
      "minDimSizeToFactor: 128, decayRate: 0.8",
    ),
    aliases: {
      mask: "weightDecayMask",
      weightDecay: "weightDecayRate",
      dtypeMomentum: "not offered: the average has the params' dtype",
    },
  });
  if (learningRate !== undefined && learningRate !== null) checkScalarOrSchedule(where, "learningRate", learningRate);
  const o = options;
  const scaleByParams = checkBoolean(where, "multiplyByParameterScale", o.multiplyByParameterScale ?? true);
  const threshold = o.clippingThreshold === undefined ? 1 : o.clippingThreshold;
  const momentum = o.momentum ?? null;
  const decayRate = o.weightDecayRate ?? null;
  if (threshold !== null) checkNumber(where, "clippingThreshold", threshold, { min: 0, minExclusive: true });
  return asFactory(where, () =>
    chain(
      scaleByFactoredRms({
        factored: o.factored ?? true,
        decayRate: o.decayRate ?? 0.8,
        stepOffset: o.decayOffset ?? 0,
        minDimSizeToFactor: o.minDimSizeToFactor ?? 128,
        epsilon: o.eps ?? 1e-30,
      }),
      ...(threshold === null ? [] : [clipByBlockRms(threshold)]),
      ...(learningRate === undefined || learningRate === null
        ? []
        : [scaleByLearningRate(learningRate, { flipSign: false })]),
      ...(scaleByParams ? [scaleByParamBlockRms()] : []),
      ...(momentum === null ? [] : [ema(momentum, { debias: false })]),
      ...(decayRate === null
        ? []
        : [addDecayedWeights(decayRate, o.weightDecayMask === undefined ? {} : { mask: o.weightDecayMask })]),
      scale(-1),
    ),
  );
}

/**
 * SM3 (Anil et al., 2019, "Memory-Efficient Adaptive Optimization"), as optax's `sm3`:
 * {@link scaleBySm3} with `b1` the momentum, then `scale(-learningRate)`.
 *
 * ```
 * accum = g^2 + min over the axes' accumulators covering the element
 * nu'   = (1 - momentum) g / sqrt(accum + 1e-8) + momentum nu,    p' = p - lr nu'
 * ```
 *
 * Its memory is one accumulator per row and per column of a matrix (per index of each axis).
 * The learning rate is a number, as optax's (`scale(-learning_rate)`, no schedule).
 *
 * @param learningRate >= 0.
 * @param options `momentum` 0.9, in [0, 1).
 * @example
 * ```ts
 * import { applyUpdates, sm3 } from "gradtx";
 * // optax's doctest: sum(x^2) from [1, 2, 3] at 0.003 stays at 1.40E+01 for five steps.
 * const opt = sm3(0.003);
 * let x = Float64Array.of(1, 2, 3);
 * let state = opt.init(x);
 * for (let t = 0; t < 5; t++) {
 *   const [u, next] = opt.update(x.map((v) => 2 * v), state, x);
 *   x = applyUpdates(x, u);
 *   state = next;
 * }
 * x.reduce((s, v) => s + v * v, 0).toExponential(2); // "1.40e+1"
 * ```
 * @since 0.3.0
 */
export function sm3(
  learningRate: number,
  options?: { readonly momentum?: number } | null,
): GradientTransformation<[ScaleBySm3State, ShapesState]> {
  options = readOptions("sm3", options, ["momentum"], {
    hint: positional("sm3", "momentum", "momentum: 0.9"),
  });
  checkNumber("sm3", "learningRate", learningRate, { min: 0 });
  const momentum = options.momentum ?? 0.9;
  return asFactory("sm3", () => chain(scaleBySm3({ b1: momentum }), scale(-learningRate)));
}
