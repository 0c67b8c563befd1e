/**
 * Schedules: hyperparameters as functions of the step count, as optax's. Each validates its
 * arguments when it is built. A schedule is read with the count before the step, so the first
 * step uses `schedule(0)`.
 *
 * @module
 */
import type { Schedule } from "./base.js";
import { GradTxError } from "./errors.js";
import { asFactory, checkBoolean, checkNumber, invalid, readOptions } from "./validate.js";

/** What an optax user writes instead of positional arguments: `linearSchedule(0, 1, 100)`. */
const positional = (optax: string, gradtx: string): string => `optax's ${optax} is ${gradtx}`;

/**
 * The same value at every step.
 *
 * `value(t) = value`
 *
 * @example
 * ```ts
 * import { constantSchedule } from "gradtx";
 * constantSchedule(0.1)(1000); // 0.1
 * ```
 * @since 0.1.0
 */
export function constantSchedule(value: number): Schedule {
  checkNumber("constantSchedule", "value", value);
  return () => value;
}

/** Options of {@link polynomialSchedule}. @since 0.1.0 */
export interface PolynomialScheduleOptions {
  /** The value at the start. */
  readonly initValue: number;
  /** The value after the transition. */
  readonly endValue: number;
  /** The exponent, > 0 (1 is linear). */
  readonly power: number;
  /** Steps from `initValue` to `endValue`, an integer >= 1. */
  readonly transitionSteps: number;
  /** Steps to hold `initValue` first, an integer >= 0. Default 0. */
  readonly transitionBegin?: number;
}

/**
 * A polynomial from `initValue` to `endValue` over `transitionSteps`, after `transitionBegin`
 * steps at `initValue`; `endValue` afterwards.
 *
 * ```
 * s = clip(t - transitionBegin, 0, transitionSteps)
 * value(t) = (initValue - endValue) * (1 - s / transitionSteps)^power + endValue
 * ```
 *
 * optax accepts `transition_steps <= 0` and returns a constant with a warning; gradtx refuses it.
 *
 * @example
 * ```ts
 * import { polynomialSchedule } from "gradtx";
 * const s = polynomialSchedule({ initValue: 1, endValue: 0, power: 2, transitionSteps: 10 });
 * s(5); // 0.25
 * ```
 * @since 0.1.0
 */
export function polynomialSchedule(options: PolynomialScheduleOptions): Schedule {
  const where = "polynomialSchedule";
  options = readOptions(where, options, ["initValue", "endValue", "power", "transitionSteps", "transitionBegin"], {
    hint: positional(
      "polynomial_schedule(init_value, end_value, power, transition_steps)",
      "polynomialSchedule({ initValue, endValue, power, transitionSteps })",
    ),
  });
  const init = checkNumber(where, "initValue", options.initValue);
  const end = checkNumber(where, "endValue", options.endValue);
  const power = checkNumber(where, "power", options.power, { min: 0, minExclusive: true });
  const steps = checkNumber(where, "transitionSteps", options.transitionSteps, { min: 1, integer: true });
  const begin = checkNumber(where, "transitionBegin", options.transitionBegin ?? 0, { min: 0, integer: true });
  return (t) => {
    const s = Math.min(Math.max(t - begin, 0), steps);
    return (init - end) * (1 - s / steps) ** power + end;
  };
}

/** Options of {@link linearSchedule}. @since 0.1.0 */
export type LinearScheduleOptions = Omit<PolynomialScheduleOptions, "power">;

/**
 * A straight line from `initValue` to `endValue` over `transitionSteps` (a
 * {@link polynomialSchedule} of power 1).
 *
 * `value(t) = initValue + (endValue - initValue) * clip(t - transitionBegin, 0, transitionSteps) / transitionSteps`
 *
 * @example
 * ```ts
 * import { linearSchedule } from "gradtx";
 * const warmup = linearSchedule({ initValue: 0, endValue: 1e-3, transitionSteps: 100 });
 * warmup(50); // 5e-4
 * ```
 * @since 0.1.0
 */
export function linearSchedule(options: LinearScheduleOptions): Schedule {
  options = readOptions("linearSchedule", options, ["initValue", "endValue", "transitionSteps", "transitionBegin"], {
    hint: positional(
      "linear_schedule(init_value, end_value, transition_steps)",
      "linearSchedule({ initValue, endValue, transitionSteps })",
    ),
    aliases: { power: "a linear schedule has power 1: polynomialSchedule takes one" },
  });
  const o = options;
  return asFactory("linearSchedule", () => polynomialSchedule({ ...o, power: 1 }));
}

/** Options of {@link exponentialDecay}. @since 0.1.0 */
export interface ExponentialDecayOptions {
  /** The value at the start. */
  readonly initValue: number;
  /** Steps per factor of `decayRate`, an integer >= 1. */
  readonly transitionSteps: number;
  /** The factor per `transitionSteps`, > 0 (below 1 decays, above 1 grows). */
  readonly decayRate: number;
  /** Steps to hold `initValue` first, an integer >= 0. Default 0. */
  readonly transitionBegin?: number;
  /** Decay in whole steps of `transitionSteps`. Default false. */
  readonly staircase?: boolean;
  /** A floor (when decaying) or ceiling (when growing). Default none. */
  readonly endValue?: number;
}

/**
 * Exponential decay, as optax's `exponential_decay`.
 *
 * ```
 * p = (t - transitionBegin) / transitionSteps        (floor(p) with staircase)
 * value(t) = initValue                               for t <= transitionBegin
 *          = initValue * decayRate^p                 otherwise, bounded by endValue
 * ```
 *
 * @example
 * ```ts
 * import { exponentialDecay } from "gradtx";
 * const s = exponentialDecay({ initValue: 0.1, transitionSteps: 1000, decayRate: 0.5, staircase: true });
 * s(1999); // 0.05
 * ```
 * @since 0.1.0
 */
export function exponentialDecay(options: ExponentialDecayOptions): Schedule {
  const where = "exponentialDecay";
  options = readOptions(
    where,
    options,
    ["initValue", "transitionSteps", "decayRate", "transitionBegin", "staircase", "endValue"],
    {
      hint: positional(
        "exponential_decay(init_value, transition_steps, decay_rate)",
        "exponentialDecay({ initValue, transitionSteps, decayRate })",
      ),
    },
  );
  const init = checkNumber(where, "initValue", options.initValue);
  const steps = checkNumber(where, "transitionSteps", options.transitionSteps, { min: 1, integer: true });
  const rate = checkNumber(where, "decayRate", options.decayRate, { min: 0, minExclusive: true });
  const begin = checkNumber(where, "transitionBegin", options.transitionBegin ?? 0, { min: 0, integer: true });
  const staircase = checkBoolean(where, "staircase", options.staircase ?? false);
  const end = options.endValue === undefined ? undefined : checkNumber(where, "endValue", options.endValue);
  return (t) => {
    const count = t - begin;
    if (count <= 0) return init;
    const p = staircase ? Math.floor(count / steps) : count / steps;
    const decayed = init * rate ** p;
    if (end === undefined) return decayed;
    return rate < 1 ? Math.max(decayed, end) : Math.min(decayed, end);
  };
}

/**
 * `initValue` multiplied by `scales[b]` from each boundary step `b` on (optax's
 * `piecewise_constant_schedule`; the scale applies at the boundary itself).
 *
 * `value(t) = initValue * product of scales[b] over boundaries b <= t`
 *
 * @param boundariesAndScales Step -> factor, e.g. the paper's CIFAR schedule "divide by 5 at
 *   epochs 60, 120 and 160" with 391 steps per epoch: `{ 23460: 0.2, 46920: 0.2, 62560: 0.2 }`.
 * @example
 * ```ts
 * import { piecewiseConstantSchedule } from "gradtx";
 * const stepsPerEpoch = 391;
 * const cifar = piecewiseConstantSchedule(0.1, { [60 * stepsPerEpoch]: 0.2, [120 * stepsPerEpoch]: 0.2, [160 * stepsPerEpoch]: 0.2 });
 * cifar(0); // 0.1
 * cifar(60 * stepsPerEpoch); // 0.1 * 0.2 ≈ 0.02
 * cifar(160 * stepsPerEpoch); // 0.1 * 0.2^3 ≈ 0.0008
 * ```
 * @since 0.1.0
 */
export function piecewiseConstantSchedule(
  initValue: number,
  boundariesAndScales: Readonly<Record<number, number>> | null = {},
): Schedule {
  const where = "piecewiseConstantSchedule";
  checkNumber(where, "initValue", initValue);
  // As optax's None, null means no boundaries. Anything but a plain object (an array, a Map) is
  // refused: its entries would not be read as boundaries.
  const table: unknown = boundariesAndScales ?? {};
  const proto: unknown = typeof table === "object" && table !== null ? Object.getPrototypeOf(table) : undefined;
  if (proto !== Object.prototype && proto !== null)
    invalid(where, "boundariesAndScales must be an object of step -> scale, e.g. { 1000: 0.1, 2000: 0.1 }");
  // Object.entries reads each scale once.
  const pieces = Object.entries(table as object)
    .map(([b, s]: [string, unknown]) => {
      const boundary = Number(b);
      // A key is a boundary only when written as one: not "", " 5" or "1e3" standing for 0, 5, 1000.
      if (String(boundary) !== b) invalid(where, `a boundary must be an integer >= 0, got ${JSON.stringify(b)}`);
      return [
        checkNumber(where, "a boundary", boundary, { min: 0, integer: true }),
        checkNumber(where, `the scale at ${b}`, s, { min: 0 }),
      ] as const;
    })
    .sort((a, b) => a[0] - b[0]);
  return (t) => {
    let value = initValue;
    for (const [boundary, factor] of pieces) if (t >= boundary) value *= factor;
    return value;
  };
}

/** Options of {@link cosineDecaySchedule}. @since 0.1.0 */
export interface CosineDecayOptions {
  /** The value at the start. */
  readonly initValue: number;
  /** Steps of the decay, an integer >= 1; the value then stays at `alpha * initValue`. */
  readonly decaySteps: number;
  /** The final value as a fraction of `initValue`, in [0, 1]. Default 0. */
  readonly alpha?: number;
  /** The power of the cosine factor, > 0. Default 1. */
  readonly exponent?: number;
}

/**
 * Cosine decay (Loshchilov and Hutter, SGDR, 2017) without restarts.
 *
 * ```
 * s = min(t, decaySteps)
 * value(t) = initValue * ((1 - alpha) * (0.5 * (1 + cos(pi * s / decaySteps)))^exponent + alpha)
 * ```
 *
 * @example
 * ```ts
 * import { cosineDecaySchedule } from "gradtx";
 * cosineDecaySchedule({ initValue: 1, decaySteps: 100 })(50); // 0.5
 * ```
 * @since 0.1.0
 */
export function cosineDecaySchedule(options: CosineDecayOptions): Schedule {
  const where = "cosineDecaySchedule";
  options = readOptions(where, options, ["initValue", "decaySteps", "alpha", "exponent"], {
    hint: positional(
      "cosine_decay_schedule(init_value, decay_steps, alpha)",
      "cosineDecaySchedule({ initValue, decaySteps, alpha })",
    ),
  });
  const init = checkNumber(where, "initValue", options.initValue);
  const steps = checkNumber(where, "decaySteps", options.decaySteps, { min: 1, integer: true });
  const alpha = checkNumber(where, "alpha", options.alpha ?? 0, { min: 0, max: 1 });
  const exponent = checkNumber(where, "exponent", options.exponent ?? 1, { min: 0, minExclusive: true });
  return (t) => {
    const s = Math.min(Math.max(t, 0), steps);
    const cosine = 0.5 * (1 + Math.cos((Math.PI * s) / steps));
    return init * ((1 - alpha) * cosine ** exponent + alpha);
  };
}

/** Options of {@link warmupCosineDecaySchedule}. @since 0.1.0 */
export interface WarmupCosineDecayOptions {
  /** The value at step 0. */
  readonly initValue: number;
  /** The value at the end of the warmup. */
  readonly peakValue: number;
  /** Steps of the linear warmup, an integer >= 0. */
  readonly warmupSteps: number;
  /** Total steps, warmup included (optax's `decay_steps`), an integer > warmupSteps. */
  readonly decaySteps: number;
  /** The final value. Default 0. */
  readonly endValue?: number;
  /** The power of the cosine factor, > 0. Default 1. */
  readonly exponent?: number;
}

/**
 * A linear warmup from `initValue` to `peakValue`, then a cosine decay to `endValue`; as optax,
 * `decaySteps` counts the warmup, so the decay lasts `D = decaySteps - warmupSteps` steps.
 *
 * ```
 * W = warmupSteps, D = decaySteps - warmupSteps
 * t < W:   value(t) = initValue + (peakValue - initValue) * t / W
 * t >= W:  c = 0.5 * (1 + cos(pi * min(t - W, D) / D))
 *          value(t) = (peakValue - endValue) * c^exponent + endValue
 * ```
 *
 * optax computes the decay as `peakValue * ((1 - a) c^exponent + a)` with `a = endValue /
 * peakValue`: the same in real arithmetic, except that for `peakValue = 0` it takes `a = 0` and
 * stays at 0 after the warmup whatever `endValue` is, where gradtx goes from 0 to `endValue`.
 *
 * @example
 * ```ts
 * import { warmupCosineDecaySchedule } from "gradtx";
 * const s = warmupCosineDecaySchedule({ initValue: 0, peakValue: 1e-3, warmupSteps: 100, decaySteps: 1000 });
 * s(100); // 1e-3
 * s(1000); // 0
 * ```
 * @since 0.1.0
 */
export function warmupCosineDecaySchedule(options: WarmupCosineDecayOptions): Schedule {
  const where = "warmupCosineDecaySchedule";
  options = readOptions(
    where,
    options,
    ["initValue", "peakValue", "warmupSteps", "decaySteps", "endValue", "exponent"],
    {
      hint: positional(
        "warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps, decay_steps)",
        "warmupCosineDecaySchedule({ initValue, peakValue, warmupSteps, decaySteps })",
      ),
    },
  );
  const init = checkNumber(where, "initValue", options.initValue);
  const peak = checkNumber(where, "peakValue", options.peakValue);
  const warmup = checkNumber(where, "warmupSteps", options.warmupSteps, { min: 0, integer: true });
  const total = checkNumber(where, "decaySteps", options.decaySteps, { min: warmup + 1, integer: true });
  const end = checkNumber(where, "endValue", options.endValue ?? 0);
  const exponent = checkNumber(where, "exponent", options.exponent ?? 1, { min: 0, minExclusive: true });
  // Written with endValue itself rather than optax's endValue / peakValue: exact at the end, no division.
  const decay = (s: number): number => {
    const c = 0.5 * (1 + Math.cos((Math.PI * Math.min(Math.max(s, 0), total - warmup)) / (total - warmup)));
    return (peak - end) * c ** exponent + end;
  };
  if (warmup === 0) return decay;
  return joinSchedules([linearSchedule({ initValue: init, endValue: peak, transitionSteps: warmup }), decay], [warmup]);
}

/**
 * Runs `schedules[0]` until `boundaries[0]`, then `schedules[1]` counting from 0 again, and so
 * on (optax's `join_schedules`: each piece restarts its own count).
 *
 * `value(t) = schedules[i](t - boundaries[i - 1])` for `boundaries[i - 1] <= t < boundaries[i]`
 *
 * @example
 * ```ts
 * import { constantSchedule, joinSchedules, linearSchedule } from "gradtx";
 * const s = joinSchedules([constantSchedule(1), linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10 })], [5]);
 * s(10); // 0.5: step 5 of the second piece
 * ```
 * @since 0.1.0
 */
export function joinSchedules(schedules: readonly Schedule[], boundaries: readonly number[]): Schedule {
  const where = "joinSchedules";
  if (!Array.isArray(schedules) || schedules.length === 0 || schedules.some((s) => typeof s !== "function"))
    throw new GradTxError("INVALID_HYPERPARAMETER", `${where}: schedules must be a non-empty array of functions`);
  if (!Array.isArray(boundaries) || boundaries.length !== schedules.length - 1)
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      `${where}: boundaries must have one entry fewer than schedules (${schedules.length - 1}), got ${Array.isArray(boundaries) ? boundaries.length : typeof boundaries}`,
    );
  boundaries.forEach((b, i) => {
    checkNumber(where, `boundaries[${i}]`, b, { min: i === 0 ? 0 : boundaries[i - 1]!, integer: true });
  });
  return (t) => {
    let piece = 0;
    while (piece < boundaries.length && t >= boundaries[piece]!) piece++;
    return schedules[piece]!(piece === 0 ? t : t - boundaries[piece - 1]!);
  };
}
