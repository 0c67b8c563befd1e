/**
 * Per-element adaptive scaling: the Adam family (Adam, NAdam, AMSGrad, Adamax, RAdam), RMSprop,
 * Adagrad, Adadelta and Lion. Each keeps running moments of the updates in its state (the
 * params' dtype) and rescales every element by them. Learning rates are applied elsewhere
 * (`scaleByLearningRate`), as in optax.
 *
 * @module
 */
import type { GradientTransformation } from "../base.js";
import { FUSED_UPDATE, withFusion, type InputScale } from "../fusion.js";
import { asLeafLike, ctorOf, dataOf, flatten, unflatten, type Flat, type FloatArray, type PyTree } from "../pytree.js";
import { biasCorrection, increment, stateCount, stateLeaves, stateRecord, zerosTree } from "../state.js";
import { checkBoolean, checkNumber, readOptions } from "../validate.js";
import { mapLeavesWithState } from "./elementwise.js";
import { described } from "../compile/describe.js";
import { claim, scratchOr, withScratch } from "../donate.js";

/** A tree like `params` (their dtypes, typed-array leaves) filled with `value`. */
function filledTree(params: Flat, value: number): PyTree {
  const zeros = zerosTree(params);
  if (value === 0) return zeros;
  const f = flatten(zeros);
  return unflatten(
    f.def,
    f.leaves.map((leaf) => (leaf as FloatArray).fill(value)),
  );
}

/** Reads a state's count and its named trees, aligned with the updates. */
function readState<K extends string>(
  where: string,
  state: unknown,
  updates: Flat,
  trees: readonly K[],
  counted = false,
): { count: number; leaves: FloatArray[][] } {
  const s = stateRecord<Record<string, unknown>>(where, state, counted ? [...trees, "count"] : trees);
  const count = counted ? stateCount(where, s.count) : 0;
  return { count, leaves: trees.map((key) => stateLeaves(`${where}.${key}`, s[key], updates)) };
}

/** A decay rate in [0, 1). */
const decayRange = { min: 0, max: 1, maxExclusive: true } as const;

/** The state of {@link scaleByAdam}. @since 0.1.0 */
export interface ScaleByAdamState {
  /** Steps taken; bias correction uses the count after the step. */
  readonly count: number;
  /** First moment, an exponential moving average of the updates (params' dtype). */
  readonly mu: PyTree;
  /** Second moment, an exponential moving average of the squared updates (params' dtype). */
  readonly nu: PyTree;
}

/** Options of {@link scaleByAdam} (optax's names, camelCased). @since 0.1.0 */
export interface AdamOptions {
  /** Decay of the first moment, in [0, 1). Default 0.9. */
  readonly b1?: number;
  /** Decay of the second moment, in [0, 1). Default 0.999. */
  readonly b2?: number;
  /** Added to the root of the second moment, >= 0. Default 1e-8. */
  readonly eps?: number;
  /** Added inside the root, >= 0. Default 0. */
  readonly epsRoot?: number;
  /** Use Nesterov momentum (NAdam). Default false. */
  readonly nesterov?: boolean;
}

/** Validates Adam's options and fills in optax's defaults. */
export function adamOptions(where: string, options: AdamOptions): Required<AdamOptions> {
  return {
    b1: checkNumber(where, "b1", options.b1 ?? 0.9, { min: 0, max: 1, maxExclusive: true }),
    b2: checkNumber(where, "b2", options.b2 ?? 0.999, { min: 0, max: 1, maxExclusive: true }),
    eps: checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 }),
    epsRoot: checkNumber(where, "epsRoot", options.epsRoot ?? 0, { min: 0 }),
    nesterov: checkBoolean(where, "nesterov", options.nesterov ?? false),
  };
}

/**
 * Rescales updates by Adam's bias-corrected moment estimates (Kingma and Ba, 2014), without
 * the learning rate.
 *
 * ```
 * t  = count + 1
 * mu = (1 - b1) g + b1 mu
 * nu = (1 - b2) g^2 + b2 nu
 * m  = mu / (1 - b1^t)            (nesterov: b1 mu / (1 - b1^(t+1)) + (1 - b1) g / (1 - b1^t))
 * v  = nu / (1 - b2^t)
 * u' = m / (sqrt(v + epsRoot) + eps)
 * ```
 *
 * The moments are kept in the params' dtype; the update has the incoming update's dtype.
 *
 * @example
 * ```ts
 * import { scaleByAdam } from "gradtx";
 * const tx = scaleByAdam();
 * const [u] = tx.update(Float64Array.of(3, -4), tx.init(Float64Array.of(0, 0)));
 * // u ≈ [1, -1]: the first step is sign(g) up to eps
 * ```
 * @since 0.1.0
 */
export function scaleByAdam(options: AdamOptions | null = {}): GradientTransformation<ScaleByAdamState> {
  options = readOptions("scaleByAdam", options, ["b1", "b2", "eps", "epsRoot", "nesterov"], {
    hint: "optax's scale_by_adam(b1, b2, eps) is scaleByAdam({ b1: 0.9, b2: 0.999, eps: 1e-8 })",
  });
  const { b1, b2, eps, epsRoot, nesterov } = adamOptions("scaleByAdam", options);
  const where = "scaleByAdam";
  const run = (
    updates: PyTree,
    state: ScaleByAdamState,
    input: InputScale | null,
    factor: number,
  ): readonly [PyTree, ScaleByAdamState] => {
    const s = stateRecord<ScaleByAdamState>(where, state, ["count", "mu", "nu"]);
    // Donated: the moments are updated in place (each loop reads index j before writing it) and
    // the update goes into the scratch the last update left.
    const reuse = claim(where, state);
    const count = increment(stateCount(where, s.count));
    const g = flatten(updates);
    const mus = stateLeaves(`${where}.mu`, s.mu, g);
    const nus = stateLeaves(`${where}.nu`, s.nu, g);
    const a1 = 1 - b1;
    const a2 = 1 - b2;
    const correct1 = biasCorrection(b1, count);
    const correct2 = biasCorrection(b2, count);
    // Nesterov's look-ahead term corrects the new moment one step further.
    const correctNext = nesterov ? biasCorrection(b1, increment(count)) : correct1;
    const n = g.leaves.length;
    const outs = new Array<PyTree>(n);
    const newMus = new Array<PyTree>(n);
    const newNus = new Array<PyTree>(n);
    const scratch = new Array<FloatArray>(n);
    // Written out here rather than through mapLeavesWithState: this is the hot path of adam and
    // lookahead(adam), and V8 runs it about a quarter faster with everything in locals.
    for (let i = 0; i < n; i++) {
      const leaf = g.leaves[i]!;
      const gd = dataOf(leaf);
      const mu = mus[i]!;
      const nu = nus[i]!;
      const out = reuse ? scratchOr(s, i, ctorOf(leaf), gd.length) : new (ctorOf(leaf))(gd.length);
      const mu2 = reuse ? mu : new (mu instanceof Float32Array ? Float32Array : Float64Array)(gd.length);
      const nu2 = reuse ? nu : new (nu instanceof Float32Array ? Float32Array : Float64Array)(gd.length);
      // Without Nesterov (the common case) the loop runs in a small function of its own.
      if (!nesterov) adamLoop(gd, mu, nu, mu2, nu2, out, b1, b2, correct1, correct2, eps, epsRoot, factor, input);
      else {
        // Rounding where an unfused chain would store keeps the fused loop bit-identical.
        const f32 = out instanceof Float32Array;
        const divisor = input?.divisor ?? 1;
        const multiplier = input?.multiplier ?? 1;
        for (let j = 0; j < gd.length; j++) {
          let x = gd[j]!;
          if (input !== null) x = f32 ? Math.fround((x / divisor) * multiplier) : (x / divisor) * multiplier;
          const m = a1 * x + b1 * mu[j]!;
          const v = a2 * (x * x) + b2 * nu[j]!;
          mu2[j] = m;
          nu2[j] = v;
          const mHat = b1 * (m / correctNext) + a1 * (x / correct1);
          const u = mHat / (Math.sqrt(v / correct2 + epsRoot) + eps);
          out[j] = factor * (f32 ? Math.fround(u) : u);
        }
      }
      outs[i] = asLeafLike(leaf, out);
      newMus[i] = mu2;
      newNus[i] = nu2;
      scratch[i] = out;
    }
    const next = { count, mu: unflatten(g.def, newMus), nu: unflatten(g.def, newNus) };
    return [unflatten(g.def, outs), withScratch(next, scratch)];
  };
  const tx = withFusion<ScaleByAdamState>({
    init(params) {
      const flat = flatten(params);
      return { count: 0, mu: zerosTree(flat), nu: zerosTree(flat) };
    },
    update: (updates, state) => run(updates, state, null, 1),
    [FUSED_UPDATE]: (updates, state, _params, input, factor) => run(updates, state, input, factor),
  });
  return described(tx, { kind: "scaleByAdam", b1, b2, eps, epsRoot, nesterov });
}

/**
 * Adam's loop without Nesterov, on its own: a small function with nothing captured, which V8
 * compiles tighter than the same loop inside `scaleByAdam`'s closure (about a fifth faster). A
 * fused clip (`input`) gets a loop of its own rather than a branch per element.
 */
function adamLoop(
  g: FloatArray,
  mu: FloatArray,
  nu: FloatArray,
  mu2: FloatArray,
  nu2: FloatArray,
  out: FloatArray,
  b1: number,
  b2: number,
  correct1: number,
  correct2: number,
  eps: number,
  epsRoot: number,
  factor: number,
  input: InputScale | null,
): void {
  const a1 = 1 - b1;
  const a2 = 1 - b2;
  const f32 = out instanceof Float32Array;
  if (input !== null) {
    const { divisor, multiplier } = input;
    for (let j = 0; j < g.length; j++) {
      // The clipped gradient, rounded as the clip's own output array would round it.
      const x = f32 ? Math.fround((g[j]! / divisor) * multiplier) : (g[j]! / divisor) * multiplier;
      const m = a1 * x + b1 * mu[j]!;
      const v = a2 * (x * x) + b2 * nu[j]!;
      mu2[j] = m;
      nu2[j] = v;
      const u = m / correct1 / (Math.sqrt(v / correct2 + epsRoot) + eps);
      out[j] = factor * (f32 ? Math.fround(u) : u);
    }
    return;
  }
  for (let j = 0; j < g.length; j++) {
    const x = g[j]!;
    const m = a1 * x + b1 * mu[j]!;
    const v = a2 * (x * x) + b2 * nu[j]!;
    mu2[j] = m;
    nu2[j] = v;
    const u = m / correct1 / (Math.sqrt(v / correct2 + epsRoot) + eps);
    out[j] = factor * (f32 ? Math.fround(u) : u);
  }
}

/** The state of {@link scaleByRms}. @since 0.1.0 */
export interface ScaleByRmsState {
  /** Steps taken (read only with `biasCorrection`). */
  readonly count: number;
  /** Moving average of the squared updates, starting at `initialScale`. */
  readonly nu: PyTree;
}

/** Options of {@link scaleByRms}. @since 0.1.0 */
export interface RmsOptions {
  /** Decay of the squared-update average, in [0, 1). Default 0.9. */
  readonly decay?: number;
  /** Added to the average (inside the root by default), >= 0. Default 1e-8. */
  readonly eps?: number;
  /** The average's initial value, >= 0. Default 0. */
  readonly initialScale?: number;
  /** Put `eps` inside the square root (optax's default) or add it to the root. Default true. */
  readonly epsInSqrt?: boolean;
  /** Divide the average by `1 - decay^t`. Default false. */
  readonly biasCorrection?: boolean;
}

/**
 * Rescales updates by the root of a moving average of their squares (Tieleman and Hinton's
 * RMSprop), as optax's `scale_by_rms`.
 *
 * ```
 * nu' = (1 - decay) u^2 + decay nu
 * v   = nu'                          (biasCorrection: nu' / (1 - decay^t), t = count + 1)
 * u'  = u / sqrt(v + eps)            (epsInSqrt: false: u / (sqrt(v) + eps))
 * ```
 *
 * With `biasCorrection` and `epsInSqrt: false` this is `scaleByAdam({ b1: 0 })`. PyTorch's
 * `RMSprop` adds eps outside the root (`epsInSqrt: false`) and starts `nu` at 0, as here.
 *
 * @example
 * ```ts
 * import { scaleByRms } from "gradtx";
 * const tx = scaleByRms({ decay: 0.9 });
 * const [u] = tx.update(Float64Array.of(2), tx.init(Float64Array.of(0)));
 * // u ≈ [2 / Math.sqrt(0.4 + 1e-8)]: nu = 0.1 * 4 = 0.4
 * ```
 * @since 0.1.0
 */
export function scaleByRms(options: RmsOptions | null = {}): GradientTransformation<ScaleByRmsState> {
  options = readOptions("scaleByRms", options, ["decay", "eps", "initialScale", "epsInSqrt", "biasCorrection"], {
    hint: "optax's scale_by_rms(decay, eps) is scaleByRms({ decay: 0.9, eps: 1e-8 })",
  });
  const where = "scaleByRms";
  const decay = checkNumber(where, "decay", options.decay ?? 0.9, decayRange);
  const eps = checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 });
  const initialScale = checkNumber(where, "initialScale", options.initialScale ?? 0, { min: 0 });
  const inSqrt = checkBoolean(where, "epsInSqrt", options.epsInSqrt ?? true);
  const corrected = checkBoolean(where, "biasCorrection", options.biasCorrection ?? false);
  return {
    init: (params) => ({ count: 0, nu: filledTree(flatten(params), initialScale) }),
    update(updates, state) {
      const g = flatten(updates);
      const { count, leaves } = readState(where, state, g, ["nu"], true);
      const t = increment(count);
      const correction = corrected ? biasCorrection(decay, t) : 1;
      const r = mapLeavesWithState(g, leaves, (x, [nu], out, [nu2]) => {
        for (let j = 0; j < x.length; j++) {
          const v = (1 - decay) * (x[j]! * x[j]!) + decay * nu![j]!;
          nu2![j] = v;
          out[j] = inSqrt ? x[j]! / Math.sqrt(v / correction + eps) : x[j]! / (Math.sqrt(v / correction) + eps);
        }
      });
      return [r.updates, { count: t, nu: r.states[0] }];
    },
  };
}

/** The state of {@link scaleByStddev}. @since 0.1.0 */
export interface ScaleByStddevState {
  /** Steps taken: only with `biasCorrection` (as optax's `ScaleByRStdDevWithCountState`). */
  readonly count?: number;
  /** Moving average of the updates. */
  readonly mu: PyTree;
  /** Moving average of the squared updates, starting at `initialScale`. */
  readonly nu: PyTree;
}

/**
 * Rescales updates by their moving standard deviation (centered RMSprop), as optax's
 * `scale_by_stddev`.
 *
 * ```
 * mu' = (1 - decay) u + decay mu,   nu' = (1 - decay) u^2 + decay nu
 * m, v = mu', nu'                     (biasCorrection: mu' / (1 - decay^t), nu' / (1 - decay^t), t = count + 1)
 * u'  = u / sqrt(max(v - m^2, 0) + eps)   (epsInSqrt: false: u / (sqrt(max(v - m^2, 0)) + eps))
 * ```
 *
 * `epsInSqrt` and `biasCorrection` are optax's (since 0.2.4); with `biasCorrection` the state
 * also counts the steps. The `max(·, 0)` is gradtx's: in exact arithmetic `v >= m^2`, and it
 * keeps a rounding error from taking the root of a negative number.
 *
 * @example
 * ```ts
 * import { scaleByStddev } from "gradtx";
 * const tx = scaleByStddev();
 * const [u] = tx.update(Float64Array.of(1), tx.init(Float64Array.of(0)));
 * // u ≈ [1 / Math.sqrt(0.1 - 0.01 + 1e-8)]: mu = 0.1 and nu = 0.1
 * ```
 * @since 0.1.0
 */
export function scaleByStddev(options: RmsOptions | null = {}): GradientTransformation<ScaleByStddevState> {
  options = readOptions("scaleByStddev", options, ["decay", "eps", "initialScale", "epsInSqrt", "biasCorrection"], {
    hint: "optax's scale_by_stddev(decay, eps) is scaleByStddev({ decay: 0.9, eps: 1e-8 })",
  });
  const where = "scaleByStddev";
  const decay = checkNumber(where, "decay", options.decay ?? 0.9, decayRange);
  const eps = checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 });
  const initialScale = checkNumber(where, "initialScale", options.initialScale ?? 0, { min: 0 });
  const inSqrt = checkBoolean(where, "epsInSqrt", options.epsInSqrt ?? true);
  const corrected = checkBoolean(where, "biasCorrection", options.biasCorrection ?? false);
  return {
    init(params) {
      const moments = { mu: zerosTree(flatten(params)), nu: filledTree(flatten(params), initialScale) };
      return corrected ? { count: 0, ...moments } : moments;
    },
    update(updates, state) {
      const g = flatten(updates);
      const { count, leaves } = readState(where, state, g, ["mu", "nu"], corrected);
      const t = increment(count);
      const correction = corrected ? biasCorrection(decay, t) : 1;
      const r = mapLeavesWithState(g, leaves, (x, [mu, nu], out, [mu2, nu2]) => {
        for (let j = 0; j < x.length; j++) {
          const m = (1 - decay) * x[j]! + decay * mu![j]!;
          const v = (1 - decay) * (x[j]! * x[j]!) + decay * nu![j]!;
          mu2![j] = m;
          nu2![j] = v;
          const mHat = m / correction;
          // v >= m^2 in exact arithmetic; rounding (of a float32 state, say) can break that by an ulp.
          const variance = Math.max(v / correction - mHat * mHat, 0);
          out[j] = inSqrt ? x[j]! / Math.sqrt(variance + eps) : x[j]! / (Math.sqrt(variance) + eps);
        }
      });
      const moments = { mu: r.states[0], nu: r.states[1] };
      return [r.updates, corrected ? { count: t, ...moments } : moments];
    },
  };
}

/** The state of {@link scaleByRss}. @since 0.1.0 */
export interface ScaleByRssState {
  /** The running sum of squared updates, starting at `initialAccumulatorValue`. */
  readonly sumOfSquares: PyTree;
}

/**
 * Rescales updates by the root of the sum of all their past squares (Adagrad; Duchi, Hazan and
 * Singer, 2011), as optax's `scale_by_rss`.
 *
 * ```
 * s'  = s + u^2
 * u'  = u * (s' > 0 ? 1 / sqrt(s' + eps) : 0)
 * ```
 *
 * optax's and TensorFlow's accumulator starts at 0.1; PyTorch's `Adagrad` starts it at 0 and
 * adds eps 1e-10 outside the root.
 *
 * @example
 * ```ts
 * import { scaleByRss } from "gradtx";
 * const tx = scaleByRss();
 * const [u] = tx.update(Float64Array.of(1), tx.init(Float64Array.of(0)));
 * // u ≈ [1 / Math.sqrt(1.1 + 1e-7)]: s = 0.1 + 1 = 1.1
 * ```
 * @since 0.1.0
 */
export function scaleByRss(
  options: { readonly initialAccumulatorValue?: number; readonly eps?: number } | null = {},
): GradientTransformation<ScaleByRssState> {
  options = readOptions("scaleByRss", options, ["initialAccumulatorValue", "eps"], {
    hint: "optax's scale_by_rss(initial_accumulator_value, eps) is scaleByRss({ initialAccumulatorValue: 0.1, eps: 1e-7 })",
  });
  const where = "scaleByRss";
  const initial = checkNumber(where, "initialAccumulatorValue", options.initialAccumulatorValue ?? 0.1, { min: 0 });
  const eps = checkNumber(where, "eps", options.eps ?? 1e-7, { min: 0 });
  return {
    init: (params) => ({ sumOfSquares: filledTree(flatten(params), initial) }),
    update(updates, state) {
      const g = flatten(updates);
      const { leaves } = readState(where, state, g, ["sumOfSquares"]);
      const r = mapLeavesWithState(g, leaves, (x, [sum], out, [sum2]) => {
        for (let j = 0; j < x.length; j++) {
          const s = x[j]! * x[j]! + sum![j]!;
          sum2![j] = s;
          // As optax: the factor is 0 where s is 0 (or NaN), and multiplying keeps a NaN update NaN.
          out[j] = (s > 0 ? 1 / Math.sqrt(s + eps) : 0) * x[j]!;
        }
      });
      return [r.updates, { sumOfSquares: r.states[0] }];
    },
  };
}

/** Options of {@link scaleByRAdam}: Adam's, plus the rectification threshold. @since 0.1.0 */
export interface RAdamOptions extends AdamOptions {
  /** Below this length of the approximated SMA, the step is plain momentum. Default 5. */
  readonly threshold?: number;
}

/**
 * Rectified Adam (Liu et al., 2020), as optax's `scale_by_radam`: Adam whose adaptive term is
 * switched on only once the variance of its estimate is tractable, and rectified by `r`.
 *
 * ```
 * rhoInf = 2 / (1 - b2) - 1,   rho = rhoInf - 2 t b2^t / (1 - b2^t)
 * m = mu' / (1 - b1^t),        v = nu' / (1 - b2^t)
 * rho >= threshold:  r = sqrt((rho - 4)(rho - 2) rhoInf / ((rhoInf - 4)(rhoInf - 2) rho)),  u' = r m / (sqrt(v + epsRoot) + eps)
 * otherwise:         u' = m
 * ```
 *
 * @example
 * ```ts
 * import { scaleByRAdam } from "gradtx";
 * const tx = scaleByRAdam();
 * const [u] = tx.update(Float64Array.of(2), tx.init(Float64Array.of(0)));
 * // u ≈ [2]: at step 1 rho = 1 < 5, so u = m = 2 (momentum only)
 * ```
 * @since 0.1.0
 */
export function scaleByRAdam(options: RAdamOptions | null = {}): GradientTransformation<ScaleByAdamState> {
  options = readOptions("scaleByRAdam", options, ["b1", "b2", "eps", "epsRoot", "nesterov", "threshold"], {
    hint: "optax's scale_by_radam(b1, b2, eps) is scaleByRAdam({ b1: 0.9, b2: 0.999, eps: 1e-8 })",
  });
  const where = "scaleByRAdam";
  const { threshold: rawThreshold, ...adamOnly } = options;
  const { b1, b2, eps, epsRoot, nesterov } = adamOptions(where, adamOnly);
  const threshold = checkNumber(where, "threshold", rawThreshold ?? 5);
  const rhoInf = 2 / (1 - b2) - 1;
  return {
    init: (params) => ({ count: 0, mu: zerosTree(flatten(params)), nu: zerosTree(flatten(params)) }),
    update(updates, state) {
      const g = flatten(updates);
      const { count, leaves } = readState(where, state, g, ["mu", "nu"], true);
      const t = increment(count);
      const correct1 = biasCorrection(b1, t);
      const correct2 = biasCorrection(b2, t);
      const correctNext = nesterov ? biasCorrection(b1, increment(t)) : correct1;
      const rho = rhoInf - (2 * t * b2 ** t) / correct2;
      const rectify = rho >= threshold;
      const r = rectify ? Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho)) : 1;
      const out = mapLeavesWithState(g, leaves, (x, [mu, nu], u, [mu2, nu2]) => {
        for (let j = 0; j < x.length; j++) {
          const m = (1 - b1) * x[j]! + b1 * mu![j]!;
          const v = (1 - b2) * (x[j]! * x[j]!) + b2 * nu![j]!;
          mu2![j] = m;
          nu2![j] = v;
          const mHat = nesterov ? b1 * (m / correctNext) + (1 - b1) * (x[j]! / correct1) : m / correct1;
          u[j] = rectify ? (r * mHat) / (Math.sqrt(v / correct2 + epsRoot) + eps) : mHat;
        }
      });
      return [out.updates, { count: t, mu: out.states[0], nu: out.states[1] }];
    },
  };
}

/** The state of {@link scaleByLion}. @since 0.1.0 */
export interface ScaleByLionState {
  /** Moving average of the updates (decay `b2`). */
  readonly mu: PyTree;
}

/**
 * Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"), as optax's
 * `scale_by_lion`: the sign of an interpolation between the update and its moving average.
 *
 * ```
 * u'  = sign((1 - b1) u + b1 mu)
 * mu' = (1 - b2) u + b2 mu
 * ```
 *
 * @example
 * ```ts
 * import { scaleByLion } from "gradtx";
 * const tx = scaleByLion();
 * const [u] = tx.update(Float64Array.of(-3, 0.5), tx.init(Float64Array.of(0, 0))); // u = [-1, 1]
 * ```
 * @since 0.1.0
 */
export function scaleByLion(
  options: { readonly b1?: number; readonly b2?: number } | null = {},
): GradientTransformation<ScaleByLionState> {
  options = readOptions("scaleByLion", options, ["b1", "b2"], {
    hint: "optax's scale_by_lion(b1, b2) is scaleByLion({ b1: 0.9, b2: 0.99 })",
  });
  const where = "scaleByLion";
  const b1 = checkNumber(where, "b1", options.b1 ?? 0.9, { min: 0, max: 1 });
  const b2 = checkNumber(where, "b2", options.b2 ?? 0.99, { min: 0, max: 1 });
  return {
    init: (params) => ({ mu: zerosTree(flatten(params)) }),
    update(updates, state) {
      const g = flatten(updates);
      const { leaves } = readState(where, state, g, ["mu"]);
      const r = mapLeavesWithState(g, leaves, (x, [mu], out, [mu2]) => {
        for (let j = 0; j < x.length; j++) {
          out[j] = Math.sign((1 - b1) * x[j]! + b1 * mu![j]!);
          mu2![j] = (1 - b2) * x[j]! + b2 * mu![j]!;
        }
      });
      return [r.updates, { mu: r.states[0] }];
    },
  };
}

/**
 * Adamax (Kingma and Ba, 2014, section 7.1), as optax's `scale_by_adamax`: Adam with the
 * infinity norm in place of the second moment.
 *
 * ```
 * mu' = (1 - b1) u + b1 mu
 * nu' = max(b2 nu, |u| + eps)
 * u'  = (mu' / (1 - b1^t)) / nu'
 * ```
 *
 * @example
 * ```ts
 * import { scaleByAdamax } from "gradtx";
 * const tx = scaleByAdamax();
 * const [u] = tx.update(Float64Array.of(2), tx.init(Float64Array.of(0)));
 * // u ≈ [2 / (2 + 1e-8)]: mu / (1 - b1) = 0.2 / 0.1 and nu = |g| + eps
 * ```
 * @since 0.1.0
 */
export function scaleByAdamax(
  options: { readonly b1?: number; readonly b2?: number; readonly eps?: number } | null = {},
): GradientTransformation<ScaleByAdamState> {
  options = readOptions("scaleByAdamax", options, ["b1", "b2", "eps"], {
    hint: "optax's scale_by_adamax(b1, b2, eps) is scaleByAdamax({ b1: 0.9, b2: 0.999, eps: 1e-8 })",
  });
  const where = "scaleByAdamax";
  const { b1, b2, eps } = adamOptions(where, options);
  return {
    init: (params) => ({ count: 0, mu: zerosTree(flatten(params)), nu: zerosTree(flatten(params)) }),
    update(updates, state) {
      const g = flatten(updates);
      const { count, leaves } = readState(where, state, g, ["mu", "nu"], true);
      const t = increment(count);
      const correct1 = biasCorrection(b1, t);
      const r = mapLeavesWithState(g, leaves, (x, [mu, nu], out, [mu2, nu2]) => {
        for (let j = 0; j < x.length; j++) {
          const m = (1 - b1) * x[j]! + b1 * mu![j]!;
          const v = Math.max(b2 * nu![j]!, Math.abs(x[j]!) + eps);
          mu2![j] = m;
          nu2![j] = v;
          out[j] = m / correct1 / v;
        }
      });
      return [r.updates, { count: t, mu: r.states[0], nu: r.states[1] }];
    },
  };
}

/** The state of {@link scaleByAmsgrad}. @since 0.1.0 */
export interface ScaleByAmsgradState extends ScaleByAdamState {
  /** The running maximum of the bias-corrected second moment. */
  readonly nuMax: PyTree;
}

/**
 * AMSGrad (Reddi, Kale and Kumar, 2018), as optax's `scale_by_amsgrad`: Adam whose
 * denominator never shrinks.
 *
 * ```
 * m = mu' / (1 - b1^t),   nuMax' = max(nuMax, nu' / (1 - b2^t))
 * u' = m / (sqrt(nuMax' + epsRoot) + eps)
 * ```
 *
 * PyTorch's `Adam(amsgrad=True)` keeps the maximum of the uncorrected moment instead.
 *
 * @example
 * ```ts
 * import { scaleByAmsgrad } from "gradtx";
 * const tx = scaleByAmsgrad();
 * const [u] = tx.update(Float64Array.of(2), tx.init(Float64Array.of(0))); // u ≈ [1]
 * ```
 * @since 0.1.0
 */
export function scaleByAmsgrad(
  options: Omit<AdamOptions, "nesterov"> | null = {},
): GradientTransformation<ScaleByAmsgradState> {
  options = readOptions("scaleByAmsgrad", options, ["b1", "b2", "eps", "epsRoot"], {
    hint: "optax's scale_by_amsgrad(b1, b2, eps) is scaleByAmsgrad({ b1: 0.9, b2: 0.999, eps: 1e-8 })",
  });
  const where = "scaleByAmsgrad";
  const { b1, b2, eps, epsRoot } = adamOptions(where, options);
  return {
    init(params) {
      const flat = flatten(params);
      return { count: 0, mu: zerosTree(flat), nu: zerosTree(flat), nuMax: zerosTree(flat) };
    },
    update(updates, state) {
      const g = flatten(updates);
      const { count, leaves } = readState(where, state, g, ["mu", "nu", "nuMax"], true);
      const t = increment(count);
      const correct1 = biasCorrection(b1, t);
      const correct2 = biasCorrection(b2, t);
      const r = mapLeavesWithState(g, leaves, (x, [mu, nu, nuMax], out, [mu2, nu2, nuMax2]) => {
        for (let j = 0; j < x.length; j++) {
          const m = (1 - b1) * x[j]! + b1 * mu![j]!;
          const v = (1 - b2) * (x[j]! * x[j]!) + b2 * nu![j]!;
          mu2![j] = m;
          nu2![j] = v;
          nuMax2![j] = Math.max(nuMax![j]!, v / correct2);
          out[j] = m / correct1 / (Math.sqrt(nuMax2![j]! + epsRoot) + eps);
        }
      });
      return [r.updates, { count: t, mu: r.states[0], nu: r.states[1], nuMax: r.states[2] }];
    },
  };
}

/** The state of {@link scaleByAdadelta}. @since 0.1.0 */
export interface ScaleByAdadeltaState {
  /** Moving average of the squared updates. */
  readonly eG: PyTree;
  /** Moving average of the squared steps. */
  readonly eX: PyTree;
}

/**
 * Adadelta (Zeiler, 2012), as optax's `scale_by_adadelta`.
 *
 * ```
 * eG' = (1 - rho) u^2 + rho eG
 * u'  = sqrt(eX + eps) / sqrt(eG' + eps) * u
 * eX' = (1 - rho) u'^2 + rho eX
 * ```
 *
 * @example
 * ```ts
 * import { scaleByAdadelta } from "gradtx";
 * const tx = scaleByAdadelta();
 * const [u] = tx.update(Float64Array.of(1), tx.init(Float64Array.of(0)));
 * // u ≈ [Math.sqrt(1e-6) / Math.sqrt(0.1 + 1e-6)]: eG = 0.1
 * ```
 * @since 0.1.0
 */
export function scaleByAdadelta(
  options: { readonly rho?: number; readonly eps?: number } | null = {},
): GradientTransformation<ScaleByAdadeltaState> {
  options = readOptions("scaleByAdadelta", options, ["rho", "eps"], {
    hint: "optax's scale_by_adadelta(rho, eps) is scaleByAdadelta({ rho: 0.9, eps: 1e-6 })",
  });
  const where = "scaleByAdadelta";
  const rho = checkNumber(where, "rho", options.rho ?? 0.9, { min: 0, max: 1 });
  const eps = checkNumber(where, "eps", options.eps ?? 1e-6, { min: 0 });
  return {
    init: (params) => ({ eG: zerosTree(flatten(params)), eX: zerosTree(flatten(params)) }),
    update(updates, state) {
      const g = flatten(updates);
      const { leaves } = readState(where, state, g, ["eG", "eX"]);
      const r = mapLeavesWithState(g, leaves, (x, [eG, eX], out, [eG2, eX2]) => {
        for (let j = 0; j < x.length; j++) {
          const eg = (1 - rho) * (x[j]! * x[j]!) + rho * eG![j]!;
          const d = (Math.sqrt(eX![j]! + eps) / Math.sqrt(eg + eps)) * x[j]!;
          eG2![j] = eg;
          eX2![j] = (1 - rho) * (d * d) + rho * eX![j]!;
          out[j] = d;
        }
      });
      return [r.updates, { eG: r.states[0], eX: r.states[1] }];
    },
  };
}
