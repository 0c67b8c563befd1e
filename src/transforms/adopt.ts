/**
 * ADOPT's rescaling (Taniguchi et al., 2024), from optax.contrib: Adam with the gradient
 * normalized by the second moment of the steps before it, not including its own, and the
 * momentum taken after the normalization.
 *
 * @module
 */
import type { GradientTransformation } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { add, clamp, div, max, mul, sqrt } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import { checkBoolean, invalid, readOptions } from "../core/validate.js";
import { adamOptions, type ScaleByAdamState } from "./adam.js";

/** Options of {@link scaleByAdopt} (optax's names, camelCased). @since 0.3.0 */
export interface AdoptOptions {
  /** Decay of the first moment, in [0, 1). Default 0.9. */
  readonly b1?: number;
  /** Decay of the second moment, in [0, 1). Default 0.9999. */
  readonly b2?: number;
  /** The floor of the root of the second moment, >= 0. Default 1e-6. */
  readonly eps?: number;
  /** Use Nesterov momentum. Default false. */
  readonly nesterov?: boolean;
  /** Clip the normalized gradient to `[-clipValueFn(count), clipValueFn(count)]`. Default true. */
  readonly useClipping?: boolean;
  /** The clipping bound as a function of the step count before the step. Default `count ** 0.25`. */
  readonly clipValueFn?: (count: number) => number;
}

/** The keys of {@link AdoptOptions}. */
export const ADOPT_KEYS = ["b1", "b2", "eps", "nesterov", "useClipping", "clipValueFn"] as const;

/**
 * ADOPT's rescaling (Taniguchi et al., 2024, "ADOPT: Modified Adam Can Converge with Any beta2
 * with the Optimal Rate"), as optax.contrib's `scale_by_adopt`.
 *
 * ```
 * on the first step (count = 0): b1 is taken as 1 and b2 as 0
 * r   = clip(g / max(sqrt(nu), eps), -c, c),   c = clipValueFn(count)   (no clip without useClipping)
 * mu' = (1 - b1) r + b1 mu
 * nu' = (1 - b2) g^2 + b2 nu
 * u'  = mu'                                 (nesterov: (1 - b1) r + b1 mu')
 * ```
 *
 * The normalization reads the second moment before this step's gradient enters it. The first
 * step only fills `nu` with `g^2`: its update is 0 (as in optax's doctest, where the loss does
 * not move on step one).
 *
 * @example
 * ```ts
 * import { scaleByAdopt } from "gradtx";
 * const tx = scaleByAdopt();
 * const s0 = tx.init(Float64Array.of(0));
 * const [u1, s1] = tx.update(Float64Array.of(2), s0); // u1 = [0]
 * const [u2] = tx.update(Float64Array.of(2), s1);
 * // Step 1 left nu = 4, so r = 2 / 2 = 1 (inside the clip 1 ** 0.25), and mu = 0.1 r.
 * // u2 ≈ [0.1]
 * ```
 * @since 0.3.0
 */
export function scaleByAdopt(options: AdoptOptions | null = {}): GradientTransformation<ScaleByAdamState> {
  options = readOptions("scaleByAdopt", options, ADOPT_KEYS, {
    hint: "optax's scale_by_adopt(b1, b2, eps) is scaleByAdopt({ b1: 0.9, b2: 0.9999, eps: 1e-6 })",
  });
  const where = "scaleByAdopt";
  // Adam's ranges, with ADOPT's defaults.
  const { b1, b2, eps, nesterov } = adamOptions(where, {
    ...options,
    b2: options.b2 ?? 0.9999,
    eps: options.eps ?? 1e-6,
  });
  const useClipping = checkBoolean(where, "useClipping", options.useClipping ?? true);
  const clipValueFn = options.clipValueFn ?? ((count: number) => count ** 0.25);
  if (typeof clipValueFn !== "function")
    invalid(where, `clipValueFn must be a function of the step count, got ${typeof clipValueFn}`);
  return elementwise<ScaleByAdamState>(
    declare({
      name: where,
      slots: { mu: 0, nu: 0 },
      counted: true,
      hyper: { b1, b2, eps },
      scalars: (h, count) => {
        const started = count > 0;
        const decay1 = started ? h.b1 : 1;
        const decay2 = started ? h.b2 : 0;
        const bound = useClipping ? clipValueFn(count) : Infinity;
        return { decay1, a1: 1 - decay1, decay2, a2: 1 - decay2, bound, negativeBound: -bound };
      },
      body: ({ x, mu, nu }, s) => {
        const normalized = div(x, max(sqrt(nu), s.eps));
        const r = useClipping ? clamp(normalized, s.negativeBound, s.bound) : normalized;
        const m = add(mul(s.a1, r), mul(s.decay1, mu));
        const v = add(mul(s.a2, mul(x, x)), mul(s.decay2, nu));
        return { update: nesterov ? add(mul(s.a1, r), mul(s.decay1, m)) : m, mu: m, nu: v };
      },
    }),
  );
}
