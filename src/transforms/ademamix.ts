/**
 * AdEMAMix's rescaling (Pagliardini et al., 2024), from optax.contrib: Adam whose numerator
 * mixes its fast moving average with a slow one that remembers gradients for many thousands
 * of steps.
 *
 * @module
 */
import type { GradientTransformation, ScalarOrSchedule } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { add, div, mul, sqrt } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import type { PyTree } from "../core/pytree.js";
import { biasCorrection, increment } from "../core/state.js";
import { DECAY, checkNumber, readOptions } from "../core/validate.js";

/** The state of {@link scaleByAdemamix}. @since 0.3.0 */
export interface ScaleByAdemamixState {
  /** Steps taken (optax also keeps `count_m2`, always equal to it). */
  readonly count: number;
  /** The fast moving average of the updates (decay `b1`). */
  readonly m1: PyTree;
  /** The slow moving average of the updates (decay `b3`). */
  readonly m2: PyTree;
  /** The moving average of the squared updates (decay `b2`). */
  readonly nu: PyTree;
}

/** Options of {@link scaleByAdemamix} (optax's names, camelCased). @since 0.3.0 */
export interface AdemamixOptions {
  /** Decay of the fast average, in [0, 1). Default 0.9. */
  readonly b1?: number;
  /** Decay of the second moment, in [0, 1). Default 0.999. */
  readonly b2?: number;
  /** Decay of the slow average, in [0, 1), or a schedule of the count. Default 0.9999. */
  readonly b3?: ScalarOrSchedule;
  /** Weight of the slow average, or a schedule of the count. Default 6 (the `ademamix` optimizer's is 5). */
  readonly alpha?: ScalarOrSchedule;
  /** Added to the root, >= 0. Default 1e-8. */
  readonly eps?: number;
  /** Added inside the root, >= 0. Default 0. */
  readonly epsRoot?: number;
}

/** The keys of {@link AdemamixOptions}. */
export const ADEMAMIX_KEYS = ["b1", "b2", "b3", "alpha", "eps", "epsRoot"] as const;

/**
 * AdEMAMix's rescaling (Pagliardini et al., 2024, "The AdEMAMix Optimizer: Better, Faster,
 * Older"), as optax.contrib's `scale_by_ademamix`.
 *
 * ```
 * t   = count + 1,   b3 and alpha read at count (when schedules)
 * m1' = (1 - b1) g + b1 m1
 * m2' = (1 - b3) g + b3 m2
 * nu' = (1 - b2) g^2 + b2 nu
 * u'  = (m1' / (1 - b1^t) + alpha m2') / (sqrt(nu' / (1 - b2^t) + epsRoot) + eps)
 * ```
 *
 * The slow average is not bias-corrected, so that it fills slowly (the paper's choice).
 * `b3` and `alpha` may be schedules, as in optax (the paper warms both up); a schedule is read
 * with the count before the step.
 *
 * @example
 * ```ts
 * import { scaleByAdemamix } from "gradtx";
 * const tx = scaleByAdemamix();
 * const [u] = tx.update(Float64Array.of(2), tx.init(Float64Array.of(0)));
 * // m1^ = 2, m2 = 0.0001 * 2 and nu^ = 4: u = (2 + 6 * 0.0002) / (2 + 1e-8).
 * // u ≈ [1.0006]
 * ```
 * @since 0.3.0
 */
export function scaleByAdemamix(options: AdemamixOptions | null = {}): GradientTransformation<ScaleByAdemamixState> {
  options = readOptions("scaleByAdemamix", options, ADEMAMIX_KEYS, {
    hint: "optax's scale_by_ademamix(b1, b2, b3, alpha) is scaleByAdemamix({ b1: 0.9, b2: 0.999, b3: 0.9999, alpha: 6 })",
  });
  const where = "scaleByAdemamix";
  const b1 = checkNumber(where, "b1", options.b1 ?? 0.9, DECAY);
  const b2 = checkNumber(where, "b2", options.b2 ?? 0.999, DECAY);
  const b3 = options.b3 ?? 0.9999;
  const alpha = options.alpha ?? 6;
  if (typeof b3 !== "function") checkNumber(where, "b3", b3, DECAY);
  if (typeof alpha !== "function") checkNumber(where, "alpha", alpha);
  const eps = checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 });
  const epsRoot = checkNumber(where, "epsRoot", options.epsRoot ?? 0, { min: 0 });
  // A number is a hyperparameter injectHyperparams may feed; a schedule is read per step.
  const scheduled = { ...(typeof b3 === "number" ? { b3 } : {}), ...(typeof alpha === "number" ? { alpha } : {}) };
  return elementwise<ScaleByAdemamixState>(
    declare({
      name: where,
      slots: { m1: 0, m2: 0, nu: 0 },
      counted: true,
      hyper: { b1, b2, eps, epsRoot, ...scheduled } as Record<"b1" | "b2" | "eps" | "epsRoot" | "b3" | "alpha", number>,
      scalars: (h, count) => {
        const t = increment(count);
        const slow = typeof b3 === "function" ? b3(count) : h.b3;
        return {
          a1: 1 - h.b1,
          a2: 1 - h.b2,
          decay3: slow,
          a3: 1 - slow,
          mix: typeof alpha === "function" ? alpha(count) : h.alpha,
          inverse1: 1 / biasCorrection(h.b1, t),
          inverse2: 1 / biasCorrection(h.b2, t),
        };
      },
      body: ({ x, m1, m2, nu }, s) => {
        const fast = add(mul(s.a1, x), mul(s.b1, m1));
        const slow = add(mul(s.a3, x), mul(s.decay3, m2));
        const v = add(mul(s.a2, mul(x, x)), mul(s.b2, nu));
        const numerator = add(mul(fast, s.inverse1), mul(s.mix, slow));
        return {
          update: div(numerator, add(sqrt(add(mul(v, s.inverse2), s.epsRoot)), s.eps)),
          m1: fast,
          m2: slow,
          nu: v,
        };
      },
    }),
  );
}
