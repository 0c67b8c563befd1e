/**
 * Lookahead's adaptive slow step size (paper, Section 2.1).
 *
 * Proposition 1: on a quadratic `L(x) = x'Ax/2 - b'x`, the point on the line from the slow
 * weights `slow` to the fast weights `fast` with the least loss is at
 *
 * ```
 * alpha* = (slow - x*)' A (slow - fast) / ((slow - fast)' A (slow - fast))
 * ```
 *
 * Not knowing `x*`, take one Newton step from the fast weights, `x* ≈ fast - A⁻¹ ∇L(fast)`. With
 * `d = slow - fast` this gives `alpha = 1 + (∇L(fast) · d) / (d · A d)`. gradtx evaluates
 * `∇L(fast)` without another gradient: the latest gradient `g` was taken at the params before
 * the last inner update `u`, and the same curvature model carries it to `fast = params + u`:
 * `∇L(fast) ≈ g + A u`. `A` is a diagonal estimate, by default the empirical Fisher (a
 * bias-corrected moving average of squared gradients, as Adam keeps), and the result is
 * clipped to `[alphaLow, 1]`. On an exact quadratic with `A` its true Hessian every step of this
 * is exact, and `alpha` is Proposition 1's optimum.
 *
 * Guard: where `d · A d` is not a positive finite number (the fast weights did not move, or the
 * curvature along `d` is 0), or the estimate is not finite, alpha is 1: no information to pull
 * the fast weights back.
 *
 * As kernels: on other steps one that moves the average (and passes the updates through); at a
 * sync, the sync itself, whose reductions are the two dot products and whose scalar `alpha` is
 * chosen from them before its body moves the slow weights. The average's bias correction
 * changes every step while a reduction's terms are fixed expressions, so it is taken out of the
 * sums: `d · A d = (d · nu d) / c` and `(g + A u) · d = g · d + (nu u · d) / c`.
 *
 * @module
 */
import { GradTxError } from "../core/errors.js";
import { add, mul, sub, type Expr } from "../kernels/expr.js";
import { buildKernel, declare, type Kernel } from "../kernels/kernel.js";
import { dataOf, flatten, type PyTree } from "../core/pytree.js";
import { biasCorrection } from "../core/state.js";

/** Lookahead's state for the adaptive step size. @since 0.1.0 */
export interface AdaptiveAlphaState {
  /** Gradients seen (the moving average's bias correction uses it). */
  readonly count: number;
  /** Moving average of squared gradients (params' dtype); `null` when a fixed curvature was given. */
  readonly nu: PyTree;
  /** The step size used at the last sync (NaN before the first). */
  readonly alpha: number;
  /** The estimate before clipping at the last sync (NaN before the first). */
  readonly estimate: number;
}

/** The resolved options of adaptive alpha. */
export interface AdaptiveAlphaOptions {
  readonly alphaLow: number;
  readonly curvatureDecay: number;
  /** A fixed diagonal curvature, shaped like the params, instead of the moving average. */
  readonly curvature: PyTree | undefined;
}

/** Lookahead's sync with a step size `alpha`, per element: the update and the next slow weights. */
export type SlowMove = (x: Expr, p: Expr, slow: Expr, alpha: Expr) => { readonly update: Expr; readonly slow: Expr };

/** The step size from the two dot products, clipped to `[alphaLow, 1]`; 1 without information. */
function choose(gd: number, dad: number, alphaLow: number): { alpha: number; estimate: number } {
  const estimate = dad > 0 && Number.isFinite(dad) ? 1 + gd / dad : NaN;
  const alpha = Number.isFinite(estimate) ? Math.min(Math.max(estimate, alphaLow), 1) : 1;
  return { alpha, estimate };
}

/**
 * The kernels of adaptive alpha: `track`, which moves the squared-gradient average on the steps
 * without a sync (none with a fixed curvature), and `sync`, Lookahead's sync with the step size
 * chosen from its reductions. The sync reads `g`, the gradient Lookahead was given (its `x` is the
 * inner update), and a fixed curvature as `curvature`; `move` is the sync's own formula.
 */
export function adaptiveKernels(options: AdaptiveAlphaOptions, move: SlowMove): { sync: Kernel; track?: Kernel } {
  const { alphaLow, curvatureDecay: b } = options;
  /** The average with this step's gradient: `(1 - b) g^2 + b nu`. */
  const average = (g: Expr, nu: Expr): Expr => add(mul(1 - b, mul(g, g)), mul(b, nu));
  /** `d = slow - fast` (a pass computes it once, however many reductions build it). */
  const dOf = (v: { readonly x: Expr; readonly p: Expr; readonly slow: Expr }): Expr => sub(v.slow, add(v.p, v.x));

  if (options.curvature !== undefined)
    return {
      sync: buildKernel(
        declare({
          name: "lookahead",
          slots: { slow: 0 },
          reads: ["g", "curvature"],
          readsParams: true,
          reductions: {
            gd: { over: "tree", of: (v) => [add(v.g, mul(v.curvature, v.x)), dOf(v)] },
            dad: { over: "tree", of: (v) => [mul(dOf(v), v.curvature), dOf(v)] },
          },
          scalars: (_, __, r) => choose(r.gd, r.dad, alphaLow),
          body: ({ x, p, slow }, s) => move(x, p, slow, s.alpha),
        }),
      ),
    };

  const nuOf = (v: { readonly g: Expr; readonly nu: Expr }): Expr => average(v.g, v.nu);
  return {
    track: buildKernel(
      declare({ name: "lookahead", slots: { nu: 0 }, body: ({ x, nu }) => ({ update: x, nu: average(x, nu) }) }),
    ),
    sync: buildKernel(
      declare({
        name: "lookahead",
        slots: { slow: 0, nu: 0 },
        reads: ["g"],
        readsParams: true,
        reductions: {
          gd: { over: "tree", of: (v) => [v.g, dOf(v)] },
          ud: { over: "tree", of: (v) => [mul(nuOf(v), v.x), dOf(v)] },
          dd: { over: "tree", of: (v) => [mul(dOf(v), nuOf(v)), dOf(v)] },
        },
        // The count is the average's, after this step's gradient.
        scalars: (_, count, r) => {
          const c = biasCorrection(b, count);
          return choose(r.gd + r.ud / c, r.dd / c, alphaLow);
        },
        body: (v, s) => ({ ...move(v.x, v.p, v.slow, s.alpha), nu: nuOf(v) }),
      }),
    ),
  };
}

/** Checks a fixed curvature: a pytree of non-negative finite numbers. */
export function checkCurvature(curvature: PyTree): void {
  for (const leaf of flatten(curvature).leaves) {
    const a = dataOf(leaf);
    for (let j = 0; j < a.length; j++)
      if (!(a[j]! >= 0 && Number.isFinite(a[j]!)))
        throw new GradTxError(
          "INVALID_HYPERPARAMETER",
          `lookahead: curvature must hold finite numbers >= 0, found ${a[j]}`,
        );
  }
}
