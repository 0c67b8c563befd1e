/**
 * AdaBelief's rescaling (Zhuang et al., 2020): Adam whose second moment tracks how far each
 * update strays from its moving average, the "belief" in the observed gradient, rather than
 * the update's square. Without the learning rate, as in optax.
 *
 * @module
 */
import type { GradientTransformation } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { add, div, mul, sqrt, sub } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import { readOptions } from "../core/validate.js";
import { adamOptions, adamScalars, type ScaleByAdamState } from "./adam.js";

/** Options of {@link scaleByBelief} (optax's names, camelCased). @since 0.3.0 */
export interface BeliefOptions {
  /** Decay of the first moment, in [0, 1). Default 0.9. */
  readonly b1?: number;
  /** Decay of the second central moment, in [0, 1). Default 0.999. */
  readonly b2?: number;
  /** Added to the root of the second moment, >= 0. Default 1e-16. */
  readonly eps?: number;
  /** Added to the second moment at every step, >= 0. Default 1e-16. */
  readonly epsRoot?: number;
  /** Use Nesterov momentum. Default false. */
  readonly nesterov?: boolean;
}

/** The keys of {@link BeliefOptions}, for the aliases that pass them on. */
export const BELIEF_KEYS = ["b1", "b2", "eps", "epsRoot", "nesterov"] as const;

/**
 * Rescales updates by AdaBelief's moments (Zhuang et al., 2020, "AdaBelief Optimizer: Adapting
 * Stepsizes by the Belief in Observed Gradients"), as optax's `scale_by_belief`.
 *
 * ```
 * t   = count + 1
 * mu' = (1 - b1) g + b1 mu
 * nu' = (1 - b2) (g - mu')^2 + b2 nu + epsRoot
 * m   = mu' / (1 - b1^t)            (nesterov: b1 mu' / (1 - b1^(t+1)) + (1 - b1) g / (1 - b1^t))
 * u'  = m / (sqrt(nu' / (1 - b2^t)) + eps)
 * ```
 *
 * `epsRoot` is added to the stored moment at every step (it accumulates, as in optax), not
 * under the root alone. The paper's defaults are `eps` 1e-8 and `epsRoot` 0; optax's, kept
 * here, are both 1e-16.
 *
 * @example
 * ```ts
 * import { scaleByBelief } from "gradtx";
 * const tx = scaleByBelief();
 * const [u, state] = tx.update(Float64Array.of(2), tx.init(Float64Array.of(0)));
 * // With mu' = 0.2 and nu' = 0.001 (2 - 0.2)^2 + 1e-16, the step is 2 / (sqrt(3.24 + 1e-13) + 1e-16).
 * // u ≈ [2 / 1.8]; state.count = 1
 * ```
 * @since 0.3.0
 */
export function scaleByBelief(options: BeliefOptions | null = {}): GradientTransformation<ScaleByAdamState> {
  options = readOptions("scaleByBelief", options, BELIEF_KEYS, {
    hint: "optax's scale_by_belief(b1, b2, eps, eps_root) is scaleByBelief({ b1: 0.9, b2: 0.999, eps: 1e-16, epsRoot: 1e-16 })",
  });
  const where = "scaleByBelief";
  // Adam's ranges; optax's eps and epsRoot here are 1e-16.
  const { b1, b2, eps, epsRoot, nesterov } = adamOptions(where, {
    ...options,
    eps: options.eps ?? 1e-16,
    epsRoot: options.epsRoot ?? 1e-16,
  });
  return elementwise<ScaleByAdamState>(
    declare({
      name: where,
      slots: { mu: 0, nu: 0 },
      counted: true,
      hyper: { b1, b2, eps, epsRoot },
      scalars: (h, count) => adamScalars(h, count),
      body: ({ x, mu, nu }, s) => {
        const m = add(mul(s.a1, x), mul(s.b1, mu));
        const error = sub(x, m);
        const v = add(add(mul(s.a2, mul(error, error)), mul(s.b2, nu)), s.epsRoot);
        const mHat = nesterov ? add(mul(m, s.nextFactor), mul(x, s.gradFactor)) : mul(m, s.inverse1);
        return { update: div(mHat, add(sqrt(mul(v, s.inverse2)), s.eps)), mu: m, nu: v };
      },
    }),
  );
}
