/**
 * Transformations that rescale updates: by a constant, a learning rate, a schedule, or Adam's
 * per-element moment estimates.
 *
 * @module
 */
import {
  initEmpty,
  type EmptyState,
  type GradientTransformation,
  type ScalarOrSchedule,
  type Schedule,
} from "../base.js";
import { GradTxError } from "../errors.js";
import { asLeafLike, ctorOf, dataOf, flatten, unflatten, type PyTree } from "../pytree.js";
import { biasCorrection, increment, stateCount, stateLeaves, stateRecord, zerosTree } from "../state.js";
import { checkBoolean, checkNumber, checkScalarOrSchedule } from "../validate.js";
import { FUSED_UPDATE, multiply, STEP_FACTOR, type FusedUpdate, type InputScale, type StepFactor } from "../fusion.js";

/**
 * Multiplies every update by a constant.
 *
 * `u' = step * u`
 *
 * @param step The factor (any finite number; negative flips the direction).
 * @example
 * ```ts
 * import { scale } from "gradtx";
 * const tx = scale(-0.5);
 * const [u] = tx.update(Float64Array.of(2, 4), tx.init(null));
 * // u = [-1, -2]
 * ```
 * @since 0.1.0
 */
export function scale(step: number): GradientTransformation<EmptyState> & StepFactor<EmptyState> {
  checkNumber("scale", "step", step);
  return {
    init: initEmpty,
    update(updates, state) {
      return [multiply(updates, step), state];
    },
    [STEP_FACTOR]: (state) => [step, state],
  };
}

/** The state of {@link scaleBySchedule}: the number of steps taken. @since 0.1.0 */
export interface ScaleByScheduleState {
  /** Steps taken so far; the next step uses `schedule(count)`. */
  readonly count: number;
}

/**
 * Multiplies updates by a schedule of the step count, read before the count advances.
 *
 * `u'_t = schedule(t) * u_t`, `t = 0, 1, ...`
 *
 * @example
 * ```ts
 * import { scaleBySchedule } from "gradtx";
 * const tx = scaleBySchedule((t) => 1 / (t + 1));
 * const s0 = tx.init(null);
 * const [u0, s1] = tx.update(Float64Array.of(1), s0); // u0 = [1]
 * const [u1] = tx.update(Float64Array.of(1), s1); // u1 = [0.5]
 * ```
 * @since 0.1.0
 */
export function scaleBySchedule(
  schedule: Schedule,
): GradientTransformation<ScaleByScheduleState> & StepFactor<ScaleByScheduleState> {
  if (typeof schedule !== "function")
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      `scaleBySchedule: schedule must be a function of the step count, got ${typeof schedule}`,
    );
  const factor = (state: ScaleByScheduleState): readonly [number, ScaleByScheduleState] => {
    const { count } = stateRecord<ScaleByScheduleState>("scaleBySchedule", state, ["count"]);
    return [schedule(stateCount("scaleBySchedule", count)), { count: increment(count) }];
  };
  return {
    init: (params) => ({ ...initEmpty(params), count: 0 }),
    update(updates, state) {
      const [step, next] = factor(state);
      return [multiply(updates, step), next];
    },
    [STEP_FACTOR]: factor,
  };
}

/**
 * Scales updates by the learning rate and, by default, flips their sign, so that
 * {@link applyUpdates} descends.
 *
 * `u' = -lr * u` (or `-lr(t) * u` for a schedule, read with the count before the step)
 *
 * @param learningRate A non-negative number or a {@link Schedule}.
 * @param options.flipSign Negate (default `true`).
 * @example
 * ```ts
 * import { scaleByLearningRate } from "gradtx";
 * const tx = scaleByLearningRate(0.1);
 * const [u] = tx.update(Float64Array.of(1, 2, 3), tx.init(null));
 * // u = [-0.1, -0.2, -0.30000000000000004]
 * ```
 * @since 0.1.0
 */
export function scaleByLearningRate(
  learningRate: ScalarOrSchedule,
  options: { readonly flipSign?: boolean } = {},
): GradientTransformation<EmptyState | ScaleByScheduleState> & StepFactor<EmptyState | ScaleByScheduleState> {
  checkScalarOrSchedule("scaleByLearningRate", "learningRate", learningRate);
  const sign = checkBoolean("scaleByLearningRate", "flipSign", options.flipSign ?? true) ? -1 : 1;
  type Either = GradientTransformation<EmptyState | ScaleByScheduleState> &
    StepFactor<EmptyState | ScaleByScheduleState>;
  if (typeof learningRate === "function") return scaleBySchedule((count) => sign * learningRate(count)) as Either;
  return scale(sign * learningRate) as Either;
}

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
 * // the first step is sign(g) up to eps: u ≈ [1, -1]
 * ```
 * @since 0.1.0
 */
export function scaleByAdam(
  options: AdamOptions = {},
): GradientTransformation<ScaleByAdamState> & FusedUpdate<ScaleByAdamState> {
  const { b1, b2, eps, epsRoot, nesterov } = adamOptions("scaleByAdam", options);
  const where = "scaleByAdam";
  const run = (
    updates: PyTree,
    state: ScaleByAdamState,
    input: InputScale | null,
    factor: number,
  ): readonly [PyTree, ScaleByAdamState] => {
    const s = stateRecord<ScaleByAdamState>(where, state, ["count", "mu", "nu"]);
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
    for (let i = 0; i < n; i++) {
      const leaf = g.leaves[i]!;
      const gd = dataOf(leaf);
      const mu = mus[i]!;
      const nu = nus[i]!;
      const out = new (ctorOf(leaf))(gd.length);
      const mu2 = new (mu instanceof Float32Array ? Float32Array : Float64Array)(gd.length);
      const nu2 = new (nu instanceof Float32Array ? Float32Array : Float64Array)(gd.length);
      // Rounding where an unfused chain would store keeps the fused loop bit-identical.
      const f32 = out instanceof Float32Array;
      const scaled = input !== null;
      const divisor = input?.divisor ?? 1;
      const multiplier = input?.multiplier ?? 1;
      for (let j = 0; j < gd.length; j++) {
        let x = gd[j]!;
        if (scaled) x = f32 ? Math.fround((x / divisor) * multiplier) : (x / divisor) * multiplier;
        const m = a1 * x + b1 * mu[j]!;
        const v = a2 * (x * x) + b2 * nu[j]!;
        mu2[j] = m;
        nu2[j] = v;
        const mHat = nesterov ? b1 * (m / correctNext) + a1 * (x / correct1) : m / correct1;
        const u = mHat / (Math.sqrt(v / correct2 + epsRoot) + eps);
        out[j] = factor * (f32 ? Math.fround(u) : u);
      }
      outs[i] = asLeafLike(leaf, out);
      newMus[i] = mu2;
      newNus[i] = nu2;
    }
    return [unflatten(g.def, outs), { count, mu: unflatten(g.def, newMus), nu: unflatten(g.def, newNus) }];
  };
  return {
    init(params) {
      const flat = flatten(params);
      return { count: 0, mu: zerosTree(flat), nu: zerosTree(flat) };
    },
    update: (updates, state) => run(updates, state, null, 1),
    [FUSED_UPDATE]: (updates, state, _params, input, factor) => run(updates, state, input, factor),
  };
}
