/**
 * A scale that falls when the loss stops improving: `reduceOnPlateau`, optax.contrib's
 * `reduce_on_plateau`, the first transformation that reads the loss from `extra`.
 *
 * @module
 */
import type { ExtraArgs, GradientTransformationExtraArgs, ShapesState } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { Transformation } from "../kernels/executor.js";
import { mul } from "../kernels/expr.js";
import { buildKernel, declare } from "../kernels/kernel.js";
import { increment } from "../core/state.js";
import { checkNumber, extraValue, invalid, readOptions } from "../core/validate.js";

/** The options of {@link reduceOnPlateau}: optax's keyword arguments, camelCased. @since 0.3.0 */
export interface ReduceOnPlateauOptions {
  /** What the scale is multiplied by at a plateau, in (0, 1); default 0.1. */
  readonly factor?: number;
  /** Accumulated values without improvement after which the scale falls, an integer >= 1; default 10. */
  readonly patience?: number;
  /** Relative tolerance: an improvement is `avg < (1 - rtol) * best - atol`; in [0, 1], default 1e-4. */
  readonly rtol?: number;
  /** Absolute tolerance, >= 0; default 0 (`rtol` and `atol` may not both be 0). */
  readonly atol?: number;
  /** Accumulated values to wait after the scale fell before counting plateaus again, an integer >= 0; default 0. */
  readonly cooldown?: number;
  /** How many values are averaged before the plateau logic runs, an integer >= 1; default 1. */
  readonly accumulationSize?: number;
  /** The scale never falls below this, >= 0; default 0. */
  readonly minScale?: number;
}

/**
 * The state of {@link reduceOnPlateau}: optax's `ReduceLROnPlateauState`, with the params' shapes.
 * Its numbers are plain (float64) numbers.
 *
 * @since 0.3.0
 */
export interface ReduceOnPlateauState extends ShapesState {
  /** What the updates are multiplied by; starts at 1. */
  readonly scale: number;
  /** The best averaged value seen so far; starts at `Infinity`. */
  readonly bestValue: number;
  /** Averaged values since the last improvement (0 during a cooldown). */
  readonly plateauCount: number;
  /** Averaged values left to wait before plateaus count again. */
  readonly cooldownCount: number;
  /** Values accumulated into `avgValue` so far (back to 0 once `accumulationSize` is reached). */
  readonly count: number;
  /** The mean of the values accumulated so far. */
  readonly avgValue: number;
}

const where = "reduceOnPlateau";

/** A non-negative integer of the state, or `BAD_STATE` naming it. */
function counter(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0)
    throw new GradTxError("BAD_STATE", `${where}: ${name} must be a non-negative integer, got ${value}`);
  return value;
}

/**
 * Multiplies updates by a scale that falls by `factor` when the loss, given at every step as
 * `extra.value`, has not improved for `patience` (averaged) values: optax.contrib's
 * `reduce_on_plateau`, a learning-rate cut on plateaus for any optimizer placed before it in a
 * `chain`. The loss is averaged over `accumulationSize` steps before each check, so a noisy
 * mini-batch loss can drive it.
 *
 * At each step, with `value` the loss and `n = count + 1`:
 * ```
 * avg = (count * avgValue + value) / n
 * if n == accumulationSize:                           (otherwise only avg and count move)
 *   improved = avg < (1 - rtol) * bestValue - atol
 *   bestValue = improved ? avg : bestValue
 *   p = improved ? 0 : plateauCount + 1
 *   if cooldownCount > 0:  plateauCount = 0, cooldownCount -= 1
 *   else if p == patience: scale = max(scale * factor, minScale), plateauCount = 0, cooldownCount = cooldown
 *   else:                  scale = max(scale, minScale), plateauCount = p
 *   count = 0, avgValue = 0
 * u' = scale * u                                      (the scale after this step's check)
 * ```
 *
 * The scale multiplies every element in the executor's fused pass, so `reduceOnPlateau` fuses and
 * compiles with its neighbours (its state's numbers move on the host, once per step). Without
 * `extra.value` an update throws `MISSING_EXTRA_ARG`, and the type says so: `update(g, s, p)` does
 * not compile. Where gradtx differs from optax: the state's numbers are float64 (optax keeps the
 * scale in the params' lowest dtype), and the scale is rounded once to each leaf's dtype.
 *
 * @param options optax's keyword arguments, camelCased; see {@link ReduceOnPlateauOptions}.
 * @example
 * ```ts
 * import { applyUpdates, chain, reduceOnPlateau, sgd } from "gradtx";
 * // f(x) = sum(x^2) from x0 = [1, 2, 3], with a loss that stops improving after step 0
 * const opt = chain(sgd(0.1), reduceOnPlateau({ factor: 0.5, patience: 2 }));
 * let params = Float64Array.of(1, 2, 3);
 * let state = opt.init(params);
 * for (const value of [14, 14, 14]) {
 *   const [updates, next] = opt.update(params.map((x) => 2 * x), state, params, { value });
 *   params = applyUpdates(params, updates);
 *   state = next;
 * }
 * state[1].scale; // 0.5: two values without improvement after the best
 * ```
 * @since 0.3.0
 */
export function reduceOnPlateau(
  options: ReduceOnPlateauOptions | null = {},
): GradientTransformationExtraArgs<ReduceOnPlateauState, "value"> {
  options = readOptions(
    where,
    options,
    ["factor", "patience", "rtol", "atol", "cooldown", "accumulationSize", "minScale"],
    {
      hint: "optax's reduce_on_plateau(factor, patience) is reduceOnPlateau({ factor: 0.1, patience: 10 })",
    },
  );
  const factor = checkNumber(where, "factor", options.factor ?? 0.1, {
    min: 0,
    max: 1,
    minExclusive: true,
    maxExclusive: true,
  });
  const patience = checkNumber(where, "patience", options.patience ?? 10, { min: 1, integer: true });
  const rtol = checkNumber(where, "rtol", options.rtol ?? 1e-4, { min: 0, max: 1 });
  const atol = checkNumber(where, "atol", options.atol ?? 0, { min: 0 });
  if (rtol === 0 && atol === 0)
    invalid(where, "rtol and atol may not both be 0 (no value would count as an improvement over an equal one)");
  const cooldown = checkNumber(where, "cooldown", options.cooldown ?? 0, { min: 0, integer: true });
  const accumulationSize = checkNumber(where, "accumulationSize", options.accumulationSize ?? 1, {
    min: 1,
    integer: true,
  });
  const minScale = checkNumber(where, "minScale", options.minScale ?? 0, { min: 0 });

  const advance = (s: Readonly<Record<string, number>>, extra: ExtraArgs | undefined): Record<string, number> => {
    const value = extraValue(where, extra);
    const count = counter("count", s.count!);
    const plateauCount = counter("plateauCount", s.plateauCount!);
    const cooldownCount = counter("cooldownCount", s.cooldownCount!);
    const n = increment(count);
    const avgValue = (count * s.avgValue! + value) / n;
    if (n !== accumulationSize) return { ...s, count: n, avgValue };
    const improved = avgValue < (1 - rtol) * s.bestValue! - atol;
    const bestValue = improved ? avgValue : s.bestValue!;
    const plateau = improved ? 0 : increment(plateauCount);
    const reset = { bestValue, count: 0, avgValue: 0 };
    if (cooldownCount > 0) return { ...reset, scale: s.scale!, plateauCount: 0, cooldownCount: cooldownCount - 1 };
    const falls = plateau === patience;
    return {
      ...reset,
      scale: Math.max(falls ? s.scale! * factor : s.scale!, minScale),
      plateauCount: falls ? 0 : plateau,
      cooldownCount: falls ? cooldown : 0,
    };
  };

  const kernel = buildKernel(
    declare({
      name: where,
      hyper: { scale: 1 },
      identity: (s) => s.scale === 1,
      body: ({ x }, s) => ({ update: mul(s.scale, x) }),
    }),
  );
  return new Transformation<ReduceOnPlateauState>({
    kind: "stateScalars",
    kernel,
    initial: { scale: 1, bestValue: Infinity, plateauCount: 0, cooldownCount: 0, count: 0, avgValue: 0 },
    advance,
  });
}
