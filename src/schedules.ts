/**
 * Schedules: hyperparameters as functions of the step count, as optax's. Each validates its
 * arguments when it is built. A schedule is read with the count before the step, so the first
 * step uses `schedule(0)`.
 *
 * @module
 */
import type { Schedule } from "./base.js";
import { GradTxError } from "./errors.js";
import { asFactory, checkBoolean, checkNumber, invalid, readOptions, type Range } from "./validate.js";

/**
 * `checkNumber`, adding `note` to the message when `value` is one of the degenerate arguments
 * optax accepts and silently reads as another schedule (it only logs at info level).
 */
function checkNoting(where: string, name: string, value: unknown, range: Range, note: string | false): number {
  try {
    return checkNumber(where, name, value, range);
  } catch (e) {
    if (note !== false && e instanceof GradTxError) throw new GradTxError(e.code, `${e.message}; ${note}`);
    throw e;
  }
}

/** The note for `transitionSteps <= 0`. */
const CONSTANT =
  "optax reads transition_steps <= 0 as a constant schedule of init_value: write constantSchedule(initValue)";
/** The note for a negative `transitionBegin`. */
const NEGATIVE_BEGIN = "optax reads a negative transition_begin as 0: write 0";

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
 * Degenerate arguments, against optax's `polynomial_schedule`: optax reads `transition_steps <= 0`
 * as the constant `init_value` and a negative `transition_begin` as 0, and only logs it. gradtx
 * refuses both (`INVALID_HYPERPARAMETER`), because either is more likely a miscomputed step count
 * than a request for what optax makes of it; the message says what to write instead
 * (`constantSchedule(initValue)`, or `transitionBegin: 0`).
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
  const rawSteps = options.transitionSteps;
  const rawBegin = options.transitionBegin ?? 0;
  const steps = checkNoting(where, "transitionSteps", rawSteps, { min: 1, integer: true }, rawSteps <= 0 && CONSTANT);
  const begin = checkNoting(
    where,
    "transitionBegin",
    rawBegin,
    { min: 0, integer: true },
    rawBegin < 0 && NEGATIVE_BEGIN,
  );
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
 * v(t) = initValue                                   for t <= transitionBegin
 *      = initValue * decayRate^p                     otherwise
 * value(t) = max(v(t), endValue) if decayRate < 1, min(v(t), endValue) otherwise (without endValue: v(t))
 * ```
 *
 * As in optax, `endValue` bounds every count, those before `transitionBegin` included: an
 * `initValue` already beyond it gives `endValue` from step 0.
 *
 * Degenerate arguments, against optax's `exponential_decay`: optax reads `transition_steps <= 0`
 * and `decay_rate == 0` as the constant `init_value`, and a negative `transition_begin` as 0,
 * and only logs it. gradtx refuses all three (`INVALID_HYPERPARAMETER`): a rate of 0 would mean
 * 0 after the start, not a constant, and the others are more likely miscomputed step counts; the
 * message says what to write instead. A negative rate is refused too (optax's power of it is NaN
 * between whole steps).
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
  const rawSteps = options.transitionSteps;
  const rawRate = options.decayRate;
  const rawBegin = options.transitionBegin ?? 0;
  const steps = checkNoting(where, "transitionSteps", rawSteps, { min: 1, integer: true }, rawSteps <= 0 && CONSTANT);
  const rate = checkNoting(
    where,
    "decayRate",
    rawRate,
    { min: 0, minExclusive: true },
    rawRate === 0 && "optax reads decay_rate 0 as a constant schedule of init_value: write constantSchedule(initValue)",
  );
  const begin = checkNoting(
    where,
    "transitionBegin",
    rawBegin,
    { min: 0, integer: true },
    rawBegin < 0 && NEGATIVE_BEGIN,
  );
  const staircase = checkBoolean(where, "staircase", options.staircase ?? false);
  const end = options.endValue === undefined ? undefined : checkNumber(where, "endValue", options.endValue);
  return (t) => {
    // Up to transitionBegin the exponent is 0: initValue.
    const count = Math.max(t - begin, 0);
    const p = staircase ? Math.floor(count / steps) : count / steps;
    const value = init * rate ** p;
    // The bound applies at every count, as optax clips after its where.
    if (end === undefined) return value;
    return rate < 1 ? Math.max(value, end) : Math.min(value, end);
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
 * cifar(60 * stepsPerEpoch); // ≈ 0.02: 0.1 * 0.2
 * cifar(160 * stepsPerEpoch); // ≈ 0.0008: 0.1 * 0.2^3
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
  // Object.getPrototypeOf takes primitives too (a number's is Number.prototype): they are refused here.
  const proto: unknown = Object.getPrototypeOf(table);
  if (proto !== Object.prototype && proto !== null)
    invalid(where, "boundariesAndScales must be an object of step -> scale, e.g. { 1000: 0.1, 2000: 0.1 }");
  // Object.entries reads each scale once, and lists integer keys in ascending order: the pieces
  // come sorted (and the product does not depend on their order anyway).
  const pieces = Object.entries(table as object).map(([b, s]: [string, unknown]) => {
    const boundary = Number(b);
    // A key is a boundary only when written as one: not "", " 5" or "1e3" standing for 0, 5, 1000.
    if (String(boundary) !== b) invalid(where, `a boundary must be an integer >= 0, got ${JSON.stringify(b)}`);
    return [
      checkNumber(where, "a boundary", boundary, { min: 0, integer: true }),
      checkNumber(where, `the scale at ${b}`, s, { min: 0 }),
    ] as const;
  });
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
 *          value(t) = (peakValue - endValue) * c^exponent + endValue     (0 if peakValue = 0)
 * ```
 *
 * optax computes the decay as `peakValue * ((1 - a) c^exponent + a)` with `a = endValue /
 * peakValue`: the same in real arithmetic. For `peakValue = 0` optax takes `a = 0`, so the
 * value is 0 from the end of the warmup on, whatever `endValue` is; gradtx does the same.
 *
 * Degenerate arguments, as optax: `decaySteps` equal to `warmupSteps` (a cosine part of 0
 * steps) is refused, as optax's `cosine_decay_schedule` refuses `decay_steps <= 0`. A negative
 * `warmupSteps`, which optax passes on to a join at a negative boundary, is refused too.
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
  const total = checkNoting(
    where,
    "decaySteps",
    options.decaySteps,
    { min: warmup + 1, integer: true },
    options.decaySteps === warmup &&
      "decaySteps counts the warmup, so the cosine part would last 0 steps (optax refuses that too)",
  );
  const end = checkNumber(where, "endValue", options.endValue ?? 0);
  const exponent = checkNumber(where, "exponent", options.exponent ?? 1, { min: 0, minExclusive: true });
  // Written with endValue itself rather than optax's endValue / peakValue: exact at the end, no
  // division. optax's alpha is 0 for a peak of 0, so that its decay is 0 throughout.
  const decay = (s: number): number => {
    if (peak === 0) return 0;
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
    for (; piece < boundaries.length; piece++) if (t < boundaries[piece]!) break;
    return schedules[piece]!(piece === 0 ? t : t - boundaries[piece - 1]!);
  };
}
