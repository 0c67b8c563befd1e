/**
 * COCOB-Backprop's rescaling (Orabona and Tommasi, 2017): each coordinate bets on the sign of
 * the gradient with the wealth its past bets won, so that no learning rate is needed. One
 * elementwise kernel, as optax.contrib's `scale_by_cocob`.
 *
 * @module
 */
import type { GradientTransformation } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { abs, add, div, max, mul, neg, sub } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import type { PyTree } from "../core/pytree.js";
import { checkNumber, readOptions } from "../core/validate.js";

/** The state of {@link scaleByCocob}: optax's `COCOBState` (trees like the params). @since 0.3.0 */
export interface ScaleByCocobState {
  /** The params at init, w0. */
  readonly initParticles: PyTree;
  /** The sum of the negated gradients, theta. */
  readonly cumulativeGradients: PyTree;
  /** The largest |g| seen per coordinate, L (starts at `eps`). */
  readonly scale: PyTree;
  /** The sum of |g| per coordinate, G. */
  readonly subgradients: PyTree;
  /** The wealth won per coordinate, R (never below 0). */
  readonly reward: PyTree;
}

/** Options of {@link scaleByCocob} (optax's names, camelCased). @since 0.3.0 */
export interface CocobOptions {
  /** The fraction to bet, alpha, > 0. Default 100. */
  readonly alpha?: number;
  /** The initial `scale`, which keeps the first division finite, > 0. Default 1e-8. */
  readonly eps?: number;
}

/** The keys of {@link CocobOptions}. */
export const COCOB_KEYS = ["alpha", "eps"] as const;

/**
 * Rescales updates by COCOB-Backprop (Orabona and Tommasi, 2017, "Training Deep Networks without
 * Learning Rates Through Coin Betting", Algorithm 2), as optax.contrib's `scale_by_cocob`. Per
 * coordinate, with `g` the incoming update and `w0` the params at init:
 *
 * ```
 * L' = max(L, |g|),   G' = G + |g|,   R' = max(R - g (w - w0), 0),   theta' = theta - g
 * u' = -w + (w0 + theta' / (L' max(G' + L', alpha L')) (L' + R'))
 * ```
 *
 * The update is the whole move to the new params, not a step along the gradient: the sign is
 * already that of a descent, so nothing scales it after (optax's `cocob` scales the gradient
 * before it instead, by the learning rate without flipping its sign).
 *
 * @example
 * ```ts
 * import { scaleByCocob } from "gradtx";
 * const tx = scaleByCocob();
 * const w = Float64Array.of(1, 1);
 * const [u] = tx.update(Float64Array.of(2, -0.5), tx.init(w), w);
 * // L and G are |g|, R is 0 and theta is -g: so u is -g |g| / (|g| max(2 |g|, 100 |g|)), or -g / (100 |g|).
 * // u ≈ [-0.01, 0.01]
 * ```
 * @since 0.3.0
 */
export function scaleByCocob(options: CocobOptions | null = {}): GradientTransformation<ScaleByCocobState> {
  const where = "scaleByCocob";
  options = readOptions(where, options, COCOB_KEYS, {
    hint: "optax's scale_by_cocob(alpha, eps) is scaleByCocob({ alpha: 100, eps: 1e-8 })",
  });
  const alpha = checkNumber(where, "alpha", options.alpha ?? 100, { min: 0, minExclusive: true });
  const eps = checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0, minExclusive: true });
  return elementwise<ScaleByCocobState>(
    declare({
      name: where,
      slots: { initParticles: "params", cumulativeGradients: 0, scale: eps, subgradients: 0, reward: 0 },
      readsParams: true,
      hyper: { alpha },
      body: ({ x, p, initParticles, cumulativeGradients, scale, subgradients, reward }, s) => {
        const L = max(scale, abs(x));
        const G = add(subgradients, abs(x));
        const R = max(sub(reward, mul(x, sub(p, initParticles))), 0);
        const theta = sub(cumulativeGradients, x);
        const bet = mul(div(theta, mul(L, max(add(G, L), mul(s.alpha, L)))), add(L, R));
        return {
          update: add(neg(p), add(initParticles, bet)),
          initParticles,
          cumulativeGradients: theta,
          scale: L,
          subgradients: G,
          reward: R,
        };
      },
    }),
  );
}
