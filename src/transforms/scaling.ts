/**
 * Transformations that rescale updates by one number per step or per leaf: a constant, a
 * learning rate, a schedule, a trust ratio.
 *
 * @module
 */
import type { ShapesState, GradientTransformation, ScalarOrSchedule, Schedule } from "../core/base.js";
import { GradTxError } from "../core/errors.js";
import { checkBoolean, checkNumber, checkScalarOrSchedule, readOptions } from "../core/validate.js";
import { elementwise } from "../kernels/executor.js";
import { mul } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";

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
 * const g = Float64Array.of(2, 4);
 * const [u] = tx.update(g, tx.init(g));
 * // u = [-1, -2]
 * ```
 * @since 0.1.0
 */
export function scale(step: number): GradientTransformation<ShapesState> {
  checkNumber("scale", "step", step);
  return elementwise<ShapesState>(
    declare({ name: "scale", hyper: { step }, body: ({ x }, s) => ({ update: mul(s.step, x) }) }),
  );
}

/** The state of {@link scaleBySchedule}: the number of steps taken. @since 0.1.0 */
export interface ScaleByScheduleState extends ShapesState {
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
 * const s0 = tx.init(Float64Array.of(0));
 * const [u0, s1] = tx.update(Float64Array.of(1), s0); // u0 = [1]
 * const [u1] = tx.update(Float64Array.of(1), s1); // u1 = [0.5]
 * ```
 * @since 0.1.0
 */
export function scaleBySchedule(schedule: Schedule): GradientTransformation<ScaleByScheduleState> {
  if (typeof schedule !== "function")
    throw new GradTxError(
      "INVALID_HYPERPARAMETER",
      `scaleBySchedule: schedule must be a function of the step count, got ${typeof schedule}`,
    );
  return elementwise<ScaleByScheduleState>(
    declare({
      name: "scaleBySchedule",
      counted: true,
      scalars: (_, count) => ({ step: schedule(count) }),
      body: ({ x }, s) => ({ update: mul(s.step, x) }),
    }),
  );
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
 * const g = Float64Array.of(1, 2, 3);
 * const [u] = tx.update(g, tx.init(g));
 * // u = [-0.1, -0.2, -0.30000000000000004]
 * ```
 * @since 0.1.0
 */
export function scaleByLearningRate(
  learningRate: ScalarOrSchedule,
  options: { readonly flipSign?: boolean } | null = {},
): GradientTransformation<ShapesState | ScaleByScheduleState> {
  options = readOptions("scaleByLearningRate", options, ["flipSign"], {
    hint: "optax's scale_by_learning_rate(lr, flip_sign) is scaleByLearningRate(lr, { flipSign: false })",
  });
  checkScalarOrSchedule("scaleByLearningRate", "learningRate", learningRate);
  const sign = checkBoolean("scaleByLearningRate", "flipSign", options.flipSign ?? true) ? -1 : 1;
  type Either = GradientTransformation<ShapesState | ScaleByScheduleState>;
  if (typeof learningRate === "function") return scaleBySchedule((count) => sign * learningRate(count)) as Either;
  return scale(sign * learningRate) as Either;
}

/** Options of {@link scaleByTrustRatio}. @since 0.1.0 */
export interface TrustRatioOptions {
  /** A floor on both norms, >= 0. Default 0. */
  readonly minNorm?: number;
  /** Multiplies the ratio, >= 0. Default 1. */
  readonly trustCoefficient?: number;
  /** Added to the update's norm, >= 0. Default 0. */
  readonly eps?: number;
}

/**
 * Rescales each leaf's update by the ratio of the leaf's param norm to its update norm (LARS
 * and LAMB; You et al., 2017 and 2020), as optax's `scale_by_trust_ratio`. `params` are
 * required.
 *
 * ```
 * pn = max(||p||, minNorm),  un = max(||u||, minNorm)        (per leaf)
 * u' = u * (trustCoefficient * pn / (un + eps))              (u unchanged if pn or un is 0)
 * ```
 *
 * @example
 * ```ts
 * import { scaleByTrustRatio } from "gradtx";
 * const tx = scaleByTrustRatio();
 * const p = Float64Array.of(3, 4);
 * const [u] = tx.update(Float64Array.of(0, 1), tx.init(p), p); // u = [0, 5]: ||p|| = 5 and ||u|| = 1
 * ```
 * @since 0.1.0
 */
export function scaleByTrustRatio(options: TrustRatioOptions | null = {}): GradientTransformation<ShapesState> {
  options = readOptions("scaleByTrustRatio", options, ["minNorm", "trustCoefficient", "eps"], {
    hint: "optax's scale_by_trust_ratio(min_norm, trust_coefficient, eps) is scaleByTrustRatio({ minNorm: 0, trustCoefficient: 1, eps: 0 })",
  });
  const where = "scaleByTrustRatio";
  const minNorm = checkNumber(where, "minNorm", options.minNorm ?? 0, { min: 0 });
  const coefficient = checkNumber(where, "trustCoefficient", options.trustCoefficient ?? 1, { min: 0 });
  const eps = checkNumber(where, "eps", options.eps ?? 0, { min: 0 });
  return elementwise<ShapesState>(
    declare({
      name: where,
      readsParams: true,
      hyper: { minNorm, coefficient, eps },
      reductions: { paramNorm: { over: "leaf", norm: "p" }, updateNorm: { over: "leaf", norm: "x" } },
      scalars: (h, _, norms) => {
        const paramNorm = Math.max(norms.paramNorm, h.minNorm);
        const updateNorm = Math.max(norms.updateNorm, h.minNorm);
        return {
          ratio: paramNorm === 0 || updateNorm === 0 ? 1 : (h.coefficient * paramNorm) / (updateNorm + h.eps),
        };
      },
      body: ({ x }, s) => ({ update: mul(x, s.ratio) }),
    }),
  );
}
