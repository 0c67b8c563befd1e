/**
 * Yogi's rescaling (Zaheer et al., 2018): Adam whose second moment moves towards the squared
 * update by a step of fixed size and known sign, so that the effective learning rate cannot
 * grow as fast as Adam's. Without the learning rate, as in optax.
 *
 * @module
 */
import type { GradientTransformation } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { add, div, mul, sign, sqrt, sub } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import { biasCorrection, increment } from "../core/state.js";
import { DECAY, checkNumber, readOptions } from "../core/validate.js";
import type { ScaleByAdamState } from "./adam.js";

/** Options of {@link scaleByYogi} (optax's names, camelCased). @since 0.3.0 */
export interface YogiOptions {
  /** Decay of the first moment, in [0, 1). Default 0.9. */
  readonly b1?: number;
  /** Decay of the second moment, in [0, 1). Default 0.999. */
  readonly b2?: number;
  /** Added to the root of the second moment, >= 0. Default 1e-3. */
  readonly eps?: number;
  /** Added inside the root, >= 0. Default 0. */
  readonly epsRoot?: number;
  /** The value both moments start at, > 0. Default 1e-6. */
  readonly initialAccumulatorValue?: number;
}

/**
 * Rescales updates by Yogi's moments (Zaheer et al., 2018, "Adaptive Methods for Nonconvex
 * Optimization"), as optax's `scale_by_yogi`.
 *
 * ```
 * t   = count + 1,   mu and nu start at initialAccumulatorValue
 * mu' = (1 - b1) g + b1 mu
 * nu' = nu - (1 - b2) sign(nu - g^2) g^2
 * u'  = (mu' / (1 - b1^t)) / (sqrt(nu' / (1 - b2^t) + epsRoot) + eps)
 * ```
 *
 * Both moments start at `initialAccumulatorValue` (1e-6), not 0, and are still divided by
 * Adam's bias corrections, as in optax.
 *
 * @example
 * ```ts
 * import { scaleByYogi } from "gradtx";
 * const tx = scaleByYogi();
 * const [u, state] = tx.update(Float64Array.of(1), tx.init(Float64Array.of(0)));
 * // Below g^2 = 1, nu moves up by 0.001 g^2 to 0.001001; mu' = 0.1 + 0.9e-6.
 * // state.nu ≈ [0.001001]; u ≈ [(0.1000009 / 0.1) / (Math.sqrt(0.001001 / 0.001) + 1e-3)]
 * ```
 * @since 0.3.0
 */
export function scaleByYogi(options: YogiOptions | null = {}): GradientTransformation<ScaleByAdamState> {
  options = readOptions("scaleByYogi", options, ["b1", "b2", "eps", "epsRoot", "initialAccumulatorValue"], {
    hint: "optax's scale_by_yogi(b1, b2, eps) is scaleByYogi({ b1: 0.9, b2: 0.999, eps: 1e-3 })",
  });
  const where = "scaleByYogi";
  const b1 = checkNumber(where, "b1", options.b1 ?? 0.9, DECAY);
  const b2 = checkNumber(where, "b2", options.b2 ?? 0.999, DECAY);
  const eps = checkNumber(where, "eps", options.eps ?? 1e-3, { min: 0 });
  const epsRoot = checkNumber(where, "epsRoot", options.epsRoot ?? 0, { min: 0 });
  const initial = checkNumber(where, "initialAccumulatorValue", options.initialAccumulatorValue ?? 1e-6, {
    min: 0,
    minExclusive: true,
  });
  return elementwise<ScaleByAdamState>(
    declare({
      name: where,
      slots: { mu: initial, nu: initial },
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
      body: ({ x, mu, nu }, s) => {
        const m = add(mul(s.a1, x), mul(s.b1, mu));
        const square = mul(x, x);
        const v = sub(nu, mul(mul(s.a2, sign(sub(nu, square))), square));
        return { update: div(mul(m, s.inverse1), add(sqrt(add(mul(v, s.inverse2), s.epsRoot)), s.eps)), mu: m, nu: v };
      },
    }),
  );
}
