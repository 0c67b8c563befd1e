/**
 * Sharpness-Aware Minimization: `sam`, optax.contrib's `sam`, which alternates adversarial steps
 * up the loss with an outer step from where they started.
 *
 * @module
 */
import type { ExtraArgs, GradientTransformation } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { Transformation } from "../kernels/executor.js";
import { applyUpdates } from "../transforms/apply.js";
import {
  asLeafLike,
  dataOf,
  flatten,
  flattenLike,
  unflatten,
  type Flat,
  type FloatArray,
  type PyTree,
} from "../core/pytree.js";
import { copyTree, paramsFlat, stateRecord, stateTree } from "../core/state.js";
import { checkBoolean, checkNumber, checkTransformation, readOptions } from "../core/validate.js";

/** The state of {@link sam}: optax's `SAMState`, camelCased. @since 0.3.0 */
export interface SamState<O = unknown, A = unknown> {
  /** Adversarial steps taken since the last outer step, from 0 to `syncPeriod - 1`. */
  readonly stepsSinceSync: number;
  /** The outer optimizer's state. */
  readonly optState: O;
  /** The adversarial optimizer's state. */
  readonly advState: A;
  /**
   * The params where this round's adversarial steps started (a copy, like the params), which
   * the outer step moves from; `null` with `opaqueMode`, which keeps none.
   */
  readonly cache: PyTree;
}

/** Options of {@link sam} (optax's names, camelCased). @since 0.3.0 */
export interface SamOptions {
  /** Steps per round: `syncPeriod - 1` adversarial steps, then the outer one; an integer >= 1. Default 2. */
  readonly syncPeriod?: number;
  /** Whether the adversarial optimizer's state starts afresh after each outer step. Default true. */
  readonly resetState?: boolean;
  /**
   * Whether one `update` runs a whole round, calling `extra.gradFn` for the gradient at each
   * adversarial point, so that the caller sees only outer steps. Default false: each `update`
   * is one step of the round, and the caller's params visit the adversarial points.
   */
  readonly opaqueMode?: boolean;
}

const where = "sam";

/** `cache - params + u` per leaf, in the updates' dtype (float32 roundings for float32 leaves). */
function fromCache(cache: Flat, params: Flat, u: Flat): PyTree {
  return unflatten(
    u.def,
    u.leaves.map((leaf, i) => {
      const c = dataOf(cache.leaves[i]!);
      const p = dataOf(params.leaves[i]!);
      const x = dataOf(leaf);
      const out: FloatArray = new (x instanceof Float32Array ? Float32Array : Float64Array)(x.length);
      if (out instanceof Float32Array && c instanceof Float32Array && p instanceof Float32Array)
        for (let e = 0; e < out.length; e++) out[e] = Math.fround(c[e]! - p[e]!) + x[e]!;
      else for (let e = 0; e < out.length; e++) out[e] = c[e]! - p[e]! + x[e]!;
      return asLeafLike(leaf, out);
    }),
  );
}

/** The negation of every element of `tree` (the adversarial optimizer's step, turned uphill). */
function negated(tree: PyTree): PyTree {
  const flat = flatten(tree);
  return unflatten(
    flat.def,
    flat.leaves.map((leaf) => {
      const x = dataOf(leaf);
      const out = new (x instanceof Float32Array ? Float32Array : Float64Array)(x.length);
      for (let e = 0; e < x.length; e++) out[e] = -x[e]!;
      return asLeafLike(leaf, out);
    }),
  );
}

/** The round of {@link sam}: plain TypeScript over its two optimizers (each runs as itself). */
class Sam implements GradientTransformation<SamState> {
  constructor(
    private readonly optimizer: GradientTransformation<unknown>,
    private readonly adversary: GradientTransformation<unknown>,
    private readonly syncPeriod: number,
    private readonly resetState: boolean,
    private readonly opaque: boolean,
  ) {}

  init(params: PyTree): SamState {
    const flat = flatten(params);
    return {
      stepsSinceSync: 0,
      optState: this.optimizer.init(params),
      advState: this.adversary.init(params),
      cache: this.opaque ? null : copyTree(flat),
    };
  }

  update(updates: PyTree, state: SamState, params?: PyTree, extra?: ExtraArgs): readonly [PyTree, SamState] {
    const flat = flatten(updates);
    const s = stateRecord<SamState>(where, state, ["stepsSinceSync", "optState", "advState", "cache"]);
    const k = s.stepsSinceSync;
    if (!Number.isInteger(k) || k < 0 || k >= this.syncPeriod)
      throw new GradTxError(
        "BAD_STATE",
        `${where}: stepsSinceSync must be an integer in [0, ${this.syncPeriod - 1}], got ${String(k)}`,
      );
    const p = paramsFlat(where, params, flat);
    return this.opaque ? this.round(updates, s, p, extra) : this.step(updates, s, flat, p, extra);
  }

  /** One step of a round (optax's transparent mode). */
  private step(updates: PyTree, s: SamState, u: Flat, p: Flat, extra?: ExtraArgs): readonly [PyTree, SamState] {
    const cached = stateTree(`${where}.cache`, s.cache, u);
    const first = s.stepsSinceSync === 0;
    // The round's start: these params on its first step (optax reads the old cache even then,
    // which with syncPeriod 1 moves from the previous step's params), the cache after.
    const start = first ? p : cached;
    const next = (s.stepsSinceSync + 1) % this.syncPeriod;
    const cache = first ? copyTree(p) : s.cache;
    if (s.stepsSinceSync === this.syncPeriod - 1) {
      const [outer, optState] = this.optimizer.update(updates, s.optState, unflatten(start.def, start.leaves), extra);
      const advState = this.resetState ? this.adversary.init(unflatten(p.def, p.leaves)) : s.advState;
      return [fromCache(start, p, flatten(outer)), { stepsSinceSync: next, optState, advState, cache }];
    }
    const [ascent, advState] = this.adversary.update(updates, s.advState, unflatten(p.def, p.leaves), extra);
    return [negated(ascent), { stepsSinceSync: next, optState: s.optState, advState, cache }];
  }

  /** A whole round in one call (optax's opaque mode). */
  private round(updates: PyTree, s: SamState, p: Flat, extra?: ExtraArgs): readonly [PyTree, SamState] {
    const gradFn = extra?.gradFn as ((params: PyTree, step: number) => PyTree) | undefined;
    if (gradFn === undefined)
      throw new GradTxError(
        "MISSING_EXTRA_ARG",
        `${where} with opaqueMode reads the gradient at each adversarial point: pass extra.gradFn, a function of the params (and the adversarial step's index)`,
      );
    const params = unflatten(p.def, p.leaves);
    let point = params;
    let grads = updates;
    let advState = s.advState;
    for (let i = 0; i < this.syncPeriod - 1; i++) {
      const [ascent, next] = this.adversary.update(grads, advState, point, extra);
      advState = next;
      point = applyUpdates(point, negated(ascent));
      grads = gradFn(point, i);
      flattenLike(p, grads);
    }
    if (this.resetState) advState = this.adversary.init(params);
    const [outer, optState] = this.optimizer.update(grads, s.optState, params, extra);
    return [outer, { stepsSinceSync: 0, optState, advState, cache: null }];
  }
}

/**
 * Sharpness-Aware Minimization (Foret, Kleiner, Mobahi and Neyshabur, 2021, "Sharpness-Aware
 * Minimization for Efficiently Improving Generalization"), as optax.contrib's `sam`: each round
 * takes `syncPeriod - 1` steps of `advOptimizer` up the loss from the round's start, then one
 * step of `optimizer`, with the gradient at the adversarial point, from the start. The paper's
 * SAM is `sam(sgd(lr), chain(normalizeByUpdateNorm({ eps: 0 }), sgd(rho)))`: the ascent
 * `rho g / ||g||` (optax.contrib's `normalize()` is `normalizeByUpdateNorm({ eps: 0 })`).
 *
 * ```
 * k = stepsSinceSync;  cache = the params at k = 0
 * k < syncPeriod - 1:   u' = -advOptimizer(g, params)          (an adversarial step)
 * k = syncPeriod - 1:   u' = cache - params + optimizer(g, cache)
 *                        (so params + u' = cache + the outer step; the adversarial state restarts)
 * ```
 *
 * Each `update` is one step of the round (optax's transparent mode), so the caller's params
 * visit the adversarial points; `params` are required. With `opaqueMode` one `update` runs a
 * whole round and returns only the outer step: it calls `extra.gradFn(point, i)` for the gradient
 * at the `i`-th adversarial point (`MISSING_EXTRA_ARG` without it). Both optimizers get the
 * caller's `extra`. optax's `batch_axis_name` (a pmean across devices) has no counterpart.
 *
 * Where gradtx differs from optax: in transparent mode optax runs both optimizers at every step
 * and keeps one result; gradtx runs only the one whose result is kept (the same numbers, half
 * the work). With `syncPeriod` 1 optax's outer step moves from the previous step's cache, which
 * undoes the last step; gradtx moves from the current params, so `sam(opt, adv, { syncPeriod:
 * 1 })` is `opt`. It runs as plain TypeScript between the compiled passes; each optimizer inside
 * runs as itself (its kernels compiled on the pure path). The cache is a copy of the params, in
 * their dtypes and leaf kinds.
 *
 * @param optimizer The outer optimizer.
 * @param advOptimizer The adversarial optimizer: its updates are negated, to climb the loss.
 * @param options see {@link SamOptions}.
 * @example
 * ```ts
 * import { applyUpdates, chain, normalizeByUpdateNorm, sam, sgd } from "gradtx";
 * const opt = sam(sgd(0.1), chain(normalizeByUpdateNorm({ eps: 0 }), sgd(0.5)));
 * // f(x) = sum(x^2): the gradient is 2x.
 * let x = Float64Array.of(3, 4);
 * let state = opt.init(x);
 * const [up, afterUp] = opt.update(x.map((v) => 2 * v), state, x);
 * x = applyUpdates(x, up);
 * // An adversarial step up the loss: 0.5 times the unit gradient [0.6, 0.8].
 * Array.from(x); // [3.3, 4.4]
 * const [down, afterDown] = opt.update(x.map((v) => 2 * v), afterUp, x);
 * x = applyUpdates(x, down);
 * // The outer step from [3, 4] with the gradient at [3.3, 4.4]: [3, 4] - 0.1 [6.6, 8.8].
 * // x ≈ [2.34, 3.12]
 * afterDown.stepsSinceSync; // 0
 * ```
 * @since 0.3.0
 */
export function sam<O, A>(
  optimizer: GradientTransformation<O>,
  advOptimizer: GradientTransformation<A>,
  options: SamOptions | null = {},
): GradientTransformation<SamState<O, A>> {
  options = readOptions(where, options, ["syncPeriod", "resetState", "opaqueMode"], {
    hint: "optax's sam(optimizer, adv_optimizer, sync_period) is sam(optimizer, advOptimizer, { syncPeriod: 2 })",
  });
  checkTransformation(`${where}: optimizer`, optimizer);
  checkTransformation(`${where}: advOptimizer`, advOptimizer);
  const syncPeriod = checkNumber(where, "syncPeriod", options.syncPeriod ?? 2, {
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  const resetState = checkBoolean(where, "resetState", options.resetState ?? true);
  const opaqueMode = checkBoolean(where, "opaqueMode", options.opaqueMode ?? false);
  const tx = new Sam(
    optimizer as GradientTransformation<unknown>,
    advOptimizer as GradientTransformation<unknown>,
    syncPeriod,
    resetState,
    opaqueMode,
  );
  return new Transformation<SamState<O, A>>({ kind: "opaque", tx });
}
