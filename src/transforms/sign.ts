/**
 * Transformations that keep only the sign of each update: signSGD's rescaling, and Rprop's,
 * which adapts a step size per element from whether the sign changed.
 *
 * @module
 */
import type { GradientTransformation, ShapesState } from "../core/base.js";
import { elementwise } from "../kernels/executor.js";
import { clamp, eq, gt, lt, mul, select, sign } from "../kernels/expr.js";
import { declare } from "../kernels/kernel.js";
import type { PyTree } from "../core/pytree.js";
import { checkNumber, readOptions } from "../core/validate.js";

/**
 * The sign of every update, as optax's `scale_by_sign` (`jnp.sign`): -1, 0 or 1, a zero
 * keeping its sign, NaN for NaN.
 *
 * `u' = sign(u)`
 *
 * @example
 * ```ts
 * import { scaleBySign } from "gradtx";
 * const tx = scaleBySign();
 * const [u] = tx.update(Float64Array.of(-3, 0, 0.25), tx.init(Float64Array.of(0, 0, 0))); // u = [-1, 0, 1]
 * ```
 * @since 0.3.0
 */
export function scaleBySign(): GradientTransformation<ShapesState> {
  return elementwise<ShapesState>(declare({ name: "scaleBySign", body: ({ x }) => ({ update: sign(x) }) }));
}

/** The state of {@link scaleByRprop}. @since 0.3.0 */
export interface ScaleByRpropState {
  /** Each element's step size, starting at the learning rate (params' dtype). */
  readonly stepSizes: PyTree;
  /** The previous step, `stepSize * sign(g)`, or 0 after a sign change (params' dtype). */
  readonly prevUpdates: PyTree;
}

/** Options of {@link scaleByRprop} (optax's names, camelCased). @since 0.3.0 */
export interface RpropOptions {
  /** Multiplies the step size where the sign changed, > 0. Default 0.5. */
  readonly etaMinus?: number;
  /** Multiplies the step size where the sign held, > 0. Default 1.2. */
  readonly etaPlus?: number;
  /** The smallest step size, >= 0. Default 1e-6. */
  readonly minStepSize?: number;
  /** The largest step size, >= minStepSize. Default 50. */
  readonly maxStepSize?: number;
}

/** The keys of {@link RpropOptions}. */
export const RPROP_KEYS = ["etaMinus", "etaPlus", "minStepSize", "maxStepSize"] as const;

/**
 * Rprop (Riedmiller and Braun, 1993; Igel and Hüsken's iRprop-, 2003), as optax's
 * `scale_by_rprop`: a step size per element, grown while the gradient keeps its sign and shrunk
 * when it flips, and a step of that size against the gradient's sign, skipped after a flip.
 *
 * ```
 * s         = g * prev
 * stepSize' = stepSize                                        where s = 0
 *           = clip(stepSize * (s > 0 ? etaPlus : etaMinus), minStepSize, maxStepSize) elsewhere
 * prev'     = s < 0 ? 0 : stepSize' * sign(g)
 * u'        = prev'
 * ```
 *
 * The update is the step itself (positive along the gradient): `rprop` negates it.
 *
 * @param learningRate The step size every element starts with, > 0 (a number: it is the
 *   initial state, not a schedule).
 * @example
 * ```ts
 * import { scaleByRprop } from "gradtx";
 * const tx = scaleByRprop(0.1);
 * const s0 = tx.init(Float64Array.of(0, 0));
 * const [u1, s1] = tx.update(Float64Array.of(3, -2), s0); // u1 = [0.1, -0.1]
 * const [u2] = tx.update(Float64Array.of(1, 5), s1);
 * // u2 = [0.12, 0]: the first kept its sign (0.1 * 1.2), the second flipped
 * ```
 * @since 0.3.0
 */
export function scaleByRprop(
  learningRate: number,
  options: RpropOptions | null = {},
): GradientTransformation<ScaleByRpropState> {
  options = readOptions("scaleByRprop", options, RPROP_KEYS, {
    hint: "optax's scale_by_rprop(learning_rate, eta_minus, eta_plus) is scaleByRprop(lr, { etaMinus: 0.5, etaPlus: 1.2 })",
  });
  const where = "scaleByRprop";
  checkNumber(where, "learningRate", learningRate, { min: 0, minExclusive: true });
  const etaMinus = checkNumber(where, "etaMinus", options.etaMinus ?? 0.5, { min: 0, minExclusive: true });
  const etaPlus = checkNumber(where, "etaPlus", options.etaPlus ?? 1.2, { min: 0, minExclusive: true });
  const minStepSize = checkNumber(where, "minStepSize", options.minStepSize ?? 1e-6, { min: 0 });
  const maxStepSize = checkNumber(where, "maxStepSize", options.maxStepSize ?? 50, { min: minStepSize });
  return elementwise<ScaleByRpropState>(
    declare({
      name: where,
      slots: { stepSizes: learningRate, prevUpdates: 0 },
      hyper: { etaMinus, etaPlus, minStepSize, maxStepSize },
      body: ({ x, stepSizes, prevUpdates }, s) => {
        const agreement = mul(x, prevUpdates);
        const grown = mul(stepSizes, select(gt(agreement, 0), s.etaPlus, s.etaMinus));
        const step = select(eq(agreement, 0), stepSizes, clamp(grown, s.minStepSize, s.maxStepSize));
        const next = select(lt(agreement, 0), 0, mul(step, sign(x)));
        return { update: next, stepSizes: step, prevUpdates: next };
      },
    }),
  );
}
