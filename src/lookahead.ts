/**
 * Lookahead (Zhang, Lucas, Hinton, Ba 2019): k steps forward, 1 step back.
 *
 * @module
 */
import type { GradientTransformation } from "./base.js";
import { GradTxError } from "./errors.js";
import {
  asLeafLike,
  ctorOf,
  dataOf,
  flatten,
  isFloatArray,
  MAX_DEPTH,
  unflatten,
  type DenseTree,
  type FloatArray,
  type PyTree,
} from "./pytree.js";
import { copyTree, increment, paramsFlat, stateCount, stateLeaves, stateRecord } from "./state.js";
import { checkNumber, checkTransformation, readOptions } from "./validate.js";
import { described } from "./compile/describe.js";
import { carryScratch, checkNotSpent, claim, donate, scratchOr, withScratch } from "./donate.js";
import {
  checkCurvature,
  chooseAlpha,
  initAdaptive,
  trackCurvature,
  type AdaptiveAlphaOptions,
  type AdaptiveAlphaState,
} from "./adaptive-alpha.js";
import { applyInputScale, capabilities, FUSED_UPDATE, multiply, withFusion, type InputScale } from "./fusion.js";
import { nodeOf, Transformation } from "./kernels/executor.js";
import { add, asUpdate, mul, sub } from "./kernels/expr.js";
import { buildKernel, declare, type Kernel } from "./kernels/kernel.js";

/**
 * States whose slow weights are also held by an earlier state that was not donated (a non-sync
 * step carries the arrays over): a donated sync must not write into them.
 */
const sharesSlow = new WeakSet<object>();

/**
 * The state after a non-sync step: it keeps `s`'s slow weights and scratch, and shares the slow
 * weights with `s` unless `s` was donated (then only if `s` itself shared them).
 */
function carry<T extends object>(s: object, next: T, reuse: boolean): T {
  if (!reuse || sharesSlow.has(s)) sharesSlow.add(next);
  return carryScratch(next, s);
}

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
  /** The slow weights (the params' dtype, typed-array leaves). */
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

/** Moves every float leaf of `current` towards it from `atSync`: `atSync + alpha * (current - atSync)`. */
function interpolateState(atSync: unknown, current: unknown, alpha: number, where: string, depth = 0): unknown {
  if (depth > MAX_DEPTH)
    throw new GradTxError("BAD_STATE", `lookahead: the inner state is nested deeper than ${MAX_DEPTH} levels`, where);
  if (isFloatArray(current)) {
    if (!isFloatArray(atSync) || atSync.length !== current.length)
      throw new GradTxError("BAD_STATE", `lookahead: the inner state changed layout since the last sync`, where);
    const out = new (current instanceof Float32Array ? Float32Array : Float64Array)(current.length);
    for (let j = 0; j < out.length; j++) out[j] = atSync[j]! + alpha * (current[j]! - atSync[j]!);
    return out;
  }
  if (Array.isArray(current)) {
    if (!Array.isArray(atSync) || atSync.length !== current.length)
      throw new GradTxError("BAD_STATE", `lookahead: the inner state changed layout since the last sync`, where);
    return current.map((c: unknown, i) => interpolateState(atSync[i], c, alpha, `${where}[${i}]`, depth + 1));
  }
  if (typeof current === "object" && current !== null && !ArrayBuffer.isView(current)) {
    if (typeof atSync !== "object" || atSync === null)
      throw new GradTxError("BAD_STATE", `lookahead: the inner state changed layout since the last sync`, where);
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(current))
      out[key] = interpolateState((atSync as Record<string, unknown>)[key], value, alpha, `${where}.${key}`, depth + 1);
    return out;
  }
  return current;
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
  if (!isAdaptive && (options.alphaLow !== undefined || options.curvature !== undefined))
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      'lookahead: alphaLow and curvature apply only with alpha: "adaptive"',
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

  const runInner = (updates: PyTree, state: S, params: PyTree, input: InputScale | null): readonly [PyTree, S] => {
    if (input === null) return inner.update(updates, state, params);
    const fused = capabilities(inner)[FUSED_UPDATE];
    return fused
      ? (fused(updates, state, params, input, 1) as readonly [PyTree, S])
      : inner.update(applyInputScale(updates, input), state, params);
  };

  const run = (
    updates: PyTree,
    state: LookaheadState<S>,
    params: PyTree | undefined,
    input: InputScale | null,
  ): readonly [PyTree, LookaheadState<S>] => {
    const s = stateRecord<LookaheadState<S>>("lookahead", state, ["count", "slow", "inner"]);
    if (params === undefined)
      throw new GradTxError(
        "MISSING_PARAMS",
        "lookahead reads the fast weights: pass the params as the third argument of update",
      );
    if (policy === "interpolate" && !("innerAtSync" in s))
      throw new GradTxError(
        "BAD_STATE",
        'lookahead: innerState "interpolate" needs innerAtSync in the state (was it built with another policy?)',
      );
    const count = increment(stateCount("lookahead", s.count));
    // Donated: the inner state is donated in turn (not under "interpolate", whose cache shares its
    // arrays), and a sync writes the slow weights in place unless an older state shares them.
    const reuse = claim("lookahead", state);
    if (reuse && policy !== "interpolate") donate(s.inner);
    if (!isAdaptive) {
      const [u, innerNext] = runInner(updates, s.inner, params, input);
      if (count % k !== 0) return [u, carry(s, { ...s, count, inner: innerNext }, reuse)];
      return sync(s, count, u, innerNext, params, fixedAlpha, undefined, reuse);
    }
    // Adaptive alpha reads the gradient itself, so a fused clip is applied here first.
    const grads = input === null ? updates : applyInputScale(updates, input);
    const gFlat = flatten(grads);
    const [u, innerNext] = inner.update(grads, s.inner, params);
    const adaptive = trackCurvature(s.adaptive, gFlat, adaptiveOptions);
    if (count % k !== 0) return [u, carry(s, { ...s, count, inner: innerNext, adaptive }, reuse)];
    const uFlat = flatten(u);
    const pFlat = paramsFlat("lookahead", params, uFlat);
    const slows = stateLeaves("lookahead.slow", s.slow, uFlat);
    const chosen = chooseAlpha(adaptive, gFlat, uFlat, pFlat, slows, adaptiveOptions);
    return sync(s, count, u, innerNext, params, chosen.alpha, { ...adaptive, ...chosen }, reuse);
  };

  /** The sync step: moves the slow weights by `alpha` and returns the update that lands on them. */
  const sync = (
    s: LookaheadState<S>,
    count: number,
    u: PyTree,
    innerNext: S,
    params: PyTree,
    alpha: number,
    adaptive: AdaptiveAlphaState | undefined,
    reuse: boolean,
  ): readonly [PyTree, LookaheadState<S>] => {
    const inPlace = reuse && !sharesSlow.has(s);
    const uFlat = flatten(u);
    const pFlat = paramsFlat("lookahead", params, uFlat);
    const slows = stateLeaves("lookahead.slow", s.slow, uFlat);
    const n = uFlat.leaves.length;
    const outs = new Array<PyTree>(n);
    const newSlows = new Array<PyTree>(n);
    const scratch = new Array<FloatArray>(n);
    for (let i = 0; i < n; i++) {
      const uLeaf = uFlat.leaves[i]!;
      const du = dataOf(uLeaf);
      const p = dataOf(pFlat.leaves[i]!);
      const slow = slows[i]!;
      const v = reuse ? scratchOr(s, i, ctorOf(uLeaf), du.length) : new (ctorOf(uLeaf))(du.length);
      const f32 = slow instanceof Float32Array;
      const v32 = v instanceof Float32Array;
      const next = inPlace ? slow : new (f32 ? Float32Array : Float64Array)(du.length);
      for (let j = 0; j < du.length; j++) {
        // Each element is read once into a local (twice as fast as re-reading the arrays), and
        // rounded where the arrays would round it: the fast weights as applyUpdates will have
        // them in the slow weights' dtype, and v in the updates' dtype. slow[j] is read before
        // next[j] (maybe the same element) is written.
        const pj = p[j]!;
        const sj = slow[j]!;
        const fast = f32 ? Math.fround(pj + du[j]!) : pj + du[j]!;
        const vj = v32 ? Math.fround(sj + alpha * (fast - sj) - pj) : sj + alpha * (fast - sj) - pj;
        v[j] = vj;
        next[j] = pj + vj;
      }
      outs[i] = asLeafLike(uLeaf, v);
      newSlows[i] = next;
      scratch[i] = v;
    }
    const slow = unflatten(uFlat.def, newSlows);
    const extra = adaptive === undefined ? {} : { adaptive };
    const out = unflatten(uFlat.def, outs);
    if (policy === "keep") return [out, withScratch({ count, slow, inner: innerNext, ...extra }, scratch)];
    if (policy === "reset") {
      const asParams = unflatten(
        pFlat.def,
        pFlat.leaves.map((leaf, i) => asLeafLike(leaf, newSlows[i] as Float32Array | Float64Array)),
      );
      return [out, withScratch({ count, slow, inner: inner.init(asParams), ...extra }, scratch)];
    }
    const moved = interpolateState(s.innerAtSync, innerNext, alpha, "inner") as S;
    return [out, withScratch({ count, slow, inner: moved, innerAtSync: moved, ...extra }, scratch)];
  };

  // Fixed alpha with "keep" or "reset": the executor runs the sync as a kernel, fused with the
  // inner optimizer's loop on a sync step.
  if (!isAdaptive && policy !== "interpolate") {
    const tx = new Transformation<LookaheadState<S>>({
      kind: "lookahead",
      inner: nodeOf(inner as GradientTransformation<unknown>),
      syncPeriod: k,
      sync: syncKernel(fixedAlpha),
      policy,
    });
    return described(tx, { kind: "lookahead", inner, syncPeriod: k, alpha: fixedAlpha, innerState: policy });
  }

  const tx = withFusion<LookaheadState<S>>({
    init(params) {
      const flat = flatten(params);
      const slow = copyTree(flat);
      const innerState = inner.init(params);
      const extra = isAdaptive ? { adaptive: initAdaptive(flat, adaptiveOptions) } : {};
      // States are never mutated, so the cache may share the inner state's arrays.
      return policy === "interpolate"
        ? { count: 0, slow, inner: innerState, innerAtSync: innerState, ...extra }
        : { count: 0, slow, inner: innerState, ...extra };
    },
    update: (updates, state, params) => run(updates, state, params, null),
    // An input scale (a clip before Lookahead) fuses into the inner optimizer's loop.
    [FUSED_UPDATE]: (updates, state, params, input, factor) => {
      const [u, next] = run(updates, state, params, input);
      return [factor === 1 ? u : multiply(u, factor), next];
    },
  });
  if (isAdaptive) return tx;
  return described(tx, { kind: "lookahead", inner, syncPeriod: k, alpha: fixedAlpha, innerState: policy });
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
function syncKernel(alpha: number): Kernel {
  return buildKernel(
    declare({
      name: "lookahead",
      slots: { slow: 0 },
      readsParams: true,
      hyper: { alpha },
      body: ({ x, p, slow }, { alpha }) => {
        const fast = add(p, x);
        const v = asUpdate(sub(add(slow, mul(alpha, sub(fast, slow))), p));
        return { update: v, slow: add(p, v) };
      },
    }),
  );
}

/**
 * The slow weights of the outermost Lookahead in a state: `state.slow` for a Lookahead state,
 * found breadth-first inside a `chain`'s (or any combinator's) state. Leaves are typed arrays
 * of the params' dtype (an ndarray param's slow weights are its row-major data).
 *
 * The result is a `PyTree`; name your params' type to have it typed by them, ndarray leaves
 * as typed arrays ({@link DenseTree}): `slowParams<Params>(state)`. The state does not record
 * that type, so it is yours to get right.
 *
 * @example
 * ```ts
 * import { chain, clipByGlobalNorm, lookahead, sgd, slowParams } from "gradtx";
 * const opt = chain(clipByGlobalNorm(1), lookahead(sgd(0.1)));
 * slowParams(opt.init({ w: Float64Array.of(1, 2) })); // { w: Float64Array.of(1, 2) }
 * ```
 * @since 0.1.0
 */
export function slowParams<P = PyTree>(state: unknown): DenseTree<P> {
  checkNotSpent("slowParams", state);
  if (isLookaheadState(state)) return state.slow as DenseTree<P>;
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
      if (isLookaheadState(node)) return node.slow as DenseTree<P>;
      // One push per child: spreading a long array into push would overflow the stack.
      const children: unknown[] = Array.isArray(node) ? node : Object.values(node);
      for (const child of children) if (typeof child === "object" && child !== null) next.push(child);
    }
    frontier = next;
  }
  throw new GradTxError("BAD_STATE", "slowParams: this state holds no Lookahead state");
}
