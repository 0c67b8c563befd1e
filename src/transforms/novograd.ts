/**
 * NovoGrad's rescaling (Ginsburg et al., 2019): a second moment per layer (one number per leaf,
 * from the leaf's gradient norm) in place of Adam's per element, with the normalized gradient
 * accumulated as momentum.
 *
 * @module
 */
import type { GradientTransformation } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { add, div, gt, mul, select, sqrt, type Expr } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import type { PyTree } from "../core/pytree.js";
import { DECAY, checkNumber, readOptions } from "../core/validate.js";

/** The state of {@link scaleByNovograd}. @since 0.3.0 */
export interface ScaleByNovogradState {
  /** Steps taken. */
  readonly count: number;
  /** The momentum of the normalized updates (params' dtype). */
  readonly mu: PyTree;
  /**
   * Each leaf's second moment, the moving average of its squared gradient norm, repeated over
   * the leaf's elements (optax keeps one scalar per leaf; see {@link scaleByNovograd}).
   */
  readonly nu: PyTree;
}

/** Options of {@link scaleByNovograd} (optax's names, camelCased). @since 0.3.0 */
export interface NovogradOptions {
  /** Decay of the momentum, in [0, 1). Default 0.9. */
  readonly b1?: number;
  /** Decay of the squared norm's average, in [0, 1). Default 0.25. */
  readonly b2?: number;
  /** Added to the root, >= 0. Default 1e-8 (the `novograd` optimizer's is 1e-6). */
  readonly eps?: number;
  /** Added inside the root, >= 0. Default 0. */
  readonly epsRoot?: number;
  /** Weight decay added to the normalized gradient, >= 0. Default 0. */
  readonly weightDecay?: number;
}

/** The keys of {@link NovogradOptions}. */
export const NOVOGRAD_KEYS = ["b1", "b2", "eps", "epsRoot", "weightDecay"] as const;

/**
 * NovoGrad's rescaling (Ginsburg et al., 2019, "Stochastic Gradient Methods with Layer-wise
 * Adaptive Moments for Training of Deep Networks"), as optax's `scale_by_novograd`.
 *
 * ```
 * per leaf:  q = ||g||^2
 * nu' = q                                   on the first step (count = 0)
 *     = (1 - b2) q + b2 nu                  after
 * r   = g / (sqrt(nu' + epsRoot) + eps) + weightDecay p
 * mu' = r  on the first step,  b1 mu + r  after
 * u'  = mu'
 * ```
 *
 * The momentum is not damped (`b1 mu + r`, not `(1 - b1) r`), as in optax and the paper.
 *
 * **Differs from optax in its state's shape:** optax keeps `nu` as one scalar per leaf; gradtx's
 * kernels keep state shaped like the params, so `nu` holds the leaf's number in every element
 * (all equal, computed in the leaf's dtype from the same numbers as optax's). `params` are needed
 * only when `weightDecay` is not 0 (optax always asks for them), and optax's `mu_dtype` is not
 * offered: the momentum has the params' dtype.
 *
 * @example
 * ```ts
 * import { scaleByNovograd } from "gradtx";
 * const tx = scaleByNovograd();
 * const [u, state] = tx.update(Float64Array.of(3, 4), tx.init(Float64Array.of(0, 0)));
 * // The first nu is ||g||^2 = 25, so u = g / (5 + 1e-8).
 * // u ≈ [0.6, 0.8]; state.nu = [25, 25]
 * ```
 * @since 0.3.0
 */
export function scaleByNovograd(options: NovogradOptions | null = {}): GradientTransformation<ScaleByNovogradState> {
  options = readOptions("scaleByNovograd", options, NOVOGRAD_KEYS, {
    hint: "optax's scale_by_novograd(b1, b2, eps, eps_root, weight_decay) is scaleByNovograd({ b1: 0.9, b2: 0.25, eps: 1e-8 })",
  });
  const where = "scaleByNovograd";
  const b1 = checkNumber(where, "b1", options.b1 ?? 0.9, DECAY);
  const b2 = checkNumber(where, "b2", options.b2 ?? 0.25, DECAY);
  const eps = checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 });
  const epsRoot = checkNumber(where, "epsRoot", options.epsRoot ?? 0, { min: 0 });
  const weightDecay = checkNumber(where, "weightDecay", options.weightDecay ?? 0, { min: 0 });
  const decays = weightDecay !== 0;
  return elementwise<ScaleByNovogradState>(
    declare({
      name: where,
      slots: { mu: 0, nu: 0 },
      counted: true,
      readsParams: decays,
      hyper: { b1, b2, eps, epsRoot, weightDecay },
      reductions: { squares: { over: "leaf", of: (v) => [v.x, v.x] } },
      // The leaf's squared norm is a per-step scalar; the moment's arithmetic runs per element,
      // in the leaf's dtype, as optax's scalar does.
      scalars: (h, count, r) => ({ first: count === 0 ? 1 : 0, squares: r.squares, a2: 1 - h.b2 }),
      body: ({ x, p, mu, nu }, s) => {
        const first = gt(s.first, 0);
        const v = select(first, s.squares, add(mul(s.a2, s.squares), mul(s.b2, nu)));
        const normalized = div(x, add(sqrt(add(v, s.epsRoot)), s.eps));
        const r: Expr = decays ? add(normalized, mul(s.weightDecay, p)) : normalized;
        const momentum = select(first, r, add(mul(s.b1, mu), r));
        return { update: momentum, mu: momentum, nu: v };
      },
    }),
  );
}
