/**
 * The Adam family: Adam's rescaling (Kingma and Ba, 2014), with Nesterov momentum as NAdam
 * (Dozat, 2016), and its variants AMSGrad, Adamax and RAdam. Each keeps running moments of the
 * updates in its state (the params' dtype), bias-corrected, and rescales every element by them,
 * without the learning rate (that is `scaleByLearningRate`'s, as in optax).
 *
 * @module
 */
import type { GradientTransformation } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { abs, add, div, gt, max, mul, select, sqrt } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import type { PyTree } from "../core/pytree.js";
import { biasCorrection, increment } from "../core/state.js";
import { DECAY, checkBoolean, checkNumber, readOptions } from "../core/validate.js";

/** The state of {@link scaleByAdam}. @since 0.1.0 */
export interface ScaleByAdamState {
  /** Steps taken; bias correction uses the count after the step. */
  readonly count: number;
  /** First moment, an exponential moving average of the updates (params' dtype). */
  readonly mu: PyTree;
  /** Second moment, an exponential moving average of the squared updates (params' dtype). */
  readonly nu: PyTree;
}

/** Options of {@link scaleByAdam} (optax's names, camelCased). @since 0.1.0 */
export interface AdamOptions {
  /** Decay of the first moment, in [0, 1). Default 0.9. */
  readonly b1?: number;
  /** Decay of the second moment, in [0, 1). Default 0.999. */
  readonly b2?: number;
  /** Added to the root of the second moment, >= 0. Default 1e-8. */
  readonly eps?: number;
  /** Added inside the root, >= 0. Default 0. */
  readonly epsRoot?: number;
  /** Use Nesterov momentum (NAdam). Default false. */
  readonly nesterov?: boolean;
}

/** Validates Adam's options and fills in optax's defaults. */
export function adamOptions(where: string, options: AdamOptions): Required<AdamOptions> {
  return {
    b1: checkNumber(where, "b1", options.b1 ?? 0.9, DECAY),
    b2: checkNumber(where, "b2", options.b2 ?? 0.999, DECAY),
    eps: checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 }),
    epsRoot: checkNumber(where, "epsRoot", options.epsRoot ?? 0, { min: 0 }),
    nesterov: checkBoolean(where, "nesterov", options.nesterov ?? false),
  };
}

/**
 * Adam's per-step scalars, shared by the transformations whose moments are corrected as Adam's:
 * the decays' complements, the corrections' reciprocals (divisions by per-step numbers are
 * multiplications, computed once in float64, so that one division per element is left, the one
 * by the root), and Nesterov's two factors (its look-ahead term corrects the new moment one step
 * further).
 */
export function adamScalars(h: { readonly b1: number; readonly b2: number }, count: number) {
  const t = increment(count);
  const correct1 = biasCorrection(h.b1, t);
  return {
    a1: 1 - h.b1,
    a2: 1 - h.b2,
    inverse1: 1 / correct1,
    inverse2: 1 / biasCorrection(h.b2, t),
    nextFactor: h.b1 / biasCorrection(h.b1, increment(t)),
    gradFactor: (1 - h.b1) / correct1,
  };
}

/**
 * Rescales updates by Adam's bias-corrected moment estimates (Kingma and Ba, 2014), without
 * the learning rate.
 *
 * ```
 * t  = count + 1
 * mu = (1 - b1) g + b1 mu
 * nu = (1 - b2) g^2 + b2 nu
 * m  = mu / (1 - b1^t)            (nesterov: b1 mu / (1 - b1^(t+1)) + (1 - b1) g / (1 - b1^t))
 * v  = nu / (1 - b2^t)
 * u' = m / (sqrt(v + epsRoot) + eps)
 * ```
 *
 * The moments are kept in the params' dtype; the update has the incoming update's dtype.
 *
 * @example
 * ```ts
 * import { scaleByAdam } from "gradtx";
 * const tx = scaleByAdam();
 * const [u] = tx.update(Float64Array.of(3, -4), tx.init(Float64Array.of(0, 0)));
 * // u ≈ [1, -1]: the first step is sign(g) up to eps
 * ```
 * @since 0.1.0
 */
export function scaleByAdam(options: AdamOptions | null = {}): GradientTransformation<ScaleByAdamState> {
  options = readOptions("scaleByAdam", options, ["b1", "b2", "eps", "epsRoot", "nesterov"], {
    hint: "optax's scale_by_adam(b1, b2, eps) is scaleByAdam({ b1: 0.9, b2: 0.999, eps: 1e-8 })",
  });
  const { b1, b2, eps, epsRoot, nesterov } = adamOptions("scaleByAdam", options);
  return elementwise<ScaleByAdamState>(
    declare({
      name: "scaleByAdam",
      slots: { mu: 0, nu: 0 },
      counted: true,
      hyper: { b1, b2, eps, epsRoot },
      scalars: (h, count) => adamScalars(h, count),
      body: ({ x, mu, nu }, s) => {
        const m = add(mul(s.a1, x), mul(s.b1, mu));
        const v = add(mul(s.a2, mul(x, x)), mul(s.b2, nu));
        const mHat = nesterov ? add(mul(m, s.nextFactor), mul(x, s.gradFactor)) : mul(m, s.inverse1);
        return { update: div(mHat, add(sqrt(add(mul(v, s.inverse2), s.epsRoot)), s.eps)), mu: m, nu: v };
      },
    }),
  );
}

/** Options of {@link scaleByRAdam}: Adam's, plus the rectification threshold. @since 0.1.0 */
export interface RAdamOptions extends AdamOptions {
  /** Below this length of the approximated SMA, the step is plain momentum. Default 5. */
  readonly threshold?: number;
}

/**
 * Rectified Adam (Liu et al., 2020), as optax's `scale_by_radam`: Adam whose adaptive term is
 * switched on only once the variance of its estimate is tractable, and rectified by `r`.
 *
 * ```
 * rhoInf = 2 / (1 - b2) - 1,   rho = rhoInf - 2 t b2^t / (1 - b2^t)
 * m = mu' / (1 - b1^t),        v = nu' / (1 - b2^t)
 * rho >= threshold:  r = sqrt((rho - 4)(rho - 2) rhoInf / ((rhoInf - 4)(rhoInf - 2) rho)),  u' = r m / (sqrt(v + epsRoot) + eps)
 * otherwise:         u' = m
 * ```
 *
 * @example
 * ```ts
 * import { scaleByRAdam } from "gradtx";
 * const tx = scaleByRAdam();
 * const [u] = tx.update(Float64Array.of(2), tx.init(Float64Array.of(0)));
 * // u ≈ [2]: at step 1 rho = 1 < 5, so u = m = 2 (momentum only)
 * ```
 * @since 0.1.0
 */
export function scaleByRAdam(options: RAdamOptions | null = {}): GradientTransformation<ScaleByAdamState> {
  options = readOptions("scaleByRAdam", options, ["b1", "b2", "eps", "epsRoot", "nesterov", "threshold"], {
    hint: "optax's scale_by_radam(b1, b2, eps) is scaleByRAdam({ b1: 0.9, b2: 0.999, eps: 1e-8 })",
  });
  const where = "scaleByRAdam";
  const { threshold: rawThreshold, ...adamOnly } = options;
  const { b1, b2, eps, epsRoot, nesterov } = adamOptions(where, adamOnly);
  const threshold = checkNumber(where, "threshold", rawThreshold ?? 5);
  return elementwise<ScaleByAdamState>(
    declare({
      name: where,
      slots: { mu: 0, nu: 0 },
      counted: true,
      hyper: { b1, b2, eps, epsRoot, threshold },
      // Whether this step is rectified depends on the count alone: decided here, once per step.
      scalars: (h, count) => {
        const t = increment(count);
        const correct2 = biasCorrection(h.b2, t);
        const rhoInf = 2 / (1 - h.b2) - 1;
        const rho = rhoInf - (2 * t * h.b2 ** t) / correct2;
        const rectify = rho >= h.threshold;
        return {
          a1: 1 - h.b1,
          a2: 1 - h.b2,
          inverse1: 1 / biasCorrection(h.b1, t),
          inverse2: 1 / correct2,
          inverseNext: 1 / biasCorrection(h.b1, increment(t)),
          rectify: rectify ? 1 : 0,
          r: rectify ? Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho)) : 1,
        };
      },
      body: ({ x, mu, nu }, s) => {
        const m = add(mul(s.a1, x), mul(s.b1, mu));
        const v = add(mul(s.a2, mul(x, x)), mul(s.b2, nu));
        const mHat = nesterov
          ? add(mul(s.b1, mul(m, s.inverseNext)), mul(s.a1, mul(x, s.inverse1)))
          : mul(m, s.inverse1);
        const rectified = div(mul(s.r, mHat), add(sqrt(add(mul(v, s.inverse2), s.epsRoot)), s.eps));
        return { update: select(gt(s.rectify, 0), rectified, mHat), mu: m, nu: v };
      },
    }),
  );
}

/**
 * Adamax (Kingma and Ba, 2014, section 7.1), as optax's `scale_by_adamax`: Adam with the
 * infinity norm in place of the second moment.
 *
 * ```
 * mu' = (1 - b1) u + b1 mu
 * nu' = max(b2 nu, |u| + eps)
 * u'  = (mu' / (1 - b1^t)) / nu'
 * ```
 *
 * @example
 * ```ts
 * import { scaleByAdamax } from "gradtx";
 * const tx = scaleByAdamax();
 * const [u] = tx.update(Float64Array.of(2), tx.init(Float64Array.of(0)));
 * // u ≈ [2 / (2 + 1e-8)]: mu / (1 - b1) = 0.2 / 0.1 and nu = |g| + eps
 * ```
 * @since 0.1.0
 */
export function scaleByAdamax(
  options: { readonly b1?: number; readonly b2?: number; readonly eps?: number } | null = {},
): GradientTransformation<ScaleByAdamState> {
  options = readOptions("scaleByAdamax", options, ["b1", "b2", "eps"], {
    hint: "optax's scale_by_adamax(b1, b2, eps) is scaleByAdamax({ b1: 0.9, b2: 0.999, eps: 1e-8 })",
  });
  const where = "scaleByAdamax";
  const { b1, b2, eps } = adamOptions(where, options);
  return elementwise<ScaleByAdamState>(
    declare({
      name: where,
      slots: { mu: 0, nu: 0 },
      counted: true,
      hyper: { b1, b2, eps },
      scalars: (h, count) => ({ a1: 1 - h.b1, inverse1: 1 / biasCorrection(h.b1, increment(count)) }),
      body: ({ x, mu, nu }, s) => {
        const m = add(mul(s.a1, x), mul(s.b1, mu));
        const v = max(mul(s.b2, nu), add(abs(x), s.eps));
        return { update: div(mul(m, s.inverse1), v), mu: m, nu: v };
      },
    }),
  );
}

/** The state of {@link scaleByAmsgrad}. @since 0.1.0 */
export interface ScaleByAmsgradState extends ScaleByAdamState {
  /** The running maximum of the bias-corrected second moment. */
  readonly nuMax: PyTree;
}

/**
 * AMSGrad (Reddi, Kale and Kumar, 2018), as optax's `scale_by_amsgrad`: Adam whose
 * denominator never shrinks.
 *
 * ```
 * m = mu' / (1 - b1^t),   nuMax' = max(nuMax, nu' / (1 - b2^t))
 * u' = m / (sqrt(nuMax' + epsRoot) + eps)
 * ```
 *
 * PyTorch's `Adam(amsgrad=True)` keeps the maximum of the uncorrected moment instead.
 *
 * @example
 * ```ts
 * import { scaleByAmsgrad } from "gradtx";
 * const tx = scaleByAmsgrad();
 * const [u] = tx.update(Float64Array.of(2), tx.init(Float64Array.of(0))); // u ≈ [1]
 * ```
 * @since 0.1.0
 */
export function scaleByAmsgrad(
  options: Omit<AdamOptions, "nesterov"> | null = {},
): GradientTransformation<ScaleByAmsgradState> {
  options = readOptions("scaleByAmsgrad", options, ["b1", "b2", "eps", "epsRoot"], {
    hint: "optax's scale_by_amsgrad(b1, b2, eps) is scaleByAmsgrad({ b1: 0.9, b2: 0.999, eps: 1e-8 })",
  });
  const where = "scaleByAmsgrad";
  const { b1, b2, eps, epsRoot } = adamOptions(where, options);
  return elementwise<ScaleByAmsgradState>(
    declare({
      name: where,
      slots: { mu: 0, nu: 0, nuMax: 0 },
      counted: true,
      hyper: { b1, b2, eps, epsRoot },
      scalars: (h, count) => {
        const t = increment(count);
        return {
          a1: 1 - h.b1,
          a2: 1 - h.b2,
          inverse1: 1 / biasCorrection(h.b1, t),
          inverse2: 1 / biasCorrection(h.b2, t),
        };
      },
      body: ({ x, mu, nu, nuMax }, s) => {
        const m = add(mul(s.a1, x), mul(s.b1, mu));
        const v = add(mul(s.a2, mul(x, x)), mul(s.b2, nu));
        const vMax = max(nuMax, mul(v, s.inverse2));
        return {
          update: div(mul(m, s.inverse1), add(sqrt(add(vMax, s.epsRoot)), s.eps)),
          mu: m,
          nu: v,
          nuMax: vMax,
        };
      },
    }),
  );
}
