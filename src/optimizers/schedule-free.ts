/**
 * Schedule-Free learning (Defazio et al., 2024), as optax.contrib's `schedule_free`: any base
 * optimizer's steps move a sequence `z`, whose running average `x` is the point to evaluate, and
 * the gradient is taken at an interpolation `y` of the two, which is what the params hold. The
 * wrapper's step is one kernel after the base optimizer's, so the two fuse and compile.
 *
 * @module
 */
import type { GradientTransformation, ScalarOrSchedule, ShapesState } from "../core/base.js";
import { chain } from "../combinators/chain.js";
import { GradTxError } from "../core/errors.js";
import { elementwise } from "../kernels/executor.js";
import { add, div, mul, sub } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import { flatten, zipLeaves, type PyTree } from "../core/pytree.js";
import { sgd } from "./standard.js";
import { warmupConstantSchedule } from "./schedules.js";
import { addDecayedWeights } from "../transforms/adding.js";
import { scaleByRms, type ScaleByRmsState } from "../transforms/rms.js";
import { scaleByLearningRate, type ScaleByScheduleState } from "../transforms/scaling.js";
import { increment, paramsFlat } from "../core/state.js";
import {
  DECAY,
  asFactory,
  checkNumber,
  checkScalarOrSchedule,
  checkTransformation,
  readOptions,
} from "../core/validate.js";

/**
 * The state of schedule-free's own step: optax's `ScheduleFreeState` without the base
 * optimizer's state, which is the other half of {@link scheduleFree}'s pair.
 *
 * @since 0.3.0
 */
export interface ScheduleFreeState {
  /** The interpolation weight b1 (constant; kept so that {@link scheduleFreeEvalParams} needs only the state). */
  readonly b1: number;
  /** The sum of the averaging weights so far. */
  readonly weightSum: number;
  /** The step about to be taken, from 1 (optax's `step_count`: the schedule reads it). */
  readonly stepCount: number;
  /** The largest learning rate seen so far. */
  readonly maxLr: number;
  /** The base optimizer's sequence z (a tree like the params). */
  readonly z: PyTree;
}

/** Options of {@link scheduleFree} (optax's names, camelCased). @since 0.3.0 */
export interface ScheduleFreeOptions {
  /** The learning rate the averaging weights follow (the base optimizer's, warm-up and all); required. */
  readonly learningRate: ScalarOrSchedule;
  /** The interpolation between z and the average, in (0, 1]. Default 0.9. */
  readonly b1?: number;
  /** The averaging weight of a step is `maxLr^weightLrPower`, >= 0. Default 2. */
  readonly weightLrPower?: number;
}

/** The kernel of schedule-free's step, after the base optimizer's: reads its update as `x`. */
function scheduleFreeStep(learningRate: ScalarOrSchedule, b1: number, weightLrPower: number) {
  return elementwise<ScheduleFreeState>(
    declare({
      name: "scheduleFree",
      slots: { z: "params" },
      readsParams: true,
      hyper: { weightLrPower },
      carry: { b1, weightSum: 0, stepCount: 1, maxLr: 0 },
      scalars: (h, _, __, c) => {
        const lr = typeof learningRate === "function" ? learningRate(c.stepCount!) : learningRate;
        const maxLr = Math.max(c.maxLr!, lr);
        const weight = maxLr ** h.weightLrPower;
        const weightSum = c.weightSum! + weight;
        const ck = averagingWeight(weight, weightSum);
        return {
          b1: c.b1!,
          weightSum,
          stepCount: increment(c.stepCount!),
          maxLr,
          ck,
          oneMinusCk: 1 - ck,
          oneMinusB1: 1 - c.b1!,
        };
      },
      body: ({ x, p, z }, s) => {
        const next = add(z, x);
        const previous = div(sub(p, mul(s.oneMinusB1, z)), s.b1);
        const average = add(mul(s.oneMinusCk, previous), mul(s.ck, next));
        return { update: sub(add(mul(s.b1, average), mul(s.oneMinusB1, next)), p), z: next };
      },
    }),
  );
}

/**
 * optax's `ck`: `weight / weightSum`, NaN where either is NaN, 0 where the ratio is NaN (0 / 0,
 * before any weight), and the largest float for -Infinity (`nan_to_num`).
 */
function averagingWeight(weight: number, weightSum: number): number {
  if (Number.isNaN(weight) || Number.isNaN(weightSum)) return NaN;
  const ratio = weight / weightSum;
  if (Number.isNaN(ratio)) return 0;
  return ratio === -Infinity ? -Number.MAX_VALUE : ratio;
}

/**
 * Makes `baseOptimizer` schedule-free (Defazio et al., 2024, "The Road Less Scheduled"), as
 * optax.contrib's `schedule_free`. With `u` the base optimizer's update at the params `y`, and
 * `lr` the learning rate at `stepCount` (from 1):
 *
 * ```
 * z'    = z + u
 * maxLr = max(maxLr, lr),   w = maxLr^weightLrPower,   W' = W + w,   c = w / W'
 * x     = (y - (1 - b1) z) / b1                     (the average, from y and the old z)
 * x'    = (1 - c) x + c z'
 * y'    = b1 x' + (1 - b1) z',   u' = y' - y
 * ```
 *
 * The params are `y`, where gradients are taken; evaluate at `x`, which
 * {@link scheduleFreeEvalParams} gives. Turn the base optimizer's momentum off (`b1: 0` for
 * Adam): schedule-free's interpolation replaces it.
 *
 * **Differs from optax in the state's shape:** the state is the pair `[baseState,
 * ScheduleFreeState]` (a `chain` of the base optimizer and schedule-free's step), where optax
 * nests the base state inside one record. So the base optimizer's kernels and schedule-free's
 * step fuse into one pass and compile. Its numbers are float64 (optax keeps them in the params'
 * lowest dtype); optax's `state_dtype` is not offered: `z` has the params' dtype.
 *
 * @param baseOptimizer The optimizer whose steps move `z` (without momentum).
 * @example
 * ```ts
 * import { applyUpdates, scheduleFree, scheduleFreeEvalParams, sgd } from "gradtx";
 * const opt = scheduleFree(sgd(0.5), { learningRate: 0.5 });
 * let y = Float64Array.of(1, 2, 3);
 * const [u, state] = opt.update(y.map((v) => 2 * v), opt.init(y), y);
 * y = applyUpdates(y, u);
 * // The first average is z' itself, the minimum of sum(x^2): so y' is 0.9 z' + 0.1 z' as well.
 * // y = [0, 0, 0]
 * scheduleFreeEvalParams(state, y); // [0, 0, 0]
 * ```
 * @since 0.3.0
 */
export function scheduleFree<S>(
  baseOptimizer: GradientTransformation<S>,
  options: ScheduleFreeOptions,
): GradientTransformation<[S, ScheduleFreeState]> {
  const where = "scheduleFree";
  checkTransformation(where, baseOptimizer);
  const o = readOptions(where, options, ["learningRate", "b1", "weightLrPower"], {
    hint: "optax's schedule_free(base_optimizer, learning_rate, b1, weight_lr_power) is scheduleFree(base, { learningRate, b1: 0.9, weightLrPower: 2 })",
  });
  checkScalarOrSchedule(where, "learningRate", o.learningRate);
  const b1 = checkNumber(where, "b1", o.b1 ?? 0.9, { min: 0, max: 1, minExclusive: true });
  const power = checkNumber(where, "weightLrPower", o.weightLrPower ?? 2, { min: 0 });
  return chain(baseOptimizer, scheduleFreeStep(o.learningRate, b1, power));
}

/** The schedule-free record of a {@link scheduleFree} state, or `BAD_STATE`. */
function scheduleFreeRecord(state: unknown): ScheduleFreeState {
  const own = Array.isArray(state) && state.length === 2 ? (state[1] as unknown) : undefined;
  if (typeof own !== "object" || own === null || !("z" in own) || !("b1" in own) || typeof own.b1 !== "number")
    throw new GradTxError(
      "BAD_STATE",
      "scheduleFreeEvalParams: expected the state of scheduleFree, a pair [baseState, { b1, z, ... }]",
    );
  return own as ScheduleFreeState;
}

/**
 * The params to evaluate a {@link scheduleFree} optimizer at, the average `x`, from its state
 * and its params `y`, as optax.contrib's `schedule_free_eval_params`:
 *
 * `x = (y - (1 - b1) z) / b1`
 *
 * in each leaf's dtype. Gradients are taken at `y` (the params); a loss reported for the model
 * should be at `x`.
 *
 * @example
 * ```ts
 * import { scheduleFreeEvalParams, scheduleFreeSgd } from "gradtx";
 * const opt = scheduleFreeSgd();
 * const y = Float64Array.of(1, 2);
 * scheduleFreeEvalParams(opt.init(y), y); // [1, 2]: at init z is y, and so is x
 * ```
 * @since 0.3.0
 */
export function scheduleFreeEvalParams<P extends PyTree>(state: unknown, params: P): P {
  const { b1, z } = scheduleFreeRecord(state);
  paramsFlat("scheduleFreeEvalParams", params, flatten(z));
  const c = 1 - b1;
  const c32 = Math.fround(c);
  const b32 = Math.fround(b1);
  return zipLeaves(params, z, (y, zz, out) => {
    if (out instanceof Float32Array)
      for (let j = 0; j < y.length; j++) out[j] = Math.fround(Math.fround(y[j]! - Math.fround(c32 * zz[j]!)) / b32);
    else for (let j = 0; j < y.length; j++) out[j] = (y[j]! - c * zz[j]!) / b1;
  }) as P;
}

/** Options of {@link scheduleFreeSgd} (optax's names, camelCased). @since 0.3.0 */
export interface ScheduleFreeSgdOptions {
  /** Steps of linear warm-up from 0 to the learning rate, an integer >= 1; default none. */
  readonly warmupSteps?: number | null;
  /** The interpolation between z and the average, in (0, 1]. Default 0.9. */
  readonly b1?: number;
  /** Weight decay added to the gradient (then multiplied by the learning rate), >= 0; default none. */
  readonly weightDecay?: number | null;
  /** The averaging weight's power of the learning rate, >= 0. Default 2. */
  readonly weightLrPower?: number;
}

/** Options of {@link scheduleFreeAdamw} (optax's names, camelCased). @since 0.3.0 */
export interface ScheduleFreeAdamwOptions {
  /** Steps of linear warm-up from 0 to the learning rate, an integer >= 1; default none. */
  readonly warmupSteps?: number | null;
  /** The interpolation between z and the average, in (0, 1]. Default 0.9. */
  readonly b1?: number;
  /** The decay of the squared gradients' average, in [0, 1). Default 0.999. */
  readonly b2?: number;
  /** Added to the root, >= 0. Default 1e-8. */
  readonly eps?: number;
  /** Weight decay added after the rescaling (then multiplied by the learning rate), >= 0. Default 0. */
  readonly weightDecay?: number;
  /** The averaging weight's power of the learning rate, >= 0. Default 2. */
  readonly weightLrPower?: number;
}

/** optax's warm-up: a constant schedule from 0 to `learningRate` over `warmupSteps`, when given. */
function warmedUp(learningRate: number, warmupSteps: number | null | undefined): ScalarOrSchedule {
  if (warmupSteps === undefined || warmupSteps === null) return learningRate;
  return warmupConstantSchedule({ initValue: 0, peakValue: learningRate, warmupSteps });
}

/**
 * Schedule-free SGD, as optax.contrib's `schedule_free_sgd`: {@link scheduleFree} around
 * `sgd(lr)` (after `addDecayedWeights(weightDecay)` when a decay is given), the averaging
 * weights following the same learning rate, with an optional linear warm-up from 0.
 *
 * The base optimizer's count starts at 0 and schedule-free's `stepCount` at 1, so with a
 * warm-up the two read the schedule one step apart, as in optax.
 *
 * @param learningRate SGD's learning rate, a number; default 1.
 * @example
 * ```ts
 * import { applyUpdates, scheduleFreeEvalParams, scheduleFreeSgd } from "gradtx";
 * const opt = scheduleFreeSgd();
 * let y = Float64Array.of(1, 2, 3);
 * let state = opt.init(y);
 * const losses: number[] = [];
 * for (let t = 0; t < 3; t++) {
 *   const [u, next] = opt.update(y.map((v) => 2 * v), state, y);
 *   y = applyUpdates(y, u);
 *   state = next;
 *   losses.push(scheduleFreeEvalParams(state, y).reduce((s, v) => s + v * v, 0));
 * }
 * // optax's doctest prints 1.40E+01, 1.75E-14 and 9.96E-01 (float32); in float64 the second is 0.
 * losses; // ≈ [14, 0, 0.996] (±1e-3)
 * ```
 * @since 0.3.0
 */
export function scheduleFreeSgd(
  learningRate = 1,
  options?: ScheduleFreeSgdOptions | null,
): GradientTransformation<[unknown, ScheduleFreeState]> {
  const where = "scheduleFreeSgd";
  const o = readOptions(where, options, ["warmupSteps", "b1", "weightDecay", "weightLrPower"], {
    hint: "optax's schedule_free_sgd(learning_rate, warmup_steps, b1, weight_decay, weight_lr_power) is scheduleFreeSgd(1, { b1: 0.9 })",
  });
  checkNumber(where, "learningRate", learningRate);
  return asFactory(where, () => {
    const lr = warmedUp(learningRate, o.warmupSteps);
    const base =
      o.weightDecay === undefined || o.weightDecay === null
        ? sgd(lr)
        : chain(addDecayedWeights(o.weightDecay), sgd(lr));
    return scheduleFree<unknown>(base, { learningRate: lr, ...pick(o) });
  });
}

/** The options schedule-free itself takes, of those given. */
const pick = (o: { readonly b1?: number; readonly weightLrPower?: number }) => ({
  ...(o.b1 === undefined ? {} : { b1: o.b1 }),
  ...(o.weightLrPower === undefined ? {} : { weightLrPower: o.weightLrPower }),
});

/**
 * Schedule-free AdamW, as optax.contrib's `schedule_free_adamw`: {@link scheduleFree} around
 * `chain(scaleByRms({ decay: b2, eps, epsInSqrt: false, biasCorrection: true }),
 * addDecayedWeights(weightDecay), scaleByLearningRate(lr))`, which is Adam with `b1 = 0` without
 * its unused first moment (as optax builds it), and an optional linear warm-up from 0.
 *
 * ```
 * u = -lr (g / (sqrt(nu' / (1 - b2^t)) + eps) + weightDecay y),   then scheduleFree's step
 * ```
 *
 * @param learningRate AdamW's learning rate, a number; default 0.0025.
 * @example
 * ```ts
 * import { applyUpdates, scheduleFreeAdamw, scheduleFreeEvalParams } from "gradtx";
 * const opt = scheduleFreeAdamw(1);
 * let y = Float32Array.of(1, 2, 3);
 * const [u, state] = opt.update(y.map((v) => 2 * v), opt.init(y), y);
 * y = applyUpdates(y, u);
 * const x = scheduleFreeEvalParams(state, y);
 * // optax's doctest: the first loss at the average is 5.00E+00 (each coordinate moves by 1).
 * x.reduce((s, v) => s + v * v, 0); // ≈ 5
 * ```
 * @since 0.3.0
 */
export function scheduleFreeAdamw(
  learningRate = 0.0025,
  options?: ScheduleFreeAdamwOptions | null,
): GradientTransformation<[[ScaleByRmsState, ShapesState, ShapesState | ScaleByScheduleState], ScheduleFreeState]> {
  const where = "scheduleFreeAdamw";
  const o = readOptions(where, options, ["warmupSteps", "b1", "b2", "eps", "weightDecay", "weightLrPower"], {
    hint: "optax's schedule_free_adamw(learning_rate, warmup_steps, b1, b2, eps, weight_decay) is scheduleFreeAdamw(0.0025, { b1: 0.9, b2: 0.999, eps: 1e-8 })",
  });
  checkNumber(where, "learningRate", learningRate);
  // Checked here, under optax's names (scaleByRms calls them decay and eps).
  const b2 = checkNumber(where, "b2", o.b2 ?? 0.999, DECAY);
  const eps = checkNumber(where, "eps", o.eps ?? 1e-8, { min: 0 });
  return asFactory(where, () => {
    const lr = warmedUp(learningRate, o.warmupSteps);
    const base = chain(
      scaleByRms({ decay: b2, eps, epsInSqrt: false, biasCorrection: true }),
      addDecayedWeights(o.weightDecay ?? 0),
      scaleByLearningRate(lr),
    );
    return scheduleFree(base, { learningRate: lr, ...pick(o) });
  });
}
