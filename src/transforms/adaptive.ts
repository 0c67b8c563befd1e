/**
 * Per-element adaptive scaling: RMSprop, Adagrad, Adadelta and Lion (the Adam family lives in
 * adam.ts). Each keeps running moments of the updates in its state (the
 * params' dtype) and rescales every element by them. Learning rates are applied elsewhere
 * (`scaleByLearningRate`), as in optax.
 *
 * @module
 */
import type { GradientTransformation } from "../base.js";
import { flatten, unflatten, type Flat, type FloatArray, type PyTree } from "../pytree.js";
import { biasCorrection, increment, stateCount, stateLeaves, stateRecord, zerosTree } from "../state.js";
import { checkBoolean, checkNumber } from "../validate.js";
import { mapLeavesWithState } from "./elementwise.js";

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
 * // nu = 0.1 * 4 = 0.4, u = 2 / sqrt(0.4 + 1e-8) ≈ 3.1623
 * ```
 * @since 0.1.0
 */
export function scaleByRms(options: RmsOptions = {}): GradientTransformation<ScaleByRmsState> {
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
 * u'  = u / sqrt(max(nu' - mu'^2, 0) + eps)
 * ```
 *
 * @example
 * ```ts
 * import { scaleByStddev } from "gradtx";
 * const tx = scaleByStddev();
 * const [u] = tx.update(Float64Array.of(1), tx.init(Float64Array.of(0)));
 * // mu = 0.1, nu = 0.1, u = 1 / sqrt(0.1 - 0.01 + 1e-8)
 * ```
 * @since 0.1.0
 */
export function scaleByStddev(
  options: Omit<RmsOptions, "epsInSqrt" | "biasCorrection"> = {},
): GradientTransformation<ScaleByStddevState> {
  const where = "scaleByStddev";
  const decay = checkNumber(where, "decay", options.decay ?? 0.9, decayRange);
  const eps = checkNumber(where, "eps", options.eps ?? 1e-8, { min: 0 });
  const initialScale = checkNumber(where, "initialScale", options.initialScale ?? 0, { min: 0 });
  return {
    init: (params) => ({ mu: zerosTree(flatten(params)), nu: filledTree(flatten(params), initialScale) }),
    update(updates, state) {
      const g = flatten(updates);
      const { leaves } = readState(where, state, g, ["mu", "nu"]);
      const r = mapLeavesWithState(g, leaves, (x, [mu, nu], out, [mu2, nu2]) => {
        for (let j = 0; j < x.length; j++) {
          const m = (1 - decay) * x[j]! + decay * mu![j]!;
          const v = (1 - decay) * (x[j]! * x[j]!) + decay * nu![j]!;
          mu2![j] = m;
          nu2![j] = v;
          // v >= m^2 in exact arithmetic; rounding of a float32 state can break that by an ulp.
          out[j] = x[j]! / Math.sqrt(Math.max(v - m * m, 0) + eps);
        }
      });
      return [r.updates, { mu: r.states[0], nu: r.states[1] }];
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
 * // s = 0.1 + 1 = 1.1, u = 1 / sqrt(1.1 + 1e-7)
 * ```
 * @since 0.1.0
 */
export function scaleByRss(
  options: { readonly initialAccumulatorValue?: number; readonly eps?: number } = {},
): GradientTransformation<ScaleByRssState> {
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
 * const [u] = tx.update(Float64Array.of(-3, 0.5), tx.init(Float64Array.of(0, 0))); // [-1, 1]
 * ```
 * @since 0.1.0
 */
export function scaleByLion(
  options: { readonly b1?: number; readonly b2?: number } = {},
): GradientTransformation<ScaleByLionState> {
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
 * // eG = 0.1, u = sqrt(1e-6) / sqrt(0.1 + 1e-6) ≈ 0.00316
 * ```
 * @since 0.1.0
 */
export function scaleByAdadelta(
  options: { readonly rho?: number; readonly eps?: number } = {},
): GradientTransformation<ScaleByAdadeltaState> {
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
