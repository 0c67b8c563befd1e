/**
 * RMS-style rescaling: RMSprop (plain and centered), Adagrad and Adadelta. Each keeps running
 * averages or sums of the squared updates in its state (the params' dtype) and divides every
 * element by their root. Learning rates are applied elsewhere (`scaleByLearningRate`), as in
 * optax.
 *
 * @module
 */
import type { GradientTransformation } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { add, div, gt, max, mul, select, sqrt, sub } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import type { PyTree } from "../core/pytree.js";
import { biasCorrection, increment } from "../core/state.js";
import { DECAY, checkBoolean, checkNumber, readOptions } from "../core/validate.js";

/** A decay rate in [0, 1). */

/** The state of {@link scaleByRms}. @since 0.1.0 */
export interface ScaleByRmsState {
  /** Steps taken (read only with `biasCorrection`). */
  readonly count: number;
  /** Moving average of the squared updates, starting at `initialScale`. */
  readonly nu: PyTree;
}

/** Options of {@link scaleByRms}. @since 0.1.0 */
export interface RmsOptions {
  /** Decay of the squared-update average, in [0, 1). Default 0.9. */
  readonly decay?: number;
  /** Added to the average (inside the root by default), >= 0. Default 1e-8. */
  readonly eps?: number;
  /** The average's initial value, >= 0. Default 0. */
  readonly initialScale?: number;
  /** Put `eps` inside the square root (optax's default) or add it to the root. Default true. */
  readonly epsInSqrt?: boolean;
  /** Divide the average by `1 - decay^t`. Default false. */
  readonly biasCorrection?: boolean;
}

/**
 * Rescales updates by the root of a moving average of their squares (Tieleman and Hinton's
 * RMSprop), as optax's `scale_by_rms`.
 *
 * ```
 * nu' = (1 - decay) u^2 + decay nu
 * v   = nu'                          (biasCorrection: nu' / (1 - decay^t), t = count + 1)
 * u'  = u / sqrt(v + eps)            (epsInSqrt: false: u / (sqrt(v) + eps))
 * ```
 *
 * With `biasCorrection` and `epsInSqrt: false` this is `scaleByAdam({ b1: 0 })`. PyTorch's
 * `RMSprop` adds eps outside the root (`epsInSqrt: false`) and starts `nu` at 0, as here.
 *
 * @example
 * ```ts
 * import { scaleByRms } from "gradtx";
 * const tx = scaleByRms({ decay: 0.9 });
 * const [u] = tx.update(Float64Array.of(2), tx.init(Float64Array.of(0)));
 * // u ≈ [2 / Math.sqrt(0.4 + 1e-8)]: nu = 0.1 * 4 = 0.4
 * ```
 * @since 0.1.0
 */
export function scaleByRms(options: RmsOptions | null = {}): GradientTransformation<ScaleByRmsState> {
  options = readOptions("scaleByRms", options, ["decay", "eps", "initialScale", "epsInSqrt", "biasCorrection"], {
    hint: "optax's scale_by_rms(decay, eps) is scaleByRms({ decay: 0.9, eps: 1e-8 })",
  });
  const where = "scaleByRms";
  const decay = checkNumber(where, "decay", options.decay ?? 0.9, DECAY);
  const eps = checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 });
  const initialScale = checkNumber(where, "initialScale", options.initialScale ?? 0, { min: 0 });
  const inSqrt = checkBoolean(where, "epsInSqrt", options.epsInSqrt ?? true);
  const corrected = checkBoolean(where, "biasCorrection", options.biasCorrection ?? false);
  return elementwise<ScaleByRmsState>(
    declare({
      name: where,
      slots: { nu: initialScale },
      counted: true,
      hyper: { decay, eps },
      scalars: (h, count) => ({ a: 1 - h.decay, inverse: 1 / biasCorrection(h.decay, increment(count)) }),
      body: ({ x, nu }, s) => {
        const v = add(mul(s.a, mul(x, x)), mul(s.decay, nu));
        // Without the correction the factor would be 1, which changes no bit: leave it out.
        const vHat = corrected ? mul(v, s.inverse) : v;
        return { update: inSqrt ? div(x, sqrt(add(vHat, s.eps))) : div(x, add(sqrt(vHat), s.eps)), nu: v };
      },
    }),
  );
}

/** The state of {@link scaleByStddev}. @since 0.1.0 */
export interface ScaleByStddevState {
  /** Steps taken: only with `biasCorrection` (as optax's `ScaleByRStdDevWithCountState`). */
  readonly count?: number;
  /** Moving average of the updates. */
  readonly mu: PyTree;
  /** Moving average of the squared updates, starting at `initialScale`. */
  readonly nu: PyTree;
}

/**
 * Rescales updates by their moving standard deviation (centered RMSprop), as optax's
 * `scale_by_stddev`.
 *
 * ```
 * mu' = (1 - decay) u + decay mu,   nu' = (1 - decay) u^2 + decay nu
 * m, v = mu', nu'                     (biasCorrection: mu' / (1 - decay^t), nu' / (1 - decay^t), t = count + 1)
 * u'  = u / sqrt(max(v - m^2, 0) + eps)   (epsInSqrt: false: u / (sqrt(max(v - m^2, 0)) + eps))
 * ```
 *
 * `epsInSqrt` and `biasCorrection` are optax's (since 0.2.4); with `biasCorrection` the state
 * also counts the steps. The `max(·, 0)` is gradtx's: in exact arithmetic `v >= m^2`, and it
 * keeps a rounding error from taking the root of a negative number.
 *
 * @example
 * ```ts
 * import { scaleByStddev } from "gradtx";
 * const tx = scaleByStddev();
 * const [u] = tx.update(Float64Array.of(1), tx.init(Float64Array.of(0)));
 * // u ≈ [1 / Math.sqrt(0.1 - 0.01 + 1e-8)]: mu = 0.1 and nu = 0.1
 * ```
 * @since 0.1.0
 */
export function scaleByStddev(options: RmsOptions | null = {}): GradientTransformation<ScaleByStddevState> {
  options = readOptions("scaleByStddev", options, ["decay", "eps", "initialScale", "epsInSqrt", "biasCorrection"], {
    hint: "optax's scale_by_stddev(decay, eps) is scaleByStddev({ decay: 0.9, eps: 1e-8 })",
  });
  const where = "scaleByStddev";
  const decay = checkNumber(where, "decay", options.decay ?? 0.9, DECAY);
  const eps = checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 });
  const initialScale = checkNumber(where, "initialScale", options.initialScale ?? 0, { min: 0 });
  const inSqrt = checkBoolean(where, "epsInSqrt", options.epsInSqrt ?? true);
  const corrected = checkBoolean(where, "biasCorrection", options.biasCorrection ?? false);
  return elementwise<ScaleByStddevState>(
    declare({
      name: where,
      slots: { mu: 0, nu: initialScale },
      // The count is optax's ScaleByRStdDevWithCountState: kept only with biasCorrection.
      counted: corrected,
      hyper: { decay, eps },
      scalars: (h, count) => ({ a: 1 - h.decay, inverse: 1 / biasCorrection(h.decay, increment(count)) }),
      body: ({ x, mu, nu }, s) => {
        const m = add(mul(s.a, x), mul(s.decay, mu));
        const v = add(mul(s.a, mul(x, x)), mul(s.decay, nu));
        // Without the correction the factor would be 1, which changes no bit: leave it out.
        const mHat = corrected ? mul(m, s.inverse) : m;
        const vHat = corrected ? mul(v, s.inverse) : v;
        // v >= m^2 in exact arithmetic; rounding can break that by an ulp.
        const variance = max(sub(vHat, mul(mHat, mHat)), 0);
        return {
          update: inSqrt ? div(x, sqrt(add(variance, s.eps))) : div(x, add(sqrt(variance), s.eps)),
          mu: m,
          nu: v,
        };
      },
    }),
  );
}

/** The state of {@link scaleByRss}. @since 0.1.0 */
export interface ScaleByRssState {
  /** The running sum of squared updates, starting at `initialAccumulatorValue`. */
  readonly sumOfSquares: PyTree;
}

/**
 * Rescales updates by the root of the sum of all their past squares (Adagrad; Duchi, Hazan and
 * Singer, 2011), as optax's `scale_by_rss`.
 *
 * ```
 * s'  = s + u^2
 * u'  = u * (s' > 0 ? 1 / sqrt(s' + eps) : 0)
 * ```
 *
 * optax's and TensorFlow's accumulator starts at 0.1; PyTorch's `Adagrad` starts it at 0 and
 * adds eps 1e-10 outside the root.
 *
 * @example
 * ```ts
 * import { scaleByRss } from "gradtx";
 * const tx = scaleByRss();
 * const [u] = tx.update(Float64Array.of(1), tx.init(Float64Array.of(0)));
 * // u ≈ [1 / Math.sqrt(1.1 + 1e-7)]: s = 0.1 + 1 = 1.1
 * ```
 * @since 0.1.0
 */
export function scaleByRss(
  options: { readonly initialAccumulatorValue?: number; readonly eps?: number } | null = {},
): GradientTransformation<ScaleByRssState> {
  options = readOptions("scaleByRss", options, ["initialAccumulatorValue", "eps"], {
    hint: "optax's scale_by_rss(initial_accumulator_value, eps) is scaleByRss({ initialAccumulatorValue: 0.1, eps: 1e-7 })",
  });
  const where = "scaleByRss";
  const initial = checkNumber(where, "initialAccumulatorValue", options.initialAccumulatorValue ?? 0.1, { min: 0 });
  const eps = checkNumber(where, "eps", options.eps ?? 1e-7, { min: 0 });
  return elementwise<ScaleByRssState>(
    declare({
      name: where,
      slots: { sumOfSquares: initial },
      hyper: { eps },
      body: ({ x, sumOfSquares }, s) => {
        const sum = add(mul(x, x), sumOfSquares);
        // As optax: the factor is 0 where the sum is 0 (or NaN), and multiplying keeps a NaN update NaN.
        return { update: mul(select(gt(sum, 0), div(1, sqrt(add(sum, s.eps))), 0), x), sumOfSquares: sum };
      },
    }),
  );
}

/** The state of {@link scaleByAdadelta}. @since 0.1.0 */
export interface ScaleByAdadeltaState {
  /** Moving average of the squared updates. */
  readonly eG: PyTree;
  /** Moving average of the squared steps. */
  readonly eX: PyTree;
}

/**
 * Adadelta (Zeiler, 2012), as optax's `scale_by_adadelta`.
 *
 * ```
 * eG' = (1 - rho) u^2 + rho eG
 * u'  = sqrt(eX + eps) / sqrt(eG' + eps) * u
 * eX' = (1 - rho) u'^2 + rho eX
 * ```
 *
 * @example
 * ```ts
 * import { scaleByAdadelta } from "gradtx";
 * const tx = scaleByAdadelta();
 * const [u] = tx.update(Float64Array.of(1), tx.init(Float64Array.of(0)));
 * // u ≈ [Math.sqrt(1e-6) / Math.sqrt(0.1 + 1e-6)]: eG = 0.1
 * ```
 * @since 0.1.0
 */
export function scaleByAdadelta(
  options: { readonly rho?: number; readonly eps?: number } | null = {},
): GradientTransformation<ScaleByAdadeltaState> {
  options = readOptions("scaleByAdadelta", options, ["rho", "eps"], {
    hint: "optax's scale_by_adadelta(rho, eps) is scaleByAdadelta({ rho: 0.9, eps: 1e-6 })",
  });
  const where = "scaleByAdadelta";
  const rho = checkNumber(where, "rho", options.rho ?? 0.9, { min: 0, max: 1 });
  const eps = checkNumber(where, "eps", options.eps ?? 1e-6, { min: 0 });
  return elementwise<ScaleByAdadeltaState>(
    declare({
      name: where,
      slots: { eG: 0, eX: 0 },
      hyper: { rho, eps },
      scalars: (h) => ({ a: 1 - h.rho }),
      body: ({ x, eG, eX }, s) => {
        const eg = add(mul(s.a, mul(x, x)), mul(s.rho, eG));
        const d = mul(div(sqrt(add(eX, s.eps)), sqrt(add(eg, s.eps))), x);
        return { update: d, eG: eg, eX: add(mul(s.a, mul(d, d)), mul(s.rho, eX)) };
      },
    }),
  );
}
