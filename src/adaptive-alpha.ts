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
 * @module
 */
import { GradTxError } from "./errors.js";
import { dataOf, flatten, type Flat, type FloatArray, type PyTree } from "./pytree.js";
import { biasCorrection, increment, stateCount, stateLeaves, stateRecord, zerosTree } from "./state.js";
import { mapLeavesWithState } from "./transforms/elementwise.js";

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

export function initAdaptive(params: Flat, options: AdaptiveAlphaOptions): AdaptiveAlphaState {
  return { count: 0, nu: options.curvature === undefined ? zerosTree(params) : null, alpha: NaN, estimate: NaN };
}

/** Folds one gradient into the squared-gradient average (nothing to do with a fixed curvature). */
export function trackCurvature(state: unknown, grads: Flat, options: AdaptiveAlphaOptions): AdaptiveAlphaState {
  const s = stateRecord<AdaptiveAlphaState>("lookahead.adaptive", state, ["count", "nu", "alpha", "estimate"]);
  const count = increment(stateCount("lookahead.adaptive", s.count));
  if (options.curvature !== undefined) return { ...s, count };
  const b = options.curvatureDecay;
  const r = mapLeavesWithState(grads, [stateLeaves("lookahead.adaptive.nu", s.nu, grads)], (g, [nu], _out, [nu2]) => {
    for (let j = 0; j < g.length; j++) nu2![j] = (1 - b) * (g[j]! * g[j]!) + b * nu![j]!;
  });
  return { ...s, count, nu: r.states[0] };
}

/**
 * The step size for this sync, from the gradient `grads` taken at `params`, the inner update
 * `u` (so the fast weights are `params + u`) and the slow weights.
 */
export function chooseAlpha(
  state: AdaptiveAlphaState,
  grads: Flat,
  u: Flat,
  params: Flat,
  slows: readonly FloatArray[],
  options: AdaptiveAlphaOptions,
): { alpha: number; estimate: number } {
  const curvature =
    options.curvature === undefined
      ? stateLeaves("lookahead.adaptive.nu", state.nu, grads)
      : stateLeaves("lookahead curvature", options.curvature, grads);
  // The moving average is bias-corrected; a fixed curvature is used as given.
  const correction = options.curvature === undefined ? biasCorrection(options.curvatureDecay, state.count) : 1;
  let gd = 0;
  let dad = 0;
  for (let i = 0; i < grads.leaves.length; i++) {
    const g = dataOf(grads.leaves[i]!);
    const du = dataOf(u.leaves[i]!);
    const p = dataOf(params.leaves[i]!);
    const a = curvature[i]!;
    const slow = slows[i]!;
    for (let j = 0; j < g.length; j++) {
      const aj = a[j]! / correction;
      const d = slow[j]! - (p[j]! + du[j]!);
      gd += (g[j]! + aj * du[j]!) * d;
      dad += d * aj * d;
    }
  }
  const estimate = dad > 0 && Number.isFinite(dad) ? 1 + gd / dad : NaN;
  const alpha = Number.isFinite(estimate) ? Math.min(Math.max(estimate, options.alphaLow), 1) : 1;
  return { alpha, estimate };
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
