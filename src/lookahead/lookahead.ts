/**
 * Lookahead (Zhang, Lucas, Hinton, Ba 2019): k steps forward, 1 step back.
 *
 * @module
 */
import type { ExtraArgsNeeded, GradientTransformation, StateOf, WithExtraArgs } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { MAX_DEPTH, type PyTree } from "../core/pytree.js";
import { checkNumber, checkTransformation, readOptions } from "../core/validate.js";
import { checkNotSpent } from "../core/donate.js";
import {
  adaptiveKernels,
  checkCurvature,
  type AdaptiveAlphaOptions,
  type AdaptiveAlphaState,
} from "./adaptive-alpha.js";
import { nodeOf, Transformation } from "../kernels/executor.js";
import { add, asUpdate, mul, sub, type Expr } from "../kernels/expr.js";
import { buildKernel, declare, type Kernel } from "../kernels/kernel.js";

/**
 * What happens to the inner optimizer's state at a sync:
 * - `"keep"`: nothing (the paper's and optax's default);
 * - `"reset"`: it becomes `inner.init(slow')`, e.g. momentum restarts from zero;
 * - `"interpolate"`: every floating-point leaf moves like the weights,
 *   `s' = s_sync + alpha * (s - s_sync)`, where `s_sync` is the inner state as it stood after
 *   the previous sync (at first `inner.init(params)`); numbers such as step counts are kept.
 *
 * @since 0.1.0
 */
export type InnerStatePolicy = "keep" | "reset" | "interpolate";

/** Options of {@link lookahead}. @since 0.1.0 */
export interface LookaheadOptions {
  /** `k`: the number of inner steps between syncs, an integer >= 1. Default 5. */
  readonly syncPeriod?: number;
  /**
   * The slow step size, in [0, 1], or `"adaptive"` to choose it at every sync from a quadratic
   * model (the paper's Section 2.1; see `alphaLow`, `curvature`). Default 0.5.
   */
  readonly alpha?: number | "adaptive";
  /** With adaptive alpha: the lower clip of the estimate, in [0, 1]. Default 0.1. */
  readonly alphaLow?: number;
  /**
   * With adaptive alpha: the decay of the moving average of squared gradients that estimates the
   * diagonal curvature (the empirical Fisher), in [0, 1). Default 0.999.
   */
  readonly curvatureDecay?: number;
  /**
   * With adaptive alpha: a known diagonal curvature (a tree shaped like the params) to use
   * instead of the estimate, e.g. the Hessian of a quadratic.
   */
  readonly curvature?: PyTree;
  /** The inner state at a sync. Default `"keep"`. */
  readonly innerState?: InnerStatePolicy;
}

/** The state of {@link lookahead}. @since 0.1.0 */
export interface LookaheadState<S = unknown> {
  /** Steps taken; a sync ends every step whose count (after it) is a multiple of `syncPeriod`. */
  readonly count: number;
  /** The slow weights (like the params: their structure, dtypes and shapes). */
  readonly slow: PyTree;
  /** The inner optimizer's state. */
  readonly inner: S;
  /** With `innerState: "interpolate"` only: the inner state as it stood after the last sync. */
  readonly innerAtSync?: S;
  /** With `alpha: "adaptive"` only: the curvature estimate and the last chosen step size. */
  readonly adaptive?: AdaptiveAlphaState;
}

const POLICIES: readonly InnerStatePolicy[] = ["keep", "reset", "interpolate"];

function isLookaheadState(x: unknown): x is LookaheadState {
  return typeof x === "object" && x !== null && !Array.isArray(x) && "slow" in x && "inner" in x && "count" in x;
}

/**
 * Wraps any optimizer as Lookahead. The params a caller trains with are the **fast** weights;
 * the **slow** weights live in the state (copied from the params at `init`). Each call runs the
 * inner optimizer; every `syncPeriod`-th call (calls k, 2k, ... counting from 1) also syncs:
 *
 * ```
 * u, inner' = inner.update(g, inner, params)
 * not a sync:  return u                                  (slow unchanged)
 * sync:        slow' = slow + alpha * ((params + u) - slow)
 *              return v = slow' - params                 (so params + v = slow')
 * ```
 *
 * The state keeps `params + v`, computed exactly as {@link applyUpdates} computes it, so after
 * a sync the caller's params equal {@link slowParams} bit for bit. A non-sync step never reads
 * the fast weights into the slow ones, so a NaN there cannot poison them. Its updates are final:
 * put Lookahead last in a {@link chain} (clipping and weight decay go before it or inside
 * `inner`). Lookahead nests: `lookahead(lookahead(sgd(0.1)), { syncPeriod: 3 })`.
 *
 * `extra` goes to `inner` as the caller gave it: its `value` is the loss at the params, which are
 * the fast weights. The type needs what `inner`'s needs (`lookahead(chain(sgd(0.1),
 * reduceOnPlateau()))` needs `{ value }`).
 *
 * Laws: `alpha = 1` gives the inner optimizer's trajectory; `alpha = 0` brings the fast weights
 * back to the initial params at every sync; `syncPeriod = 1` around `sgd(lr)` is `sgd(alpha * lr)`.
 *
 * @param inner The fast optimizer.
 * @example
 * ```ts
 * import { adam, applyUpdates, chain, clipByGlobalNorm, lookahead, slowParams } from "gradtx";
 * const opt = chain(clipByGlobalNorm(1), lookahead(adam(0.1), { syncPeriod: 5, alpha: 0.5 }));
 * // f(x) = sum(x^2), whose gradient is 2x
 * let x: Float64Array = Float64Array.of(1, 2, 3);
 * let state = opt.init(x);
 * for (let step = 1; step <= 10; step++) {
 *   const [u, next] = opt.update(x.map((v) => 2 * v), state, x);
 *   x = applyUpdates(x, u);
 *   state = next;
 * }
 * slowParams(state); // x: step 10 was a sync, which lands the fast weights on the slow ones
 * ```
 * @since 0.1.0
 */
export function lookahead<T extends GradientTransformation<unknown>>(
  inner: T,
  options?: LookaheadOptions | null,
): WithExtraArgs<LookaheadState<StateOf<T>>, ExtraArgsNeeded<T>>;
export function lookahead<S>(
  inner: GradientTransformation<S>,
  options: LookaheadOptions | null = {},
): GradientTransformation<LookaheadState<S>> {
  options = readOptions(
    "lookahead",
    options,
    ["syncPeriod", "alpha", "alphaLow", "curvatureDecay", "curvature", "innerState"],
    {
      hint: "optax's lookahead(inner, sync_period, slow_step_size) is lookahead(inner, { syncPeriod: 5, alpha: 0.5 })",
    },
  );
  checkTransformation("lookahead: inner", inner);
  const k = checkNumber("lookahead", "syncPeriod", options.syncPeriod ?? 5, {
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  const isAdaptive = options.alpha === "adaptive";
  const fixedAlpha = isAdaptive ? NaN : checkNumber("lookahead", "alpha", options.alpha ?? 0.5, { min: 0, max: 1 });
  if (
    !isAdaptive &&
    (options.alphaLow !== undefined || options.curvature !== undefined || options.curvatureDecay !== undefined)
  )
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      'lookahead: alphaLow, curvatureDecay and curvature apply only with alpha: "adaptive"',
    );
  const adaptiveOptions: AdaptiveAlphaOptions = {
    alphaLow: checkNumber("lookahead", "alphaLow", options.alphaLow ?? 0.1, { min: 0, max: 1 }),
    curvatureDecay: checkNumber("lookahead", "curvatureDecay", options.curvatureDecay ?? 0.999, {
      min: 0,
      max: 1,
      maxExclusive: true,
    }),
    curvature: options.curvature,
  };
  if (options.curvature !== undefined) checkCurvature(options.curvature);
  const policy = options.innerState ?? "keep";
  if (!POLICIES.includes(policy))
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      `lookahead: innerState must be one of ${POLICIES.join(", ")}, got ${String(policy)}`,
    );

  // One node for every option: the executor runs the inner node, and on a sync step the sync
  // kernel fused with the inner's pass (with adaptive alpha, its reductions first, in the pass
  // before), then moves the inner state as the policy says.
  const adaptive = isAdaptive ? adaptiveKernels(adaptiveOptions, moveSlow) : undefined;
  return new Transformation<LookaheadState<S>>({
    kind: "lookahead",
    inner: nodeOf(inner as GradientTransformation<unknown>),
    syncPeriod: k,
    sync: adaptive?.sync ?? syncKernel(fixedAlpha),
    policy,
    alpha: isAdaptive ? "adaptive" : fixedAlpha,
    track: adaptive?.track,
    curvature: isAdaptive ? options.curvature : undefined,
  });
}

/**
 * Lookahead's sync, per element: the slow weights move by `alpha` towards the fast weights the
 * inner update reaches, and the update lands the fast weights on them. The stored slow weights
 * are `p + v` with `v` as the caller will see it, so that `applyUpdates` gives them bit for bit.
 *
 * ```
 * fast  = p + u
 * v     = slow + alpha (fast - slow) - p
 * slow' = p + v
 * ```
 */
function moveSlow(x: Expr, p: Expr, slow: Expr, alpha: Expr): { update: Expr; slow: Expr } {
  const fast = add(p, x);
  const v = asUpdate(sub(add(slow, mul(alpha, sub(fast, slow))), p));
  return { update: v, slow: add(p, v) };
}

/** The sync with a fixed `alpha`. */
function syncKernel(alpha: number): Kernel {
  return buildKernel(
    declare({
      name: "lookahead",
      slots: { slow: 0 },
      readsParams: true,
      hyper: { alpha },
      body: ({ x, p, slow }, s) => moveSlow(x, p, slow, s.alpha),
    }),
  );
}

/**
 * The slow weights of the outermost Lookahead in a state: `state.slow` for a Lookahead state,
 * found breadth-first inside a `chain`'s (or any combinator's) state. They are like the params:
 * the same structure, dtypes and shapes (an ndarray param's slow weights are a dense ndarray of
 * its shape), so they can stand in for the params, e.g. to evaluate the model at the slow weights.
 *
 * The result is a `PyTree`; name your params' type to have it typed by them:
 * `slowParams<Params>(state)`. The state does not record that type, so it is yours to get right.
 *
 * @example
 * ```ts
 * import { chain, clipByGlobalNorm, lookahead, sgd, slowParams } from "gradtx";
 * const opt = chain(clipByGlobalNorm(1), lookahead(sgd(0.1)));
 * slowParams(opt.init({ w: Float64Array.of(1, 2) })); // { w: Float64Array.of(1, 2) }
 * ```
 * @since 0.1.0
 */
export function slowParams<P = PyTree>(state: unknown): P {
  checkNotSpent("slowParams", state);
  if (isLookaheadState(state)) return state.slow as P;
  // Breadth-first, each object once (a cyclic state ends), at most MAX_DEPTH levels down.
  const seen = new Set<object>();
  let frontier: unknown[] = [state];
  for (let depth = 0; frontier.length > 0; depth++) {
    if (depth > MAX_DEPTH)
      throw new GradTxError("BAD_STATE", `slowParams: the state is nested deeper than ${MAX_DEPTH} levels`);
    const next: unknown[] = [];
    for (const node of frontier) {
      if (typeof node !== "object" || node === null || ArrayBuffer.isView(node) || seen.has(node)) continue;
      seen.add(node);
      if (isLookaheadState(node)) return node.slow as P;
      // One push per child: spreading a long array into push would overflow the stack.
      const children: unknown[] = Array.isArray(node) ? node : Object.values(node);
      for (const child of children) if (typeof child === "object" && child !== null) next.push(child);
    }
    frontier = next;
  }
  throw new GradTxError("BAD_STATE", "slowParams: this state holds no Lookahead state");
}
