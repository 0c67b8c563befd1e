/**
 * Adan's rescaling (Xie et al., 2022): Adam with a Nesterov momentum estimated from the change
 * of the gradient between steps, so that no gradient at an extrapolated point is needed.
 * Without the learning rate, as in optax.
 *
 * @module
 */
import type { GradientTransformation } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { add, div, gt, mul, select, sqrt, sub } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import type { PyTree } from "../core/pytree.js";
import { biasCorrection, increment } from "../core/state.js";
import { DECAY, checkNumber, readOptions } from "../core/validate.js";

/** The state of {@link scaleByAdan}. @since 0.3.0 */
export interface ScaleByAdanState {
  /** Steps taken (optax's `t`). */
  readonly count: number;
  /** Moving average of the gradients (decay `b1`). */
  readonly m: PyTree;
  /** Moving average of the gradients' differences between steps (decay `b2`). */
  readonly v: PyTree;
  /** Moving average of the squared Nesterov term (decay `b3`). */
  readonly n: PyTree;
  /** The previous step's gradient. */
  readonly g: PyTree;
}

/** Options of {@link scaleByAdan} (optax's names, camelCased). @since 0.3.0 */
export interface AdanOptions {
  /** Decay of the gradients' average, in [0, 1). Default 0.98. */
  readonly b1?: number;
  /** Decay of the differences' average, in [0, 1). Default 0.92. */
  readonly b2?: number;
  /** Decay of the squared term's average, in [0, 1). Default 0.99. */
  readonly b3?: number;
  /** Added to the root, >= 0. Default 1e-8. */
  readonly eps?: number;
  /** Added inside the root, >= 0. Default 0 (the `adan` optimizer's is 1e-8). */
  readonly epsRoot?: number;
}

/** The keys of {@link AdanOptions}. */
export const ADAN_KEYS = ["b1", "b2", "b3", "eps", "epsRoot"] as const;

/**
 * Rescales updates by Adan's moments (Xie et al., 2022, "Adan: Adaptive Nesterov Momentum
 * Algorithm for Faster Optimizing Deep Models", Algorithm 1), as optax's `scale_by_adan`.
 *
 * ```
 * t  = count + 1
 * d  = count = 0 ? 0 : g - gPrev
 * m' = (1 - b1) g + b1 m,   v' = (1 - b2) d + b2 v
 * n' = (1 - b3) (g + (1 - b2) d)^2 + b3 n
 * u' = (m' / (1 - b1^t) + (1 - b2) v' / (1 - b2^t)) / (sqrt(n' / (1 - b3^t) + epsRoot) + eps)
 * ```
 *
 * optax's decays weigh the old average (`b1 m`), as Adam's do; the paper writes `1 - b1` there.
 *
 * @example
 * ```ts
 * import { scaleByAdan } from "gradtx";
 * const tx = scaleByAdan();
 * const [u] = tx.update(Float64Array.of(2), tx.init(Float64Array.of(0)));
 * // Step 1 has no difference: m^ = g and n^ = g^2, so u = g / (|g| + eps).
 * // u ≈ [1]
 * ```
 * @since 0.3.0
 */
export function scaleByAdan(options: AdanOptions | null = {}): GradientTransformation<ScaleByAdanState> {
  options = readOptions("scaleByAdan", options, ADAN_KEYS, {
    hint: "optax's scale_by_adan(b1, b2, b3, eps) is scaleByAdan({ b1: 0.98, b2: 0.92, b3: 0.99, eps: 1e-8 })",
  });
  const where = "scaleByAdan";
  const b1 = checkNumber(where, "b1", options.b1 ?? 0.98, DECAY);
  const b2 = checkNumber(where, "b2", options.b2 ?? 0.92, DECAY);
  const b3 = checkNumber(where, "b3", options.b3 ?? 0.99, DECAY);
  const eps = checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 });
  const epsRoot = checkNumber(where, "epsRoot", options.epsRoot ?? 0, { min: 0 });
  return elementwise<ScaleByAdanState>(
    declare({
      name: where,
      slots: { m: 0, v: 0, n: 0, g: 0 },
      counted: true,
      hyper: { b1, b2, b3, eps, epsRoot },
      scalars: (h, count) => {
        const t = increment(count);
        return {
          first: count === 0 ? 1 : 0,
          a1: 1 - h.b1,
          a2: 1 - h.b2,
          a3: 1 - h.b3,
          inverse1: 1 / biasCorrection(h.b1, t),
          inverse2: 1 / biasCorrection(h.b2, t),
          inverse3: 1 / biasCorrection(h.b3, t),
        };
      },
      body: ({ x, m, v, n, g }, s) => {
        const difference = select(gt(s.first, 0), 0, sub(x, g));
        const m1 = add(mul(s.a1, x), mul(s.b1, m));
        const v1 = add(mul(s.a2, difference), mul(s.b2, v));
        const term = add(x, mul(s.a2, difference));
        const n1 = add(mul(s.a3, mul(term, term)), mul(s.b3, n));
        const numerator = add(mul(m1, s.inverse1), mul(s.a2, mul(v1, s.inverse2)));
        const update = div(numerator, add(sqrt(add(mul(n1, s.inverse3), s.epsRoot)), s.eps));
        return { update, m: m1, v: v1, n: n1, g: x };
      },
    }),
  );
}
