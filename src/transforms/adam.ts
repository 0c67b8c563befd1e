/**
 * Adam's rescaling (Kingma and Ba, 2014), with Nesterov momentum as NAdam (Dozat, 2016): running
 * moments of the updates in the state, bias-corrected, without the learning rate (that is
 * `scaleByLearningRate`'s, as in optax).
 *
 * @module
 */
import type { GradientTransformation } from "../base.js";
import { elementwise } from "../kernels/executor.js";
import { add, div, mul, sqrt } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import type { PyTree } from "../pytree.js";
import { biasCorrection, increment } from "../state.js";
import { checkBoolean, checkNumber } from "../validate.js";
import { described } from "../compile/describe.js";

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
    b1: checkNumber(where, "b1", options.b1 ?? 0.9, { min: 0, max: 1, maxExclusive: true }),
    b2: checkNumber(where, "b2", options.b2 ?? 0.999, { min: 0, max: 1, maxExclusive: true }),
    eps: checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 }),
    epsRoot: checkNumber(where, "epsRoot", options.epsRoot ?? 0, { min: 0 }),
    nesterov: checkBoolean(where, "nesterov", options.nesterov ?? false),
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
 * // the first step is sign(g) up to eps: u ≈ [1, -1]
 * ```
 * @since 0.1.0
 */
export function scaleByAdam(options: AdamOptions = {}): GradientTransformation<ScaleByAdamState> {
  const { b1, b2, eps, epsRoot, nesterov } = adamOptions("scaleByAdam", options);
  const tx = elementwise<ScaleByAdamState>(
    declare({
      name: "scaleByAdam",
      slots: { mu: 0, nu: 0 },
      counted: true,
      hyper: { b1, b2, eps, epsRoot },
      // Divisions by per-step numbers are multiplications by their reciprocals, computed once
      // in float64: one division per element is left, the one by the root.
      scalars: (h, count) => {
        const t = increment(count);
        const correct1 = biasCorrection(h.b1, t);
        // Nesterov's look-ahead term corrects the new moment one step further.
        const correctNext = biasCorrection(h.b1, increment(t));
        return {
          a1: 1 - h.b1,
          a2: 1 - h.b2,
          inverse1: 1 / correct1,
          inverse2: 1 / biasCorrection(h.b2, t),
          nextFactor: h.b1 / correctNext,
          gradFactor: (1 - h.b1) / correct1,
        };
      },
      body: ({ x, mu, nu }, s) => {
        const m = add(mul(s.a1, x), mul(s.b1, mu));
        const v = add(mul(s.a2, mul(x, x)), mul(s.b2, nu));
        const mHat = nesterov ? add(mul(m, s.nextFactor), mul(x, s.gradFactor)) : mul(m, s.inverse1);
        return { update: div(mHat, add(sqrt(add(mul(v, s.inverse2), s.epsRoot)), s.eps)), mu: m, nu: v };
      },
    }),
  );
  return described(tx, { kind: "scaleByAdam", b1, b2, eps, epsRoot, nesterov });
}
