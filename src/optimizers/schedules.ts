/**
 * Schedules: hyperparameters as functions of the step count, as optax's. Each validates its
 * arguments when it is built. A schedule is read with the count before the step, so the first
 * step uses `schedule(0)`.
 *
 * @module
 */
import type { Schedule } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { asFactory, checkBoolean, checkNumber, invalid, readOptions, type Range } from "../core/validate.js";

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
 * A table of step -> scale, as optax's `boundaries_and_scales`, read once into pieces sorted by
 * step: `null` (optax's None) is no boundaries; anything but a plain object (an array, a Map) is
 * refused, as its entries would not be read as boundaries; a key is a boundary only when written
 * as an integer >= 0, and a scale must be a number >= 0.
 */
function readBoundaries(where: string, boundariesAndScales: unknown): (readonly [number, number])[] {
  const table: unknown = boundariesAndScales ?? {};
  // Object.getPrototypeOf takes primitives too (a number's is Number.prototype): they are refused here.
  const proto: unknown = Object.getPrototypeOf(table);
  if (proto !== Object.prototype && proto !== null)
    invalid(where, "boundariesAndScales must be an object of step -> scale, e.g. { 1000: 0.1, 2000: 0.1 }");
  // Object.entries reads each scale once, and lists integer keys in ascending order: the pieces
  // come sorted.
  return Object.entries(table as object).map(([b, s]: [string, unknown]) => {
    const boundary = Number(b);
    // A key is a boundary only when written as one: not "", " 5" or "1e3" standing for 0, 5, 1000.
    if (String(boundary) !== b) invalid(where, `a boundary must be an integer >= 0, got ${JSON.stringify(b)}`);
    return [
      checkNumber(where, "a boundary", boundary, { min: 0, integer: true }),
      checkNumber(where, `the scale at ${b}`, s, { min: 0 }),
    ] as const;
  });
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
  const pieces = readBoundaries(where, boundariesAndScales);
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

/** Options of {@link warmupConstantSchedule}. @since 0.3.0 */
export interface WarmupConstantOptions {
  /** The value at step 0. */
  readonly initValue: number;
  /** The value from the end of the warmup on. */
  readonly peakValue: number;
  /** Steps of the linear warmup, an integer >= 1. */
  readonly warmupSteps: number;
}

/**
 * A linear warmup from `initValue` to `peakValue` over `warmupSteps`, then `peakValue` for
 * ever, as optax's `warmup_constant_schedule`:
 *
 * `value(t) = initValue + (peakValue - initValue) * min(t, warmupSteps) / warmupSteps`
 *
 * Degenerate arguments, against optax: optax reads `warmup_steps <= 0` (through its linear
 * schedule) as the constant `init_value`, so that the schedule never reaches `peak_value`.
 * gradtx refuses it (`INVALID_HYPERPARAMETER`), and says what to write instead.
 *
 * @example
 * ```ts
 * import { warmupConstantSchedule } from "gradtx";
 * const s = warmupConstantSchedule({ initValue: 0, peakValue: 1e-3, warmupSteps: 100 });
 * s(50); // 5e-4
 * s(10_000); // 1e-3
 * ```
 * @since 0.3.0
 */
export function warmupConstantSchedule(options: WarmupConstantOptions): Schedule {
  const where = "warmupConstantSchedule";
  options = readOptions(where, options, ["initValue", "peakValue", "warmupSteps"], {
    hint: positional(
      "warmup_constant_schedule(init_value, peak_value, warmup_steps)",
      "warmupConstantSchedule({ initValue, peakValue, warmupSteps })",
    ),
  });
  const o = options;
  checkNumber(where, "initValue", o.initValue);
  checkNumber(where, "peakValue", o.peakValue);
  checkNoting(
    where,
    "warmupSteps",
    o.warmupSteps,
    { min: 1, integer: true },
    o.warmupSteps <= 0 &&
      "optax reads warmup_steps <= 0 as a constant schedule of init_value, which never reaches peak_value: write constantSchedule(peakValue)",
  );
  return asFactory(where, () =>
    linearSchedule({ initValue: o.initValue, endValue: o.peakValue, transitionSteps: o.warmupSteps }),
  );
}

/** Options of {@link warmupExponentialDecaySchedule}. @since 0.3.0 */
export interface WarmupExponentialDecayOptions {
  /** The value at step 0. */
  readonly initValue: number;
  /** The value at the end of the warmup, where the decay starts. */
  readonly peakValue: number;
  /** Steps of the linear warmup, an integer >= 0. */
  readonly warmupSteps: number;
  /** Steps per factor of `decayRate`, an integer >= 1 (as {@link exponentialDecay}'s). */
  readonly transitionSteps: number;
  /** The factor per `transitionSteps`, > 0. */
  readonly decayRate: number;
  /** Steps to hold `peakValue` after the warmup, an integer >= 0. Default 0. */
  readonly transitionBegin?: number;
  /** Decay in whole steps of `transitionSteps`. Default false. */
  readonly staircase?: boolean;
  /** A floor (when decaying) or ceiling (when growing). Default none. */
  readonly endValue?: number;
}

/**
 * A linear warmup from `initValue` to `peakValue`, then an {@link exponentialDecay} from
 * `peakValue` counting from the end of the warmup, as optax's `warmup_exponential_decay_schedule`:
 *
 * ```
 * W = warmupSteps
 * t < W:   value(t) = initValue + (peakValue - initValue) * t / W
 * t >= W:  value(t) = exponentialDecay({ initValue: peakValue, transitionSteps, decayRate, ... })(t - W)
 * ```
 *
 * `warmupSteps` 0 is the decay alone, as in optax. The decay's arguments are checked as
 * {@link exponentialDecay} checks them.
 *
 * @example
 * ```ts
 * import { warmupExponentialDecaySchedule } from "gradtx";
 * const s = warmupExponentialDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 10, transitionSteps: 100, decayRate: 0.5 });
 * s(5); // 0.5: halfway up
 * s(110); // 0.5: 100 steps into the decay, one factor of 0.5
 * ```
 * @since 0.3.0
 */
export function warmupExponentialDecaySchedule(options: WarmupExponentialDecayOptions): Schedule {
  const where = "warmupExponentialDecaySchedule";
  options = readOptions(
    where,
    options,
    [
      "initValue",
      "peakValue",
      "warmupSteps",
      "transitionSteps",
      "decayRate",
      "transitionBegin",
      "staircase",
      "endValue",
    ],
    {
      hint: positional(
        "warmup_exponential_decay_schedule(init_value, peak_value, warmup_steps, transition_steps, decay_rate)",
        "warmupExponentialDecaySchedule({ initValue, peakValue, warmupSteps, transitionSteps, decayRate })",
      ),
    },
  );
  const { initValue, peakValue, warmupSteps, ...decay } = options;
  const warmup = checkNumber(where, "warmupSteps", warmupSteps, { min: 0, integer: true });
  checkNumber(where, "initValue", initValue);
  checkNumber(where, "peakValue", peakValue);
  return asFactory(where, () => {
    const decaying = exponentialDecay({ ...decay, initValue: peakValue });
    if (warmup === 0) return decaying;
    return joinSchedules(
      [linearSchedule({ initValue, endValue: peakValue, transitionSteps: warmup }), decaying],
      [warmup],
    );
  });
}

/** How {@link piecewiseInterpolateSchedule} moves between its values. @since 0.3.0 */
export type InterpolateType = "linear" | "cosine";

/**
 * Values that change by a factor at each boundary, moved to smoothly (linearly or along a
 * half cosine) over the interval before it, as optax's `piecewise_interpolate_schedule`. With
 * boundaries `0 = b_0 < b_1 < ... < b_n` (`b_0 = 0` added) and `v_0 = initValue`,
 * `v_i = v_{i-1} * scales[b_i]`:
 *
 * ```
 * b_i <= t < b_{i+1}:  p = (t - b_i) / max(b_{i+1} - b_i, 1)
 *                      linear: value(t) = v_i + (v_{i+1} - v_i) * p
 *                      cosine: value(t) = v_{i+1} + (v_i - v_{i+1}) * (1 + cos(pi p)) / 2
 * t >= b_n:            value(t) = v_n
 * ```
 *
 * The interpolation is between the accumulated values, not between the scales: `{ 4: 0.1,
 * 8: 0.01 }` from 1 goes from 1 to 0.1 over steps 0 to 4, then to 0.001 by step 8. A boundary
 * of 0 takes effect at once (an interval of no steps).
 *
 * @param interpolateType `"linear"` or `"cosine"`.
 * @param initValue The value at step 0.
 * @param boundariesAndScales Step -> factor, steps integers >= 0, factors >= 0; `null` or `{}`
 *   for none (a constant schedule).
 * @example
 * ```ts
 * import { piecewiseInterpolateSchedule } from "gradtx";
 * // optax's docstring example.
 * const s = piecewiseInterpolateSchedule("linear", 1, { 4: 0.1, 8: 0.01 });
 * s(2); // ≈ 0.55
 * s(6); // ≈ 0.0505
 * s(10); // ≈ 0.001
 * ```
 * @since 0.3.0
 */
export function piecewiseInterpolateSchedule(
  interpolateType: InterpolateType,
  initValue: number,
  boundariesAndScales: Readonly<Record<number, number>> | null = {},
): Schedule {
  const where = "piecewiseInterpolateSchedule";
  if (interpolateType !== "linear" && interpolateType !== "cosine")
    invalid(
      where,
      `interpolateType must be "linear" or "cosine", got ${JSON.stringify(interpolateType) ?? typeof interpolateType}`,
    );
  checkNumber(where, "initValue", initValue);
  const pieces = readBoundaries(where, boundariesAndScales);
  const bounds = [0, ...pieces.map(([b]) => b)];
  const values = [initValue];
  for (const [, factor] of pieces) values.push(values[values.length - 1]! * factor);
  const cosine = interpolateType === "cosine";
  return (t) => {
    const last = bounds.length - 1;
    if (t >= bounds[last]!) return values[last]!;
    let i = 0;
    while (t >= bounds[i + 1]!) i++;
    const start = values[i]!;
    const end = values[i + 1]!;
    const p = (t - bounds[i]!) / Math.max(bounds[i + 1]! - bounds[i]!, 1);
    return cosine ? end + ((start - end) / 2) * (Math.cos(Math.PI * p) + 1) : (end - start) * p + start;
  };
}

/** Options of {@link linearOnecycleSchedule}. @since 0.3.0 */
export interface LinearOnecycleOptions {
  /** Steps of the whole cycle, an integer >= 1. */
  readonly transitionSteps: number;
  /** The largest value, reached at `pctStart * transitionSteps`. */
  readonly peakValue: number;
  /** The fraction of the cycle spent rising, in [0, 1]. Default 0.3. */
  readonly pctStart?: number;
  /** The fraction of the cycle by which the value is back at the start, in [0, 1]. Default 0.85. */
  readonly pctFinal?: number;
  /** The start is `peakValue / divFactor`, > 0. Default 25. */
  readonly divFactor?: number;
  /** The end is the start divided by `finalDivFactor`, > 0. Default 1e4. */
  readonly finalDivFactor?: number;
}

/**
 * The one-cycle schedule in three straight lines (Smith and Topin, 2017), as optax's
 * `linear_onecycle_schedule`: from `peakValue / divFactor` up to `peakValue` by
 * `floor(pctStart * T)`, back down to `peakValue / divFactor` by `floor(pctFinal * T)`, then
 * down to `peakValue / (divFactor * finalDivFactor)` by `T = transitionSteps`, and there after:
 * a {@link piecewiseInterpolateSchedule} `"linear"` from `peakValue / divFactor` with the scales
 * `{ floor(pctStart T): divFactor, floor(pctFinal T): 1 / divFactor, T: 1 / finalDivFactor }`.
 *
 * Degenerate arguments, against optax: the three boundaries must come in that order and be
 * distinct. optax builds them as keys of one dict, so that two that coincide (a `pctStart` of
 * 0.3 and a `pctFinal` of 0.35 over 10 steps, or a `pctFinal` of 1) silently become one, and
 * the cycle loses a phase; gradtx refuses it (`INVALID_HYPERPARAMETER`).
 *
 * @example
 * ```ts
 * import { linearOnecycleSchedule } from "gradtx";
 * // optax's test: 10 steps, peak 1000, up by step 3, down by 7, then to 1 by 10.
 * const s = linearOnecycleSchedule({ transitionSteps: 10, peakValue: 1000, pctStart: 0.3, pctFinal: 0.7, divFactor: 10, finalDivFactor: 100 });
 * s(0); // ≈ 100
 * s(3); // ≈ 1000
 * s(7); // ≈ 100
 * s(10); // ≈ 1
 * ```
 * @since 0.3.0
 */
export function linearOnecycleSchedule(options: LinearOnecycleOptions): Schedule {
  const where = "linearOnecycleSchedule";
  options = readOptions(
    where,
    options,
    ["transitionSteps", "peakValue", "pctStart", "pctFinal", "divFactor", "finalDivFactor"],
    {
      hint: positional(
        "linear_onecycle_schedule(transition_steps, peak_value)",
        "linearOnecycleSchedule({ transitionSteps, peakValue })",
      ),
    },
  );
  const cycle = onecycle(where, options);
  const pctFinal = checkNumber(where, "pctFinal", options.pctFinal ?? 0.85, { min: 0, max: 1 });
  const top = Math.floor(cycle.pctStart * cycle.steps);
  const back = Math.floor(pctFinal * cycle.steps);
  if (!(top < back && back < cycle.steps))
    invalid(
      where,
      `the boundaries floor(pctStart * transitionSteps) = ${top}, floor(pctFinal * transitionSteps) = ${back} and transitionSteps = ${cycle.steps} must increase; optax would merge the equal ones and drop a phase`,
    );
  return piecewiseInterpolateSchedule("linear", cycle.peak / cycle.div, {
    [top]: cycle.div,
    [back]: 1 / cycle.div,
    [cycle.steps]: 1 / cycle.finalDiv,
  });
}

/** The arguments the two one-cycle schedules share, checked. */
function onecycle(
  where: string,
  o: Readonly<Omit<LinearOnecycleOptions, "pctFinal">>,
): { steps: number; peak: number; pctStart: number; div: number; finalDiv: number } {
  const steps = checkNumber(where, "transitionSteps", o.transitionSteps, { min: 1, integer: true });
  const peak = checkNumber(where, "peakValue", o.peakValue);
  const pctStart = checkNumber(where, "pctStart", o.pctStart ?? 0.3, { min: 0, max: 1 });
  const div = checkNumber(where, "divFactor", o.divFactor ?? 25, { min: 0, minExclusive: true });
  const finalDiv = checkNumber(where, "finalDivFactor", o.finalDivFactor ?? 1e4, { min: 0, minExclusive: true });
  return { steps, peak, pctStart, div, finalDiv };
}

/** Options of {@link cosineOnecycleSchedule}. @since 0.3.0 */
export type CosineOnecycleOptions = Omit<LinearOnecycleOptions, "pctFinal">;

/**
 * The one-cycle schedule along half cosines (Smith and Topin, 2017), as optax's
 * `cosine_onecycle_schedule`: from `peakValue / divFactor` up to `peakValue` by
 * `floor(pctStart * T)`, then down to `peakValue / (divFactor * finalDivFactor)` by
 * `T = transitionSteps`, and there after: a {@link piecewiseInterpolateSchedule} `"cosine"`
 * from `peakValue / divFactor` with the scales `{ floor(pctStart T): divFactor, T: 1 /
 * (divFactor * finalDivFactor) }`.
 *
 * `floor(pctStart * T)` must be below `T` (optax would merge the two boundaries of its dict);
 * a `pctStart` of 1 is refused.
 *
 * @example
 * ```ts
 * import { cosineOnecycleSchedule } from "gradtx";
 * // optax's test: 5 steps, peak 1000, up by step 2, down to 1 by step 5.
 * const s = cosineOnecycleSchedule({ transitionSteps: 5, peakValue: 1000, pctStart: 0.4, divFactor: 10, finalDivFactor: 100 });
 * s(1); // ≈ 550
 * s(3); // ≈ 750.25
 * s(5); // ≈ 1
 * ```
 * @since 0.3.0
 */
export function cosineOnecycleSchedule(options: CosineOnecycleOptions): Schedule {
  const where = "cosineOnecycleSchedule";
  options = readOptions(where, options, ["transitionSteps", "peakValue", "pctStart", "divFactor", "finalDivFactor"], {
    hint: positional(
      "cosine_onecycle_schedule(transition_steps, peak_value)",
      "cosineOnecycleSchedule({ transitionSteps, peakValue })",
    ),
  });
  const cycle = onecycle(where, options);
  const top = Math.floor(cycle.pctStart * cycle.steps);
  if (!(top < cycle.steps))
    invalid(
      where,
      `floor(pctStart * transitionSteps) = ${top} must be below transitionSteps = ${cycle.steps}; optax would merge the two boundaries and drop the decay`,
    );
  return piecewiseInterpolateSchedule("cosine", cycle.peak / cycle.div, {
    [top]: cycle.div,
    [cycle.steps]: 1 / (cycle.div * cycle.finalDiv),
  });
}

/** One cycle of {@link sgdrSchedule}: a {@link warmupCosineDecaySchedule}'s options. @since 0.3.0 */
export type SgdrCycle = WarmupCosineDecayOptions;

/**
 * Stochastic gradient descent with warm restarts (Loshchilov and Hutter, SGDR, 2017), as
 * optax's `sgdr_schedule`: one {@link warmupCosineDecaySchedule} per cycle, each starting its
 * count again where the previous one's `decaySteps` end:
 *
 * ```
 * B_k = decaySteps_0 + ... + decaySteps_{k-1}
 * B_k <= t < B_{k+1}:  value(t) = warmupCosineDecaySchedule(cycles[k])(t - B_k)
 * ```
 *
 * The last cycle continues past its end at its `endValue`. Each cycle is checked as
 * {@link warmupCosineDecaySchedule} checks its options; an error names the cycle.
 *
 * @example
 * ```ts
 * import { sgdrSchedule } from "gradtx";
 * // optax's test: three cycles of 2000, 3000 and 5000 steps, each warming up over 500.
 * const s = sgdrSchedule([
 *   { initValue: 0, peakValue: 1.6, warmupSteps: 500, decaySteps: 2000 },
 *   { initValue: 0, peakValue: 0.8, warmupSteps: 500, decaySteps: 3000 },
 *   { initValue: 0, peakValue: 0.4, warmupSteps: 500, decaySteps: 5000 },
 * ]);
 * s(500); // 1.6
 * s(2500); // 0.8
 * s(5500); // 0.4
 * ```
 * @since 0.3.0
 */
export function sgdrSchedule(cycles: readonly SgdrCycle[]): Schedule {
  const where = "sgdrSchedule";
  if (!Array.isArray(cycles) || cycles.length === 0)
    invalid(where, "cycles must be a non-empty array of warmupCosineDecaySchedule options");
  const boundaries: number[] = [];
  let step = 0;
  const schedules = cycles.map((cycle, k) => {
    let schedule: Schedule;
    try {
      schedule = warmupCosineDecaySchedule(cycle);
    } catch (e) {
      if (e instanceof GradTxError) throw new GradTxError(e.code, `${where}: cycles[${k}]: ${e.message}`);
      throw e;
    }
    step += (cycle as WarmupCosineDecayOptions).decaySteps;
    boundaries.push(step);
    return schedule;
  });
  return joinSchedules(schedules, boundaries.slice(0, -1));
}
